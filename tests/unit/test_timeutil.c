/* timeutil: ISO-8601 parsing (dates, times, offsets, leap years), formatting, durations. */
#include "unit.h"

#include <time.h>

#include "lib/timeutil.h"

static int64_t parse_ok(const char *s)
{
    int64_t t = -1;
    dz_err e = {0};
    dz_code rc = time_parse_iso(s, &t, &e);
    if (rc != DZ_OK)
        fail_msg("time_parse_iso(\"%s\") failed: %s", s, e.msg);
    return t;
}

static void parse_bad(const char *s, const char *msg_part)
{
    int64_t t = 12345;
    dz_err e = {0};
    dz_code rc = time_parse_iso(s, &t, &e);
    if (rc != DZ_EINVAL)
        fail_msg("time_parse_iso(\"%s\") gave %s, expected invalid", s, dz_code_name(rc));
    assert_int_equal(t, 12345); /* output untouched on failure */
    assert_true(e.msg[0] != '\0');
    if (msg_part)
        assert_contains(e.msg, msg_part);
}

static void test_format(void **state)
{
    (void)state;
    char buf[32];
    time_format_iso(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    time_format_iso(1700000000, buf, sizeof buf);
    assert_string_equal(buf, "2023-11-14T22:13:20Z");
    time_format_iso(951782400, buf, sizeof buf); /* 2000-02-29 */
    assert_string_equal(buf, "2000-02-29T00:00:00Z");
    time_format_iso(253402300799, buf, sizeof buf);
    assert_string_equal(buf, "9999-12-31T23:59:59Z");
    char small[21]; /* the documented minimum */
    time_format_iso(1700000000, small, sizeof small);
    assert_string_equal(small, "2023-11-14T22:13:20Z");
    assert_int_equal(time_year_utc(0), 1970);
    assert_int_equal(time_year_utc(1700000000), 2023);
    assert_int_equal(time_year_utc(1704067199), 2023); /* 2023-12-31T23:59:59Z */
    assert_int_equal(time_year_utc(1704067200), 2024);
}

static void test_known_values(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01"), 0);
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2023-11-14T22:13:20Z"), 1700000000);
    assert_int_equal(parse_ok("2000-02-29"), 951782400);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1);
    assert_int_equal(parse_ok("0000-01-01T00:00:00Z"), -62167219200LL);
    assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), 253402300799LL);
    assert_int_equal(parse_ok("2038-01-19T03:14:08Z"), 2147483648LL); /* past 32-bit time_t */
}

/* Every valid day from 1899 to 2101 (1900 and 2100 are not leap years, 2000 is) against timegm. */
static void test_every_day_against_timegm(void **state)
{
    (void)state;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int checked = 0;
    for (int y = 1899; y <= 2101; y++) {
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for (int m = 1; m <= 12; m++) {
            int last = mdays[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= last + 1; d++) {
                char s[32];
                snprintf(s, sizeof s, "%04d-%02d-%02d", y, m, d);
                int64_t t = 0;
                dz_code rc = time_parse_iso(s, &t, NULL);
                if (d > last) {
                    if (rc != DZ_EINVAL)
                        fail_msg("%s is not a date but parsed", s);
                    continue;
                }
                if (rc != DZ_OK)
                    fail_msg("%s failed to parse", s);
                struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
                int64_t want = (int64_t)timegm(&tm) - 12 * 3600;
                if (t != want)
                    fail_msg("%s: got %lld, timegm says %lld", s, (long long)t, (long long)want);
                char back[32];
                time_format_iso(t, back, sizeof back);
                assert_memory_equal(back, s, 10);
                checked++;
            }
        }
    }
    assert_int_equal(checked, 203 * 365 + 49); /* 49 leap years: 1904..2096 (not 1900, not 2100) */
}

static void test_leap_years(void **state)
{
    (void)state;
    parse_ok("2024-02-29");
    parse_ok("2000-02-29");
    parse_ok("1600-02-29");
    parse_bad("2023-02-29", "no such date");
    parse_bad("1900-02-29", "no such date");
    parse_bad("2100-02-29", "no such date");
    parse_bad("2024-02-30", "no such date");
    assert_int_equal(parse_ok("2024-03-01") - parse_ok("2024-02-28"), 2 * 86400);
    assert_int_equal(parse_ok("2023-03-01") - parse_ok("2023-02-28"), 86400);
}

static void test_invalid_dates(void **state)
{
    (void)state;
    parse_bad("", NULL);
    parse_bad("2024", NULL);
    parse_bad("2024-01", NULL);
    parse_bad("2024-1-01", NULL);
    parse_bad("24-01-01", NULL);
    parse_bad("2024/01/01", NULL);
    parse_bad("2024-01-0a", NULL);
    parse_bad("+024-01-01", NULL);
    parse_bad("2024-00-10", "no such date");
    parse_bad("2024-13-01", "no such date");
    parse_bad("2024-01-00", "no such date");
    parse_bad("2024-01-32", "no such date");
    parse_bad("2024-04-31", "no such date");
    parse_bad("2024-06-31", "no such date");
    parse_bad("2024-09-31", "no such date");
    parse_bad("2024-11-31", "no such date");
    parse_bad("2024-01-01x", "unexpected text");
    parse_bad("2024-01-01Z", "unexpected text");
    parse_bad("2024-01-01T", "time of day");
    parse_bad("2024-01-01T1", "time of day");
    parse_bad("2024-01-01T10", "time of day");
    parse_bad("2024-01-01T10:", "time of day");
    parse_bad("2024-01-01T1:00Z", "time of day");
    parse_bad("2024-01-01T10-00Z", "time of day");
    parse_bad("2024-01-01T10:00", "time zone missing");
    parse_bad("2024-01-01T10:00:00", "time zone missing");
    parse_bad("2024-01-01T24:00Z", "out of range");
    parse_bad("2024-01-01T23:60Z", "out of range");
    parse_bad("2024-01-01T23:59:61Z", "out of range");
    parse_bad("2024-01-01T10:00:0Z", "bad seconds");
    parse_bad("2024-01-01T10:00:00.Z", "fraction");
    parse_bad("2024-01-01T10:00:00ZZ", "unexpected text");
    parse_bad("2024-01-01T10:00:00Z ", "unexpected text");
    parse_bad(" 2024-01-01", NULL);
    /* a long input is refused and quoted only in part */
    char longs[600];
    memset(longs, '9', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    parse_bad(longs, NULL);
    /* NULL dz_err is allowed */
    int64_t t;
    assert_int_equal(time_parse_iso("nope", &t, NULL), DZ_EINVAL);
}

static void test_times_and_offsets(void **state)
{
    (void)state;
    int64_t base = parse_ok("2024-01-01T00:00:00Z");
    assert_int_equal(parse_ok("2024-01-01"), base);
    assert_int_equal(parse_ok("2024-01-01T00:00Z"), base);
    assert_int_equal(parse_ok("2024-01-01t00:00:00z"), base);
    assert_int_equal(parse_ok("2024-01-01 00:00:00Z"), base);
    assert_int_equal(parse_ok("2024-01-01T10:30Z"), base + 10 * 3600 + 30 * 60);
    assert_int_equal(parse_ok("2024-01-01T10:30:15Z"), base + 10 * 3600 + 30 * 60 + 15);
    /* fractions are accepted and dropped */
    assert_int_equal(parse_ok("2024-01-01T10:30:15.999Z"), base + 37815);
    assert_int_equal(parse_ok("2024-01-01T10:30:15,5Z"), base + 37815);
    assert_int_equal(parse_ok("2024-01-01T10:30:15.123456789+00:00"), base + 37815);
    /* offsets: local time minus offset is UTC */
    assert_int_equal(parse_ok("2024-01-01T01:00:00+01:00"), base);
    assert_int_equal(parse_ok("2023-12-31T19:00:00-05:00"), base);
    assert_int_equal(parse_ok("2024-01-01T05:45:00+05:45"), base);
    assert_int_equal(parse_ok("2023-12-31T23:30:00-00:30"), base);
    assert_int_equal(parse_ok("2024-01-01T06:00:00+06:00"), base); /* Bhutan */
    assert_int_equal(parse_ok("2024-01-01T00:00:00+00:00"), parse_ok("2024-01-01T00:00:00-00:00"));
    assert_int_equal(parse_ok("2024-01-01T14:00+14:00"), base);
    /* an offset can move the date across a year and a leap day */
    assert_int_equal(parse_ok("2024-03-01T00:30:00+01:00"), parse_ok("2024-02-29T23:30:00Z"));
    /* leap second: 23:59:60 is the next day's 00:00:00 */
    assert_int_equal(parse_ok("2016-12-31T23:59:60Z"), parse_ok("2017-01-01T00:00:00Z"));

    parse_bad("2024-01-01T00:00:00+01", "offset");
    parse_bad("2024-01-01T00:00:00+0100", "offset");
    parse_bad("2024-01-01T00:00:00+24:00", "offset");
    parse_bad("2024-01-01T00:00:00+01:60", "offset");
    parse_bad("2024-01-01T00:00:00+1:00", "offset");
    parse_bad("2024-01-01T00:00:00+01:00x", "unexpected text");
    parse_bad("2024-01-01T00:00:00 +01:00", "time zone missing");
}

static void test_round_trip(void **state)
{
    (void)state;
    static const int64_t samples[] = {0, 1, 59, 86399, 86400, 951782400, 1700000000, 1709251199, 2147483647,
                                      4102444800LL, -86400, -1};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[32];
        time_format_iso(samples[i], buf, sizeof buf);
        assert_int_equal(parse_ok(buf), samples[i]);
    }
}

static void dur_ok(const char *s, int64_t want)
{
    int64_t v = -1;
    dz_err e = {0};
    if (duration_parse(s, &v, &e) != DZ_OK)
        fail_msg("duration_parse(\"%s\") failed: %s", s, e.msg);
    if (v != want)
        fail_msg("duration_parse(\"%s\") = %lld, expected %lld", s, (long long)v, (long long)want);
}

static void dur_bad(const char *s)
{
    int64_t v = 777;
    dz_err e = {0};
    if (duration_parse(s, &v, &e) != DZ_EINVAL)
        fail_msg("duration_parse(\"%s\") should fail", s);
    assert_int_equal(v, 777);
    assert_true(e.msg[0] != '\0');
}

static void test_durations(void **state)
{
    (void)state;
    dur_ok("0", 0);
    dur_ok("90", 90);
    dur_ok("90s", 90);
    dur_ok("15m", 900);
    dur_ok("4h", 14400);
    dur_ok("3d", 259200);
    dur_ok("2w", 1209600);
    dur_ok("007m", 420);
    dur_ok("100000000", 100000000);
    dur_ok("1000000000w", 1000000000LL * 604800); /* the largest accepted number, no overflow */
    dur_bad("");
    dur_bad("m");
    dur_bad("-5");
    dur_bad("+5");
    dur_bad(" 5");
    dur_bad("5 m");
    dur_bad("5x");
    dur_bad("5M");
    dur_bad("5mm");
    dur_bad("5ms");
    dur_bad("1.5h");
    dur_bad("99999999999");
    dur_bad("99999999999999999999999999");
    int64_t v;
    assert_int_equal(duration_parse("x", &v, NULL), DZ_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_every_day_against_timegm),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_times_and_offsets),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
