/*
 * pipeline: classification made canonical, the dedup key (stable, blind to
 * the excluded fields and to enrichment, configurable), enrichment by
 * source IPv4/IPv6/ASN/domain and then destination, the indexed values, and
 * event_batch's layout.
 */
#include "unit.h"

#include "lib/event_doc.h"
#include "lib/pipeline.h"

static void set(event *ev, const char *k, const char *v)
{
    dz_err e = {0};
    assert_dz_ok(event_set(ev, k, v, strlen(v), &e), e);
}

static const char *text(const event *ev, const char *k)
{
    const event_field *f = event_get(ev, k);
    return f && f->kind == EV_STRING ? f->s : NULL;
}

/* Two organisations: 1 "bank" owns 198.51.100.0/24, 2001:db8::/32, AS64500 and bank.example; 2 "isp" owns
 * 198.51.0.0/16. */
static registry_index *demo_index(void)
{
    registry_builder *b = registry_builder_new();
    assert_non_null(b);
    dz_err e = {0};
    net_prefix p;
    assert_dz_ok(registry_add_org(b, 1, "bank", &e), e);
    assert_dz_ok(registry_add_org(b, 2, "isp", &e), e);
    assert_dz_ok(net_prefix_parse("198.51.100.0/24", &p, &e), e);
    assert_dz_ok(registry_add_network(b, 1, &p, &e), e);
    assert_dz_ok(net_prefix_parse("198.51.0.0/16", &p, &e), e);
    assert_dz_ok(registry_add_network(b, 2, &p, &e), e);
    assert_dz_ok(net_prefix_parse("2001:db8::/32", &p, &e), e);
    assert_dz_ok(registry_add_network(b, 1, &p, &e), e);
    assert_dz_ok(registry_add_asn(b, 1, 64500, &e), e);
    assert_dz_ok(registry_add_domain(b, 1, "bank.example", &e), e);
    registry_index *ix;
    assert_dz_ok(registry_build(b, 1, &ix, &e), e);
    return ix;
}

static void test_classify(void **state)
{
    (void)state;
    pipeline *p;
    dz_err e = {0};
    assert_dz_ok(pipeline_new(NULL, &p, &e), e);
    event *ev = event_new();
    event_index ix;

    /* a type alone gets its taxonomy; a wrong taxonomy is corrected by the type */
    set(ev, "classification.type", "infected-system");
    assert_dz_ok(pipeline_process(p, NULL, ev, &ix, &e), e);
    assert_string_equal(text(ev, "classification.taxonomy"), "malicious-code");
    assert_string_equal(ix.taxonomy, "malicious-code");
    assert_string_equal(ix.type, "infected-system");
    set(ev, "classification.taxonomy", "vulnerable");
    assert_dz_ok(pipeline_process(p, NULL, ev, &ix, &e), e);
    assert_string_equal(text(ev, "classification.taxonomy"), "malicious-code");

    /* nothing at all: other/undetermined */
    event_reset(ev);
    set(ev, "source.ip", "192.0.2.1");
    assert_dz_ok(pipeline_process(p, NULL, ev, &ix, &e), e);
    assert_string_equal(ix.taxonomy, "other");
    assert_string_equal(ix.type, "undetermined");

    /* a legacy IntelMQ name, via event_set */
    event_reset(ev);
    set(ev, "classification.type", "botnet drone");
    assert_dz_ok(pipeline_process(p, NULL, ev, &ix, &e), e);
    assert_string_equal(ix.type, "infected-system");
    assert_string_equal(ix.taxonomy, "malicious-code");
    event_free(ev);
    pipeline_free(p);
}

static void test_dedup_key(void **state)
{
    (void)state;
    pipeline *p;
    dz_err e = {0};
    assert_dz_ok(pipeline_new(NULL, &p, &e), e);
    registry_index *idx = demo_index();
    event *a = event_new(), *b = event_new();
    event_index ia, ib;

    set(a, "source.ip", "198.51.100.7");
    set(a, "time.source", "2026-11-20T10:00:00+00:00");
    set(a, "classification.type", "scanner");
    set(a, "time.observation", "2026-11-23T01:00:00+00:00");
    set(a, "raw", "YQ==");
    /* same event, seen later, different raw, set in another order, not enriched */
    set(b, "time.observation", "2026-11-24T01:00:00+00:00");
    set(b, "classification.type", "scanner");
    set(b, "time.source", "2026-11-20T10:00:00+00:00");
    set(b, "source.ip", "198.51.100.7");
    set(b, "raw", "Yg==");
    assert_dz_ok(pipeline_process(p, idx, a, &ia, &e), e);
    assert_dz_ok(pipeline_process(p, NULL, b, &ib, &e), e);
    assert_true(ia.dedup_hash == ib.dedup_hash);
    /* Pinned: stored dedup windows hold these values, so the serialisation and the hash must not drift.
     * Independently: printf 'classification.taxonomy\0000information-gathering\0classification.type\0000scanner\0'
     * 'source.ip\0000198.51.100.7\0time.source\00002026-11-20T10:00:00+00:00\0' | xxhsum -H3 */
    assert_true(ia.dedup_hash == UINT64_C(0x970b9f90b631ecc0));

    /* any other field differs: another hash */
    set(b, "source.port", "443");
    assert_dz_ok(pipeline_process(p, NULL, b, &ib, &e), e);
    assert_true(ia.dedup_hash != ib.dedup_hash);
    /* an integer and the same digits as a string are not the same value */
    event_unset(b, "source.port");
    set(b, "extra.port", "443");
    event_index ic;
    assert_dz_ok(pipeline_process(p, NULL, b, &ic, &e), e);
    assert_true(ic.dedup_hash != ib.dedup_hash);
    pipeline_free(p);

    /* only some fields: source.ip and time.source */
    pipeline_config cfg = {.dedup_fields = "source.ip, time.source"};
    assert_dz_ok(pipeline_new(&cfg, &p, &e), e);
    assert_dz_ok(pipeline_process(p, NULL, a, &ia, &e), e);
    assert_dz_ok(pipeline_process(p, NULL, b, &ib, &e), e);
    assert_true(ia.dedup_hash == ib.dedup_hash);
    pipeline_free(p);

    /* a prefix, and bad keys */
    cfg = (pipeline_config){.dedup_fields = "source.*"};
    assert_dz_ok(pipeline_new(&cfg, &p, &e), e);
    pipeline_free(p);
    cfg = (pipeline_config){.dedup_fields = "source.ip sauce.ip"};
    assert_int_equal(pipeline_new(&cfg, &p, &e), DZ_EINVAL);
    assert_non_null(strstr(e.msg, "sauce.ip"));
    cfg = (pipeline_config){.dedup_fields = "nowhere.*"};
    assert_int_equal(pipeline_new(&cfg, &p, &e), DZ_EINVAL);
    cfg = (pipeline_config){.dedup_exclude = "raw time.observation source.port"};
    assert_dz_ok(pipeline_new(&cfg, &p, &e), e);
    pipeline_free(p);

    event_free(a);
    event_free(b);
    registry_index_free(idx);
}

static void test_enrich_and_index(void **state)
{
    (void)state;
    pipeline *p;
    dz_err e = {0};
    assert_dz_ok(pipeline_new(NULL, &p, &e), e);
    registry_index *idx = demo_index();
    event *ev = event_new();
    event_index ix;

    /* IPv4: the most specific claim wins */
    set(ev, "source.ip", "198.51.100.7");
    set(ev, "source.asn", "64999");
    set(ev, "time.source", "2026-11-20T10:00:01+00:00");
    set(ev, "feed.name", "Test Feed");
    set(ev, "classification.identifier", "open-x");
    assert_dz_ok(pipeline_process(p, idx, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 1);
    assert_string_equal(text(ev, "extra.constituent"), "bank");
    assert_string_equal(ix.ip_key, "00000000000000000000ffffc6336407");
    assert_int_equal(ix.time_source, 1795168801); /* date -d 2026-11-20T10:00:01Z +%s */
    assert_int_equal(ix.asn, 64999);
    assert_string_equal(ix.feed_name, "Test Feed");
    assert_string_equal(ix.identifier, "open-x");

    set(ev, "source.ip", "198.51.7.1");
    assert_dz_ok(pipeline_process(p, idx, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 2);
    assert_string_equal(text(ev, "extra.constituent"), "isp");

    /* outside every claim, a foreign AS: nobody, and a stale extra.constituent goes */
    set(ev, "source.ip", "203.0.113.9");
    assert_dz_ok(pipeline_process(p, idx, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 0);
    assert_null(event_get(ev, "extra.constituent"));

    /* then the AS, then the domain */
    set(ev, "source.asn", "64500");
    assert_dz_ok(pipeline_process(p, idx, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 1);
    event_reset(ev);
    set(ev, "source.fqdn", "www.Bank.example");
    assert_dz_ok(pipeline_process(p, idx, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 1);
    assert_string_equal(ix.ip_key, "");
    assert_true(ix.time_source == INT64_MIN);

    /* IPv6, and the destination when the source is nobody's */
    event_reset(ev);
    set(ev, "source.ip", "2001:db8::1");
    assert_dz_ok(pipeline_process(p, idx, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 1);
    assert_string_equal(ix.ip_key, "20010db8000000000000000000000001");
    event_reset(ev);
    set(ev, "source.ip", "203.0.113.9");
    set(ev, "destination.ip", "198.51.100.9");
    assert_dz_ok(pipeline_process(p, idx, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 1);
    assert_string_equal(ix.ip_key, "00000000000000000000ffffcb007109");

    /* no registry: nothing matches */
    assert_dz_ok(pipeline_process(p, NULL, ev, &ix, &e), e);
    assert_int_equal(ix.constituent_id, 0);

    event_free(ev);
    pipeline_free(p);
    registry_index_free(idx);
}

static void test_batch(void **state)
{
    (void)state;
    pipeline *p;
    dz_err e = {0};
    assert_dz_ok(pipeline_new(NULL, &p, &e), e);
    event *ev = event_new();
    event_index ix;
    event_batch b;
    event_batch_init(&b);
    for (int i = 0; i < 3000; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "192.0.2.%d", i % 256);
        event_reset(ev);
        set(ev, "source.ip", ip);
        set(ev, "feed.name", "F");
        assert_dz_ok(pipeline_process(p, NULL, ev, &ix, &e), e);
        event_batch_add(&b, (uint64_t)i + 2, ev, &ix);
    }
    event_batch_add_bad(&b, 9000, "source.ip: 'x' is not an IP address", "x,y", 3);
    event_batch_add_bad(&b, 9001, "no bytes", NULL, 0);
    assert_false(b.oom);
    assert_int_equal(b.n, 3000);
    assert_int_equal(b.n_bad, 2);
    const event_batch_row *r = &b.rows[2999];
    assert_int_equal(r->line, 3001);
    assert_string_equal(event_batch_text(&b, r->feed_name), "F");
    assert_null(event_batch_text(&b, r->identifier));
    const char *doc = event_batch_text(&b, r->doc);
    assert_int_equal(strlen(doc), r->doc_len);
    strbuf json; /* stored packed (event_doc.h) */
    strbuf_init(&json);
    assert_dz_ok(event_doc_to_json(doc, r->doc_len, &json, &e), e);
    assert_non_null(strstr(json.buf, "\"source.ip\":\"192.0.2.183\""));
    strbuf_free(&json);
    assert_string_equal(event_batch_text(&b, b.bad[0].reason), "source.ip: 'x' is not an IP address");
    assert_memory_equal(event_batch_text(&b, b.bad[0].raw), "x,y", 3);
    assert_int_equal(b.bad[1].raw, EB_NONE);
    event_batch_reset(&b);
    assert_int_equal(b.n + b.n_bad, 0);
    event_batch_free(&b);
    event_free(ev);
    pipeline_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_dedup_key),
        cmocka_unit_test(test_enrich_and_index),
        cmocka_unit_test(test_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
