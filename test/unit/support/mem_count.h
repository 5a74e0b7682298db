/* mem_count.h - a tse_mem that counts live blocks and can be told to
 * fail, for tests that check "nothing leaks" and "allocation failure is
 * reported". */
#ifndef TSE_TEST_MEM_COUNT_H
#define TSE_TEST_MEM_COUNT_H

#include "tse/tse.h"

extern long tu_mem_live;       /* blocks allocated and not yet freed */
extern int tu_mem_fail;        /* non-zero: every calloc returns NULL */
extern const tse_mem TU_MEM;   /* calloc/free through the counters */

#endif
