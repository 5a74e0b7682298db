/* A counting, failable allocator for the tests (mem_count.h). */
#include "mem_count.h"

#include <stdlib.h>

long tu_mem_live;
int tu_mem_fail;

static void *count_calloc(void *u, size_t n, size_t sz)
{
    void *p;
    (void)u;
    if (tu_mem_fail)
        return NULL;
    p = calloc(n, sz);
    if (p)
        tu_mem_live++;
    return p;
}

static void count_free(void *u, void *p)
{
    (void)u;
    if (p)
        tu_mem_live--;
    free(p);
}

const tse_mem TU_MEM = { NULL, count_calloc, count_free };
