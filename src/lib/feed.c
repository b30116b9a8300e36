/* feed.c: the table of feed parsers and what they share. */
#include "lib/feed.h"
#include "lib/embedded.h"
#include "lib/feed_shadowserver.h"

#include <string.h>
#include <time.h>

static const feed_parser PARSERS[] = {
    {"shadowserver", "Shadowserver reports, CSV or JSON (report type from the file name or --report)",
     feed_shadowserver_parse},
    {"feodo", "abuse.ch Feodo Tracker botnet C2 IP blocklist (CSV)", feed_feodo_parse},
    {"urlhaus", "abuse.ch URLhaus malware URLs (CSV)", feed_urlhaus_parse},
    {"spamhaus-drop", "Spamhaus DROP/EDROP: networks not to route (text or JSON lines)", feed_spamhaus_drop_parse},
    {"blocklist", "blocklist.de and other plain lists, one address per line", feed_blocklist_parse},
    {"csv", "any CSV, with a column mapping (--mapping FILE)", feed_csv_parse},
    {"intelmq", "IntelMQ events, one JSON object per line", feed_intelmq_parse},
    {"suricata", "Suricata EVE JSON: alert, dns, http and tls records", feed_suricata_parse},
};

const feed_parser *feed_parser_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof PARSERS / sizeof PARSERS[0]; i++)
        if (strcmp(PARSERS[i].name, name) == 0)
            return &PARSERS[i];
    return NULL;
}

const feed_parser *feed_parser_at(size_t i)
{
    return i < sizeof PARSERS / sizeof PARSERS[0] ? &PARSERS[i] : NULL;
}

/* lib_files (meson.build): the text files compiled into libdzong. */
extern const struct embedded_file lib_files[];

dz_code feed_builtin_schema(struct shadowserver_schema **out, dz_err *e)
{
    const struct embedded_file *f = embedded_find(lib_files, "feed_shadowserver_schema.json");
    if (!f)
        return dz_fail(e, DZ_EINTERNAL, "the built-in Shadowserver schema is missing");
    dz_code rc = shadowserver_schema_load(f->data, (size_t)f->len, out, e);
    if (rc != DZ_OK)
        return dz_wrap(e, "built-in Shadowserver schema");
    return DZ_OK;
}

dz_code feed_check_options(const feed_options *opt, dz_err *e)
{
    if (!opt || !opt->observation_time)
        return DZ_OK;
    event *probe = event_new();
    if (!probe)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    dz_err ign;
    dz_code rc = event_set(probe, "time.observation", opt->observation_time, strlen(opt->observation_time), &ign);
    event_free(probe);
    if (rc == DZ_ENOMEM)
        return dz_fail(e, rc, "out of memory");
    if (rc != DZ_OK)
        return dz_fail(e, DZ_EINVAL, "observation time '%.60s' is not an ISO 8601 time", opt->observation_time);
    return DZ_OK;
}

void feed_now_text(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

dz_code feed_set_common(event *ev, const feed_options *opt, const char *default_name, const char *provider,
                        const char *now_text, dz_err *e)
{
    const char *name = opt && opt->feed_name && *opt->feed_name ? opt->feed_name : default_name;
    const char *obs = opt && opt->observation_time ? opt->observation_time : now_text;
    dz_code rc = DZ_OK;
    if (name && *name)
        rc = event_set(ev, "feed.name", name, strlen(name), e);
    if (rc == DZ_OK && provider && *provider)
        rc = event_set(ev, "feed.provider", provider, strlen(provider), e);
    if (rc == DZ_OK && obs && *obs)
        rc = event_set(ev, "time.observation", obs, strlen(obs), e);
    return rc;
}
