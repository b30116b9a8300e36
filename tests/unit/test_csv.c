/* csv: RFC 4180 and the liberties real feeds take, every error, chunk boundaries, the writer. */
#include "unit.h"

#include <unistd.h>

#include "lib/csv.h"
#include "lib/strbuf.h"

/* ---- helpers ---- */

/* Serves the input 1..7 bytes at a time (a small LCG picks the sizes). */
typedef struct chunky {
    const char *data;
    size_t len, pos;
    uint32_t seed;
    size_t max; /* largest chunk */
} chunky;

static long read_chunky(void *arg, char *buf, size_t cap)
{
    chunky *c = arg;
    c->seed = c->seed * 1103515245u + 12345u;
    size_t n = 1 + (c->seed >> 16) % c->max;
    if (n > cap)
        n = cap;
    if (n > c->len - c->pos)
        n = c->len - c->pos;
    memcpy(buf, c->data + c->pos, n);
    c->pos += n;
    return (long)n;
}

static long read_fails(void *arg, char *buf, size_t cap)
{
    int *calls = arg;
    if ((*calls)++ == 0 && cap >= 6) {
        memcpy(buf, "a,b\nc,", 6);
        return 6;
    }
    return -1;
}

/* Every outcome of reading s, one line each: "L<line> <field>|<field>|... raw=<raw>" or "E <code> <msg>". */
static char *transcript(csv_reader *r)
{
    strbuf out;
    strbuf_init(&out);
    for (int guard = 0; guard < 100000; guard++) {
        csv_record rec;
        dz_err e = {0};
        int got = csv_next(r, &rec, &e);
        if (got == 0)
            break;
        if (got < 0) {
            strbuf_printf(&out, "E%llu %s %s\n", (unsigned long long)rec.line, dz_code_name(e.code), e.msg);
            if (e.code != DZ_EINVAL)
                break;
            continue;
        }
        strbuf_printf(&out, "L%llu ", (unsigned long long)rec.line);
        for (size_t i = 0; i < rec.n; i++) {
            assert_int_equal(strlen(rec.fields[i]), rec.lens[i]);
            strbuf_puts(&out, i ? "|" : "");
            strbuf_append(&out, rec.fields[i], rec.lens[i]);
        }
        strbuf_puts(&out, " raw=");
        strbuf_append(&out, rec.raw, rec.raw_len);
        strbuf_puts(&out, "\n");
    }
    assert_false(out.oom);
    return strbuf_steal(&out);
}

static char *read_all_opts(const char *s, size_t len, const csv_options *o)
{
    csv_memory m = {s, len, 0};
    csv_reader *r = csv_reader_new(csv_read_memory, &m, o);
    assert_non_null(r);
    char *t = transcript(r);
    csv_reader_free(r);
    return t;
}

static char *read_chunked(const char *s, size_t len, const csv_options *o, uint32_t seed, size_t max)
{
    chunky c = {s, len, 0, seed, max};
    csv_reader *r = csv_reader_new(read_chunky, &c, o);
    assert_non_null(r);
    char *t = transcript(r);
    csv_reader_free(r);
    return t;
}

/* The transcript of s must be want, whole and in small chunks. */
static void expect_opts(const char *s, size_t len, const csv_options *o, const char *want)
{
    char *got = read_all_opts(s, len, o);
    if (strcmp(got, want) != 0)
        fail_msg("input '%s'\n got:\n%s\n want:\n%s", s, got, want);
    free(got);
    for (uint32_t seed = 1; seed < 6; seed++) {
        got = read_chunked(s, len, o, seed, 7);
        if (strcmp(got, want) != 0)
            fail_msg("input '%s' in chunks (seed %u)\n got:\n%s\n want:\n%s", s, seed, got, want);
        free(got);
    }
}

#define EXPECT(lit, want) expect_opts(lit, sizeof(lit) - 1, NULL, want)

/* ---- the format ---- */

static void test_basic(void **state)
{
    (void)state;
    EXPECT("a,b,c\n1,2,3\n", "L1 a|b|c raw=a,b,c\nL2 1|2|3 raw=1,2,3\n");
    EXPECT("", "");
    EXPECT("x", "L1 x raw=x\n");
    EXPECT("a,b\nc,d", "L1 a|b raw=a,b\nL2 c|d raw=c,d\n"); /* the last line without a line end */
    EXPECT(",,\n", "L1 || raw=,,\n");
    EXPECT("a,\n", "L1 a| raw=a,\n");
    EXPECT("a,", "L1 a| raw=a,\n");
    EXPECT(" a , b \n", "L1  a | b  raw= a , b \n"); /* spaces are data */
}

static void test_crlf_and_cr(void **state)
{
    (void)state;
    EXPECT("a,b\r\nc,d\r\n", "L1 a|b raw=a,b\nL2 c|d raw=c,d\n");
    EXPECT("a,b\r\nc,d\r", "L1 a|b raw=a,b\nL2 c|d raw=c,d\n"); /* CR at the end of the input */
    EXPECT("\"a\"\r\n\"b\"\r", "L1 a raw=\"a\"\nL2 b raw=\"b\"\n");
    EXPECT("a\rb,c\n", "L1 a\rb|c raw=a\rb,c\n"); /* a lone CR is data */
    EXPECT("a,\r\n", "L1 a| raw=a,\n");
    EXPECT("\"x\r\ny\"\r\n", "L1 x\r\ny raw=\"x\r\ny\"\n"); /* inside quotes CRLF is kept */
}

static void test_bom(void **state)
{
    (void)state;
    EXPECT("\xEF\xBB\xBF" "a,b\n", "L1 a|b raw=a,b\n");
    EXPECT("\xEF\xBB\xBF", "");
    EXPECT("\xEF\xBB", "L1 \xEF\xBB raw=\xEF\xBB\n");
    EXPECT("\xEF\xBB\xBF\xEF\xBB\xBFx\n", "L1 \xEF\xBB\xBFx raw=\xEF\xBB\xBFx\n"); /* only one */
    EXPECT("a\n\xEF\xBB\xBF" "b\n", "L1 a raw=a\nL2 \xEF\xBB\xBF" "b raw=\xEF\xBB\xBF" "b\n");
}

static void test_quotes(void **state)
{
    (void)state;
    EXPECT("\"a,b\",\"c\"\"d\",\"\"\n", "L1 a,b|c\"d| raw=\"a,b\",\"c\"\"d\",\"\"\n");
    EXPECT("\"e\nf\",g\nnext\n", "L1 e\nf|g raw=\"e\nf\",g\nL3 next raw=next\n");
    EXPECT("\"\n\n\"\nx\n", "L1 \n\n raw=\"\n\n\"\nL4 x raw=x\n");
    EXPECT("a\"b,c\"\n", "L1 a\"b|c\" raw=a\"b,c\"\n"); /* a quote inside an unquoted field is literal */
    EXPECT("\"\"\"\"\n", "L1 \" raw=\"\"\"\"\n");
    EXPECT("\"a\"", "L1 a raw=\"a\"\n");
    EXPECT("\"a\",", "L1 a| raw=\"a\",\n");
    EXPECT("\"\"\n", "L1  raw=\"\"\n"); /* one empty quoted field is not a blank line */
}

static void test_blank_lines(void **state)
{
    (void)state;
    EXPECT("\n\na\n\r\n\nb\n\n", "L3 a raw=a\nL6 b raw=b\n");
    EXPECT("\r\n", "");
    EXPECT("\n\n\n", "");
}

static void test_delimiter(void **state)
{
    (void)state;
    csv_options o = {.delimiter = ';'};
    expect_opts("a;b,c;\"d;e\"\n", 12, &o, "L1 a|b,c|d;e raw=a;b,c;\"d;e\"\n");
    o.delimiter = '\t';
    expect_opts("a\tb c\t\n", 7, &o, "L1 a|b c| raw=a\tb c\t\n");
    csv_memory m = {"", 0, 0};
    o.delimiter = '"';
    assert_null(csv_reader_new(csv_read_memory, &m, &o));
    o.delimiter = '\n';
    assert_null(csv_reader_new(csv_read_memory, &m, &o));
    o.delimiter = '\r';
    assert_null(csv_reader_new(csv_read_memory, &m, &o));
}

/* ---- errors: each is reported with its line, and reading goes on ---- */

static void test_errors(void **state)
{
    (void)state;
    EXPECT("a\n\"b,c\nd\n", "L1 a raw=a\nE2 invalid line 2: field 1: unterminated quoted field\n");
    EXPECT("x,\"", "E1 invalid line 1: field 2: unterminated quoted field\n");
    EXPECT("\"a\"b,c\nok\n", "E1 invalid line 1: field 1: text after the closing quote\nL2 ok raw=ok\n");
    EXPECT("x,\"a\nb\"x,c\nnext\n",
           "E1 invalid line 1: field 2: text after the closing quote\nL3 next raw=next\n");
    EXPECT("\"a\"\rb\nok\n", "E1 invalid line 1: field 1: text after the closing quote\nL2 ok raw=ok\n");
    expect_opts("a\0b,c\nok\n", 9, NULL, "E1 invalid line 1: field 1: NUL byte\nL2 ok raw=ok\n");
    expect_opts("a,\"x\0\ny\"\nok\n", 12, NULL, "E1 invalid line 1: field 2: NUL byte\nL3 ok raw=ok\n");
    expect_opts("\0", 1, NULL, "E1 invalid line 1: field 1: NUL byte\n");
    /* the first problem of a record is the one reported, an unterminated quote explains all */
    expect_opts("\"a\"b,\0\nok\n", 10, NULL, "E1 invalid line 1: field 1: text after the closing quote\nL2 ok raw=ok\n");
    expect_opts("\0,\"a\n", 5, NULL, "E1 invalid line 1: field 2: unterminated quoted field\n");
}

static void test_max_record(void **state)
{
    (void)state;
    csv_options o = {.max_record = 10};
    const char *s = "0123456789\n01234567890\nok\n\"012\n5678\"\n\"0123\n56789\"\r\n0123456789\r\n";
    expect_opts(s, strlen(s), &o,
                "L1 0123456789 raw=0123456789\n"
                "E2 invalid line 2: record longer than 10 bytes\n"
                "L3 ok raw=ok\n"
                "L4 012\n5678 raw=\"012\n5678\"\n"
                "E6 invalid line 6: record longer than 10 bytes\n"
                "L8 0123456789 raw=0123456789\n");

    /* a record of many buffers is skipped in bounded memory; the next one is read */
    size_t big = 3 * 1024 * 1024;
    char *in = xmalloc(big + 64);
    memset(in, 'x', big);
    in[10] = ',';
    in[100] = '"'; /* literal */
    memcpy(in + big, "\nnext,1\n", 9);
    o.max_record = 1000;
    char *t = read_all_opts(in, big + 8, &o);
    assert_string_equal(t, "E1 invalid line 1: record longer than 1000 bytes\nL2 next|1 raw=next,1\n");
    free(t);
    /* also inside quotes, with newlines counted */
    in[0] = '"';
    for (size_t i = 1; i < big; i += 1000)
        in[i] = '\n';
    in[10] = 'x';
    in[100] = 'x';
    in[big - 1] = '"';
    t = read_all_opts(in, big + 8, &o);
    char want[200];
    snprintf(want, sizeof want, "E1 invalid line 1: record longer than 1000 bytes\nL%zu next|1 raw=next,1\n",
             2 + (big - 2) / 1000 + 1);
    assert_string_equal(t, want);
    free(t);
    /* and at the end of the input without a closing quote, that is what is reported */
    t = read_all_opts(in, big - 1, &o);
    assert_string_equal(t, "E1 invalid line 1: field 1: unterminated quoted field\n");
    free(t);
    free(in);

    /* a long record through tiny reads: the buffer grows under it */
    in = xmalloc(200000);
    memset(in, 'z', 200000);
    in[0] = '"';
    for (size_t i = 1; i < 199990; i += 777)
        in[i] = i % 2 ? '\n' : ',';
    memcpy(in + 199990, "\",x\r\nend\n", 10);
    char *whole = read_all_opts(in, 200000, NULL);
    assert_int_equal(strncmp(whole, "L1 ", 3), 0);
    assert_non_null(strstr(whole, "|x raw="));
    char *parts = read_chunked(in, 200000, NULL, 7, 7);
    assert_string_equal(whole, parts);
    free(parts);
    free(whole);
    free(in);

    /* the default is 1 MiB */
    in = xmalloc(1024 * 1024 + 2);
    memset(in, 'y', 1024 * 1024 + 1);
    t = read_all_opts(in, 1024 * 1024, NULL);
    assert_int_equal(strlen(t), strlen("L1  raw=\n") + 2 * 1024 * 1024);
    free(t);
    t = read_all_opts(in, 1024 * 1024 + 1, NULL);
    assert_string_equal(t, "E1 invalid line 1: record longer than 1048576 bytes\n");
    free(t);
    free(in);
}

static void test_max_fields(void **state)
{
    (void)state;
    csv_options o = {.max_fields = 3};
    const char *s = "a,b,c\na,b,c,d\nok\n\"x\ny\",,,\nz\n";
    expect_opts(s, strlen(s), &o,
                "L1 a|b|c raw=a,b,c\nE2 invalid line 2: more than 3 fields\nL3 ok raw=ok\n"
                "E4 invalid line 4: more than 3 fields\nL6 z raw=z\n");
    /* many fields (past the initial arrays) are fine under the default limit */
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < 4096; i++)
        strbuf_printf(&sb, "%s%d", i ? "," : "", i);
    strbuf_puts(&sb, "\n");
    csv_memory m = {sb.buf, sb.len, 0};
    csv_reader *r = csv_reader_new(csv_read_memory, &m, NULL);
    csv_record rec;
    dz_err e = {0};
    assert_int_equal(csv_next(r, &rec, &e), 1);
    assert_int_equal(rec.n, 4096);
    assert_string_equal(rec.fields[4095], "4095");
    assert_int_equal(csv_next(r, &rec, &e), 0);
    csv_reader_free(r);
    sb.len--; /* 4097 fields, then another record */
    strbuf_puts(&sb, ",x\nlast\n");
    m = (csv_memory){sb.buf, sb.len, 0};
    r = csv_reader_new(csv_read_memory, &m, NULL);
    assert_int_equal(csv_next(r, &rec, &e), -1);
    assert_contains(e.msg, "line 1: more than 4096 fields");
    assert_int_equal(csv_next(r, &rec, &e), 1);
    assert_int_equal(rec.line, 2);
    csv_reader_free(r);
    strbuf_free(&sb);
}

static void test_read_error(void **state)
{
    (void)state;
    int calls = 0;
    csv_reader *r = csv_reader_new(read_fails, &calls, NULL);
    csv_record rec;
    dz_err e = {0};
    assert_int_equal(csv_next(r, &rec, &e), 1);
    assert_int_equal(rec.n, 2);
    assert_int_equal(csv_next(r, &rec, &e), -1);
    assert_int_equal(e.code, DZ_EIO);
    assert_contains(e.msg, "read error");
    dz_err_clear(&e);
    assert_int_equal(csv_next(r, &rec, &e), -1); /* sticky */
    assert_int_equal(e.code, DZ_EIO);
    csv_reader_free(r);
    csv_reader_free(NULL);
}

static void test_read_fd(void **state)
{
    (void)state;
    char path[] = "/tmp/dzong-test-csv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < 50000; i++)
        strbuf_printf(&sb, "%d,\"line\n%d\",x\r\n", i, i);
    assert_int_equal(write(fd, sb.buf, sb.len), (ssize_t)sb.len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    csv_reader *r = csv_reader_new(csv_read_fd, &fd, NULL);
    csv_record rec;
    dz_err e = {0};
    for (int i = 0; i < 50000; i++) {
        assert_int_equal(csv_next(r, &rec, &e), 1);
        assert_int_equal(rec.n, 3);
        assert_int_equal(atoi(rec.fields[0]), i);
        assert_int_equal(rec.line, 2 * (uint64_t)i + 1);
        assert_int_equal(rec.lens[1], 5 + strlen(rec.fields[0]));
    }
    assert_int_equal(csv_next(r, &rec, &e), 0);
    assert_int_equal(csv_next(r, &rec, &e), 0);
    csv_reader_free(r);
    close(fd);
    strbuf_free(&sb);
}

/* ---- random inputs: small chunks give what the whole buffer gives ---- */

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_random_chunks(void **state)
{
    (void)state;
    static const char alphabet[] = {'a', 'b', ',', '"', '"', '\n', '\r', ' ', '\0', (char)0xEF, (char)0xBB,
                                    (char)0xBF, ';'};
    char in[400];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = rnd() % sizeof in;
        for (size_t i = 0; i < n; i++)
            in[i] = alphabet[rnd() % sizeof alphabet];
        csv_options o = {0};
        if (iter % 3 == 1)
            o.max_record = 1 + rnd() % 40;
        if (iter % 5 == 2)
            o.max_fields = 1 + rnd() % 5;
        if (iter % 7 == 3)
            o.delimiter = ';';
        char *whole = read_all_opts(in, n, &o);
        char *parts = read_chunked(in, n, &o, (uint32_t)iter, 1 + iter % 7);
        if (strcmp(whole, parts) != 0)
            fail_msg("iteration %d: whole:\n%s\nchunked:\n%s", iter, whole, parts);
        free(whole);
        free(parts);
    }
}

/* Hostile bytes: anything at all, in any chunks; the invariants hold. */
static void test_hostile(void **state)
{
    (void)state;
    char in[2000];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = rnd() % sizeof in;
        for (size_t i = 0; i < n; i++)
            in[i] = (char)rnd();
        chunky c = {in, n, 0, (uint32_t)iter, 1 + iter % 64};
        csv_options o = {.max_record = 1 + rnd() % 300, .max_fields = 1 + rnd() % 50};
        csv_reader *r = csv_reader_new(read_chunky, &c, &o);
        csv_record rec;
        dz_err e = {0};
        uint64_t last = 0;
        int got;
        while ((got = csv_next(r, &rec, &e)) != 0) {
            assert_true(got == 1 || (got == -1 && e.code == DZ_EINVAL));
            assert_true(rec.line >= last);
            last = rec.line;
            if (got == 1) {
                assert_true(rec.raw_len <= o.max_record);
                assert_true(rec.n >= 1 && rec.n <= o.max_fields);
                for (size_t i = 0; i < rec.n; i++)
                    assert_int_equal(strlen(rec.fields[i]), rec.lens[i]);
            }
        }
        csv_reader_free(r);
    }
}

/* ---- the writer ---- */

static void write_one(const char *f, const char *want)
{
    strbuf sb;
    strbuf_init(&sb);
    csv_write_field(&sb, f, strlen(f), ',');
    assert_string_equal(sb.buf ? sb.buf : "", want);
    strbuf_free(&sb);
}

static void test_write_field(void **state)
{
    (void)state;
    write_one("abc", "abc");
    write_one("", "");
    write_one("a,b", "\"a,b\"");
    write_one("a\"b", "\"a\"\"b\"");
    write_one("\"", "\"\"\"\"");
    write_one("a\nb", "\"a\nb\"");
    write_one("a\rb", "\"a\rb\"");
    write_one(" a", "\" a\"");
    write_one("a ", "\"a \"");
    write_one("a b", "a b");
    write_one("a;b", "a;b");
    write_one("\xEF\xBB\xBFx", "\"\xEF\xBB\xBFx\"");
    write_one("Bücher", "Bücher");
    strbuf sb;
    strbuf_init(&sb);
    csv_write_field(&sb, "a;b", 3, ';');
    assert_string_equal(sb.buf, "\"a;b\"");
    strbuf_free(&sb);
}

/* Random fields written and read back are the same fields. */
static void test_write_read_random(void **state)
{
    (void)state;
    static const char alphabet[] = {'a', ',', '"', '\n', '\r', ' ', 'z', (char)0xEF, (char)0xBB, (char)0xBF};
    for (int iter = 0; iter < 5000; iter++) {
        size_t nrec = 1 + rnd() % 5, nf[5];
        char fields[5][8][12];
        size_t lens[5][8];
        strbuf sb;
        strbuf_init(&sb);
        for (size_t r = 0; r < nrec; r++) {
            nf[r] = 1 + rnd() % 8;
            for (size_t f = 0; f < nf[r]; f++) {
                lens[r][f] = rnd() % 12;
                for (size_t i = 0; i < lens[r][f]; i++)
                    fields[r][f][i] = alphabet[rnd() % sizeof alphabet];
                if (f)
                    strbuf_puts(&sb, ",");
                if (nf[r] == 1 && lens[r][f] == 0)
                    strbuf_puts(&sb, "\"\""); /* a lone empty field would be a blank line */
                else
                    csv_write_field(&sb, fields[r][f], lens[r][f], ',');
            }
            strbuf_puts(&sb, rnd() % 2 ? "\r\n" : "\n");
        }
        chunky c = {sb.buf, sb.len, 0, (uint32_t)iter, 1 + iter % 5};
        csv_reader *rd = csv_reader_new(read_chunky, &c, NULL);
        for (size_t r = 0; r < nrec; r++) {
            csv_record rec;
            dz_err e = {0};
            int got = csv_next(rd, &rec, &e);
            if (got != 1)
                fail_msg("iteration %d record %zu: %d %s in\n%s", iter, r, got, e.msg, sb.buf);
            assert_int_equal(rec.n, nf[r]);
            for (size_t f = 0; f < nf[r]; f++) {
                assert_int_equal(rec.lens[f], lens[r][f]);
                assert_memory_equal(rec.fields[f], fields[r][f], lens[r][f]);
            }
        }
        csv_record rec;
        dz_err e = {0};
        assert_int_equal(csv_next(rd, &rec, &e), 0);
        csv_reader_free(rd);
        strbuf_free(&sb);
    }
}

/* Many records across the 256 KiB reads: every field where it should be. */
static void test_large(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < 100000; i++) {
        if (i % 10 == 0)
            strbuf_printf(&sb, "%d,\"q,%d\nz\",%*d\n", i, i, i % 50, 7);
        else
            strbuf_printf(&sb, "%d,p%d,%*d\r\n", i, i, i % 50, 7);
    }
    csv_memory m = {sb.buf, sb.len, 0};
    csv_reader *r = csv_reader_new(csv_read_memory, &m, NULL);
    csv_record rec;
    dz_err e = {0};
    uint64_t line = 1;
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(csv_next(r, &rec, &e), 1);
        assert_int_equal(rec.n, 3);
        assert_int_equal(atoi(rec.fields[0]), i);
        assert_int_equal(rec.line, line);
        assert_int_equal(rec.lens[2], i % 50 ? (size_t)(i % 50) : 1);
        line += i % 10 == 0 ? 2 : 1;
    }
    assert_int_equal(csv_next(r, &rec, &e), 0);
    csv_reader_free(r);
    strbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),          cmocka_unit_test(test_crlf_and_cr),
        cmocka_unit_test(test_bom),            cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_blank_lines),    cmocka_unit_test(test_delimiter),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_max_record),
        cmocka_unit_test(test_max_fields),     cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_read_fd),        cmocka_unit_test(test_random_chunks),
        cmocka_unit_test(test_hostile),        cmocka_unit_test(test_write_field),
        cmocka_unit_test(test_write_read_random), cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
