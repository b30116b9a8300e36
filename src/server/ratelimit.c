#include "server/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RL_SLOTS 4096 /* open addressing; stale windows are reused */

typedef struct {
    char key[96];
    int64_t window_start;
    unsigned failures;
} rl_entry;

struct ratelimit {
    pthread_mutex_t lock;
    unsigned max_failures;
    int64_t window_s;
    rl_entry slots[RL_SLOTS];
};

ratelimit *ratelimit_new(unsigned max_failures, int64_t window_s)
{
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->max_failures = max_failures;
    rl->window_s = window_s;
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (rl) {
        pthread_mutex_destroy(&rl->lock);
        free(rl);
    }
}

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Finds key's slot, or claims an empty or expired one; NULL when the table is full of live keys. */
static rl_entry *slot_for(ratelimit *rl, const char *key, int64_t now, bool create)
{
    uint32_t h = hash_key(key);
    rl_entry *reusable = NULL;
    for (unsigned i = 0; i < 64; i++) {
        rl_entry *en = &rl->slots[(h + i) & (RL_SLOTS - 1)];
        /* Keys are stored cut to sizeof key - 1 bytes: compare as stored, or a long key would never match. */
        if (en->key[0] && strncmp(en->key, key, sizeof en->key - 1) == 0)
            return en;
        bool stale = !en->key[0] || now - en->window_start >= rl->window_s;
        if (stale && !reusable)
            reusable = en;
        if (!en->key[0])
            break;
    }
    if (!create || !reusable)
        return NULL;
    memset(reusable, 0, sizeof *reusable);
    strncpy(reusable->key, key, sizeof reusable->key - 1);
    reusable->window_start = now;
    return reusable;
}

int64_t ratelimit_blocked_for(ratelimit *rl, const char *key, int64_t now)
{
    int64_t wait = 0;
    pthread_mutex_lock(&rl->lock);
    rl_entry *en = slot_for(rl, key, now, false);
    if (en && now - en->window_start < rl->window_s && en->failures >= rl->max_failures)
        wait = en->window_start + rl->window_s - now;
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

void ratelimit_fail(ratelimit *rl, const char *key, int64_t now)
{
    pthread_mutex_lock(&rl->lock);
    rl_entry *en = slot_for(rl, key, now, true);
    if (en) {
        if (now - en->window_start >= rl->window_s) {
            en->window_start = now;
            en->failures = 0;
        }
        en->failures++;
    }
    pthread_mutex_unlock(&rl->lock);
}

void ratelimit_reset(ratelimit *rl, const char *key)
{
    pthread_mutex_lock(&rl->lock);
    rl_entry *en = slot_for(rl, key, 0, false);
    if (en) /* keep the key: emptying the slot would cut the probe chain of keys placed after it */
        en->failures = 0;
    pthread_mutex_unlock(&rl->lock);
}
