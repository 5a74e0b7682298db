/* lwip_apps.c - see lwip_apps.h.  lwIP raw API only; runs in lwIP's context. */
#include "lwip_apps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/def.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/icmp.h"
#include "lwip/sys.h"

#include "mbedtls/version.h"
#include "tse/rfc4571.h"

/* tcp_rexmit_rto() is lwIP-internal (lwip/priv/tcp_priv.h, exported by the
 * library since lwIP 2.0); Debian's liblwip-dev does not ship the private
 * headers, so declare it then. */
#if defined(__has_include)
#if __has_include("lwip/priv/tcp_priv.h")
#include "lwip/priv/tcp_priv.h"
#define LWAPP_HAVE_TCP_PRIV 1
#endif
#endif
#ifndef LWAPP_HAVE_TCP_PRIV
void tcp_rexmit_rto(struct tcp_pcb *pcb);
#endif
#if defined(__has_include)
#if __has_include("lwip/priv/nd6_priv.h")
#include "lwip/priv/nd6_priv.h"
#define LWAPP_HAVE_ND6_PRIV 1
#endif
#endif
#include "lwip/stats.h"
#include "lwip/timeouts.h"

#define TICK_MS 10
#define PING_ID 0x7453          /* "tS" */
#define PING_DATA 32
#define SIP_T1_MS 500
#define SIP_T2_MS 4000
#define RTP_DRAIN_MS 1500       /* after the last packet: wait for echoes */
#define RTP_FLOOD_STALL_MS 200  /* flood: nothing back for this long = lost */
#define TCP_FIN_WAIT_MS 10000   /* after our FIN: wait for the receiver's */

/* ---- small helpers ------------------------------------------------------- */

static void finish(lwapp *a, int ok, const char *err)
{
    if (a->done) {
        return;
    }
    a->ok = ok;
    if (!ok && err != NULL && a->error[0] == 0) {
        snprintf(a->error, sizeof(a->error), "%s", err);
    }
    a->t_end = sys_now();
    if (a->raw != NULL) {
        raw_remove(a->raw);
        a->raw = NULL;
    }
    if (a->udp != NULL) {
        udp_remove(a->udp);
        a->udp = NULL;
    }
    if (a->tcp != NULL) {
        tcp_arg(a->tcp, NULL);
        tcp_recv(a->tcp, NULL);
        tcp_sent(a->tcp, NULL);
        tcp_err(a->tcp, NULL);
        tcp_poll(a->tcp, NULL, 0);
        if (tcp_close(a->tcp) != ERR_OK) {
            tcp_abort(a->tcp);
        }
        a->tcp = NULL;
    }
    a->done = 1;
    if (a->on_done != NULL) {
        a->on_done(a->user, a);
    }
}

static u32_t elapsed(const lwapp *a)
{
    return sys_now() - a->t_start;
}

/* The local address lwIP would use towards the target (for SIP headers). */
static void local_addr_str(const lwapp *a, char *out, size_t n)
{
    const ip_addr_t *src = NULL;
    struct netif *nif;
#if LWIP_IPV4 && LWIP_IPV6
    nif = ip_route(IP_IS_V6(&a->spec.addr) ? IP6_ADDR_ANY : IP4_ADDR_ANY, &a->spec.addr);
#else
    nif = ip_route(IP_ADDR_ANY, &a->spec.addr);
#endif
    if (nif != NULL) {
#if LWIP_IPV6
        if (IP_IS_V6(&a->spec.addr)) {
            src = &nif->ip6_addr[0];
        }
#endif
#if LWIP_IPV4
        if (src == NULL) {
            src = &nif->ip_addr;
        }
#endif
    }
    if (src == NULL) {
        snprintf(out, n, "0.0.0.0");
        return;
    }
#if LWIP_IPV6
    if (IP_IS_V6(src)) {
        snprintf(out, n, "[%s]", ipaddr_ntoa(src));
        return;
    }
#endif
    snprintf(out, n, "%s", ipaddr_ntoa(src));
}

static uint64_t rand64(uint64_t *s)
{
    /* xorshift64* (Vigna): deterministic, seeded; not for cryptography */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* mbed TLS 2.28 has the *_ret functions, 3.x renamed them. */
static void sha_start(mbedtls_sha256_context *c)
{
    mbedtls_sha256_init(c);
#if MBEDTLS_VERSION_MAJOR >= 3
    (void)mbedtls_sha256_starts(c, 0);
#else
    (void)mbedtls_sha256_starts_ret(c, 0);
#endif
}

static void sha_update(mbedtls_sha256_context *c, const u8_t *p, size_t n)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    (void)mbedtls_sha256_update(c, p, n);
#else
    (void)mbedtls_sha256_update_ret(c, p, n);
#endif
}

static void sha_finish(mbedtls_sha256_context *c, u8_t out[32])
{
#if MBEDTLS_VERSION_MAJOR >= 3
    (void)mbedtls_sha256_finish(c, out);
#else
    (void)mbedtls_sha256_finish_ret(c, out);
#endif
    mbedtls_sha256_free(c);
}

/* ---- parsing ------------------------------------------------------------- */

void lwapp_spec_default(lwapp_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->count = 3;
    s->interval_ms = 1000;
    s->bytes = 1000000;
    s->seed = 1;
    s->seconds = 10;
    s->pps = 50;
    s->window = 32;
}

static int parse_addr(const char *host, size_t len, ip_addr_t *addr)
{
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, host, len);
    tmp[len] = 0;
    return ipaddr_aton(tmp, addr) ? 0 : -1;
}

static int parse_port(const char *s, size_t len, u16_t *port)
{
    unsigned long v = 0;
    size_t i;
    if (len == 0 || len > 5) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535) {
        return -1;
    }
    *port = (u16_t)v;
    return 0;
}

/* host part of "host[:port]..." ending at any char of `stop`; IPv6 in []. */
static int split_host(const char *s, const char **host, size_t *hlen, const char **rest)
{
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (e == NULL) {
            return -1;
        }
        *host = s + 1;
        *hlen = (size_t)(e - s - 1);
        *rest = e + 1;
        return 0;
    }
    *host = s;
    *hlen = strcspn(s, ":;");
    *rest = s + *hlen;
    return 0;
}

int lwapp_parse_hostport(const char *s, ip_addr_t *addr, u16_t *port)
{
    const char *host, *rest;
    size_t hlen;
    if (s == NULL) {
        return -1;
    }
    if (s[0] != '[' && strchr(s, ':') != strrchr(s, ':')) {
        /* bare IPv6 with a port is ambiguous: ask for brackets */
        return -1;
    }
    if (split_host(s, &host, &hlen, &rest) != 0 || rest[0] != ':' ||
        parse_addr(host, hlen, addr) != 0 || parse_port(rest + 1, strlen(rest + 1), port) != 0) {
        return -1;
    }
    return 0;
}

int lwapp_parse_sip_uri(const char *uri, lwapp_spec *s)
{
    const char *p, *host, *rest;
    size_t hlen;
    if (uri == NULL || strncmp(uri, "sip:", 4) != 0 || strlen(uri) >= sizeof(s->sip_uri)) {
        return -1;
    }
    p = uri + 4;
    if (strchr(p, '@') != NULL) {
        p = strchr(p, '@') + 1; /* user part: ignored for addressing */
    }
    if (split_host(p, &host, &hlen, &rest) != 0 || parse_addr(host, hlen, &s->addr) != 0) {
        return -1;
    }
    s->port = 5060;
    if (rest[0] == ':') {
        size_t plen = strcspn(rest + 1, ";");
        if (parse_port(rest + 1, plen, &s->port) != 0) {
            return -1;
        }
        rest += 1 + plen;
    }
    s->sip_tcp = 0;
    while (rest[0] == ';') {
        size_t plen = strcspn(rest + 1, ";");
        if (plen == 13 && strncmp(rest + 1, "transport=tcp", 13) == 0) {
            s->sip_tcp = 1;
        } else if (plen == 13 && strncmp(rest + 1, "transport=udp", 13) == 0) {
            s->sip_tcp = 0;
        } else if (plen >= 10 && strncmp(rest + 1, "transport=", 10) == 0) {
            return -1; /* tls, sctp, ws: not here */
        }
        rest += 1 + plen;
    }
    if (rest[0] != 0) {
        return -1;
    }
    strcpy(s->sip_uri, uri);
    s->kind = LWAPP_SIP;
    return 0;
}

int lwapp_parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    v = strtoull(s, &end, 10);
    if (strcmp(end, "") == 0) mul = 1;
    else if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0) mul = 1000ULL;
    else if (strcmp(end, "M") == 0) mul = 1000000ULL;
    else if (strcmp(end, "G") == 0) mul = 1000000000ULL;
    else if (strcmp(end, "Ki") == 0) mul = 1024ULL;
    else if (strcmp(end, "Mi") == 0) mul = 1024ULL * 1024;
    else if (strcmp(end, "Gi") == 0) mul = 1024ULL * 1024 * 1024;
    else return -1;
    if (v == 0 || v > UINT64_MAX / mul) {
        return -1;
    }
    *out = (uint64_t)v * mul;
    return 0;
}

/* ---- PING ---------------------------------------------------------------- */

static u8_t ping_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
    lwapp *a = (lwapp *)arg;
    struct icmp_echo_hdr h;
    u16_t ihl;
    unsigned seq;
    u32_t rtt;
    (void)pcb;
    (void)addr;
    if (a == NULL || a->done || p->tot_len < 20 + sizeof(h)) {
        return 0;
    }
    ihl = (u16_t)((((const u8_t *)p->payload)[0] & 0x0f) * 4);
    if (pbuf_copy_partial(p, &h, sizeof(h), ihl) != sizeof(h) || h.type != ICMP_ER ||
        lwip_ntohs(h.id) != PING_ID) {
        return 0; /* not ours */
    }
    seq = lwip_ntohs(h.seqno);
    pbuf_free(p);
    if (seq >= a->sent || seq >= 64 || a->ping_sent_at[seq] == 0) {
        return 1; /* late duplicate or foreign */
    }
    rtt = sys_now() - (a->ping_sent_at[seq] - 1);
    a->ping_sent_at[seq] = 0;
    if (a->received == 0 || rtt < a->rtt_min) a->rtt_min = rtt;
    if (rtt > a->rtt_max) a->rtt_max = rtt;
    a->rtt_sum += rtt;
    a->received++;
    if (a->received >= a->spec.count) {
        finish(a, 1, NULL);
    }
    return 1;
}

static void ping_send(lwapp *a)
{
    struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)(sizeof(struct icmp_echo_hdr) + PING_DATA), PBUF_RAM);
    struct icmp_echo_hdr *h;
    if (p == NULL) {
        return;
    }
    h = (struct icmp_echo_hdr *)p->payload;
    memset(h, 0, p->len);
    ICMPH_TYPE_SET(h, ICMP_ECHO);
    ICMPH_CODE_SET(h, 0);
    h->id = lwip_htons(PING_ID);
    h->seqno = lwip_htons((u16_t)a->sent);
    memset((u8_t *)h + sizeof(*h), 'a' + (int)(a->sent % 26), PING_DATA);
    h->chksum = inet_chksum(h, p->len);
    a->ping_sent_at[a->sent] = sys_now() + 1; /* 0 = not outstanding */
    (void)raw_sendto(a->raw, p, &a->spec.addr);
    pbuf_free(p);
    a->sent++;
}

static int ping_start(lwapp *a)
{
    if (a->spec.count == 0 || a->spec.count > 64 || IP_IS_V6(&a->spec.addr)) {
        snprintf(a->error, sizeof(a->error), "ping: count 1..64, IPv4 only");
        return -1;
    }
    a->raw = raw_new(IP_PROTO_ICMP);
    if (a->raw == NULL) {
        snprintf(a->error, sizeof(a->error), "raw_new failed");
        return -1;
    }
    raw_recv(a->raw, ping_recv, a);
    ping_send(a);
    return 0;
}

static void ping_tick(lwapp *a)
{
    u32_t t = elapsed(a);
    if (a->sent < a->spec.count && t >= a->sent * a->spec.interval_ms) {
        ping_send(a);
    }
    if (a->sent >= a->spec.count && t >= (a->spec.count - 1) * a->spec.interval_ms + 2000) {
        finish(a, a->received >= a->spec.count, "not every echo was answered");
    }
}

/* Milliseconds until ping_tick() has something to do: the next echo, or
 * the end of the wait for the last replies.  Nothing in between (replies
 * arrive through ping_recv()), so an idle pinger costs no periodic wake-up. */
static u32_t ping_next(const lwapp *a)
{
    u32_t t = elapsed(a);
    u32_t at = a->sent < a->spec.count ? a->sent * a->spec.interval_ms
                                        : (a->spec.count - 1) * a->spec.interval_ms + 2000;
    return at > t ? at - t : 0;
}

/* ---- SIP OPTIONS ----------------------------------------------------------- */

static void sip_build(lwapp *a, u16_t local_port)
{
    char local[64];
    uint64_t r = ((uint64_t)sys_now() << 20) ^ (uint64_t)(uintptr_t)a ^ 0x5eed5eedULL;
    unsigned long branch = (unsigned long)(rand64(&r) & 0xffffffffUL);
    unsigned long tag = (unsigned long)(rand64(&r) & 0xffffffffUL);
    int n;
    local_addr_str(a, local, sizeof(local));
    snprintf(a->sip_callid, sizeof(a->sip_callid), "%08lx%08lx@libtse",
             (unsigned long)(rand64(&r) & 0xffffffffUL), (unsigned long)(rand64(&r) & 0xffffffffUL));
    n = snprintf(a->sip_req, sizeof(a->sip_req),
                 "OPTIONS %s SIP/2.0\r\n"
                 "Via: SIP/2.0/%s %s:%u;branch=z9hG4bK%08lx;rport\r\n"
                 "Max-Forwards: 70\r\n"
                 "From: <sip:probe@%s>;tag=%08lx\r\n"
                 "To: <%s>\r\n"
                 "Call-ID: %s\r\n"
                 "CSeq: 1 OPTIONS\r\n"
                 "Contact: <sip:probe@%s:%u%s>\r\n"
                 "Accept: application/sdp\r\n"
                 "User-Agent: libtse-lwip-apps\r\n"
                 "Content-Length: 0\r\n\r\n",
                 a->spec.sip_uri, a->spec.sip_tcp ? "TCP" : "UDP", local, (unsigned)local_port,
                 branch, local, tag, a->spec.sip_uri, a->sip_callid, local, (unsigned)local_port,
                 a->spec.sip_tcp ? ";transport=tcp" : "");
    a->sip_req_len = (n > 0 && (size_t)n < sizeof(a->sip_req)) ? (size_t)n : 0;
}

/* A case-insensitive search for header `name` at a line start; returns its
 * value (not NUL-terminated; *vlen set) or NULL. */
static const char *sip_header(const char *msg, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name), i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && msg[e] != '\r' && msg[e] != '\n') e++;
        if (e - i > nl && msg[i + nl] == ':') {
            size_t k;
            for (k = 0; k < nl; k++) {
                char c = msg[i + k];
                if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
                if (c != name[k]) break;
            }
            if (k == nl) {
                size_t v = i + nl + 1;
                while (v < e && (msg[v] == ' ' || msg[v] == '\t')) v++;
                *vlen = e - v;
                return msg + v;
            }
        }
        while (e < len && (msg[e] == '\r' || msg[e] == '\n')) e++;
        i = e;
    }
    return NULL;
}

/* One complete message (headers in msg[0..hlen)); returns 1 if final for us. */
static int sip_response(lwapp *a, const char *msg, size_t hlen)
{
    size_t vlen;
    const char *cid;
    int code;
    if (hlen < 12 || strncmp(msg, "SIP/2.0 ", 8) != 0 || msg[8] < '1' || msg[8] > '6' ||
        msg[9] < '0' || msg[9] > '9' || msg[10] < '0' || msg[10] > '9') {
        return 0;
    }
    cid = sip_header(msg, hlen, "call-id", &vlen);
    if (cid == NULL) {
        cid = sip_header(msg, hlen, "i", &vlen);
    }
    if (cid == NULL || vlen != strlen(a->sip_callid) || memcmp(cid, a->sip_callid, vlen) != 0) {
        return 0; /* not our transaction */
    }
    code = (msg[8] - '0') * 100 + (msg[9] - '0') * 10 + (msg[10] - '0');
    if (code < 200) {
        return 0; /* provisional: keep waiting */
    }
    a->sip_status = code;
    a->sip_rtt_ms = elapsed(a);
    return 1;
}

static void sip_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    lwapp *a = (lwapp *)arg;
    char msg[LWAPP_SIP_BUF];
    u16_t n;
    const char *end;
    (void)pcb;
    (void)addr;
    (void)port;
    n = pbuf_copy_partial(p, msg, sizeof(msg) - 1, 0);
    pbuf_free(p);
    if (a == NULL || a->done) {
        return;
    }
    msg[n] = 0;
    end = strstr(msg, "\r\n\r\n");
    if (sip_response(a, msg, end != NULL ? (size_t)(end - msg) + 2 : n)) {
        finish(a, a->sip_status >= 200 && a->sip_status < 300, "SIP final response is not 2xx");
    }
}

static void sip_tcp_err(void *arg, err_t err)
{
    lwapp *a = (lwapp *)arg;
    if (a == NULL) {
        return;
    }
    a->tcp = NULL; /* already freed by lwIP */
    snprintf(a->error, sizeof(a->error), "TCP error %d (%s)", (int)err, lwip_strerr(err));
    finish(a, 0, NULL);
}

static err_t sip_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    lwapp *a = (lwapp *)arg;
    (void)err;
    if (a == NULL || a->done) {
        if (p != NULL) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (p == NULL) {
        finish(a, 0, "the SIP server closed the connection without a final response");
        return ERR_OK;
    }
    {
        size_t room = sizeof(a->sip_buf) - 1 - a->sip_buf_len;
        u16_t n = pbuf_copy_partial(p, a->sip_buf + a->sip_buf_len,
                                    (u16_t)(room < p->tot_len ? room : p->tot_len), 0);
        a->sip_buf_len += n;
        a->sip_buf[a->sip_buf_len] = 0;
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
    }
    /* messages: headers, then Content-Length bytes of body */
    for (;;) {
        const char *end = strstr(a->sip_buf, "\r\n\r\n");
        size_t hlen, total, vlen;
        const char *cl;
        unsigned long body = 0;
        if (end == NULL) {
            if (a->sip_buf_len >= sizeof(a->sip_buf) - 1) {
                finish(a, 0, "SIP response headers too long");
            }
            return ERR_OK;
        }
        hlen = (size_t)(end - a->sip_buf) + 2;
        cl = sip_header(a->sip_buf, hlen, "content-length", &vlen);
        if (cl == NULL) {
            cl = sip_header(a->sip_buf, hlen, "l", &vlen);
        }
        if (cl != NULL) {
            body = strtoul(cl, NULL, 10);
        }
        total = hlen + 2 + body;
        if (body > sizeof(a->sip_buf) || total > a->sip_buf_len) {
            if (total >= sizeof(a->sip_buf)) {
                finish(a, 0, "SIP response too long");
            }
            return ERR_OK;
        }
        if (sip_response(a, a->sip_buf, hlen)) {
            finish(a, a->sip_status >= 200 && a->sip_status < 300, "SIP final response is not 2xx");
            return ERR_OK;
        }
        memmove(a->sip_buf, a->sip_buf + total, a->sip_buf_len - total);
        a->sip_buf_len -= total;
        a->sip_buf[a->sip_buf_len] = 0;
    }
}

static err_t sip_tcp_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    lwapp *a = (lwapp *)arg;
    if (a == NULL || a->done) {
        return ERR_OK;
    }
    if (err != ERR_OK) {
        finish(a, 0, "TCP connect failed");
        return ERR_OK;
    }
    sip_build(a, pcb->local_port);
    if (a->sip_req_len == 0 || tcp_write(pcb, a->sip_req, (u16_t)a->sip_req_len, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        finish(a, 0, "cannot send the SIP request");
        return ERR_OK;
    }
    tcp_output(pcb);
    return ERR_OK;
}

static void sip_udp_send(lwapp *a)
{
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)a->sip_req_len, PBUF_RAM);
    if (p == NULL) {
        return;
    }
    memcpy(p->payload, a->sip_req, a->sip_req_len);
    (void)udp_sendto(a->udp, p, &a->spec.addr, a->spec.port);
    pbuf_free(p);
}

static int sip_start(lwapp *a)
{
    if (a->spec.timeout_ms == 0) {
        a->spec.timeout_ms = 8000;
    }
    if (a->spec.sip_tcp) {
        a->tcp = tcp_new_ip_type(IP_GET_TYPE(&a->spec.addr));
        if (a->tcp == NULL) {
            snprintf(a->error, sizeof(a->error), "tcp_new failed");
            return -1;
        }
        tcp_arg(a->tcp, a);
        tcp_err(a->tcp, sip_tcp_err);
        tcp_recv(a->tcp, sip_tcp_recv);
        if (tcp_connect(a->tcp, &a->spec.addr, a->spec.port, sip_tcp_connected) != ERR_OK) {
            snprintf(a->error, sizeof(a->error), "tcp_connect failed (no route?)");
            return -1;
        }
        return 0;
    }
    a->udp = udp_new_ip_type(IP_GET_TYPE(&a->spec.addr));
    if (a->udp == NULL || udp_bind(a->udp, IP_ANY_TYPE, 0) != ERR_OK) {
        snprintf(a->error, sizeof(a->error), "udp_new/bind failed");
        return -1;
    }
    udp_recv(a->udp, sip_udp_recv, a);
    sip_build(a, a->udp->local_port);
    if (a->sip_req_len == 0) {
        snprintf(a->error, sizeof(a->error), "SIP request too long");
        return -1;
    }
    sip_udp_send(a);
    a->sip_rtx_interval = SIP_T1_MS;
    a->sip_next_rtx = SIP_T1_MS;
    return 0;
}

static void sip_tick(lwapp *a)
{
    u32_t t = elapsed(a);
    if (!a->spec.sip_tcp && t >= a->sip_next_rtx) {
        sip_udp_send(a);
        a->sip_retransmits++;
        a->sip_rtx_interval = a->sip_rtx_interval * 2 > SIP_T2_MS ? SIP_T2_MS : a->sip_rtx_interval * 2;
        a->sip_next_rtx = t + a->sip_rtx_interval;
    }
    if (t >= a->spec.timeout_ms) {
        finish(a, 0, "no final SIP response in time");
    }
}

/* ---- TCP send ------------------------------------------------------------ */

static void tcp_pump(lwapp *a);

/* lwapp_poll() pumps again at a->tcp_retry_at */
static void tcp_retry_later(lwapp *a, u32_t ms)
{
    if (!a->tcp_pump_pending) {
        a->tcp_pump_pending = 1;
        a->tcp_retry_at = sys_now() + ms;
    }
}

static void tcp_pump(lwapp *a)
{
    struct tcp_pcb *pcb = a->tcp;
    err_t e;
    int wrote = 0;
    if (pcb == NULL || a->tcp_shut) {
        return;
    }
    for (;;) {
        u16_t room, n;
        if (a->chunk_off == a->chunk_len) {
            uint64_t left = a->spec.bytes - a->tcp_generated;
            size_t i, want = left < sizeof(a->chunk) ? (size_t)left : sizeof(a->chunk);
            if (want == 0) {
                break;
            }
            for (i = 0; i < want; i += 8) {
                uint64_t r = rand64(&a->prng);
                size_t k;
                for (k = 0; k < 8 && i + k < want; k++) {
                    a->chunk[i + k] = (u8_t)(r >> (8 * k));
                }
            }
            sha_update(&a->sha, a->chunk, want);
            a->tcp_generated += want;
            a->chunk_off = 0;
            a->chunk_len = (u16_t)want;
        }
        room = tcp_sndbuf(pcb);
        if (room == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 1) {
            break;
        }
        n = (u16_t)(a->chunk_len - a->chunk_off);
        if (n > room) {
            n = room;
        }
        e = tcp_write(pcb, a->chunk + a->chunk_off, n, TCP_WRITE_FLAG_COPY |
                      (a->tcp_generated < a->spec.bytes || n < a->chunk_len - a->chunk_off ?
                       TCP_WRITE_FLAG_MORE : 0));
        if (e == ERR_MEM) {
            tcp_retry_later(a, 5);
            break;
        }
        if (e != ERR_OK) {
            finish(a, 0, "tcp_write failed");
            return;
        }
        a->chunk_off = (u16_t)(a->chunk_off + n);
        a->tcp_written += n;
        wrote = 1;
    }
    e = tcp_output(pcb);
    if (e != ERR_OK) {
        /* The netif refused (tunnel queue full: ERR_MEM; tunnel down: no
         * route).  Unsent segments wait; try again soon. */
        a->tcp_stalls++;
        tcp_retry_later(a, e == ERR_MEM ? 2 : 50);
    }
    (void)wrote;
}

static void tcp_all_acked(lwapp *a)
{
    a->t_acked = sys_now();
    sha_finish(&a->sha, a->sha256);
    /* half-close: the receiver sees EOF, may answer, then closes */
    if (tcp_shutdown(a->tcp, 0, 1) != ERR_OK) {
        finish(a, 0, "tcp_shutdown failed");
        return;
    }
    a->tcp_shut = 1;
    a->t_end = sys_now(); /* provisional */
}

static err_t tcp_sent_cb(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    lwapp *a = (lwapp *)arg;
    (void)pcb;
    if (a == NULL || a->done) {
        return ERR_OK;
    }
    a->tcp_acked += len;
    if (a->tcp_acked >= a->spec.bytes && !a->tcp_shut) {
        tcp_all_acked(a);
    } else {
        tcp_pump(a);
    }
    return ERR_OK;
}

static err_t tcp_recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    lwapp *a = (lwapp *)arg;
    (void)err;
    if (a == NULL || a->done) {
        if (p != NULL) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (p == NULL) {
        /* the receiver closed */
        if (a->tcp_acked >= a->spec.bytes && a->tcp_shut) {
            finish(a, 1, NULL);
        } else {
            finish(a, 0, "the receiver closed before everything was sent");
        }
        return ERR_OK;
    }
    if (a->reply_len < LWAPP_TCP_REPLY_MAX) {
        size_t room = LWAPP_TCP_REPLY_MAX - a->reply_len;
        a->reply_len += pbuf_copy_partial(p, a->reply + a->reply_len,
                                          (u16_t)(room < p->tot_len ? room : p->tot_len), 0);
        a->reply[a->reply_len] = 0;
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static void rtp_tcp_begin(lwapp *a);

/* The TCP applications' connect callback (--tcp-send, --rtp-tcp). */
static err_t tcp_connected_cb(void *arg, struct tcp_pcb *pcb, err_t err)
{
    lwapp *a = (lwapp *)arg;
    (void)pcb;
    if (a == NULL || a->done) {
        return ERR_OK;
    }
    if (err != ERR_OK) {
        finish(a, 0, "TCP connect failed");
        return ERR_OK;
    }
    a->t_connected = sys_now();
    if (a->spec.kind == LWAPP_RTP_TCP) {
        rtp_tcp_begin(a);
    } else {
        tcp_pump(a);
    }
    return ERR_OK;
}

/* Connect a->tcp to the target for a TCP application. */
static int tcp_open(lwapp *a, tcp_recv_fn recv_fn, tcp_sent_fn sent_fn)
{
    a->tcp = tcp_new_ip_type(IP_GET_TYPE(&a->spec.addr));
    if (a->tcp == NULL) {
        snprintf(a->error, sizeof(a->error), "tcp_new failed");
        return -1;
    }
    tcp_arg(a->tcp, a);
    tcp_err(a->tcp, sip_tcp_err);
    tcp_recv(a->tcp, recv_fn);
    if (sent_fn != NULL) {
        tcp_sent(a->tcp, sent_fn);
    }
    tcp_nagle_disable(a->tcp); /* each write as it comes (RTP: as it is due) */
    if (tcp_connect(a->tcp, &a->spec.addr, a->spec.port, tcp_connected_cb) != ERR_OK) {
        snprintf(a->error, sizeof(a->error), "tcp_connect failed (no route?)");
        return -1;
    }
    return 0;
}

static int tcp_send_start(lwapp *a)
{
    if (a->spec.bytes == 0) {
        snprintf(a->error, sizeof(a->error), "--bytes must be > 0");
        return -1;
    }
    a->prng = a->spec.seed != 0 ? a->spec.seed : 1;
    sha_start(&a->sha);
    return tcp_open(a, tcp_recv_cb, tcp_sent_cb);
}

static void tcp_tick(lwapp *a)
{
    if (a->tcp_pump_pending && (s32_t)(sys_now() - a->tcp_retry_at) >= 0) {
        a->tcp_pump_pending = 0;
        if (a->tcp != NULL) {
            tcp_pump(a);
        }
    }
    /* A segment the netif refused (ERR_MEM: the tunnel's queue was full)
     * while lwIP itself was sending - from tcp_input() after an ACK, where
     * our own tcp_output() calls return early - stays unsent with
     * TF_NAGLEMEMERR, and lwIP retries it only at its next input or
     * retransmission time-out.  Retry it now. */
    if (a->tcp != NULL && !a->tcp_pump_pending && a->tcp->unsent != NULL &&
        (a->tcp->flags & TF_NAGLEMEMERR) != 0) {
        if (tcp_output(a->tcp) != ERR_OK) {
            a->tcp_stalls++;
            tcp_retry_later(a, 2);
        }
    }
    if (a->tcp_shut && sys_now() - a->t_acked >= TCP_FIN_WAIT_MS) {
        finish(a, 1, NULL); /* everything acknowledged; the receiver just never closed */
        return;
    }
    if (a->spec.timeout_ms != 0 && elapsed(a) >= a->spec.timeout_ms) {
        finish(a, 0, "timeout");
    }
}

/* ---- RTP-like stream ------------------------------------------------------- */

/* The a->sent-th RTP packet (LWAPP_RTP_PAYLOAD bytes) into b. */
static void rtp_build(lwapp *a, u8_t *b)
{
    unsigned idx = a->sent;
    b[0] = 0x80;                      /* V=2 */
    b[1] = 0;                         /* PT 0 = PCMU */
    b[2] = (u8_t)(idx >> 8);          /* sequence number */
    b[3] = (u8_t)idx;
    b[4] = (u8_t)((idx * 160u) >> 24); /* timestamp, 8 kHz */
    b[5] = (u8_t)((idx * 160u) >> 16);
    b[6] = (u8_t)((idx * 160u) >> 8);
    b[7] = (u8_t)(idx * 160u);
    b[8] = 0x74; b[9] = 0x73; b[10] = 0x65; b[11] = 0x21; /* SSRC "tse!" */
    b[12] = (u8_t)(idx >> 24);        /* full 32-bit index in the payload */
    b[13] = (u8_t)(idx >> 16);
    b[14] = (u8_t)(idx >> 8);
    b[15] = (u8_t)idx;
    memset(b + 16, 0xd5, LWAPP_RTP_PAYLOAD - 16); /* PCMU silence */
    a->rtp_seen[(idx & 0xffff) >> 3] &= (u8_t)~(1u << (idx & 7));
}

/* An RTP packet that came back (16 first bytes in h, @p len in all):
 * counted once if it is one we sent. */
static void rtp_check(lwapp *a, const u8_t *h, size_t len)
{
    unsigned idx;
    if (len != LWAPP_RTP_PAYLOAD || h[0] != 0x80 || h[8] != 0x74 || h[11] != 0x21) {
        a->rtp_bad++;
        return;
    }
    idx = ((unsigned)h[12] << 24) | ((unsigned)h[13] << 16) | ((unsigned)h[14] << 8) | h[15];
    if (idx >= a->sent || ((idx & 0xffff) != (((unsigned)h[2] << 8) | h[3]))) {
        a->rtp_bad++;
        return;
    }
    if (a->rtp_seen[(idx & 0xffff) >> 3] & (1u << (idx & 7))) {
        a->rtp_dups++;
        return;
    }
    a->rtp_seen[(idx & 0xffff) >> 3] |= (u8_t)(1u << (idx & 7));
    a->received++;
    a->rtp_last_rx = sys_now();
}

static int rtp_tcp_send_one(lwapp *a);

static void rtp_send_one(lwapp *a)
{
    struct pbuf *p;
    if (a->spec.kind == LWAPP_RTP_TCP) {
        (void)rtp_tcp_send_one(a);
        return;
    }
    p = pbuf_alloc(PBUF_TRANSPORT, LWAPP_RTP_PAYLOAD, PBUF_RAM);
    if (p == NULL) {
        a->rtp_send_errors++;
        return;
    }
    rtp_build(a, (u8_t *)p->payload);
    if (udp_sendto(a->udp, p, &a->spec.addr, a->spec.port) != ERR_OK) {
        a->rtp_send_errors++;
    }
    pbuf_free(p);
    a->sent++;
}

static unsigned rtp_outstanding(const lwapp *a)
{
    return a->sent - a->received - a->rtp_lost_flood;
}

static void rtp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    lwapp *a = (lwapp *)arg;
    u8_t h[16];
    size_t len;
    (void)pcb;
    (void)addr;
    (void)port;
    if (a == NULL || a->done) {
        pbuf_free(p);
        return;
    }
    len = p->tot_len;
    if (pbuf_copy_partial(p, h, sizeof(h), 0) != sizeof(h)) {
        a->rtp_bad++;
        pbuf_free(p);
        return;
    }
    pbuf_free(p);
    rtp_check(a, h, len);
    if (a->spec.pps == 0 && a->rtp_sending) {
        while (rtp_outstanding(a) < a->spec.window && a->rtp_sending) {
            rtp_send_one(a);
        }
    }
}

static int rtp_start(lwapp *a)
{
    if (a->spec.seconds == 0 || (a->spec.pps == 0 && a->spec.window == 0)) {
        snprintf(a->error, sizeof(a->error), "rtp: seconds > 0 and window > 0 needed");
        return -1;
    }
    a->udp = udp_new_ip_type(IP_GET_TYPE(&a->spec.addr));
    if (a->udp == NULL || udp_bind(a->udp, IP_ANY_TYPE, 0) != ERR_OK) {
        snprintf(a->error, sizeof(a->error), "udp_new/bind failed");
        return -1;
    }
    udp_recv(a->udp, rtp_recv, a);
    a->rtp_sending = 1;
    a->rtp_send_end = a->spec.seconds * 1000u;
    a->rtp_last_rx = sys_now();
    if (a->spec.pps == 0) {
        while (rtp_outstanding(a) < a->spec.window) {
            rtp_send_one(a);
        }
    } else {
        rtp_send_one(a);
    }
    return 0;
}

static void rtp_tick(lwapp *a)
{
    u32_t t = elapsed(a);
    if (a->rtp_sending && t >= a->rtp_send_end) {
        if (a->spec.pps != 0) {
            /* a late tick (a loaded machine) must not cut the stream
             * short: what was due by the end still goes */
            uint64_t total = (uint64_t)a->spec.seconds * a->spec.pps;
            unsigned burst = 0;
            while (a->sent < total && burst++ < 64) {
                rtp_send_one(a);
            }
        }
        a->rtp_sending = 0;
        a->rtp_send_end = t; /* the drain starts now */
    }
    if (a->rtp_sending) {
        if (a->spec.pps != 0) {
            /* as many as due by now (no drift), at most a few per tick */
            uint64_t due = (uint64_t)t * a->spec.pps / 1000u + 1;
            unsigned burst = 0;
            while (a->sent < due && burst++ < 64) {
                rtp_send_one(a);
            }
        } else if (sys_now() - a->rtp_last_rx >= RTP_FLOOD_STALL_MS) {
            /* nothing came back for a while: what is outstanding is lost */
            a->rtp_lost_flood += rtp_outstanding(a);
            a->rtp_last_rx = sys_now();
            while (rtp_outstanding(a) < a->spec.window) {
                rtp_send_one(a);
            }
        }
        return;
    }
    if (t - a->rtp_send_end >= RTP_DRAIN_MS || a->received == a->sent) {
        if (a->spec.pps != 0) {
            /* paced (real-time) stream: every packet must come back */
            finish(a, a->received == a->sent && a->rtp_send_errors == 0 && a->rtp_bad == 0,
                   "not every packet came back");
        } else {
            /* flood: a capacity measurement; losses (the tunnel's or the
             * tcpip mailbox's back-pressure) are reported, not failures */
            finish(a, a->received > 0 && a->rtp_bad == 0, "nothing came back");
        }
    }
}

/* ---- RTP over TCP (RFC 4571), RTCP muxed (RFC 5761) -------------------------
 *
 * W.3's media over TCP: each packet framed by its 16-bit length, RTP and
 * RTCP on one connection (an RTCP sender report every LWAPP_RTCP_EVERY
 * RTP packets).  What comes back is deframed (tse_rfc4571_decode()) and
 * sorted (tse_rfc4571_classify()); the echo must return every packet. */

#define LWAPP_RTCP_EVERY 50
#define LWAPP_RTCP_SR_LEN 28

/* An RTCP sender report (RFC 3550 6.4.1, no report blocks). */
static void rtcp_build(const lwapp *a, u8_t *b)
{
    u32_t ts = a->sent * 160u, n = a->sent, oct = a->sent * (LWAPP_RTP_PAYLOAD - 12u);
    memset(b, 0, LWAPP_RTCP_SR_LEN);
    b[0] = 0x80;                      /* V=2, RC=0 */
    b[1] = 200;                       /* SR */
    b[3] = LWAPP_RTCP_SR_LEN / 4 - 1; /* length in words - 1 */
    b[4] = 0x74; b[5] = 0x73; b[6] = 0x65; b[7] = 0x21; /* SSRC "tse!" */
    /* NTP timestamp (8 bytes) left 0: no wall clock here */
    b[16] = (u8_t)(ts >> 24); b[17] = (u8_t)(ts >> 16); b[18] = (u8_t)(ts >> 8); b[19] = (u8_t)ts;
    b[20] = (u8_t)(n >> 24); b[21] = (u8_t)(n >> 16); b[22] = (u8_t)(n >> 8); b[23] = (u8_t)n;
    b[24] = (u8_t)(oct >> 24); b[25] = (u8_t)(oct >> 16); b[26] = (u8_t)(oct >> 8); b[27] = (u8_t)oct;
}

/* Write one framed packet; 0, or -1 when TCP has no room now (retried
 * at the next tick: nothing is lost, a->sent does not move). */
static int rtp_tcp_frame(lwapp *a, const u8_t *pkt, size_t len)
{
    u8_t buf[2 + LWAPP_RTP_PAYLOAD];
    size_t n = 0;
    if (a->tcp == NULL || a->t_connected == 0 ||
        tse_rfc4571_encode(buf, sizeof(buf), pkt, len, &n) != TSE_OK ||
        tcp_sndbuf(a->tcp) < n || tcp_write(a->tcp, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        return -1;
    }
    return 0;
}

static int rtp_tcp_send_one(lwapp *a)
{
    u8_t b[LWAPP_RTP_PAYLOAD];
    if (a->rtcp_sent * LWAPP_RTCP_EVERY < a->sent) {
        /* the report of the last LWAPP_RTCP_EVERY packets first */
        u8_t r[LWAPP_RTCP_SR_LEN];
        rtcp_build(a, r);
        if (rtp_tcp_frame(a, r, sizeof(r)) != 0) {
            a->tcp_stalls++;
            return -1;
        }
        a->rtcp_sent++;
    }
    rtp_build(a, b);
    if (rtp_tcp_frame(a, b, sizeof(b)) != 0) {
        a->tcp_stalls++;
        return -1;
    }
    a->sent++;
    (void)tcp_output(a->tcp);
    return 0;
}

static err_t rtp_tcp_recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    lwapp *a = (lwapp *)arg;
    struct pbuf *q;
    (void)err;
    if (a == NULL || a->done) {
        if (p != NULL) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (p == NULL) { /* the echo closed */
        if (tse_rfc4571_decoder_at_eof(&a->r4571) != TSE_OK) {
            a->rtp_bad++;
        }
        finish(a, 0, "the echo closed the connection");
        return ERR_OK;
    }
    for (q = p; q != NULL; q = q->next) {
        const u8_t *in = (const u8_t *)q->payload;
        size_t left = q->len;
        int guard;
        for (guard = 0; guard < 4096 && left > 0; guard++) {
            const uint8_t *pkt = NULL;
            size_t plen = 0, used = 0;
            int rc = tse_rfc4571_decode(&a->r4571, in, left, &used, &pkt, &plen);
            in += used;
            left -= used;
            if (rc == TSE_ERR_WOULD_BLOCK) {
                break;
            }
            if (rc != TSE_OK) {
                a->rtp_bad++;
                tcp_recved(pcb, p->tot_len);
                pbuf_free(p);
                finish(a, 0, "bad RFC 4571 framing from the echo");
                return ERR_OK;
            }
            switch (tse_rfc4571_classify(pkt, plen)) {
            case TSE_DEMUX_RTP:
                rtp_check(a, pkt, plen);
                break;
            case TSE_DEMUX_RTCP:
                if (plen == LWAPP_RTCP_SR_LEN && pkt[1] == 200) {
                    a->rtcp_back++;
                } else {
                    a->rtp_bad++;
                }
                break;
            case TSE_DEMUX_NULL:
                break;
            default:
                a->rtp_bad++;
                break;
            }
        }
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

/* Connected (tcp_connected_cb): the stream's clock starts now. */
static void rtp_tcp_begin(lwapp *a)
{
    a->rtp_sending = 1;
    a->rtp_t0 = a->t_connected - a->t_start;
    a->rtp_send_end = a->rtp_t0 + a->spec.seconds * 1000u;
    a->rtp_last_rx = sys_now();
    (void)rtp_tcp_send_one(a);
}

static int rtp_tcp_start(lwapp *a)
{
    if (a->spec.seconds == 0 || a->spec.pps == 0) {
        snprintf(a->error, sizeof(a->error), "rtp-tcp: seconds > 0 and pps > 0 needed");
        return -1;
    }
    (void)tse_rfc4571_decoder_init(&a->r4571, a->r4571_buf, sizeof(a->r4571_buf));
    return tcp_open(a, rtp_tcp_recv_cb, NULL);
}

static void rtp_tcp_tick(lwapp *a)
{
    u32_t t = elapsed(a);
    uint64_t total = (uint64_t)a->spec.seconds * a->spec.pps;
    if (a->t_connected == 0) {
        if (a->spec.timeout_ms != 0 && t >= a->spec.timeout_ms) {
            finish(a, 0, "TCP connect timed out");
        }
        return;
    }
    if (a->rtp_sending) {
        /* as many as due by now (no drift), at most a few per tick; all
         * of them by the end, however late the ticks */
        uint64_t due = (uint64_t)(t - a->rtp_t0) * a->spec.pps / 1000u + 1;
        unsigned burst = 0;
        if (due > total || t >= a->rtp_send_end) {
            due = total;
        }
        while (a->sent < due && burst++ < 64 && rtp_tcp_send_one(a) == 0) {
        }
        if (a->sent >= total) {
            a->rtp_sending = 0;
            a->rtp_send_end = t; /* the drain starts now */
        }
        return;
    }
    if (a->received == a->sent && a->rtcp_back == a->rtcp_sent) {
        finish(a, a->rtp_bad == 0 && a->rtp_dups == 0, "bad or duplicated packets came back");
    } else if (t - a->rtp_send_end >= RTP_DRAIN_MS * 4) {
        /* TCP loses nothing: anything missing now is the echo's fault */
        finish(a, 0, "not every packet came back");
    }
}

/* ---- common -------------------------------------------------------------- */

u32_t lwapp_poll(lwapp *a)
{
    if (a->done) {
        return LWAPP_POLL_DONE;
    }
    if (a->start_failed) {
        finish(a, 0, NULL);
        return LWAPP_POLL_DONE;
    }
    switch (a->spec.kind) {
    case LWAPP_PING: ping_tick(a); break;
    case LWAPP_SIP: sip_tick(a); break;
    case LWAPP_TCP_SEND: tcp_tick(a); break;
    case LWAPP_RTP: rtp_tick(a); break;
    case LWAPP_RTP_TCP: rtp_tcp_tick(a); break;
    default: finish(a, 0, "unknown application"); break;
    }
    if (a->done) {
        return LWAPP_POLL_DONE;
    }
    if (a->tcp_pump_pending) {
        s32_t d = (s32_t)(a->tcp_retry_at - sys_now());
        return d <= 0 ? 0 : (u32_t)d < TICK_MS ? (u32_t)d : TICK_MS;
    }
    if (a->spec.kind == LWAPP_PING) {
        return ping_next(a);
    }
    return TICK_MS;
}

int lwapp_start(lwapp *a, const lwapp_spec *spec, lwapp_done_fn on_done, void *user)
{
    int rc;
    memset(a, 0, sizeof(*a));
    a->spec = *spec;
    a->on_done = on_done;
    a->user = user;
    a->t_start = sys_now();
    switch (spec->kind) {
    case LWAPP_PING: rc = ping_start(a); break;
    case LWAPP_SIP: rc = sip_start(a); break;
    case LWAPP_TCP_SEND: rc = tcp_send_start(a); break;
    case LWAPP_RTP: rc = rtp_start(a); break;
    case LWAPP_RTP_TCP: rc = rtp_tcp_start(a); break;
    default:
        snprintf(a->error, sizeof(a->error), "no application given");
        rc = -1;
        break;
    }
    if (rc != 0) {
        if (a->error[0] == 0) {
            snprintf(a->error, sizeof(a->error), "start failed");
        }
        a->start_failed = 1; /* lwapp_poll() finishes it */
        return -1;
    }
    return 0;
}

void lwapp_link_up(lwapp *a)
{
    if (a->done || a->tcp == NULL || a->tcp->unacked == NULL) {
        return;
    }
    /* What was in flight when the tunnel went down is lost; TCP's
     * retransmission timer has backed off meanwhile.  Retransmit now (the
     * first acknowledgement resets the back-off). */
    tcp_rexmit_rto(a->tcp);
    a->tcp_relinks++;
}

void lwapp_abort(lwapp *a)
{
    finish(a, 0, "aborted");
}

void lwapp_sha256_hex(const lwapp *a, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    int i;
    for (i = 0; i < 32; i++) {
        out[2 * i] = hx[a->sha256[i] >> 4];
        out[2 * i + 1] = hx[a->sha256[i] & 15];
    }
    out[64] = 0;
}

/* JSON string body: printable ASCII only, others escaped as \u00XX */
static void json_str(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in != 0 && o + 7 < n; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
}

int lwapp_format(const lwapp *a, int json, char *buf, size_t size)
{
    char err[200], ip[48], hex[65], reply[2 * LWAPP_TCP_REPLY_MAX];
    u32_t ms = a->t_end - a->t_start;
    json_str(a->error, err, sizeof(err));
    snprintf(ip, sizeof(ip), "%s", ipaddr_ntoa(&a->spec.addr));
    switch (a->spec.kind) {
    case LWAPP_PING:
        if (json) {
            return snprintf(buf, size,
                            "{\"event\":\"ping_done\",\"target\":\"%s\",\"sent\":%u,\"received\":%u,"
                            "\"rtt_min_ms\":%lu,\"rtt_avg_ms\":%lu,\"rtt_max_ms\":%lu,\"ok\":%s%s%s%s}",
                            ip, a->sent, a->received, (unsigned long)a->rtt_min,
                            (unsigned long)(a->received ? a->rtt_sum / a->received : 0),
                            (unsigned long)a->rtt_max, a->ok ? "true" : "false",
                            a->ok ? "" : ",\"error\":\"", a->ok ? "" : err, a->ok ? "" : "\"");
        }
        return snprintf(buf, size, "ping %s: %u sent, %u received, rtt min/avg/max %lu/%lu/%lu ms%s%s",
                        ip, a->sent, a->received, (unsigned long)a->rtt_min,
                        (unsigned long)(a->received ? a->rtt_sum / a->received : 0),
                        (unsigned long)a->rtt_max, a->ok ? "" : " - FAILED: ", a->ok ? "" : a->error);
    case LWAPP_SIP:
        json_str(a->spec.sip_uri, reply, sizeof(reply));
        if (json) {
            return snprintf(buf, size,
                            "{\"event\":\"sip_reply\",\"uri\":\"%s\",\"transport\":\"%s\",\"status\":%d,"
                            "\"rtt_ms\":%lu,\"retransmits\":%u,\"ok\":%s%s%s%s}",
                            reply, a->spec.sip_tcp ? "tcp" : "udp", a->sip_status,
                            (unsigned long)a->sip_rtt_ms, a->sip_retransmits, a->ok ? "true" : "false",
                            a->ok ? "" : ",\"error\":\"", a->ok ? "" : err, a->ok ? "" : "\"");
        }
        return snprintf(buf, size, "SIP OPTIONS %s over %s: status %d after %lu ms (%u retransmissions)%s%s",
                        a->spec.sip_uri, a->spec.sip_tcp ? "TCP" : "UDP", a->sip_status,
                        (unsigned long)a->sip_rtt_ms, a->sip_retransmits,
                        a->ok ? "" : " - FAILED: ", a->ok ? "" : a->error);
    case LWAPP_TCP_SEND: {
        u32_t tx_ms = a->t_acked > a->t_connected ? a->t_acked - a->t_connected : 1;
        double mbps = a->tcp_acked >= a->spec.bytes ? (double)a->spec.bytes * 8.0 / 1000.0 / (double)tx_ms : 0.0;
        size_t rl = a->reply_len;
        char r2[LWAPP_TCP_REPLY_MAX + 1];
        memcpy(r2, a->reply, rl);
        while (rl > 0 && (r2[rl - 1] == '\n' || r2[rl - 1] == '\r' || r2[rl - 1] == ' ')) rl--;
        r2[rl] = 0;
        json_str(r2, reply, sizeof(reply));
        if (a->tcp_acked >= a->spec.bytes) {
            lwapp_sha256_hex(a, hex);
        } else {
            strcpy(hex, "");
        }
        if (json) {
            return snprintf(buf, size,
                            "{\"event\":\"tcp_done\",\"target\":\"%s:%u\",\"bytes\":%llu,\"acked\":%llu,"
                            "\"sha256\":\"%s\",\"seconds\":%.3f,\"mbps\":%.2f,\"stalls\":%u,\"rexmit_on_resume\":%u,"
                            "\"reply\":\"%s\",\"ok\":%s%s%s%s}",
                            ip, (unsigned)a->spec.port, (unsigned long long)a->spec.bytes,
                            (unsigned long long)a->tcp_acked, hex, (double)tx_ms / 1000.0, mbps,
                            a->tcp_stalls, a->tcp_relinks, reply, a->ok ? "true" : "false",
                            a->ok ? "" : ",\"error\":\"", a->ok ? "" : err, a->ok ? "" : "\"");
        }
        return snprintf(buf, size,
                        "TCP %s:%u: %llu of %llu bytes acknowledged in %.3f s = %.2f Mbit/s, sha256 %s%s%s%s%s",
                        ip, (unsigned)a->spec.port, (unsigned long long)a->tcp_acked,
                        (unsigned long long)a->spec.bytes, (double)tx_ms / 1000.0, mbps, hex,
                        rl ? ", receiver said: " : "", rl ? reply : "",
                        a->ok ? "" : " - FAILED: ", a->ok ? "" : a->error);
    }
    case LWAPP_RTP: {
        unsigned lost = a->sent - a->received;
        double secs = a->spec.seconds ? (double)a->spec.seconds : 1.0;
        if (json) {
            return snprintf(buf, size,
                            "{\"event\":\"rtp_done\",\"target\":\"%s:%u\",\"payload\":%d,\"pps_asked\":%u,"
                            "\"seconds\":%u,\"sent\":%u,\"received\":%u,\"lost\":%u,\"duplicates\":%u,"
                            "\"bad\":%u,\"send_errors\":%u,\"pps_back\":%.1f,\"ok\":%s%s%s%s}",
                            ip, (unsigned)a->spec.port, LWAPP_RTP_PAYLOAD, a->spec.pps, a->spec.seconds,
                            a->sent, a->received, lost, a->rtp_dups, a->rtp_bad, a->rtp_send_errors,
                            (double)a->received / secs, a->ok ? "true" : "false",
                            a->ok ? "" : ",\"error\":\"", a->ok ? "" : err, a->ok ? "" : "\"");
        }
        return snprintf(buf, size,
                        "RTP-like stream to %s:%u (%d-byte payloads, %u/s, %u s): %u sent, %u back, %u lost, "
                        "%u duplicates, %u bad, %.1f packets/s back, %lu ms%s%s",
                        ip, (unsigned)a->spec.port, LWAPP_RTP_PAYLOAD, a->spec.pps, a->spec.seconds,
                        a->sent, a->received, lost, a->rtp_dups, a->rtp_bad, (double)a->received / secs,
                        (unsigned long)ms, a->ok ? "" : " - FAILED: ", a->ok ? "" : a->error);
    }
    case LWAPP_RTP_TCP: {
        unsigned lost = a->sent - a->received;
        if (json) {
            return snprintf(buf, size,
                            "{\"event\":\"rtp_tcp_done\",\"target\":\"%s:%u\",\"framing\":\"rfc4571\","
                            "\"payload\":%d,\"pps_asked\":%u,\"seconds\":%u,\"sent\":%u,\"received\":%u,"
                            "\"lost\":%u,\"rtcp_sent\":%u,\"rtcp_back\":%u,\"duplicates\":%u,\"bad\":%u,"
                            "\"stalls\":%u,\"ok\":%s%s%s%s}",
                            ip, (unsigned)a->spec.port, LWAPP_RTP_PAYLOAD, a->spec.pps, a->spec.seconds,
                            a->sent, a->received, lost, a->rtcp_sent, a->rtcp_back, a->rtp_dups,
                            a->rtp_bad, a->tcp_stalls, a->ok ? "true" : "false",
                            a->ok ? "" : ",\"error\":\"", a->ok ? "" : err, a->ok ? "" : "\"");
        }
        return snprintf(buf, size,
                        "RTP over TCP (RFC 4571, rtcp-mux) to %s:%u (%d-byte payloads, %u/s, %u s): "
                        "%u sent, %u back, %u RTCP sent, %u back, %u duplicates, %u bad, %lu ms%s%s",
                        ip, (unsigned)a->spec.port, LWAPP_RTP_PAYLOAD, a->spec.pps, a->spec.seconds,
                        a->sent, a->received, a->rtcp_sent, a->rtcp_back, a->rtp_dups, a->rtp_bad,
                        (unsigned long)ms, a->ok ? "" : " - FAILED: ", a->ok ? "" : a->error);
    }
    default:
        return snprintf(buf, size, json ? "{\"event\":\"error\",\"error\":\"%s\"}" : "error: %s", err);
    }
}

/* ---- the host loop's sleep ------------------------------------------------ */

/* Whether every lwIP timer pending has nothing to do: the cyclic ones of
 * this configuration (IPv4 and IPv6 reassembly, ND6; 1 s each) work only
 * on fragments being reassembled and on ND6 neighbours, routers and
 * prefixes, and the TCP timer runs only while a PCB is active.  Anything
 * this cannot see (another cyclic timer, no pool statistics, no private
 * headers) answers "busy". */
static int lwip_housekeeping_idle(void)
{
#if NO_SYS && defined(LWAPP_HAVE_TCP_PRIV) && defined(LWAPP_HAVE_ND6_PRIV) && MEMP_STATS && \
    !LWIP_ARP && !LWIP_DHCP && !LWIP_ACD && !LWIP_IGMP && !LWIP_DNS && !LWIP_IPV6_MLD && \
    !LWIP_IPV6_DHCP6
    int i;
    if (tcp_active_pcbs != NULL || tcp_tw_pcbs != NULL) {
        return 0;
    }
#if IP_REASSEMBLY
    if (lwip_stats.memp[MEMP_REASSDATA]->used != 0) {
        return 0;
    }
#endif
#if LWIP_IPV6
#if LWIP_IPV6_REASS
    if (lwip_stats.memp[MEMP_IP6_REASSDATA]->used != 0) {
        return 0;
    }
#endif
    for (i = 0; i < LWIP_ND6_NUM_NEIGHBORS; i++) {
        if (neighbor_cache[i].state != ND6_NO_ENTRY) {
            return 0;
        }
    }
    for (i = 0; i < LWIP_ND6_NUM_ROUTERS; i++) {
        if (default_router_list[i].neighbor_entry != NULL) {
            return 0;
        }
    }
    for (i = 0; i < LWIP_ND6_NUM_PREFIXES; i++) {
        if (prefix_list[i].netif != NULL) {
            return 0;
        }
    }
#endif
    return 1;
#else
    return 0;
#endif
}

u32_t lwapp_lwip_sleeptime(void)
{
    u32_t ms = sys_timeouts_sleeptime();
    if (ms != 0 && lwip_housekeeping_idle()) {
        /* the timers run late, once, when the host next calls
         * sys_check_timeouts(); lwIP restarts a late cyclic timer from
         * then rather than catching up.  An hour bounds the lateness well
         * inside the half range of sys_now() that lwIP's ordering needs. */
        return LWAPP_LWIP_IDLE_MS;
    }
    return ms;
}
