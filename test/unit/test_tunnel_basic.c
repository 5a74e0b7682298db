/* Engine: direct tunnel, configuration, inner packets, TSCF rejections and
 * protocol violations, graceful and server-initiated release, queue.
 * Everything runs against mem_tscf on a virtual clock. */
#include <stdint.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

static const uint8_t ZERO4[4] = { 0, 0, 0, 0 };
static const uint8_t ONES4[4] = { 255, 255, 255, 255 };

TT_TEST(direct_up_negotiates_tsid_address_keepalive)
{
    const mt_ev *up;
    const mt_cm_rec *req;
    const tse_tunnel_config *c;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 30;
    F.cfg.tsid = UINT64_C(0x1122334455667788);
    F.cfg.ipv4[3] = 77;
    START_UP();

    /* the port was asked to connect to the TSCF itself */
    TT_ASSERT(strcmp(F.d.last_host, "tscf.test") == 0);
    TT_EQ_INT(F.d.last_port, 443);
    TT_EQ_INT(F.d.connects, 1);

    /* first Configuration_Request: TSID all ones, 0.0.0.0, no keep-alive TLV */
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_CONFIG_REQUEST), 1);
    req = mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 0);
    TT_ASSERT(req->cm.tsid == TSE_CM_TSID_NONE);
    TT_ASSERT(req->cm.present & TSE_CM_HAS_IPV4_ADDRESS);
    TT_EQ_MEM(req->cm.ipv4_addr, ZERO4, 4);
    TT_ASSERT(req->cm.present & TSE_CM_HAS_IPV4_NETMASK); /* table A.1.6-2: not optional */
    TT_EQ_MEM(req->cm.ipv4_mask, ONES4, 4);
    TT_ASSERT(!(req->cm.present & TSE_CM_HAS_KEEPALIVE));
    TT_ASSERT(!(req->cm.present & TSE_CM_HAS_IPV6_ADDRESS));

    /* TUNNEL_UP carries what the server assigned */
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 1);
    up = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 0);
    TT_ASSERT(up->has_config);
    TT_ASSERT(up->config.tsid == UINT64_C(0x1122334455667788));
    TT_EQ_MEM(up->config.ipv4, F.cfg.ipv4, 4);
    TT_EQ_MEM(up->config.ipv4_mask, ONES4, 4);
    TT_EQ_INT(up->config.keepalive_s, 30);
    TT_EQ_INT(up->config.resumed, 0);
    TT_EQ_INT(up->config.via_proxy, 0);
    TT_ASSERT(up->config.tls_version == 0x0303 || up->config.tls_version == 0x0304);
    TT_EQ_INT(up->state, TSE_STATE_UP);

    c = tse_tunnel_get_config(F.t);
    TT_ASSERT(c != NULL);
    TT_ASSERT(c->tsid == UINT64_C(0x1122334455667788));
    TT_EQ_INT(tse_tunnel_last_error(F.t), 0);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 0);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_WARNING), 0);
    TT_EQ_INT(F.peer ? mem_tscf_seen(F.peer)->unit_error : 0, 0);
    END();
}

TT_TEST(state_events_walk_connecting_tls_configuring_up)
{
    size_t i;
    tse_state seq[8];
    size_t n = 0;
    mt_fix_setup(&F);
    START_UP();
    for (i = 0; i < F.rec.n_ev && n < 8; i++) {
        if (F.rec.ev[i].type == TSE_EV_STATE) seq[n++] = F.rec.ev[i].state;
    }
    TT_EQ_INT(n, 4);
    TT_EQ_INT(seq[0], TSE_STATE_CONNECTING);
    TT_EQ_INT(seq[1], TSE_STATE_TLS);
    TT_EQ_INT(seq[2], TSE_STATE_CONFIGURING);
    TT_EQ_INT(seq[3], TSE_STATE_UP);
    END();
}

TT_TEST(configured_request_address_and_keepalive_are_sent)
{
    const mt_cm_rec *req;
    static const uint8_t want[4] = { 10, 9, 8, 7 };
    static const uint8_t mask[4] = { 255, 255, 255, 0 };
    mt_fix_setup(&F);
    memcpy(F.s.request_ipv4, want, 4);
    memcpy(F.s.request_ipv4_mask, mask, 4);
    F.s.request_keepalive_s = 25;
    F.s.request_ipv6 = 1;
    START_UP();
    req = mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 0);
    TT_ASSERT(req != NULL);
    TT_ASSERT(req->cm.tsid == TSE_CM_TSID_NONE);
    TT_EQ_MEM(req->cm.ipv4_addr, want, 4);
    TT_EQ_MEM(req->cm.ipv4_mask, mask, 4);
    TT_ASSERT(req->cm.present & TSE_CM_HAS_KEEPALIVE);
    TT_EQ_INT(req->cm.keepalive_s, 25);
    TT_ASSERT(req->cm.present & TSE_CM_HAS_IPV6_ADDRESS);
    TT_ASSERT(req->cm.present & TSE_CM_HAS_IPV6_NETMASK);
    END();
}

TT_TEST(ipv6_assignment_reported)
{
    const mt_ev *up;
    mt_fix_setup(&F);
    F.cfg.assign_ipv6 = 1;
    F.s.request_ipv6 = 1;
    START_UP();
    up = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 0);
    TT_ASSERT(up != NULL && up->has_config);
    TT_EQ_INT(up->config.has_ipv6, 1);
    TT_EQ_MEM(up->config.ipv6, F.cfg.ipv6, 16);
    END();
}

TT_TEST(inner_packets_both_ways)
{
    uint8_t pkt[200], back[64];
    size_t n;
    int i;
    tse_stats st;
    mt_fix_setup(&F);
    F.cfg.echo = 1;
    START_UP();
    for (i = 0; i < 5; i++) {
        n = mt_make_ipv4(pkt, 60 + (size_t)i * 30, F.cfg.ipv4, PEER_ADDR, (uint8_t)i);
        TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    }
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 5);
    for (i = 0; i < 5; i++) {
        const mt_pkt_rec *r = &mem_tscf_seen(F.peer)->pkts[i];
        n = mt_make_ipv4(pkt, 60 + (size_t)i * 30, F.cfg.ipv4, PEER_ADDR, (uint8_t)i);
        TT_EQ_INT(r->len, n);
        TT_EQ_MEM(r->data, pkt, n);
    }
    /* echoed back: src/dst swapped, delivered in order */
    TT_EQ_INT(F.rec.in_total, 5);
    for (i = 0; i < 5; i++) {
        n = mt_make_ipv4(pkt, 60 + (size_t)i * 30, PEER_ADDR, F.cfg.ipv4, (uint8_t)i);
        TT_EQ_INT(F.rec.in[i].len, n);
        /* checksum is unchanged by swapping addresses */
        TT_EQ_MEM(F.rec.in[i].data, pkt, n);
    }
    /* an IPv6 packet from the server, and one cut in 1-byte records */
    memset(back, 0, sizeof(back));
    back[0] = 0x60;
    back[5] = 24; /* payload length */
    back[6] = 59; /* no next header */
    TT_EQ_INT(mem_tscf_send_packet(F.peer, back, 64), 0);
    for (i = 0; i < 64; i++) {
        TT_EQ_INT(mem_tscf_send_plain(F.peer, back + i, 1), 0);
    }
    mt_pump(&F.d);
    TT_EQ_INT(F.rec.in_total, 7);
    TT_EQ_INT(F.rec.in[5].len, 64);
    TT_EQ_MEM(F.rec.in[6].data, back, 64);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.packets_out, 5);
    TT_EQ_INT(st.packets_in, 7);
    END();
}

TT_TEST(one_byte_chunks_both_directions)
{
    uint8_t pkt[100];
    size_t n;
    mt_fix_setup(&F);
    F.cfg.echo = 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.chunk_to_peer = 1;
    F.d.chunk_to_engine = 1;
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 9);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 1);
    TT_EQ_INT(F.rec.in_total, 1);
    TT_EQ_INT(F.d.stuck, 0);
    END();
}

TT_TEST(send_packet_rules)
{
    uint8_t pkt[100];
    size_t n;
    mt_fix_setup(&F);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
    /* not up yet */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_ERR_NOT_UP);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    /* not IP */
    pkt[0] = 0x15;
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_ERR_PACKET_INVALID);
    /* IPv4 whose total length disagrees with the buffer */
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n - 1, F.d.now), TSE_ERR_PACKET_INVALID);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, 10, F.d.now), TSE_ERR_PACKET_INVALID);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, NULL, n, F.d.now), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 1);
    END();
}

/* valid_packet() must not accept what the framing layer rejects: an IPv4
 * header whose IHL*4 exceeds the total length would be sent as a unit the
 * TSCF's deframer refuses (TSE_ERR_FRAME_IPV4_LENGTH), killing the stream
 * for everybody's traffic. */
TT_TEST(ipv4_header_longer_than_packet_is_refused)
{
    uint8_t pkt[40];
    size_t n;
    mt_fix_setup(&F);
    START_UP();
    n = mt_make_ipv4(pkt, 40, F.cfg.ipv4, PEER_ADDR, 1);
    pkt[0] = 0x4F; /* IHL 15 = 60 bytes of header in a 40-byte packet */
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_ERR_PACKET_INVALID);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->unit_error, 0);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

TT_TEST(queue_full_is_returned_and_counted)
{
    uint8_t pkt[1400];
    size_t n;
    int i, full = 0, ok = 0;
    tse_stats st;
    mt_fix_setup(&F);
    F.s.outq_size = 8192;
    F.s.sched.rt_udp = 0; /* these UDP packets are bulk here */
    START_UP();
    n = mt_make_ipv4(pkt, sizeof(pkt), F.cfg.ipv4, PEER_ADDR, 1);
    TT_EQ_INT(tse_tunnel_classify(F.t, pkt, n), TSE_CLASS_BULK);
    /* nothing drains while we do not pump */
    for (i = 0; i < 20; i++) {
        int rc = tse_tunnel_send_packet(F.t, pkt, n, F.d.now);
        if (rc == TSE_OK) {
            ok++;
            TT_EQ_INT(full, 0); /* no OK after the first refusal */
        } else {
            TT_EQ_INT(rc, TSE_ERR_QUEUE_FULL);
            full++;
        }
    }
    TT_ASSERT(ok >= 1);
    TT_ASSERT(full >= 1);
    /* the queue, plus the first record: encrypted at once, as the
     * ciphertext buffer was empty */
    TT_ASSERT(ok * n <= 8192 + F.s.sched.record_max);
    TT_ASSERT(tse_tunnel_queue_space(F.t) < n);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.queue_full_drops, full);
    /* every accepted packet arrives; none of the refused ones */
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, ok);
    TT_ASSERT(tse_tunnel_queue_space(F.t) >= n);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, ok + 1);
    END();
}

/* ---- Response_Code 1-5 -------------------------------------------------- */

static void reject_case(uint16_t code, int err, int retried)
{
    const mt_ev *down;
    mt_fix_setup(&F);
    F.cfg.response_code = code;
    F.cfg.reject_times = 1;
    F.s.backoff_initial_ms = 1000;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_EQ_INT(down->error, err);
    TT_EQ_INT(down->response_code, code);
    TT_EQ_INT(tse_tunnel_last_error(F.t), err);
    if (retried) {
        const mt_ev *rc;
        mt_pump(&F.d);
        if (code != TSE_RC_INVALID_TSID) {
            TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_BACKOFF);
        }
        rc = mt_rec_last(&F.rec, TSE_EV_RECONNECT);
        TT_ASSERT(rc != NULL);
        TT_EQ_INT(rc->error, err);
        /* the peer accepts the second time */
        TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, 200000));
        TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_CONFIG_REQUEST), 2);
        TT_EQ_INT(F.d.connects, 2);
    } else {
        mt_advance(&F.d, 600000);
        TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
        TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_RECONNECT), 0);
        TT_EQ_INT(F.d.connects, 1);
        TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 0);
    }
    TT_EQ_INT(F.d.connected, 0 + (retried ? 1 : 0));
    END();
}

TT_TEST(reject_1_invalid_tsid_retries_fresh)
{
    reject_case(TSE_RC_INVALID_TSID, TSE_ERR_REJECT_INVALID_TSID, 1);
}
TT_TEST(reject_2_blacklisted_is_final) { reject_case(TSE_RC_BLACKLISTED, TSE_ERR_REJECT_BLACKLISTED, 0); }
TT_TEST(reject_3_no_resources_retries) { reject_case(TSE_RC_NO_RESOURCES, TSE_ERR_REJECT_NO_RESOURCES, 1); }
TT_TEST(reject_4_unavailable_retries) { reject_case(TSE_RC_UNAVAILABLE, TSE_ERR_REJECT_UNAVAILABLE, 1); }
TT_TEST(reject_5_version_is_final) { reject_case(TSE_RC_VERSION_NOT_SUPPORTED, TSE_ERR_REJECT_VERSION, 0); }
TT_TEST(reject_other_code) { reject_case(42, TSE_ERR_REJECT_OTHER, 0); }

/* ---- protocol violations ---------------------------------------------- */

static void expect_down(int err)
{
    const mt_ev *down;
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    if (down->error != err) mt_rec_dump(&F.rec);
    TT_EQ_INT(down->error, err);
    TT_EQ_INT(tse_tunnel_last_error(F.t), err);
    mt_pump(&F.d);
    /* the connection is gone */
    TT_EQ_INT(F.d.connected, 0);
    TT_ASSERT(F.d.disconnects >= 1);
}

TT_TEST(wrong_tsid_after_up_terminates)
{
    tse_cm cm;
    mt_fix_setup(&F);
    START_UP();
    memset(&cm, 0, sizeof(cm));
    cm.type = TSE_CM_RELEASE_REQUEST;
    cm.tsid = mem_tscf_tsid(F.peer) ^ 0x10;
    cm.seq = 5;
    TT_EQ_INT(mem_tscf_send_cm(F.peer, &cm), 0);
    mt_pump(&F.d);
    expect_down(TSE_ERR_PROTO_TSID);
    /* dropped, not answered (A.1.4) */
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_RELEASE_RESPONSE), 0);
    END();
}

TT_TEST(keepalive_response_with_wrong_tsid_terminates)
{
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    F.cfg.ka_wrong_tsid = 1;
    START_UP();
    mt_advance(&F.d, 10500);
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_KEEPALIVE), 1);
    expect_down(TSE_ERR_PROTO_TSID);
    END();
}

TT_TEST(config_response_sequence_mismatch)
{
    mt_fix_setup(&F);
    F.cfg.config_wrong_seq = 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    expect_down(TSE_ERR_PROTO_SEQUENCE);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 0);
    END();
}

TT_TEST(keepalive_response_sequence_mismatch)
{
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    F.cfg.ka_wrong_seq = 1;
    START_UP();
    mt_advance(&F.d, 10500);
    expect_down(TSE_ERR_PROTO_SEQUENCE);
    END();
}

TT_TEST(config_response_never_comes)
{
    const mt_ev *down;
    mt_fix_setup(&F);
    F.cfg.ignore_config = 1;
    F.s.config_timeout_ms = 7000;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, 60000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_EQ_INT(down->error, TSE_ERR_PROTO_TIMEOUT);
    /* timed from the request, within a tick */
    {
        const mt_cm_rec *req = mem_tscf_cm(F.peer, TSE_CM_CONFIG_REQUEST, 0);
        TT_ASSERT(req != NULL);
        TT_EQ_INT(down->at - req->at, 7000);
    }
    END();
}

TT_TEST(success_without_address_is_rejected)
{
    mt_fix_setup(&F);
    F.cfg.omit_ipv4 = 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    expect_down(TSE_ERR_PROTO_NO_ADDRESS);
    END();
}

/* "Success" that assigns 0.0.0.0 assigns nothing: the inner stack cannot
 * use it as a source address (A.1.9). */
TT_TEST(success_with_unspecified_address_is_rejected)
{
    mt_fix_setup(&F);
    memset(F.cfg.ipv4, 0, 4);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    expect_down(TSE_ERR_PROTO_NO_ADDRESS);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 0);
    END();
}

TT_TEST(garbage_inside_tls_ends_connection)
{
    static const uint8_t junk[8] = { 0x25, 1, 2, 3, 4, 5, 6, 7 };
    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(mem_tscf_send_plain(F.peer, junk, sizeof(junk)), 0);
    mt_pump(&F.d);
    expect_down(TSE_ERR_FRAME_NIBBLE);
    END();
}

/* ---- release ------------------------------------------------------------ */

TT_TEST(graceful_close_with_response)
{
    const mt_cm_rec *rel;
    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_RELEASING);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_RELEASE_REQUEST), 1);
    rel = mem_tscf_cm(F.peer, TSE_CM_RELEASE_REQUEST, 0);
    TT_ASSERT(rel->cm.tsid == mem_tscf_tsid(F.peer) || mem_tscf_tsid(F.peer) == 0);
    TT_ASSERT(rel->cm.tsid == F.cfg.tsid);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(F.d.connected, 0);
    /* closed for good: no reconnect, nothing more on the clock */
    mt_advance(&F.d, 600000);
    TT_EQ_INT(F.d.connects, 1);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_ASSERT(tse_tunnel_expiry(F.t) == TSE_TIME_NEVER);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, (const uint8_t *)"\x45", 1, F.d.now) < 0, 1);
    END();
}

/* RFC 8446 6.1 / RFC 5246 7.2.1: each party MUST send close_notify before
 * closing the write side (else the peer cannot tell a clean end from a
 * truncation). */
TT_TEST(graceful_close_sends_tls_close_notify)
{
    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(mem_tscf_seen(F.peer)->close_notify, 1);
    END();
}

TT_TEST(graceful_close_without_response_times_out)
{
    tse_time_ms t_close;
    mt_fix_setup(&F);
    F.cfg.ignore_release = 1;
    F.s.release_timeout_ms = 3000;
    START_UP();
    t_close = F.d.now;
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_RELEASE_REQUEST), 1);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_RELEASING);
    mt_advance(&F.d, 2999);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_RELEASING);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, 10000));
    TT_EQ_INT(F.d.now - t_close, 3000);
    TT_EQ_INT(F.d.connected, 0);
    mt_advance(&F.d, 600000);
    TT_EQ_INT(F.d.connects, 1);
    END();
}

TT_TEST(server_initiated_release)
{
    const mt_ev *down;
    mt_fix_setup(&F);
    F.s.auto_reconnect = 0;
    START_UP();
    TT_EQ_INT(mem_tscf_send_release(F.peer), 0);
    mt_pump(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, 5000));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_EQ_INT(down->error, TSE_ERR_SERVER_RELEASED);
    /* the engine answered the release before dropping the connection */
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_RELEASE_RESPONSE), 1);
    {
        const mt_cm_rec *r = mem_tscf_cm(F.peer, TSE_CM_RELEASE_RESPONSE, 0);
        TT_ASSERT(r->cm.present & TSE_CM_HAS_RESPONSE_CODE);
        TT_EQ_INT(r->cm.response_code, 0);
        TT_EQ_INT(r->cm.seq, 0x70000000u);
        TT_ASSERT(r->cm.tsid == F.cfg.tsid);
    }
    mt_pump(&F.d);
    TT_EQ_INT(F.d.connected, 0);
    END();
}

TT_TEST(two_tunnels_are_independent)
{
    static mt_fix G;
    uint8_t pkt[80];
    size_t n;
    mt_fix_setup(&F);
    mt_fix_setup(&G);
    F.cfg.echo = 1;
    G.cfg.echo = 1;
    G.cfg.tsid = 77;
    G.cfg.ipv4[3] = 50;
    F.cfg.keepalive_s = 10;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_EQ_INT(mt_fix_start(&G, 5 * T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(tse_tunnel_state(G.t), TSE_STATE_CONNECTING);
    TT_ASSERT(mt_run_until_state(&G.d, TSE_STATE_UP, WITHIN));
    TT_ASSERT(tse_tunnel_get_config(F.t)->tsid == F.cfg.tsid);
    TT_ASSERT(tse_tunnel_get_config(G.t)->tsid == 77);
    n = mt_make_ipv4(pkt, sizeof(pkt), G.cfg.ipv4, PEER_ADDR, 3);
    TT_EQ_INT(tse_tunnel_send_packet(G.t, pkt, n, G.d.now), TSE_OK);
    mt_pump(&G.d);
    mt_pump(&F.d);
    TT_EQ_INT(G.rec.in_total, 1);
    TT_EQ_INT(F.rec.in_total, 0);
    /* killing one leaves the other up */
    mt_cut(&F.d);
    mt_pump(&F.d);
    TT_ASSERT(tse_tunnel_state(F.t) != TSE_STATE_UP);
    TT_EQ_INT(tse_tunnel_state(G.t), TSE_STATE_UP);
    TT_EQ_INT(mt_rec_count(&G.rec, TSE_EV_TUNNEL_DOWN), 0);
    TT_EQ_INT(mt_fix_teardown(&G), 0);
    END();
}

/* tse_callbacks.on_trace: every CM and inner packet, both ways, in order */
static struct {
    int n;
    int outbound[16];
    int kind[16];
    uint8_t type[16];
    uint64_t tsid[16];
    int decodes[16];
    size_t len[16];
} TR;

static void record_trace(void *user, int outbound, int kind, const uint8_t *unit, size_t len)
{
    tse_cm m;
    (void)user;
    if (TR.n < 16) {
        memset(&m, 0, sizeof(m));
        TR.outbound[TR.n] = outbound;
        TR.kind[TR.n] = kind;
        TR.len[TR.n] = len;
        if (kind == TSE_UNIT_CM) {
            TR.decodes[TR.n] = tse_cm_decode(&m, unit, len) == TSE_OK;
            TR.type[TR.n] = m.type;
            TR.tsid[TR.n] = m.tsid;
        }
    }
    TR.n++;
}

TT_TEST(on_trace_sees_every_unit)
{
    static const struct { int out, kind; uint8_t type; } want[] = {
        { 1, TSE_UNIT_CM, TSE_CM_CONFIG_REQUEST }, { 0, TSE_UNIT_CM, TSE_CM_CONFIG_RESPONSE },
        { 1, TSE_UNIT_IPV4, 0 }, { 0, TSE_UNIT_IPV4, 0 },
        { 1, TSE_UNIT_CM, TSE_CM_KEEPALIVE }, { 0, TSE_UNIT_CM, TSE_CM_KEEPALIVE_RESPONSE },
        { 1, TSE_UNIT_CM, TSE_CM_RELEASE_REQUEST }, { 0, TSE_UNIT_CM, TSE_CM_RELEASE_RESPONSE }
    };
    uint8_t pkt[100];
    size_t i, n;
    memset(&TR, 0, sizeof(TR));
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 5;
    F.cfg.echo = 1;
    F.cfg.tsid = UINT64_C(0x0102030405060708);
    F.on_trace = record_trace;
    START_UP();
    n = mt_make_ipv4(pkt, 84, F.cfg.ipv4, PEER_ADDR, 9);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    mt_pump(&F.d); /* and its echo */
    TT_EQ_INT(F.rec.in_total, 1);
    mt_advance(&F.d, 5500); /* one keep-alive and its response */
    TT_EQ_INT(mem_tscf_count_cms(F.peer, TSE_CM_KEEPALIVE), 1);
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(TR.n, 8);
    for (i = 0; i < 8; i++) {
        TT_EQ_INT(TR.outbound[i], want[i].out);
        TT_EQ_INT(TR.kind[i], want[i].kind);
        if (want[i].kind == TSE_UNIT_CM) {
            TT_EQ_INT(TR.decodes[i], 1);
            TT_EQ_INT(TR.type[i], want[i].type);
        } else {
            TT_EQ_INT(TR.len[i], 84);
        }
    }
    TT_ASSERT(TR.tsid[0] == TSE_CM_TSID_NONE);
    TT_ASSERT(TR.tsid[1] == UINT64_C(0x0102030405060708));
    TT_ASSERT(TR.tsid[6] == UINT64_C(0x0102030405060708));
    END();
}

TT_TEST(new_rejects_bad_settings)
{
    tse_tunnel *t = NULL;
    tse_settings s;
    mt_rec rec;
    mt_alloc a;
    tse_callbacks cb = *mt_rec_callbacks();
    memset(&a, 0, sizeof(a));
    mt_rec_init(&rec);
    mt_settings_default(&s);
    s.server_host = NULL;
    TT_EQ_INT(tse_tunnel_new(&t, &s, &cb, mt_mem(&a), &rec), TSE_ERR_INVALID_ARG);
    mt_settings_default(&s);
    cb.entropy = NULL;
    TT_EQ_INT(tse_tunnel_new(&t, &s, &cb, mt_mem(&a), &rec), TSE_ERR_INVALID_ARG);
    cb = *mt_rec_callbacks();
    s.ca = (const uint8_t *)"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n";
    s.ca_len = strlen((const char *)s.ca) + 1;
    TT_EQ_INT(tse_tunnel_new(&t, &s, &cb, mt_mem(&a), &rec), TSE_ERR_TLS_CONFIG);
    TT_EQ_INT(a.live, 0);
    /* every allocation failure is reported, nothing leaks */
    {
        long k;
        mt_settings_default(&s);
        for (k = 1; k < 64; k++) {
            int rc;
            memset(&a, 0, sizeof(a));
            a.fail_at = k;
            rc = tse_tunnel_new(&t, &s, &cb, mt_mem(&a), &rec);
            if (rc == TSE_OK) {
                tse_tunnel_del(t);
                TT_EQ_INT(a.live, 0);
                break;
            }
            TT_EQ_INT(rc, TSE_ERR_NO_MEMORY);
            TT_EQ_INT(a.live, 0);
        }
    }
}

int main(void)
{
    TT_RUN(direct_up_negotiates_tsid_address_keepalive);
    TT_RUN(state_events_walk_connecting_tls_configuring_up);
    TT_RUN(configured_request_address_and_keepalive_are_sent);
    TT_RUN(ipv6_assignment_reported);
    TT_RUN(inner_packets_both_ways);
    TT_RUN(one_byte_chunks_both_directions);
    TT_RUN(send_packet_rules);
    TT_RUN(ipv4_header_longer_than_packet_is_refused);
    TT_RUN(queue_full_is_returned_and_counted);
    TT_RUN(reject_1_invalid_tsid_retries_fresh);
    TT_RUN(reject_2_blacklisted_is_final);
    TT_RUN(reject_3_no_resources_retries);
    TT_RUN(reject_4_unavailable_retries);
    TT_RUN(reject_5_version_is_final);
    TT_RUN(reject_other_code);
    TT_RUN(wrong_tsid_after_up_terminates);
    TT_RUN(keepalive_response_with_wrong_tsid_terminates);
    TT_RUN(config_response_sequence_mismatch);
    TT_RUN(keepalive_response_sequence_mismatch);
    TT_RUN(config_response_never_comes);
    TT_RUN(success_without_address_is_rejected);
    TT_RUN(success_with_unspecified_address_is_rejected);
    TT_RUN(garbage_inside_tls_ends_connection);
    TT_RUN(graceful_close_with_response);
    TT_RUN(graceful_close_sends_tls_close_notify);
    TT_RUN(graceful_close_without_response_times_out);
    TT_RUN(server_initiated_release);
    TT_RUN(two_tunnels_are_independent);
    TT_RUN(new_rejects_bad_settings);
    TT_RUN(on_trace_sees_every_unit);
    mt_fix_teardown(&F);
    return TT_DONE();
}
