/* array_grow: the one "make room for one more element" of libdzong's builders. */
#ifndef DZ_ARRAY_GROW_H
#define DZ_ARRAY_GROW_H
#include <stdbool.h>
#include <stdlib.h>

/* Makes *arr (elements of sz bytes, *cap of them) hold at least n + 1, doubling; false when out of memory. */
static inline bool array_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 256;
    if (nc > ((size_t)-1) / sz)
        return false;
    void *p = realloc(*arr, nc * sz);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

#endif
