/*
 * cmd_ingest.c: `dzong ingest --feed F [...] FILE...`: each file through the
 * whole pipeline into the store (src/ingest/ingest.h).
 *
 * A file already ingested is reported and skipped; one interrupted (the
 * process was killed) resumes from its checkpoint. On a terminal a progress
 * bar with rate and ETA, otherwise one summary line per file. Exit 0 when
 * every file went in (refused rows are counted, not failures), 1 when one
 * could not be read or stored, 2 on usage errors.
 */
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "lib/feed_shadowserver.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char ingest_usage[] =
    "usage: dzong ingest --feed F [--report R] [--feed-name N] [--mapping FILE] [--schema FILE]\n"
    "                    [--batch N] [--quiet] FILE...|-\n"
    "\n"
    "Parses each file, classifies, matches each event to its constituent, drops duplicates\n"
    "(dedup_window, dedup_fields in dzong.conf) and stores the events; refused rows go to the\n"
    "quarantine with their line and reason. A file already ingested is skipped; one that was\n"
    "interrupted resumes where its last committed batch ended.\n"
    "\n"
    "  --feed F          the parser (dzong parse --help lists them)\n"
    "  --report R        Shadowserver report type (default: from the file name)\n"
    "  --feed-name N     feed.name of every event\n"
    "  --mapping FILE    column mapping for --feed csv\n"
    "  --schema FILE     a Shadowserver schema instead of the built-in one\n"
    "  --batch N         events per transaction (default 20000)\n"
    "  --quiet           no progress bar\n";

typedef struct bar_state {
    const char *file;
    bool tty;
} bar_state;

static void human(double v, char *out, size_t n)
{
    if (v >= 1e6)
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

static void show_progress(void *arg, const ingest_progress *p)
{
    bar_state *b = arg;
    if (!b->tty)
        return;
    double frac = p->bytes_total ? (double)p->bytes_read / (double)p->bytes_total : 0;
    if (frac > 1)
        frac = 1;
    double rate = p->seconds > 0 ? (double)(p->events + p->duplicates + p->quarantined) / p->seconds : 0;
    char bar[31], ev[16], rt[16], eta[32] = "";
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[30] = '\0';
    human((double)p->events, ev, sizeof ev);
    human(rate, rt, sizeof rt);
    if (p->bytes_total && frac > 0.001) {
        double left = p->seconds * (1 - frac) / frac;
        snprintf(eta, sizeof eta, " ETA %ds", (int)(left + 0.5));
    }
    fprintf(stderr, "\r%s [%s] %3d%% %s events %s/s%s   ", b->file, bar, (int)(frac * 100), ev, rt, eta);
    fflush(stderr);
}

/* stdin has no fingerprint: copy it to a temporary file in the data directory first. */
static int spool_stdin(const dz_config *cfg, char *path, size_t n, dz_err *e)
{
    snprintf(path, n, "%s/.ingest-stdin-XXXXXX", cfg->data_dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        dz_fail(e, DZ_EIO, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[65536];
    for (;;) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            dz_fail(e, DZ_EIO, "reading stdin: %s", strerror(errno));
            break;
        }
        if (r == 0) {
            if (lseek(fd, 0, SEEK_SET) == 0)
                return fd;
            dz_fail(e, DZ_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(fd, buf + off, (size_t)(r - off));
            if (w < 0 && errno != EINTR) {
                dz_fail(e, DZ_EIO, "%s: %s", path, strerror(errno));
                close(fd);
                unlink(path);
                return -1;
            }
            off += w > 0 ? w : 0;
        }
    }
    close(fd);
    unlink(path);
    return -1;
}

static int ingest_one(store *st, const dz_config *cfg, ingest_request *req, const char *path, bool quiet)
{
    dz_err e = {0};
    char tmp[PATH_MAX + 32] = "";
    bool from_stdin = strcmp(path, "-") == 0;
    int fd = from_stdin ? spool_stdin(cfg, tmp, sizeof tmp, &e) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (!from_stdin)
            fprintf(stderr, "dzong ingest: %s: %s\n", path, strerror(errno));
        else
            fprintf(stderr, "dzong ingest: %s\n", e.msg);
        return 1;
    }
    struct stat sb;
    req->fd = fd;
    req->size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    req->source = path;
    if (!req->opt.report && !from_stdin)
        req->opt.file_name = feed_base_name(path);
    bar_state bar = {.file = path, .tty = !quiet && isatty(2)};
    req->progress = show_progress;
    req->progress_arg = &bar;

    ingest_summary sum;
    dz_code rc = ingest_run(st, req, &sum, &e);
    close(fd);
    if (tmp[0])
        unlink(tmp);
    if (bar.tty)
        fputs("\r\033[K", stderr);
    if (rc != DZ_OK) {
        fprintf(stderr, "dzong ingest: %s: %s\n", path, e.msg);
        return 1;
    }
    if (sum.claim == INGEST_DONE) {
        printf("%s: already ingested (ingest %lld: %lld events, %lld duplicates, %lld quarantined)\n", path,
               (long long)sum.ingest_id, (long long)sum.events, (long long)sum.duplicates,
               (long long)sum.quarantined);
        return 0;
    }
    if (sum.claim == INGEST_BUSY) {
        fprintf(stderr, "dzong ingest: %s: being ingested by %s (ingest %lld); try again later\n", path, sum.holder,
                (long long)sum.ingest_id);
        return 1;
    }
    double rate = sum.seconds > 0 ? (double)(sum.events + sum.duplicates + sum.quarantined) / sum.seconds : 0;
    printf("%s: ingest %lld%s: %llu lines, %lld events stored, %lld duplicates, %lld quarantined, "
           "%lld matched to a constituent, %.2f s (%.0f rows/s)\n",
           path, (long long)sum.ingest_id, sum.claim == INGEST_RESUME ? " (resumed)" : "",
           (unsigned long long)sum.lines, (long long)sum.events, (long long)sum.duplicates,
           (long long)sum.quarantined, (long long)sum.matched, sum.seconds, rate);
    if (sum.claim == INGEST_RESUME)
        printf("%s: %llu rows before the checkpoint were already stored\n", path, (unsigned long long)sum.skipped);
    fflush(stdout);
    return 0;
}

int cmd_ingest(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"feed", required_argument, 0, 'f'},
                                         {"report", required_argument, 0, 'r'},
                                         {"feed-name", required_argument, 0, 'N'},
                                         {"mapping", required_argument, 0, 'm'},
                                         {"schema", required_argument, 0, 's'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    ingest_request req = {.kind = "file"};
    const char *feed = NULL, *mapping_path = NULL, *schema_path = NULL;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': feed = optarg; break;
        case 'r': req.opt.report = optarg; break;
        case 'N': req.opt.feed_name = optarg; break;
        case 'm': mapping_path = optarg; break;
        case 's': schema_path = optarg; break;
        case 'b': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1000000) {
                fprintf(stderr, "dzong ingest: --batch must be 1..1000000\n");
                return 2;
            }
            req.batch_events = (size_t)v;
            break;
        }
        case 'q': quiet = true; break;
        case 'h': fputs(ingest_usage, stdout); return 0;
        default: fputs(ingest_usage, stderr); return 2;
        }
    }
    if (!feed || optind >= argc) {
        fputs(ingest_usage, stderr);
        return 2;
    }
    dz_err e = {0};
    cli_feed f;
    if (cli_feed_open(feed, schema_path, mapping_path, &f, &e) != DZ_OK) {
        cli_feed_close(&f);
        return cli_fail(&e);
    }
    req.parser = f.parser;
    req.opt.schema = f.schema;
    req.opt.mapping = f.mapping;
    dz_code rc = DZ_OK;
    if (f.schema && req.opt.report && !shadowserver_has_report(f.schema, req.opt.report))
        rc = dz_fail(&e, DZ_EINVAL, "unknown Shadowserver report '%s'", req.opt.report);
    pipeline_config pc = {.dedup_fields = cfg->dedup_fields[0] ? cfg->dedup_fields : NULL};
    req.pipeline = &pc;

    store *st = NULL;
    if (rc == DZ_OK)
        rc = cli_open_store(cfg, true, &st, &e);
    /* the server's write path: WAL checkpoints in their own thread, not inside the batches' commits */
    if (rc == DZ_OK && (rc = store_start_writer(st, &e)) != DZ_OK)
        store_close(st);
    if (rc != DZ_OK) {
        cli_feed_close(&f);
        return cli_fail(&e);
    }
    int status = 0;
    for (int i = optind; i < argc; i++) {
        if (ingest_one(st, cfg, &req, argv[i], quiet) != 0)
            status = 1;
        req.opt.file_name = NULL;
    }
    store_stop_writer(st);
    store_close(st);
    cli_feed_close(&f);
    return status;
}
