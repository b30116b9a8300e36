/* pipeline.c (in progress) */
#include "lib/pipeline.h"
