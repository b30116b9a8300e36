/*
 * mime: quoted-printable and base64 bodies decoded back by a small test
 * parser, the line limits, multipart and PGP/MIME structure, headers
 * (encoded words, folding, quoting, the date), refusals; and a whole
 * message read by Python's email package when python3 is there.
 */
#include "unit.h"

#include <sodium.h>
#include <unistd.h>

#include "lib/mime.h"
#include "lib/strbuf.h"

/* ---- test helpers ---- */

/* LF and CRLF both as CRLF: what a text part must decode to. */
static char *crlf(const char *s, size_t n, size_t *out_len)
{
    strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            strbuf_append(&sb, "\r", 1);
        strbuf_append(&sb, s + i, 1);
    }
    strbuf_append(&sb, "", 0);
    *out_len = sb.len;
    return strbuf_steal(&sb);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes quoted-printable (CRLF lines), failing the test on anything malformed. */
static char *qp_decode(const char *s, size_t n, size_t *out_len)
{
    strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < n;) {
        if (s[i] == '=') {
            if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
                i += 3;
                continue;
            }
            assert_true(i + 2 < n);
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0)
                fail_msg("bad quoted-printable escape at %zu: %.10s", i, s + i);
            char c = (char)(a * 16 + b);
            strbuf_append(&sb, &c, 1);
            i += 3;
        } else {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x80 || (c < 0x20 && c != '\r' && c != '\n' && c != '\t'))
                fail_msg("byte 0x%02x unencoded in quoted-printable", c);
            strbuf_append(&sb, s + i, 1);
            i++;
        }
    }
    strbuf_append(&sb, "", 0);
    *out_len = sb.len;
    return strbuf_steal(&sb);
}

/* Every line of s (CRLF, no bare CR or LF) has at most max characters and, when blanks_ok is false, no trailing blank. */
static void assert_lines(const char *s, size_t n, size_t max, bool blanks_ok)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            if (i == 0 || s[i - 1] != '\r')
                fail_msg("bare LF at %zu", i);
            size_t len = i - 1 - start;
            if (len > max)
                fail_msg("line of %zu > %zu characters: %.*s", len, max, (int)len, s + start);
            if (!blanks_ok && len && (s[i - 2] == ' ' || s[i - 2] == '\t'))
                fail_msg("trailing blank: [%.*s]", (int)len, s + start);
            start = i + 1;
        } else if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n')) {
            fail_msg("bare CR at %zu", i);
        }
    }
    assert_true(n - start <= max);
}

/* The body of a one-part entity (after the first blank line). */
static const char *body_of(const char *s)
{
    const char *b = strstr(s, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

static char *entity_of(const mime_part *parts, size_t n)
{
    strbuf sb;
    strbuf_init(&sb);
    dz_err e = {0};
    assert_dz_ok(mime_entity(parts, n, &sb, &e), e);
    return strbuf_steal(&sb);
}

/* The text of one text/plain part encoded and decoded again. */
static void assert_qp_roundtrip(const char *text, size_t len)
{
    mime_part p = {"text/plain; charset=utf-8", NULL, text, len};
    char *ent = entity_of(&p, 1);
    assert_true(strncmp(ent, "Content-Type: text/plain; charset=utf-8\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                        85) == 0);
    const char *body = body_of(ent);
    size_t blen = strlen(body);
    assert_lines(body, blen, 76, false);
    /* robust through relays: no line starts with '.' or "From " */
    for (const char *l = body; l; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
        if (*l == '.' || strncmp(l, "From ", 5) == 0)
            fail_msg("a line starts with '.' or 'From ': %.20s", l);
    }
    size_t dl, wl;
    char *dec = qp_decode(body, blen, &dl);
    char *want = crlf(text, len, &wl);
    if (dl != wl || memcmp(dec, want, dl) != 0)
        fail_msg("round trip differs:\n[%s]\n[%s]", dec, want);
    free(dec);
    free(want);
    free(ent);
}

/* ---- quoted-printable, base64 ---- */

static void test_qp(void **state)
{
    (void)state;
    const char *cases[] = {
        "",
        "hello\n",
        "no newline at the end",
        "a = b\ntrailing space \ntrailing tab\t\n  \n\t\n",
        "From the desk of the CIRT\n.\n..\n.hidden\nFrom\nFrom:\n",
        "UTF-8: སྐུ་ཞབས་ ✓ 😀 Ōtsuka\n",
        "\x01\x7f control\n",
        "lone\rCR and CRLF\r\nmixed\nends",
        "=\n==\n=3D\n",
        "ends in a lone CR\r",
        "\r",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_qp_roundtrip(cases[i], strlen(cases[i]));

    /* long lines of every kind: soft breaks at <= 76, escapes never cut */
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < 300; i++)
        strbuf_append(&sb, "x", 1);
    strbuf_append(&sb, "\n", 1);
    for (int i = 0; i < 100; i++)
        strbuf_puts(&sb, "word ");
    strbuf_append(&sb, "\n", 1);
    for (int i = 0; i < 120; i++)
        strbuf_puts(&sb, "ཞ=");
    strbuf_append(&sb, "\n", 1);
    for (int i = 0; i < 200; i++)
        strbuf_puts(&sb, i % 7 ? "." : " ");
    strbuf_append(&sb, "\n", 1);
    for (int len = 70; len <= 80; len++) { /* around the limit: a line of len, ending in a blank or '=' */
        for (int k = 0; k < len - 1; k++)
            strbuf_append(&sb, "y", 1);
        strbuf_append(&sb, len % 2 ? " \n" : "=\n", 2);
        for (int k = 0; k < len; k++)
            strbuf_append(&sb, "z", 1);
        strbuf_append(&sb, "\n", 1);
    }
    assert_qp_roundtrip(sb.buf, sb.len);
    /* a line of exactly 76 stays one line; 77 gets a soft break */
    strbuf_reset(&sb);
    for (int k = 0; k < 76; k++)
        strbuf_append(&sb, "a", 1);
    mime_part p = {"text/plain", NULL, sb.buf, sb.len};
    char *ent = entity_of(&p, 1);
    assert_string_equal(body_of(ent), sb.buf);
    free(ent);
    strbuf_append(&sb, "a", 1);
    p.len = sb.len;
    p.data = sb.buf;
    ent = entity_of(&p, 1);
    assert_non_null(strstr(body_of(ent), "=\r\n"));
    free(ent);
    strbuf_free(&sb);

    /* LF and CRLF input give the same entity */
    mime_part a = {"text/plain; charset=utf-8", NULL, "one\ntwo\n\nthree", 14};
    mime_part b = {"text/plain; charset=utf-8", NULL, "one\r\ntwo\r\n\r\nthree", 17};
    char *ea = entity_of(&a, 1), *eb = entity_of(&b, 1);
    assert_string_equal(ea, eb);
    assert_string_equal(body_of(ea), "one\r\ntwo\r\n\r\nthree");
    free(ea);
    free(eb);
    /* the encodings of the special cases, literally */
    const char *special = "From x\n.\na \nb=c\n\xc3\xa9\n";
    mime_part c = {"text/plain", NULL, special, strlen(special)};
    ea = entity_of(&c, 1);
    assert_string_equal(body_of(ea), "=46rom x\r\n=2E\r\na=20\r\nb=3Dc\r\n=C3=A9\r\n");
    free(ea);
}

static void test_base64(void **state)
{
    (void)state;
    for (size_t n = 0; n < 400; n += 19) {
        unsigned char data[400];
        for (size_t i = 0; i < n; i++)
            data[i] = (unsigned char)(i * 37 + n);
        mime_part p = {"application/octet-stream", "data.bin", (const char *)data, n};
        char *ent = entity_of(&p, 1);
        assert_contains(ent, "Content-Transfer-Encoding: base64\r\n");
        assert_contains(ent, "Content-Disposition: attachment; filename=\"data.bin\"\r\n");
        const char *body = body_of(ent);
        size_t blen = strlen(body);
        assert_lines(body, blen, 76, false);
        /* full lines are exactly 76 */
        if (n > 57)
            assert_ptr_equal(strstr(body, "\r\n"), body + 76);
        unsigned char back[400];
        size_t bl = 0;
        assert_int_equal(sodium_base642bin(back, sizeof back, body, blen, "\r\n", &bl, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(bl, n);
        assert_memory_equal(back, data, n);
        free(ent);
    }
}

/* ---- entities ---- */

static void test_multipart_mixed(void **state)
{
    (void)state;
    mime_part parts[] = {
        {"text/plain; charset=utf-8", NULL, "Dear CIRT,\nsee attached.\n", 25},
        {"text/csv; charset=utf-8", "events.csv", "a,b\n1,2\n", 8},
        {"application/json", "advice.json", "{\"x\":1}", 7},
    };
    char *ent = entity_of(parts, 3);
    assert_true(strncmp(ent, "Content-Type: multipart/mixed;\r\n boundary=\"=_dzong_", 50) == 0);
    const char *q = strchr(ent, '"') + 1;
    char boundary[64];
    size_t bl = (size_t)(strchr(q, '"') - q);
    assert_int_equal(bl, 40);
    memcpy(boundary, q, bl);
    boundary[bl] = '\0';
    for (size_t i = 8; i < 40; i++)
        assert_non_null(strchr("0123456789abcdef", boundary[i]));
    assert_lines(ent, strlen(ent), 78, false);
    /* three delimiters and the close delimiter, each on its own line */
    char delim[80];
    snprintf(delim, sizeof delim, "\r\n--%s\r\n", boundary);
    int count = 0;
    for (const char *p = ent; (p = strstr(p, delim)) != NULL; p++)
        count++;
    assert_int_equal(count, 3); /* the first right after the blank line that ends the header */
    snprintf(delim, sizeof delim, "\r\n\r\n--%s\r\nContent-Type: text/plain", boundary);
    assert_contains(ent, delim);
    snprintf(delim, sizeof delim, "\r\n--%s--\r\n", boundary);
    assert_contains(ent, delim);
    assert_int_equal(strlen(strstr(ent, delim)), strlen(delim)); /* at the very end */
    assert_contains(ent, "Content-Type: text/csv; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
                         "Content-Disposition: attachment; filename=\"events.csv\"\r\n\r\na,b\r\n1,2\r\n\r\n--");
    assert_contains(ent, "Content-Type: application/json\r\nContent-Transfer-Encoding: base64\r\n"
                         "Content-Disposition: attachment; filename=\"advice.json\"\r\n\r\neyJ4IjoxfQ==\r\n\r\n--");
    /* a new boundary each time */
    char *again = entity_of(parts, 3);
    assert_string_not_equal(ent, again);
    free(again);
    free(ent);
}

static void test_filenames(void **state)
{
    (void)state;
    /* non-ASCII: RFC 2231 */
    mime_part p = {"text/csv", "événements.csv", "x", 1};
    char *ent = entity_of(&p, 1);
    assert_contains(ent, "Content-Disposition: attachment;\r\n filename*=utf-8''%C3%A9v%C3%A9nements.csv\r\n");
    free(ent);
    /* long: continuations, no %XX cut, every line within 78 */
    p.filename = "ཞབས་ཏོག་གི་སྙན་ཞུ་ འབྲུག་ཡུལ་ 2026-11-23 ཞབས་ཏོག་གི་སྙན་ཞུ་.csv";
    ent = entity_of(&p, 1);
    assert_contains(ent, "filename*0*=utf-8''%E0%BD%9E");
    assert_contains(ent, ";\r\n filename*1*=%");
    assert_lines(ent, strlen(ent), 78, false);
    free(ent);
    /* ASCII with a backslash is a quoted string with the backslash escaped */
    p.filename = "a\\b.csv";
    ent = entity_of(&p, 1);
    assert_contains(ent, "filename=\"a\\\\b.csv\"");
    free(ent);
}

static void test_entity_refusals(void **state)
{
    (void)state;
    strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "kept");
    dz_err e = {0};
    mime_part ok = {"text/plain", NULL, "x", 1};
    assert_dz_fails(mime_entity(&ok, 0, &sb, &e), DZ_EINVAL, e);
    mime_part bad[] = {
        {"text/plain\r\nBcc: x@y.z", NULL, "x", 1},
        {"text/plain; charset=\"utf-8\"", NULL, "x", 1},
        {"text/plain", "a\nb.txt", "x", 1},
        {"text/plain", "a\"b.txt", "x", 1},
        {"text/plain", "a\rb.txt", "x", 1},
        {"text/plain", "\xff.txt", "x", 1},
        {NULL, NULL, "x", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mime_part two[2] = {ok, bad[i]};
        e.msg[0] = '\0';
        assert_dz_fails(mime_entity(&bad[i], 1, &sb, &e), DZ_EINVAL, e);
        e.msg[0] = '\0';
        assert_dz_fails(mime_entity(two, 2, &sb, &e), DZ_EINVAL, e);
    }
    assert_string_equal(sb.buf, "kept"); /* nothing written on failure */
    strbuf_free(&sb);
}

/* ---- PGP/MIME ---- */

static const char sig[] = "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n";

static void test_signed(void **state)
{
    (void)state;
    mime_part parts[] = {
        {"text/plain; charset=utf-8", NULL, "signed text\n", 12},
        {"text/csv", "e.csv", "a,b\n", 4},
    };
    char *ent = entity_of(parts, 2);
    size_t el = strlen(ent);
    strbuf sb;
    strbuf_init(&sb);
    dz_err e = {0};
    assert_dz_ok(mime_signed(ent, el, sig, strlen(sig), "pgp-sha256", &sb, &e), e);
    const char *s = sb.buf;
    assert_true(strncmp(s, "Content-Type: multipart/signed; micalg=pgp-sha256;\r\n"
                           " protocol=\"application/pgp-signature\";\r\n boundary=\"=_dzong_",
                        110) == 0);
    assert_lines(s, sb.len, 78, true);
    const char *q = strstr(s, "boundary=\"") + 10;
    char b[64];
    memcpy(b, q, 40);
    b[40] = '\0';
    /* the first part: exactly the entity, between the delimiter's CRLF and the next delimiter's CRLF */
    char delim[80];
    snprintf(delim, sizeof delim, "\r\n--%s\r\n", b);
    const char *first = strstr(s, delim);
    assert_non_null(first);
    first += strlen(delim);
    assert_memory_equal(first, ent, el);
    assert_true(strncmp(first + el, delim, strlen(delim)) == 0);
    const char *second = first + el + strlen(delim);
    const char *want = "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n";
    assert_true(strncmp(second, want, strlen(want)) == 0);
    /* the armour with CRLF line ends, then the close delimiter */
    assert_contains(second, "\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\niQEzBAEBCAAdFiEE\r\n=abcd\r\n"
                            "-----END PGP SIGNATURE-----\r\n\r\n--");
    snprintf(delim, sizeof delim, "\r\n--%s--\r\n", b);
    assert_int_equal(strlen(strstr(s, delim)), strlen(delim));

    /* refusals, with nothing written */
    size_t len = sb.len;
    assert_dz_fails(mime_signed(ent, el, sig, strlen(sig), "pgp sha256", &sb, &e), DZ_EINVAL, e);
    assert_dz_fails(mime_signed(ent, el, sig, strlen(sig), "", &sb, &e), DZ_EINVAL, e);
    assert_dz_fails(mime_signed(ent, el, sig, strlen(sig), NULL, &sb, &e), DZ_EINVAL, e);
    assert_dz_fails(mime_signed(ent, el, "\xc3\xa9", 2, "pgp-sha256", &sb, &e), DZ_EINVAL, e);
    assert_dz_fails(mime_signed(ent, 0, sig, strlen(sig), "pgp-sha256", &sb, &e), DZ_EINVAL, e);
    assert_int_equal(sb.len, len);
    strbuf_free(&sb);
    free(ent);
}

static void test_encrypted(void **state)
{
    (void)state;
    const char *armour = "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA1234\r\n=wxyz\r\n-----END PGP MESSAGE-----\r\n";
    strbuf sb;
    strbuf_init(&sb);
    dz_err e = {0};
    assert_dz_ok(mime_encrypted(armour, strlen(armour), &sb, &e), e);
    const char *s = sb.buf;
    assert_true(strncmp(s, "Content-Type: multipart/encrypted;\r\n protocol=\"application/pgp-encrypted\";\r\n"
                           " boundary=\"=_dzong_",
                        95) == 0);
    const char *q = strstr(s, "boundary=\"") + 10;
    char b[64];
    memcpy(b, q, 40);
    b[40] = '\0';
    char want[600];
    snprintf(want, sizeof want,
             "\r\n--%s\r\nContent-Type: application/pgp-encrypted\r\n"
             "Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n--%s\r\n"
             "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n",
             b, b);
    assert_contains(s, want);
    snprintf(want, sizeof want, "\r\n\r\n%s\r\n--%s--\r\n", armour, b);
    assert_contains(s, want);
    assert_lines(s, sb.len, 78, true);
    assert_dz_fails(mime_encrypted("", 0, &sb, &e), DZ_EINVAL, e);
    strbuf_free(&sb);
}

/* ---- headers ---- */

static char *message(const mail_headers *h, const char *entity)
{
    strbuf sb;
    strbuf_init(&sb);
    dz_err e = {0};
    assert_dz_ok(mime_message(h, entity, strlen(entity), &sb, &e), e);
    /* the header block: every line within 78 */
    const char *end = strstr(sb.buf, "\r\n\r\n");
    assert_non_null(end);
    assert_lines(sb.buf, (size_t)(end - sb.buf) + 2, 78, true);
    return strbuf_steal(&sb);
}

static const char plain_entity[] = "Content-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Transfer-Encoding: quoted-printable\r\n\r\nhi\r\n";

static void test_headers(void **state)
{
    (void)state;
    mail_header extra[] = {{"Auto-Submitted", "auto-generated"}, {"X-Dzong-Ticket", "BT-2026-0001"}};
    mail_headers h = {
        .from_addr = "cirt@example.bt",
        .from_name = "Druk CIRT",
        .to_addr = "abuse@isp.example",
        .to_name = NULL,
        .reply_to = "desk@example.bt",
        .subject = "Your events for 2026-11-23",
        .message_id = "<1.2@example.bt>",
        .date = 1795423009, /* 2026-11-23T08:36:49Z, a Monday */
        .extra = extra,
        .n_extra = 2,
    };
    char *m = message(&h, plain_entity);
    assert_string_equal(m, "From: Druk CIRT <cirt@example.bt>\r\n"
                           "To: abuse@isp.example\r\n"
                           "Reply-To: desk@example.bt\r\n"
                           "Subject: Your events for 2026-11-23\r\n"
                           "Date: Mon, 23 Nov 2026 08:36:49 +0000\r\n"
                           "Message-ID: <1.2@example.bt>\r\n"
                           "MIME-Version: 1.0\r\n"
                           "Auto-Submitted: auto-generated\r\n"
                           "X-Dzong-Ticket: BT-2026-0001\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\nhi\r\n");
    free(m);

    /* specials quoted, quotes and backslashes escaped */
    h.from_name = "Druk CIRT, \"Ops\" \\ Desk";
    h.to_name = "ISP (abuse)";
    h.reply_to = NULL;
    h.n_extra = 0;
    h.date = 0;
    m = message(&h, plain_entity);
    assert_contains(m, "From: \"Druk CIRT, \\\"Ops\\\" \\\\ Desk\" <cirt@example.bt>\r\n");
    assert_contains(m, "To: \"ISP (abuse)\" <abuse@isp.example>\r\n");
    assert_contains(m, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n");
    assert_null(strstr(m, "Reply-To"));
    free(m);

    /* non-ASCII: encoded words */
    h.from_name = "འབྲུག་ CIRT";
    h.to_name = "Ōtsuka";
    h.subject = "Événements: 3"; /* shorter in B */
    m = message(&h, plain_entity);
    assert_contains(m, "From: =?utf-8?B?4L2g4L2W4L6y4L204L2C4LyLIENJUlQ=?= <cirt@example.bt>\r\n");
    assert_contains(m, "To: =?utf-8?Q?=C5=8Ctsuka?= <abuse@isp.example>\r\n");
    assert_contains(m, "Subject: =?utf-8?B?w4l2w6luZW1lbnRzOiAz?=\r\n");
    free(m);
    h.subject = "Security events for the Ōtsuka network"; /* shorter in Q */
    m = message(&h, plain_entity);
    assert_contains(m, "Subject: =?utf-8?Q?Security_events_for_the_=C5=8Ctsuka_network?=\r\n");
    free(m);

    /* a long ASCII subject folds at its blanks */
    h.subject = "Notification about 1234 events concerning your constituency observed between "
                "2026-11-22 and 2026-11-23 by several feeds";
    m = message(&h, plain_entity);
    assert_contains(m, "Subject: Notification about 1234 events concerning your constituency observed\r\n"
                       " between 2026-11-22 and 2026-11-23 by several feeds\r\n");
    free(m);
    /* "=?" in ASCII, or a word too long for a line: encoded words */
    h.subject = "a =?x?= b";
    m = message(&h, plain_entity);
    assert_contains(m, "Subject: =?utf-8?B?YSA9P3g/PSBi?=\r\n");
    free(m);
    char longword[300];
    memset(longword, 'w', 299);
    longword[299] = '\0';
    h.subject = longword;
    m = message(&h, plain_entity);
    assert_contains(m, "Subject: =?utf-8?Q?wwww");
    free(m);
    /* an empty subject */
    h.subject = "";
    m = message(&h, plain_entity);
    assert_contains(m, "\r\nSubject:\r\n");
    free(m);
    h.subject = NULL;
    m = message(&h, plain_entity);
    assert_contains(m, "\r\nSubject:\r\n");
    free(m);
    /* a long extra header folds at its blanks */
    mail_header x[] = {{"X-Dzong-Note", "one two three four five six seven eight nine ten eleven twelve thirteen "
                                        "fourteen fifteen"}};
    h.extra = x;
    h.n_extra = 1;
    m = message(&h, plain_entity);
    assert_contains(m, "X-Dzong-Note: one two three four five six seven eight nine ten eleven twelve\r\n"
                       " thirteen fourteen fifteen\r\n");
    free(m);
}

static void test_long_encoded_words(void **state)
{
    (void)state;
    /* long non-ASCII subject and name: several encoded words, lines <= 78, UTF-8 never cut */
    strbuf subj;
    strbuf_init(&subj);
    for (int i = 0; i < 40; i++)
        strbuf_puts(&subj, "ཞབས་ཏོག་ ");
    mail_headers h = {
        .from_addr = "cirt@example.bt",
        .from_name = "འབྲུག་ཡུལ་གྱི་ གློག་རིག་ ཉེན་སྲུང་ སྡེ་ཚན་ Druk Computer Incident Response Team",
        .to_addr = "a@b.c",
        .subject = subj.buf,
        .message_id = "<x@y>",
        .date = 1795423009,
    };
    char *m = message(&h, plain_entity);
    /* every encoded word decodes to whole characters */
    for (const char *p = m; (p = strstr(p, "=?utf-8?B?")) != NULL;) {
        p += 10;
        const char *end = strstr(p, "?=");
        assert_non_null(end);
        assert_true(end - p + 12 <= 75);
        unsigned char bin[80];
        size_t bl;
        assert_int_equal(sodium_base642bin(bin, sizeof bin, p, (size_t)(end - p), NULL, &bl, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_true(bl > 0);
        assert_true((bin[0] & 0xc0) != 0x80); /* starts at a character */
        size_t k = bl;                        /* and ends with a whole one */
        while (k > 0 && (bin[k - 1] & 0xc0) == 0x80)
            k--;
        assert_true(k > 0);
        unsigned char lead = bin[k - 1];
        size_t need = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        assert_int_equal(bl - (k - 1), need);
        p = end + 2;
    }
    free(m);
    strbuf_free(&subj);
}

static void test_header_refusals(void **state)
{
    (void)state;
    mail_header bad_x[] = {{"X-Bad", "a\r\nBcc: x@y.z"}};
    mail_header bad_name[] = {{"Bad Name", "v"}};
    mail_header own_name[] = {{"content-type", "text/html"}};
    mail_header non_ascii[] = {{"X-A", "é"}};
    const mail_headers good = {.from_addr = "a@b.c", .to_addr = "d@e.f", .subject = "s", .message_id = "<m@n>"};
    mail_headers cases[14];
    for (size_t i = 0; i < 14; i++)
        cases[i] = good;
    cases[0].from_addr = "no-at-sign";
    cases[1].to_addr = "a b@c.d";
    cases[2].reply_to = "x@y@z";
    cases[3].subject = "two\r\nlines";
    cases[4].subject = "bad \xff utf-8";
    cases[5].from_name = "Name\nBcc: x@y.z";
    cases[6].message_id = "no-brackets@x";
    cases[7].message_id = NULL;
    cases[8].extra = bad_x, cases[8].n_extra = 1;
    cases[9].extra = bad_name, cases[9].n_extra = 1;
    cases[10].extra = own_name, cases[10].n_extra = 1;
    cases[11].extra = non_ascii, cases[11].n_extra = 1;
    cases[12].to_addr = NULL;
    cases[13].date = -1;
    strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < 14; i++) {
        dz_err e = {0};
        dz_code rc = mime_message(&cases[i], plain_entity, strlen(plain_entity), &sb, &e);
        if (rc != DZ_EINVAL)
            fail_msg("case %zu: %s", i, dz_code_name(rc));
        assert_true(e.msg[0] != '\0');
        assert_int_equal(sb.len, 0);
    }
    dz_err e = {0};
    assert_dz_fails(mime_message(&good, "", 0, &sb, &e), DZ_EINVAL, e);
    assert_dz_ok(mime_message(&good, plain_entity, strlen(plain_entity), &sb, &e), e);
    strbuf_free(&sb);
}

static void test_address_ok(void **state)
{
    (void)state;
    assert_true(mime_address_ok("abuse@isp.example"));
    assert_true(mime_address_ok("first.last+tag@sub.example.bt"));
    assert_true(mime_address_ok("o'neil@x.ie"));
    assert_false(mime_address_ok(NULL));
    assert_false(mime_address_ok(""));
    assert_false(mime_address_ok("@x.y"));
    assert_false(mime_address_ok("x@"));
    assert_false(mime_address_ok("a@b@c"));
    assert_false(mime_address_ok("a b@c"));
    assert_false(mime_address_ok("a\t@c"));
    assert_false(mime_address_ok("<a@c>"));
    assert_false(mime_address_ok("a,b@c"));
    assert_false(mime_address_ok("\"a\"@c"));
    assert_false(mime_address_ok("é@c.d"));
    assert_false(mime_address_ok(".a@c"));
    assert_false(mime_address_ok("a.@c"));
    assert_false(mime_address_ok("a..b@c"));
    assert_false(mime_address_ok("a@c."));
    char big[300];
    memset(big, 'a', sizeof big);
    memcpy(big + 250, "@b.cd", 6);
    assert_false(mime_address_ok(big)); /* 255 */
    memcpy(big + 249, "@b.cd", 6);
    assert_true(mime_address_ok(big)); /* 254 */
}

/* ---- Python's email package reads the message back ---- */

/* Prints "key hex" lines; the C side compares the hex with what it put in. */
static const char py_script[] =
    "import sys, email, email.policy\n"
    "m = email.message_from_bytes(open(sys.argv[1], \"rb\").read(), policy=email.policy.default)\n"
    "h = lambda s: s.encode(\"utf-8\").hex()\n"
    "print(\"subject\", h(str(m[\"subject\"])))\n"
    "f = m[\"from\"].addresses[0]\n"
    "print(\"from_name\", h(f.display_name))\n"
    "print(\"from_addr\", h(f.addr_spec))\n"
    "t = m[\"to\"].addresses[0]\n"
    "print(\"to_name\", h(t.display_name))\n"
    "print(\"date\", h(m[\"date\"].datetime.isoformat()))\n"
    "print(\"type\", m.get_content_type())\n"
    "for p in m.walk():\n"
    "    if p.is_multipart():\n"
    "        continue\n"
    "    c = p.get_content()\n"
    "    b = c.encode(\"utf-8\") if isinstance(c, str) else c\n"
    "    print(\"part\", p.get_content_type(), h(p.get_filename() or \"-\"), b.hex() or \"-\")\n"
    "print(\"defects\", sum(len(p.defects) for p in m.walk()) + len(m.defects))\n";

static char *hex(const char *s, size_t n)
{
    char *h = xmalloc(2 * n + 2);
    sodium_bin2hex(h, 2 * n + 1, (const unsigned char *)s, n);
    if (n == 0)
        strcpy(h, "-");
    return h;
}

static void expect_line(const char *out, const char *key, const char *value, size_t n)
{
    char *hx = hex(value, n);
    size_t need = strlen(key) + strlen(hx) + 4;
    char *line = xmalloc(need);
    snprintf(line, need, "%s %s\n", key, hx);
    if (!strstr(out, line))
        fail_msg("python output lacks [%s %.60s...] (value %.60s)\n%s", key, hx, value, out);
    free(line);
    free(hx);
}

static void test_python_email(void **state)
{
    (void)state;
    if (system("command -v python3 >/dev/null 2>&1 && python3 -c 'import email.policy' >/dev/null 2>&1") != 0)
        skip();

    /* the text: long lines, UTF-8 across soft breaks, From/dot lines, trailing blanks, both line ends */
    strbuf text;
    strbuf_init(&text);
    strbuf_puts(&text, "Dear CIRT of འབྲུག་ཡུལ,\n\nFrom the feeds:\n.\n");
    for (int i = 0; i < 60; i++)
        strbuf_puts(&text, "ཞབས་ཏོག་ é ");
    strbuf_puts(&text, "\r\n");
    for (int i = 0; i < 400; i++)
        strbuf_append(&text, i % 10 == 9 ? "=" : "x", 1);
    strbuf_puts(&text, "\ntrailing blanks  \ntab\t\nlast line\n");
    size_t want_len;
    char *want_text = crlf(text.buf, text.len, &want_len);

    const char csv[] = "time.source,source.ip\r\n2026-11-23T00:00:00+00:00,192.0.2.1\r\n=cmd,x\r\n";
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)(i * 7);
    const char *csv_name = "ཞབས་ཏོག་གི་སྙན་ཞུ་ events 2026-11-23 ཞབས་ཏོག་གི་སྙན་ཞུ་.csv";
    mime_part parts[] = {
        {"text/plain; charset=utf-8", NULL, text.buf, text.len},
        {"text/csv; charset=utf-8", csv_name, csv, strlen(csv)},
        {"application/octet-stream", "blob.bin", (const char *)bin, sizeof bin},
    };
    strbuf ent, msg;
    strbuf_init(&ent);
    strbuf_init(&msg);
    dz_err e = {0};
    assert_dz_ok(mime_entity(parts, 3, &ent, &e), e);
    const char *subject = "[Druk CIRT] ཞབས་ཏོག་ 1234 events — Ōtsuka «test» with a long tail of words to fold over "
                          "several lines";
    mail_headers h = {
        .from_addr = "cirt@example.bt",
        .from_name = "Druk CIRT, Ops",
        .to_addr = "abuse@isp.example",
        .to_name = "Ōtsuka \"NOC\"",
        .subject = subject,
        .message_id = "<20261123.1@example.bt>",
        .date = 1795423009,
    };
    assert_dz_ok(mime_message(&h, ent.buf, ent.len, &msg, &e), e);

    char path[] = "/tmp/dzong-mime-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, msg.buf, msg.len), (ssize_t)msg.len);
    close(fd);
    char *cmd = xmalloc(sizeof py_script + 64);
    snprintf(cmd, sizeof py_script + 64, "python3 -c '%s' %s 2>&1", py_script, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    strbuf out;
    strbuf_init(&out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        strbuf_append(&out, buf, n);
    int status = pclose(p);
    unlink(path);
    free(cmd);
    if (status != 0)
        fail_msg("python3 failed (%d):\n%s", status, out.buf ? out.buf : "");

    expect_line(out.buf, "subject", subject, strlen(subject));
    expect_line(out.buf, "from_name", h.from_name, strlen(h.from_name));
    expect_line(out.buf, "from_addr", h.from_addr, strlen(h.from_addr));
    expect_line(out.buf, "to_name", h.to_name, strlen(h.to_name));
    const char *iso = "2026-11-23T08:36:49+00:00";
    expect_line(out.buf, "date", iso, strlen(iso));
    assert_contains(out.buf, "type multipart/mixed\n");
    /* the parts: type, filename, content */
    char *fn = hex("-", 1), *body = hex(want_text, want_len);
    size_t need = strlen(fn) + strlen(body) + 64;
    char *line = xmalloc(need);
    snprintf(line, need, "part text/plain 2d %s\n", body);
    if (!strstr(out.buf, line))
        fail_msg("text part differs:\n%s", out.buf);
    free(fn);
    free(body);
    free(line);
    fn = hex(csv_name, strlen(csv_name));
    body = hex(csv, strlen(csv));
    need = strlen(fn) + strlen(body) + 64;
    line = xmalloc(need);
    snprintf(line, need, "part text/csv %s %s\n", fn, body);
    if (!strstr(out.buf, line))
        fail_msg("csv part differs:\n%s", out.buf);
    free(fn);
    free(body);
    free(line);
    fn = hex("blob.bin", 8);
    body = hex((const char *)bin, sizeof bin);
    need = strlen(fn) + strlen(body) + 64;
    line = xmalloc(need);
    snprintf(line, need, "part application/octet-stream %s %s\n", fn, body);
    if (!strstr(out.buf, line))
        fail_msg("binary part differs:\n%s", out.buf);
    free(fn);
    free(body);
    free(line);
    assert_contains(out.buf, "defects 0\n");

    strbuf_free(&out);
    strbuf_free(&text);
    strbuf_free(&ent);
    strbuf_free(&msg);
    free(want_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qp),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_multipart_mixed),
        cmocka_unit_test(test_filenames),
        cmocka_unit_test(test_entity_refusals),
        cmocka_unit_test(test_signed),
        cmocka_unit_test(test_encrypted),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_long_encoded_words),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_address_ok),
        cmocka_unit_test(test_python_email),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
