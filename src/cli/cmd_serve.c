/* cmd_serve.c: `dzong serve`: the API and web UI until SIGINT or SIGTERM. */
#include "cli/cli.h"
#include "jobs/scheduler.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char serve_usage[] =
    "usage: dzong serve [--listen HOST:PORT] [--threads N]\n"
    "Serves the HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json) and the web UI.\n"
    "Writes a JSON-lines access log to stdout (access_log in dzong.conf: a path, '-' or 'off').\n"
    "Stops cleanly on SIGINT or SIGTERM; every acknowledged write is already on disk.\n";

int cmd_serve(dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'}, {0}};
    dz_err e = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (config_parse_listen(optarg, &cfg->server, &e) != DZ_OK)
                return cli_fail(&e);
            break;
        case 't':
            cfg->server.threads = (unsigned)atoi(optarg);
            if (cfg->server.threads < 1 || cfg->server.threads > 256) {
                fprintf(stderr, "dzong serve: --threads must be 1..256\n");
                return 2;
            }
            break;
        case 'h': fputs(serve_usage, stdout); return 0;
        default: fputs(serve_usage, stderr); return 2;
        }
    }
    if (strcmp(cfg->access_log, "-") == 0) {
        cfg->server.access_log = stdout;
    } else if (cfg->access_log[0] && strcmp(cfg->access_log, "off") != 0) {
        cfg->server.access_log = fopen(cfg->access_log, "a");
        if (!cfg->server.access_log) {
            fprintf(stderr, "dzong serve: cannot open access log %s\n", cfg->access_log);
            return 1;
        }
    }
    if (cfg->server.access_log && isatty(fileno(cfg->server.access_log)))
        setvbuf(cfg->server.access_log, NULL, _IOLBF, 0);

    /* Signals are taken synchronously by this thread; every other thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    store *st;
    server *srv;
    scheduler *jobs = NULL;
    char node[160], host[64] = "localhost";
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    /* The registry index is in memory before the first request; the store keeps it current. */
    if (store_registry_refresh(st, true, &e) != DZ_OK || store_start_writer(st, &e) != DZ_OK ||
        server_start(st, &cfg->server, &srv, &e) != DZ_OK) {
        store_close(st);
        return cli_fail(&e);
    }
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "%s:%u/%d", host, server_port(srv), (int)getpid());
    if (scheduler_start(st, node, 5, &jobs, &e) != DZ_OK) {
        server_stop(srv);
        store_close(st);
        return cli_fail(&e);
    }
    char shown[sizeof cfg->db_url];
    cli_redact_url(cfg->db_url, shown, sizeof shown);
    fprintf(stderr, "dzong: serving http://%s%s%s:%u/ (database %s, %u threads)\n",
            strchr(cfg->server.listen_addr, ':') ? "[" : "", cfg->server.listen_addr,
            strchr(cfg->server.listen_addr, ':') ? "]" : "", server_port(srv), shown, cfg->server.threads);
    struct timespec tick = {1, 0};
    for (;;) { /* flush the access log once a second; stop on a signal */
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (cfg->server.access_log)
            fflush(cfg->server.access_log);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    fprintf(stderr, "dzong: stopping\n");
    scheduler_stop(jobs);
    server_stop(srv);
    store_close(st);
    if (cfg->server.access_log && cfg->server.access_log != stdout)
        fclose(cfg->server.access_log);
    return 0;
}
