/* Engine: keep-alive in silence only, dead-peer detection, resume after a
 * lost connection, address change, backoff growth and cap, reconnect,
 * pause/resume.  Virtual time throughout. */
#include <stdint.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

static size_t kas(void) { return mem_tscf_count_cms(F.peer, TSE_CM_KEEPALIVE); }

TT_TEST(no_keepalive_while_packets_flow)
{
    uint8_t pkt[100];
    size_t n;
    int i;
    tse_stats st;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    /* traffic flows both ways (the peer echoes): a peer that is heard
     * never gets a probe either (see dead_peer_detected_while_sending) */
    F.cfg.echo = 1;
    START_UP();
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
    /* one packet every interval/2 for 10 intervals */
    for (i = 0; i < 20; i++) {
        mt_advance(&F.d, 5000);
        TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
        mt_pump(&F.d);
    }
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 20);
    TT_EQ_INT(kas(), 0);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.keepalives_sent, 0);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

TT_TEST(keepalive_after_silence)
{
    uint8_t pkt[100];
    size_t n;
    tse_time_ms last;
    const mt_cm_rec *ka;
    tse_stats st;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    START_UP();
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
    mt_advance(&F.d, 4000);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d);
    last = F.d.now;
    /* silence: nothing for 10 s after the last packet ... */
    mt_advance(&F.d, 9999);
    TT_EQ_INT(kas(), 0);
    /* ... then exactly one, one interval after the last traffic */
    mt_advance(&F.d, 1001);
    TT_EQ_INT(kas(), 1);
    ka = mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE, 0);
    TT_EQ_INT(ka->at - last, 10000);
    TT_ASSERT(ka->cm.tsid == F.cfg.tsid);
    TT_EQ_INT(ka->cm.present & ~(uint32_t)TSE_CM_HAS_PADDING, 0);
    /* answered: the next one comes an interval later, with a fresh seq */
    mt_advance(&F.d, 10000);
    TT_EQ_INT(kas(), 2);
    TT_ASSERT(mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE, 1)->cm.seq !=
              mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE, 0)->cm.seq);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.keepalives_sent, 2);
    TT_EQ_INT(st.keepalive_responses, 2);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

TT_TEST(no_keepalive_when_none_negotiated)
{
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 0;
    F.s.dpd_idle_ms = 0; /* and no dead-peer probe either */
    START_UP();
    mt_advance(&F.d, 3600000);
    TT_EQ_INT(kas(), 0);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

/* Issue 13: with no Keep_Alive_Interval, a probe after dpd_idle_ms of
 * receive silence; a live peer answers and the tunnel stays, a dead one
 * is noticed within 1.5 x dpd_idle_ms (30 s by default) and resumed. */
TT_TEST(dead_peer_probe_without_keepalive)
{
    const mt_ev *down;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 0;
    TT_EQ_INT(F.s.dpd_idle_ms, 20000);
    F.cfg.ka_answer_limit = 3;
    START_UP();
    mt_advance(&F.d, 19000);
    TT_EQ_INT(kas(), 0);
    mt_advance(&F.d, 2000);
    TT_EQ_INT(kas(), 1);                 /* answered */
    mt_advance(&F.d, 40000);
    TT_EQ_INT(kas(), 3);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 0);
    /* the TSCF stops answering: the 4th probe times out */
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, 60000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_EQ_INT(down->error, TSE_ERR_KEEPALIVE_TIMEOUT);
    /* last sign of life: the 3rd answer; dead within 20 s + 10 s of it */
    TT_ASSERT(down->at - mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE, 2)->at <= 30000 + 100);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    END();
}

TT_TEST(configured_keepalive_used_when_server_gives_none)
{
    /* A.1.8: the interval may be configured on both sides */
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 0;
    F.s.request_keepalive_s = 20;
    START_UP();
    mt_advance(&F.d, 20000 + 1000);
    TT_EQ_INT(kas(), 1);
    END();
}

TT_TEST(keepalive_response_missing_is_dead_peer)
{
    const mt_ev *down;
    const mt_cm_rec *ka;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    F.cfg.ka_answer_limit = 1;
    F.s.ka_response_timeout_ms = 4000;
    START_UP();
    mt_advance(&F.d, 10000);
    TT_EQ_INT(kas(), 1);
    mt_advance(&F.d, 10000);
    TT_EQ_INT(kas(), 2);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 0);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, 30000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_EQ_INT(down->error, TSE_ERR_KEEPALIVE_TIMEOUT);
    ka = mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE, 1);
    TT_EQ_INT(down->at - ka->at, 4000);
    mt_pump(&F.d);
    TT_EQ_INT(F.d.connected, 0);
    /* retryable: resumes on a new connection */
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    END();
}

/* The TSCF becomes a black hole (NAT rebinding, dead box, no RST) while
 * the application keeps sending - a call with outbound RTP.  A.1.8: "If
 * TSE does not receive KAM as expected, TSE should terminate the tunnel";
 * OpenConnect probes after DPD seconds without RECEIVING anything.  The
 * engine sends a Keep_Alive only after outbound silence, so outbound
 * traffic must not hide a dead peer for ever. */
TT_TEST(dead_peer_detected_while_sending)
{
    uint8_t pkt[100];
    size_t n;
    int i;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    F.s.ka_response_timeout_ms = 5000;
    START_UP();
    mem_tscf_cfg(F.peer)->tls_silent = 1; /* swallow everything, answer nothing */
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
    for (i = 0; i < 24 && mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN) == 0; i++) {
        mt_advance(&F.d, 5000);
        if (tse_tunnel_state(F.t) == TSE_STATE_UP) {
            TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
        }
        mt_pump(&F.d);
    }
    /* within 2 intervals + the response timeout of the last sign of life */
    TT_ASSERT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN) >= 1);
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_KEEPALIVE_TIMEOUT);
    TT_ASSERT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)->at <= T0 + 2 * 10000 + 5000 + 5000);
    END();
}

/* Issue 11: with the defaults, a frozen TSCF is noticed about two
 * intervals after the last sign of life (one interval of silence, then a
 * Keep_Alive_Response timeout that scales with the interval), not after
 * the interval plus a fixed 10 s.  2 s interval: within 4-5 s. */
TT_TEST(dead_peer_noticed_in_about_two_intervals_by_default)
{
    tse_settings def;
    const mt_ev *down;
    tse_time_ms frozen;
    tse_settings_default(&def);
    mt_fix_setup(&F);
    F.s.ka_response_timeout_ms = def.ka_response_timeout_ms;
    F.cfg.keepalive_s = 2;
    START_UP();
    mt_advance(&F.d, 2500);
    TT_EQ_INT(kas(), 1); /* a live peer answers: still up */
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    frozen = F.d.now;
    mem_tscf_cfg(F.peer)->tls_silent = 1;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, 30000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_EQ_INT(down->error, TSE_ERR_KEEPALIVE_TIMEOUT);
    TT_ASSERT(down->at - frozen <= 5000);
    /* and a live peer at that interval is never declared dead */
    mem_tscf_cfg(F.peer)->tls_silent = 0;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 60000));
    mt_advance(&F.d, 60000);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 1);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

/* A 1 s interval: the automatic timeout has a 2 s floor. */
TT_TEST(automatic_keepalive_response_timeout_has_a_floor)
{
    tse_settings def;
    const mt_ev *down;
    const mt_cm_rec *ka;
    tse_settings_default(&def);
    mt_fix_setup(&F);
    F.s.ka_response_timeout_ms = def.ka_response_timeout_ms;
    F.cfg.keepalive_s = 1;
    F.cfg.ka_answer_limit = 0;
    START_UP();
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, 30000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    ka = mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE, 0);
    TT_EQ_INT(down->error, TSE_ERR_KEEPALIVE_TIMEOUT);
    TT_EQ_INT(down->at - ka->at, 2000);
    END();
}

/* An explicit ka_response_timeout_ms overrides the scaled default. */
TT_TEST(explicit_keepalive_response_timeout_overrides)
{
    const mt_ev *down;
    const mt_cm_rec *ka;
    mt_fix_setup(&F);
    F.s.ka_response_timeout_ms = 7000;
    F.cfg.keepalive_s = 2;
    F.cfg.ka_answer_limit = 0;
    START_UP();
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, 30000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    ka = mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE, 0);
    TT_EQ_INT(down->error, TSE_ERR_KEEPALIVE_TIMEOUT);
    TT_EQ_INT(down->at - ka->at, 7000);
    END();
}

TT_TEST(keepalive_response_with_success_code_is_fine)
{
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    F.cfg.ka_code = 1 + TSE_RC_SUCCESS;
    START_UP();
    mt_advance(&F.d, 35000);
    TT_EQ_INT(kas(), 3);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

/* A.1.5-2: "Every CM request must be responded back with a CM response
 * which must have one of the following response code".  A Keep_Alive
 * answered "Invalid tunnel session ID" means the TSCF no longer has our
 * tunnel: staying UP would send every packet into the void. */
TT_TEST(keepalive_answered_invalid_tsid_ends_the_tunnel)
{
    const mt_ev *e;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    START_UP();
    mem_tscf_cfg(F.peer)->ka_code = 1 + TSE_RC_INVALID_TSID;
    mt_advance(&F.d, 10500);
    TT_EQ_INT(kas(), 1);
    mt_pump(&F.d);
    e = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->error, TSE_ERR_REJECT_INVALID_TSID);
    END();
}

TT_TEST(server_keepalive_is_answered)
{
    tse_cm cm;
    const mt_cm_rec *r;
    mt_fix_setup(&F);
    START_UP();
    memset(&cm, 0, sizeof(cm));
    cm.type = TSE_CM_KEEPALIVE;
    cm.tsid = F.cfg.tsid;
    cm.seq = 0x1234;
    TT_EQ_INT(mem_tscf_send_cm(F.peer, &cm), 0);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_KEEPALIVE_RESPONSE), 1);
    r = mem_tscf_cm(F.peer, TSE_CM_KEEPALIVE_RESPONSE, 0);
    TT_EQ_INT(r->cm.seq, 0x1234);
    TT_ASSERT(r->cm.tsid == F.cfg.tsid);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

/* ---- resume ------------------------------------------------------------- */

TT_TEST(resume_after_cut_keeps_tsid_and_address)
{
    const mt_cm_rec *req2;
    const mt_ev *up2, *down, *rc;
    tse_stats st;
    mt_fix_setup(&F);
    F.cfg.tsid = UINT64_C(0xA1A2A3A4A5A6A7A8);
    F.cfg.ipv4[3] = 42;
    START_UP();
    mt_cut(&F.d);
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_TRANSPORT_RESET);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_BACKOFF);
    rc = mt_rec_last(&F.rec, TSE_EV_RECONNECT);
    TT_ASSERT(rc != NULL);
    TT_ASSERT(rc->retry_in_ms <= F.s.backoff_initial_ms);
    /* the next server would give another address to a new tunnel */
    mem_tscf_cfg(F.peer)->ipv4[3] = 43;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(F.d.connects, 2);
    req2 = mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 1);
    TT_ASSERT(req2 != NULL);
    TT_EQ_INT(req2->conn, 2);
    TT_ASSERT(req2->cm.tsid == UINT64_C(0xA1A2A3A4A5A6A7A8));
    TT_EQ_INT(req2->cm.ipv4_addr[3], 42);
    TT_EQ_INT(req2->cm.ipv4_addr[0], 10);
    up2 = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1);
    TT_EQ_INT(up2->config.resumed, 1);
    TT_EQ_INT(up2->config.ipv4[3], 42);
    TT_ASSERT(up2->config.tsid == UINT64_C(0xA1A2A3A4A5A6A7A8));
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 0);
    /* the reconnect happened when RECONNECT said */
    TT_EQ_INT(mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 1)->at - rc->at, rc->retry_in_ms);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.resumes, 1);
    TT_ASSERT(st.reconnects >= 1);
    END();
}

TT_TEST(resume_with_new_address_reports_change)
{
    const mt_ev *ch;
    mt_fix_setup(&F);
    F.cfg.resume_new_addr = 1;
    START_UP();
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 1);
    ch = mt_rec_nth(&F.rec, TSE_EV_ADDR_CHANGED, 0);
    TT_ASSERT(ch->has_config);
    TT_EQ_MEM(ch->config.ipv4, F.cfg.resume_ipv4, 4);
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    TT_EQ_MEM(tse_tunnel_get_config(F.t)->ipv4, F.cfg.resume_ipv4, 4);
    END();
}

TT_TEST(resume_refused_gives_new_tunnel)
{
    const mt_ev *up2;
    mt_fix_setup(&F);
    F.cfg.resume = 0;
    START_UP();
    mem_tscf_cfg(F.peer)->ipv4[3] = 9;
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    up2 = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1);
    TT_EQ_INT(up2->config.resumed, 0);
    TT_ASSERT(up2->config.tsid != F.cfg.tsid);
    TT_EQ_INT(up2->config.ipv4[3], 9);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 1);
    END();
}

TT_TEST(resume_rejected_invalid_tsid_restarts_fresh)
{
    const mt_cm_rec *req3;
    mt_fix_setup(&F);
    START_UP();
    mt_cut(&F.d);
    mem_tscf_cfg(F.peer)->response_code = TSE_RC_INVALID_TSID;
    mem_tscf_cfg(F.peer)->reject_times = 1;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_CONFIG_REQUEST), 3);
    TT_ASSERT(mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 1)->cm.tsid == F.cfg.tsid);
    req3 = mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 2);
    TT_ASSERT(req3->cm.tsid == TSE_CM_TSID_NONE);
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 0);
    END();
}

/* docs/engine.md: code 1 -> "retry at once as a new one (the address may
 * change: TSE_EV_ADDR_CHANGED)" */
TT_TEST(invalid_tsid_restart_with_new_address_reports_change)
{
    mt_fix_setup(&F);
    START_UP();
    mt_cut(&F.d);
    mem_tscf_cfg(F.peer)->response_code = TSE_RC_INVALID_TSID;
    mem_tscf_cfg(F.peer)->reject_times = 1;
    mem_tscf_cfg(F.peer)->ipv4[3] = 123;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(tse_tunnel_get_config(F.t)->ipv4[3], 123);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 1);
    END();
}

TT_TEST(resume_with_new_ipv6_reports_change)
{
    mt_fix_setup(&F);
    F.cfg.assign_ipv6 = 1;
    F.s.request_ipv6 = 1;
    START_UP();
    mt_cut(&F.d);
    /* same TSID and IPv4, another IPv6 address */
    mem_tscf_cfg(F.peer)->ipv6[15] = 0x77;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->ipv6[15], 0x77);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 1);
    END();
}

/* ---- backoff ------------------------------------------------------------ */

TT_TEST(backoff_grows_with_jitter_and_caps)
{
    size_t i, n;
    uint32_t init = 1000, cap = 16000;
    int distinct = 0;
    mt_fix_setup(&F);
    F.s.backoff_initial_ms = init;
    F.s.backoff_max_ms = cap;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.connect_result = TSE_ERR_TRANSPORT_REFUSED;
    F.d.connect_fail_times = -1;
    mt_advance(&F.d, 400000);
    n = mt_rec_count(&F.rec, TSE_EV_RECONNECT);
    TT_ASSERT(n >= 10);
    for (i = 0; i < n; i++) {
        const mt_ev *e = mt_rec_nth(&F.rec, TSE_EV_RECONNECT, i);
        uint64_t full = (uint64_t)init << (i < 20 ? i : 20);
        if (full > cap) full = cap;
        /* equal jitter: [full/2, full] */
        if (e->retry_in_ms < full / 2 || e->retry_in_ms > full) {
            mt_rec_dump(&F.rec);
        }
        TT_ASSERT(e->retry_in_ms >= full / 2);
        TT_ASSERT(e->retry_in_ms <= full);
        TT_EQ_INT(e->error, TSE_ERR_TRANSPORT_REFUSED);
        if (i > 0 && e->retry_in_ms != mt_rec_nth(&F.rec, TSE_EV_RECONNECT, i - 1)->retry_in_ms) {
            distinct++;
        }
        /* the next attempt is made exactly then */
        if (i + 1 < n) {
            const mt_ev *d2 = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, i + 1);
            TT_ASSERT(d2 != NULL);
            TT_EQ_INT(d2->at - e->at, e->retry_in_ms);
        }
    }
    TT_ASSERT(distinct >= 3);
    /* a later success that lasts resets the backoff */
    F.d.connect_fail_times = 0;
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, 40000));
    mt_advance(&F.d, F.s.backoff_stable_ms);
    mt_cut(&F.d);
    TT_ASSERT(mt_rec_last(&F.rec, TSE_EV_RECONNECT)->retry_in_ms <= init);
    END();
}

/* Issue 11: a TSCF that configures the tunnel and breaks it at once must
 * not get a new connection every second for ever.  The backoff restarts
 * only after the tunnel stayed up for backoff_stable_ms. */
static int flap_delays_grow(void)
{
    size_t i;
    uint32_t init = F.s.backoff_initial_ms, cap = F.s.backoff_max_ms;
    if (!mt_run_until_event(&F.d, TSE_EV_RECONNECT, 10, 600000) ||
        mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP) < 10) {
        mt_rec_dump(&F.rec);
        fprintf(stderr, "fewer than 10 flaps\n");
        return 0;
    }
    for (i = 0; i < 10; i++) {
        const mt_ev *e = mt_rec_nth(&F.rec, TSE_EV_RECONNECT, i);
        uint64_t full = (uint64_t)init << i;
        if (full > cap) full = cap;
        if (e->retry_in_ms < full / 2 || e->retry_in_ms > full) {
            fprintf(stderr, "flap %zu: retry in %u ms, expected [%llu, %llu]\n", i,
                    (unsigned)e->retry_in_ms, (unsigned long long)full / 2,
                    (unsigned long long)full);
            return 0;
        }
    }
    return 1;
}

TT_TEST(flapping_after_up_backs_off)
{
    static const uint8_t garbage[4] = { 0x20, 0, 0, 0 }; /* nibble 2 */
    mt_fix_setup(&F);
    F.s.backoff_initial_ms = 1000;
    F.s.backoff_max_ms = 60000;
    F.cfg.post_config = garbage; /* a framing error right after the config */
    F.cfg.post_config_len = sizeof(garbage);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(flap_delays_grow());
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_FRAME_NIBBLE);
    TT_ASSERT(mt_rec_nth(&F.rec, TSE_EV_RECONNECT, 9)->at - T0 > 100000);
    END();
}

static void release_on_up(mt_rec *r, const tse_event *ev, void *arg)
{
    (void)r;
    (void)arg;
    if (ev->type == TSE_EV_TUNNEL_UP) {
        (void)mem_tscf_send_release(F.peer);
    }
}

TT_TEST(server_release_right_after_up_backs_off)
{
    mt_fix_setup(&F);
    F.rec.hook = release_on_up;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(flap_delays_grow());
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_SERVER_RELEASED);
    END();
}

/* ... and a tunnel that stayed up that long starts again from the
 * initial delay; max_retries counts flaps too. */
TT_TEST(stable_tunnel_resets_the_backoff)
{
    static const uint8_t garbage[4] = { 0x20, 0, 0, 0 };
    const mt_ev *e;
    mt_fix_setup(&F);
    F.s.backoff_stable_ms = 20000;
    START_UP();
    /* three quick flaps */
    F.cfg.post_config = garbage;
    F.cfg.post_config_len = sizeof(garbage);
    mem_tscf_cfg(F.peer)->post_config = garbage;
    mem_tscf_cfg(F.peer)->post_config_len = sizeof(garbage);
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_RECONNECT, 4, 200000));
    TT_ASSERT(mt_rec_nth(&F.rec, TSE_EV_RECONNECT, 3)->retry_in_ms >= 4000);
    /* now the server behaves: up for longer than the stable period */
    mem_tscf_cfg(F.peer)->post_config = NULL;
    mem_tscf_cfg(F.peer)->post_config_len = 0;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 5, 200000));
    mt_advance(&F.d, 19000);
    mt_cut(&F.d);
    e = mt_rec_last(&F.rec, TSE_EV_RECONNECT);
    TT_ASSERT(e->retry_in_ms >= 8000); /* 19 s: not yet stable */
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 6, 200000));
    mt_advance(&F.d, 20000);
    mt_cut(&F.d);
    e = mt_rec_last(&F.rec, TSE_EV_RECONNECT);
    TT_ASSERT(e->retry_in_ms <= F.s.backoff_initial_ms);
    END();
}

TT_TEST(max_retries_counts_flaps)
{
    static const uint8_t garbage[4] = { 0x20, 0, 0, 0 };
    mt_fix_setup(&F);
    F.s.max_retries = 3;
    F.cfg.post_config = garbage;
    F.cfg.post_config_len = sizeof(garbage);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    mt_advance(&F.d, 600000);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(F.d.connects, 4);
    TT_EQ_INT(mt_rec_last(&F.rec, TSE_EV_TUNNEL_DOWN)->error, TSE_ERR_RETRIES_EXHAUSTED);
    END();
}

TT_TEST(max_retries_gives_up)
{
    const mt_ev *last;
    mt_fix_setup(&F);
    F.s.max_retries = 3;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.connect_result = TSE_ERR_TRANSPORT_REFUSED;
    F.d.connect_fail_times = -1;
    mt_advance(&F.d, 600000);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(F.d.connects, 4); /* the first try + 3 retries */
    last = mt_rec_last(&F.rec, TSE_EV_TUNNEL_DOWN);
    TT_EQ_INT(last->error, TSE_ERR_RETRIES_EXHAUSTED);
    END();
}

TT_TEST(auto_reconnect_off)
{
    mt_fix_setup(&F);
    F.s.auto_reconnect = 0;
    START_UP();
    mt_cut(&F.d);
    mt_advance(&F.d, 600000);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(F.d.connects, 1);
    END();
}

TT_TEST(reconnect_is_immediate_and_resumes)
{
    tse_time_ms t;
    mt_fix_setup(&F);
    F.s.backoff_initial_ms = 30000;
    START_UP();
    mt_advance(&F.d, 5000);
    t = F.d.now;
    TT_EQ_INT(tse_tunnel_reconnect(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(F.d.connects, 2);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(F.d.now, t);
    TT_EQ_INT(mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 1)->cm.tsid == F.cfg.tsid, 1);
    TT_EQ_INT(mt_rec_last(&F.rec, TSE_EV_TUNNEL_UP)->config.resumed, 1);
    END();
}

TT_TEST(reconnect_cuts_backoff_short)
{
    mt_fix_setup(&F);
    F.s.backoff_initial_ms = 60000;
    F.s.backoff_max_ms = 60000;
    START_UP();
    mt_cut(&F.d);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_BACKOFF);
    mt_advance(&F.d, 100);
    TT_EQ_INT(F.d.connects, 1);
    TT_EQ_INT(tse_tunnel_reconnect(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(F.d.connects, 2);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

TT_TEST(pause_and_resume)
{
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    START_UP();
    TT_EQ_INT(tse_tunnel_pause(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_PAUSED);
    TT_EQ_INT(F.d.connected, 0);
    /* nothing happens while paused: no reconnect, no keep-alive */
    mt_advance(&F.d, 3600000);
    TT_EQ_INT(F.d.connects, 1);
    TT_EQ_INT(kas(), 0);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_PAUSED);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, (const uint8_t *)"\x45", 1, F.d.now) < 0, 1);
    TT_EQ_INT(tse_tunnel_resume(F.t, F.d.now), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.connects, 2);
    TT_EQ_INT(mt_rec_last(&F.rec, TSE_EV_TUNNEL_UP)->config.resumed, 1);
    TT_ASSERT(mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 1)->cm.tsid == F.cfg.tsid);
    /* resume when not paused is a state error */
    TT_EQ_INT(tse_tunnel_resume(F.t, F.d.now), TSE_ERR_STATE);
    END();
}

TT_TEST(close_while_in_backoff)
{
    mt_fix_setup(&F);
    START_UP();
    mt_cut(&F.d);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_BACKOFF);
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    mt_advance(&F.d, 600000);
    TT_EQ_INT(F.d.connects, 1);
    END();
}

TT_TEST(server_release_then_new_tunnel_after_backoff)
{
    const mt_cm_rec *req2;
    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(mem_tscf_send_release(F.peer), 0);
    mt_pump(&F.d);
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_SERVER_RELEASED);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    /* released: the next tunnel is a new one, not a resume */
    req2 = mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 1);
    TT_ASSERT(req2->cm.tsid == TSE_CM_TSID_NONE);
    TT_EQ_INT(mt_rec_last(&F.rec, TSE_EV_TUNNEL_UP)->config.resumed, 0);
    END();
}

TT_TEST(sequence_numbers_never_repeat_across_connections)
{
    size_t i, j, n;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 5;
    START_UP();
    mt_advance(&F.d, 12000);
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000));
    mt_advance(&F.d, 12000);
    n = mem_tscf_count_cms(F.peer, 0);
    TT_ASSERT(n >= 6);
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            TT_ASSERT(mem_tscf_cm(F.peer, 0, i)->cm.seq != mem_tscf_cm(F.peer, 0, j)->cm.seq);
        }
    }
    END();
}

int main(void)
{
    TT_RUN(no_keepalive_while_packets_flow);
    TT_RUN(keepalive_after_silence);
    TT_RUN(no_keepalive_when_none_negotiated);
    TT_RUN(dead_peer_probe_without_keepalive);
    TT_RUN(configured_keepalive_used_when_server_gives_none);
    TT_RUN(keepalive_response_missing_is_dead_peer);
    TT_RUN(server_keepalive_is_answered);
    TT_RUN(keepalive_response_with_success_code_is_fine);
    TT_RUN(keepalive_answered_invalid_tsid_ends_the_tunnel);
    TT_RUN(dead_peer_detected_while_sending);
    TT_RUN(dead_peer_noticed_in_about_two_intervals_by_default);
    TT_RUN(explicit_keepalive_response_timeout_overrides);
    TT_RUN(automatic_keepalive_response_timeout_has_a_floor);
    TT_RUN(resume_after_cut_keeps_tsid_and_address);
    TT_RUN(resume_with_new_address_reports_change);
    TT_RUN(resume_refused_gives_new_tunnel);
    TT_RUN(resume_rejected_invalid_tsid_restarts_fresh);
    TT_RUN(invalid_tsid_restart_with_new_address_reports_change);
    TT_RUN(resume_with_new_ipv6_reports_change);
    TT_RUN(backoff_grows_with_jitter_and_caps);
    TT_RUN(max_retries_gives_up);
    TT_RUN(flapping_after_up_backs_off);
    TT_RUN(server_release_right_after_up_backs_off);
    TT_RUN(stable_tunnel_resets_the_backoff);
    TT_RUN(max_retries_counts_flaps);
    TT_RUN(auto_reconnect_off);
    TT_RUN(reconnect_is_immediate_and_resumes);
    TT_RUN(reconnect_cuts_backoff_short);
    TT_RUN(pause_and_resume);
    TT_RUN(close_while_in_backoff);
    TT_RUN(server_release_then_new_tunnel_after_backoff);
    TT_RUN(sequence_numbers_never_repeat_across_connections);
    mt_fix_teardown(&F);
    return TT_DONE();
}
