/* Engine: the outer path chosen per attempt (issue 13) - the second TSCF
 * port at once after the first fails, the port that worked as the start
 * of the next round, tse_tunnel_network_changed() resuming the same
 * tunnel on a new network with the detection's cache, and
 * tse_tunnel_set_outer_path() moving to and from a proxy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tse/detect.h"
#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

static tse_detect_cache cache;
static tse_detect_cache_entry slots[4];

static void two_ports(void)
{
    mt_fix_setup(&F);
    F.s.server_port = 443;
    F.s.server_port_2 = 80;
}

static void with_cache(void)
{
    memset(slots, 0, sizeof(slots));
    TT_EQ_INT(tse_detect_cache_init(&cache, slots, 4), TSE_OK);
    F.s.path_cache = &cache;
}

/* Start F with a firewall in its driver (mt_drv_init clears the driver,
 * so the block is set after the start, before anything ran). */
static int start_blocked(uint16_t port, uint16_t port2, int result)
{
    int rc = mt_fix_start(&F, T0);
    F.d.blocked_port = port;
    F.d.blocked_port_2 = port2;
    F.d.blocked_result = result;
    return rc;
}

static int net(const char *id)
{
    return tse_tunnel_network_changed(F.t, (const uint8_t *)id, strlen(id), F.d.now);
}

/* The cached decision of a network, or TSE_PATH_NONE. */
static tse_detect_path cached(const char *id, uint16_t *port)
{
    tse_detect_result r;
    if (tse_detect_cache_lookup(&cache, (const uint8_t *)id, strlen(id), &r) != TSE_OK) {
        return TSE_PATH_NONE;
    }
    *port = r.tunnel_port;
    return r.path;
}

TT_TEST(second_port_at_once_after_the_first_is_refused)
{
    const mt_ev *rc;
    two_ports();
    TT_EQ_INT(start_blocked(443, 0, TSE_ERR_TRANSPORT_REFUSED), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.connects, 2);
    TT_EQ_INT(F.d.last_port, 80);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->server_port, 80);
    TT_ASSERT(F.d.now - T0 < 100); /* no backoff between the two ports */
    rc = mt_rec_nth(&F.rec, TSE_EV_RECONNECT, 0);
    TT_ASSERT(rc != NULL);
    TT_EQ_INT(rc->retry_in_ms, 0);
    TT_EQ_INT(rc->error, TSE_ERR_TRANSPORT_REFUSED);
    END();
}

/* A firewall that drops SYNs to 443 costs path_timeout_ms, not
 * connect_timeout_ms. */
TT_TEST(dropped_syns_cost_the_path_timeout)
{
    const mt_ev *down;
    two_ports();
    F.s.connect_timeout_ms = 10000;
    F.s.path_timeout_ms = 1500;
    TT_EQ_INT(start_blocked(443, 0, MT_CONNECT_HANG), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_TRANSPORT_TIMEOUT);
    TT_ASSERT(down->at - T0 >= 1500 && down->at - T0 < 1600);
    TT_ASSERT(F.d.now - T0 < 1700);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->server_port, 80);
    END();
}

/* The last port of a round gets the whole connect_timeout_ms. */
TT_TEST(the_last_port_gets_the_full_connect_timeout)
{
    const mt_ev *down;
    two_ports();
    F.s.connect_timeout_ms = 4000;
    F.s.path_timeout_ms = 1000;
    TT_EQ_INT(start_blocked(443, 80, MT_CONNECT_HANG), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 2, WITHIN));
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 1);
    TT_ASSERT(down->at - T0 >= 5000 && down->at - T0 < 5100); /* 1000 + 4000 */
    END();
}

/* Both ports fail: the backoff waits, and the next round starts on the
 * first port again. */
TT_TEST(both_ports_fail_then_backoff_and_a_new_round)
{
    const mt_ev *rc;
    two_ports();
    TT_EQ_INT(start_blocked(443, 80, TSE_ERR_TRANSPORT_REFUSED), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_RECONNECT, 2, WITHIN));
    rc = mt_rec_nth(&F.rec, TSE_EV_RECONNECT, 1);
    TT_ASSERT(rc->retry_in_ms >= 500); /* backoff_initial_ms 1000, half jitter */
    TT_EQ_INT(F.d.connects, 2);
    F.d.blocked_port = 0; /* 443 opens */
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.connects, 3);
    TT_EQ_INT(F.d.last_port, 443);
    END();
}

/* A reconnect after a cut starts on the port that worked. */
TT_TEST(reconnect_starts_on_the_port_that_worked)
{
    two_ports();
    TT_EQ_INT(start_blocked(443, 0, TSE_ERR_TRANSPORT_REFUSED), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.connects, 2);
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_EQ_INT(F.d.connects, 3);
    TT_EQ_INT(F.d.last_port, 80);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->resumed, 1);
    END();
}

/* A failure once configured is the TSCF's, not the path's: no port switch. */
TT_TEST(a_reject_does_not_switch_ports)
{
    two_ports();
    F.cfg.response_code = 3; /* no resources */
    F.cfg.reject_times = 1;
    START_UP();
    TT_EQ_INT(F.d.last_port, 443);
    TT_EQ_INT(F.d.connects, 2);
    END();
}

TT_TEST(network_change_resumes_the_same_tunnel_at_once)
{
    tse_tunnel_config before;
    const mt_ev *down;
    tse_stats st;
    tse_time_ms t_change;
    mt_fix_setup(&F);
    START_UP();
    before = *tse_tunnel_get_config(F.t);
    t_change = F.d.now;
    TT_EQ_INT(net("wifi-2"), TSE_OK);
    TT_EQ_INT(tse_tunnel_last_error(F.t), TSE_ERR_NETWORK_CHANGED);
    down = mt_rec_last(&F.rec, TSE_EV_TUNNEL_DOWN);
    TT_ASSERT(down != NULL);
    TT_EQ_INT(down->error, TSE_ERR_NETWORK_CHANGED);
    TT_EQ_INT(down->old_state, TSE_STATE_UP);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_ASSERT(F.d.now - t_change < 50); /* no backoff */
    TT_EQ_INT(tse_tunnel_get_config(F.t)->resumed, 1);
    TT_ASSERT(tse_tunnel_get_config(F.t)->tsid == before.tsid);
    TT_EQ_MEM(tse_tunnel_get_config(F.t)->ipv4, before.ipv4, 4);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_ADDR_CHANGED), 0);
    TT_EQ_INT(F.d.disconnects, 1);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.resumes, 1);
    END();
}

/* The TSCF gives another address on the new network: the application is
 * told (it must rebind / re-register). */
TT_TEST(network_change_with_a_new_address_is_reported)
{
    static const uint8_t other[4] = { 198, 18, 0, 77 };
    const mt_ev *ch;
    mt_fix_setup(&F);
    F.cfg.resume_new_addr = 1;
    memcpy(F.cfg.resume_ipv4, other, 4);
    START_UP();
    TT_EQ_INT(net("lte"), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_ADDR_CHANGED, 1, WITHIN));
    ch = mt_rec_last(&F.rec, TSE_EV_ADDR_CHANGED);
    TT_EQ_MEM(ch->config.ipv4, other, 4);
    END();
}

/* A change in the middle of a connect (a hanging SYN to the old network)
 * abandons it and starts again. */
TT_TEST(network_change_during_a_hanging_connect)
{
    mt_fix_setup(&F);
    TT_EQ_INT(start_blocked(443, 0, MT_CONNECT_HANG), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(F.d.connects, 1);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CONNECTING);
    F.d.blocked_result = 0;
    TT_EQ_INT(net("b"), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, 200));
    TT_EQ_INT(F.d.connects, 2);
    TT_EQ_INT(F.d.disconnects, 1);
    END();
}

/* The cache: a network where 443 is blocked remembers port 80; coming
 * back to it starts there (no path timeout), a new network starts on
 * 443 again. */
TT_TEST(network_cache_starts_where_the_tunnel_worked)
{
    uint16_t port = 0;
    tse_time_ms t_change;
    two_ports();
    with_cache();
    F.s.path_timeout_ms = 1500;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    /* first network: only 80 */
    TT_EQ_INT(net("A"), TSE_OK);
    F.d.blocked_port = 443;
    F.d.blocked_result = MT_CONNECT_HANG;
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.last_port, 80);
    TT_EQ_INT(cached("A", &port), TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(port, 80);
    /* second network: 443 open */
    F.d.blocked_result = 0;
    TT_EQ_INT(net("B"), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_EQ_INT(F.d.last_port, 443);
    TT_EQ_INT(cached("B", &port), TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(port, 443);
    /* back on A: straight to 80, no SYN lost to 443 */
    F.d.blocked_result = MT_CONNECT_HANG;
    t_change = F.d.now;
    TT_EQ_INT(net("A"), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 3, WITHIN));
    TT_EQ_INT(F.d.last_port, 80);
    TT_ASSERT(F.d.now - t_change < 100);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->resumed, 1);
    END();
}

/* A cached path that fails is forgotten and the other port is tried. */
TT_TEST(a_cached_path_that_fails_is_forgotten)
{
    uint16_t port = 0;
    tse_detect_result r;
    two_ports();
    with_cache();
    memset(&r, 0, sizeof(r));
    r.path = TSE_PATH_TUNNEL_DIRECT;
    r.tunnel_port = 80;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"A", 1, &r), TSE_OK);
    TT_EQ_INT(start_blocked(80, 0, TSE_ERR_TRANSPORT_REFUSED), TSE_OK);
    TT_EQ_INT(net("A"), TSE_OK); /* in CONNECTING: moves to the cached port */
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.last_port, 443);
    TT_EQ_INT(F.d.disconnects + F.d.connects >= 2, 1);
    TT_EQ_INT(cached("A", &port), TSE_PATH_TUNNEL_DIRECT);
    TT_EQ_INT(port, 443);
    END();
}

/* Detection found IMS open on a network: the tunnel does not overwrite
 * that decision. */
TT_TEST(a_direct_decision_is_not_overwritten)
{
    uint16_t port = 0;
    tse_detect_result r;
    mt_fix_setup(&F);
    with_cache();
    memset(&r, 0, sizeof(r));
    r.path = TSE_PATH_NAT_TRAVERSAL;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"home", 4, &r), TSE_OK);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_EQ_INT(net("home"), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(cached("home", &port), TSE_PATH_NAT_TRAVERSAL);
    END();
}

/* Noted in IDLE: the start uses the network's cached port. */
TT_TEST(network_noted_before_start)
{
    tse_detect_result r;
    two_ports();
    with_cache();
    memset(&r, 0, sizeof(r));
    r.path = TSE_PATH_TUNNEL_DIRECT;
    r.tunnel_port = 80;
    TT_EQ_INT(tse_detect_cache_store(&cache, (const uint8_t *)"cafe", 4, &r), TSE_OK);
    TT_EQ_INT(tse_tunnel_new(&F.t, &F.s, mt_rec_callbacks(), mt_mem(&F.alloc), &F.rec), TSE_OK);
    F.peer = mem_tscf_new(&F.cfg);
    mt_drv_init(&F.d, F.t, F.peer, &F.rec, T0);
    TT_EQ_INT(tse_tunnel_network_changed(F.t, (const uint8_t *)"cafe", 4, T0), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_IDLE);
    TT_EQ_INT(tse_tunnel_start(F.t, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.connects, 1);
    TT_EQ_INT(F.d.last_port, 80);
    END();
}

/* Open network -> one with only an HTTP proxy -> back: the proxy is set
 * per network and the same tunnel resumes through it. */
TT_TEST(set_outer_path_moves_to_a_proxy_and_back)
{
    tse_outer_path p;
    uint64_t tsid;
    mt_fix_setup(&F);
    START_UP();
    tsid = tse_tunnel_get_config(F.t)->tsid;
    TT_EQ_INT(tse_tunnel_get_config(F.t)->via_proxy, 0);

    memset(&p, 0, sizeof(p));
    p.server_port = 443;
    p.proxy_host = "proxy.test";
    p.proxy_port = 3128;
    p.proxy_user = "alice";
    p.proxy_pass = "secret";
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP); /* left alone */
    mem_tscf_cfg(F.peer)->proxy = MT_PROXY_407_BASIC;
    mem_tscf_cfg(F.peer)->proxy_user = "alice";
    mem_tscf_cfg(F.peer)->proxy_pass = "secret";
    TT_EQ_INT(net("office"), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_ASSERT(strcmp(F.d.last_host, "proxy.test") == 0);
    TT_EQ_INT(F.d.last_port, 3128);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->via_proxy, 1);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->resumed, 1);
    TT_ASSERT(tse_tunnel_get_config(F.t)->tsid == tsid);

    memset(&p, 0, sizeof(p));
    p.server_port = 443;
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_OK);
    mem_tscf_cfg(F.peer)->proxy = MT_PROXY_NONE;
    TT_EQ_INT(net("home"), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 3, WITHIN));
    TT_ASSERT(strcmp(F.d.last_host, "tscf.test") == 0);
    TT_EQ_INT(F.d.last_port, 443);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->via_proxy, 0);
    TT_ASSERT(tse_tunnel_get_config(F.t)->tsid == tsid);
    END();
}

/* Through a proxy the second port is asked for in the CONNECT: a proxy
 * that refuses (403) gets asked for both ports, then the 4xx is final. */
static int saw_connect_80;

static void log_line(void *user, const tse_tunnel *t, tse_log_level level, const char *msg)
{
    (void)user;
    (void)t;
    (void)level;
    if (strstr(msg, "tscf.test port 80 through proxy proxy.test port 3128") != NULL) {
        saw_connect_80++;
    }
}

TT_TEST(a_proxy_refusing_both_ports_is_asked_for_both)
{
    const mt_ev *down;
    two_ports();
    F.s.proxy_host = "proxy.test";
    F.s.proxy_port = 3128;
    F.s.log = log_line;
    F.cfg.proxy = MT_PROXY_403;
    saw_connect_80 = 0;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN));
    TT_EQ_INT(F.d.connects, 2);
    TT_EQ_INT(saw_connect_80, 1);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 2);
    down = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 1);
    TT_EQ_INT(down->error, TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(down->proxy_status, 403);
    TT_EQ_INT(tse_tunnel_last_error(F.t), TSE_ERR_PROXY_STATUS);
    END();
}

TT_TEST(refused_settings_and_calls)
{
    tse_settings s;
    tse_outer_path p;
    char longhost[300];
    uint8_t id[TSE_DETECT_NETID_MAX + 1];
    memset(longhost, 'a', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    memset(id, 1, sizeof(id));

    mt_settings_default(&s);
    s.server_port_2 = 443; /* same as server_port */
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_PATH);
    s.server_port_2 = 80;
    TT_EQ_INT(tse_settings_check(&s), TSE_OK);
    s.proxy_host = longhost;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_PROXY);
    s.proxy_host = NULL;
    s.proxy_user = longhost;
    s.proxy_pass = "x";
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_PROXY);

    mt_fix_setup(&F);
    START_UP();
    TT_EQ_INT(tse_tunnel_set_outer_path(NULL, &p), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, NULL), TSE_ERR_INVALID_ARG);
    memset(&p, 0, sizeof(p));
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_ERR_SETTING_SERVER);
    p.server_port = 443;
    p.server_port_2 = 443;
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_ERR_SETTING_PATH);
    p.server_port_2 = 0;
    p.proxy_host = "proxy.test";
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_ERR_SETTING_PROXY); /* port 0 */
    p.proxy_port = 3128;
    p.proxy_user = "u";
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_ERR_SETTING_PROXY); /* no pass */
    p.proxy_user = NULL;
    p.proxy_host = longhost;
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_ERR_SETTING_PROXY);
    /* nothing refused changed the tunnel */
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);

    TT_EQ_INT(tse_tunnel_network_changed(NULL, id, 1, F.d.now), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_network_changed(F.t, NULL, 1, F.d.now), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_network_changed(F.t, id, sizeof(id), F.d.now), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(tse_tunnel_network_changed(F.t, NULL, 0, F.d.now), TSE_OK); /* unknown */
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_EQ_INT(tse_tunnel_set_auto_reconnect(NULL, 1), TSE_ERR_INVALID_ARG);

    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN));
    TT_EQ_INT(tse_tunnel_network_changed(F.t, id, 1, F.d.now), TSE_ERR_STATE);
    memset(&p, 0, sizeof(p));
    p.server_port = 443;
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_ERR_STATE);
    END();
}

/* Detection's probe tunnel (auto_reconnect off) kept as the application's
 * tunnel: reconnection turned on afterwards. */
TT_TEST(auto_reconnect_turned_on_later)
{
    mt_fix_setup(&F);
    F.s.auto_reconnect = 0;
    START_UP();
    TT_EQ_INT(tse_tunnel_set_auto_reconnect(F.t, 1), TSE_OK);
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_EQ_INT(tse_tunnel_get_config(F.t)->resumed, 1);
    END();
}

/* Paused: the change is noted and the resume uses it; one port fewer
 * while the second is home clamps to the first; auto_reconnect off again
 * makes a cut final. */
TT_TEST(paused_change_fewer_ports_and_reconnect_off)
{
    tse_outer_path p;
    two_ports();
    with_cache();
    TT_EQ_INT(start_blocked(443, 0, TSE_ERR_TRANSPORT_REFUSED), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(F.d.last_port, 80); /* home is the second port */
    TT_EQ_INT(tse_tunnel_pause(F.t, F.d.now), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_PAUSED, WITHIN));
    TT_EQ_INT(net("hotel"), TSE_OK);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_PAUSED); /* only noted */
    /* the next network has no port 80 */
    memset(&p, 0, sizeof(p));
    p.server_port = 443;
    TT_EQ_INT(tse_tunnel_set_outer_path(F.t, &p), TSE_OK);
    F.d.blocked_result = 0;
    TT_EQ_INT(tse_tunnel_resume(F.t, F.d.now), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, WITHIN));
    TT_EQ_INT(F.d.last_port, 443);
    TT_EQ_INT(tse_tunnel_get_config(F.t)->resumed, 1);
    /* reconnect() restarts on the port that worked */
    TT_EQ_INT(tse_tunnel_reconnect(F.t, F.d.now), TSE_OK);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 3, WITHIN));
    TT_EQ_INT(F.d.last_port, 443);
    /* auto_reconnect off: a cut ends it */
    TT_EQ_INT(tse_tunnel_set_auto_reconnect(F.t, 0), TSE_OK);
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN));
    END();
}

/* A change while releasing is refused; the release goes on. */
TT_TEST(network_change_while_releasing_is_refused)
{
    mt_fix_setup(&F);
    F.cfg.ignore_release = 1;
    START_UP();
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_RELEASING);
    TT_EQ_INT(net("x"), TSE_ERR_STATE);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_RELEASING);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN));
    END();
}

int main(void)
{
    TT_RUN(second_port_at_once_after_the_first_is_refused);
    TT_RUN(dropped_syns_cost_the_path_timeout);
    TT_RUN(the_last_port_gets_the_full_connect_timeout);
    TT_RUN(both_ports_fail_then_backoff_and_a_new_round);
    TT_RUN(reconnect_starts_on_the_port_that_worked);
    TT_RUN(a_reject_does_not_switch_ports);
    TT_RUN(network_change_resumes_the_same_tunnel_at_once);
    TT_RUN(network_change_with_a_new_address_is_reported);
    TT_RUN(network_change_during_a_hanging_connect);
    TT_RUN(network_cache_starts_where_the_tunnel_worked);
    TT_RUN(a_cached_path_that_fails_is_forgotten);
    TT_RUN(a_direct_decision_is_not_overwritten);
    TT_RUN(network_noted_before_start);
    TT_RUN(set_outer_path_moves_to_a_proxy_and_back);
    TT_RUN(a_proxy_refusing_both_ports_is_asked_for_both);
    TT_RUN(refused_settings_and_calls);
    TT_RUN(auto_reconnect_turned_on_later);
    TT_RUN(paused_change_fewer_ports_and_reconnect_off);
    TT_RUN(network_change_while_releasing_is_refused);
    mt_fix_teardown(&F);
    return TT_DONE();
}
