/*
 * soak-client: one long-lived process that brings a TSCF tunnel up and
 * down N times with libtse on the POSIX port, for test/soak/soak_cycles.sh.
 *
 *   soak-client --server ADDR:PORT --ca FILE [--sni NAME] --cycles N
 *               [--ping A.B.C.D] [--peer-pid PID] [--samples FILE]
 *               [--sample-every K] [--cycle-timeout S] [--grow-bytes B]
 *
 * Each cycle, in the same process (so that the client's resident memory
 * over the cycles means something):
 *   tse_tunnel_new (its own TLS configuration: the CA is parsed again)
 *   -> TCP connect, TLS handshake, Configuration_Request/Response (UP)
 *   -> one ICMP echo request to --ping (default 198.18.0.1, tscf-server
 *      --echo answers it) from the inner address; the reply must come back
 *      with the same identifier, sequence and payload
 *   -> tse_tunnel_close: Configuration_Release_Request, and the TSCF's
 *      Configuration_Release_Response (Response_Code 0) must arrive
 *   -> CLOSED with TSE_ERR_CLOSED, driver_remove, tse_tunnel_del.
 * Any deviation, or a cycle longer than --cycle-timeout (default 10 s),
 * stops the run with exit status 1 and one line saying which cycle and why.
 * The tunnel never reconnects on its own (auto_reconnect 0).
 *
 * Samples: before the first cycle, after every K cycles (default
 * max(1, N / 500)) and after the last, one line to --samples:
 *   CYCLE ELAPSED_MS CLIENT_VMRSS_KB PEER_VMRSS_KB
 * (VmRSS of /proc/self/status and /proc/PEER/status; 0 without a peer).
 * At the end one line on stdout:
 *   soak: cycles=N failed=0 seconds=S ms_per_cycle=M max_cycle_ms=X
 *         client_rss_kb=A..B peer_rss_kb=C..D
 *
 * --grow-bytes B is for the test of the test: every cycle B more bytes are
 * allocated, touched and kept reachable (freed at exit, so a leak checker
 * sees nothing): the growth the RSS rule of soak_cycles.sh must catch.
 *
 * Exit: 0 all cycles passed, 1 a cycle failed, 2 bad usage.
 */
#include "icmp_echo.h"
#include "tse/cm.h"
#include "tse/framing.h"
#include "tse/tse.h"
#include "tse_posix.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PING_PAYLOAD 32

struct soak {
    /* the current cycle */
    tse_tunnel *t;
    int up, closed, down_error;
    uint8_t inner[4];
    int release_sent, release_ok;
    int reply_ok;
    uint16_t ident, seq;
    uint8_t payload[PING_PAYLOAD];
    char why[160];
};

/* the kept allocations of --grow-bytes */
struct grow {
    struct grow *next;
};

static void on_event(void *user, const tse_event *ev)
{
    struct soak *s = user;
    switch (ev->type) {
    case TSE_EV_TUNNEL_UP:
        s->up = 1;
        memcpy(s->inner, ev->config->ipv4, 4);
        break;
    case TSE_EV_TUNNEL_DOWN:
        s->closed = 1;
        s->down_error = ev->error;
        if (ev->error != TSE_ERR_CLOSED && !s->why[0])
            snprintf(s->why, sizeof s->why, "tunnel down: %s%s%s",
                     tse_strerror(ev->error), ev->detail ? " - " : "",
                     ev->detail ? ev->detail : "");
        break;
    default:
        break;
    }
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    struct soak *s = user;
    cli_echo_reply r;
    if (cli_echo_reply_parse(pkt, len, &r) != 0 || r.family != 4 ||
        r.ident != s->ident || r.seq != s->seq ||
        r.payload_len != PING_PAYLOAD || memcmp(r.payload, s->payload, PING_PAYLOAD) != 0 ||
        memcmp(r.dst, s->inner, 4) != 0) {
        if (!s->why[0])
            snprintf(s->why, sizeof s->why, "unexpected inner packet (%zu bytes)", len);
        return;
    }
    s->reply_ok++;
}

/* The control messages each way: the release must be requested and
 * answered with Response_Code 0. */
static void on_trace(void *user, int outbound, int kind, const uint8_t *unit, size_t len)
{
    struct soak *s = user;
    tse_cm cm;
    if (kind != TSE_UNIT_CM || tse_cm_decode(&cm, unit, len) != TSE_OK)
        return;
    if (outbound && cm.type == TSE_CM_RELEASE_REQUEST)
        s->release_sent = 1;
    if (!outbound && cm.type == TSE_CM_RELEASE_RESPONSE && s->release_sent &&
        (cm.present & TSE_CM_HAS_RESPONSE_CODE) && cm.response_code == TSE_RC_SUCCESS)
        s->release_ok = 1;
}

/* VmRSS in kB of /proc/PID/status (PID 0: this process); 0 if unknown */
static unsigned long vmrss_kb(long pid)
{
    char path[64], line[256];
    unsigned long kb = 0;
    FILE *f;
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void usage(void)
{
    fprintf(stderr, "usage: soak-client --server ADDR:PORT --ca FILE [--sni NAME] --cycles N\n"
                    "                   [--ping A.B.C.D] [--peer-pid PID] [--samples FILE]\n"
                    "                   [--sample-every K] [--cycle-timeout S] [--grow-bytes B]\n");
    exit(2);
}

static long num_arg(const char *v, long lo, long hi)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "soak-client: bad number '%s'\n", v);
        usage();
    }
    return n;
}

/* One cycle; 0 on success, else -1 with s->why set. */
static int cycle(struct soak *s, tse_posix_driver *d, const tse_settings *set,
                 const tse_callbacks *cb, const uint8_t ping_dst[4], unsigned long n,
                 tse_time_ms timeout_ms)
{
    tse_time_ms start = tse_posix_now_ms(), deadline = start + timeout_ms;
    int sent = 0, closing = 0, rc, ok;
    uint8_t pkt[CLI_IPV4_HDR + CLI_ICMP_HDR + PING_PAYLOAD];
    size_t k, len;

    memset(s, 0, sizeof *s);
    s->ident = (uint16_t)(0x5000u + (n >> 16));
    s->seq = (uint16_t)n;
    for (k = 0; k < PING_PAYLOAD; k++)
        s->payload[k] = (uint8_t)(n >> (8 * (k % 4))) ^ (uint8_t)k;
    rc = tse_tunnel_new(&s->t, set, cb, tse_posix_mem(), s);
    if (rc != TSE_OK) {
        snprintf(s->why, sizeof s->why, "tse_tunnel_new: %s", tse_strerror(rc));
        return -1;
    }
    if ((rc = tse_posix_driver_add(d, s->t)) != TSE_OK ||
        (rc = tse_tunnel_start(s->t, tse_posix_now_ms())) != TSE_OK) {
        snprintf(s->why, sizeof s->why, "add/start: %s", tse_strerror(rc));
        (void)tse_posix_driver_remove(d, s->t);
        tse_tunnel_del(s->t);
        return -1;
    }
    while (!s->closed && !s->why[0]) {
        tse_time_ms now = tse_posix_now_ms();
        if (now >= deadline) {
            snprintf(s->why, sizeof s->why, "cycle timeout (%llu ms) in state %s",
                     (unsigned long long)timeout_ms, tse_state_name(tse_tunnel_state(s->t)));
            break;
        }
        if (s->up && !sent) {
            len = cli_icmp4_echo_request(pkt, sizeof pkt, s->inner, ping_dst, (uint16_t)n,
                                         s->ident, s->seq, s->payload, PING_PAYLOAD);
            rc = tse_tunnel_send_packet(s->t, pkt, len, now);
            if (rc != TSE_OK) {
                snprintf(s->why, sizeof s->why, "send_packet: %s", tse_strerror(rc));
                break;
            }
            sent = 1;
        }
        if (s->reply_ok && !closing) {
            rc = tse_tunnel_close(s->t, now);
            if (rc != TSE_OK) {
                snprintf(s->why, sizeof s->why, "tse_tunnel_close: %s", tse_strerror(rc));
                break;
            }
            closing = 1;
        }
        if (!s->closed)
            (void)tse_posix_driver_run_once(d, 100);
    }
    if (!s->why[0]) {
        if (!closing)
            snprintf(s->why, sizeof s->why, "tunnel down before the release: %s",
                     tse_strerror(s->down_error));
        else if (s->reply_ok != 1)
            snprintf(s->why, sizeof s->why, "%d echo replies, not 1", s->reply_ok);
        else if (!s->release_ok)
            snprintf(s->why, sizeof s->why, "no Configuration_Release_Response with code 0");
        else if (tse_tunnel_state(s->t) != TSE_STATE_CLOSED)
            snprintf(s->why, sizeof s->why, "state %s after the release, not CLOSED",
                     tse_state_name(tse_tunnel_state(s->t)));
    }
    ok = s->why[0] == '\0';
    (void)tse_posix_driver_remove(d, s->t);
    tse_tunnel_del(s->t);
    s->t = NULL;
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *server = NULL, *ca_file = NULL, *sni = NULL, *samples_file = NULL;
    char host[128];
    const char *colon;
    long cycles = -1, peer = 0, every = 0, timeout_s = 10, grow_bytes = 0, i;
    uint8_t ping_dst[4] = {198, 18, 0, 1};
    uint8_t *ca;
    size_t ca_len;
    tse_settings set;
    tse_callbacks cb = {on_event, on_packet, tse_posix_entropy, on_trace};
    tse_posix_driver *d;
    struct soak s;
    struct grow *kept = NULL;
    FILE *samples = NULL;
    tse_time_ms t0, tc, max_cycle = 0;
    unsigned long c_first, c_last, p_first, p_last;
    int rc;

    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(o, "--server"))
            server = v;
        else if (!strcmp(o, "--ca"))
            ca_file = v;
        else if (!strcmp(o, "--sni"))
            sni = v;
        else if (!strcmp(o, "--cycles"))
            cycles = num_arg(v, 1, 100000000);
        else if (!strcmp(o, "--ping")) {
            if (inet_pton(AF_INET, v, ping_dst) != 1)
                usage();
        } else if (!strcmp(o, "--peer-pid"))
            peer = num_arg(v, 1, 1L << 30);
        else if (!strcmp(o, "--samples"))
            samples_file = v;
        else if (!strcmp(o, "--sample-every"))
            every = num_arg(v, 1, 100000000);
        else if (!strcmp(o, "--cycle-timeout"))
            timeout_s = num_arg(v, 1, 3600);
        else if (!strcmp(o, "--grow-bytes"))
            grow_bytes = num_arg(v, 0, 1L << 24);
        else
            usage();
        i++;
    }
    if (!server || !ca_file || cycles < 1)
        usage();
    colon = strrchr(server, ':');
    if (!colon || (size_t)(colon - server) >= sizeof host)
        usage();
    memcpy(host, server, (size_t)(colon - server));
    host[colon - server] = '\0';
    if (every == 0)
        every = cycles / 500 > 1 ? cycles / 500 : 1;
    ca = tse_posix_read_key_file(ca_file, &ca_len);
    if (!ca) {
        perror(ca_file);
        return 2;
    }
    if (samples_file && !(samples = fopen(samples_file, "w"))) {
        perror(samples_file);
        return 2;
    }

    tse_settings_default(&set);
    set.server_host = host;
    set.server_port = (uint16_t)num_arg(colon + 1, 1, 65535);
    set.sni = sni;
    set.ca = ca;
    set.ca_len = ca_len;
    set.auto_reconnect = 0;
    if ((rc = tse_posix_driver_new(&d)) != TSE_OK) {
        fprintf(stderr, "soak-client: driver: %s\n", tse_strerror(rc));
        return 1;
    }

    t0 = tse_posix_now_ms();
    c_first = vmrss_kb(0);
    p_first = peer ? vmrss_kb(peer) : 0;
    if (samples) {
        fprintf(samples, "0 0 %lu %lu\n", c_first, p_first);
        fflush(samples);
    }
    rc = 0;
    for (i = 1; i <= cycles; i++) {
        tc = tse_posix_now_ms();
        if (cycle(&s, d, &set, &cb, ping_dst, (unsigned long)i,
                  (tse_time_ms)timeout_s * 1000) != 0) {
            fprintf(stderr, "soak-client: cycle %ld of %ld failed: %s\n", i, cycles, s.why);
            rc = 1;
            break;
        }
        tc = tse_posix_now_ms() - tc;
        if (tc > max_cycle)
            max_cycle = tc;
        if (grow_bytes > 0) {
            struct grow *g = malloc(sizeof *g + (size_t)grow_bytes);
            if (g) {
                memset(g + 1, 0xa5, (size_t)grow_bytes); /* resident, not just reserved */
                g->next = kept;
                kept = g;
            }
        }
        if (samples && (i % every == 0 || i == cycles)) {
            fprintf(samples, "%ld %llu %lu %lu\n", i,
                    (unsigned long long)(tse_posix_now_ms() - t0), vmrss_kb(0),
                    peer ? vmrss_kb(peer) : 0);
            fflush(samples);
        }
    }
    tc = tse_posix_now_ms() - t0;
    c_last = vmrss_kb(0);
    p_last = peer ? vmrss_kb(peer) : 0;
    printf("soak: cycles=%ld failed=%d seconds=%.1f ms_per_cycle=%.2f max_cycle_ms=%llu "
           "client_rss_kb=%lu..%lu peer_rss_kb=%lu..%lu\n",
           rc ? i - 1 : cycles, rc ? 1 : 0, (double)tc / 1000.0,
           (double)tc / (double)(rc ? (i > 1 ? i - 1 : 1) : cycles),
           (unsigned long long)max_cycle, c_first, c_last, p_first, p_last);
    while (kept) {
        struct grow *g = kept->next;
        free(kept);
        kept = g;
    }
    if (samples)
        fclose(samples);
    tse_posix_driver_del(d);
    free(ca);
    return rc;
}
