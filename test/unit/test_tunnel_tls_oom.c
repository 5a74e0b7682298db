/* mbed TLS running out of memory (STYLE.md 11: fail-the-N-th allocation):
 * with every one of mbed TLS's allocations failed in turn, from
 * tse_tunnel_new() through the handshake to an inner packet each way, the
 * tunnel either comes up or reports an error (TSE_ERR_NO_MEMORY at
 * creation, or a TUNNEL_DOWN event), never crashes, and leaves nothing
 * allocated.  Needs MBEDTLS_PLATFORM_MEMORY (the debian-src build). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/version.h>

#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

#if defined(MBEDTLS_PLATFORM_MEMORY)
#include <mbedtls/platform.h>

static long calls, fail_at, live;

static void *oom_calloc(size_t n, size_t size)
{
    size_t *p;
    /* only the client's: the server is test code (and mbed TLS 3.6's own
     * TLS 1.3 server dereferences NULL after some of its allocation
     * failures, see the note in docs/engine.md) */
    if (!mt_peer_running && ++calls == fail_at) {
        return NULL;
    }
    if (size != 0 && n > ((size_t)-1 - 16) / size) {
        return NULL;
    }
    p = calloc(1, n * size + 16);
    if (p == NULL) return NULL;
    live++;
    return (uint8_t *)p + 16;
}

static void oom_free(void *ptr)
{
    if (ptr == NULL) return;
    live--;
    free((uint8_t *)ptr - 16);
}

TT_TEST(every_mbedtls_allocation_failure_is_survived)
{
    long total = 0, created_fail = 0, down = 0, up = 0, base, step, tried = 0;
    uint8_t pkt[200];
    mbedtls_platform_set_calloc_free(oom_calloc, oom_free);
    /* how many allocations the client makes in a whole run */
    mt_fix_setup(&F);
    F.peer = mem_tscf_new(&F.cfg);
    TT_ASSERT(F.peer != NULL);
    calls = 0;
    fail_at = 0;
    TT_EQ_INT(tse_tunnel_new(&F.t, &F.s, mt_rec_callbacks(), mt_mem(&F.alloc), &F.rec), TSE_OK);
    mt_drv_init(&F.d, F.t, F.peer, &F.rec, T0);
    TT_EQ_INT(tse_tunnel_start(F.t, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    total = calls;
    END();
    TT_ASSERT(total > 10);
    /* what stays allocated for the process (PSA's global state) */
    base = live;
    /* every one of the first 200 (creation, the first flights), then a
     * sample of 300 across the handshake and the traffic after it */
    step = total > 200 ? (total - 200) / 300 + 1 : 1;
    for (long n = 1; n <= total + 5; n += (n < 200 ? 1 : step)) {
        int rc;
        tried++;
        mt_fix_setup(&F);
        /* the in-memory server is made first, with nothing failing */
        calls = 0;
        fail_at = 0;
        F.peer = mem_tscf_new(&F.cfg);
        TT_ASSERT(F.peer != NULL);
        calls = 0;
        fail_at = n;
        rc = tse_tunnel_new(&F.t, &F.s, mt_rec_callbacks(), mt_mem(&F.alloc), &F.rec);
        if (rc == TSE_OK) {
            mt_drv_init(&F.d, F.t, F.peer, &F.rec, T0);
            rc = tse_tunnel_start(F.t, T0);
        } else {
            F.t = NULL;
        }
        if (rc != TSE_OK) {
            TT_ASSERT(rc == TSE_ERR_NO_MEMORY || rc == TSE_ERR_TLS_CONFIG);
            created_fail++;
            TT_EQ_INT(mt_fix_teardown(&F), 0);
            continue;
        }
        (void)mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN);
        if (tse_tunnel_state(F.t) == TSE_STATE_UP) {
            size_t len = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
            TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, len, F.d.now), TSE_OK);
            mt_pump(&F.d);
            up++;
        } else {
            TT_ASSERT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0) != NULL);
            down++;
        }
        TT_EQ_INT(mt_fix_teardown(&F), 0);
        TT_EQ_INT(live, base); /* nothing of the tunnel's is left */
    }
    fprintf(stdout, "mbed TLS allocations by the client in a run: %ld; failing %ld of "
            "them in turn: %ld refused at creation, %ld went down with an error, "
            "%ld still came up\n", total, tried, created_fail, down, up);
    mbedtls_platform_set_calloc_free(calloc, free);
    TT_ASSERT(created_fail > 0 && down > 0);
}
#else
TT_TEST(every_mbedtls_allocation_failure_is_survived)
{
    (void)F;
    printf("SKIP: mbed TLS built without MBEDTLS_PLATFORM_MEMORY\n");
}
#endif

int main(void)
{
    TT_RUN(every_mbedtls_allocation_failure_is_survived);
    return TT_DONE();
}
