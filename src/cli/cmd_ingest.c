/* cmd_ingest.c (in progress) */
#include "cli/cli.h"
