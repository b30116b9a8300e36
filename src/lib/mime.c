/*
 * mime: message, entity and PGP/MIME writers.
 *
 * Every function checks all its input before it writes, or truncates out
 * back to where it started when it fails, so a caller never finds half a
 * message in its buffer.
 *
 * Header lines are kept to 78 characters where the content allows it:
 * unstructured ASCII text folds at its blanks, and text that cannot
 * (non-ASCII, a word longer than a line) becomes RFC 2047 encoded words,
 * which can be cut between any two characters.
 */
#include "lib/mime.h"
#include "lib/utf8.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LINE_SOFT 78   /* RFC 5322 2.1.1: SHOULD */
#define LINE_HARD 998  /* RFC 5322 2.1.1: MUST */
#define QP_LINE 76     /* RFC 2045 6.7 (5) */
#define B64_LINE 76    /* RFC 2045 6.8 */
#define WORD_MAX 75    /* RFC 2047 2: an encoded word */
#define BOUNDARY_LEN 40 /* "=_dzong_" and 32 hex digits */

static const char hexd[] = "0123456789ABCDEF";

static void truncate_to(strbuf *out, size_t len)
{
    if (out->buf && out->len > len) {
        out->len = len;
        out->buf[len] = '\0';
    }
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* ---- boundaries ---- */

static void new_boundary(char b[BOUNDARY_LEN + 1])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    memcpy(b, "=_dzong_", 8);
    sodium_bin2hex(b + 8, 33, r, sizeof r);
}

/* A boundary that occurs in none of the given texts (random, so the first one practically always). */
static void pick_boundary(char b[BOUNDARY_LEN + 1], const char *a, size_t alen, const char *c, size_t clen)
{
    for (;;) {
        new_boundary(b);
        if ((!a || !memmem(a, alen, b, BOUNDARY_LEN)) && (!c || !memmem(c, clen, b, BOUNDARY_LEN)))
            return;
    }
}

/* ---- body encodings ---- */

/*
 * Quoted-printable of text whose lines end in LF or CRLF (both become
 * CRLF). Besides what RFC 2045 requires ('=', controls, 8-bit bytes,
 * blanks at a line end), a '.' or "From " at the start of an output line
 * is encoded too: relays that add dots or '>' then have nothing to change.
 */
static void qp_encode(strbuf *out, const char *text, size_t n)
{
    const unsigned char *d = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        const unsigned char *nl = memchr(d + i, '\n', n - i);
        size_t eol = nl ? (size_t)(nl - d) : n;
        size_t end = nl && eol > i && d[eol - 1] == '\r' ? eol - 1 : eol; /* a CR of CRLF, not a last lone CR */
        size_t col = 0;
        char tok[3];
        for (size_t k = i; k < end; k++) {
            unsigned char ch = d[k];
            bool last = k + 1 == end;
            for (int pass = 0; pass < 2; pass++) {
                bool lit = (ch == ' ' || ch == '\t') ? !last : (ch >= 33 && ch <= 126 && ch != '=');
                if (col == 0 && (ch == '.' || (ch == 'F' && end - k >= 5 && memcmp(d + k, "From ", 5) == 0)))
                    lit = false;
                size_t w = lit ? 1 : 3;
                /* a UTF-8 character's escapes stay on one line, so a line never ends in half a character */
                size_t run = 1;
                if (ch >= 0xc0 && pass == 0) {
                    run = utf8_char_len(d + k, end - k);
                    if (run == 0)
                        run = 1;
                }
                bool run_last = k + run == end;
                /* the line's last token may take column 76; any other leaves room for the soft break's '=' */
                if (col + w * run > (run_last ? QP_LINE : QP_LINE - 1) && pass == 0) {
                    strbuf_append(out, "=\r\n", 3);
                    col = 0;
                    continue; /* what is literal may differ at a line start */
                }
                if (lit) {
                    tok[0] = (char)ch;
                } else {
                    tok[0] = '=';
                    tok[1] = hexd[ch >> 4];
                    tok[2] = hexd[ch & 15];
                }
                strbuf_append(out, tok, w);
                col += w;
                break;
            }
        }
        if (!nl)
            break;
        strbuf_append(out, "\r\n", 2);
        i = eol + 1;
    }
}

static void base64_encode(strbuf *out, const char *data, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *d = (const unsigned char *)data;
    /* 57 bytes make one 76-character line */
    for (size_t i = 0; i < n; i += 57) {
        size_t m = n - i < 57 ? n - i : 57;
        char line[B64_LINE + 2];
        size_t o = 0;
        for (size_t k = 0; k < m; k += 3) {
            uint32_t v = (uint32_t)d[i + k] << 16;
            if (k + 1 < m)
                v |= (uint32_t)d[i + k + 1] << 8;
            if (k + 2 < m)
                v |= d[i + k + 2];
            line[o++] = b64[v >> 18];
            line[o++] = b64[(v >> 12) & 63];
            line[o++] = k + 1 < m ? b64[(v >> 6) & 63] : '=';
            line[o++] = k + 2 < m ? b64[v & 63] : '=';
        }
        line[o++] = '\r';
        line[o++] = '\n';
        strbuf_append(out, line, o);
    }
}

/* Copies ASCII armour with its line ends made CRLF. */
static void crlf_copy(strbuf *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t eol = nl ? (size_t)(nl - s) : n;
        size_t end = nl && eol > i && s[eol - 1] == '\r' ? eol - 1 : eol;
        strbuf_append(out, s + i, end - i);
        if (!nl)
            break;
        strbuf_append(out, "\r\n", 2);
        i = eol + 1;
    }
}

static bool armour_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0 || c >= 0x80)
            return false;
    }
    return true;
}

/* ---- entities ---- */

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool content_type_ok(const char *ct)
{
    if (!ct || !strchr(ct, '/'))
        return false;
    for (const unsigned char *p = (const unsigned char *)ct; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"')
            return false;
    return true;
}

/* RFC 2231 attr-char: what a parameter value may hold unencoded. */
static bool attr_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$&+-.^_`|~", c));
}

/* "; filename=..." for a Content-Disposition line that is at column col. */
static void write_filename(strbuf *out, size_t col, const char *fn)
{
    size_t n = strlen(fn);
    bool plain = n <= 60;
    for (size_t i = 0; plain && i < n; i++)
        plain = fn[i] >= 0x20 && fn[i] <= 0x7e;
    if (plain) {
        size_t esc = 0;
        for (size_t i = 0; i < n; i++)
            esc += fn[i] == '\\';
        if (col + 13 + n + esc > LINE_SOFT)
            strbuf_append(out, ";\r\n filename=\"", 14);
        else
            strbuf_append(out, "; filename=\"", 12);
        for (size_t i = 0; i < n; i++) {
            if (fn[i] == '\\')
                strbuf_append(out, "\\", 1);
            strbuf_append(out, fn + i, 1);
        }
        strbuf_append(out, "\"", 1);
        return;
    }
    /* RFC 2231: percent-encoded UTF-8, cut into numbered pieces that each fit a line */
    strbuf enc;
    strbuf_init(&enc);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)fn[i];
        if (attr_char(c)) {
            strbuf_append(&enc, (const char *)&c, 1);
        } else {
            char t[3] = {'%', hexd[c >> 4], hexd[c & 15]};
            strbuf_append(&enc, t, 3);
        }
    }
    if (enc.oom) {
        out->oom = true;
        strbuf_free(&enc);
        return;
    }
    const size_t piece = 54;
    if (enc.len + 8 <= piece) {
        strbuf_append(out, ";\r\n filename*=utf-8''", 21);
        strbuf_append(out, enc.buf, enc.len);
    } else {
        size_t at = 0;
        for (unsigned k = 0; at < enc.len; k++) {
            size_t m = enc.len - at < piece ? enc.len - at : piece;
            /* never cut a %XX in two */
            if (at + m < enc.len) {
                if (m >= 1 && enc.buf[at + m - 1] == '%')
                    m -= 1;
                else if (m >= 2 && enc.buf[at + m - 2] == '%')
                    m -= 2;
            }
            strbuf_printf(out, ";\r\n filename*%u*=%s", k, k == 0 ? "utf-8''" : "");
            strbuf_append(out, enc.buf + at, m);
            at += m;
        }
    }
    strbuf_free(&enc);
}

static void write_part(strbuf *out, const mime_part *p)
{
    bool text = starts_with_ci(p->content_type, "text/");
    strbuf_printf(out, "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n", p->content_type,
                  text ? "quoted-printable" : "base64");
    if (p->filename) {
        strbuf_append(out, "Content-Disposition: attachment", 31);
        write_filename(out, 31, p->filename);
        strbuf_append(out, "\r\n", 2);
    }
    strbuf_append(out, "\r\n", 2);
    const char *data = p->data ? p->data : "";
    if (text)
        qp_encode(out, data, p->len);
    else
        base64_encode(out, data, p->len);
}

dz_code mime_entity(const mime_part *parts, size_t n, strbuf *out, dz_err *e)
{
    if (n == 0 || !parts)
        return dz_fail(e, DZ_EINVAL, "mime: no parts");
    for (size_t i = 0; i < n; i++) {
        if (!content_type_ok(parts[i].content_type))
            return dz_fail(e, DZ_EINVAL, "mime: part %zu: bad content type (printable ASCII, no quotes)", i + 1);
        if (parts[i].filename && (!parts[i].filename[0] || strpbrk(parts[i].filename, "\r\n\"") ||
                                  !utf8_valid(parts[i].filename, strlen(parts[i].filename))))
            return dz_fail(e, DZ_EINVAL, "mime: part %zu: bad filename (UTF-8, no CR, LF or quote)", i + 1);
        if (!parts[i].data && parts[i].len)
            return dz_fail(e, DZ_EINVAL, "mime: part %zu: no data", i + 1);
    }
    size_t start = out->len;
    if (n == 1) {
        write_part(out, &parts[0]);
    } else {
        /* "=_" is neither quoted-printable nor base64, so the boundary cannot occur in a part */
        char b[BOUNDARY_LEN + 1];
        new_boundary(b);
        strbuf_printf(out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n", b);
        for (size_t i = 0; i < n; i++) {
            strbuf_printf(out, "%s--%s\r\n", i ? "\r\n" : "", b);
            write_part(out, &parts[i]);
        }
        strbuf_printf(out, "\r\n--%s--\r\n", b);
    }
    if (out->oom) {
        truncate_to(out, start);
        return dz_fail(e, DZ_ENOMEM, "mime: out of memory");
    }
    return DZ_OK;
}

dz_code mime_signed(const char *entity, size_t entity_len, const char *signature, size_t sig_len, const char *micalg,
                    strbuf *out, dz_err *e)
{
    if (!entity || entity_len == 0)
        return dz_fail(e, DZ_EINVAL, "mime: nothing signed");
    if (!signature || sig_len == 0 || !armour_ok(signature, sig_len))
        return dz_fail(e, DZ_EINVAL, "mime: the signature is not ASCII armour");
    size_t ml = micalg ? strlen(micalg) : 0;
    if (ml == 0 || ml > 32 || strspn(micalg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != ml)
        return dz_fail(e, DZ_EINVAL, "mime: bad micalg (\"pgp-sha256\")");
    char b[BOUNDARY_LEN + 1];
    pick_boundary(b, entity, entity_len, signature, sig_len);
    size_t start = out->len;
    strbuf_puts(out, "Content-Type: multipart/signed; micalg=");
    /* RFC 3156 5: the micalg value is lower case */
    for (size_t i = 0; i < ml; i++) {
        char c = (char)tolower((unsigned char)micalg[i]);
        strbuf_append(out, &c, 1);
    }
    strbuf_printf(out,
                  ";\r\n protocol=\"application/pgp-signature\";\r\n boundary=\"%s\"\r\n\r\n"
                  "This is an OpenPGP/MIME signed message (RFC 4880 and 3156).\r\n"
                  "--%s\r\n",
                  b, b);
    strbuf_append(out, entity, entity_len);
    strbuf_printf(out,
                  "\r\n--%s\r\n"
                  "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
                  "Content-Description: OpenPGP digital signature\r\n"
                  "Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n",
                  b);
    crlf_copy(out, signature, sig_len);
    strbuf_printf(out, "\r\n--%s--\r\n", b);
    if (out->oom) {
        truncate_to(out, start);
        return dz_fail(e, DZ_ENOMEM, "mime: out of memory");
    }
    return DZ_OK;
}

dz_code mime_encrypted(const char *armored, size_t len, strbuf *out, dz_err *e)
{
    if (!armored || len == 0 || !armour_ok(armored, len))
        return dz_fail(e, DZ_EINVAL, "mime: the ciphertext is not ASCII armour");
    char b[BOUNDARY_LEN + 1];
    pick_boundary(b, armored, len, NULL, 0);
    size_t start = out->len;
    strbuf_printf(out,
                  "Content-Type: multipart/encrypted;\r\n protocol=\"application/pgp-encrypted\";\r\n"
                  " boundary=\"%s\"\r\n\r\n"
                  "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156).\r\n"
                  "--%s\r\n"
                  "Content-Type: application/pgp-encrypted\r\n"
                  "Content-Description: PGP/MIME version identification\r\n\r\n"
                  "Version: 1\r\n"
                  "\r\n--%s\r\n"
                  "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
                  "Content-Description: OpenPGP encrypted message\r\n"
                  "Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n",
                  b, b, b);
    crlf_copy(out, armored, len);
    strbuf_printf(out, "\r\n--%s--\r\n", b);
    if (out->oom) {
        truncate_to(out, start);
        return dz_fail(e, DZ_ENOMEM, "mime: out of memory");
    }
    return DZ_OK;
}

/* ---- headers ---- */

typedef struct hdr {
    strbuf *out;
    size_t col; /* characters on the current line */
} hdr;

static void h_put(hdr *h, const char *s, size_t n)
{
    strbuf_append(h->out, s, n);
    h->col += n;
}

static void h_fold(hdr *h)
{
    strbuf_append(h->out, "\r\n", 2);
    h->col = 0;
}

/* Q's safe set in a phrase (RFC 2047 5 (3)), which is also safe in unstructured text. */
static bool q_plain(unsigned char c)
{
    return isalnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_width(unsigned char c)
{
    return q_plain(c) || c == ' ' ? 1 : 3;
}

/*
 * Writes s as encoded words, each preceded by a blank, cut between UTF-8
 * characters so that every word and every line stays within its limit.
 * Blanks between encoded words are not part of the text (RFC 2047 6.2), so
 * the text's own blanks are always inside a word.
 */
static void h_encoded(hdr *h, const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t qlen = 0;
    for (size_t i = 0; i < n; i++)
        qlen += q_width(s[i]);
    bool q = qlen <= (n + 2) / 3 * 4; /* Q when it is no longer than B: readable in the raw message */
    const size_t over = 12;           /* "=?utf-8?B?" and "?=" */
    size_t i = 0;
    while (i < n) {
        size_t room = h->col + 1 < LINE_SOFT ? LINE_SOFT - h->col - 1 : 0;
        if (room > WORD_MAX)
            room = WORD_MAX;
        /* take whole characters while they fit */
        size_t take = 0, width = 0;
        while (i + take < n) {
            size_t k = utf8_char_len(s + i + take, n - i - take);
            if (k == 0)
                k = 1; /* checked by the caller; never loop forever */
            size_t w;
            if (q) {
                w = width;
                for (size_t j = 0; j < k; j++)
                    w += q_width(s[i + take + j]);
            } else {
                w = (take + k + 2) / 3 * 4;
            }
            if (over + w > room)
                break;
            take += k;
            width = w;
        }
        if (take == 0) {
            /* no character fits behind what this line holds: continue on the next */
            h_fold(h);
            continue;
        }
        strbuf_append(h->out, q ? " =?utf-8?Q?" : " =?utf-8?B?", 11);
        if (q) {
            for (size_t j = 0; j < take; j++) {
                unsigned char c = s[i + j];
                if (c == ' ') {
                    strbuf_append(h->out, "_", 1);
                } else if (q_plain(c)) {
                    strbuf_append(h->out, (const char *)&c, 1);
                } else {
                    char t[3] = {'=', hexd[c >> 4], hexd[c & 15]};
                    strbuf_append(h->out, t, 3);
                }
            }
        } else {
            char b64[WORD_MAX + 1];
            sodium_bin2base64(b64, sizeof b64, s + i, take, sodium_base64_VARIANT_ORIGINAL);
            strbuf_puts(h->out, b64);
        }
        strbuf_append(h->out, "?=", 2);
        h->col += 1 + over + width;
        i += take;
    }
}

static bool ascii_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 0x20 && s[i] <= 0x7e) || s[i] == '\t'))
            return false;
    return true;
}

/*
 * Writes ASCII unstructured text (each piece: its blanks and the word after
 * them), folding before a piece that would pass column 78. Returns false,
 * having written nothing, when some line would still be longer than limit.
 */
static bool h_unstructured(hdr *h, const char *s, size_t n, size_t limit)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t col = h->col + 1; /* the blank after the colon */
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && (s[j] == ' ' || s[j] == '\t'))
                j++;
            while (j < n && s[j] != ' ' && s[j] != '\t')
                j++;
            bool fold = i > 0 && col + (j - i) > LINE_SOFT;
            col = fold ? j - i : col + (j - i);
            if (pass == 0 && col > limit)
                return false;
            if (pass == 1) {
                if (fold)
                    h_fold(h);
                else if (i == 0)
                    h_put(h, " ", 1);
                h_put(h, s + i, j - i);
            }
            i = j;
        }
    }
    return true;
}

/* A display name as a phrase: an atom sequence, a quoted string, or encoded words. */
static void h_phrase(hdr *h, const char *name)
{
    size_t n = strlen(name);
    if (ascii_text(name, n) && !strstr(name, "=?")) {
        bool quote = name[0] == ' ' || n == 0 || name[n - 1] == ' ' || strstr(name, "  ") || strchr(name, '\t');
        size_t esc = 0;
        for (size_t i = 0; i < n; i++) {
            if (strchr("()<>[]:;@\\,.\"", name[i]))
                quote = true;
            esc += name[i] == '\\' || name[i] == '"';
        }
        size_t w = n + esc + (quote ? 2 : 0);
        if (h->col + 1 + w <= LINE_SOFT) {
            h_put(h, " ", 1);
            if (quote)
                h_put(h, "\"", 1);
            for (size_t i = 0; i < n; i++) {
                if (name[i] == '\\' || name[i] == '"')
                    h_put(h, "\\", 1);
                h_put(h, name + i, 1);
            }
            if (quote)
                h_put(h, "\"", 1);
            return;
        }
    }
    h_encoded(h, name, n);
}

static void h_address(hdr *h, const char *field, const char *addr, const char *name)
{
    h->col = 0;
    h_put(h, field, strlen(field));
    h_put(h, ":", 1);
    size_t al = strlen(addr);
    if (!name || !name[0]) {
        h_put(h, " ", 1);
        h_put(h, addr, al);
    } else {
        h_phrase(h, name);
        if (h->col + 3 + al > LINE_SOFT)
            h_fold(h);
        h_put(h, " <", 2);
        h_put(h, addr, al);
        h_put(h, ">", 1);
    }
    h_fold(h);
}

bool mime_address_ok(const char *addr)
{
    if (!addr)
        return false;
    size_t n = strlen(addr);
    const char *at = strchr(addr, '@');
    if (n == 0 || n > 254 || !at || strchr(at + 1, '@') || at == addr || at[1] == '\0')
        return false;
    /* dot-atoms on both sides: printable ASCII without the specials that would end the address */
    for (const char *p = addr; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '@')
            continue;
        if (c <= 0x20 || c >= 0x7f || strchr("()<>[]:;\\,\"", c))
            return false;
        if (c == '.' && (p == addr || p[-1] == '.' || p[-1] == '@' || p[1] == '@' || p[1] == '\0'))
            return false;
    }
    return true;
}

static bool message_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 5 || n > 250 || id[0] != '<' || id[n - 1] != '>')
        return false;
    int ats = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
            return false;
        ats += c == '@';
    }
    return ats == 1;
}

static bool field_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 76)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ':')
            return false;
    /* the ones this module writes itself */
    static const char *const own[] = {"From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcasecmp(s, own[i]) == 0)
            return false;
    return !starts_with_ci(s, "Content-");
}

static bool name_ok(const char *name)
{
    return !name || (!has_crlf(name) && utf8_valid(name, strlen(name)));
}

dz_code mime_message(const mail_headers *h, const char *entity, size_t entity_len, strbuf *out, dz_err *e)
{
    if (!mime_address_ok(h->from_addr))
        return dz_fail(e, DZ_EINVAL, "mime: bad From address '%.80s'", h->from_addr ? h->from_addr : "");
    if (!mime_address_ok(h->to_addr))
        return dz_fail(e, DZ_EINVAL, "mime: bad To address '%.80s'", h->to_addr ? h->to_addr : "");
    if (h->reply_to && !mime_address_ok(h->reply_to))
        return dz_fail(e, DZ_EINVAL, "mime: bad Reply-To address '%.80s'", h->reply_to);
    if (!name_ok(h->from_name) || !name_ok(h->to_name))
        return dz_fail(e, DZ_EINVAL, "mime: a display name has CR, LF or is not UTF-8");
    const char *subject = h->subject ? h->subject : "";
    size_t sl = strlen(subject);
    if (has_crlf(subject) || !utf8_valid(subject, sl))
        return dz_fail(e, DZ_EINVAL, "mime: the subject has CR, LF or is not UTF-8");
    if (!message_id_ok(h->message_id))
        return dz_fail(e, DZ_EINVAL, "mime: bad Message-ID '%.80s' (\"<id@domain>\")",
                       h->message_id ? h->message_id : "");
    time_t t = (time_t)h->date;
    struct tm tm;
    if ((int64_t)t != h->date || !gmtime_r(&t, &tm) || tm.tm_year < 70 || tm.tm_year > 8099)
        return dz_fail(e, DZ_EINVAL, "mime: date %lld out of range", (long long)h->date);
    if (h->n_extra && !h->extra)
        return dz_fail(e, DZ_EINVAL, "mime: extra headers missing");
    for (size_t i = 0; i < h->n_extra; i++) {
        const mail_header *x = &h->extra[i];
        if (!field_name_ok(x->name))
            return dz_fail(e, DZ_EINVAL, "mime: bad header name '%.80s'", x->name ? x->name : "");
        if (!x->value || !ascii_text(x->value, strlen(x->value)))
            return dz_fail(e, DZ_EINVAL, "mime: header %s: value not printable ASCII (or has CR, LF)", x->name);
    }
    if (!entity || entity_len == 0)
        return dz_fail(e, DZ_EINVAL, "mime: no entity");

    size_t start = out->len;
    hdr w = {out, 0};
    h_address(&w, "From", h->from_addr, h->from_name);
    h_address(&w, "To", h->to_addr, h->to_name);
    if (h->reply_to)
        h_address(&w, "Reply-To", h->reply_to, NULL);

    w.col = 0;
    h_put(&w, "Subject:", 8);
    /* "=?" in plain text would be read as an encoded word: encode it then */
    if (!ascii_text(subject, sl) || strstr(subject, "=?") || !h_unstructured(&w, subject, sl, LINE_SOFT))
        h_encoded(&w, subject, sl);
    h_fold(&w);

    static const char wday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    strbuf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", wday[tm.tm_wday], tm.tm_mday,
                  mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    strbuf_printf(out, "Message-ID: %s\r\nMIME-Version: 1.0\r\n", h->message_id);

    for (size_t i = 0; i < h->n_extra; i++) {
        const mail_header *x = &h->extra[i];
        w.col = 0;
        h_put(&w, x->name, strlen(x->name));
        h_put(&w, ":", 1);
        if (!h_unstructured(&w, x->value, strlen(x->value), LINE_HARD)) {
            truncate_to(out, start);
            return dz_fail(e, DZ_EINVAL, "mime: header %s: a word too long for a line", x->name);
        }
        h_fold(&w);
    }
    strbuf_append(out, entity, entity_len);
    if (out->oom) {
        truncate_to(out, start);
        return dz_fail(e, DZ_ENOMEM, "mime: out of memory");
    }
    return DZ_OK;
}
