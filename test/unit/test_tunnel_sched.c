/* The engine's outbound scheduler end to end against the in-memory TSCF
 * (TR 33.830 4.9): real-time packets overtake queued bulk, FIFO mode does
 * not, stale real-time packets are dropped and counted, explicit classes,
 * per-class statistics, outer_pending() as a pure query, and a distinct
 * error for each refused setting. */
#include <stdint.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

/* An IPv4 packet of @p len bytes, protocol @p proto, id byte = seq. */
static size_t make(uint8_t *pkt, size_t len, uint8_t proto, uint8_t seq)
{
    size_t n = mt_make_ipv4(pkt, len, F.cfg.ipv4, PEER_ADDR, seq);
    pkt[9] = proto; /* the peer does not check the IP checksum */
    return n;
}

/* Index in the peer's arrival order of the packet with id byte @p seq. */
static int arrival(uint8_t seq)
{
    const mt_seen *s = mem_tscf_seen(F.peer);
    for (size_t i = 0; i < s->n_pkts; i++) {
        if (s->pkts[i].data[5] == seq) return (int)i;
    }
    return -1;
}

static void bulk_then_voice(void)
{
    uint8_t pkt[1400];
    size_t n;
    START_UP();
    F.d.hold_to_peer = 1;
    for (uint8_t i = 1; i <= 8; i++) {
        n = make(pkt, 1400, 6, i);
        TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    }
    n = make(pkt, 172, 17, 100);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    F.d.hold_to_peer = 0;
    mt_pump(&F.d);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 9);
}

TT_TEST(voice_overtakes_queued_bulk)
{
    tse_stats st;
    mt_fix_setup(&F);
    bulk_then_voice();
    /* the first bulk packet was already encrypted (the buffer was
     * empty); the voice packet goes right after it */
    TT_EQ_INT(arrival(1), 0);
    TT_EQ_INT(arrival(100), 1);
    for (uint8_t i = 2; i <= 8; i++) TT_EQ_INT(arrival(i), i);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.class_packets[TSE_CLASS_REALTIME], 1);
    TT_EQ_INT(st.class_packets[TSE_CLASS_BULK], 8);
    TT_EQ_INT(st.class_bytes[TSE_CLASS_BULK], 8 * 1400);
    TT_ASSERT(st.class_packets[TSE_CLASS_CONTROL] >= 1); /* the Configuration_Request */
    TT_ASSERT(st.records_out >= 3);
    END();
}

TT_TEST(fifo_mode_keeps_arrival_order)
{
    mt_fix_setup(&F);
    F.s.sched.fifo = 1;
    bulk_then_voice();
    for (uint8_t i = 1; i <= 8; i++) TT_EQ_INT(arrival(i), i - 1);
    TT_EQ_INT(arrival(100), 8);
    END();
}

TT_TEST(explicit_class)
{
    uint8_t pkt[1400];
    size_t n;
    mt_fix_setup(&F);
    START_UP();
    F.d.hold_to_peer = 1;
    for (uint8_t i = 1; i <= 4; i++) {
        n = make(pkt, 1400, 6, i);
        TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    }
    n = make(pkt, 1400, 6, 50);
    TT_EQ_INT(tse_tunnel_classify(F.t, pkt, n), TSE_CLASS_BULK);
    TT_EQ_INT(tse_tunnel_send_packet_class(F.t, pkt, n, TSE_CLASS_CONTROL, F.d.now),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_send_packet_class(F.t, pkt, n, TSE_CLASS_REALTIME, F.d.now), TSE_OK);
    /* encrypted at once behind the first record: less than record_max
     * was waiting */
    TT_EQ_INT(tse_tunnel_class_space(F.t, TSE_CLASS_REALTIME), F.s.sched.rt_queue_size);
    TT_EQ_INT(tse_tunnel_class_space(F.t, TSE_CLASS_CONTROL), 0);
    TT_EQ_INT(tse_tunnel_class_space(NULL, TSE_CLASS_BULK), 0);
    F.d.hold_to_peer = 0;
    mt_pump(&F.d);
    TT_EQ_INT(arrival(50), 1);
    END();
}

TT_TEST(stale_voice_is_dropped_not_sent_late)
{
    uint8_t pkt[1400];
    size_t n;
    tse_stats st;
    mt_fix_setup(&F);
    F.s.sched.record_max = 1024; /* the first bulk record fills the buffer */
    START_UP();
    F.d.hold_to_peer = 1;
    n = make(pkt, 1400, 6, 1);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    for (uint8_t i = 0; i < 3; i++) {
        n = make(pkt, 172, 17, (uint8_t)(10 + i));
        TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    }
    /* the outer connection stalls for longer than the deadline; a fresh
     * voice packet queued just before it drains still goes */
    F.d.now += F.s.sched.rt_deadline_ms + 50;
    n = make(pkt, 172, 17, 20);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
    F.d.hold_to_peer = 0;
    mt_pump(&F.d);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.rt_stale_drops, 3);
    TT_EQ_INT(mem_tscf_seen(F.peer)->pkts_total, 2);
    TT_EQ_INT(arrival(20), 1);
    TT_EQ_INT(arrival(10), -1);
    END();
}

TT_TEST(outer_pending_is_a_query)
{
    uint8_t pkt[1400];
    const uint8_t *p1 = NULL, *p2 = NULL;
    size_t n1, n2, evs;
    tse_stats a, b;
    mt_fix_setup(&F);
    START_UP();
    F.d.hold_to_peer = 1;
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, make(pkt, 1400, 6, 1), F.d.now), TSE_OK);
    TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, make(pkt, 1400, 6, 2), F.d.now), TSE_OK);
    evs = F.rec.n_ev;
    tse_tunnel_get_stats(F.t, &a);
    n1 = tse_tunnel_outer_pending(F.t, &p1);
    n2 = tse_tunnel_outer_pending(F.t, &p2);
    tse_tunnel_get_stats(F.t, &b);
    TT_ASSERT(n1 > 1400);
    TT_EQ_INT(n1, n2);
    TT_ASSERT(p1 == p2);
    TT_EQ_INT(F.rec.n_ev, evs);
    TT_EQ_INT(a.records_out, b.records_out);
    TT_EQ_INT(tse_tunnel_outer_pending(NULL, &p1), 0);
    TT_EQ_INT(tse_tunnel_outer_pending(F.t, NULL), 0);
    /* the second packet is encrypted only once the first record is sent */
    tse_tunnel_outer_consume(F.t, n1);
    TT_ASSERT(tse_tunnel_outer_pending(F.t, &p1) > 1400);
    tse_tunnel_get_stats(F.t, &b);
    TT_EQ_INT(b.records_out, a.records_out + 1);
    END();
}

TT_TEST(each_refused_setting_has_its_error)
{
    static const struct { int field; long value; int err; } cases[] = {
        { 0, 0, TSE_ERR_SETTING_SERVER },       /* server_host "" */
        { 1, 0, TSE_ERR_SETTING_SERVER },       /* server_port 0 */
        { 2, 7, TSE_ERR_SETTING_PROFILE },
        { 3, 575, TSE_ERR_SETTING_MAX_UNIT },
        { 3, 65536, TSE_ERR_SETTING_MAX_UNIT },
        { 4, 1000, TSE_ERR_SETTING_QUEUE },     /* outq_size < max_unit */
        { 5, 0, TSE_ERR_SETTING_BACKOFF },
        { 6, 1, TSE_ERR_SETTING_PROXY },        /* proxy port 0 */
        { 7, 1, TSE_ERR_SETTING_PROXY },        /* user without password */
        { 8, 255, TSE_ERR_SETTING_SCHED },
    };
    tse_settings s;
    tse_tunnel *t = NULL;
    mt_fix_setup(&F);
    TT_EQ_INT(tse_settings_check(NULL), TSE_ERR_INVALID_ARG);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s = F.s;
        switch (cases[i].field) {
        case 0: s.server_host = ""; break;
        case 1: s.server_port = 0; break;
        case 2: s.framing = (int)cases[i].value; break;
        case 3: s.max_unit = (size_t)cases[i].value; break;
        case 4: s.outq_size = (size_t)cases[i].value; break;
        case 5: s.backoff_initial_ms = 0; break;
        case 6: s.proxy_host = "proxy.example"; s.proxy_port = 0; break;
        case 7: s.proxy_user = "u"; s.proxy_pass = NULL; break;
        default: s.sched.record_max = (size_t)cases[i].value; break;
        }
        TT_EQ_INT(tse_settings_check(&s), cases[i].err);
        TT_EQ_INT(tse_tunnel_new(&t, &s, mt_rec_callbacks(), mt_mem(&F.alloc), &F.rec),
                  cases[i].err);
        TT_ASSERT(t == NULL);
        TT_ASSERT(tse_strerror(cases[i].err)[0] == 's'); /* "settings: ..." */
    }
    TT_EQ_INT(tse_settings_check(&F.s), TSE_OK);
    END();
}

int main(void)
{
    TT_RUN(voice_overtakes_queued_bulk);
    TT_RUN(fifo_mode_keeps_arrival_order);
    TT_RUN(explicit_class);
    TT_RUN(stale_voice_is_dropped_not_sent_late);
    TT_RUN(outer_pending_is_a_query);
    TT_RUN(each_refused_setting_has_its_error);
    return TT_DONE();
}
