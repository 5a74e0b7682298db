/* The log hook (tse_settings::log) and the statistics of tse_stats that
 * come with it: what is logged at each level, the level filter, the
 * settings it refuses, the formatter, and the counters (outer bytes,
 * records, control messages by type, time up, keep-alive round trips).
 * Virtual time, the in-memory TSCF. */
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "tls_session.h"
#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

#define MAXLINES 256

static struct {
    int n;
    int level[MAXLINES];
    const tse_tunnel *t[MAXLINES];
    char msg[MAXLINES][TSE_LOG_LINE_MAX];
    int dropped;
} L;

static void capture(void *user, const tse_tunnel *t, tse_log_level level, const char *msg)
{
    TT_ASSERT(user == &L);
    TT_ASSERT(strlen(msg) < TSE_LOG_LINE_MAX);
    if (L.n == MAXLINES) {
        L.dropped++;
        return;
    }
    L.level[L.n] = (int)level;
    L.t[L.n] = t;
    snprintf(L.msg[L.n], sizeof L.msg[0], "%s", msg);
    L.n++;
}

/* index of the first line at @p level containing @p s, or -1 */
static int find(int level, const char *s)
{
    for (int i = 0; i < L.n; i++)
        if ((level < 0 || L.level[i] == level) && strstr(L.msg[i], s) != NULL)
            return i;
    return -1;
}

static int count_level(int level)
{
    int c = 0;
    for (int i = 0; i < L.n; i++)
        c += L.level[i] == level;
    return c;
}

static void dump(void)
{
    for (int i = 0; i < L.n; i++)
        printf("  log[%d] %d %s\n", i, L.level[i], L.msg[i]);
}

static void with_log(tse_log_level level)
{
    memset(&L, 0, sizeof L);
    F.s.log = capture;
    F.s.log_user = &L;
    F.s.log_level = level;
}

TT_TEST(info_milestones)
{
    mt_fix_setup(&F);
    with_log(TSE_LOG_INFO);
    F.cfg.keepalive_s = 10;
    START_UP();
    TT_ASSERT(find(TSE_LOG_INFO, "connecting to ") >= 0);
    TT_ASSERT(find(TSE_LOG_INFO, "TLS 1.") >= 0);
    TT_ASSERT(find(TSE_LOG_INFO, "tunnel up: inner 198.18.") >= 0 ||
              find(TSE_LOG_INFO, "tunnel up: inner ") >= 0);
    TT_ASSERT(find(TSE_LOG_INFO, "(new), keep-alive 10 s") >= 0);
    TT_EQ_INT(count_level(TSE_LOG_DEBUG), 0); /* above the level: not passed */
    TT_EQ_INT(count_level(TSE_LOG_WARN) + count_level(TSE_LOG_ERROR), 0);
    for (int i = 0; i < L.n; i++)
        TT_ASSERT(L.t[i] == F.t);
    /* the order: connecting, then TLS, then up */
    TT_ASSERT(find(-1, "connecting to ") < find(-1, "TLS 1."));
    TT_ASSERT(find(-1, "TLS 1.") < find(-1, "tunnel up"));

    /* a graceful release is news, not a failure */
    TT_EQ_INT(tse_tunnel_close(F.t, F.d.now), TSE_OK);
    mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN);
    TT_ASSERT(find(TSE_LOG_INFO, "releasing the tunnel") >= 0);
    TT_ASSERT(find(TSE_LOG_INFO, "RELEASING: ") >= 0);
    TT_EQ_INT(count_level(TSE_LOG_WARN) + count_level(TSE_LOG_ERROR), 0);
    if (tt_failed_checks)
        dump();
    END();
}

TT_TEST(failures_and_retries)
{
    mt_fix_setup(&F);
    with_log(TSE_LOG_INFO);
    F.cfg.response_code = TSE_RC_NO_RESOURCES;
    F.cfg.reject_times = 1;
    START_UP(); /* rejected once, then up */
    TT_ASSERT(find(TSE_LOG_WARN, "CONFIGURING: ") >= 0);
    TT_ASSERT(find(TSE_LOG_WARN, "(Response_Code 3)") >= 0);
    TT_ASSERT(find(TSE_LOG_INFO, "reconnecting in ") >= 0);
    TT_ASSERT(find(TSE_LOG_INFO, "(attempt 1)") >= 0);
    TT_ASSERT(find(-1, "CONFIGURING: ") < find(-1, "reconnecting in "));
    TT_ASSERT(find(-1, "reconnecting in ") < find(-1, "tunnel up"));
    if (tt_failed_checks)
        dump();
    END();

    /* not retried: said at error level */
    mt_fix_setup(&F);
    with_log(TSE_LOG_ERROR);
    F.cfg.response_code = TSE_RC_BLACKLISTED;
    F.cfg.reject_times = -1;
    F.s.auto_reconnect = 0;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    mt_run_until_state(&F.d, TSE_STATE_CLOSED, WITHIN);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_ASSERT(find(TSE_LOG_ERROR, "not reconnecting: auto_reconnect is off") >= 0);
    TT_EQ_INT(count_level(TSE_LOG_WARN) + count_level(TSE_LOG_INFO), 0); /* filtered */
    if (tt_failed_checks)
        dump();
    END();

    /* retries exhausted */
    mt_fix_setup(&F);
    with_log(TSE_LOG_WARN);
    F.s.max_retries = 2;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.connect_result = TSE_ERR_TRANSPORT_REFUSED;
    F.d.connect_fail_times = -1;
    mt_run_until_state(&F.d, TSE_STATE_CLOSED, 600000);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_ASSERT(find(TSE_LOG_ERROR, "giving up after 2 failed attempts") >= 0);
    TT_ASSERT(find(TSE_LOG_WARN, "CONNECTING: ") >= 0);
    if (tt_failed_checks)
        dump();
    END();
}

TT_TEST(address_change_warned)
{
    mt_fix_setup(&F);
    with_log(TSE_LOG_WARN);
    F.cfg.resume_new_addr = 1;
    START_UP();
    TT_EQ_INT(count_level(TSE_LOG_WARN), 0);
    mt_cut(&F.d);
    TT_ASSERT(mt_run_until_event(&F.d, TSE_EV_ADDR_CHANGED, 1, WITHIN));
    TT_ASSERT(find(TSE_LOG_WARN, "UP: ") >= 0);
    TT_ASSERT(find(TSE_LOG_WARN, "inner address changed from ") >= 0);
    if (tt_failed_checks)
        dump();
    END();
}

TT_TEST(stats_counters)
{
    tse_stats st;
    uint8_t pkt[200];
    size_t n;
    mt_fix_setup(&F);
    F.cfg.keepalive_s = 10;
    F.cfg.echo = 1;
    START_UP();
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.cm_out[TSE_CM_CONFIG_REQUEST], 1);
    TT_EQ_INT(st.cm_in[TSE_CM_CONFIG_RESPONSE], 1);
    TT_EQ_INT(st.cm_in[0] + st.cm_out[0], 0);
    TT_EQ_INT(st.ups, 1);
    TT_ASSERT(st.outer_bytes_out > 0 && st.outer_bytes_in > 0);
    TT_ASSERT(st.records_in >= 1);
    TT_EQ_INT(st.keepalive_responses, 0);
    TT_EQ_INT(st.ka_rtt_srtt_ms, 0);

    /* three packets echoed: records and bytes both ways */
    n = mt_make_ipv4(pkt, sizeof pkt, F.cfg.ipv4, PEER_ADDR, 100);
    for (int i = 0; i < 3; i++) {
        TT_EQ_INT(tse_tunnel_send_packet(F.t, pkt, n, F.d.now), TSE_OK);
        mt_pump(&F.d);
    }
    {
        tse_stats s2;
        tse_tunnel_get_stats(F.t, &s2);
        TT_EQ_INT(s2.packets_out, 3);
        TT_EQ_INT(s2.packets_in, 3);
        TT_ASSERT(s2.records_out >= st.records_out + 3);
        TT_ASSERT(s2.records_in >= st.records_in + 3);
        /* each record costs at least its header (5) and AEAD tag (16) */
        printf("  3 packets of %zu: outer %llu -> %llu out, %llu -> %llu in, records %llu -> %llu\n", n,
               (unsigned long long)st.outer_bytes_out, (unsigned long long)s2.outer_bytes_out,
               (unsigned long long)st.outer_bytes_in, (unsigned long long)s2.outer_bytes_in,
               (unsigned long long)st.records_out, (unsigned long long)s2.records_out);
        TT_ASSERT(s2.outer_bytes_out >= st.outer_bytes_out + 3 * (n + 5 + 16));
        TT_ASSERT(s2.outer_bytes_in >= st.outer_bytes_in + 3 * (n + 5 + 16));
    }

    /* a keep-alive held 250 ms on the way: that is its round trip */
    mt_advance(&F.d, 9000);
    F.d.hold_to_peer = 1;
    mt_advance(&F.d, 1000);      /* the interval elapses: Keep_Alive queued */
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.keepalives_sent, 1);
    TT_EQ_INT(st.cm_out[TSE_CM_KEEPALIVE], 1);
    mt_advance(&F.d, 250);
    F.d.hold_to_peer = 0;
    mt_pump(&F.d);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.keepalive_responses, 1);
    TT_EQ_INT(st.cm_in[TSE_CM_KEEPALIVE_RESPONSE], 1);
    TT_EQ_INT(st.ka_rtt_last_ms, 250);
    TT_EQ_INT(st.ka_rtt_min_ms, 250);
    TT_EQ_INT(st.ka_rtt_srtt_ms, 250);
    /* the next one is answered at once: min 0, smoothed 250 - 250/8 */
    mt_advance(&F.d, 10000);
    tse_tunnel_get_stats(F.t, &st);
    TT_EQ_INT(st.keepalive_responses, 2);
    TT_EQ_INT(st.ka_rtt_last_ms, 0);
    TT_EQ_INT(st.ka_rtt_min_ms, 0);
    TT_EQ_INT(st.ka_rtt_srtt_ms, 250 - 250 / 8);

    /* time up: up_since is when the current connection came UP, up_ms
     * the time of the connections that ended */
    {
        tse_time_ms up_at;
        tse_stats a, b;
        tse_tunnel_get_stats(F.t, &a);
        TT_EQ_INT(a.up_ms, 0);
        TT_ASSERT(a.up_since != TSE_TIME_NEVER && a.up_since <= F.d.now);
        up_at = a.up_since;
        mt_advance(&F.d, 5000);
        F.d.connect_result = TSE_ERR_TRANSPORT_REFUSED;
        F.d.connect_fail_times = 1;
        mt_cut(&F.d); /* down at F.d.now */
        tse_tunnel_get_stats(F.t, &b);
        TT_EQ_INT(b.up_since, TSE_TIME_NEVER);
        TT_EQ_INT(b.up_ms, F.d.now - up_at);
        /* down for a while (one refused connect, backoff), then up again */
        TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, 60000));
        tse_tunnel_get_stats(F.t, &a);
        TT_EQ_INT(a.ups, 2);
        TT_EQ_INT(a.resumes, 1);
        TT_EQ_INT(a.up_ms, b.up_ms); /* the time down did not count */
        TT_EQ_INT(a.up_since, F.d.now);
        TT_EQ_INT(a.cm_out[TSE_CM_CONFIG_REQUEST], 2);
    }
    END();
}

TT_TEST(settings_refused)
{
    tse_settings s;
    tse_settings_default(&s);
    s.server_host = "tscf.test";
    TT_EQ_INT(s.log_level, TSE_LOG_INFO);
    TT_EQ_INT(s.tls_debug, 0);
    TT_EQ_INT(tse_settings_check(&s), TSE_OK);
    s.log_level = (tse_log_level)4;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_LOG);
    s.log_level = (tse_log_level)-1;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_LOG);
    s.log_level = TSE_LOG_INFO;
    s.tls_debug = 5;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_LOG);
    s.tls_debug = -1;
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_LOG);
    s.tls_debug = 1; /* without a log to go to */
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_LOG);
    s.log = capture;
    s.log_level = TSE_LOG_INFO; /* mbed TLS's lines are debug lines */
    TT_EQ_INT(tse_settings_check(&s), TSE_ERR_SETTING_LOG);
    s.log_level = TSE_LOG_DEBUG;
    TT_EQ_INT(tse_settings_check(&s),
              tse_tls_debug_available() ? TSE_OK : TSE_ERR_SETTING_LOG);
    s.tls_debug = 0;
    TT_EQ_INT(tse_settings_check(&s), TSE_CONFIG_LOG_DEBUG ? TSE_OK : TSE_ERR_SETTING_LOG);
    TT_ASSERT(strstr(tse_strerror(TSE_ERR_SETTING_LOG), "log") != NULL);
    /* a shared configuration refuses the same */
    {
        tse_tls_config *tc = NULL;
        tse_settings ts;
        tse_settings_default(&ts);
        ts.tls_insecure_lab_only_skip_verify = 1;
        ts.tls_debug = 9;
        TT_EQ_INT(tse_tls_config_new(&tc, &ts, mt_rec_callbacks()->entropy, &F.rec,
                                     mt_mem(&F.alloc), NULL),
                  TSE_ERR_SETTING_LOG);
        TT_ASSERT(tc == NULL);
    }
}

TT_TEST(debug_lines)
{
    if (!TSE_CONFIG_LOG_DEBUG) {
        printf("  (debug lines compiled out: TSE_CONFIG_LOG_DEBUG 0; checked refused above)\n");
        return;
    }
    mt_fix_setup(&F);
    with_log(TSE_LOG_DEBUG);
    F.s.tls_debug = tse_tls_debug_available() ? 1 : 0;
    F.cfg.keepalive_s = 10;
    START_UP();
    TT_ASSERT(find(TSE_LOG_DEBUG, "sending Configuration_Request seq 1") >= 0);
    TT_ASSERT(find(TSE_LOG_DEBUG, "received Configuration_Response seq 1") >= 0);
    TT_ASSERT(find(TSE_LOG_DEBUG, "state CONFIGURING -> UP") >= 0);
    if (F.s.tls_debug)
        TT_ASSERT(find(TSE_LOG_DEBUG, "mbedtls ") >= 0);
    mt_advance(&F.d, 10000);
    TT_ASSERT(find(TSE_LOG_DEBUG, "keep-alive interval elapsed") >= 0);
    TT_ASSERT(find(TSE_LOG_DEBUG, "Keep_Alive_Response after 0 ms") >= 0);
    if (tt_failed_checks)
        dump();
    END();
}

#if TSE_CONFIG_LOG
static void fmt_sink(void *user, const tse_tunnel *t, tse_log_level level, const char *msg)
{
    char *out = user;
    (void)t;
    (void)level;
    snprintf(out, TSE_LOG_LINE_MAX + 8, "%s", msg);
}
#endif

TT_TEST(formatter)
{
#if TSE_CONFIG_LOG
    char out[TSE_LOG_LINE_MAX + 8];
    char lng[400];
    tse_logger lg;
    memset(&lg, 0, sizeof lg);
    lg.fn = fmt_sink;
    lg.user = out;
    lg.level = TSE_LOG_DEBUG;
    const char *volatile nul = NULL; /* hidden from -Wformat-overflow */
    tse_log_write(&lg, TSE_LOG_INFO, "a %s b %s c", "x", nul);
    TT_ASSERT(strcmp(out, "a x b (null) c") == 0);
    tse_log_write(&lg, TSE_LOG_INFO, "%d %d %u %x %05u %3d|%c%%", -42, 0, 4000000000u, 0xbeefu,
                  7u, -5, 'q');
    TT_ASSERT(strcmp(out, "-42 0 4000000000 beef 00007  -5|q%") == 0);
    tse_log_write(&lg, TSE_LOG_INFO, "%lld %llu %llx %ld %lu", -9000000000000ll,
                  18446744073709551615ull, 0x123456789abcull, -7L, 8UL);
    TT_ASSERT(strcmp(out, "-9000000000000 18446744073709551615 123456789abc -7 8") == 0);
    tse_log_write(&lg, TSE_LOG_INFO, "%d", (int)(-2147483647 - 1));
    TT_ASSERT(strcmp(out, "-2147483648") == 0);
    memset(lng, 'z', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    tse_log_write(&lg, TSE_LOG_INFO, "<%s>", lng);
    TT_EQ_INT(strlen(out), TSE_LOG_LINE_MAX - 1);
    TT_ASSERT(strcmp(out + TSE_LOG_LINE_MAX - 4, "...") == 0);
    TT_EQ_INT(out[0], '<');
    /* a NULL sink or format is ignored */
    lg.fn = NULL;
    out[0] = '\0';
    tse_log_write(&lg, TSE_LOG_INFO, "x");
    TT_EQ_INT(out[0], '\0');
#else
    printf("  (TSE_CONFIG_LOG 0: no formatter)\n");
#endif
}

int main(void)
{
    TT_RUN(info_milestones);
    TT_RUN(failures_and_retries);
    TT_RUN(address_change_warned);
    TT_RUN(stats_counters);
    TT_RUN(settings_refused);
    TT_RUN(debug_lines);
    TT_RUN(formatter);
    return TT_DONE();
}
