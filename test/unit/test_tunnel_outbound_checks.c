/* Engine: what the application hands in is checked before it is queued
 * (one whole IPv4 or IPv6 packet, nothing else), and the pause / resume /
 * reconnect calls refuse the states they do not apply to. */
#include <stdint.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

/* An IPv6/UDP-shaped packet of @p total bytes whose Payload Length says
 * @p claimed (total - 40 when it is honest). */
static void make_ipv6(uint8_t *p, size_t total, size_t claimed)
{
    memset(p, 0, total);
    p[0] = 0x60;
    p[4] = (uint8_t)(claimed >> 8);
    p[5] = (uint8_t)claimed;
    p[6] = 17; /* UDP */
    p[7] = 64;
    p[8] = 0x20; p[9] = 0x01; p[10] = 0x0d; p[11] = 0xb8; p[23] = 2; /* 2001:db8::2 */
    p[24] = 0x20; p[25] = 0x01; p[26] = 0x0d; p[27] = 0xb8; p[39] = 1; /* 2001:db8::1 */
}

TT_TEST(outbound_packets_must_be_whole_ip_packets)
{
    uint8_t p[200], v4[64];
    tse_stats st;
    uint64_t before;
    mt_fix_setup(&F);
    START_UP();
    before = mem_tscf_seen(F.peer)->pkts_total;

    /* IPv6: the Payload Length must describe the whole buffer */
    make_ipv6(p, 48, 8);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 48, F.d.now), TSE_OK);
    make_ipv6(p, 40, 0); /* header only: still a packet */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 40, F.d.now), TSE_OK);
    make_ipv6(p, 48, 9); /* claims one byte more than given */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 48, F.d.now), TSE_ERR_PACKET_INVALID);
    make_ipv6(p, 48, 7); /* claims one byte less: trailing garbage */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 48, F.d.now), TSE_ERR_PACKET_INVALID);
    make_ipv6(p, 39, 0); /* shorter than the fixed header */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 39, F.d.now), TSE_ERR_PACKET_INVALID);

    /* IPv4: IHL and Total Length */
    TT_EQ_INT(mt_make_ipv4(v4, 40, F.cfg.ipv4, PEER_ADDR, 1), 40);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, v4, 40, F.d.now), TSE_OK);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, v4, 39, F.d.now), TSE_ERR_PACKET_INVALID);
    memcpy(p, v4, 40);
    p[0] = 0x44; /* IHL 16 bytes: below the minimum */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 40, F.d.now), TSE_ERR_PACKET_INVALID);
    memcpy(p, v4, 40);
    p[0] = 0x4f; /* IHL 60 bytes: beyond the 40-byte packet */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 40, F.d.now), TSE_ERR_PACKET_INVALID);
    /* neither version; and below any header */
    memcpy(p, v4, 40);
    p[0] = 0x55;
    TT_EQ_INT(tse_tunnel_send_packet(F.t, p, 40, F.d.now), TSE_ERR_PACKET_INVALID);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, v4, 19, F.d.now), TSE_ERR_PACKET_INVALID);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, NULL, 40, F.d.now), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_send_packet(NULL, v4, 40, F.d.now), TSE_ERR_INVALID_ARG);

    /* exactly the three good ones reach the TSCF, intact */
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total - before, 3);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts[0].len, 48);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts[1].len, 40);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts[2].len, 40);
    TT_EQ_MEM(mem_tscf_seen(F.peer)->pkts[2].data, v4, 40);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.packets_out, 3);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

TT_TEST(pause_resume_reconnect_state_rules)
{
    tse_stats st;
    unsigned conns;
    mt_fix_setup(&F);
    TT_EQ_INT(tse_tunnel_pause(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_resume(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_reconnect(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_state(NULL), TSE_STATE_CLOSED);
    TT_ASSERT(tse_tunnel_get_config(NULL) == NULL);
    memset(&st, 0xAB, sizeof st);
    tse_tunnel_get_stats(NULL, &st);
    TT_EQ_INT(st.packets_out, 0);
    TT_EQ_INT(st.reconnects, 0);
    START_UP();
    tse_tunnel_get_stats(F.t, NULL); /* nowhere to write: ignored */
    conns = mem_tscf_seen(F.peer)->conns;
    /* pause twice: the second is a no-op; nothing else applies while paused */
    TT_EQ_INT(tse_tunnel_pause(F.t, F.d.now), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_PAUSED);
    TT_EQ_INT(tse_tunnel_pause(F.t, F.d.now), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_PAUSED);
    TT_EQ_INT(tse_tunnel_reconnect(F.t, F.d.now), TSE_ERR_STATE);
    {
        uint8_t v4[40];
        mt_make_ipv4(v4, sizeof v4, F.cfg.ipv4, PEER_ADDR, 1);
        TT_EQ_INT(tse_tunnel_send_packet(F.t, v4, sizeof v4, F.d.now), TSE_ERR_NOT_UP);
    }
    /* resume: a new connection, the same tunnel comes back */
    TT_EQ_INT(tse_tunnel_resume(F.t, F.d.now), TSE_OK);
    TT_EQ_INT(tse_tunnel_resume(F.t, F.d.now), TSE_ERR_STATE);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(mem_tscf_seen(F.peer)->conns, conns + 1);
    /* reconnect from UP counts and comes back */
    TT_EQ_INT(tse_tunnel_reconnect(F.t, F.d.now), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(mem_tscf_seen(F.peer)->conns, conns + 2);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.reconnects, 1);
    /* after close nothing applies any more */
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN));
    TT_EQ_INT(tse_tunnel_pause(F.t, F.d.now), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_reconnect(F.t, F.d.now), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_resume(F.t, F.d.now), TSE_ERR_STATE);
    END();
}

int main(void)
{
    TT_RUN(outbound_packets_must_be_whole_ip_packets);
    TT_RUN(pause_resume_reconnect_state_rules);
    mt_fix_teardown(&F);
    return TT_DONE();
}
