/*
 * pipeline_bench: the feed pipeline on one core, in memory.
 *
 * Generates a Shadowserver "scan_http" report (the 23 columns of the real report plus
 * "sector", which the schema does not map, so it becomes extra.sector; every cell quoted
 * as Shadowserver writes them) with random IPv4 addresses, a third of them inside the demo
 * constituency's networks (src/cli/demo_constituency.json, loaded into a registry_index),
 * then measures, each as the median of 5 runs over the whole report:
 *
 *   parse        shadowserver_parse (CSV, normalisation, one event per row)
 *   parse+json   the same and event_write_json of every event
 *   pipeline     parse + pipeline_process (classify, enrich, dedup hash)
 *   batch        pipeline + event_batch_add (JSON and index into the batch for the store;
 *                the batch is emptied every 20,000 events, ingest's default)
 *
 * and the peak RSS. Rates are events per second of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so other work on the machine hardly moves them; the wall-clock rate is printed beside. The pipeline figures need src/lib/pipeline.c's functions; while they
 * are missing from the library they are reported as such (weak references).
 *
 *   meson setup build-bench --buildtype=release -Dbench=true && ninja -C build-bench
 *   build-bench/bench/pipeline_bench [ROWS]          default 1,000,000
 *   build-bench/bench/pipeline_bench --raw [ROWS]    with raw (base64 of header and row)
 *   build-bench/bench/pipeline_bench --only parse    one figure (parse, parse+json, pipeline, batch)
 *   build-bench/bench/pipeline_bench --write FILE ROWS
 *       writes the report (same generator, same seed) to FILE for `dzong ingest`; name it
 *       e.g. 2026-11-22-scan_http-bench.csv so the report type follows from the name.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "lib/embedded.h"
#include "lib/feed_shadowserver.h"
#include "lib/pipeline.h"
#include "lib/registry.h"

/* The CLI's compiled-in files (meson.build: cli_files_c): the demo constituency. */
extern const struct embedded_file cli_files[];

/* Weak: the benchmark builds and runs (parse figures) before pipeline.c has these. */
#pragma weak pipeline_new
#pragma weak pipeline_free
#pragma weak pipeline_process
#pragma weak event_batch_init
#pragma weak event_batch_reset
#pragma weak event_batch_free
#pragma weak event_batch_add

#define RUNS 5
#define BATCH_EVENTS 20000

static size_t peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss / 1024;
}

static double median5(double *v)
{
    qsort(v, RUNS, sizeof *v, cmp_double);
    return v[RUNS / 2];
}

/* ---- the constituency ---- */

typedef struct v4net {
    uint32_t addr, len;
} v4net;

static v4net nets[64];
static size_t nnets;

static registry_index *load_constituency(void)
{
    const struct embedded_file *f = embedded_find(cli_files, "demo_constituency.json");
    json_error_t je;
    json_t *doc = f ? json_loadb(f->data, (size_t)f->len, 0, &je) : NULL;
    if (!json_is_array(doc)) {
        fprintf(stderr, "demo_constituency.json: not a JSON array\n");
        exit(1);
    }
    registry_builder *b = registry_builder_new();
    dz_err e = {0};
    size_t i;
    json_t *org;
    json_array_foreach(doc, i, org)
    {
        int64_t id = (int64_t)i + 1;
        if (registry_add_org(b, id, json_string_value(json_object_get(org, "short_name")), &e)) {
            fprintf(stderr, "%s\n", e.msg);
            exit(1);
        }
        size_t k;
        json_t *n;
        json_array_foreach(json_object_get(org, "networks"), k, n)
        {
            net_prefix p;
            if (net_prefix_parse(json_string_value(n), &p, &e) || registry_add_network(b, id, &p, &e)) {
                fprintf(stderr, "%s\n", e.msg);
                exit(1);
            }
            if (p.family == 4 && nnets < sizeof nets / sizeof nets[0])
                nets[nnets++] = (v4net){net_prefix_v4(&p), p.len};
        }
        json_array_foreach(json_object_get(org, "asns"), k, n)
        {
            if (registry_add_asn(b, id, (uint32_t)json_integer_value(n), &e)) {
                fprintf(stderr, "%s\n", e.msg);
                exit(1);
            }
        }
    }
    json_decref(doc);
    registry_index *ix = NULL;
    if (registry_build(b, 1, &ix, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    if (!nnets) {
        fprintf(stderr, "the demo constituency has no IPv4 networks\n");
        exit(1);
    }
    return ix;
}

/* ---- the report ---- */

static const char header[] =
    "\"timestamp\",\"ip\",\"protocol\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"region\",\"city\","
    "\"naics\",\"sic\",\"http\",\"http_code\",\"http_reason\",\"content_type\",\"connection\","
    "\"www_authenticate\",\"set_cookie\",\"server\",\"content_length\",\"transfer_encoding\",\"http_date\","
    "\"sector\"";

#define PICK(a) (a[rnd() % (sizeof a / sizeof a[0])])

static const char *const ports[] = {"80", "80", "80", "8080", "8000", "81", "8888"};
static const char *const ccs[] = {"US", "CN", "DE", "IN", "BR", "RU", "JP", "FR", "GB", "KR"};
static const char *const regions[] = {"CALIFORNIA", "GUANGDONG", "HESSEN", "MAHARASHTRA", "SAO PAULO",
                                      "MOSKVA", "TOKYO", "ILE-DE-FRANCE", "ENGLAND", "SEOUL"};
static const char *const cities[] = {"LOS ANGELES", "SHENZHEN", "FRANKFURT AM MAIN", "MUMBAI", "SAO PAULO",
                                     "MOSCOW", "TOKYO", "PARIS", "LONDON", "SEOUL"};
static const char *const bt_regions[] = {"THIMPHU", "PARO", "CHHUKHA", "MONGAR"};
static const char *const codes[][2] = {{"200", "OK"}, {"200", "OK"}, {"301", "Moved Permanently"},
                                       {"302", "Found"}, {"401", "Unauthorized"}, {"403", "Forbidden"},
                                       {"404", "Not Found"}};
static const char *const ctypes[] = {"text/html", "text/html; charset=UTF-8", "text/html; charset=iso-8859-1",
                                     "application/json", ""};
static const char *const servers[] = {"nginx", "nginx/1.18.0 (Ubuntu)", "Apache/2.4.41 (Ubuntu)", "Microsoft-IIS/10.0",
                                      "lighttpd/1.4.59", "Boa/0.94.14rc21", "mini_httpd/1.19 19dec2003", ""};
static const char *const sectors[] = {"Communications, Service Provider, and Hosting Service", "", "", ""};
static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static void put_cell(strbuf *o, const char *s, bool first)
{
    if (!first)
        strbuf_append(o, ",", 1);
    strbuf_append(o, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) { /* a quote inside is doubled */
        strbuf_append(o, s, (size_t)(q - s) + 1);
        strbuf_append(o, "\"", 1);
    }
    strbuf_puts(o, s);
    strbuf_append(o, "\"", 1);
}

/* One row (with its line end); the day is 2026-11-22 (a Sunday), times random within it. */
static void gen_row(strbuf *o)
{
    char ts[32], ip[16], host[64], asn[16], len[16], date[40];
    unsigned sec = rnd() % 86400, h = sec / 3600, m = sec / 60 % 60, s = sec % 60;
    snprintf(ts, sizeof ts, "2026-11-22 %02u:%02u:%02u", h, m, s);
    bool ours = rnd() % 3 == 0;
    uint32_t a;
    if (ours) {
        const v4net *n = &nets[rnd() % nnets];
        uint32_t host_bits = n->len >= 32 ? 0 : (uint32_t)(rnd() & ((UINT64_C(1) << (32 - n->len)) - 1));
        a = n->addr | host_bits;
    } else {
        a = rnd();
    }
    snprintf(ip, sizeof ip, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
    if (rnd() % 2)
        snprintf(host, sizeof host, "host-%u-%u-%u-%u.%s.example.net", a >> 24, a >> 16 & 255, a >> 8 & 255,
                 a & 255, ours ? "druknet" : "isp");
    else
        host[0] = 0;
    unsigned r = rnd();
    if (r % 20 == 0)
        snprintf(asn, sizeof asn, "0");
    else
        snprintf(asn, sizeof asn, "%u", ours ? 64512 + r % 4 : 1000 + r % 60000);
    int ci = (int)(rnd() % 10);
    const char *const *code = codes[rnd() % (sizeof codes / sizeof codes[0])];
    snprintf(len, sizeof len, "%u", rnd() % 20000);
    unsigned ds = (sec + rnd() % 5) % 86400;
    snprintf(date, sizeof date, "%s, 22 Nov 2026 %02u:%02u:%02u GMT", wdays[0], ds / 3600, ds / 60 % 60, ds % 60);
    (void)wdays;

    put_cell(o, ts, true);
    put_cell(o, ip, false);
    put_cell(o, "tcp", false);
    put_cell(o, PICK(ports), false);
    put_cell(o, host, false);
    put_cell(o, rnd() % 4 ? "" : "http", false);
    put_cell(o, asn, false);
    put_cell(o, ours ? "BT" : ccs[ci], false);
    put_cell(o, ours ? PICK(bt_regions) : regions[ci], false);
    put_cell(o, ours ? "THIMPHU" : cities[ci], false);
    put_cell(o, rnd() % 3 ? "0" : "517311", false);
    put_cell(o, rnd() % 3 ? "0" : "481200", false);
    put_cell(o, "HTTP/1.1", false);
    put_cell(o, code[0], false);
    put_cell(o, code[1], false);
    put_cell(o, PICK(ctypes), false);
    put_cell(o, rnd() % 2 ? "close" : "keep-alive", false);
    put_cell(o, code[0][0] == '4' && code[0][2] == '1' ? "Basic realm=\"Restricted\"" : "", false);
    put_cell(o, rnd() % 5 ? "" : "PHPSESSID=8a1b2c3d4e5f; path=/", false);
    put_cell(o, PICK(servers), false);
    put_cell(o, len, false);
    put_cell(o, rnd() % 4 ? "" : "chunked", false);
    put_cell(o, date, false);
    put_cell(o, PICK(sectors), false);
    strbuf_append(o, "\n", 1);
}

static int write_report(const char *path, size_t rows)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    strbuf o;
    strbuf_init(&o);
    strbuf_puts(&o, header);
    strbuf_append(&o, "\n", 1);
    for (size_t i = 0; i < rows; i++) {
        gen_row(&o);
        if (o.len >= (1u << 20)) {
            if (fwrite(o.buf, 1, o.len, f) != o.len) {
                perror(path);
                return 1;
            }
            strbuf_reset(&o);
        }
    }
    if ((o.len && fwrite(o.buf, 1, o.len, f) != o.len) || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    strbuf_free(&o);
    fprintf(stderr, "wrote %zu rows to %s\n", rows, path);
    return 0;
}

/* ---- the runs ---- */

enum mode { M_PARSE, M_JSON, M_PIPELINE, M_BATCH, M_DIGEST };

typedef struct sink {
    enum mode mode;
    pipeline *pl;
    const registry_index *ix;
    strbuf json;
    event_batch batch;
    uint64_t events, errors, bad, matched, check;
} sink;

static int on_event(void *arg, event *ev, uint64_t line)
{
    sink *k = arg;
    k->events++;
    switch (k->mode) {
    case M_PARSE:
        k->check += event_count(ev);
        break;
    case M_JSON:
        strbuf_reset(&k->json);
        event_write_json(ev, &k->json);
        k->check += k->json.len;
        break;
    case M_DIGEST: /* untimed: FNV-1a over every event's JSON, to compare builds */
        strbuf_reset(&k->json);
        event_write_json(ev, &k->json);
        for (size_t i = 0; i < k->json.len; i++)
            k->check = (k->check ^ (unsigned char)k->json.buf[i]) * UINT64_C(0x100000001b3);
        break;
    case M_PIPELINE:
    case M_BATCH: {
        event_index ix;
        dz_err e = {0};
        if (pipeline_process(k->pl, k->ix, (event *)ev, &ix, &e) != DZ_OK) {
            k->bad++;
            break;
        }
        k->matched += ix.constituent_id != 0;
        k->check += ix.dedup_hash;
        if (k->mode == M_BATCH) {
            event_batch_add(&k->batch, line, ev, &ix);
            if (k->batch.n >= BATCH_EVENTS)
                event_batch_reset(&k->batch);
        }
        break;
    }
    }
    return 0;
}

static void on_error(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    (void)line, (void)raw, (void)raw_len;
    sink *k = arg;
    if (k->errors++ == 0)
        fprintf(stderr, "first refused row: %s\n", reason);
}

/* CPU time of this thread: what one core spends, whatever else runs on the machine. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass over the report; returns its CPU time, *wall its wall-clock time. */
static double run(const shadowserver_schema *s, const feed_options *fo, const strbuf *report, sink *k, double *wall)
{
    csv_memory m = {report->buf, report->len, 0};
    dz_err e = {0};
    k->events = k->errors = k->bad = k->matched = k->check = 0;
    double w0 = now(), t0 = cpu_now();
    if (shadowserver_parse(s, fo, csv_read_memory, &m, on_event, on_error, k, &e) != DZ_OK) {
        fprintf(stderr, "parse: %s\n", e.msg);
        exit(1);
    }
    double t = cpu_now() - t0;
    if (wall)
        *wall = now() - w0;
    return t;
}

int main(int argc, char **argv)
{
    bool raw = false;
    int a = 1;
    if (argc > 1 && strcmp(argv[1], "--write") == 0) {
        if (argc != 4) {
            fprintf(stderr, "usage: pipeline_bench --write FILE ROWS\n");
            return 2;
        }
        registry_index_free(load_constituency());
        return write_report(argv[2], strtoull(argv[3], NULL, 10));
    }
    int only = -1;
    static const char *const names[] = {"parse", "parse+json", "pipeline", "batch"};
    for (; argc > a && argv[a][0] == '-'; a++) {
        if (strcmp(argv[a], "--raw") == 0) {
            raw = true;
        } else if (strcmp(argv[a], "--only") == 0 && a + 1 < argc) {
            a++;
            for (int i = 0; i < 4; i++)
                if (strcmp(argv[a], names[i]) == 0)
                    only = i;
            if (only < 0) {
                fprintf(stderr, "--only: parse, parse+json, pipeline or batch\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: pipeline_bench [--raw] [--only FIGURE] [ROWS] | --write FILE ROWS\n");
            return 2;
        }
    }
    size_t rows = argc > a ? strtoull(argv[a], NULL, 10) : 1000000;
    if (!rows)
        return 2;

    registry_index *ix = load_constituency();
    shadowserver_schema *schema = NULL;
    dz_err e = {0};
    if (feed_builtin_schema(&schema, &e) != DZ_OK) {
        fprintf(stderr, "schema: %s\n", e.msg);
        return 1;
    }

    strbuf report;
    strbuf_init(&report);
    strbuf_puts(&report, header);
    strbuf_append(&report, "\n", 1);
    for (size_t i = 0; i < rows; i++)
        gen_row(&report);
    if (report.oom)
        return 1;
    size_t rss_input = peak_rss_mb();

    feed_options fo = {.report = "scan_http",
                       .file_name = "2026-11-22-scan_http-bench.csv",
                       .observation_time = "2026-11-23T00:00:00+00:00",
                       .raw = raw,
                       .schema = schema};
    bool have_pipeline = pipeline_new && pipeline_process && pipeline_free;
    bool have_batch = have_pipeline && event_batch_init && event_batch_add && event_batch_reset && event_batch_free;

    sink k = {0};
    strbuf_init(&k.json);
    k.ix = ix;
    if (have_pipeline && pipeline_new(NULL, &k.pl, &e) != DZ_OK) {
        fprintf(stderr, "pipeline_new: %s\n", e.msg);
        return 1;
    }
    if (have_batch)
        event_batch_init(&k.batch);

    static const char *const what[] = {
        "shadowserver_parse: CSV, normalisation, one event per row",
        "parse + event_write_json of every event",
        "parse + pipeline_process (classify, enrich, dedup hash)",
        "pipeline + event_batch_add (packed document and index into the store's batch, reset every 20000)",
    };
    uint64_t events = 0, checks[4] = {0}, matched = 0, errors = 0, bad = 0;
    double rate[4] = {0}, wrate[4] = {0};
    for (int mode = M_PARSE; mode <= M_BATCH; mode++) {
        if ((mode == M_PIPELINE && !have_pipeline) || (mode == M_BATCH && !have_batch) || (only >= 0 && mode != only))
            continue;
        k.mode = (enum mode)mode;
        double t[RUNS], w[RUNS];
        for (int r = 0; r < RUNS; r++) {
            t[r] = run(schema, &fo, &report, &k, &w[r]);
            if (have_batch)
                event_batch_reset(&k.batch);
        }
        rate[mode] = (double)k.events / median5(t);
        wrate[mode] = (double)k.events / median5(w);
        events = k.events;
        errors = k.errors;
        checks[mode] = k.check;
        if (mode >= M_PIPELINE) {
            matched = k.matched;
            bad = k.bad;
        }
    }

    k.mode = M_DIGEST;
    run(schema, &fo, &report, &k, NULL);
    uint64_t digest = k.check;

    printf("report           scan_http, %zu rows, %.1f MB, 24 columns, a third of the addresses in the demo "
           "constituency%s\n",
           rows, (double)report.len / 1e6, raw ? ", with raw" : "");
    printf("events           %llu (%llu rows refused)\n", (unsigned long long)events, (unsigned long long)errors);
    for (int mode = M_PARSE; mode <= M_BATCH; mode++) {
        if (only >= 0 && mode != only)
            continue;
        if (rate[mode] > 0)
            printf("%-16s %9.0f events/s  (%.3f us/event CPU; wall clock %.0f/s; median of %d; %s)\n", names[mode],
                   rate[mode], 1e6 / rate[mode], wrate[mode], RUNS, what[mode]);
        else
            printf("%-16s n/a (src/lib/pipeline.c does not provide it yet)\n", names[mode]);
    }
    if (have_pipeline)
        printf("matched          %llu events owned by a constituent, %llu refused by the pipeline\n",
               (unsigned long long)matched, (unsigned long long)bad);
    printf("peak RSS         %zu MB (the report in memory alone: %zu MB)\n", peak_rss_mb(), rss_input);
    printf("checksum         %llu %llu %llu %llu\n", (unsigned long long)checks[0], (unsigned long long)checks[1],
           (unsigned long long)checks[2], (unsigned long long)checks[3]);
    printf("json digest      %016llx (FNV-1a of every event's JSON: equal across builds = identical output)\n",
           (unsigned long long)digest);

    if (have_batch)
        event_batch_free(&k.batch);
    if (have_pipeline)
        pipeline_free(k.pl);
    strbuf_free(&k.json);
    strbuf_free(&report);
    shadowserver_schema_free(schema);
    registry_index_free(ix);
    return 0;
}
