/*
 * csv: a streaming RFC 4180 reader and a field writer.
 *
 * The reader pulls bytes through a callback, so a 10-million-row report
 * never sits in memory whole; one record (at most max_record bytes) does.
 * Fields are returned unquoted, pointing into the reader's buffer: valid
 * until the next csv_next(). Line numbers count physical lines from 1, so
 * errors can say "line 812". A malformed record is reported and skipped;
 * the next call continues with the following record.
 *
 * Accepted beyond RFC 4180 because real feeds do it: LF or CRLF line ends,
 * a UTF-8 byte order mark at the start, a last record without a line end,
 * a quote inside an unquoted field (taken literally), and a configurable
 * delimiter. Blank lines are skipped. Refused: an unterminated quoted field,
 * text after a closing quote, a NUL byte, a record over max_record bytes.
 */
#ifndef DZ_CSV_H
#define DZ_CSV_H
#include <stddef.h>
#include <stdint.h>
#include "lib/dz_err.h"
#include "lib/strbuf.h"

/* Fills buf with up to cap bytes; returns the count, 0 at end of input, -1 on a read error. */
typedef long (*csv_read_fn)(void *arg, char *buf, size_t cap);

typedef struct csv_options {
    char delimiter;      /* default ',' */
    size_t max_record;   /* bytes of one record, default 1 MiB */
    size_t max_fields;   /* default 4096 */
} csv_options;

typedef struct csv_reader csv_reader;

typedef struct csv_record {
    size_t n;              /* fields */
    const char **fields;   /* NUL-terminated, unquoted */
    const size_t *lens;    /* byte lengths (fields may not contain NUL, so strlen agrees) */
    uint64_t line;         /* physical line where the record starts */
    const char *raw;       /* the record's bytes as read, without its line end */
    size_t raw_len;
} csv_record;

/*
 * opts NULL (or a zero member): defaults. NULL when out of memory, or when the
 * delimiter is a quote, CR or LF. Memory: an input buffer that starts at
 * 32 KiB and grows to 256 KiB on plentiful input (more, up to max_record +
 * 256 KiB, only for records that need it), and the largest record's fields.
 */
csv_reader *csv_reader_new(csv_read_fn read, void *arg, const csv_options *opts);
void csv_reader_free(csv_reader *r);

/*
 * 1: *rec holds the next record. 0: end of input. -1: error in e; a bad
 * record (DZ_EINVAL, "line 7: field 2: unterminated quoted field") can be
 * skipped by calling again, and rec->line then holds its line (the rest of
 * *rec is empty); DZ_EIO (the read callback failed) and DZ_ENOMEM cannot:
 * every later call fails the same way.
 *
 * A CR just before a line's LF (or at the end of the input) belongs to the
 * line end, elsewhere it is data. A record of one empty unquoted field is a
 * blank line and skipped; write it as "" to keep it.
 */
int csv_next(csv_reader *r, csv_record *rec, dz_err *e);

/* A reader over a memory buffer (tests, request bodies): arg for csv_reader_new with csv_read_memory. */
typedef struct csv_memory {
    const char *data;
    size_t len, pos;
} csv_memory;
long csv_read_memory(void *arg, char *buf, size_t cap);
/* arg is an int * file descriptor; retries EINTR. */
long csv_read_fd(void *arg, char *buf, size_t cap);

/*
 * Appends one field, quoted when it holds the delimiter, a quote, CR or LF,
 * starts/ends with a space, or starts with a UTF-8 byte order mark. An empty
 * field is written as nothing (so a record of one empty field needs "").
 */
void csv_write_field(strbuf *out, const char *field, size_t len, char delimiter);

#endif
