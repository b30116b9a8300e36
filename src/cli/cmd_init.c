/* cmd_init.c: `dzong init` and `dzong migrate`. */
#include "cli/cli.h"
#include "jobs/spool.h"
#include "lib/credentials.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char init_usage[] =
    "usage: dzong init [--demo] [--prefix PREFIX] [--admin NAME]\n"
    "Creates the data directory (mode 0700) with dzong.conf, the spool directory (one subdirectory\n"
    "per feed), the notification templates (templates/, edit them freely) and the database,\n"
    "applies migrations,\n"
    "and creates an admin user whose generated password is printed once. With --demo, also loads\n"
    "a fictional national constituency with users, reports, incidents and feed events, and turns\n"
    "notifications on (mail_from). Safe to run again:\n"
    "an initialised directory is left as it is.\n";

int cmd_init(const dz_config *cfg_in, int argc, char **argv)
{
    static const struct option opts[] = {
        {"demo", no_argument, 0, 'd'}, {"prefix", required_argument, 0, 'p'},
        {"admin", required_argument, 0, 'a'}, {"help", no_argument, 0, 'h'}, {0}};
    dz_config cfg = *cfg_in;
    bool demo = false;
    const char *prefix = NULL, *admin = "admin";
    dz_err e = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': demo = true; break;
        case 'p': prefix = optarg; break;
        case 'a': admin = optarg; break;
        case 'h': fputs(init_usage, stdout); return 0;
        default: fputs(init_usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "dzong init: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!prefix)
        prefix = demo ? "BTCIRT" : NULL;
    if (prefix && !public_id_prefix_valid(prefix)) {
        fprintf(stderr, "dzong init: prefix '%s' must be 1-16 of A-Z and 0-9\n", prefix);
        return 2;
    }
    if (mkdir(cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "dzong init: cannot create %s: %s\n", cfg.data_dir, strerror(errno));
        return 1;
    }
    char conf[PATH_MAX + 16];
    snprintf(conf, sizeof conf, "%s/dzong.conf", cfg.data_dir);
    FILE *f = fopen(conf, "wx"); /* never overwrite an existing configuration */
    if (f) {
        fprintf(f, "# dzong configuration; flags and DZONG_* environment variables override it.\n"
                   "# Keys: db, listen, prefix, threads, blocking_threads, body_limit, session_ttl, cookie_secure,\n"
                   "#       trusted_proxy, access_log, sectors,\n"
                   "#       due.low, due.medium, due.high, due.critical (durations: 30m, 4h, 3d, 1w)\n"
                   "prefix = %s\n"
                   "# listen = 127.0.0.1:8080\n"
                   "# due.critical = 4h\n# due.high = 1d\n# due.medium = 3d\n# due.low = 1w\n"
                   "# The registry's sectors (these are the defaults):\n"
                   "# sectors = government, energy, ict-telecom, banking-finance, health, transport, water, "
                   "emergency-services, food-agriculture, media\n"
                   "# Feed events (docs/operations.md, \"Feed inputs\"):\n"
                   "# dedup_window = 24h\n"
                   "# dedup_fields = source.ip source.port classification.type feed.name\n"
                   "# spool_dir = spool          (relative to this directory; one subdirectory per feed)\n"
                   "# spool_interval = 5         (seconds between scans)\n"
                   "# spool_mapping = mapping.json   (the column mapping of spool/csv/)\n"
                   "# shadowserver_schema = schema.json   (instead of the built-in one)\n"
                   "# fetch = NAME FEED URL [every=1h] [report=R] [mapping=FILE] [feed_name=N]   (repeatable)\n"
                   "# fetch = feodo feodo https://feodotracker.abuse.ch/downloads/ipblocklist.csv every=1h\n"
                   "# fetch_allow_http = false\n"
                   "# E-mail digests and incident notices (docs/notifications.md); mail_from turns them on:\n"
                   "%smail_from = %s\n"
                   "# mail_from_name = BtCIRT     mail_reply_to = cirt@example.bt\n"
                   "# smtp = smtp://127.0.0.1:25  (or --smtp URL, DZONG_SMTP; smtps:// for TLS from the start)\n"
                   "# smtp_user = dzong   smtp_password = ...  (or DZONG_SMTP_PASSWORD)   smtp_starttls = try|require|off\n"
                   "# pgp_sign_key = FINGERPRINT   (import it with `dzong notify keys import KEY.asc`)\n"
                   "# pgp_encrypt = true           events_default_tlp = AMBER\n"
                   "# notify_max_attempts = 10     notify_retry_base = 60s   notify_attach_max = 20000\n"
                   "# portal_url = https://cirt.example.bt/\n",
                prefix ? prefix : "DZONG", demo ? "" : "# ", demo ? "cirt@btcirt.example" : "cirt@example.org");
        fclose(f);
        if (prefix)
            snprintf(cfg.store.id_prefix, sizeof cfg.store.id_prefix, "%s", prefix);
    }
    if (spool_prepare_dirs(cfg.spool_dir, &e) != DZ_OK ||
        notify_write_default_templates(cfg.notify.templates_dir, &e) != DZ_OK)
        return cli_fail(&e);
    store *st;
    int applied, version;
    int64_t users;
    if (cli_open_store(&cfg, false, &st, &e) != DZ_OK || store_migrate(st, &applied, &version, &e) != DZ_OK)
        return cli_fail(&e);
    char shown[sizeof cfg.db_url];
    cli_redact_url(cfg.db_url, shown, sizeof shown);
    printf("database %s at schema version %d (%d migration%s applied)\n", shown, version, applied,
           applied == 1 ? "" : "s");
    if (store_user_count(st, &users, &e) != DZ_OK) {
        store_close(st);
        return cli_fail(&e);
    }
    if (users == 0) {
        char pw[21], hash[PASSWORD_HASH_LEN];
        principal p;
        cli_principal(&p);
        password_generate(pw, sizeof pw);
        if (password_hash(pw, hash, &e) != DZ_OK || store_user_create(st, &p, admin, ROLE_ADMIN, NULL, hash, &e) != DZ_OK) {
            store_close(st);
            return cli_fail(&e);
        }
        printf("created user '%s' (role admin) with password: %s\n"
               "  (shown once; change it with `dzong user passwd %s --password-stdin`)\n", admin, pw, admin);
        if (demo && demo_load(st, &e) != DZ_OK) {
            store_close(st);
            return cli_fail(&e);
        }
        if (demo)
            printf("loaded the demo constituency, users and incidents (prefix %s)\n", cfg.store.id_prefix);
    } else {
        printf("already initialised: %lld user%s; nothing else changed\n", (long long)users, users == 1 ? "" : "s");
    }
    store_close(st);
    return 0;
}

int cmd_migrate(const dz_config *cfg, int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0) {
            puts("usage: dzong migrate\nApplies the numbered schema migrations this dzong carries and the database lacks.");
            return 0;
        }
        fprintf(stderr, "dzong migrate: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    store *st;
    dz_err e = {0};
    int applied, version;
    if (cli_open_store(cfg, false, &st, &e) != DZ_OK || store_migrate(st, &applied, &version, &e) != DZ_OK)
        return cli_fail(&e);
    printf("schema version %d (%d migration%s applied)\n", version, applied, applied == 1 ? "" : "s");
    store_close(st);
    return 0;
}
