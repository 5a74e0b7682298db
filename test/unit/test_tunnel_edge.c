/* Engine: the corners an adversarial peer or a careless port reaches -
 * units glued to or split across records, reserved TLVs, callbacks that
 * send, API misuse, timers fired early, a full queue at close, the
 * server closing TLS or TCP, round trips to UP. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

TT_TEST(packet_glued_to_config_response)
{
    uint8_t pkt[60];
    size_t n = mt_make_ipv4(pkt, sizeof(pkt), PEER_ADDR, (const uint8_t *)"\x0a\x00\x00\x02", 7);
    mt_fix_setup(&F);
    F.cfg.post_config = pkt;
    F.cfg.post_config_len = n;
    START_UP();
    /* delivered, after TUNNEL_UP */
    TT_EQ_INT(F.rec.in_total, 1);
    TT_EQ_INT(F.rec.in[0].len, n);
    TT_EQ_MEM(F.rec.in[0].data, pkt, n);
    END();
}

TT_TEST(config_response_split_across_records)
{
    mt_fix_setup(&F);
    F.cfg.config_split = 1;
    F.cfg.keepalive_s = 15;
    START_UP();
    TT_EQ_INT(tse_tunnel_get_config(F.t)->keepalive_s, 15);
    END();
}

TT_TEST(config_response_with_reserved_tlv_is_accepted)
{
    tse_stats st;
    mt_fix_setup(&F);
    F.cfg.config_extra_tlv = 1;
    START_UP();
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.unknown_tlvs, 1);
    END();
}

static void send_on_up(mt_rec *r, const tse_event *ev, void *arg)
{
    (void)r;
    if (ev->type == TSE_EV_TUNNEL_UP) {
        uint8_t pkt[40];
        size_t n = mt_make_ipv4(pkt, sizeof(pkt), ev->config->ipv4, PEER_ADDR, 1);
        *(int *)arg = tse_tunnel_send_packet(F.t, pkt, n, F.d.now);
    }
}

/* Issue 11: an inner packet before the Configuration_Response is not
 * delivered (there is no inner address yet), but it is counted in
 * tse_stats.early_packets and reported once per connection with a
 * TSE_EV_WARNING. */
TT_TEST(packet_before_config_response_is_counted_and_reported)
{
    uint8_t pkt[60];
    size_t n = mt_make_ipv4(pkt, sizeof(pkt), PEER_ADDR, (const uint8_t *)"\x0a\x00\x00\x02", 7);
    tse_stats st;
    const mt_ev *w;
    mt_fix_setup(&F);
    F.cfg.ignore_config = 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CONFIGURING, WITHIN));
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, pkt, n), 0);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, pkt, n), 0);
    mt_pump(&F.d);
    TT_EQ_INT(F.rec.in_total, 0);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.early_packets, 2);
    TT_EQ_INT(st.packets_in, 0);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_WARNING), 1);
    w = mt_rec_nth(&F.rec, TSE_EV_WARNING, 0);
    TT_ASSERT(w->has_detail && strstr(w->detail, "before the Configuration_Response") != NULL);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CONFIGURING);
    /* the next connection reports again */
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_STATE, mt_rec_count(&F.rec, TSE_EV_STATE) + 4, WITHIN));
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CONFIGURING, WITHIN));
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, pkt, n), 0);
    mt_pump(&F.d);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.early_packets, 3);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_WARNING), 2);
    END();
}

TT_TEST(send_from_the_up_callback)
{
    int rc = 99;
    mt_fix_setup(&F);
    F.rec.hook = send_on_up;
    F.rec.hook_arg = &rc;
    START_UP();
    TT_EQ_INT(rc, TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 1);
    END();
}

TT_TEST(inbound_packet_above_max_unit)
{
    uint8_t big[3000];
    const mt_ev *e;
    mt_fix_setup(&F);
    F.s.max_unit = 2048;
    START_UP();
    mt_make_ipv4(big, sizeof(big), PEER_ADDR, F.cfg.ipv4, 1);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, big, sizeof(big)), 0);
    mt_pump(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN));
    e = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_EQ_INT(e->error, TSE_ERR_FRAME_TOO_BIG);
    TT_EQ_INT(F.rec.in_total, 0);
    END();
}

TT_TEST(inbound_packet_at_max_unit)
{
    uint8_t big[2048];
    mt_fix_setup(&F);
    F.s.max_unit = 2048;
    START_UP();
    mt_make_ipv4(big, sizeof(big), PEER_ADDR, F.cfg.ipv4, 1);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, big, sizeof(big)), 0);
    mt_pump(&F.d);
    TT_EQ_INT(F.rec.in_total, 1);
    TT_EQ_INT(F.rec.in[0].len, 2048);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

TT_TEST(api_misuse_is_refused)
{
    const char *h;
    uint16_t port;
    mt_fix_setup(&F);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    /* started once already */
    TT_EQ_INT(tse_tunnel_start(F.t, F.d.now), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_connect_target(F.t, NULL, &port), TSE_ERR_INVALID_ARG);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(tse_tunnel_connect_target(F.t, &h, &port), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_transport_connected(F.t, F.d.now), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_resume(F.t, F.d.now), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_recv_outer(F.t, NULL, 5, F.d.now), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(tse_tunnel_start(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_close(NULL, 0), TSE_ERR_INVALID_ARG);
    tse_tunnel_del(NULL);
    TT_ASSERT(tse_state_name(TSE_STATE_UP) != NULL);
    END();
}

TT_TEST(early_expiry_call_changes_nothing)
{
    tse_time_ms e;
    int i;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    START_UP();
    e = tse_tunnel_expiry(F.t);
    TT_ASSERT(e > F.d.now && e != TSE_TIME_NEVER);
    for (i = 0; i < 100; i++) {
        TT_EQ_INT(tse_tunnel_handle_expiry(F.t, F.d.now + (tse_time_ms)i), TSE_OK);
    }
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_KEEPALIVE), 0);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_ASSERT(tse_tunnel_expiry(F.t) == e);
    END();
}

TT_TEST(close_with_a_full_queue_still_releases)
{
    uint8_t pkt[1400];
    size_t n;
    int ok = 0, i;
    mt_fix_setup(&F);
    F.s.outq_size = 8192;
    START_UP();
    F.d.hold_to_peer = 1;
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
    for (i = 0; i < 20; i++) {
        if (tse_tunnel_send_packet(F.t, pkt, n, F.d.now) == TSE_OK) ok++;
    }
    TT_ASSERT(ok >= 2);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_ERR_QUEUE_FULL);
    /* the CM reserve: a release still fits */
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    F.d.hold_to_peer = 0;
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, ok);
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_RELEASE_REQUEST), 1);
    /* order on the wire = order queued: the release is last */
    TT_ASSERT(mem_tscf_cm(F.peer, TSE_CM_RELEASE_REQUEST, 0)->ord >
              mem_tscf_seen(F.peer)->pkts[ok - 1].ord);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    END();
}

TT_TEST(close_during_handshake)
{
    mt_fix_setup(&F);
    F.cfg.tls_silent = 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_TLS);
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_advance(&F.d, 600000);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(F.d.connected, 0);
    TT_EQ_INT(F.d.connects, 1);
    TT_EQ_INT(mem_tscf_count_cms(F.peer, 0), 0);
    END();
}

TT_TEST(server_fin_while_up_resumes)
{
    const mt_ev *down;
    mt_fix_setup(&F);
    START_UP();
    mt_peer_close(&F.d);
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_TRANSPORT_CLOSED);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    END();
}

TT_TEST(server_close_notify_while_up_resumes)
{
    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(mem_tscf_close_notify(F.peer), 0);
    mt_pump(&F.d);
    /* a TLS close is the end of this connection, not of the tunnel */
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN));
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    END();
}

TT_TEST(duplicate_config_response_after_up)
{
    tse_cm cm;
    const mt_ev *e;
    mt_fix_setup(&F);
    START_UP();
    memset(&cm, 0, sizeof(cm));
    cm.type = TSE_CM_CONFIG_RESPONSE;
    cm.tsid = F.cfg.tsid;
    cm.seq = mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 0)->cm.seq;
    cm.present = TSE_CM_HAS_RESPONSE_CODE | TSE_CM_HAS_IPV4_ADDRESS;
    cm.ipv4_addr[0] = 10; cm.ipv4_addr[3] = 66;
    TT_EQ_INT(mem_tscf_send_cm(F.peer, &cm), 0);
    mt_pump(&F.d);
    /* never silently adopt a new address: either ignored or an error */
    TT_EQ_INT(tse_tunnel_get_config(F.t)->ipv4[3], F.cfg.ipv4[3]);
    e = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    if (e != NULL) {
        TT_ASSERT(e->error == TSE_ERR_PROTO_UNEXPECTED || e->error == TSE_ERR_PROTO_SEQUENCE);
    }
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 0);
    END();
}

TT_TEST(round_trips_to_up)
{
    int v;
    mt_fix_setup(&F);
    START_UP();
    v = mem_tscf_tls_version(F.peer);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->tls_version, v);
    /* docs/engine.md: TLS 1.3 2 client flights (ClientHello; Finished +
     * Configuration_Request), TLS 1.2 3 (the request after the server's
     * Finished) */
    if (v == 0x0304) {
        TT_EQ_INT(F.d.flights, 2);
    } else {
        TT_EQ_INT(v, 0x0303);
        TT_EQ_INT(F.d.flights, 3);
    }
    TT_ASSERT(tse_tunnel_get_config(F.t)->tls_suite != NULL);
    END();
}

TT_TEST(round_trips_via_proxy)
{
    int v;
    mt_fix_setup(&F);
    F.cfg.proxy = MT_PROXY_200;
    F.s.proxy_host = "proxy.test";
    START_UP();
    v = mem_tscf_tls_version(F.peer);
    TT_EQ_INT(F.d.flights, v == 0x0304 ? 3 : 4);
    END();
}

TT_TEST(entropy_failure_never_comes_up)
{
    int rc;
    mt_fix_setup(&F);
    F.rec.entropy_fail = 1;
    rc = mt_fix_start(&F, T0);
    if (rc == TSE_OK) {
        mt_advance(&F.d, 60000);
        TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 0);
        TT_ASSERT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN) >= 1);
    }
    TT_EQ_INT(F.d.stuck, 0);
    END();
}

TT_TEST(burst_of_packets_in_order)
{
    uint8_t pkt[1400];
    int sent = 0, i, guard = 0;
    tse_stats st;
    mt_fix_setup(&F);
    START_UP();
    while (sent < 200 && guard++ < 10000) {
        size_t n = mt_make_ipv4(pkt, 100 + (size_t)(sent % 13) * 100, F.cfg.ipv4, PEER_ADDR,
                                (uint8_t)sent);
        int rc = tse_tunnel_send_packet(F.t, pkt, n, F.d.now);
        if (rc == TSE_OK) sent++;
        else if (rc == TSE_ERR_QUEUE_FULL) mt_pump(&F.d);
        else TT_EQ_INT(rc, TSE_OK);
    }
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 200);
    for (i = 0; i < MT_MAX_PKTS; i++) {
        TT_EQ_INT(mem_tscf_seen(F.peer)->pkts[i].data[5], (uint8_t)i);
    }
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.packets_out, 200);
    END();
}

/* The outer connection stalls (nothing leaves), the queue is full of
 * media, and the TSCF keeps probing with Keep_Alives: every answer eats
 * the CM reserve.  When our own Keep_Alive falls due and cannot be queued,
 * the engine must not leave its deadline in the past (a port would spin
 * on a zero poll timeout). */
TT_TEST(keepalive_due_with_cm_reserve_exhausted_does_not_spin)
{
    uint8_t pkt[1400];
    size_t n;
    int i;
    tse_cm ka;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    F.s.outq_size = 4096;
    START_UP();
    F.d.hold_to_peer = 1;
    /* 2 x 1395 bytes leave 1306 of 4096; the answers (16-byte header +
     * 4-byte Response_Code, or 16 bytes without) then leave less than the
     * 16 bytes a Keep_Alive needs */
    n = mt_make_ipv4(pkt, 1395, F.cfg.ipv4, PEER_ADDR, 1);
    while (tse_tunnel_send_packet(F.t, pkt, n, F.d.now) == TSE_OK) {
    }
    memset(&ka, 0, sizeof(ka));
    ka.type = TSE_CM_KEEPALIVE;
    ka.tsid = F.cfg.tsid;
    for (i = 0; i < 200; i++) {
        ka.seq = 1000u + (uint32_t)i;
        TT_EQ_INT(mem_tscf_send_cm(F.peer, &ka), 0);
    }
    mt_pump(&F.d);
    TT_EQ_INT(F.d.stuck, 0);
    mt_advance(&F.d, 25000);
    TT_EQ_INT(F.d.stuck, 0);
    TT_ASSERT(F.d.expiries < 1000);
    END();
}

TT_TEST(bidirectional_flood_small_chunks)
{
    uint8_t pkt[1400];
    int sent = 0, guard = 0;
    mt_fix_setup(&F);
    F.cfg.echo = 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.chunk_to_peer = 700;
    F.d.chunk_to_engine = 333;
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    while (sent < 300 && guard++ < 100000) {
        size_t n = mt_make_ipv4(pkt, 200 + (size_t)(sent % 7) * 170, F.cfg.ipv4, PEER_ADDR,
                                (uint8_t)sent);
        int rc = tse_tunnel_send_packet(F.t, pkt, n, F.d.now);
        if (rc == TSE_OK) sent++;
        else if (rc == TSE_ERR_QUEUE_FULL) mt_pump(&F.d);
        else TT_EQ_INT(rc, TSE_OK);
    }
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 300);
    TT_EQ_INT(F.rec.in_total, 300);
    TT_EQ_INT(mem_tscf_seen(F.peer)->unit_error, 0);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

TT_TEST(many_units_in_one_record_and_one_read)
{
    static uint8_t rec[16000];
    size_t off = 0;
    int i;
    mt_fix_setup(&F);
    START_UP();
    /* 11 packets back to back in ONE TLS record */
    for (i = 0; i < 11; i++) {
        off += mt_make_ipv4(rec + off, 1400, PEER_ADDR, F.cfg.ipv4, (uint8_t)i);
    }
    TT_EQ_INT(mem_tscf_send_plain(F.peer, rec, off), 0);
    /* and 50 more records, all delivered in one tse_tunnel_recv_outer() */
    for (i = 11; i < 61; i++) {
        size_t n = mt_make_ipv4(rec, 200 + (size_t)i, PEER_ADDR, F.cfg.ipv4, (uint8_t)i);
        TT_EQ_INT(mem_tscf_send_packet(F.peer, rec, n), 0);
    }
    mt_pump(&F.d);
    TT_EQ_INT(F.rec.in_total, 61);
    for (i = 0; i < 61; i++) {
        TT_EQ_INT(F.rec.in[i].data[5], i);
    }
    END();
}

/* A long random run: random chunk sizes both ways, echo traffic in bursts,
 * silences long enough for keep-alives, connection cuts at random moments
 * (also mid-handshake).  Invariants: the driver never gets stuck, every
 * reconnect resumes the same tunnel, no inner packet is delivered out of
 * order or corrupted, nothing leaks. */
TT_TEST(soak_random_chunks_cuts_and_silences)
{
    uint64_t r = UINT64_C(0x243F6A8885A308D3);
    uint8_t pkt[1500];
    int round, ups_expected = 1;
    uint32_t next_id = 0, last_seen_id = 0;
    int mid_cuts = 0;
    size_t seen_in = 0;
    mt_fix_setup(&F);
    F.cfg.echo = 1;
    F.cfg.keepalive_s = 7;
    F.s.backoff_initial_ms = 200;
    F.s.backoff_max_ms = 3000;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.chunk_rand = 0x9E3779B97F4A7C15u;
    F.d.chunk_to_peer = 3000;
    F.d.chunk_to_engine = 3000;
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    for (round = 0; round < 300; round++) {
        uint32_t what;
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        what = (uint32_t)(r % 100);
        if (what < 60 && tse_tunnel_state(F.t) == TSE_STATE_UP) {
            int k, burst = 1 + (int)(r >> 40) % 20;
            for (k = 0; k < burst; k++) {
                size_t n = mt_make_ipv4(pkt, 28 + (size_t)((r >> 8) + (uint64_t)k * 97) % 1400,
                                        F.cfg.ipv4, PEER_ADDR, 0);
                /* a 32-bit id in the payload, echoed back */
                if (n >= 32) {
                    pkt[28] = (uint8_t)(next_id >> 24); pkt[29] = (uint8_t)(next_id >> 16);
                    pkt[30] = (uint8_t)(next_id >> 8); pkt[31] = (uint8_t)next_id;
                }
                if (n >= 32 && tse_tunnel_send_packet(F.t, pkt, n, F.d.now) == TSE_OK) next_id++;
            }
            mt_advance(&F.d, (r >> 20) % 300);
        } else if (what < 75) {
            mt_advance(&F.d, 5000 + (r >> 16) % 15000); /* silence: keep-alives */
        } else if (what < 85) {
            if (F.d.connected) {
                mt_pump(&F.d);
                mt_cut(&F.d);
                ups_expected++;
            }
            mt_advance(&F.d, (r >> 24) % 50);
        } else if (what < 90) {
            /* a network change: reconnect, and lose that connection again
             * after a few steps - in the handshake or the configuration */
            mt_pump(&F.d);
            if (tse_tunnel_reconnect(F.t, F.d.now) == TSE_OK) {
                mt_steps(&F.d, 1 + (int)((r >> 30) % 8));
                mid_cuts += F.d.connected && tse_tunnel_state(F.t) != TSE_STATE_UP;
                mt_cut(&F.d);
            }
            mt_advance(&F.d, (r >> 24) % 50);
        } else {
            mt_advance(&F.d, (r >> 12) % 2000);
        }
        TT_EQ_INT(F.d.stuck, 0);
        TT_EQ_INT(mem_tscf_seen(F.peer)->unit_error, 0);
        /* echoed ids come back strictly increasing (losses only at cuts) */
        while (seen_in < F.rec.n_in) {
            const uint8_t *d = F.rec.in[seen_in].data;
            uint32_t id;
            TT_ASSERT(F.rec.in[seen_in].len >= 32);
            id = (uint32_t)d[28] << 24 | (uint32_t)d[29] << 16 | (uint32_t)d[30] << 8 | d[31];
            TT_ASSERT(seen_in == 0 || id > last_seen_id);
            last_seen_id = id;
            seen_in++;
        }
        if (F.rec.n_in == MT_MAX_INPKTS) {
            F.rec.n_in = 0; /* recycle the record buffer */
            seen_in = 0;
        }
    }
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, 60000));
    TT_ASSERT(next_id > 500);
    /* every cut came after a pump: nothing accepted was lost */
    TT_EQ_INT(F.rec.in_total, next_id);
    TT_ASSERT(mid_cuts >= 3);
    TT_ASSERT(mem_tscf_count_cms(F.peer, TSE_CM_KEEPALIVE) > 5);
    {
        size_t i, ups = mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP);
        TT_ASSERT(ups >= 10);
        for (i = 1; i < ups; i++) {
            TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, i)->config.resumed, 1);
        }
    }
    fprintf(stderr, "soak: %u connections, %d cuts, %u packets sent, %llu echoed back, "
            "%zu keep-alives, %zu events (%zu not recorded), virtual %llu s, %d cuts before UP\n",
            mem_tscf_seen(F.peer)->conns, ups_expected - 1, (unsigned)next_id,
            (unsigned long long)F.rec.in_total, mem_tscf_count_cms(F.peer, TSE_CM_KEEPALIVE),
            F.rec.n_ev, F.rec.ev_dropped, (unsigned long long)(F.d.now / 1000), mid_cuts);
    END();
}

/* Half a unit, then the connection drops: the next connection's stream
 * starts clean (no leftover bytes glued to its first unit). */
TT_TEST(half_unit_then_cut_then_clean_stream)
{
    uint8_t pkt[300];
    size_t n;
    mt_fix_setup(&F);
    START_UP();
    n = mt_make_ipv4(pkt, sizeof(pkt), PEER_ADDR, F.cfg.ipv4, 1);
    TT_EQ_INT(mem_tscf_send_plain(F.peer, pkt, 150), 0);
    mt_pump(&F.d);
    TT_EQ_INT(F.rec.in_total, 0);
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mem_tscf_send_packet(F.peer, pkt, n), 0);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(F.rec.in_total, 1);
    TT_EQ_MEM(F.rec.in[0].data, pkt, n);
    END();
}

/* RFC 5246 6.2.1 / RFC 8446 5.4: zero-length application data records are
 * legal (traffic-analysis padding); they are not an end of stream. */
TT_TEST(empty_application_records_are_not_eof)
{
    uint8_t pkt[60];
    size_t n;
    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(mem_tscf_send_empty_record(F.peer), 0);
    TT_EQ_INT(mem_tscf_send_empty_record(F.peer), 0);
    TT_EQ_INT(mem_tscf_send_empty_record(F.peer), 0);
    n = mt_make_ipv4(pkt, sizeof(pkt), PEER_ADDR, F.cfg.ipv4, 3);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, pkt, n), 0);
    mt_pump(&F.d);
    if (tse_tunnel_state(F.t) != TSE_STATE_UP) mt_rec_dump(&F.rec);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(F.rec.in_total, 1);
    END();
}

TT_TEST(one_empty_record_then_data)
{
    uint8_t pkt[60];
    size_t n;
    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(mem_tscf_send_empty_record(F.peer), 0);
    n = mt_make_ipv4(pkt, sizeof(pkt), PEER_ADDR, F.cfg.ipv4, 3);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, pkt, n), 0);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(F.rec.in_total, 1);
    END();
}

TT_TEST(corrupt_record_after_up_resumes)
{
    uint8_t pkt[60];
    size_t n;
    mt_fix_setup(&F);
    START_UP();
    mem_tscf_corrupt_next(F.peer);
    n = mt_make_ipv4(pkt, sizeof(pkt), PEER_ADDR, F.cfg.ipv4, 3);
    TT_EQ_INT(mem_tscf_send_packet(F.peer, pkt, n), 0);
    mt_pump(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN));
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_TLS_RECORD);
    TT_EQ_INT(F.rec.in_total, 0); /* nothing of a bad record is delivered */
    mem_tscf_cfg(F.peer)->corrupt_record = 0;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    END();
}

/* Several tunnels up at once in one process (several APNs / accounts):
 * with mbed TLS 3.6 every TLS 1.3 session holds PSA key slots, of which a
 * default build has 32 (MBEDTLS_PSA_KEY_SLOT_COUNT). */
#define MANY 20
TT_TEST(many_tunnels_up_at_once)
{
    static mt_fix *g[MANY];
    uint8_t pkt[80];
    int i, up = 0, ok = 0;
    for (i = 0; i < MANY; i++) {
        g[i] = calloc(1, sizeof(mt_fix));
        TT_ASSERT(g[i] != NULL);
        mt_fix_setup(g[i]);
        g[i]->cfg.echo = 1;
        g[i]->cfg.ipv4[3] = (uint8_t)(10 + i);
        TT_EQ_INT(mt_fix_start(g[i], T0), TSE_OK);
        if (mt_run_until_state(&g[i]->d, TSE_STATE_UP, WITHIN)) up++;
        else if (up + 1 == i + 1) mt_rec_dump(&g[i]->rec);
    }
    for (i = 0; i < MANY; i++) {
        size_t n = mt_make_ipv4(pkt, sizeof(pkt), g[i]->cfg.ipv4, PEER_ADDR, (uint8_t)i);
        if (tse_tunnel_send_packet(g[i]->t, pkt, n, g[i]->d.now) == TSE_OK) {
            mt_pump(&g[i]->d);
            if (g[i]->rec.in_total == 1) ok++;
        }
    }
    for (i = 0; i < MANY; i++) {
        if (g[i] != NULL) {
            (void)mt_fix_teardown(g[i]);
            free(g[i]);
            g[i] = NULL;
        }
    }
    TT_EQ_INT(up, MANY);
    TT_EQ_INT(ok, MANY);
}

/* The same, but all handshakes in flight together (one driver step per
 * tunnel, round robin): every ECDHE handshake holds ephemeral key slots
 * until it ends. */
TT_TEST(many_handshakes_at_once)
{
    static mt_fix *g[MANY];
    int i, round, up = 0;
    for (i = 0; i < MANY; i++) {
        g[i] = calloc(1, sizeof(mt_fix));
        TT_ASSERT(g[i] != NULL);
        mt_fix_setup(g[i]);
        TT_EQ_INT(mt_fix_start(g[i], T0), TSE_OK);
    }
    for (round = 0; round < 200; round++) {
        for (i = 0; i < MANY; i++) {
            (void)mt_steps(&g[i]->d, 1);
        }
    }
    for (i = 0; i < MANY; i++) {
        if (tse_tunnel_state(g[i]->t) == TSE_STATE_UP) {
            up++;
        } else if (up == i) {
            fprintf(stderr, "tunnel %d: %s, peer TLS error -0x%04x\n", i,
                    tse_state_name(tse_tunnel_state(g[i]->t)),
                    (unsigned)-mem_tscf_seen(g[i]->peer)->tls_error);
            mt_rec_dump(&g[i]->rec);
        }
    }
    for (i = 0; i < MANY; i++) {
        (void)mt_fix_teardown(g[i]);
        free(g[i]);
        g[i] = NULL;
    }
    TT_EQ_INT(up, MANY);
}

int main(void)
{
    TT_RUN(packet_glued_to_config_response);
    TT_RUN(config_response_split_across_records);
    TT_RUN(config_response_with_reserved_tlv_is_accepted);
    TT_RUN(packet_before_config_response_is_counted_and_reported);
    TT_RUN(send_from_the_up_callback);
    TT_RUN(inbound_packet_above_max_unit);
    TT_RUN(inbound_packet_at_max_unit);
    TT_RUN(api_misuse_is_refused);
    TT_RUN(early_expiry_call_changes_nothing);
    TT_RUN(close_with_a_full_queue_still_releases);
    TT_RUN(close_during_handshake);
    TT_RUN(server_fin_while_up_resumes);
    TT_RUN(server_close_notify_while_up_resumes);
    TT_RUN(duplicate_config_response_after_up);
    TT_RUN(round_trips_to_up);
    TT_RUN(round_trips_via_proxy);
    TT_RUN(entropy_failure_never_comes_up);
    TT_RUN(burst_of_packets_in_order);
    TT_RUN(keepalive_due_with_cm_reserve_exhausted_does_not_spin);
    TT_RUN(bidirectional_flood_small_chunks);
    TT_RUN(many_units_in_one_record_and_one_read);
    TT_RUN(soak_random_chunks_cuts_and_silences);
    TT_RUN(empty_application_records_are_not_eof);
    TT_RUN(one_empty_record_then_data);
    TT_RUN(half_unit_then_cut_then_clean_stream);
    TT_RUN(corrupt_record_after_up_resumes);
    TT_RUN(many_tunnels_up_at_once);
    TT_RUN(many_handshakes_at_once);
    mt_fix_teardown(&F);
    return TT_DONE();
}
