/* The public contracts that hold for every call: NULL arguments are
 * refused with the documented result (never a crash), and every error
 * code in include/tse/error.h has its own name in tse_strerror() (a code
 * added to the header and forgotten in lib/error.c fails here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"

TT_TEST(null_arguments)
{
    const uint8_t *p = NULL;
    const char *h = NULL;
    uint16_t port = 0;
    tse_stats st;
    uint8_t pkt[20] = { 0x45 };
    TT_EQ_INT(tse_tunnel_new(NULL, NULL, NULL, NULL, NULL), TSE_ERR_INVALID_ARG);
    tse_tunnel_del(NULL);
    TT_EQ_INT(tse_tunnel_start(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_want(NULL), 0);
    TT_EQ_INT(tse_tunnel_connect_target(NULL, &h, &port), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_transport_connected(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_transport_closed(NULL, 0, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_recv_outer(NULL, pkt, 1, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_outer_pending(NULL, &p), 0);
    tse_tunnel_outer_consume(NULL, 5);
    TT_ASSERT(tse_tunnel_expiry(NULL) == TSE_TIME_NEVER);
    TT_EQ_INT(tse_tunnel_handle_expiry(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_send_packet(NULL, pkt, sizeof(pkt), 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_send_packet_class(NULL, pkt, sizeof(pkt), TSE_CLASS_BULK, 0),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_classify(NULL, pkt, sizeof(pkt)), TSE_CLASS_BULK);
    TT_EQ_INT(tse_tunnel_queue_space(NULL), 0);
    TT_EQ_INT(tse_tunnel_class_space(NULL, TSE_CLASS_REALTIME), 0);
    TT_ASSERT(tse_tunnel_sched(NULL) == NULL);
    TT_EQ_INT(tse_tunnel_close(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_reconnect(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_pause(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_resume(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_state(NULL), TSE_STATE_CLOSED);
    TT_ASSERT(tse_tunnel_get_config(NULL) == NULL);
    memset(&st, 0xff, sizeof(st));
    tse_tunnel_get_stats(NULL, &st);
    TT_EQ_INT(st.packets_out, 0);
    TT_EQ_INT(tse_tunnel_last_error(NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_settings_check(NULL), TSE_ERR_INVALID_ARG);
    tse_tls_config_del(NULL);
    for (int s = TSE_STATE_IDLE; s <= TSE_STATE_CLOSED; s++) {
        TT_ASSERT(strcmp(tse_state_name((tse_state)s), "?") != 0);
    }
    TT_ASSERT(strcmp(tse_state_name((tse_state)99), "?") == 0);
}

/* tse_tunnel_new() refuses each missing piece on its own; the calls that
 * need a state refuse the wrong one with TSE_ERR_STATE. */
TT_TEST(each_missing_argument_and_wrong_state)
{
    tse_settings s;
    tse_callbacks cb;
    tse_mem bad;
    mt_alloc a;
    mt_rec rec;
    tse_tunnel *t = NULL;
    const char *h = NULL;
    uint16_t port = 0;
    uint8_t pkt[28];
    memset(&a, 0, sizeof(a));
    mt_rec_init(&rec);
    mt_settings_default(&s);
    for (int i = 0; i < 9; i++) {
        const tse_settings *sp = &s;
        const tse_mem *mp = mt_mem(&a);
        tse_tunnel **op = &t;
        cb = *mt_rec_callbacks();
        bad = *mt_mem(&a);
        switch (i) {
        case 0: op = NULL; break;
        case 1: sp = NULL; break;
        case 2: mp = NULL; break;
        case 3: bad.calloc = NULL; mp = &bad; break;
        case 4: bad.free = NULL; mp = &bad; break;
        case 5: cb.on_event = NULL; break;
        case 6: cb.on_packet = NULL; break;
        case 7: cb.entropy = NULL; break;
        default: break;
        }
        if (i == 8) {
            TT_EQ_INT(tse_tunnel_new(op, sp, NULL, mp, &rec), TSE_ERR_INVALID_ARG);
        } else {
            TT_EQ_INT(tse_tunnel_new(op, sp, &cb, mp, &rec), TSE_ERR_INVALID_ARG);
        }
    }
    TT_EQ_INT(a.live, 0);
    s.backoff_initial_ms = 10;
    s.backoff_max_ms = 5;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_BACKOFF);
    mt_settings_default(&s);
    s.client_cert = (const uint8_t *)"x";
    s.tls_config = (tse_tls_config *)&s; /* never dereferenced: refused first */
    s.ca = NULL;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_TLS);
    s.client_cert = NULL;
    s.client_key = (const uint8_t *)"x";
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_TLS);

    /* a created, not started tunnel: the calls that need a state refuse */
    mt_settings_default(&s);
    TT_EQ_INT(tse_tunnel_new(&t, &s, mt_rec_callbacks(), mt_mem(&a), &rec), TSE_OK);
    TT_EQ_INT(tse_tunnel_connect_target(t, NULL, &port), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_connect_target(t, &h, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_connect_target(t, &h, &port), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_transport_connected(t, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_transport_closed(t, 1, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_transport_closed(t, 0, 0), TSE_OK);
    TT_EQ_INT(tse_tunnel_recv_outer(t, NULL, 3, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_recv_outer(t, pkt, 3, 0), TSE_OK); /* no connection: ignored */
    TT_EQ_INT(tse_tunnel_send_packet(t, pkt, sizeof(pkt), 0), TSE_ERR_NOT_UP);
    TT_EQ_INT(tse_tunnel_send_packet_class(t, pkt, sizeof(pkt), TSE_CLASS_BULK, 0), TSE_ERR_NOT_UP);
    TT_EQ_INT(tse_tunnel_reconnect(t, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_pause(t, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_resume(t, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_handle_expiry(t, 0), TSE_OK);
    TT_EQ_INT(tse_tunnel_start(t, 0), TSE_OK);
    TT_EQ_INT(tse_tunnel_start(t, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_want(t), TSE_WANT_CONNECT);
    TT_EQ_INT(tse_tunnel_transport_connected(t, 0), TSE_ERR_STATE); /* not started */
    TT_EQ_INT(tse_tunnel_resume(t, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_pause(t, 0), TSE_OK);
    TT_EQ_INT(tse_tunnel_pause(t, 0), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(t), TSE_STATE_PAUSED);
    TT_EQ_INT(tse_tunnel_reconnect(t, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_close(t, 0), TSE_OK);
    TT_EQ_INT(tse_tunnel_close(t, 0), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(t), TSE_STATE_CLOSED);
    TT_EQ_INT(tse_tunnel_last_error(t), TSE_ERR_CLOSED);
    TT_EQ_INT(tse_tunnel_pause(t, 0), TSE_ERR_STATE);
    tse_tunnel_del(t);
    TT_EQ_INT(a.live, 0);
}

/* Every "TSE_ERR_X = -N" line of the public header. */
static int codes[512];
static char names[512][48];
static size_t ncodes;

static int load_codes(void)
{
    char path[512], line[256];
    FILE *f;
    snprintf(path, sizeof(path), "%s/../../include/tse/error.h", TSE_TEST_VECTORS_DIR);
    f = fopen(path, "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof(line), f) != NULL && ncodes < 512) {
        char name[48];
        int v;
        if (sscanf(line, " %47[A-Z0-9_] = %d", name, &v) == 2 && strncmp(name, "TSE_", 4) == 0) {
            codes[ncodes] = v;
            memcpy(names[ncodes], name, sizeof(name));
            ncodes++;
        }
    }
    fclose(f);
    return 0;
}

TT_TEST(every_error_has_its_own_name)
{
    TT_EQ_INT(load_codes(), 0);
    TT_ASSERT(ncodes > 80);
    for (size_t i = 0; i < ncodes; i++) {
        const char *s = tse_strerror(codes[i]);
        if (strcmp(s, "unknown error") == 0) fprintf(stderr, "no name: %s\n", names[i]);
        TT_ASSERT(strcmp(s, "unknown error") != 0);
        for (size_t j = 0; j < i; j++) {
            if (codes[j] == codes[i]) fprintf(stderr, "same value: %s %s\n", names[i], names[j]);
            TT_ASSERT(codes[j] != codes[i]);
            if (strcmp(tse_strerror(codes[j]), s) == 0) {
                fprintf(stderr, "same name: %s %s\n", names[i], names[j]);
            }
            TT_ASSERT(strcmp(tse_strerror(codes[j]), s) != 0);
        }
        (void)tse_err_is_retryable(codes[i]);
    }
    /* a value that is no code has no name */
    for (int v = -1000; v <= 0; v++) {
        int known = 0;
        for (size_t i = 0; i < ncodes; i++) known |= codes[i] == v;
        if (!known) TT_ASSERT(strcmp(tse_strerror(v), "unknown error") == 0);
    }
    /* what the retry policy promises */
    TT_ASSERT(tse_err_is_retryable(TSE_ERR_TRANSPORT_RESET));
    TT_ASSERT(tse_err_is_retryable(TSE_ERR_KEEPALIVE_TIMEOUT));
    TT_ASSERT(!tse_err_is_retryable(TSE_ERR_TLS_CERT_UNTRUSTED));
    TT_ASSERT(!tse_err_is_retryable(TSE_ERR_PROXY_AUTH_FAILED));
    TT_ASSERT(!tse_err_is_retryable(TSE_ERR_SETTING_QUEUE));
}

/* tse_strerror() keeps its names in blocks of consecutive codes
 * (lib/error.c): a text missing or one too many in a block shifts every
 * name after it.  Each code's name starts with its module's prefix, and
 * the last code of each block has its own text. */
TT_TEST(every_name_is_its_codes)
{
    static const struct { int lo, hi; const char *prefix; } ranges[] = {
        { -110, -100, "CM: " },        { -154, -150, "framing: " },
        { -205, -200, "transport: " }, { -307, -300, "proxy: " },
        { -411, -400, "TLS: " },       { -507, -500, "TSCF: " },
        { -699, -601, "TSCF rejected: " }, { -709, -700, "STUN: " },
        { -722, -720, "SIP: " },       { -809, -800, "settings: " },
        { -1027, -1000, "TURN: " },    { -1051, -1050, "RFC 4571: " },
        { -1101, -1100, "stream: " },
    };
    static const struct { int err; const char *name; } last[] = {
        { TSE_ERR_NETWORK_CHANGED, "the network changed" },
        { TSE_ERR_CM_DUPLICATE_TLV, "CM: the same TLV twice" },
        { TSE_ERR_FRAME_ENVELOPE, "framing: invalid envelope type or length" },
        { TSE_ERR_TRANSPORT_IO, "transport: socket error" },
        { TSE_ERR_PROXY_TIMEOUT, "proxy: no reply in time" },
        { TSE_ERR_TLS_NO_COMMON, "TLS: no cipher suite, group or signature in common" },
        { TSE_ERR_SERVER_RELEASED, "TSCF: tunnel released by the server" },
        { TSE_ERR_REJECT_VERSION, "TSCF rejected: version not supported (5)" },
        { TSE_ERR_REJECT_OTHER, "TSCF rejected: unknown response code" },
        { TSE_ERR_STUN_ERROR_RESPONSE, "STUN: Binding error response" },
        { TSE_ERR_SIP_MISMATCH, "SIP: response does not match the request" },
        { TSE_ERR_DETECT_ENTROPY, "probe: entropy source failed" },
        { TSE_ERR_SETTING_PATH, NULL }, /* prefix only: see below */
        { TSE_ERR_NO_ROUTE, "netlink: no route to the host to exclude" },
        { TSE_ERR_TURN_BAD_RESPONSE, "TURN: success response incomplete" },
        { TSE_ERR_RFC4571_TRUNCATED, "RFC 4571: stream ended inside a frame" },
        { TSE_ERR_STREAM_DEAD_PEER, "stream: no answer from the peer (dead peer)" },
    };
    TT_EQ_INT(load_codes(), 0);
    for (size_t i = 0; i < ncodes; i++) {
        for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
            if (codes[i] >= ranges[r].lo && codes[i] <= ranges[r].hi) {
                const char *s = tse_strerror(codes[i]);
                if (strncmp(s, ranges[r].prefix, strlen(ranges[r].prefix)) != 0)
                    fprintf(stderr, "%s: \"%s\"\n", names[i], s);
                TT_ASSERT(strncmp(s, ranges[r].prefix, strlen(ranges[r].prefix)) == 0);
            }
        }
    }
    for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++) {
        if (last[i].name == NULL) continue;
        if (strcmp(tse_strerror(last[i].err), last[i].name) != 0)
            fprintf(stderr, "%d: \"%s\"\n", last[i].err, tse_strerror(last[i].err));
        TT_EQ_INT(strcmp(tse_strerror(last[i].err), last[i].name), 0);
    }
    TT_ASSERT(strstr(tse_strerror(TSE_ERR_SETTING_PATH), "path_cache") != NULL);
    TT_EQ_INT(strcmp(tse_strerror(TSE_OK), "success"), 0);
    TT_EQ_INT(strcmp(tse_strerror(TSE_ERR_WOULD_BLOCK), "would block"), 0);
    TT_EQ_INT(strcmp(tse_strerror(TSE_ERR_DETECT_TIMEOUT), "probe: no answer in time"), 0);
    TT_EQ_INT(strcmp(tse_strerror(1), "unknown error"), 0);
    TT_EQ_INT(strcmp(tse_strerror(-12), "unknown error"), 0);
    TT_EQ_INT(strcmp(tse_strerror(-1102), "unknown error"), 0);
    TT_EQ_INT(strcmp(tse_strerror(-1028), "unknown error"), 0);
}

/* The retry policy (lib/error.c keeps it as bit masks per block of codes):
 * exactly these codes are retryable. */
TT_TEST(exactly_these_are_retryable)
{
    static const int yes[] = {
        TSE_ERR_NETWORK_CHANGED, TSE_ERR_TRANSPORT_RESOLVE, TSE_ERR_TRANSPORT_REFUSED,
        TSE_ERR_TRANSPORT_TIMEOUT, TSE_ERR_TRANSPORT_RESET, TSE_ERR_TRANSPORT_CLOSED,
        TSE_ERR_TRANSPORT_IO, TSE_ERR_PROXY_CLOSED, TSE_ERR_PROXY_TIMEOUT,
        TSE_ERR_PROXY_STATUS, TSE_ERR_TLS_HANDSHAKE, TSE_ERR_TLS_ALERT,
        TSE_ERR_TLS_RECORD, TSE_ERR_TLS_TIMEOUT, TSE_ERR_PROTO_UNEXPECTED,
        TSE_ERR_PROTO_TSID, TSE_ERR_PROTO_SEQUENCE, TSE_ERR_PROTO_NO_ADDRESS,
        TSE_ERR_PROTO_TIMEOUT, TSE_ERR_KEEPALIVE_TIMEOUT, TSE_ERR_SERVER_RELEASED,
        TSE_ERR_REJECT_INVALID_TSID, TSE_ERR_REJECT_NO_RESOURCES, TSE_ERR_REJECT_UNAVAILABLE,
        TSE_ERR_FRAME_NIBBLE, TSE_ERR_FRAME_IPV4_IHL, TSE_ERR_FRAME_IPV4_LENGTH,
        TSE_ERR_FRAME_TOO_BIG, TSE_ERR_FRAME_ENVELOPE, TSE_ERR_CM_TRUNCATED,
        TSE_ERR_CM_VERSION, TSE_ERR_CM_INDICATION, TSE_ERR_CM_RESERVED,
        TSE_ERR_CM_TYPE, TSE_ERR_CM_TLV_COUNT, TSE_ERR_CM_TLV_OVERRUN,
        TSE_ERR_CM_TLV_LENGTH, TSE_ERR_CM_MASK_WITHOUT_ADDR, TSE_ERR_CM_NO_RESPONSE_CODE,
        TSE_ERR_CM_DUPLICATE_TLV, TSE_ERR_TURN_TIMEOUT, TSE_ERR_TURN_CAPACITY,
        TSE_ERR_TURN_SERVER_ERROR, TSE_ERR_TURN_ALLOC_MISMATCH, TSE_ERR_TURN_STALE_NONCE,
        TSE_ERR_TURN_EXPIRED, TSE_ERR_TURN_MALFORMED, TSE_ERR_TURN_CONNECTION_FAILED,
        TSE_ERR_STREAM_DEAD_PEER
    };
    size_t n = sizeof(yes) / sizeof(yes[0]);
    for (int v = -1200; v <= 1; v++) {
        int want = 0;
        for (size_t i = 0; i < n; i++) want |= yes[i] == v;
        if (tse_err_is_retryable(v) != want) fprintf(stderr, "retryable(%d) != %d\n", v, want);
        TT_EQ_INT(tse_err_is_retryable(v), want);
    }
}

int main(void)
{
    TT_RUN(null_arguments);
    TT_RUN(each_missing_argument_and_wrong_state);
    TT_RUN(every_error_has_its_own_name);
    TT_RUN(every_name_is_its_codes);
    TT_RUN(exactly_these_are_retryable);
    return TT_DONE();
}
