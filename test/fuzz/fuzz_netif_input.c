/* libFuzzer: inbound inner packets through port/lwip/tse_netif.c into lwIP.
 *
 * The lwIP under test is NO_SYS=1 with port/lwip/lwipopts.h, built from
 * source and instrumented with the fuzzer (test/fuzz/CMakeLists.txt).  One
 * netif (tse_lwip_netif_add) of an idle tunnel is up with 198.18.0.2 and
 * 2001:db8::2; its packet sink (tse_lwip_netif_config::send_packet) checks
 * every packet lwIP emits.  lwIP listens on TCP and UDP port 7 (IPv4 and
 * IPv6, echoing what it receives) and answers ICMP/ICMPv6 echo itself.
 *
 * Input: a sequence of records; the low two bits of the first byte say what:
 *   0  packet with checksums fixed here: 2-byte length, bytes (IPv4 header,
 *      ICMP, TCP, UDP, ICMPv6 checksums set, so the bytes reach the upper
 *      layers), handed to tse_lwip_netif_on_packet()
 *   1  packet as it is: 2-byte length, bytes
 *   2  the virtual clock advances by (byte >> 2) * 250 ms, then lwIP's
 *      timers run (sys_check_timeouts)
 *   3  control (byte >> 2) & 3: tunnel down, tunnel up, the sink toggles
 *      refusing (TSE_ERR_QUEUE_FULL), the address changes (ADDR_CHANGED)
 * Every packet is passed in an exact-size allocation, so ASan sees a read
 * past its end.
 *
 * Asserted: no crash, no sanitizer report, no lwIP assertion (they abort);
 * each packet lwIP emits fits the MTU, is IPv4 or IPv6 with a length field
 * that matches its size, and comes from the tunnel's current address (an
 * ICMP error may come from the previous one: lwIP sends Time Exceeded for a
 * reassembly that timed out from the address the fragments were sent to,
 * even after the address changed); after each input
 * (all TCP connections aborted, reassembly timed out) every lwIP memory
 * pool and the heap are back to what they held before it, i.e. no pbuf,
 * segment or reassembly buffer leaked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

#include "tse/lwip_netif.h"
#include "tse/tse.h"

#if !NO_SYS
#error "fuzz_netif_input needs the NO_SYS=1 lwIP"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

#define MTU 1400

static u32_t virtual_now_ms = 1000;
u32_t sys_now(void)
{
    return virtual_now_ms;
}

static tse_time_ms now_cb(void *user)
{
    (void)user;
    return virtual_now_ms;
}

/* ---- the tunnel side ------------------------------------------------------ */

static tse_tunnel *tunnel;
static tse_lwip_netif tn;
static tse_tunnel_config conf_a, conf_b, *conf_now;
static int sink_refuse;
static size_t sink_count;
static volatile unsigned sink_sum;

static int sink(void *user, tse_tunnel *t, const uint8_t *pkt, size_t len,
                tse_time_ms now)
{
    unsigned s = 0;
    size_t i;
    (void)user;
    CHECK(t == tunnel);
    CHECK(now == virtual_now_ms);
    CHECK(pkt != NULL && len >= 20 && len <= MTU);
    for (i = 0; i < len; i++) {
        s += pkt[i]; /* every byte must be readable */
    }
    sink_sum = s;
    if ((pkt[0] >> 4) == 4) {
        CHECK(((size_t)pkt[2] << 8 | pkt[3]) == len);
        CHECK((pkt[0] & 15) >= 5 && (size_t)(pkt[0] & 15) * 4 <= len);
        size_t ihl = (size_t)(pkt[0] & 15) * 4;
        int icmp_error = pkt[9] == 1 && len > ihl && pkt[ihl] != 0 && pkt[ihl] != 8;
        CHECK(memcmp(pkt + 12, conf_now->ipv4, 4) == 0 ||
              (icmp_error && memcmp(pkt + 12, conf_a.ipv4, 4) == 0) ||
              (icmp_error && memcmp(pkt + 12, conf_b.ipv4, 4) == 0));
    } else {
        CHECK((pkt[0] >> 4) == 6);
        CHECK(len >= 40 && ((size_t)pkt[4] << 8 | pkt[5]) + 40 == len);
        int icmp_error = pkt[6] == 58 && len > 40 && pkt[40] < 128;
        CHECK(memcmp(pkt + 8, conf_now->ipv6, 16) == 0 ||
              (icmp_error && memcmp(pkt + 8, conf_a.ipv6, 16) == 0) ||
              (icmp_error && memcmp(pkt + 8, conf_b.ipv6, 16) == 0));
    }
    sink_count++;
    return sink_refuse ? TSE_ERR_QUEUE_FULL : TSE_OK;
}

static void ev_cb(void *u, const tse_event *ev) { (void)u; (void)ev; }
static void pkt_cb(void *u, const uint8_t *p, size_t n) { (void)u; (void)p; (void)n; }
static int ent_cb(void *u, uint8_t *b, size_t n)
{
    (void)u;
    memset(b, 0x5a, n);
    return 0;
}
static void *m_calloc(void *u, size_t n, size_t s) { (void)u; return calloc(n, s); }
static void m_free(void *u, void *p) { (void)u; free(p); }

static void event(tse_event_type type, const tse_tunnel_config *c)
{
    tse_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.state = type == TSE_EV_TUNNEL_DOWN ? TSE_STATE_BACKOFF : TSE_STATE_UP;
    ev.config = c;
    ev.error = type == TSE_EV_TUNNEL_DOWN ? TSE_ERR_TRANSPORT_RESET : 0;
    tse_lwip_netif_on_event(&tn, &ev);
}

/* ---- lwIP's applications: TCP and UDP echo on port 7 ---------------------- */

static err_t tcp_recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    uint8_t buf[128];
    u16_t n;
    (void)arg;
    (void)err;
    if (p == NULL) {
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    n = pbuf_copy_partial(p, buf, sizeof(buf), 0);
    pbuf_free(p);
    if (n > 0 && tcp_write(pcb, buf, n, TCP_WRITE_FLAG_COPY) == ERR_OK) {
        tcp_output(pcb);
    }
    return ERR_OK;
}

static err_t tcp_accept_cb(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || pcb == NULL) {
        return ERR_VAL;
    }
    tcp_recv(pcb, tcp_recv_cb);
    return ERR_OK;
}

static void udp_recv_cb(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                        const ip_addr_t *addr, u16_t port)
{
    (void)arg;
    udp_sendto(pcb, p, addr, port);
    pbuf_free(p);
}

/* ---- checksums ------------------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    return sum;
}

static void put_csum(uint8_t *at, uint32_t sum, int udp)
{
    uint16_t c;
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    c = (uint16_t)~sum;
    if (udp && c == 0) {
        c = 0xffff;
    }
    at[0] = (uint8_t)(c >> 8);
    at[1] = (uint8_t)c;
}

/* Set the transport checksum of @p l4 (l4len bytes of protocol @p proto)
 * given the pseudo-header sum; ICMP (IPv4) has none. */
static void fix_l4(uint8_t *l4, size_t l4len, int proto, uint32_t pseudo)
{
    size_t off;
    switch (proto) {
    case 1: off = 2; pseudo = 0; break; /* ICMP */
    case 58: off = 2; break;            /* ICMPv6 */
    case 6: off = 16; break;            /* TCP */
    case 17: off = 6; break;            /* UDP */
    default: return;
    }
    if (l4len < off + 2) {
        return;
    }
    l4[off] = l4[off + 1] = 0;
    put_csum(l4 + off, sum16(l4, l4len, pseudo), proto == 17);
}

static void fix_checksums(uint8_t *b, size_t len)
{
    if (len >= 20 && (b[0] >> 4) == 4) {
        size_t ihl = (size_t)(b[0] & 15) * 4;
        size_t tot = (size_t)b[2] << 8 | b[3];
        if (ihl < 20 || ihl > len) {
            return;
        }
        b[10] = b[11] = 0;
        put_csum(b + 10, sum16(b, ihl, 0), 0);
        if ((b[6] & 0x3f) == 0 && b[7] == 0 && tot >= ihl && tot <= len) {
            uint32_t ps = sum16(b + 12, 8, 0) + b[9] + (uint32_t)(tot - ihl);
            fix_l4(b + ihl, tot - ihl, b[9], ps);
        }
    } else if (len >= 40 && (b[0] >> 4) == 6) {
        size_t plen = (size_t)b[4] << 8 | b[5];
        if (40 + plen <= len && b[6] != 1) {
            uint32_t ps = sum16(b + 8, 32, 0) + b[6] + (uint32_t)plen;
            fix_l4(b + 40, plen, b[6], ps);
        }
    }
}

/* ---- set-up and per-input check ------------------------------------------- */

static struct stats_mem baseline_memp[MEMP_MAX];
static mem_size_t baseline_mem;

static void set_conf(tse_tunnel_config *c, uint8_t last4, uint8_t last6)
{
    static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    memset(c, 0, sizeof(*c));
    c->tsid = 7;
    c->ipv4[0] = 198; c->ipv4[1] = 18; c->ipv4[2] = 0; c->ipv4[3] = last4;
    memset(c->ipv4_mask, 255, 4);
    c->has_ipv6 = 1;
    memcpy(c->ipv6, a6, 16);
    c->ipv6[15] = last6;
    memset(c->ipv6_mask, 255, 16);
}

static void setup(void)
{
    tse_settings s;
    tse_callbacks cb = { ev_cb, pkt_cb, ent_cb, NULL };
    tse_mem mem = { NULL, m_calloc, m_free };
    tse_lwip_netif_config nc;
    struct tcp_pcb *l;
    struct udp_pcb *u;
    int i;

    lwip_init();
    tse_settings_default(&s);
    s.server_host = "tscf.test";
    s.tls_insecure_lab_only_skip_verify = 1;
    CHECK(tse_tunnel_new(&tunnel, &s, &cb, &mem, NULL) == TSE_OK);
    tse_lwip_netif_config_default(&nc);
    nc.mtu = MTU;
    nc.now_ms = now_cb;
    nc.send_packet = sink;
    nc.set_default = 1;
    CHECK(tse_lwip_netif_add(&tn, tunnel, &nc) == TSE_OK);
    set_conf(&conf_a, 2, 2);
    set_conf(&conf_b, 3, 3);
    conf_now = &conf_a;
    event(TSE_EV_TUNNEL_UP, conf_now);

    l = tcp_new_ip_type(IPADDR_TYPE_ANY);
    CHECK(l != NULL && tcp_bind(l, IP_ANY_TYPE, 7) == ERR_OK);
    l = tcp_listen(l);
    CHECK(l != NULL);
    tcp_accept(l, tcp_accept_cb);
    u = udp_new_ip_type(IPADDR_TYPE_ANY);
    CHECK(u != NULL && udp_bind(u, IP_ANY_TYPE, 7) == ERR_OK);
    udp_recv(u, udp_recv_cb, NULL);

    for (i = 0; i < MEMP_MAX; i++) {
        baseline_memp[i] = *lwip_stats.memp[i];
    }
    baseline_mem = lwip_stats.mem.used;
}

/* Back to the state of setup(): no connection, no reassembly, link up with
 * the first addresses; then lwIP must hold what it held then. */
static void reset_and_check(void)
{
    int i;
    while (tcp_active_pcbs != NULL) {
        tcp_abort(tcp_active_pcbs);
    }
    while (tcp_tw_pcbs != NULL) {
        tcp_abort(tcp_tw_pcbs);
    }
    for (i = 0; i <= IP_REASS_MAXAGE; i++) {
        ip_reass_tmr();
    }
    for (i = 0; i <= IPV6_REASS_MAXAGE; i++) {
        ip6_reass_tmr();
    }
    sink_refuse = 0;
    if (conf_now != &conf_a || !netif_is_link_up(&tn.netif)) {
        event(TSE_EV_TUNNEL_UP, &conf_a);
        conf_now = &conf_a;
    }
    for (i = 0; i < MEMP_MAX; i++) {
        if (i == MEMP_SYS_TIMEOUT) {
            continue; /* lwIP's TCP timer stops by itself, later */
        }
        if (lwip_stats.memp[i]->used != baseline_memp[i].used) {
            fprintf(stderr, "lwIP pool %d: %u in use, %u before the input\n",
                    i, (unsigned)lwip_stats.memp[i]->used,
                    (unsigned)baseline_memp[i].used);
            abort();
        }
    }
    CHECK(lwip_stats.mem.used == baseline_mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready, verbose;
    size_t i = 0;

    if (!ready) {
        setup();
        verbose = getenv("FUZZ_NETIF_VERBOSE") != NULL;
        ready = 1;
    }
    sink_count = 0;
    while (i < size) {
        uint8_t op = data[i++];
        switch (op & 3) {
        case 0:
        case 1: {
            size_t len;
            uint8_t *p;
            if (size - i < 2) {
                i = size;
                break;
            }
            len = (size_t)data[i] << 8 | data[i + 1];
            i += 2;
            if (len > size - i) {
                len = size - i;
            }
            p = malloc(len ? len : 1);
            CHECK(p != NULL);
            memcpy(p, data + i, len);
            i += len;
            if ((op & 3) == 0) {
                fix_checksums(p, len);
            }
            (void)tse_lwip_netif_on_packet(&tn, len ? p : NULL, len);
            free(p);
            break;
        }
        case 2:
            virtual_now_ms += (u32_t)(op >> 2) * 250u;
            sys_check_timeouts();
            break;
        default:
            switch ((op >> 2) & 3) {
            case 0:
                event(TSE_EV_TUNNEL_DOWN, NULL);
                break;
            case 1:
                event(TSE_EV_TUNNEL_UP, conf_now);
                break;
            case 2:
                sink_refuse = !sink_refuse;
                break;
            default: {
                /* lwIP resets connections from the old address while it
                 * changes: that is still the source of those RSTs */
                tse_tunnel_config *next = conf_now == &conf_a ? &conf_b : &conf_a;
                event(TSE_EV_ADDR_CHANGED, next);
                conf_now = next;
                break;
            }
            }
            break;
        }
    }
    if (verbose) {
        tse_lwip_netif_stats st;
        tse_lwip_netif_get_stats(&tn, &st);
        fprintf(stderr, "netif: %zu packets out; totals rx %u, rx_input_err %u, "
                "tcp pcbs %u\n", sink_count, (unsigned)st.rx_packets,
                (unsigned)st.rx_input_err, (unsigned)lwip_stats.memp[MEMP_TCP_PCB]->used);
    }
    reset_and_check();
    return 0;
}
