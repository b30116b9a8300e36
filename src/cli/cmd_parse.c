/*
 * cmd_parse.c: `dzong parse --feed NAME ... FILE|-`.
 *
 * Turns a feed's input into harmonized events and prints them, one JSON
 * object per line, in input order; stores nothing. Any parser of the table
 * in lib/feed.c (shadowserver, feodo, urlhaus, ...). Bad rows go to stderr
 * as "FILE:LINE: reason", then a summary line. Exit 0 when the input was read
 * (even with refused rows), 2 on usage errors, 1 when the report type is
 * unknown, the schema or mapping is bad or the file unreadable.
 */
#include "cli/cli.h"
#include "lib/embedded.h"
#include "lib/feed_shadowserver.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cli_files (meson.build): feed_shadowserver_schema.json is dzong's own Shadowserver schema. */
extern const struct embedded_file cli_files[];

static const char parse_usage[] =
    "usage: dzong parse --feed shadowserver [--report R | --file-name NAME] [--feed-name N]\n"
    "                   [--observation-time T] [--raw] [--schema FILE] FILE|-\n"
    "       dzong parse --feed csv --mapping FILE [--file-name NAME] [--feed-name N]\n"
    "                   [--observation-time T] [--raw] FILE|-\n"
    "       dzong parse --feed F [--file-name NAME] [--feed-name N] [--observation-time T] [--raw] FILE|-\n"
    "\n"
    "Prints the input's events as JSON, one per line, in row order; stores nothing.\n"
    "Rows that cannot be parsed are reported on stderr as FILE:LINE: reason.\n"
    "\n"
    "  --feed F              the feed (below)\n"
    "  --report R            shadowserver: the report type (scan_adb, ...); default: from the file name\n"
    "  --file-name NAME      the file name to take the report type (shadowserver) or the list\n"
    "                        (blocklist, spamhaus-drop) from (default: FILE's base name)\n"
    "  --feed-name N         feed.name of every event (default: the feed's or report's)\n"
    "  --observation-time T  time.observation of every event (ISO 8601; default: now)\n"
    "  --raw                 add raw: base64 of the row as read (shadowserver, csv: with the header line)\n"
    "  --schema FILE         shadowserver: a Shadowserver schema (JSON) instead of the built-in one\n"
    "  --mapping FILE        csv: the column mapping (JSON; docs/feeds.md)\n"
    "\n"
    "Feeds:\n";

/* "shadowserver, feodo, ..." */
static void known_feeds(char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; feed_parser_at(i) && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", feed_parser_at(i)->name);
}

static void print_usage(FILE *f)
{
    fputs(parse_usage, f);
    for (size_t i = 0; feed_parser_at(i); i++)
        fprintf(f, "  %-14s %s\n", feed_parser_at(i)->name, feed_parser_at(i)->summary);
}

typedef struct parse_ctx {
    const char *file;
    strbuf out;
    uint64_t events, refused;
    bool write_failed;
} parse_ctx;

static int on_event(void *arg, const event *ev, uint64_t line)
{
    (void)line;
    parse_ctx *c = arg;
    strbuf_reset(&c->out);
    event_write_json(ev, &c->out);
    strbuf_append(&c->out, "\n", 1);
    if (c->out.oom || fwrite(c->out.buf, 1, c->out.len, stdout) != c->out.len) {
        c->write_failed = true;
        return 1;
    }
    c->events++;
    return 0;
}

static void on_error(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    (void)raw, (void)raw_len;
    parse_ctx *c = arg;
    c->refused++;
    fprintf(stderr, "%s:%llu: %s\n", c->file, (unsigned long long)line, reason);
}

static char *read_file(const char *path, size_t *len, dz_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dz_fail(e, DZ_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    strbuf sb;
    strbuf_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&sb, buf, n);
    bool err = ferror(f);
    fclose(f);
    if (err || sb.oom) {
        strbuf_free(&sb);
        dz_fail(e, err ? DZ_EIO : DZ_ENOMEM, "%s: %s", path, err ? "read error" : "out of memory");
        return NULL;
    }
    *len = sb.len;
    if (!sb.buf) {
        char *empty = calloc(1, 1);
        if (!empty)
            dz_fail(e, DZ_ENOMEM, "out of memory");
        return empty;
    }
    return strbuf_steal(&sb);
}

/* Every feed but shadowserver: the parser from the table, the input through csv_read_fd. */
static int parse_other(const feed_parser *fp, feed_options *fo, const char *schema_path, const char *mapping_path,
                       const char *path)
{
    if (schema_path) {
        fprintf(stderr, "dzong parse: --schema is only for --feed shadowserver\n");
        return 2;
    }
    if (fo->report) {
        fprintf(stderr, "dzong parse: --report is only for --feed shadowserver\n");
        return 2;
    }
    bool csv = strcmp(fp->name, "csv") == 0;
    if (csv && !mapping_path) {
        fprintf(stderr, "dzong parse: --feed csv needs --mapping FILE\n");
        return 2;
    }
    if (!csv && mapping_path) {
        fprintf(stderr, "dzong parse: --mapping is only for --feed csv\n");
        return 2;
    }
    bool from_stdin = strcmp(path, "-") == 0;
    if (!fo->file_name && !from_stdin)
        fo->file_name = feed_base_name(path);
    dz_err e = {0};
    csv_mapping *mapping = NULL;
    if (csv) {
        size_t len = 0;
        char *text = read_file(mapping_path, &len, &e);
        if (!text)
            return cli_fail(&e);
        dz_code rc = csv_mapping_load(text, len, &mapping, &e);
        free(text);
        if (rc != DZ_OK) {
            fprintf(stderr, "dzong parse: %s: %s\n", mapping_path, e.msg);
            return 1;
        }
        fo->mapping = mapping;
    }
    int fd = from_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "dzong parse: %s: %s\n", path, strerror(errno));
        csv_mapping_free(mapping);
        return 1;
    }
    parse_ctx ctx = {.file = from_stdin ? "-" : path};
    strbuf_init(&ctx.out);
    dz_code rc = fp->parse(fo, csv_read_fd, &fd, on_event, on_error, &ctx, &e);
    if (fd > 0)
        close(fd);
    strbuf_free(&ctx.out);
    csv_mapping_free(mapping);
    if (fflush(stdout) != 0)
        ctx.write_failed = true;
    if (rc != DZ_OK) {
        fprintf(stderr, "dzong parse: %s: %s\n", ctx.file, e.msg);
        return 1;
    }
    fprintf(stderr, "%llu events, %llu rows refused\n", (unsigned long long)ctx.events,
            (unsigned long long)ctx.refused);
    if (ctx.write_failed) {
        fprintf(stderr, "dzong parse: writing to stdout failed\n");
        return 1;
    }
    return 0;
}

int cmd_parse(int argc, char **argv)
{
    static const struct option opts[] = {{"feed", required_argument, 0, 'f'},
                                         {"report", required_argument, 0, 'r'},
                                         {"file-name", required_argument, 0, 'n'},
                                         {"feed-name", required_argument, 0, 'N'},
                                         {"observation-time", required_argument, 0, 't'},
                                         {"raw", no_argument, 0, 'R'},
                                         {"schema", required_argument, 0, 's'},
                                         {"mapping", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    const char *feed = NULL, *schema_path = NULL, *mapping_path = NULL;
    feed_options fo = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': feed = optarg; break;
        case 'r': fo.report = optarg; break;
        case 'n': fo.file_name = optarg; break;
        case 'N': fo.feed_name = optarg; break;
        case 't': fo.observation_time = optarg; break;
        case 'R': fo.raw = true; break;
        case 's': schema_path = optarg; break;
        case 'm': mapping_path = optarg; break;
        case 'h': print_usage(stdout); return 0;
        default: print_usage(stderr); return 2;
        }
    }
    char feeds[512];
    known_feeds(feeds, sizeof feeds);
    if (!feed) {
        fprintf(stderr, "dzong parse: --feed is required (known feeds: %s)\n", feeds);
        return 2;
    }
    const feed_parser *fp = feed_parser_find(feed);
    if (!fp) {
        fprintf(stderr, "dzong parse: unknown feed '%s' (known feeds: %s)\n", feed, feeds);
        return 2;
    }
    if (optind != argc - 1) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(fp->name, "shadowserver") != 0)
        return parse_other(fp, &fo, schema_path, mapping_path, argv[optind]);
    if (mapping_path) {
        fprintf(stderr, "dzong parse: --mapping is only for --feed csv\n");
        return 2;
    }
    if (fo.report && fo.file_name) {
        fprintf(stderr, "dzong parse: give --report or --file-name, not both\n");
        return 2;
    }
    const char *path = argv[optind];
    bool from_stdin = strcmp(path, "-") == 0;
    if (!fo.report && !fo.file_name) {
        if (from_stdin) {
            fprintf(stderr, "dzong parse: reading stdin: say --report R or --file-name NAME\n");
            return 2;
        }
        const char *base = strrchr(path, '/');
        fo.file_name = base ? base + 1 : path;
    }

    /* The schema. */
    dz_err e = {0};
    shadowserver_schema *schema = NULL;
    if (schema_path) {
        size_t len = 0;
        char *text = read_file(schema_path, &len, &e);
        if (!text)
            return cli_fail(&e);
        dz_code rc = shadowserver_schema_load(text, len, &schema, &e);
        free(text);
        if (rc != DZ_OK) {
            fprintf(stderr, "dzong parse: %s: %s\n", schema_path, e.msg);
            return 1;
        }
    } else {
        const struct embedded_file *f = embedded_find(cli_files, "feed_shadowserver_schema.json");
        if (!f) {
            fprintf(stderr, "dzong parse: the built-in Shadowserver schema is missing\n");
            return 1;
        }
        if (shadowserver_schema_load(f->data, (size_t)f->len, &schema, &e) != DZ_OK) {
            fprintf(stderr, "dzong parse: built-in schema: %s\n", e.msg);
            return 1;
        }
    }
    if (fo.report && !shadowserver_has_report(schema, fo.report)) {
        fprintf(stderr, "dzong parse: unknown Shadowserver report '%s'\n", fo.report);
        shadowserver_schema_free(schema);
        return 1;
    }
    if (!fo.report && !shadowserver_report_of_file(schema, fo.file_name)) {
        fprintf(stderr, "dzong parse: no known Shadowserver report type in the file name '%s' (say --report R)\n",
                fo.file_name);
        shadowserver_schema_free(schema);
        return 1;
    }

    int fd = from_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "dzong parse: %s: %s\n", path, strerror(errno));
        shadowserver_schema_free(schema);
        return 1;
    }
    parse_ctx ctx = {.file = from_stdin ? "-" : path};
    strbuf_init(&ctx.out);
    dz_code rc = shadowserver_parse(schema, &fo, csv_read_fd, &fd, on_event, on_error, &ctx, &e);
    if (fd > 0)
        close(fd);
    strbuf_free(&ctx.out);
    shadowserver_schema_free(schema);
    if (fflush(stdout) != 0)
        ctx.write_failed = true;
    if (rc != DZ_OK) {
        fprintf(stderr, "dzong parse: %s: %s\n", ctx.file, e.msg);
        return 1;
    }
    fprintf(stderr, "%llu events, %llu rows refused\n", (unsigned long long)ctx.events,
            (unsigned long long)ctx.refused);
    if (ctx.write_failed) {
        fprintf(stderr, "dzong parse: writing to stdout failed\n");
        return 1;
    }
    return 0;
}
