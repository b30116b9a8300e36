/*
 * cmd_constituents.c: `dzong constituents ...` (the registry) and `dzong lookup`.
 *
 * Import reads the whole file first and reports every problem with its line
 * before anything is written; then one transaction stores it all or nothing.
 */
#include "cli/cli.h"
#include "lib/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char constituents_usage[] =
    "usage: dzong constituents list [--json]\n"
    "       dzong constituents show SHORT_NAME\n"
    "       dzong constituents add SHORT_NAME NAME\n"
    "       dzong constituents import [--format csv|json] [--dry-run] FILE|-\n"
    "       dzong constituents export [--format csv|json] [--output FILE]\n"
    "       dzong constituents check\n"
    "       dzong constituents delete SHORT_NAME\n"
    "\n"
    "import  creates or updates every record of FILE in one transaction (all or nothing);\n"
    "        records not in FILE are left alone. Every problem is reported with its line.\n"
    "        The format follows the file name (.csv, .json) unless --format says.\n"
    "export  writes every record (JSON by default; CSV with --format csv or an .csv output).\n"
    "        Exporting and importing again loses nothing. Columns: docs/constituents.md.\n"
    "check   reports networks, AS numbers and domains claimed by several organisations, and\n"
    "        claims inside another organisation's (the most specific one wins).\n";

static const char lookup_usage[] =
    "usage: dzong lookup [--ip | --asn | --domain] VALUE\n"
    "Prints who owns an address or network, AS number or domain, with their contacts (JSON).\n"
    "Without a flag the kind is told from the value.\n";

typedef enum { FMT_GUESS, FMT_CSV, FMT_JSON } file_format;

static dz_code parse_format(const char *s, file_format *out, dz_err *e)
{
    if (strcmp(s, "csv") == 0)
        *out = FMT_CSV;
    else if (strcmp(s, "json") == 0)
        *out = FMT_JSON;
    else
        return dz_fail(e, DZ_EINVAL, "--format must be csv or json, not '%.20s'", s);
    return DZ_OK;
}

static file_format format_of_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcasecmp(dot, ".csv") == 0)
        return FMT_CSV;
    if (dot && strcasecmp(dot, ".json") == 0)
        return FMT_JSON;
    return FMT_GUESS;
}

/* ---- import ---- */

typedef struct import_errors {
    const char *file;
    size_t count;
} import_errors;

static void report_csv_error(void *arg, uint64_t line, const char *msg)
{
    import_errors *ie = arg;
    ie->count++;
    if (ie->count <= 200)
        fprintf(stderr, "%s:%llu: %s\n", ie->file, (unsigned long long)line, msg);
    else if (ie->count == 201)
        fprintf(stderr, "%s: more problems follow; fix these first\n", ie->file);
}

static dz_code read_csv_file(const char *path, int fd, const sector_list *sectors, constituent_record **recs,
                             size_t *n, dz_err *e)
{
    csv_reader *r = csv_reader_new(csv_read_fd, &fd, NULL);
    if (!r)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    import_errors ie = {path, 0};
    dz_code rc = constituents_read_csv(r, sectors, recs, n, report_csv_error, &ie, e);
    csv_reader_free(r);
    return rc;
}

/* A JSON array of records, or an object with "items" (what the API's list and export give). */
static dz_code read_json_file(const char *path, FILE *f, const sector_list *sectors, constituent_record **recs,
                              size_t *n, dz_err *e)
{
    json_error_t je;
    json_t *doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return dz_fail(e, DZ_EINVAL, "%s:%d:%d: not JSON: %s", path, je.line, je.column, je.text);
    json_t *items = json_is_array(doc) ? doc : json_object_get(doc, "items");
    if (!json_is_array(items)) {
        json_decref(doc);
        return dz_fail(e, DZ_EINVAL, "%s: expected an array of constituent records (or {\"items\": [...]})", path);
    }
    size_t total = json_array_size(items), bad = 0;
    constituent_record *out = calloc(total ? total : 1, sizeof *out);
    if (!out) {
        json_decref(doc);
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < total; i++) {
        json_t *item = json_array_get(items, i);
        dz_err one = {0};
        if (constituent_from_json(item, sectors, &out[i], &one) != DZ_OK) {
            const char *sn = json_string_value(json_object_get(item, "short_name"));
            if (++bad <= 200)
                fprintf(stderr, "%s: record %zu (%s): %s\n", path, i + 1, sn ? sn : "no short_name", one.msg);
        }
    }
    json_decref(doc);
    if (bad) {
        for (size_t i = 0; i < total; i++)
            constituent_record_free(&out[i]);
        free(out);
        return dz_fail(e, DZ_EINVAL, "%s: %zu of %zu records are invalid; nothing was imported", path, bad, total);
    }
    *recs = out;
    *n = total;
    return DZ_OK;
}

static int constituents_import(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"dry-run", no_argument, 0, 'n'}, {0}};
    file_format fmt = FMT_GUESS;
    bool dry_run = false;
    dz_err e = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f' && parse_format(optarg, &fmt, &e) != DZ_OK)
            return cli_fail(&e);
        if (c == 'n')
            dry_run = true;
        if (c == '?') {
            fputs(constituents_usage, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(constituents_usage, stderr);
        return 2;
    }
    const char *path = argv[optind];
    bool from_stdin = strcmp(path, "-") == 0;
    if (fmt == FMT_GUESS)
        fmt = from_stdin ? FMT_GUESS : format_of_name(path);
    if (fmt == FMT_GUESS) {
        fprintf(stderr, "dzong constituents import: say --format csv or --format json for %s\n", path);
        return 2;
    }
    store *st;
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    int fd = from_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        store_close(st);
        dz_fail(&e, DZ_EIO, "%s: %s", path, strerror(errno));
        return cli_fail(&e);
    }
    constituent_record *recs = NULL;
    size_t n = 0;
    dz_code rc;
    if (fmt == FMT_CSV) {
        rc = read_csv_file(path, fd, store_sectors(st), &recs, &n, &e);
    } else {
        FILE *f = fdopen(fd, "r");
        rc = f ? read_json_file(path, f, store_sectors(st), &recs, &n, &e) : dz_fail(&e, DZ_EIO, "%s", path);
        if (f)
            fclose(f);
        fd = -1;
    }
    if (fd > 0)
        close(fd);
    store_import_result res = {0};
    if (rc == DZ_OK && !dry_run) {
        principal p;
        cli_principal(&p);
        rc = store_constituent_import(st, &p, recs, n, &res, &e);
    }
    for (size_t i = 0; i < n; i++)
        constituent_record_free(&recs[i]);
    free(recs);
    store_close(st);
    if (rc != DZ_OK)
        return cli_fail(&e);
    if (dry_run)
        printf("%s: %zu records are valid (dry run: nothing written)\n", path, n);
    else
        printf("%s: %zu records: %zu created, %zu updated, %zu unchanged\n", path, n, res.created, res.updated,
               res.unchanged);
    return 0;
}

/* ---- export ---- */

static int constituents_export(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'}, {0}};
    file_format fmt = FMT_GUESS;
    const char *output = NULL;
    dz_err e = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'f' && parse_format(optarg, &fmt, &e) != DZ_OK)
            return cli_fail(&e);
        if (c == 'o')
            output = optarg;
        if (c == '?') {
            fputs(constituents_usage, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(constituents_usage, stderr);
        return 2;
    }
    if (fmt == FMT_GUESS)
        fmt = output && format_of_name(output) == FMT_CSV ? FMT_CSV : FMT_JSON;
    store *st;
    json_t *page = NULL;
    constituent_filter all = {.cii = -1, .limit = 0};
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    dz_code rc = store_constituent_list(st, 0, &all, &page, &e);
    strbuf sb;
    strbuf_init(&sb);
    json_t *items = json_object_get(page, "items");
    if (rc == DZ_OK && fmt == FMT_JSON) {
        /* Without the server's timestamps, so the file is exactly what import takes. */
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            json_object_del(it, "created_at");
            json_object_del(it, "updated_at");
        }
        char *s = json_dumps(items, JSON_INDENT(2));
        strbuf_puts(&sb, s ? s : "[]");
        strbuf_puts(&sb, "\n");
        free(s);
    } else if (rc == DZ_OK) {
        constituents_csv_header(&sb);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            constituent_record r;
            if ((rc = constituent_from_json(it, store_sectors(st), &r, &e)) != DZ_OK) {
                dz_wrap(&e, "stored record %zu does not validate (sectors changed in dzong.conf?)", i + 1);
                break;
            }
            constituent_write_csv(&r, &sb);
            constituent_record_free(&r);
        }
    }
    json_decref(page);
    store_close(st);
    if (rc == DZ_OK && sb.oom)
        rc = dz_fail(&e, DZ_ENOMEM, "out of memory");
    if (rc == DZ_OK) {
        FILE *f = output ? fopen(output, "w") : stdout;
        if (!f || fwrite(sb.buf, 1, sb.len, f) != sb.len || (output && fclose(f) != 0))
            rc = dz_fail(&e, DZ_EIO, "%s: %s", output ? output : "stdout", strerror(errno));
    }
    strbuf_free(&sb);
    return rc == DZ_OK ? 0 : cli_fail(&e);
}

/* ---- check ---- */

typedef struct check_state {
    const registry_index *ix;
    size_t shared, nested;
} check_state;

static void print_orgs(const registry_index *ix, const registry_claim *c)
{
    for (size_t i = 0; i < c->n_orgs; i++) {
        const char *name = registry_org_name(ix, c->org_ids[i]);
        printf("%s%s", i ? ", " : "", name ? name : "?");
    }
}

static void report_overlap(void *arg, overlap_kind kind, const registry_claim *claim, const registry_claim *outer)
{
    check_state *cs = arg;
    char text[DOMAIN_TEXT_MAX], outer_text[DOMAIN_TEXT_MAX];
    registry_claim_text(claim, text);
    if (kind == OVERLAP_SHARED) {
        cs->shared++;
        printf("shared  %s is claimed by ", text);
        print_orgs(cs->ix, claim);
        printf(" (all of them are answers)\n");
        return;
    }
    cs->nested++;
    registry_claim_text(outer, outer_text);
    printf("nested  %s (", text);
    print_orgs(cs->ix, claim);
    printf(") lies inside %s (", outer_text);
    print_orgs(cs->ix, outer);
    printf("): the first wins for its %s\n", claim->kind == CLAIM_DOMAIN ? "names" : "addresses");
}

static int constituents_check(const dz_config *cfg)
{
    store *st;
    dz_err e = {0};
    registry_index *ix;
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    dz_code rc = store_registry_load(st, &ix, &e);
    store_close(st);
    if (rc != DZ_OK)
        return cli_fail(&e);
    check_state cs = {ix, 0, 0};
    registry_overlaps(ix, report_overlap, &cs);
    registry_counts counts;
    registry_index_counts(ix, &counts);
    printf("%zu organisations, %zu networks, %zu AS numbers, %zu domains: %zu shared, %zu nested\n", counts.orgs,
           counts.networks, counts.asns, counts.domains, cs.shared, cs.nested);
    registry_index_free(ix);
    return 0;
}

/* ---- the rest ---- */

static int constituents_list(const dz_config *cfg, bool as_json)
{
    store *st;
    dz_err e = {0};
    json_t *page;
    constituent_filter all = {.cii = -1, .limit = 0};
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    dz_code rc = store_constituent_list(st, 0, &all, &page, &e);
    store_close(st);
    if (rc != DZ_OK)
        return cli_fail(&e);
    if (as_json) {
        json_t *items = json_incref(json_object_get(page, "items"));
        json_decref(page);
        return cli_print_json(items);
    }
    printf("%-20s %-13s %-18s %-7s %5s %5s %5s  %s\n", "SHORT_NAME", "KIND", "SECTOR", "CII", "NETS", "ASNS", "DOMS",
           "NAME");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(page, "items"), i, it) {
        json_t *tier = json_object_get(it, "cii_tier");
        char cii[8];
        snprintf(cii, sizeof cii, "%s", json_is_true(json_object_get(it, "cii")) ? "yes" : "-");
        if (json_is_integer(tier))
            snprintf(cii, sizeof cii, "tier %d", (int)json_integer_value(tier));
        const char *sector = json_string_value(json_object_get(it, "sector"));
        printf("%-20s %-13s %-18s %-7s %5zu %5zu %5zu  %s\n", json_string_value(json_object_get(it, "short_name")),
               json_string_value(json_object_get(it, "kind")), sector ? sector : "-", cii,
               json_array_size(json_object_get(it, "networks")), json_array_size(json_object_get(it, "asns")),
               json_array_size(json_object_get(it, "domains")), json_string_value(json_object_get(it, "name")));
    }
    json_decref(page);
    return 0;
}

int cmd_constituents(const dz_config *cfg, int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        fputs(constituents_usage, stdout);
        return 0;
    }
    if (strcmp(sub, "import") == 0)
        return constituents_import(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0)
        return constituents_export(cfg, argc - 1, argv + 1);
    if (strcmp(sub, "check") == 0 && argc == 2)
        return constituents_check(cfg);
    if (strcmp(sub, "list") == 0 && (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0)))
        return constituents_list(cfg, argc == 3);
    bool show = strcmp(sub, "show") == 0 && argc == 3, del = strcmp(sub, "delete") == 0 && argc == 3,
         add = strcmp(sub, "add") == 0 && argc == 4;
    if (!show && !del && !add) {
        fputs(constituents_usage, stderr);
        return 2;
    }
    store *st;
    dz_err e = {0};
    principal p;
    cli_principal(&p);
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    json_t *out = NULL;
    dz_code rc = show  ? store_constituent_get(st, 0, argv[2], &out, &e)
                 : add ? store_constituent_create(st, &p, argv[2], argv[3], &out, &e)
                       : store_constituent_delete(st, &p, argv[2], &e);
    store_close(st);
    if (rc != DZ_OK)
        return cli_fail(&e);
    if (del) {
        printf("deleted %s\n", argv[2]);
        return 0;
    }
    return cli_print_json(out);
}

int cmd_lookup(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"ip", no_argument, 0, 'i'},     {"asn", no_argument, 0, 'a'},
                                         {"domain", no_argument, 0, 'd'}, {"help", no_argument, 0, 'h'},
                                         {0}};
    const char *kind = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'i': kind = "ip"; break;
        case 'a': kind = "asn"; break;
        case 'd': kind = "domain"; break;
        case 'h': fputs(lookup_usage, stdout); return 0;
        default: fputs(lookup_usage, stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(lookup_usage, stderr);
        return 2;
    }
    store *st;
    dz_err e = {0};
    json_t *out;
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    dz_code rc = store_registry_refresh(st, true, &e);
    if (rc == DZ_OK)
        rc = store_lookup(st, 0, kind, argv[optind], &out, &e);
    store_close(st);
    if (rc != DZ_OK)
        return cli_fail(&e);
    return cli_print_json(out);
}
