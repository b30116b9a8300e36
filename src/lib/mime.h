/*
 * mime: Internet messages (RFC 5322, MIME RFC 2045-2049, PGP/MIME RFC 3156)
 * for notifications, built in memory, with CRLF line ends throughout.
 *
 * A message is built inside out: the body entity (one text part, or
 * multipart/mixed of the text and its attachments), then optionally the
 * PGP/MIME wrapper (multipart/signed around the entity and a detached
 * signature, or multipart/encrypted around ciphertext), then the headers.
 * The entity is produced in the canonical form RFC 3156 signs (CRLF, no
 * trailing blanks, 7-bit: text is quoted-printable, attachments base64), so
 * a signature made over mime_entity's output verifies at the recipient.
 *
 * No I/O, no crypto: the caller (notify/) signs and encrypts with GPGME.
 * Boundaries are random (libsodium), 32 hex digits after "=_dzong_", and so
 * never occur in quoted-printable or base64 text.
 */
#ifndef DZ_MIME_H
#define DZ_MIME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/strbuf.h"

typedef struct mime_part {
    const char *content_type; /* "text/plain; charset=utf-8", "text/csv; charset=utf-8", "application/json" */
    const char *filename;     /* NULL: inline body text; else an attachment (RFC 2231 when not ASCII) */
    const char *data;
    size_t len;
} mime_part;

/*
 * Appends the body entity to out: with n == 1 the part itself (headers
 * Content-Type, Content-Transfer-Encoding and, for an attachment,
 * Content-Disposition), with n > 1 a multipart/mixed of the parts in order.
 * Parts whose type starts with "text/" are quoted-printable (UTF-8 kept
 * byte for byte, lines of any length), others base64 in 76-column lines.
 * DZ_EINVAL: n == 0, a content type or filename with CR, LF or '"'.
 */
dz_code mime_entity(const mime_part *parts, size_t n, strbuf *out, dz_err *e);

/*
 * multipart/signed; protocol="application/pgp-signature"; micalg=MICALG
 * ("pgp-sha256") around entity (exactly as signed) and the ASCII-armoured
 * detached signature.
 */
dz_code mime_signed(const char *entity, size_t entity_len, const char *signature, size_t sig_len, const char *micalg,
                    strbuf *out, dz_err *e);

/* multipart/encrypted; protocol="application/pgp-encrypted" around ASCII-armoured ciphertext. */
dz_code mime_encrypted(const char *armored, size_t len, strbuf *out, dz_err *e);

typedef struct mail_header {
    const char *name;  /* "X-Dzong-Ticket" */
    const char *value; /* ASCII; CR and LF refused */
} mail_header;

typedef struct mail_headers {
    const char *from_addr, *from_name; /* name may be NULL; non-ASCII names become encoded words */
    const char *to_addr, *to_name;
    const char *reply_to;              /* NULL: none */
    const char *subject;               /* UTF-8; RFC 2047 encoded words when not ASCII, folded */
    const char *message_id;            /* "<...@...>" */
    int64_t date;                      /* Unix time, written as RFC 5322 date in UTC (+0000) */
    const mail_header *extra;          /* NULL or n_extra more (Auto-Submitted, X-Dzong-Ticket) */
    size_t n_extra;
} mail_headers;

/*
 * Appends the whole message: the headers (From, To, Reply-To, Subject, Date,
 * Message-ID, MIME-Version, the extra ones), then entity, which starts with
 * its own Content-Type header lines (as mime_entity, mime_signed and
 * mime_encrypted write it). DZ_EINVAL: an address that is not
 * local@domain in printable ASCII, CR or LF in any header value.
 */
dz_code mime_message(const mail_headers *h, const char *entity, size_t entity_len, strbuf *out, dz_err *e);

/* An RFC 5322 addr-spec dzong will write into a header: printable ASCII, one '@', no blanks, <= 254 bytes. */
bool mime_address_ok(const char *addr);

#endif
