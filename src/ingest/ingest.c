/*
 * ingest.c: one input through parser, pipeline and store (see ingest.h).
 *
 * Two batches: the calling thread parses into one while the committer
 * thread writes the other. A batch is handed over only between positions,
 * and its checkpoint is the last position it completes, so a resumed run
 * skips exactly what was committed.
 */
#include "ingest/ingest.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FINGERPRINT_HEAD (1024 * 1024)
#define DEFAULT_BATCH 20000

void ingest_node_name(char out[64])
{
    char host[48] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, 64, "%s:%ld", host, (long)getpid());
}

dz_code ingest_fingerprint(int fd, char out[96], dz_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return dz_fail(e, DZ_EIO, "fingerprint: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return dz_fail(e, DZ_EINVAL, "fingerprint: not a regular file (give the input a key)");
    unsigned char *buf = malloc(FINGERPRINT_HEAD);
    if (!buf)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    off_t off = 0;
    while (off < FINGERPRINT_HEAD) {
        ssize_t n = pread(fd, buf, (size_t)(FINGERPRINT_HEAD - off), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return dz_fail(e, DZ_EIO, "fingerprint: %s", strerror(errno));
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)n);
        off += n;
    }
    free(buf);
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h, d);
    char hex[2 * sizeof d + 1];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    snprintf(out, 96, "sha256:%s:%lld", hex, (long long)st.st_size);
    return DZ_OK;
}

/* holder is "host:pid" of this host (node is ours) and no such process runs. */
static bool holder_is_dead_here(const char *node, const char *holder)
{
    const char *nc = strrchr(node, ':'), *hc = strrchr(holder, ':');
    if (!nc || !hc || nc - node != hc - holder || strncmp(node, holder, (size_t)(nc - node)) != 0)
        return false;
    char *end;
    long pid = strtol(hc + 1, &end, 10);
    if (*end || pid <= 0 || pid == (long)getpid())
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

typedef enum { SLOT_FREE = 0, SLOT_FULL, SLOT_BUSY } slot_state;

typedef struct run {
    store *s;
    const ingest_request *r;
    const char *node;
    int64_t ingest_id;
    pipeline *pl;
    event_batch slot[2];
    slot_state state[2];
    int filling;                  /* the slot the parser appends to */
    uint64_t resume_after, last_line;
    const registry_index *idx;    /* entered for the batch being filled */
    registry_ticket ticket;
    bool entered;
    size_t batch_events;
    /* committer */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;                    /* no more batches */
    _Atomic bool failed;          /* a commit failed: stop parsing */
    dz_err commit_err;
    /* figures */
    ingest_summary *sum;
    _Atomic uint64_t bytes_read;
    struct timespec t0;
    dz_err pipeline_err;
    bool pipeline_failed;
} run;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void *committer(void *arg)
{
    run *u = arg;
    pthread_mutex_lock(&u->mu);
    for (;;) {
        int k = u->state[0] == SLOT_FULL ? 0 : u->state[1] == SLOT_FULL ? 1 : -1;
        if (k < 0) {
            if (u->done)
                break;
            pthread_cond_wait(&u->cv, &u->mu);
            continue;
        }
        u->state[k] = SLOT_BUSY;
        pthread_mutex_unlock(&u->mu);

        store_batch_result res = {0};
        dz_err e = {0};
        dz_code rc = store_events_commit(u->s, u->ingest_id, u->node, &u->slot[k], &res, &e);

        pthread_mutex_lock(&u->mu);
        if (rc != DZ_OK) {
            if (!u->failed)
                u->commit_err = e;
            u->failed = true;
        } else {
            u->sum->events += res.stored;
            u->sum->duplicates += res.duplicates;
            u->sum->quarantined += res.quarantined;
            if (u->r->progress) {
                ingest_progress p = {
                    .bytes_read = atomic_load_explicit(&u->bytes_read, memory_order_relaxed),
                    .bytes_total = u->r->size,
                    .lines = u->slot[k].checkpoint,
                    .events = u->sum->events,
                    .duplicates = u->sum->duplicates,
                    .quarantined = u->sum->quarantined,
                    .matched = u->sum->matched,
                    .seconds = since(&u->t0),
                };
                u->r->progress(u->r->progress_arg, &p);
            }
        }
        event_batch_reset(&u->slot[k]);
        u->state[k] = SLOT_FREE;
        pthread_cond_broadcast(&u->cv);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

static void leave_registry(run *u)
{
    if (u->entered) {
        store_registry_leave(u->s, u->ticket);
        u->entered = false;
        u->idx = NULL;
    }
}

/* Hands the filling batch to the committer and waits for the other slot to be free. false: a commit failed. */
static bool hand_over(run *u)
{
    leave_registry(u);
    event_batch *b = &u->slot[u->filling];
    if (b->n == 0 && b->n_bad == 0)
        return !u->failed;
    b->checkpoint = u->last_line;
    pthread_mutex_lock(&u->mu);
    u->state[u->filling] = SLOT_FULL;
    pthread_cond_broadcast(&u->cv);
    int next = 1 - u->filling;
    while (u->state[next] != SLOT_FREE && !u->failed)
        pthread_cond_wait(&u->cv, &u->mu);
    bool ok = !u->failed;
    pthread_mutex_unlock(&u->mu);
    u->filling = next;
    return ok;
}

/* Called before adding a position's first item: ends the batch when it is full (never inside a position). */
static bool before_position(run *u, uint64_t line)
{
    if (line == u->last_line)
        return true;
    bool ok = true;
    event_batch *b = &u->slot[u->filling];
    if (b->n + b->n_bad >= u->batch_events)
        ok = hand_over(u);
    u->last_line = line;
    return ok;
}

static int on_event(void *arg, event *ev, uint64_t line)
{
    run *u = arg;
    if (line <= u->resume_after) {
        u->sum->skipped++;
        return 0;
    }
    if (!before_position(u, line))
        return 1;
    if (!u->entered) {
        u->idx = store_registry_enter(u->s, &u->ticket);
        u->entered = true;
    }
    event_index ix;
    dz_err e = {0};
    event_batch *b = &u->slot[u->filling];
    if (pipeline_process(u->pl, u->idx, ev, &ix, &e) != DZ_OK) {
        u->pipeline_err = e;
        u->pipeline_failed = true;
        return 1;
    }
    if (ix.constituent_id)
        u->sum->matched++;
    event_batch_add(b, line, ev, &ix);
    if (b->oom) {
        dz_fail(&u->pipeline_err, DZ_ENOMEM, "out of memory");
        u->pipeline_failed = true;
        return 1;
    }
    return 0;
}

static void on_error(void *arg, uint64_t line, const char *reason, const char *raw, size_t raw_len)
{
    run *u = arg;
    if (line <= u->resume_after) {
        u->sum->skipped++;
        return;
    }
    if (!before_position(u, line))
        return; /* the commit failure ends the run after the parser returns */
    event_batch_add_bad(&u->slot[u->filling], line, reason, raw, raw_len);
}

typedef struct counting_reader {
    csv_read_fn read;
    void *arg;
    int fd;
    run *u;
} counting_reader;

static long counting_read(void *arg, char *buf, size_t cap)
{
    counting_reader *c = arg;
    if (c->u->failed)
        return -1; /* stops the parser; the commit error is reported */
    long n = c->read ? c->read(c->arg, buf, cap) : csv_read_fd(&c->fd, buf, cap);
    if (n > 0)
        atomic_fetch_add_explicit(&c->u->bytes_read, (uint64_t)n, memory_order_relaxed);
    return n;
}

dz_code ingest_run(store *s, const ingest_request *r, ingest_summary *out, dz_err *e)
{
    memset(out, 0, sizeof *out);
    if (!r->parser)
        return dz_fail(e, DZ_EINVAL, "ingest: no feed parser");
    dz_code rc = feed_check_options(&r->opt, e);
    if (rc != DZ_OK)
        return rc;
    char node[64], key[INGEST_KEY_MAX + 1];
    if (r->node)
        snprintf(node, sizeof node, "%s", r->node);
    else
        ingest_node_name(node);
    if (r->key) {
        snprintf(key, sizeof key, "%s", r->key);
        if (strlen(r->key) >= sizeof key)
            return dz_fail(e, DZ_EINVAL, "ingest: key longer than %zu bytes", sizeof key - 1);
    } else {
        if (r->read)
            return dz_fail(e, DZ_EINVAL, "ingest: an input read through a callback needs a key");
        if ((rc = ingest_fingerprint(r->fd, key, e)) != DZ_OK)
            return rc;
    }

    ingest_claim c = {
        .kind = r->kind ? r->kind : "file",
        .source = r->source ? r->source : "",
        .key = key,
        .feed = r->parser->name,
        .report = r->opt.report,
        .node = node,
        .org_id = r->org_id,
        .take_over = r->take_over,
    };
    ingest_state st;
    if ((rc = store_ingest_claim(s, &c, &st, e)) != DZ_OK)
        return rc;
    if (st.state == INGEST_BUSY && !c.take_over && holder_is_dead_here(node, st.holder)) {
        /* killed on this machine (kill -9, a crash): resume now instead of waiting out its lease */
        char holder[sizeof st.holder];
        memcpy(holder, st.holder, sizeof holder); /* the claim clears st before it reads c */
        c.take_over = holder;
        if ((rc = store_ingest_claim(s, &c, &st, e)) != DZ_OK)
            return rc;
    }
    out->ingest_id = st.id;
    out->claim = st.state;
    if (st.state == INGEST_DONE || st.state == INGEST_BUSY) {
        snprintf(out->holder, sizeof out->holder, "%s", st.holder);
        out->lines = st.lines_done;
        out->events = st.events;
        out->duplicates = st.duplicates;
        out->quarantined = st.quarantined;
        return DZ_OK;
    }

    dz_err ign = {0};
    (void)store_registry_refresh(s, false, &ign); /* without a snapshot nothing would match */

    run *u = calloc(1, sizeof *u);
    if (!u)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    u->s = s;
    u->r = r;
    u->node = node;
    u->ingest_id = st.id;
    u->resume_after = st.state == INGEST_RESUME ? st.lines_done : 0;
    u->last_line = u->resume_after;
    u->batch_events = r->batch_events ? r->batch_events : DEFAULT_BATCH;
    u->sum = out;
    clock_gettime(CLOCK_MONOTONIC, &u->t0);
    event_batch_init(&u->slot[0]);
    event_batch_init(&u->slot[1]);
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);

    rc = pipeline_new(r->pipeline, &u->pl, e);
    bool started = false;
    if (rc == DZ_OK) {
        if (pthread_create(&u->thread, NULL, committer, u) != 0)
            rc = dz_fail(e, DZ_EINTERNAL, "ingest: cannot start the committer thread");
        else
            started = true;
    }
    dz_code prc = DZ_OK;
    dz_err perr = {0};
    if (rc == DZ_OK) {
        counting_reader cr = {.read = r->read, .arg = r->read_arg, .fd = r->fd, .u = u};
        prc = r->parser->parse(&r->opt, counting_read, &cr, on_event, on_error, u, &perr);
        if (!u->pipeline_failed && !u->failed && prc == DZ_OK)
            hand_over(u);
        leave_registry(u);
    }
    if (started) {
        pthread_mutex_lock(&u->mu);
        u->done = true;
        pthread_cond_broadcast(&u->cv);
        pthread_mutex_unlock(&u->mu);
        pthread_join(u->thread, NULL);
    }

    out->lines = u->last_line;
    out->seconds = since(&u->t0);
    if (rc == DZ_OK) {
        if (u->failed) {
            *e = u->commit_err;
            rc = e->code ? e->code : DZ_EDB;
        } else if (u->pipeline_failed) {
            *e = u->pipeline_err;
            rc = e->code ? e->code : DZ_EINTERNAL;
        } else if (prc != DZ_OK) {
            /* the input is not that feed, or could not be read: the ingest fails with the reason */
            *e = perr;
            rc = prc;
            out->refused = true;
            dz_err fe = {0};
            (void)store_ingest_finish(s, st.id, node, perr.msg, &fe);
        } else {
            rc = store_ingest_finish(s, st.id, node, NULL, e);
        }
    }
    /* a commit or pipeline failure leaves the ingest running: its lease runs out and a retry resumes it */
    pipeline_free(u->pl);
    event_batch_free(&u->slot[0]);
    event_batch_free(&u->slot[1]);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    free(u);
    return rc;
}
