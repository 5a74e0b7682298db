/* mt_fixture.h - the one fixture every engine test file shares.
 *
 * Include after mem_tscf.h and tt.h.  Each test file gets its own static
 * fixture F (tests in a file run one after another).
 */
#ifndef MT_FIXTURE_H
#define MT_FIXTURE_H

#include "mem_tscf.h"
#include "tt.h"

static mt_fix F;

#define T0 1000          /* virtual start time, ms */
#define WITHIN 20000     /* bound for "comes up" / "goes down", ms */

/* Tear down; fail the test if the tunnel leaked an allocation. */
#define END() do { TT_EQ_INT(mt_fix_teardown(&F), 0); } while (0)

/* Bring the tunnel of F up or fail the test. */
#define START_UP() do { \
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK); \
    if (!mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN)) mt_rec_dump(&F.rec); \
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP); \
} while (0)

/* An address in the core network behind the TSCF. */
static const uint8_t PEER_ADDR[4] = { 10, 0, 0, 1 };

#endif
