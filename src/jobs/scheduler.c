/* scheduler.c: claims due jobs from the store and runs them (see scheduler.h). */
#include "jobs/scheduler.h"
#include "jobs/fetch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct scheduler {
    store *st;
    char node[128];
    int poll_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static notifier *the_notifier;
static notify_sender *the_sender;

void scheduler_set_notifier(notifier *n, notify_sender *sender)
{
    the_notifier = n;
    the_sender = sender;
}

/* One digest round (notify.h); what failed for single contacts is in the report, not a job failure. */
static dz_code run_digests(store *st, dz_err *e)
{
    if (!the_notifier)
        return DZ_OK;
    notify_digest_report r = {0};
    dz_code rc = notify_digest_round(the_notifier, st, false, &r, e);
    if (rc == DZ_OK && r.failed)
        fprintf(stderr, "dzong: notify.digest: %zu digest%s could not be rendered (see `dzong notify run --dry-run`)\n",
                r.failed, r.failed == 1 ? "" : "s");
    if (rc == DZ_OK && r.queued && the_sender)
        notify_sender_wake(the_sender);
    notify_digest_report_free(&r);
    return rc;
}

/* Runs one job by name; fills err with why it failed. */
static dz_code run_job(store *st, const char *name, dz_err *e)
{
    if (strcmp(name, "sessions.purge") == 0) {
        int64_t n;
        return store_session_purge(st, &n, e);
    }
    if (strcmp(name, "events.dedup_purge") == 0) {
        int64_t n;
        return store_dedup_purge(st, &n, e);
    }
    if (strcmp(name, "audit.verify") == 0) {
        int64_t checked, bad;
        char why[256];
        if (store_audit_verify(st, &checked, &bad, why, sizeof why, e) != DZ_OK)
            return e->code;
        if (bad) {
            fprintf(stderr, "dzong: AUDIT LOG BROKEN at entry %lld: %s\n", (long long)bad, why);
            return dz_fail(e, DZ_ECONFLICT, "audit log broken at entry %lld: %s", (long long)bad, why);
        }
        return DZ_OK;
    }
    if (strcmp(name, "notify.digest") == 0)
        return run_digests(st, e);
    if (strncmp(name, "fetch.", 6) == 0) /* a download of dzong.conf (jobs/fetch.c) */
        return fetch_run_job(st, name + 6, e);
    return dz_fail(e, DZ_ENOTFOUND, "no job called '%s' in this dzong", name);
}

int scheduler_run_due(store *st, const char *node)
{
    int ran = 0;
    for (;;) {
        char name[64];
        bool claimed;
        dz_err e = {0};
        if (store_job_claim(st, node, name, &claimed, &e) != DZ_OK) {
            fprintf(stderr, "dzong: job claim failed: %s\n", e.msg);
            return ran;
        }
        if (!claimed)
            return ran;
        dz_err je = {0};
        dz_code rc = run_job(st, name, &je);
        if (rc != DZ_OK)
            fprintf(stderr, "dzong: job %s failed: %s\n", name, je.msg);
        if (store_job_finish(st, name, rc == DZ_OK ? NULL : je.msg, &e) != DZ_OK)
            fprintf(stderr, "dzong: job %s: cannot record its end: %s\n", name, e.msg);
        ran++;
    }
}

static void *scheduler_main(void *arg)
{
    scheduler *sc = arg;
    pthread_mutex_lock(&sc->lock);
    while (!sc->stopping) {
        pthread_mutex_unlock(&sc->lock);
        scheduler_run_due(sc->st, sc->node);
        pthread_mutex_lock(&sc->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += sc->poll_s;
        while (!sc->stopping && pthread_cond_timedwait(&sc->wake, &sc->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&sc->lock);
    return NULL;
}

dz_code scheduler_start(store *st, const char *node, int poll_s, scheduler **out, dz_err *e)
{
    scheduler *sc = calloc(1, sizeof *sc);
    if (!sc)
        return dz_fail(e, DZ_ENOMEM, "out of memory");
    sc->st = st;
    snprintf(sc->node, sizeof sc->node, "%s", node);
    sc->poll_s = poll_s > 0 ? poll_s : 5;
    pthread_mutex_init(&sc->lock, NULL);
    pthread_cond_init(&sc->wake, NULL);
    if (pthread_create(&sc->thread, NULL, scheduler_main, sc) != 0) {
        free(sc);
        return dz_fail(e, DZ_EINTERNAL, "cannot start the scheduler thread");
    }
    *out = sc;
    return DZ_OK;
}

void scheduler_stop(scheduler *sc)
{
    if (!sc)
        return;
    pthread_mutex_lock(&sc->lock);
    sc->stopping = true;
    pthread_cond_signal(&sc->wake);
    pthread_mutex_unlock(&sc->lock);
    pthread_join(sc->thread, NULL);
    free(sc);
}
