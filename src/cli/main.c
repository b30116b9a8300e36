/* main.c: `dzong COMMAND ...`. Global options may stand anywhere on the line. */
#include "cli/cli.h"
#include "lib/credentials.h"

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: dzong [--data DIR] [--db URL] [--smtp URL] COMMAND [ARGS]\n"
    "\n"
    "dzong runs a national CIRT: incident desk, reports, constituents.\n"
    "\n"
    "commands:\n"
    "  init [--demo] [--prefix P]     create the data directory and database, an admin, and demo data\n"
    "  migrate                        apply database migrations\n"
    "  serve [--listen HOST:PORT]     serve the API and web UI (default 127.0.0.1:8080)\n"
    "  user add|list|disable|enable|passwd   manage users\n"
    "  token create USER [--label L]  print a new API token for USER\n"
    "  constituents list|show|add|import|export|check|delete   the constituency registry\n"
    "  lookup VALUE                   whose is this address, network, AS number or domain?\n"
    "  parse --feed F ... FILE|-      print a feed's events as JSON lines (stores nothing)\n"
    "  ingest --feed F ... FILE...    parse, classify, match, dedup and store a feed's events\n"
    "  audit verify|list              check or show the hash-chained audit log\n"
    "  jobs list|run                  scheduled jobs: their state, or run the due ones now\n"
    "  db copy SRC_URL DST_URL        copy the deployment into another (empty) database, verified\n"
    "  notify run|list|show|keys      e-mail digests and incident notices: a round by hand, the outbox, keys\n"
    "  version                        print the version\n"
    "  help [COMMAND]                 this text, or a command's\n"
    "\n"
    "global options (flags > environment > DIR/dzong.conf > defaults):\n"
    "  --data DIR     data directory (DZONG_DATA; default ./dzong-data)\n"
    "  --db URL       database (DZONG_DB; default sqlite:DIR/dzong.db)\n"
    "  --listen H:P   listen address for serve (DZONG_LISTEN)\n"
    "  --smtp URL     the mail relay, smtp://HOST:PORT or smtps://... (DZONG_SMTP; dzong.conf smtp)\n";

/* Takes --data/--db/--listen/--smtp (and --x=v forms) out of argv. */
static int take_global(int argc, char **argv, global_opts *g)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {{"--data", offsetof(global_opts, data)},
                {"--db", offsetof(global_opts, db)},
                {"--listen", offsetof(global_opts, listen)},
                {"--smtp", offsetof(global_opts, smtp)}};
    int out = 1;
    for (int i = 1; i < argc; i++) {
        bool taken = false;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !taken; k++) {
            size_t n = strlen(opts[k].name);
            const char **slot = (const char **)((char *)g + opts[k].off);
            if (strcmp(argv[i], opts[k].name) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "dzong: %s needs a value\n", opts[k].name);
                    return -1;
                }
                *slot = argv[++i];
                taken = true;
            } else if (strncmp(argv[i], opts[k].name, n) == 0 && argv[i][n] == '=') {
                *slot = argv[i] + n + 1;
                taken = true;
            }
        }
        if (!taken)
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    global_opts g = {0};
    dz_config cfg;
    dz_err e = {0};
    argc = take_global(argc, argv, &g);
    if (argc < 0)
        return 2;
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) { /* dzong help CMD == dzong CMD --help */
            argv[1] = argv[2];
            argv[2] = "--help";
            argc = 3;
        } else {
            fputs(usage, argc < 2 ? stderr : stdout);
            return argc < 2 ? 2 : 0;
        }
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("dzong 0.1.0\n");
        return 0;
    }
    if (strcmp(cmd, "parse") == 0) /* needs no configuration or database */
        return cmd_parse(argc - 1, argv + 1);
    if (credentials_init(&e) != DZ_OK || config_resolve(&g, &cfg, &e) != DZ_OK)
        return cli_fail(&e);
    argc--;
    argv++;
    if (strcmp(cmd, "init") == 0)
        return cmd_init(&cfg, argc, argv);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(&cfg, argc, argv);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(&cfg, argc, argv);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(&cfg, argc, argv);
    if (strcmp(cmd, "token") == 0)
        return cmd_token(&cfg, argc, argv);
    if (strcmp(cmd, "constituent") == 0 || strcmp(cmd, "constituents") == 0)
        return cmd_constituents(&cfg, argc, argv);
    if (strcmp(cmd, "lookup") == 0)
        return cmd_lookup(&cfg, argc, argv);
    if (strcmp(cmd, "ingest") == 0)
        return cmd_ingest(&cfg, argc, argv);
    if (strcmp(cmd, "audit") == 0)
        return cmd_audit(&cfg, argc, argv);
    if (strcmp(cmd, "jobs") == 0)
        return cmd_jobs(&cfg, argc, argv);
    if (strcmp(cmd, "db") == 0)
        return cmd_db(&cfg, argc, argv);
    if (strcmp(cmd, "notify") == 0)
        return cmd_notify(&cfg, argc, argv);
    fprintf(stderr, "dzong: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
