/* Placeholders until each parser lands in its own file (feed_abusech.c, ...). */
#include "lib/feed.h"
#define STUB(fn, nm)                                                                                              \
    dz_code fn(const feed_options *opt, csv_read_fn read, void *read_arg, feed_event_fn on_event,                \
               feed_error_fn on_error, void *arg, dz_err *e)                                                      \
    {                                                                                                             \
        (void)opt, (void)read, (void)read_arg, (void)on_event, (void)on_error, (void)arg;                         \
        return dz_fail(e, DZ_EINVAL, "%s: not implemented yet", nm);                                             \
    }
STUB(feed_feodo_parse, "feodo")
STUB(feed_urlhaus_parse, "urlhaus")
STUB(feed_spamhaus_drop_parse, "spamhaus-drop")
STUB(feed_blocklist_parse, "blocklist")
STUB(feed_csv_parse, "csv")
STUB(feed_intelmq_parse, "intelmq")
STUB(feed_suricata_parse, "suricata")
dz_code csv_mapping_load(const char *json, size_t len, csv_mapping **out, dz_err *e)
{
    (void)json, (void)len, (void)out;
    return dz_fail(e, DZ_EINVAL, "csv mapping: not implemented yet");
}
void csv_mapping_free(csv_mapping *m)
{
    (void)m;
}
