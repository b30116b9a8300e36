/* cmd_serve.c: `dzong serve`: the API and web UI until SIGINT or SIGTERM. */
#include "cli/cli.h"
#include "jobs/fetch.h"
#include "jobs/scheduler.h"
#include "jobs/spool.h"
#include "lib/feed_shadowserver.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char serve_usage[] =
    "usage: dzong serve [--listen HOST:PORT] [--threads N]\n"
    "Serves the HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json) and the web UI.\n"
    "Writes a JSON-lines access log to stdout (access_log in dzong.conf: a path, '-' or 'off').\n"
    "Stops cleanly on SIGINT or SIGTERM; every acknowledged write is already on disk.\n"
    "Also takes in the feed files dropped into the spool directory (spool_dir), runs the\n"
    "scheduled downloads (fetch lines of dzong.conf), queues e-mail digests (with mail_from set)\n"
    "and sends the outbox through the relay (--smtp URL, DZONG_SMTP or smtp in dzong.conf).\n";

/* The outbox's sender, when notifications are on and a relay is configured (else *out stays NULL). */
static dz_code start_sender(dz_config *cfg, notifier *nt, store *st, notify_sender **out, dz_err *e)
{
    if (!nt || !cfg->notify.smtp.url[0])
        return DZ_OK;
    if (notify_sender_start(nt, st, NULL, cfg->notify_poll, out, e) != DZ_OK)
        return e->code;
    cfg->server.notify_sender = *out; /* the API wakes it after an incident notice */
    return DZ_OK;
}

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
    spool *sp = NULL;
    char node[160], host[64] = "localhost";
    /* The feed inputs' files first: a bad schema or mapping stops serve before it listens. */
    cli_feed_inputs *fi = NULL;
    if (cli_feed_inputs_load(cfg, &fi, &e) != DZ_OK)
        return cli_fail(&e);
    cfg->server.feed_schema = fi->schema;
    cfg->server.feed_pipeline = &fi->pipeline;
    /* Templates and keys too: a broken template stops serve here, not a digest later. */
    notifier *nt = NULL;
    notify_sender *sender = NULL;
    if (cli_notifier_open(cfg, &nt, &e) != DZ_OK) {
        cli_feed_inputs_free(fi);
        return cli_fail(&e);
    }
    cfg->server.notifier = nt;
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK) {
        notifier_close(nt);
        cli_feed_inputs_free(fi);
        return cli_fail(&e);
    }
    /* The registry index is in memory before the first request; the store keeps it current. */
    if (store_registry_refresh(st, true, &e) != DZ_OK || store_start_writer(st, &e) != DZ_OK ||
        fetch_configure(&fi->fetch, &e) != DZ_OK || fetch_sync(st, &e) != DZ_OK ||
        spool_prepare_dirs(cfg->spool_dir, &e) != DZ_OK || start_sender(cfg, nt, st, &sender, &e) != DZ_OK ||
        server_start(st, &cfg->server, &srv, &e) != DZ_OK) {
        notify_sender_stop(sender);
        fetch_unconfigure();
        store_close(st);
        notifier_close(nt);
        cli_feed_inputs_free(fi);
        return cli_fail(&e);
    }
    scheduler_set_notifier(nt, sender);
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "%s:%u/%d", host, server_port(srv), (int)getpid());
    /* Jobs are polled every 5 seconds, or as often as the most frequent download wants. */
    int poll_s = 5;
    int64_t fetch_every = fetch_min_interval();
    if (fetch_every > 0 && fetch_every < poll_s)
        poll_s = (int)fetch_every;
    spool_config sc = {.dir = cfg->spool_dir,
                       .interval_s = cfg->spool_interval,
                       .opt = {.schema = fi->schema, .mapping = fi->spool_mapping},
                       .pipeline = &fi->pipeline};
    if (scheduler_start(st, node, poll_s, &jobs, &e) != DZ_OK || spool_start(st, &sc, &sp, &e) != DZ_OK) {
        fetch_abort();
        scheduler_stop(jobs);
        server_stop(srv);
        notify_sender_stop(sender);
        fetch_unconfigure();
        store_close(st);
        notifier_close(nt);
        cli_feed_inputs_free(fi);
        return cli_fail(&e);
    }
    char shown[sizeof cfg->db_url];
    cli_redact_url(cfg->db_url, shown, sizeof shown);
    fprintf(stderr, "dzong: serving http://%s%s%s:%u/ (database %s, %u threads)\n",
            strchr(cfg->server.listen_addr, ':') ? "[" : "", cfg->server.listen_addr,
            strchr(cfg->server.listen_addr, ':') ? "]" : "", server_port(srv), shown, cfg->server.threads);
    fprintf(stderr, "dzong: spool %s every %d s; %zu scheduled download%s\n", cfg->spool_dir, sc.interval_s,
            cfg->n_fetches, cfg->n_fetches == 1 ? "" : "s");
    if (!nt) {
        fprintf(stderr, "dzong: notifications off (set mail_from in %s)\n", cfg->conf_path);
    } else {
        char relay[sizeof cfg->notify.smtp.url];
        cli_redact_url(cfg->notify.smtp.url, relay, sizeof relay);
        fprintf(stderr, "dzong: notifications from %s; %s\n", cfg->notify.from,
                sender ? relay : "no relay (smtp): digests are queued, not sent");
    }
    struct timespec tick = {1, 0};
    for (;;) { /* flush the access log once a second; stop on a signal */
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (cfg->server.access_log)
            fflush(cfg->server.access_log);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    fprintf(stderr, "dzong: stopping\n");
    fetch_abort();
    spool_stop(sp);
    scheduler_stop(jobs);
    server_stop(srv);
    notify_sender_stop(sender);
    scheduler_set_notifier(NULL, NULL);
    fetch_unconfigure();
    store_close(st);
    notifier_close(nt);
    cli_feed_inputs_free(fi);
    if (cfg->server.access_log && cfg->server.access_log != stdout)
        fclose(cfg->server.access_log);
    return 0;
}
