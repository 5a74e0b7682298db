/*
 * libFuzzer target: arbitrary bytes as an HTTP proxy's reply to CONNECT.
 *
 * Input layout: byte 0 seeds the chunk sizes, byte 1 holds flags
 * (bit 0: credentials configured, bit 1: IPv6 target, bit 2: user agent and
 * marker), the rest is what the proxy "sends".  The reply is fed three ways
 * (whole, one byte at a time, in pseudo-random chunks) and driven like the
 * engine does: RESEND / RECONNECT -> write the request again and go on with
 * the remaining bytes.  Properties:
 *   - never crashes (ASan/UBSan), every call returns a documented code;
 *   - *consumed never exceeds the bytes offered;
 *   - the sequence of results, the offset in the stream where each one
 *     happened, the final status and reason are identical in all three ways;
 *   - every request written is a well-formed head: CR only in CRLF, LF only
 *     after CR, exactly one empty line, at the very end (so nothing a proxy
 *     echoes back through a challenge can inject a header).
 *
 * Needs lib/ on the include path (internal header) and links libtse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_connect.h"
#include "tse/error.h"

#define MAX_EVENTS 64

typedef struct {
    int n;
    int res[MAX_EVENTS];
    size_t off[MAX_EVENTS];
    int status;
    char reason[TSE_HC_MAX_REASON];
    int closed; /* tse_hc_on_close result at end of input, or 0 */
} trace;

static int fz_entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(0xa5 ^ i);
    return 0;
}

static tse_hc hc;
static uint8_t reqbuf[4096];

/* Writes a request and checks its shape; 0 if one was written (the engine
 * stops when it cannot write one). */
static int check_request(void)
{
    int n = tse_hc_request(&hc, reqbuf, sizeof reqbuf);
    if (n == TSE_ERR_INVALID_ARG || n == TSE_ERR_BUFFER_TOO_SMALL)
        return -1;
    if (n < 4 || (size_t)n > sizeof reqbuf)
        abort();
    for (int i = 0; i < n; i++) {
        if (reqbuf[i] == '\r' && (i + 1 >= n || reqbuf[i + 1] != '\n'))
            abort();
        if (reqbuf[i] == '\n' && (i == 0 || reqbuf[i - 1] != '\r'))
            abort();
        if (reqbuf[i] == 0)
            abort();
        /* the only empty line ends the head */
        if (i + 3 < n - 1 && memcmp(reqbuf + i, "\r\n\r\n", 4) == 0)
            abort();
    }
    if (memcmp(reqbuf + n - 4, "\r\n\r\n", 4) != 0)
        abort();
    return 0;
}

static int valid_result(int r)
{
    switch (r) {
    case TSE_HC_NEED_MORE: case TSE_HC_ESTABLISHED: case TSE_HC_RESEND:
    case TSE_HC_RECONNECT: case TSE_ERR_PROXY_STATUS:
    case TSE_ERR_PROXY_AUTH_FAILED: case TSE_ERR_PROXY_AUTH_REQUIRED:
    case TSE_ERR_PROXY_AUTH_SCHEME: case TSE_ERR_PROXY_MALFORMED:
    case TSE_ERR_PROXY_TOO_LARGE:
        return 1;
    default:
        return 0;
    }
}

/* mode 0: whole, 1: bytewise, 2: chunks from seed */
static void run(const tse_hc_params *p, const uint8_t *d, size_t n, int mode,
                uint8_t seed, trace *t)
{
    size_t pos = 0;
    uint32_t rng = seed * 2654435761u + 1;
    int r = TSE_HC_NEED_MORE;

    memset(t, 0, sizeof *t);
    tse_hc_init(&hc, p);
    if (check_request() != 0)
        abort(); /* the fixed parameters are valid */
    /* each pass consumes >= 1 byte or ends the run: bounded by n */
    while (pos < n) {
        size_t len = n - pos, used = (size_t)-1;
        if (mode == 1) {
            len = 1;
        } else if (mode == 2) {
            rng = rng * 1103515245u + 12345u;
            len = 1 + (rng >> 16) % 97;
            if (len > n - pos)
                len = n - pos;
        }
        r = tse_hc_feed(&hc, d + pos, len, &used);
        if (!valid_result(r) || used > len)
            abort();
        if (r == TSE_HC_NEED_MORE && used != len)
            abort();
        pos += used;
        if (r == TSE_HC_NEED_MORE)
            continue;
        if (t->n == MAX_EVENTS)
            abort(); /* at most two 407 answers + one end: never reached */
        t->res[t->n] = r;
        t->off[t->n] = pos;
        t->n++;
        if (r == TSE_HC_RESEND || r == TSE_HC_RECONNECT) {
            if (used == 0)
                abort(); /* no progress */
            if (check_request() != 0)
                break;
            continue;
        }
        break; /* established or failed */
    }
    if (r == TSE_HC_NEED_MORE || r == TSE_HC_RESEND || r == TSE_HC_RECONNECT) {
        t->closed = tse_hc_on_close(&hc);
        if (t->closed != TSE_HC_RECONNECT && t->closed != TSE_ERR_PROXY_CLOSED)
            abort();
    } else {
        /* terminal states stay terminal */
        size_t used = 1;
        int again = tse_hc_feed(&hc, (const uint8_t *)"x", 1, &used);
        if (used != 0 || (r == TSE_HC_ESTABLISHED ? again != TSE_ERR_STATE
                                                  : again != r))
            abort();
    }
    t->status = tse_hc_status(&hc);
    if (memchr(tse_hc_reason(&hc), 0, TSE_HC_MAX_REASON) == NULL)
        abort();
    memcpy(t->reason, tse_hc_reason(&hc), TSE_HC_MAX_REASON);
}

static void same(const trace *a, const trace *b)
{
    if (a->n != b->n || a->status != b->status || a->closed != b->closed ||
        strcmp(a->reason, b->reason) != 0)
        abort();
    for (int i = 0; i < a->n; i++) {
        if (a->res[i] != b->res[i] || a->off[i] != b->off[i])
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static trace t0, t1, t2;
    tse_hc_params p;
    uint8_t seed, flags;

    if (size < 2)
        return 0;
    seed = data[0];
    flags = data[1];
    data += 2;
    size -= 2;

    memset(&p, 0, sizeof p);
    p.target_host = (flags & 2) ? "2001:db8::7" : "tscf.example.net";
    p.target_port = 443;
    if (flags & 1) {
        p.user = "Mufasa";
        p.pass = "Circle of Life";
    }
    if (flags & 4) {
        p.user_agent = "libtse-fuzz/1";
        p.marker_header = "X-IMS-Tunnel: 1";
    }
    p.entropy = fz_entropy;

    run(&p, data, size, 0, seed, &t0);
    run(&p, data, size, 1, seed, &t1);
    run(&p, data, size, 2, seed, &t2);
    same(&t0, &t1);
    same(&t0, &t2);
    return 0;
}
