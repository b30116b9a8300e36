/* ingest.c (in progress) */
#include "ingest/ingest.h"
