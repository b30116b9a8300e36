/* store_fetch.c (in progress) */
#include "store/store_internal.h"
