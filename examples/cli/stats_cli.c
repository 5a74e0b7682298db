/* tse-cli: the library's log hook and the statistics line (stats_cli.h). */
#include "stats_cli.h"

#include <stdio.h>
#include <string.h>

#include "json_out.h"
#include "tse_posix.h"

static struct {
    int on;                       /* --log given */
    tse_log_level level;
    int tls_debug;
    long (*index_of)(const tse_tunnel *t);
    tse_time_ms t0;
} g_log;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int stats_cli_option(const char *name, const char *val, char *msg, size_t cap)
{
    if (strcmp(name, "--log") == 0) {
        for (int i = 0; i < 4; i++) {
            if (strcmp(val, level_names[i]) == 0) {
                g_log.on = 1;
                g_log.level = (tse_log_level)i;
                return 1;
            }
        }
        snprintf(msg, cap, "--log: expected error, warn, info or debug, got '%s'", val);
        return -1;
    }
    if (strcmp(name, "--tls-debug") == 0) {
        if (strlen(val) != 1 || val[0] < '0' || val[0] > '4') {
            snprintf(msg, cap, "--tls-debug: expected 0 to 4 (mbed TLS's debug level), got '%s'",
                     val);
            return -1;
        }
        g_log.tls_debug = val[0] - '0';
        return 1;
    }
    return 0;
}

/* "tse-cli: 12.345 [warn] #3 TLS: ..." on stderr, seconds since start */
static void on_log(void *user, const tse_tunnel *t, tse_log_level level, const char *msg)
{
    tse_time_ms ms = tse_posix_now_ms() - g_log.t0;
    long idx = (t != NULL && g_log.index_of != NULL) ? g_log.index_of(t) : -1;
    char who[32] = "";
    (void)user;
    if (idx >= 0)
        snprintf(who, sizeof who, "#%ld ", idx);
    fprintf(stderr, "tse-cli: %llu.%03u [%s] %s%s\n", (unsigned long long)(ms / 1000),
            (unsigned)(ms % 1000), (unsigned)level < 4 ? level_names[level] : "?", who, msg);
}

void stats_cli_settings(tse_settings *s, long (*index_of)(const tse_tunnel *t))
{
    g_log.index_of = index_of;
    g_log.t0 = tse_posix_now_ms();
    if (g_log.tls_debug > 0 && !g_log.on) {
        g_log.on = 1; /* --tls-debug alone: its lines are debug lines */
        g_log.level = TSE_LOG_DEBUG;
    }
    if (!g_log.on)
        return;
    s->log = on_log;
    s->log_user = NULL;
    s->log_level = g_log.level;
    s->tls_debug = g_log.tls_debug;
}

void stats_cli_print(const tse_tunnel *t, long idx, int json, unsigned long long wakeups)
{
    tse_stats st;
    uint64_t cm_out[TSE_STATS_CM_TYPES], cm_in[TSE_STATS_CM_TYPES];
    unsigned long long cms_out = 0, cms_in = 0;
    char who[32] = "";
    unsigned long long up_ms;
    tse_tunnel_get_stats(t, &st);
    up_ms = st.up_ms;
    if (st.up_since != TSE_TIME_NEVER)
        up_ms += tse_posix_now_ms() - st.up_since; /* the driver's clock */
    for (int i = 0; i < TSE_STATS_CM_TYPES; i++) {
        cm_out[i] = st.cm_out[i];
        cm_in[i] = st.cm_in[i];
        cms_out += st.cm_out[i];
        cms_in += st.cm_in[i];
    }
    if (json) {
        cli_json j;
        cli_json_begin(&j);
        cli_json_str(&j, "event", "stats");
        if (idx >= 0)
            cli_json_int(&j, "tunnel", idx);
        cli_json_str(&j, "state", tse_state_name(tse_tunnel_state(t)));
        cli_json_int(&j, "packets_out", (long long)st.packets_out);
        cli_json_int(&j, "bytes_out", (long long)st.bytes_out);
        cli_json_int(&j, "packets_in", (long long)st.packets_in);
        cli_json_int(&j, "bytes_in", (long long)st.bytes_in);
        cli_json_int(&j, "outer_bytes_out", (long long)st.outer_bytes_out);
        cli_json_int(&j, "outer_bytes_in", (long long)st.outer_bytes_in);
        cli_json_int(&j, "records_out", (long long)st.records_out);
        cli_json_int(&j, "records_in", (long long)st.records_in);
        cli_json_uint_array(&j, "cm_out", cm_out, TSE_STATS_CM_TYPES);
        cli_json_uint_array(&j, "cm_in", cm_in, TSE_STATS_CM_TYPES);
        cli_json_uint_array(&j, "class_packets", st.class_packets, TSE_CLASS_COUNT);
        cli_json_uint_array(&j, "class_bytes", st.class_bytes, TSE_CLASS_COUNT);
        cli_json_uint_array(&j, "class_full_drops", st.class_full_drops, TSE_CLASS_COUNT);
        cli_json_int(&j, "queue_full_drops", (long long)st.queue_full_drops);
        cli_json_int(&j, "rt_stale_drops", (long long)st.rt_stale_drops);
        cli_json_int(&j, "queue_cleared_bytes", (long long)st.queue_cleared_drops);
        cli_json_int(&j, "early_packets", st.early_packets);
        cli_json_int(&j, "unknown_tlvs", st.unknown_tlvs);
        cli_json_int(&j, "keepalives_sent", st.keepalives_sent);
        cli_json_int(&j, "keepalive_responses", st.keepalive_responses);
        if (st.keepalive_responses > 0) {
            cli_json_int(&j, "ka_rtt_last_ms", st.ka_rtt_last_ms);
            cli_json_int(&j, "ka_rtt_min_ms", st.ka_rtt_min_ms);
            cli_json_int(&j, "ka_rtt_srtt_ms", st.ka_rtt_srtt_ms);
        }
        cli_json_int(&j, "ups", st.ups);
        cli_json_int(&j, "up_ms", (long long)up_ms);
        cli_json_int(&j, "reconnects", st.reconnects);
        cli_json_int(&j, "resumes", st.resumes);
        cli_json_int(&j, "wakeups", (long long)wakeups);
        puts(cli_json_end(&j));
        return;
    }
    if (idx >= 0)
        snprintf(who, sizeof who, " #%ld", idx);
    printf("stats%s: %s; inner %llu packets / %llu bytes out, %llu / %llu in; "
           "outer %llu bytes out, %llu in, %llu / %llu records; CMs %llu out, %llu in; "
           "drops: %llu refused, %llu stale, %llu bytes cleared; keep-alives %u/%u",
           who, tse_state_name(tse_tunnel_state(t)),
           (unsigned long long)st.packets_out, (unsigned long long)st.bytes_out,
           (unsigned long long)st.packets_in, (unsigned long long)st.bytes_in,
           (unsigned long long)st.outer_bytes_out, (unsigned long long)st.outer_bytes_in,
           (unsigned long long)st.records_out, (unsigned long long)st.records_in,
           cms_out, cms_in,
           (unsigned long long)st.queue_full_drops, (unsigned long long)st.rt_stale_drops,
           (unsigned long long)st.queue_cleared_drops, st.keepalive_responses,
           st.keepalives_sent);
    if (st.keepalive_responses > 0)
        printf(" (rtt last %u ms, min %u, smoothed %u)", st.ka_rtt_last_ms, st.ka_rtt_min_ms,
               st.ka_rtt_srtt_ms);
    printf("; up %u times, %llu ms; %u reconnects, %u resumes; %llu wake-ups\n", st.ups,
           up_ms, st.reconnects, st.resumes, wakeups);
}
