/* cmd_notify.c: `dzong notify`: a digest round and the outbox by hand, the notifications, the keyring. */
#include "cli/cli.h"
#include "notify/openpgp.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char notify_usage[] =
    "usage: dzong notify run [--dry-run] [--queue-only | --send-only] [--max N]\n"
    "       dzong notify list [--status S] [--kind K] [--constituent C] [--unacknowledged] [--limit N] [--json]\n"
    "       dzong notify show TICKET [--message]\n"
    "       dzong notify keys import FILE | keys list\n"
    "run: one round as `dzong serve` runs it: queue a digest for every contact that is due, then send\n"
    "     what the outbox holds (the relay: --smtp URL, DZONG_SMTP or smtp in dzong.conf). Prints what\n"
    "     it did; --dry-run prints what it would queue and send, and changes nothing.\n"
    "list: notifications newest first (--status failed: the permanent failures, per recipient).\n"
    "show: one notification as JSON; --message prints the message as it was queued.\n"
    "keys: the OpenPGP keyring in DATA/gnupg: import the CIRT's secret key (pgp_sign_key in\n"
    "     dzong.conf names it) or contacts' public keys; list what it holds.\n";

dz_code cli_notifier_open(const dz_config *cfg, notifier **out, dz_err *e)
{
    *out = NULL;
    if (!cfg->notify.from[0])
        return DZ_OK;
    if (notifier_open(&cfg->notify, out, e) != DZ_OK)
        return dz_wrap(e, "notifications");
    return DZ_OK;
}

static void print_digests(const notify_digest_report *r, bool dry_run)
{
    printf("digests: %zu contact%s due, %zu %s (%lld events attached, %lld withheld above a TLP ceiling), "
           "%zu taken by another node, %zu failed\n",
           r->due, r->due == 1 ? "" : "s", r->queued, dry_run ? "would be queued" : "queued", (long long)r->events,
           (long long)r->withheld, r->conflicts, r->failed);
    size_t i;
    json_t *it;
    json_array_foreach(r->items, i, it) {
        const char *err = json_string_value(json_object_get(it, "error"));
        printf("  %-22s %-16s %-32s %5lld events  %s%s\n",
               json_is_string(json_object_get(it, "ticket")) ? json_string_value(json_object_get(it, "ticket"))
                                                              : "(dry run)",
               json_string_value(json_object_get(it, "constituent")) ?: "",
               json_string_value(json_object_get(it, "to")) ?: "",
               (long long)json_integer_value(json_object_get(it, "events")),
               err ? "FAILED: " : "", err ? err : json_string_value(json_object_get(it, "subject")) ?: "");
    }
}

static void print_sends(const notify_send_report *r, bool dry_run)
{
    if (dry_run)
        printf("outbox: %zu message%s would be sent\n", json_array_size(r->items),
               json_array_size(r->items) == 1 ? "" : "s");
    else
        printf("outbox: %zu sent, %zu to retry later, %zu failed\n", r->sent, r->retried, r->failed);
    size_t i;
    json_t *it;
    json_array_foreach(r->items, i, it) {
        const char *err = json_string_value(json_object_get(it, "error"));
        printf("  %-22s %-32s %-7s %3lld %s\n", json_string_value(json_object_get(it, "ticket")) ?: "",
               json_string_value(json_object_get(it, "to")) ?: "",
               json_string_value(json_object_get(it, "outcome")) ?: "due",
               (long long)json_integer_value(json_object_get(it, "code")), err ? err : "");
    }
}

static int notify_run(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"dry-run", no_argument, 0, 'd'}, {"queue-only", no_argument, 0, 'q'},
                                         {"send-only", no_argument, 0, 's'}, {"max", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'}, {0}};
    bool dry_run = false, queue = true, send = true;
    long max = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dry_run = true; break;
        case 'q': send = false; break;
        case 's': queue = false; break;
        case 'm':
            max = strtol(optarg, NULL, 10);
            if (max < 1) {
                fputs("dzong notify run: --max must be a positive number\n", stderr);
                return 2;
            }
            break;
        case 'h': fputs(notify_usage, stdout); return 0;
        default: fputs(notify_usage, stderr); return 2;
        }
    }
    if ((!queue && !send) || optind != argc) {
        fputs(notify_usage, stderr);
        return 2;
    }
    dz_err e = {0};
    store *st = NULL;
    notifier *n = NULL;
    if (cli_notifier_open(cfg, &n, &e) != DZ_OK)
        return cli_fail(&e);
    if (!n) {
        fprintf(stderr, "dzong: notifications are not configured: set mail_from in %s\n", cfg->conf_path);
        return 2;
    }
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK) {
        notifier_close(n);
        return cli_fail(&e);
    }
    int ret = 0;
    if (queue) {
        notify_digest_report r = {0};
        if (notify_digest_round(n, st, dry_run, &r, &e) != DZ_OK)
            ret = cli_fail(&e);
        else
            print_digests(&r, dry_run);
        notify_digest_report_free(&r);
    }
    if (send && ret == 0) {
        notify_send_report r = {0};
        if (notify_send_round(n, st, NULL, (size_t)max, dry_run, &r, &e) != DZ_OK)
            ret = cli_fail(&e);
        else
            print_sends(&r, dry_run);
        notify_send_report_free(&r);
    }
    notifier_close(n);
    store_close(st);
    return ret;
}

static int notify_list(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"status", required_argument, 0, 's'},
                                         {"kind", required_argument, 0, 'k'},
                                         {"constituent", required_argument, 0, 'c'},
                                         {"unacknowledged", no_argument, 0, 'u'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    notification_filter f = {.acknowledged = -1, .limit = 100};
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': f.status = optarg; break;
        case 'k': f.kind = optarg; break;
        case 'c': f.constituent = optarg; break;
        case 'u': f.acknowledged = 0; break;
        case 'l': f.limit = atoi(optarg); break;
        case 'j': as_json = true; break;
        case 'h': fputs(notify_usage, stdout); return 0;
        default: fputs(notify_usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(notify_usage, stderr);
        return 2;
    }
    dz_err e = {0};
    store *st;
    json_t *page;
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    dz_code rc = store_notification_list(st, 0, &f, &page, &e);
    store_close(st);
    if (rc != DZ_OK)
        return cli_fail(&e);
    if (as_json)
        return cli_print_json(page);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(page, "items"), i, it) {
        const char *err = json_string_value(json_object_get(it, "last_error"));
        printf("%-22s %-8s %-7s %2lld  %-16s %-32s %s\n", json_string_value(json_object_get(it, "ticket")) ?: "",
               json_string_value(json_object_get(it, "kind")) ?: "",
               json_string_value(json_object_get(it, "status")) ?: "",
               (long long)json_integer_value(json_object_get(it, "attempts")),
               json_string_value(json_object_get(it, "constituent")) ?: "",
               json_string_value(json_object_get(it, "recipient")) ?: "",
               err ? err : json_string_value(json_object_get(it, "subject")) ?: "");
    }
    json_decref(page);
    return 0;
}

static int notify_show(const dz_config *cfg, int argc, char **argv)
{
    bool message = argc == 3 && strcmp(argv[2], "--message") == 0;
    if (argc != 2 && !message) {
        fputs(notify_usage, stderr);
        return 2;
    }
    dz_err e = {0};
    store *st;
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    int ret;
    if (message) {
        char *msg = NULL;
        size_t len = 0;
        ret = store_notification_message(st, argv[1], &msg, &len, &e) == DZ_OK ? 0 : cli_fail(&e);
        if (ret == 0)
            fwrite(msg, 1, len, stdout);
        free(msg);
    } else {
        json_t *doc;
        ret = store_notification_get(st, 0, argv[1], &doc, &e) == DZ_OK ? cli_print_json(doc) : cli_fail(&e);
    }
    store_close(st);
    return ret;
}

static int notify_keys(const dz_config *cfg, int argc, char **argv)
{
    bool import = argc == 3 && strcmp(argv[1], "import") == 0, list = argc == 2 && strcmp(argv[1], "list") == 0;
    if (!import && !list) {
        fputs(notify_usage, stderr);
        return 2;
    }
    dz_err e = {0};
    openpgp *p;
    if (openpgp_open(cfg->notify.gnupg_home, NULL, &p, &e) != DZ_OK)
        return cli_fail(&e);
    int ret = 0;
    if (import) {
        size_t len;
        char *data = cli_read_file(argv[2], &len, &e);
        int imported = 0;
        if (!data || openpgp_import(p, data, len, &imported, &e) != DZ_OK)
            ret = cli_fail(&e);
        else
            printf("%d key%s imported into %s\n", imported, imported == 1 ? "" : "s", cfg->notify.gnupg_home);
        free(data);
    } else {
        char *text = NULL;
        if (openpgp_list(p, &text, &e) != DZ_OK)
            ret = cli_fail(&e);
        else
            puts(text);
        free(text);
    }
    openpgp_close(p);
    return ret;
}

int cmd_notify(const dz_config *cfg, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(notify_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "run") == 0)
        return notify_run(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return notify_list(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return notify_show(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "keys") == 0)
        return notify_keys(cfg, argc - 1, argv + 1);
    fprintf(stderr, "dzong notify: unknown subcommand '%s'\n%s", sub, notify_usage);
    return 2;
}
