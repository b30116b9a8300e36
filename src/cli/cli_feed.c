/*
 * cli_feed.c: what the feed commands (parse, ingest, serve's spool and
 * downloads) load before a parser can run: the Shadowserver schema and the
 * generic CSV mappings, and the file reading they share.
 */
#include "cli/cli.h"
#include "jobs/fetch.h"
#include "lib/feed_shadowserver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *cli_read_file(const char *path, size_t *len, dz_err *e)
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
    strbuf_append(&sb, "", 1);
    if (err || sb.oom) {
        strbuf_free(&sb);
        dz_fail(e, err ? DZ_EIO : DZ_ENOMEM, "%s: %s", path, err ? "read error" : "out of memory");
        return NULL;
    }
    *len = sb.len - 1;
    return strbuf_steal(&sb);
}

dz_code cli_load_schema(const char *path, shadowserver_schema **out, dz_err *e)
{
    if (!path || !*path)
        return feed_builtin_schema(out, e);
    size_t len;
    char *text = cli_read_file(path, &len, e);
    if (!text)
        return e->code;
    dz_code rc = shadowserver_schema_load(text, len, out, e);
    free(text);
    return rc == DZ_OK ? DZ_OK : dz_wrap(e, "%s", path);
}

dz_code cli_load_mapping(const char *path, csv_mapping **out, dz_err *e)
{
    size_t len;
    char *text = cli_read_file(path, &len, e);
    if (!text)
        return e->code;
    dz_code rc = csv_mapping_load(text, len, out, e);
    free(text);
    return rc == DZ_OK ? DZ_OK : dz_wrap(e, "%s", path);
}

dz_code cli_feed_open(const char *name, const char *schema_path, const char *mapping_path, cli_feed *out,
                      dz_err *e)
{
    memset(out, 0, sizeof *out);
    out->parser = feed_parser_find(name);
    if (!out->parser) {
        char feeds[256];
        cli_feed_names(feeds, sizeof feeds);
        return dz_fail(e, DZ_EINVAL, "unknown feed '%s' (known feeds: %s)", name ? name : "", feeds);
    }
    bool ss = strcmp(name, "shadowserver") == 0, csv = strcmp(name, "csv") == 0;
    if (schema_path && !ss)
        return dz_fail(e, DZ_EINVAL, "--schema is only for --feed shadowserver");
    if (mapping_path && !csv)
        return dz_fail(e, DZ_EINVAL, "--mapping is only for --feed csv");
    if (csv && !mapping_path)
        return dz_fail(e, DZ_EINVAL, "--feed csv needs --mapping FILE");
    dz_code rc = DZ_OK;
    if (ss && (rc = cli_load_schema(schema_path, &out->schema, e)) != DZ_OK)
        e->code = rc = DZ_EIO; /* a bad schema file is not a usage error */
    if (csv && (rc = cli_load_mapping(mapping_path, &out->mapping, e)) != DZ_OK)
        e->code = rc = DZ_EIO;
    return rc;
}

void cli_feed_close(cli_feed *f)
{
    shadowserver_schema_free(f->schema);
    csv_mapping_free(f->mapping);
    memset(f, 0, sizeof *f);
}

void cli_feed_names(char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; feed_parser_at(i) && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", feed_parser_at(i)->name);
}

void cli_feed_inputs_free(cli_feed_inputs *fi)
{
    if (!fi)
        return;
    shadowserver_schema_free(fi->schema);
    csv_mapping_free(fi->spool_mapping);
    for (size_t i = 0; i < FETCH_MAX; i++)
        csv_mapping_free(fi->fetch_mappings[i]);
    free(fi);
}

dz_code cli_feed_inputs_load(const dz_config *cfg, cli_feed_inputs **out, dz_err *e)
{
    cli_feed_inputs *fi = calloc(1, sizeof *fi);
    if (!fi)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    dz_code rc = cli_load_schema(cfg->shadowserver_schema, &fi->schema, e);
    if (rc != DZ_OK)
        dz_wrap(e, "shadowserver_schema");
    if (rc == DZ_OK && cfg->spool_mapping[0] &&
        (rc = cli_load_mapping(cfg->spool_mapping, &fi->spool_mapping, e)) != DZ_OK)
        dz_wrap(e, "spool_mapping");
    for (size_t i = 0; rc == DZ_OK && i < cfg->n_fetches; i++) {
        const fetch_def *d = &cfg->fetches[i];
        if (d->mapping[0] && (rc = cli_load_mapping(d->mapping, &fi->fetch_mappings[i], e)) != DZ_OK)
            dz_wrap(e, "%s:%d: fetch %s", cfg->conf_path, d->line, d->name);
        else if (d->report[0] && !shadowserver_has_report(fi->schema, d->report))
            rc = dz_fail(e, DZ_EINVAL, "%s:%d: fetch %s: unknown Shadowserver report '%s'", cfg->conf_path, d->line,
                         d->name, d->report);
    }
    if (rc != DZ_OK) {
        cli_feed_inputs_free(fi);
        return rc;
    }
    fi->pipeline.dedup_fields = cfg->dedup_fields[0] ? cfg->dedup_fields : NULL;
    snprintf(fi->tmp_dir, sizeof fi->tmp_dir, "%s/tmp", cfg->data_dir);
    fi->fetch = (fetch_setup){.defs = cfg->fetches,
                              .n = cfg->n_fetches,
                              .mappings = (const struct csv_mapping *const *)fi->fetch_mappings,
                              .tmp_dir = fi->tmp_dir,
                              .allow_http = cfg->fetch_allow_http,
                              .opt = {.schema = fi->schema},
                              .pipeline = &fi->pipeline};
    *out = fi;
    return DZ_OK;
}
