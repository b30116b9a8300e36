/* cli: `dzong <command>`. One file per command group; thin: parse flags, call store/server, print. */
#ifndef DZ_CLI_H
#define DZ_CLI_H
#include <limits.h>
#include <stdio.h>
#include "lib/dz_err.h"
#include "lib/feed.h"
#include "jobs/fetch.h"
#include "notify/notify.h"
#include "server/server.h"
#include "store/store.h"

typedef struct dz_config {
    char data_dir[PATH_MAX];
    char db_url[PATH_MAX + 16];
    char access_log[PATH_MAX]; /* "-" = stdout, "" = none */
    store_settings store;
    server_config server;
    char dedup_fields[512];    /* dzong.conf dedup_fields: the keys the feed dedup hash covers ("" = default) */
    /* feed inputs of `dzong serve` (jobs/spool.h, jobs/fetch.h) */
    char spool_dir[PATH_MAX];           /* spool_dir; default DATA/spool */
    int spool_interval;                 /* spool_interval, seconds between scans; default 5 */
    char spool_mapping[PATH_MAX];       /* spool_mapping: the column mapping of SPOOL/csv/ ("" none) */
    char shadowserver_schema[PATH_MAX]; /* shadowserver_schema: a schema file instead of the built-in one */
    bool fetch_allow_http;              /* fetch_allow_http: plain http:// downloads to any host */
    fetch_def fetches[FETCH_MAX];       /* the `fetch` lines, in order */
    size_t n_fetches;
    notify_config notify;               /* notifications: smtp*, mail_*, pgp_*, notify_* keys (config.c) */
    int notify_poll;                    /* notify_poll: seconds between the sender's looks at the outbox; 5 */
    char conf_path[PATH_MAX + 16];      /* the dzong.conf read (messages name it) */
    int dedup_fields_line;              /* its line of dzong.conf, 0: not there */
} dz_config;

/* Global options every command takes; parsed out of argv before the command's own. */
typedef struct global_opts {
    const char *data, *db, *listen, *smtp;
} global_opts;

/*
 * Resolves the configuration: flags > environment (DZONG_DATA, DZONG_DB,
 * DZONG_LISTEN, DZONG_SMTP, DZONG_SMTP_PASSWORD) > DIR/dzong.conf > defaults. A bad dzong.conf line is an
 * error naming the file and line.
 */
dz_code config_resolve(const global_opts *g, dz_config *cfg, dz_err *e);
dz_code config_parse_listen(const char *s, server_config *sc, dz_err *e);
/* Opens the store of cfg; with check_schema, fails unless migrated. */
dz_code cli_open_store(const dz_config *cfg, bool check_schema, store **out, dz_err *e);
/* The principal CLI writes are recorded under: "cli:<login name>". */
void cli_principal(principal *p);

int cmd_init(const dz_config *cfg, int argc, char **argv);
int cmd_migrate(const dz_config *cfg, int argc, char **argv);
int cmd_serve(dz_config *cfg, int argc, char **argv);
int cmd_user(const dz_config *cfg, int argc, char **argv);
int cmd_token(const dz_config *cfg, int argc, char **argv);
int cmd_constituents(const dz_config *cfg, int argc, char **argv);
int cmd_lookup(const dz_config *cfg, int argc, char **argv);
int cmd_audit(const dz_config *cfg, int argc, char **argv);
int cmd_jobs(const dz_config *cfg, int argc, char **argv);
int cmd_db(const dz_config *cfg, int argc, char **argv);
/* `dzong notify run|list|show|keys` (cmd_notify.c): digests and the outbox by hand. */
int cmd_notify(const dz_config *cfg, int argc, char **argv);
/*
 * The notifier of cfg (templates compiled, keyring opened): *out NULL and
 * DZ_OK when notifications are not configured (no mail_from). A broken
 * template or key is an error naming it.
 */
dz_code cli_notifier_open(const dz_config *cfg, notifier **out, dz_err *e);
/* `dzong parse --feed shadowserver ...` (cmd_parse.c): needs no configuration. */
int cmd_parse(int argc, char **argv);
/* `dzong ingest --feed F ... FILE...` (cmd_ingest.c): the whole feed pipeline into the store. */
int cmd_ingest(const dz_config *cfg, int argc, char **argv);

/* cli_feed.c: what feed commands load before a parser runs. */
typedef struct cli_feed {
    const feed_parser *parser;
    struct shadowserver_schema *schema; /* shadowserver only */
    csv_mapping *mapping;               /* csv only */
} cli_feed;
/*
 * Finds the parser and loads what it needs: the Shadowserver schema
 * (schema_path, else the built-in one), csv's mapping (required). DZ_EINVAL
 * for usage mistakes (unknown feed, --schema/--mapping for a feed that takes
 * none), DZ_EIO when a file cannot be read or is invalid.
 */
dz_code cli_feed_open(const char *name, const char *schema_path, const char *mapping_path, cli_feed *out,
                      dz_err *e);
void cli_feed_close(cli_feed *f);
/* "shadowserver, feodo, ..." */
void cli_feed_names(char *out, size_t cap);
/* A whole file, NUL-terminated (*len without the NUL). */
char *cli_read_file(const char *path, size_t *len, dz_err *e);
dz_code cli_load_schema(const char *path, struct shadowserver_schema **out, dz_err *e);
dz_code cli_load_mapping(const char *path, csv_mapping **out, dz_err *e);

/*
 * What `dzong serve`'s feed inputs (spool, downloads, POST /api/v1/events)
 * and `dzong jobs run` load from dzong.conf: the schema, the mappings, the
 * dedup fields, and the downloads' setup (jobs/fetch.h). Heap-allocated:
 * fetch points into it.
 */
typedef struct cli_feed_inputs {
    struct shadowserver_schema *schema;
    csv_mapping *spool_mapping;
    csv_mapping *fetch_mappings[FETCH_MAX];
    pipeline_config pipeline;
    char tmp_dir[PATH_MAX + 8];
    fetch_setup fetch;
} cli_feed_inputs;
dz_code cli_feed_inputs_load(const dz_config *cfg, cli_feed_inputs **out, dz_err *e);
void cli_feed_inputs_free(cli_feed_inputs *fi);

/* demo.c: the demo constituency, users and incidents of `dzong init --demo`. */
dz_code demo_load(store *st, dz_err *e);

/* The URL with any password replaced by ***, for printing (logs must not carry it). */
void cli_redact_url(const char *url, char *out, size_t n);

/* Prints doc indented to stdout and releases it; returns 0. */
int cli_print_json(json_t *doc);

/* Prints "dzong: <message>" to stderr and returns the exit code for e. */
int cli_fail(const dz_err *e);

#endif
