/* strbuf: growth, NUL termination, printf, steal, reset, the sticky oom flag. */
#include "unit.h"

#include <stdlib.h>

#include "lib/strbuf.h"

static void test_init_and_empty_steal(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
    assert_false(sb.oom);
    char *s = strbuf_steal(&sb); /* never NULL, even when nothing was appended */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_null(sb.buf);
    strbuf_free(&sb); /* freeing an empty buffer is harmless, twice too */
    strbuf_free(&sb);
}

static void test_append_keeps_nul_and_bytes(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    strbuf_append(&sb, "ab\0cd", 5);
    assert_int_equal(sb.len, 5);
    assert_memory_equal(sb.buf, "ab\0cd", 5);
    assert_int_equal(sb.buf[5], '\0');
    strbuf_append(&sb, "", 0);
    assert_int_equal(sb.len, 5);
    strbuf_puts(&sb, "ef");
    assert_int_equal(sb.len, 7);
    assert_memory_equal(sb.buf, "ab\0cdef", 8);
    assert_true(sb.cap >= sb.len + 1);
    strbuf_free(&sb);
    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
}

static void test_growth_many_appends(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < 10000; i++) {
        char c = (char)('0' + i % 10);
        strbuf_append(&sb, &c, 1);
    }
    assert_false(sb.oom);
    assert_int_equal(sb.len, 10000);
    assert_int_equal(strlen(sb.buf), 10000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sb.buf[i], '0' + i % 10);
    assert_true(sb.cap > sb.len);
    /* one large append past the current capacity */
    char big[70000];
    memset(big, 'x', sizeof big);
    strbuf_append(&sb, big, sizeof big);
    assert_int_equal(sb.len, 80000);
    assert_int_equal(sb.buf[80000], '\0');
    assert_int_equal(sb.buf[79999], 'x');
    strbuf_free(&sb);
}

static void test_printf(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "%s", "");
    assert_non_null(sb.buf);
    assert_string_equal(sb.buf, "");
    strbuf_printf(&sb, "%d-%s", 42, "x");
    assert_string_equal(sb.buf, "42-x");
    strbuf_printf(&sb, "|%05d|", 7);
    assert_string_equal(sb.buf, "42-x|00007|");
    assert_int_equal(sb.len, strlen("42-x|00007|"));
    /* output longer than the first allocation */
    strbuf_printf(&sb, "%0300d", 1);
    assert_int_equal(sb.len, 11 + 300);
    assert_int_equal(strlen(sb.buf), sb.len);
    assert_int_equal(sb.buf[sb.len - 1], '1');
    assert_int_equal(sb.buf[11], '0');
    strbuf_free(&sb);
}

static void test_reset_and_steal(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "hello world");
    size_t cap = sb.cap;
    strbuf_reset(&sb);
    assert_int_equal(sb.len, 0);
    assert_string_equal(sb.buf, "");
    assert_int_equal(sb.cap, cap);
    strbuf_puts(&sb, "again");
    char *s = strbuf_steal(&sb);
    assert_string_equal(s, "again");
    assert_null(sb.buf);
    assert_int_equal(sb.len, 0);
    assert_int_equal(sb.cap, 0);
    /* usable after steal, independent of the stolen buffer */
    strbuf_puts(&sb, "next");
    assert_string_equal(sb.buf, "next");
    assert_string_equal(s, "again");
    free(s);
    strbuf_free(&sb);
}

static void test_oom_is_sticky(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "kept");
    sb.oom = true; /* as if an allocation had failed */
    strbuf_puts(&sb, " lost");
    strbuf_printf(&sb, "%d", 123);
    /* a later small append that would fit must not make the content look complete */
    strbuf_append(&sb, "", 0);
    assert_true(sb.oom);
    assert_string_equal(sb.buf, "kept");
    assert_int_equal(sb.len, 4);
    strbuf_free(&sb);
    assert_false(sb.oom);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_empty_steal), cmocka_unit_test(test_append_keeps_nul_and_bytes),
        cmocka_unit_test(test_growth_many_appends),  cmocka_unit_test(test_printf),
        cmocka_unit_test(test_reset_and_steal),      cmocka_unit_test(test_oom_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
