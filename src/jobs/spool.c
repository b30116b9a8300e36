/* spool.c: the spool directory watcher (see spool.h). */
#include "jobs/spool.h"
#include "ingest/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct spool {
    store *st;
    spool_config cfg;
    char dir[4096];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static dz_code mkdir_one(const char *path, dz_err *e)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return DZ_OK;
    return dz_fail(e, DZ_EIO, "cannot create %s: %s", path, strerror(errno));
}

dz_code spool_prepare_dirs(const char *dir, dz_err *e)
{
    char path[4200];
    if (mkdir_one(dir, e) != DZ_OK)
        return e->code;
    snprintf(path, sizeof path, "%s/.done", dir);
    if (mkdir_one(path, e) != DZ_OK)
        return e->code;
    snprintf(path, sizeof path, "%s/.failed", dir);
    if (mkdir_one(path, e) != DZ_OK)
        return e->code;
    const feed_parser *p;
    for (size_t i = 0; (p = feed_parser_at(i)) != NULL; i++) {
        static const char *const where[] = {"", "/.done", "/.failed"};
        for (size_t w = 0; w < 3; w++) {
            snprintf(path, sizeof path, "%s%s/%s", dir, where[w], p->name);
            if (mkdir_one(path, e) != DZ_OK)
                return e->code;
        }
    }
    return DZ_OK;
}

/*
 * Moves from (a file of SPOOL/<feed>) to SPOOL/<to>/<feed>/ under its own
 * name, or NAME.1, NAME.2, ... when that is taken; never replaces a file.
 * Returns 1 moved (out: the new path), 0 gone (another node moved it), -1 failed (errno).
 */
static int move_into(const char *dir, const char *to, const char *feed, const char *name, char *out, size_t outn)
{
    char from[4200];
    snprintf(from, sizeof from, "%s/%s/%s", dir, feed, name);
    for (int k = 0; k < 10000; k++) {
        if (k == 0)
            snprintf(out, outn, "%s/%s/%s/%s", dir, to, feed, name);
        else
            snprintf(out, outn, "%s/%s/%s/%s.%d", dir, to, feed, name, k);
        if (renameat2(AT_FDCWD, from, AT_FDCWD, out, RENAME_NOREPLACE) == 0)
            return 1;
        if (errno == EEXIST)
            continue;
        if (errno == EINVAL || errno == ENOSYS) { /* a file system without RENAME_NOREPLACE */
            struct stat sb;
            if (lstat(out, &sb) == 0)
                continue;
            if (rename(from, out) == 0)
                return 1;
        }
        if (errno == ENOENT) {
            /* the source is gone (another node moved it), or the target directory is missing */
            struct stat sb;
            if (lstat(from, &sb) != 0)
                return 0;
            char sub[4200];
            snprintf(sub, sizeof sub, "%s/%s/%s", dir, to, feed);
            dz_err ign;
            if (mkdir_one(sub, &ign) == DZ_OK && k < 9999)
                continue;
        }
        return -1;
    }
    errno = EEXIST;
    return -1;
}

static void write_reason(const char *moved_to, const char *reason)
{
    char path[4300];
    snprintf(path, sizeof path, "%s.reason", moved_to);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "dzong: spool: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "%s\n", reason);
    fclose(f);
}

/* The part of path after the spool directory, for the log. */
static const char *rel(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

/* Takes one file in; returns 1 when it was moved to .done or .failed. */
static int take_file(store *st, const spool_config *cfg, const feed_parser *p, const char *name)
{
    char path[4200], moved[4300];
    snprintf(path, sizeof path, "%s/%s/%s", cfg->dir, p->name, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) /* ENOENT: another node moved it meanwhile */
            fprintf(stderr, "dzong: spool %s/%s: cannot open: %s\n", p->name, name, strerror(errno));
        return 0;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return 0;
    }
    ingest_request r = {0};
    r.parser = p;
    r.opt = cfg->opt;
    r.opt.file_name = name;
    r.fd = fd;
    r.size = (uint64_t)sb.st_size;
    r.kind = "spool";
    r.source = path;
    r.node = cfg->node;
    r.pipeline = cfg->pipeline;
    ingest_summary sum;
    memset(&sum, 0, sizeof sum);
    dz_err e = {0};
    dz_code rc = ingest_run(st, &r, &sum, &e);
    close(fd);

    if (sum.claim == INGEST_BUSY) {
        fprintf(stderr, "dzong: spool %s/%s: busy (ingest %lld held by %s); left for now\n", p->name, name,
                (long long)sum.ingest_id, sum.holder[0] ? sum.holder : "another node");
        return 0;
    }
    if (rc == DZ_OK || sum.refused) {
        /* Not OK: the parser refused the input (it is not that feed): .failed, with the reason. */
        bool ok = rc == DZ_OK;
        int m = move_into(cfg->dir, ok ? ".done" : ".failed", p->name, name, moved, sizeof moved);
        char where[4400];
        if (m == 1)
            snprintf(where, sizeof where, "moved to %s", rel(cfg->dir, moved));
        else if (m == 0)
            snprintf(where, sizeof where, "already moved by another node");
        else
            snprintf(where, sizeof where, "NOT MOVED: %s", strerror(errno));
        if (!ok) {
            if (m == 1)
                write_reason(moved, e.msg);
            fprintf(stderr, "dzong: spool %s/%s: ingest %lld failed: %s; %s\n", p->name, name,
                    (long long)sum.ingest_id, e.msg, where);
        } else if (sum.claim == INGEST_DONE) {
            fprintf(stderr, "dzong: spool %s/%s: already taken in (ingest %lld); %s\n", p->name, name,
                    (long long)sum.ingest_id, where);
        } else {
            fprintf(stderr,
                    "dzong: spool %s/%s: ingest %lld done%s: %lld events, %lld duplicates, %lld quarantined, "
                    "%lld matched, %llu lines in %.2f s; %s\n",
                    p->name, name, (long long)sum.ingest_id, sum.claim == INGEST_RESUME ? " (resumed)" : "",
                    (long long)sum.events, (long long)sum.duplicates, (long long)sum.quarantined,
                    (long long)sum.matched, (unsigned long long)sum.lines, sum.seconds, where);
        }
        return m == 1;
    }
    /* The database, memory, a lost lease: the file stays and is tried again (resumed) next round. */
    fprintf(stderr, "dzong: spool %s/%s: not taken in this round (%s): %s\n", p->name, name, dz_code_name(rc), e.msg);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the files of one feed directory ready to be taken, sorted; *n of them. */
static char **ready_files(const char *feed_dir, int settle_s, size_t *n)
{
    *n = 0;
    DIR *d = opendir(feed_dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (sb.st_mtime > now - settle_s) /* still being written, perhaps */
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **g = realloc(names, ncap * sizeof *names);
            if (!g)
                break;
            names = g;
            cap = ncap;
        }
        if (!(names[*n] = strdup(de->d_name)))
            break;
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(names, *n, sizeof *names, cmp_names);
    return names;
}

/* One scan; stop (may be NULL) is checked between files. */
static int scan(store *st, const spool_config *cfg, spool *stop)
{
    int moved = 0;
    int settle = cfg->settle_s > 0 ? cfg->settle_s : 2;
    const feed_parser *p;
    for (size_t i = 0; (p = feed_parser_at(i)) != NULL; i++) {
        char feed_dir[4200];
        snprintf(feed_dir, sizeof feed_dir, "%s/%s", cfg->dir, p->name);
        size_t n;
        char **names = ready_files(feed_dir, settle, &n);
        for (size_t k = 0; k < n; k++) {
            bool halt = false;
            if (stop) {
                pthread_mutex_lock(&stop->lock);
                halt = stop->stopping;
                pthread_mutex_unlock(&stop->lock);
            }
            if (!halt)
                moved += take_file(st, cfg, p, names[k]);
            free(names[k]);
        }
        free(names);
    }
    return moved;
}

int spool_scan(store *st, const spool_config *cfg)
{
    return scan(st, cfg, NULL);
}

static void *spool_main(void *arg)
{
    spool *sp = arg;
    pthread_mutex_lock(&sp->lock);
    while (!sp->stopping) {
        pthread_mutex_unlock(&sp->lock);
        scan(sp->st, &sp->cfg, sp);
        pthread_mutex_lock(&sp->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += sp->cfg.interval_s;
        while (!sp->stopping && pthread_cond_timedwait(&sp->wake, &sp->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&sp->lock);
    return NULL;
}

dz_code spool_start(store *st, const spool_config *cfg, spool **out, dz_err *e)
{
    if (!cfg->dir || !*cfg->dir || strlen(cfg->dir) >= sizeof ((spool *)0)->dir)
        return dz_fail(e, DZ_EINVAL, "spool directory: empty or too long");
    if (spool_prepare_dirs(cfg->dir, e) != DZ_OK)
        return e->code;
    spool *sp = calloc(1, sizeof *sp);
    if (!sp)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    sp->st = st;
    sp->cfg = *cfg;
    snprintf(sp->dir, sizeof sp->dir, "%s", cfg->dir);
    sp->cfg.dir = sp->dir;
    if (sp->cfg.interval_s <= 0)
        sp->cfg.interval_s = 5;
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->wake, NULL);
    if (pthread_create(&sp->thread, NULL, spool_main, sp) != 0) {
        pthread_mutex_destroy(&sp->lock);
        pthread_cond_destroy(&sp->wake);
        free(sp);
        return dz_fail(e, DZ_EINTERNAL, "cannot start the spool thread");
    }
    *out = sp;
    return DZ_OK;
}

void spool_stop(spool *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->lock);
    sp->stopping = true;
    pthread_cond_signal(&sp->wake);
    pthread_mutex_unlock(&sp->lock);
    pthread_join(sp->thread, NULL);
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->wake);
    free(sp);
}
