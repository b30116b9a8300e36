/* cmd_db.c: `dzong db copy SRC DST`: a whole deployment into another database, verified. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char db_usage[] =
    "usage: dzong db copy SRC_URL DST_URL\n"
    "Copies a whole deployment into another database: SQLite to PostgreSQL, PostgreSQL to SQLite,\n"
    "or SQLite to SQLite. URLs: sqlite:PATH or postgres://USER@HOST:PORT/DB (--db is not used).\n"
    "  - The destination is migrated and must be empty: a new database, or one that only had\n"
    "    `dzong migrate` (not `dzong init`, which creates an admin user).\n"
    "  - Both must be at the same schema version: run `dzong --db SRC_URL migrate` first if not.\n"
    "  - The source is only read, from one snapshot. Stop dzong first: writes made while the\n"
    "    copy runs are not in it.\n"
    "  - Everything is copied in one transaction (all or nothing). Then every table is read back\n"
    "    from the destination and compared with the source: row count and SHA-256 over the rows\n"
    "    in key order. Exit 0 when every table matches, 1 when any differs, 4 when refused.\n";

/* A SQLite source must exist: opening a missing file would create an empty one. */
static bool sqlite_missing(const char *url, const char **path)
{
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return false;
    if (strncmp(url, "sqlite:", 7) != 0 && strstr(url, "://"))
        return false; /* not a SQLite URL: store_open says what is wrong with it */
    *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    return access(*path, F_OK) != 0;
}

static void progress(const char *table, int64_t rows, void *arg)
{
    (void)arg;
    fprintf(stderr, "  copied %-22s %lld row%s\n", table, (long long)rows, rows == 1 ? "" : "s");
}

static int db_copy(const dz_config *cfg, const char *src, const char *dst)
{
    char src_p[PATH_MAX + 16], dst_p[PATH_MAX + 16];
    const char *path;
    dz_err e = {0};
    if (sqlite_missing(src, &path)) {
        fprintf(stderr, "dzong db copy: the source database %s does not exist\n", path);
        return 3;
    }
    cli_redact_url(src, src_p, sizeof src_p);
    cli_redact_url(dst, dst_p, sizeof dst_p);
    fprintf(stderr, "copying %s -> %s\n", src_p, dst_p);
    store_copy_report *rep = calloc(1, sizeof *rep);
    if (!rep) {
        fprintf(stderr, "dzong: out of memory\n");
        return 1;
    }
    dz_code rc = store_copy(src, dst, &cfg->store, progress, NULL, rep, &e);
    if (rep->n) {
        int64_t rows = 0;
        printf("%-22s %10s  %-20s %s\n", "TABLE", "ROWS", "SHA256(first 16 hex)", "CHECK");
        for (size_t i = 0; i < rep->n; i++) {
            const store_copy_table *t = &rep->t[i];
            rows += t->src_rows;
            printf("%-22s %10lld  %-20.16s %s", t->name, (long long)t->src_rows, t->src_sha256,
                   t->ok ? "ok" : "MISMATCH");
            if (!t->ok)
                printf(" (destination: %lld rows, %.16s)", (long long)t->dst_rows, t->dst_sha256);
            putchar('\n');
        }
        printf("%zu tables, %lld rows, schema version %d: %s\n", rep->n, (long long)rows, rep->schema_version,
               rep->mismatches ? "the destination DIFFERS from the source" : "the destination matches the source");
    }
    free(rep);
    if (rc != DZ_OK)
        return cli_fail(&e);
    fprintf(stderr, "done: point dzong at the copy (`db = %s` in dzong.conf, or DZONG_DB) and start it\n", dst_p);
    return 0;
}

int cmd_db(const dz_config *cfg, int argc, char **argv)
{
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                              (strcmp(argv[1], "copy") == 0 && argc >= 3 && strcmp(argv[2], "--help") == 0));
    if (help) {
        fputs(db_usage, stdout);
        return 0;
    }
    if (argc != 4 || strcmp(argv[1], "copy") != 0) {
        fputs(db_usage, stderr);
        return 2;
    }
    return db_copy(cfg, argv[2], argv[3]);
}
