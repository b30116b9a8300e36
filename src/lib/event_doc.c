/*
 * event_doc.c: the store's packed event documents (see event_doc.h).
 * The writer, event_write_doc, lives in event.c beside event_write_json,
 * whose value encoding it shares.
 */
#include "lib/event_doc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * A known key's code is its index here. Stored documents depend on it:
 * append new keys at the end, never reorder or remove one (a unit test
 * checks that every harmonization field has a code, and pins some codes).
 */
static const char *const DOC_KEYS[] = {
    "classification.identifier",
    "classification.taxonomy",
    "classification.type",
    "comment",
    "constituency",
    "destination.abuse_contact",
    "destination.account",
    "destination.allocated",
    "destination.as_name",
    "destination.asn",
    "destination.domain_suffix",
    "destination.fqdn",
    "destination.geolocation.cc",
    "destination.geolocation.city",
    "destination.geolocation.country",
    "destination.geolocation.latitude",
    "destination.geolocation.longitude",
    "destination.geolocation.region",
    "destination.geolocation.state",
    "destination.ip",
    "destination.local_hostname",
    "destination.local_ip",
    "destination.network",
    "destination.port",
    "destination.registry",
    "destination.reverse_dns",
    "destination.tor_node",
    "destination.url",
    "destination.urlpath",
    "event_description.target",
    "event_description.text",
    "event_description.url",
    "event_hash",
    "extra",
    "feed.accuracy",
    "feed.code",
    "feed.documentation",
    "feed.name",
    "feed.provider",
    "feed.url",
    "malware.hash.md5",
    "malware.hash.sha1",
    "malware.hash.sha256",
    "malware.name",
    "malware.version",
    "misp.attribute_uuid",
    "misp.event_uuid",
    "output",
    "product.full_name",
    "product.name",
    "product.vendor",
    "product.version",
    "product.vulnerabilities",
    "protocol.application",
    "protocol.transport",
    "raw",
    "rtir_id",
    "screenshot_url",
    "severity",
    "source.abuse_contact",
    "source.account",
    "source.allocated",
    "source.as_name",
    "source.asn",
    "source.domain_suffix",
    "source.fqdn",
    "source.geolocation.cc",
    "source.geolocation.city",
    "source.geolocation.country",
    "source.geolocation.cymru_cc",
    "source.geolocation.geoip_cc",
    "source.geolocation.latitude",
    "source.geolocation.longitude",
    "source.geolocation.region",
    "source.geolocation.state",
    "source.ip",
    "source.local_hostname",
    "source.local_ip",
    "source.network",
    "source.port",
    "source.registry",
    "source.reverse_dns",
    "source.tor_node",
    "source.url",
    "source.urlpath",
    "status",
    "time.observation",
    "time.source",
    "tlp",
};
#define DOC_KEYS_N (sizeof DOC_KEYS / sizeof DOC_KEYS[0])

int event_doc_code(const char *key)
{
    for (size_t i = 0; key && i < DOC_KEYS_N; i++)
        if (strcmp(key, DOC_KEYS[i]) == 0)
            return (int)i;
    return -1;
}

static dz_code damaged(size_t at, dz_err *e)
{
    return dz_fail(e, DZ_EINVAL, "stored event document is damaged at byte %zu", at);
}

static bool extra_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* The end of the JSON value at doc[i] (a string, or a number or literal), 0 if there is none. */
static size_t value_end(const char *doc, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (doc[i] == '"') {
        for (i++; i < len; i++) {
            if (doc[i] == '\\')
                i++;
            else if (doc[i] == '"')
                return i + 1;
        }
        return 0;
    }
    size_t start = i;
    while (i < len && (extra_name_char(doc[i]) || doc[i] == '+' || (doc[i] >= 'A' && doc[i] <= 'Z')))
        i++;
    return i > start ? i : 0;
}

dz_code event_doc_to_json(const char *doc, size_t len, strbuf *out, dz_err *e)
{
    if (len == 0 || doc[0] != '[') { /* an object from before the packed form */
        strbuf_append(out, doc, len);
        return DZ_OK;
    }
    if (len < 3 || doc[1] != '1')
        return damaged(1, e);
    strbuf_append(out, "{", 1);
    size_t i = 2;
    for (bool first = true;; first = false) {
        if (i >= len)
            return damaged(i, e);
        if (doc[i] == ']')
            break;
        if (doc[i] != ',')
            return damaged(i, e);
        i++;
        if (!first)
            strbuf_append(out, ",", 1);
        if (i < len && doc[i] >= '0' && doc[i] <= '9') { /* a known key's code */
            size_t code = 0, at = i;
            while (i < len && doc[i] >= '0' && doc[i] <= '9' && code < DOC_KEYS_N)
                code = code * 10 + (size_t)(doc[i++] - '0');
            if (code >= DOC_KEYS_N)
                return damaged(at, e);
            strbuf_append(out, "\"", 1);
            strbuf_puts(out, DOC_KEYS[code]);
        } else if (i < len && doc[i] == '"') { /* an extra key's name */
            size_t start = ++i;
            while (i < len && extra_name_char(doc[i]))
                i++;
            if (i == start || i >= len || doc[i] != '"')
                return damaged(i, e);
            strbuf_append(out, "\"extra.", 7);
            strbuf_append(out, doc + start, i - start);
            i++;
        } else {
            return damaged(i, e);
        }
        if (i >= len || doc[i] != ',')
            return damaged(i, e);
        size_t end = value_end(doc, len, ++i);
        if (!end)
            return damaged(i, e);
        strbuf_append(out, "\":", 2);
        strbuf_append(out, doc + i, end - i);
        i = end;
    }
    if (i + 1 != len)
        return damaged(i + 1, e);
    strbuf_append(out, "}", 1);
    return DZ_OK;
}
