/*
 * jobs: work that runs on a schedule inside `dzong serve`. The schedule lives
 * in the store (table jobs), so with several nodes on one PostgreSQL each
 * round of each job runs on exactly one node.
 */
#ifndef DZ_SCHEDULER_H
#define DZ_SCHEDULER_H
#include "lib/dz_err.h"
#include "notify/notify.h"
#include "store/store.h"

typedef struct scheduler scheduler;

/* Starts a thread that claims and runs due jobs every poll_s seconds. node names this process. */
dz_code scheduler_start(store *st, const char *node, int poll_s, scheduler **out, dz_err *e);
void scheduler_stop(scheduler *sc);
/*
 * The notifier the job "notify.digest" queues digests with, and the sender
 * woken after it queued some; NULL: notifications are not configured and the
 * job does nothing. Process-wide, like fetch_configure; set before jobs run.
 */
void scheduler_set_notifier(notifier *n, notify_sender *sender);
/* Claims and runs every job due now, in the calling thread; returns how many ran. */
int scheduler_run_due(store *st, const char *node);

#endif
