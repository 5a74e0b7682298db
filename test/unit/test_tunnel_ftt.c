/* Engine: the TS 24.322 FTT profile (tse_settings.framing TSE_FRAMING_FTT)
 * against mem_tscf in its FTT mode, on a virtual clock: bring-up with the
 * address from the server's first packet or a configured one, packets
 * both ways in envelopes, no control message ever, a malformed envelope,
 * a cut and the new tunnel after it, close, and the refused settings. */
#include <stdint.h>
#include <string.h>

#include "tse/config.h"
#include "tse/framing.h"
#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

static const uint8_t ONES4[4] = { 255, 255, 255, 255 };

static void ftt_setup(void)
{
    mt_fix_setup(&F);
    F.cfg.ftt = 1;
    F.s.framing = TSE_FRAMING_FTT;
}

/* The n-th inbound packet the application got, or NULL. */
static const mt_pkt_rec *in_pkt(size_t n)
{
    return n < F.rec.n_in ? &F.rec.in[n] : NULL;
}

TT_TEST(ftt_up_address_from_first_packet)
{
    const mt_ev *up;
    size_t i, n_state = 0;
    tse_state seq[8];
    ftt_setup();
    F.cfg.ipv4[3] = 42;
    START_UP();

    TT_ASSERT(strcmp(F.d.last_host, "tscf.test") == 0);
    TT_EQ_INT(F.d.last_port, 443);
    /* TLS with SNI (TS 24.322: the server is named by FQDN) */
    TT_EQ_INT(mem_tscf_seen(F.peer)->sni_present, 1);
    TT_ASSERT(strcmp(mem_tscf_seen(F.peer)->sni, "tscf.test") == 0);

    up = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 0);
    TT_ASSERT(up != NULL && up->has_config);
    TT_EQ_MEM(up->config.ipv4, F.cfg.ipv4, 4);
    TT_EQ_MEM(up->config.ipv4_mask, ONES4, 4);
    TT_EQ_INT(up->config.keepalive_s, 0);
    TT_EQ_INT(up->config.resumed, 0);
    TT_ASSERT(up->config.tsid == TSE_CM_TSID_NONE);

    /* CONNECTING, TLS, CONFIGURING (waiting for the first packet), UP */
    for (i = 0; i < F.rec.n_ev && n_state < 8; i++) {
        if (F.rec.ev[i].type == TSE_EV_STATE) seq[n_state++] = F.rec.ev[i].state;
    }
    TT_EQ_INT(n_state, 4);
    TT_EQ_INT(seq[2], TSE_STATE_CONFIGURING);
    TT_EQ_INT(seq[3], TSE_STATE_UP);

    /* the announcing packet is delivered too (the stack answers it) */
    TT_EQ_INT(F.rec.n_in, 1);
    TT_EQ_INT(in_pkt(0)->data[9], 1); /* ICMP */
    TT_EQ_MEM(in_pkt(0)->data + 16, F.cfg.ipv4, 4);

    /* no control message went out, nothing malformed arrived */
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_cms, 0);
    TT_EQ_INT(mem_tscf_seen(F.peer)->unit_error, 0);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_WARNING), 0);
    END();
}

TT_TEST(ftt_up_configured_address_at_once)
{
    const mt_ev *up;
    static const uint8_t mine[4] = { 198, 18, 0, 9 };
    static const uint8_t mask[4] = { 255, 254, 0, 0 };
    ftt_setup();
    F.cfg.ftt_no_announce = 1;
    memcpy(F.s.request_ipv4, mine, 4);
    memcpy(F.s.request_ipv4_mask, mask, 4);
    START_UP();
    up = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 0);
    TT_ASSERT(up != NULL);
    TT_EQ_MEM(up->config.ipv4, mine, 4);
    TT_EQ_MEM(up->config.ipv4_mask, mask, 4);
    TT_EQ_INT(F.rec.n_in, 0);
    END();
}

TT_TEST(ftt_no_first_packet_times_out)
{
    const mt_ev *down;
    ftt_setup();
    F.cfg.ftt_no_announce = 1;
    F.s.auto_reconnect = 0;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, 60000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_PROTO_TIMEOUT);
    TT_EQ_INT(down->old_state, TSE_STATE_CONFIGURING);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 0);
    END();
}

TT_TEST(ftt_first_packet_to_a_bad_address_fails)
{
    const mt_ev *down;
    ftt_setup();
    F.cfg.ipv4[0] = 224; /* multicast */
    F.s.auto_reconnect = 0;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_PROTO_NO_ADDRESS);
    TT_EQ_INT(F.rec.n_in, 0);
    END();
}

TT_TEST(ftt_packets_both_ways_in_envelopes)
{
    uint8_t pkt[1400];
    size_t n, before;
    const mt_seen *seen;
    ftt_setup();
    F.cfg.echo = 1;
    START_UP();
    before = F.rec.n_in;
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 7);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    n = mt_make_ipv4(pkt, 60, F.cfg.ipv4, PEER_ADDR, 8);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d);

    /* the peer deframed both envelopes (an error would be sticky) */
    seen = mem_tscf_seen(F.peer);
    TT_EQ_INT(seen->unit_error, 0);
    TT_EQ_INT(seen->n_pkts, 2);
    TT_EQ_INT(seen->pkts[0].len, sizeof(pkt));
    TT_EQ_INT(seen->pkts[1].len, 60);
    TT_EQ_INT(seen->pkts[1].data[28], 8);
    TT_EQ_INT(seen->n_cms, 0);

    /* and echoed them: the application got the packets, unframed */
    TT_EQ_INT(F.rec.n_in, before + 2);
    TT_EQ_INT(in_pkt(before)->len, sizeof(pkt));
    TT_EQ_MEM(in_pkt(before)->data + 16, F.cfg.ipv4, 4);
    TT_EQ_INT(in_pkt(before + 1)->len, 60);
    TT_EQ_INT(in_pkt(before + 1)->data[28], 8);

    /* one byte at a time both ways changes nothing */
    F.d.chunk_to_peer = 1;
    F.d.chunk_to_engine = 1;
    n = mt_make_ipv4(pkt, 300, F.cfg.ipv4, PEER_ADDR, 9);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(seen->n_pkts, 3);
    TT_EQ_INT(F.rec.n_in, before + 3);
    TT_EQ_INT(in_pkt(before + 2)->data[299], 9);
    END();
}

TT_TEST(ftt_idle_tunnel_stays_up_without_keepalives)
{
    ftt_setup();
    F.s.request_keepalive_s = 5; /* meaningless without CMs: ignored */
    START_UP();
    TT_EQ_INT(tse_tunnel_expiry(F.t), TSE_TIME_NEVER);
    mt_advance(&F.d, 120000);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_cms, 0);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 0);
    END();
}

/* TS 24.322: octet 1 is Type, 1 the only value; a wrong Type cannot be
 * skipped (no resync point): the engine ends the connection, and the
 * deframer's error is sticky (nothing after it is delivered). */
TT_TEST(ftt_malformed_envelope_is_fatal_and_sticky)
{
    static const uint8_t bad_then_good[] = {
        2, 0, 4, 0x45,                 /* Type 2: not a packet */
        1, 0, 31, 0x45, 0, 0, 28       /* a good envelope's start */
    };
    const mt_ev *down;
    size_t before;
    ftt_setup();
    F.s.auto_reconnect = 0;
    START_UP();
    before = F.rec.n_in;
    TT_EQ_INT(mem_tscf_send_plain(F.peer, bad_then_good, sizeof(bad_then_good)), 0);
    mt_pump(&F.d);
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_FRAME_ENVELOPE);
    TT_EQ_INT(down->old_state, TSE_STATE_UP);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(tse_tunnel_last_error(F.t), TSE_ERR_FRAME_ENVELOPE);
    TT_EQ_INT(F.rec.n_in, before);
    END();
}

TT_TEST(ftt_envelope_length_3_is_malformed)
{
    static const uint8_t empty_env[] = { 1, 0, 3 };
    const mt_ev *down;
    ftt_setup();
    F.s.auto_reconnect = 0;
    START_UP();
    TT_EQ_INT(mem_tscf_send_plain(F.peer, empty_env, sizeof(empty_env)), 0);
    mt_pump(&F.d);
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_FRAME_ENVELOPE);
    END();
}

/* An envelope whose Length is not its packet's: the application never
 * sees a packet cut short or padded, and the stream is given up. */
TT_TEST(ftt_envelope_length_disagrees_with_the_packet)
{
    uint8_t env[3 + 60];
    const mt_ev *down;
    size_t before;
    ftt_setup();
    F.s.auto_reconnect = 0;
    START_UP();
    before = F.rec.n_in;
    (void)mt_make_ipv4(env + 3, 60, PEER_ADDR, F.cfg.ipv4, 3);
    env[3 + 3] = 50; /* IPv4 total length 50 in an envelope of 63 */
    env[0] = 1;
    env[1] = 0;
    env[2] = sizeof(env);
    TT_EQ_INT(mem_tscf_send_plain(F.peer, env, sizeof(env)), 0);
    mt_pump(&F.d);
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_FRAME_ENVELOPE);
    TT_EQ_INT(F.rec.n_in, before);
    END();
}

/* A cut: no TSID, nothing to resume; auto_reconnect brings up a new
 * tunnel, TUNNEL_DOWN then TUNNEL_UP, and ADDR_CHANGED when the server
 * announced another address. */
TT_TEST(ftt_cut_brings_up_a_new_tunnel)
{
    const mt_ev *up2, *chg;
    uint8_t pkt[100];
    size_t n;
    ftt_setup();
    F.cfg.echo = 1;
    START_UP();
    TT_EQ_INT(mem_tscf_seen(F.peer)->conns, 1);
    F.cfg.ipv4[3] = 77; /* the next tunnel gets another address */
    mem_tscf_cfg(F.peer)->ipv4[3] = 77;
    mt_cut(&F.d);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 1);
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_TRANSPORT_RESET);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(mem_tscf_seen(F.peer)->conns, 2);
    up2 = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1);
    TT_EQ_INT(up2->config.resumed, 0);
    TT_EQ_INT(up2->config.ipv4[3], 77);
    chg = mt_rec_nth(&F.rec, TSE_EV_ADDR_CHANGED, 0);
    TT_ASSERT(chg != NULL);
    TT_EQ_INT(chg->config.ipv4[3], 77);
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_cms, 0);

    /* the new tunnel carries packets */
    n = mt_make_ipv4(pkt, sizeof(pkt), up2->config.ipv4, PEER_ADDR, 5);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(F.rec.in[F.rec.n_in - 1].len, sizeof(pkt));
    END();
}

TT_TEST(ftt_same_address_after_cut_is_no_change)
{
    ftt_setup();
    START_UP();
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 0);
    END();
}

TT_TEST(ftt_close_sends_close_notify_not_a_release)
{
    const mt_ev *down;
    ftt_setup();
    START_UP();
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    down = mt_rec_last(&F.rec, TSE_EV_TUNNEL_DOWN);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_CLOSED);
    TT_EQ_INT(mem_tscf_seen(F.peer)->close_notify, 1);
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_cms, 0);
    END();
}

TT_TEST(ftt_through_proxy)
{
    const mt_ev *up;
    ftt_setup();
    F.cfg.proxy = MT_PROXY_200;
    F.s.proxy_host = "proxy.test";
    F.s.proxy_port = 3128;
    START_UP();
    TT_ASSERT(strcmp(F.d.last_host, "proxy.test") == 0);
    TT_ASSERT(strstr(mem_tscf_seen(F.peer)->heads[0], "CONNECT tscf.test:443 ") != NULL);
    up = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 0);
    TT_EQ_INT(up->config.via_proxy, 1);
    TT_EQ_MEM(up->config.ipv4, F.cfg.ipv4, 4);
    END();
}

TT_TEST(ftt_refused_settings)
{
    tse_settings s;
    mt_settings_default(&s);
    s.framing = 2; /* no such profile */
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_PROFILE);
    s.framing = -1;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_PROFILE);
    s.framing = TSE_FRAMING_FTT;
#if TSE_CONFIG_FTT
    TT_EQ_INT(tse_settings_check(&s), TSE_OK);
    /* the envelope's 16-bit Length counts its own 3 octets */
    s.max_unit = 65533;
    s.outq_size = 70000;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_MAX_UNIT);
    s.max_unit = 65532;
    TT_EQ_INT(tse_settings_check(&s), TSE_OK);
    /* the bulk queue holds the largest packet in its envelope */
    s.max_unit = 2048;
    s.outq_size = 2050;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_QUEUE);
    s.outq_size = 2051;
    TT_EQ_INT(tse_settings_check(&s), TSE_OK);
#else
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_PROFILE);
#endif
    /* tse_tunnel_new checks the same */
    ftt_setup();
    F.s.framing = 5;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_ERR_SETTING_PROFILE);
    TT_ASSERT(F.t == NULL);
    END();
}

TT_TEST(ftt_footprint_has_room_for_the_envelope)
{
    tse_settings s;
    size_t tscf, ftt;
    mt_settings_default(&s);
    tscf = tse_tunnel_footprint(&s);
    s.framing = TSE_FRAMING_FTT;
    ftt = tse_tunnel_footprint(&s);
    TT_EQ_INT(ftt - tscf, tse_frame_overhead(TSE_FRAMING_FTT));
}

int main(void)
{
    TT_RUN(ftt_up_address_from_first_packet);
    TT_RUN(ftt_up_configured_address_at_once);
    TT_RUN(ftt_no_first_packet_times_out);
    TT_RUN(ftt_first_packet_to_a_bad_address_fails);
    TT_RUN(ftt_packets_both_ways_in_envelopes);
    TT_RUN(ftt_idle_tunnel_stays_up_without_keepalives);
    TT_RUN(ftt_malformed_envelope_is_fatal_and_sticky);
    TT_RUN(ftt_envelope_length_3_is_malformed);
    TT_RUN(ftt_envelope_length_disagrees_with_the_packet);
    TT_RUN(ftt_cut_brings_up_a_new_tunnel);
    TT_RUN(ftt_same_address_after_cut_is_no_change);
    TT_RUN(ftt_close_sends_close_notify_not_a_release);
    TT_RUN(ftt_through_proxy);
    TT_RUN(ftt_refused_settings);
    TT_RUN(ftt_footprint_has_room_for_the_envelope);
    mt_fix_teardown(&F);
    return TT_DONE();
}
