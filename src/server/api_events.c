/* api_events.c (in progress) */
#include "server/api.h"
