/* Engine: the inner address a Configuration_Response assigns must be a
 * unicast address the TSE can send from (issue 11).  Table-driven: each
 * row is what the in-memory TSCF assigns and whether the tunnel may come
 * up; a refused one ends with TSE_ERR_PROTO_NO_ADDRESS and a detail that
 * says what is wrong, and nothing goes out from it. */
#include <stdint.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

typedef struct addr_case {
    const char *name;
    uint8_t v4[4];
    int has_v6;
    uint8_t v6[16];
    int ok;             /* 1 = comes UP */
    const char *why;    /* for a refusal: a word the detail must contain */
} addr_case;

#define V6(...) 1, { __VA_ARGS__ }
#define NO_V6 0, { 0 }

static const addr_case cases[] = {
    { "inner 198.18.0.2", { 198, 18, 0, 2 }, NO_V6, 1, NULL },
    { "private 10.1.2.3", { 10, 1, 2, 3 }, NO_V6, 1, NULL },
    { "CGN 100.64.0.1", { 100, 64, 0, 1 }, NO_V6, 1, NULL },
    { "last unicast 223.255.255.254", { 223, 255, 255, 254 }, NO_V6, 1, NULL },
    { "unspecified 0.0.0.0", { 0, 0, 0, 0 }, NO_V6, 0, "" },
    { "this network 0.1.2.3", { 0, 1, 2, 3 }, NO_V6, 0, "0.0.0.0/8" },
    { "loopback 127.0.0.1", { 127, 0, 0, 1 }, NO_V6, 0, "loopback" },
    { "loopback 127.255.255.254", { 127, 255, 255, 254 }, NO_V6, 0, "loopback" },
    { "multicast 224.0.0.1", { 224, 0, 0, 1 }, NO_V6, 0, "multicast" },
    { "multicast 239.255.255.255", { 239, 255, 255, 255 }, NO_V6, 0, "multicast" },
    { "reserved 240.0.0.1", { 240, 0, 0, 1 }, NO_V6, 0, "reserved" },
    { "broadcast 255.255.255.255", { 255, 255, 255, 255 }, NO_V6, 0, "broadcast" },
    { "v6 documentation 2001:db8::1", { 198, 18, 0, 2 },
      V6(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 1, NULL },
    { "v6 ULA fd00::1", { 198, 18, 0, 2 },
      V6(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 1, NULL },
    { "v6 unspecified ::", { 198, 18, 0, 2 }, V6(0), 0, "unspecified" },
    { "v6 loopback ::1", { 198, 18, 0, 2 },
      V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 0, "loopback" },
    { "v6 multicast ff02::1", { 198, 18, 0, 2 },
      V6(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 0, "multicast" },
    { "v6 multicast ff0e::101", { 198, 18, 0, 2 },
      V6(0xff, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1), 0, "multicast" },
    { "v6 IPv4-mapped ::ffff:198.18.0.2", { 198, 18, 0, 2 },
      V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2), 0, "IPv4-mapped" },
    { "good v4, multicast v6", { 10, 0, 0, 2 },
      V6(0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2), 0, "IPv6" },
    { "bad v4, good v6", { 127, 0, 0, 1 },
      V6(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 0, "IPv4" },
};

/* One row; 0 if the engine did what the row says, else prints why. */
static int run_case(const addr_case *c)
{
    const mt_ev *down;
    int bad = 0;
    mt_fix_setup(&F);
    F.s.auto_reconnect = 0;
    memcpy(F.cfg.ipv4, c->v4, 4);
    if (c->has_v6) {
        F.s.request_ipv6 = 1;
        F.cfg.assign_ipv6 = 1;
        memcpy(F.cfg.ipv6, c->v6, 16);
    }
    if (mt_fix_start(&F, T0) != TSE_OK) {
        fprintf(stderr, "%s: tunnel not started\n", c->name);
        return 1;
    }
    if (c->ok) {
        if (!mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN) ||
            memcmp(tse_tunnel_get_config(F.t)->ipv4, c->v4, 4) != 0) {
            fprintf(stderr, "%s: refused\n", c->name);
            bad = 1;
        }
    } else {
        if (!mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN) ||
            mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP) != 0 ||
            tse_tunnel_get_config(F.t) != NULL ||
            (down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)) == NULL) {
            fprintf(stderr, "%s: not refused\n", c->name);
            bad = 1;
        } else if (down->error != TSE_ERR_PROTO_NO_ADDRESS || !down->has_detail ||
                   strstr(down->detail, c->why) == NULL) {
            fprintf(stderr, "%s: error %d detail '%s', expected %d and '%s'\n",
                    c->name, down->error, down->has_detail ? down->detail : "",
                    TSE_ERR_PROTO_NO_ADDRESS, c->why);
            bad = 1;
        } else if (mem_tscf_seen(F.peer)->pkts_total != 0) {
            fprintf(stderr, "%s: packets went out\n", c->name);
            bad = 1;
        }
    }
    if (bad) {
        mt_rec_dump(&F.rec);
    }
    if (mt_fix_teardown(&F) != 0) {
        fprintf(stderr, "%s: leak\n", c->name);
        bad = 1;
    }
    return bad;
}

TT_TEST(only_unicast_inner_addresses_bring_the_tunnel_up)
{
    size_t i;
    int failed = 0;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        failed += run_case(&cases[i]);
    }
    TT_EQ_INT(failed, 0);
}

int main(void)
{
    TT_RUN(only_unicast_inner_addresses_bring_the_tunnel_up);
    mt_fix_teardown(&F);
    return TT_DONE();
}
