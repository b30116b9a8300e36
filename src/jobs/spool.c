/* spool.c (in progress) */
#include "jobs/scheduler.h"
