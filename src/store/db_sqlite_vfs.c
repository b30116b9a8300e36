/*
 * db_sqlite_vfs.c: a VFS over SQLite's default one that gathers the writes to
 * the write-ahead log into large ones.
 *
 * SQLite writes each frame of the log as two pwrite calls (the 24-byte frame
 * header, then the page), so a feed ingest made about 340,000 system calls per
 * million events, each a partial page for the kernel to fill. Here the log's
 * writes that follow one another go into a buffer, which goes to the file in
 * one write when it is full, before a sync or a truncation, before a write
 * elsewhere in the file, and before a read of bytes it holds
 * only partly (a read wholly inside it is answered from it). Every other file
 * (the database, its journals) is the default VFS's own, untouched.
 *
 * Why SQLite's guarantees hold: every connection runs synchronous=FULL
 * (db_sqlite.c), so a commit syncs the log before it publishes its frames in
 * the shared index; the sync writes the buffer first, so a committed frame is
 * in the file before any reader (this process or another, with or without
 * this VFS) can know of it. What stays buffered belongs to a transaction that
 * has not committed. If that transaction is rolled back, its frames must never
 * reach the file later, when another connection may have written its own
 * frames at the same offsets: db_sqlite.c's rollback hook drops the buffer
 * (db_sqlite_vfs_rolled_back), and closing drops it too. Without the buffer
 * those frames would have gone to the file at once, under the write lock,
 * past the last commit, where nobody reads them. A crash loses only the
 * buffer, i.e. writes that were never synced, and the log's checksums end
 * recovery before anything incomplete.
 */
#include "store/db_driver.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* 16 frames of 4 KiB pages. Not more than 128 KiB: the default VFS writes at most 128 KiB - 1 bytes a call
 * (os_unix.c masks the length with 0x1ffff) and reports a longer write as a full disk. */
#define LOG_BUFFER_BYTES (64 * 1024)

/* A log file: this, then the default VFS's file (at real). Any other file is the default VFS's file alone. */
typedef struct log_file {
    sqlite3_file base;
    sqlite3_file *real;
    char *buf;           /* LOG_BUFFER_BYTES, allocated at the first write */
    size_t len;          /* bytes in buf, to be written at offset at */
    sqlite3_int64 at;
} log_file;

static sqlite3_vfs vfs_gathering;
static sqlite3_vfs *vfs_default;

static int log_flush(log_file *f)
{
    if (!f->len)
        return SQLITE_OK;
    int rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->at);
    f->len = 0;
    return rc;
}

/* Writes the buffer, then returns what call returns. */
#define FLUSHED(f, call)                                                                                               \
    do {                                                                                                               \
        int rc_ = log_flush(f);                                                                                        \
        return rc_ != SQLITE_OK ? rc_ : (call);                                                                        \
    } while (0)
#define REAL(p) (((log_file *)(p))->real)

/* What is still buffered at close belongs to no committed transaction (see the top): it is dropped. */
static int log_close(sqlite3_file *p)
{
    log_file *f = (log_file *)p;
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
    return f->real->pMethods->xClose(f->real);
}

static int log_write(sqlite3_file *p, const void *data, int n, sqlite3_int64 off)
{
    log_file *f = (log_file *)p;
    if (f->len && off != f->at + (sqlite3_int64)f->len) {
        int rc = log_flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    if ((size_t)n > LOG_BUFFER_BYTES / 2) /* large writes gain nothing from a copy */
        FLUSHED(f, f->real->pMethods->xWrite(f->real, data, n, off));
    if (!f->buf && !(f->buf = malloc(LOG_BUFFER_BYTES)))
        return f->real->pMethods->xWrite(f->real, data, n, off); /* unbuffered, but correct */
    if (f->len + (size_t)n > LOG_BUFFER_BYTES) {
        int rc = log_flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (!f->len)
        f->at = off;
    memcpy(f->buf + f->len, data, (size_t)n);
    f->len += (size_t)n;
    return SQLITE_OK;
}

/* A read of buffered bytes is answered from the buffer; a read elsewhere leaves the buffer alone. */
static int log_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off)
{
    log_file *f = (log_file *)p;
    sqlite3_int64 end = f->at + (sqlite3_int64)f->len;
    if (f->len && off >= f->at && off + n <= end) {
        memcpy(out, f->buf + (off - f->at), (size_t)n);
        return SQLITE_OK;
    }
    if (f->len && off < end && off + n > f->at) {
        int rc = log_flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xRead(f->real, out, n, off);
}
static int log_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
    log_file *f = (log_file *)p;
    int rc = f->real->pMethods->xFileSize(f->real, size);
    if (rc == SQLITE_OK && f->len && *size < f->at + (sqlite3_int64)f->len)
        *size = f->at + (sqlite3_int64)f->len;
    return rc;
}
/* A truncation and a sync write the buffer first, then do what the default VFS does. */
static int log_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    FLUSHED((log_file *)p, REAL(p)->pMethods->xTruncate(REAL(p), size));
}
static int log_sync(sqlite3_file *p, int flags)
{
    FLUSHED((log_file *)p, REAL(p)->pMethods->xSync(REAL(p), flags));
}
/* The rest as the default VFS does them: a file control (a size hint, at most) needs no buffered byte. */
static int log_file_control(sqlite3_file *p, int op, void *arg) { return REAL(p)->pMethods->xFileControl(REAL(p), op, arg); }
static int log_lock(sqlite3_file *p, int level) { return REAL(p)->pMethods->xLock(REAL(p), level); }
static int log_unlock(sqlite3_file *p, int level) { return REAL(p)->pMethods->xUnlock(REAL(p), level); }
static int log_check_reserved(sqlite3_file *p, int *out) { return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out); }
static int log_sector_size(sqlite3_file *p) { return REAL(p)->pMethods->xSectorSize(REAL(p)); }
static int log_device_characteristics(sqlite3_file *p) { return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p)); }

/* Version 1: a log file has no shared memory of its own and is never memory-mapped. */
static const sqlite3_io_methods log_methods = {
    .iVersion = 1,
    .xClose = log_close,
    .xRead = log_read,
    .xWrite = log_write,
    .xTruncate = log_truncate,
    .xSync = log_sync,
    .xFileSize = log_file_size,
    .xLock = log_lock,
    .xUnlock = log_unlock,
    .xCheckReservedLock = log_check_reserved,
    .xFileControl = log_file_control,
    .xSectorSize = log_sector_size,
    .xDeviceCharacteristics = log_device_characteristics,
};

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags, int *out_flags)
{
    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL))
        return vfs_default->xOpen(vfs_default, name, p, flags, out_flags);
    log_file *f = (log_file *)p;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = vfs_default->xOpen(vfs_default, name, f->real, flags, out_flags);
    /* SQLite calls xClose only when pMethods is set: set it only over an open file */
    f->base.pMethods = rc == SQLITE_OK && f->real->pMethods ? &log_methods : NULL;
    return rc;
}

static int vfs_register_rc = SQLITE_ERROR;
static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;

static void vfs_register(void)
{
    vfs_default = sqlite3_vfs_find(NULL);
    if (!vfs_default)
        return;
    vfs_gathering = *vfs_default;
    vfs_gathering.zName = DB_SQLITE_VFS;
    vfs_gathering.pNext = NULL;
    vfs_gathering.xOpen = vfs_open;
    /* room for either a log_file with the default file after it, or the default file alone */
    vfs_gathering.szOsFile = (int)sizeof(log_file) + vfs_default->szOsFile;
    vfs_register_rc = sqlite3_vfs_register(&vfs_gathering, 0);
}

int db_sqlite_vfs_register(void)
{
    pthread_once(&vfs_once, vfs_register);
    return vfs_register_rc;
}

void db_sqlite_vfs_rolled_back(sqlite3 *h)
{
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(h, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) == SQLITE_OK && f &&
        f->pMethods == &log_methods)
        ((log_file *)f)->len = 0;
}
