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
#include "lib/feed_shadowserver.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int on_event(void *arg, event *ev, uint64_t line)
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

/* Shadowserver: the report type must be known before reading (from --report or the file name). */
static int check_report(const cli_feed *f, const feed_options *fo)
{
    if (fo->report && !shadowserver_has_report(f->schema, fo->report)) {
        fprintf(stderr, "dzong parse: unknown Shadowserver report '%s'\n", fo->report);
        return 1;
    }
    if (!fo->report && !shadowserver_report_of_file(f->schema, fo->file_name)) {
        fprintf(stderr, "dzong parse: no known Shadowserver report type in the file name '%s' (say --report R)\n",
                fo->file_name);
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
    if (!feed) {
        char feeds[256];
        cli_feed_names(feeds, sizeof feeds);
        fprintf(stderr, "dzong parse: --feed is required (known feeds: %s)\n", feeds);
        return 2;
    }
    if (optind != argc - 1) {
        print_usage(stderr);
        return 2;
    }
    bool ss = strcmp(feed, "shadowserver") == 0;
    if (fo.report && !ss) {
        fprintf(stderr, "dzong parse: --report is only for --feed shadowserver\n");
        return 2;
    }
    if (fo.report && fo.file_name) {
        fprintf(stderr, "dzong parse: give --report or --file-name, not both\n");
        return 2;
    }
    const char *path = argv[optind];
    bool from_stdin = strcmp(path, "-") == 0;
    if (!fo.report && !fo.file_name) {
        if (from_stdin && ss) {
            fprintf(stderr, "dzong parse: reading stdin: say --report R or --file-name NAME\n");
            return 2;
        }
        if (!from_stdin)
            fo.file_name = feed_base_name(path);
    }

    dz_err e = {0};
    cli_feed f;
    if (cli_feed_open(feed, schema_path, mapping_path, &f, &e) != DZ_OK) {
        fprintf(stderr, "dzong parse: %s\n", e.msg);
        cli_feed_close(&f);
        return e.code == DZ_EINVAL ? 2 : 1;
    }
    fo.schema = f.schema;
    fo.mapping = f.mapping;
    if (ss && check_report(&f, &fo) != 0) {
        cli_feed_close(&f);
        return 1;
    }
    int fd = from_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "dzong parse: %s: %s\n", path, strerror(errno));
        cli_feed_close(&f);
        return 1;
    }
    parse_ctx ctx = {.file = from_stdin ? "-" : path};
    strbuf_init(&ctx.out);
    dz_code rc = f.parser->parse(&fo, csv_read_fd, &fd, on_event, on_error, &ctx, &e);
    if (fd > 0)
        close(fd);
    strbuf_free(&ctx.out);
    cli_feed_close(&f);
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
