/* tt.h - the smallest test harness that does the job.
 *
 *   TT_TEST(name) { TT_ASSERT(cond); TT_EQ_INT(a, b); TT_EQ_MEM(a, b, n); }
 *   int main(void) { TT_RUN(name); ...; return TT_DONE(); }
 *   TT_RUN_KNOWN_BUG(name, "why") runs only with TT_KNOWN_BUGS=1 set.
 *
 * TT_DONE() prints "N passed, N failed" and returns the exit status.
 */
#ifndef TT_H
#define TT_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tt_failed_checks;
static int tt_passed, tt_failed;

#define TT_TEST(name) static void name(void)

#define TT_ASSERT(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    tt_failed_checks++; return; } } while (0)

#define TT_EQ_INT(a, b) do { long long tt_a = (long long)(a), tt_b = (long long)(b); \
    if (tt_a != tt_b) { fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
        __FILE__, __LINE__, #a, tt_a, #b, tt_b); tt_failed_checks++; return; } } while (0)

#define TT_EQ_MEM(a, b, n) do { if (memcmp((a), (b), (n)) != 0) { \
    fprintf(stderr, "%s:%d: memory differs: %s vs %s (%zu bytes)\n", \
        __FILE__, __LINE__, #a, #b, (size_t)(n)); tt_failed_checks++; return; } } while (0)

#define TT_RUN(fn) do { int tt_before = tt_failed_checks; fn(); \
    if (tt_failed_checks == tt_before) { tt_passed++; } \
    else { tt_failed++; fprintf(stderr, "FAIL %s\n", #fn); } } while (0)

/* A test that exposes a known, reported defect in code under test: skipped
 * (and announced) unless TT_KNOWN_BUGS is set in the environment, so the
 * suite stays green while the bug is open and the test is one variable away.
 * Remove the wrapper when the bug is fixed. */
#define TT_RUN_KNOWN_BUG(fn, why) do { if (getenv("TT_KNOWN_BUGS") != NULL) { TT_RUN(fn); } \
    else { fprintf(stderr, "SKIP %s (known bug: %s)\n", #fn, why); } } while (0)

#define TT_DONE() (printf("%s: %d passed, %d failed\n", __FILE__, tt_passed, tt_failed), \
                   tt_failed ? 1 : 0)
#endif
