/* cli: `dzong <command>`. One file per command group; thin: parse flags, call store/server, print. */
#ifndef DZ_CLI_H
#define DZ_CLI_H
#include <limits.h>
#include <stdio.h>
#include "lib/dz_err.h"
#include "server/server.h"
#include "store/store.h"

typedef struct dz_config {
    char data_dir[PATH_MAX];
    char db_url[PATH_MAX + 16];
    char access_log[PATH_MAX]; /* "-" = stdout, "" = none */
    store_settings store;
    server_config server;
} dz_config;

/* Global options every command takes; parsed out of argv before the command's own. */
typedef struct global_opts {
    const char *data, *db, *listen;
} global_opts;

/*
 * Resolves the configuration: flags > environment (DZONG_DATA, DZONG_DB,
 * DZONG_LISTEN) > DIR/dzong.conf > defaults. A bad dzong.conf line is an
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
/* `dzong parse --feed shadowserver ...` (cmd_parse.c): needs no configuration. */
int cmd_parse(int argc, char **argv);

/* demo.c: the demo constituency, users and incidents of `dzong init --demo`. */
dz_code demo_load(store *st, dz_err *e);

/* The URL with any password replaced by ***, for printing (logs must not carry it). */
void cli_redact_url(const char *url, char *out, size_t n);

/* Prints doc indented to stdout and releases it; returns 0. */
int cli_print_json(json_t *doc);

/* Prints "dzong: <message>" to stderr and returns the exit code for e. */
int cli_fail(const dz_err *e);

#endif
