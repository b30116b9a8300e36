/* store_events.c: feed events, ingests, quarantine, dedup (in progress). */
#include "store/store_internal.h"
