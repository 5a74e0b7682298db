/*
 * tscf-probe: a scripted TSE-side test client for tscf-server.
 *
 * Speaks the TSCF protocol directly (mbed TLS + libtse's CM codec and
 * deframer, blocking sockets with receive timeouts) so each scenario can
 * send exactly the bytes it wants, including wrong ones.
 *
 *   tscf-probe --server HOST:PORT --ca FILE [--sni NAME] SCENARIO [ARG]
 *
 * Scenarios (exit 0 = pass, 1 = fail with a message on stderr):
 *   config        Configuration_Request -> Response_Code 0, address, mask
 *   connect       the same after a CONNECT head sent to the TSCF itself
 *   keepalive     Keep_Alive -> Keep_Alive_Response, same TSID and sequence
 *   release       Release -> Response_Code 0, then the server closes
 *   resume        tunnel, TCP dropped, new connection with the TSID ->
 *                 same TSID and address; a fresh tunnel gets another one
 *   unknown-tsid  Configuration_Request with an unknown TSID -> code 1
 *   max-tunnels N N tunnels succeed, the next gets code 3 and a close
 *   version       CM_Version 2 Configuration_Request -> code 5
 *   malformed     a CM with a bad TLV length -> the server closes
 *   wrong-tsid    Keep_Alive with another TSID -> the server closes (A.1.4)
 *   echo          ICMP echo to .1 and to 192.0.2.1, UDP echo to port 7;
 *                 a spoofed source is not answered
 *   forward       two tunnels: a packet from one reaches the other
 *   ipv6 ADDR     inner IPv6 address requested and given; ICMPv6 echo to
 *                 ADDR (the server's ::1 in --pool6) answered
 *   ping ADDR     one ICMP echo to ADDR answered
 *   flood N       N pings without reading, then a Keep_Alive: answered
 *   silent S      say nothing after configuring: closed within S seconds
 *   load N        open N tunnels, print "ready", hold until stdin closes
 */
#include "tse/cm.h"
#include "tse/error.h"
#include "tse/framing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/version.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#define TIMEOUT_MS 3000

static const char *g_host, *g_port, *g_sni = "tscf.test";
static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;
static mbedtls_ssl_config g_conf;
static mbedtls_x509_crt g_ca;
static int g_verbose;
static int g_want_v6; /* ask for an inner IPv6 address too */
static uint16_t g_req_ka; /* Keep_Alive_Interval to request (0 = none) */

struct pc {
    int fd;
    mbedtls_ssl_context ssl;
    tse_deframer df;
    uint8_t dfbuf[8192];
    uint8_t in[16448];
    size_t in_off, in_len;
    int eof;
    uint32_t seq;
};

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int fail(const char *fmt, ...)
{
    va_list ap;
    fputs("FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static void note(const char *fmt, ...)
{
    va_list ap;
    if (!g_verbose)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int bio_send(void *ctx, const unsigned char *b, size_t n)
{
    struct pc *p = ctx;
    ssize_t r = send(p->fd, b, n, MSG_NOSIGNAL);
    if (r >= 0)
        return (int)r;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? MBEDTLS_ERR_SSL_TIMEOUT
                                                     : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *b, size_t n)
{
    struct pc *p = ctx;
    ssize_t r = recv(p->fd, b, n, 0);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_TIMEOUT;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
}

static int tcp_connect(void)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1;
    struct timeval tv;
    int one = 1;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(g_host, g_port, &hints, &res) != 0)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    tv.tv_sec = TIMEOUT_MS / 1000;
    tv.tv_usec = (TIMEOUT_MS % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void pc_free(struct pc *p)
{
    if (!p)
        return;
    mbedtls_ssl_free(&p->ssl);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

/* Connect and handshake; with @p via_connect, send a CONNECT head first. */
static struct pc *pc_open(int via_connect)
{
    struct pc *p = calloc(1, sizeof *p);
    int ret;
    if (!p)
        return NULL;
    mbedtls_ssl_init(&p->ssl);
    p->fd = tcp_connect();
    if (p->fd < 0) {
        fail("connect to %s:%s: %s", g_host, g_port, strerror(errno));
        pc_free(p);
        return NULL;
    }
    if (via_connect) {
        char req[256], resp[256];
        size_t got = 0;
        int n = snprintf(req, sizeof req,
                         "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: tscf-probe\r\n\r\n",
                         g_host, g_port, g_host, g_port);
        if (send(p->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
            fail("send CONNECT");
            pc_free(p);
            return NULL;
        }
        /* read exactly up to the blank line: anything after is TLS */
        while (got < sizeof resp - 1) {
            if (recv(p->fd, resp + got, 1, 0) != 1)
                break;
            got++;
            resp[got] = 0;
            if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
                break;
        }
        resp[got] = 0;
        if (strncmp(resp, "HTTP/1.1 200", 12) != 0) {
            fail("CONNECT answered '%s'", resp);
            pc_free(p);
            return NULL;
        }
        note("CONNECT answered 200");
    }
    if ((ret = mbedtls_ssl_setup(&p->ssl, &g_conf)) != 0 ||
        (ret = mbedtls_ssl_set_hostname(&p->ssl, g_sni)) != 0) {
        fail("ssl setup -0x%04x", (unsigned)-ret);
        pc_free(p);
        return NULL;
    }
    mbedtls_ssl_set_bio(&p->ssl, p, bio_send, bio_recv, NULL);
    ret = mbedtls_ssl_handshake(&p->ssl);
    if (ret != 0) {
        char e[128] = "";
#if defined(MBEDTLS_ERROR_C)
        mbedtls_strerror(ret, e, sizeof e);
#endif
        fail("handshake: -0x%04x %s", (unsigned)-ret, e);
        pc_free(p);
        return NULL;
    }
    tse_deframer_init(&p->df, TSE_FRAMING_TSCF, p->dfbuf, sizeof p->dfbuf);
    p->seq = 100;
    return p;
}

static int pc_write(struct pc *p, const uint8_t *b, size_t n)
{
    while (n) {
        int r = mbedtls_ssl_write(&p->ssl, b, n);
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Next unit into @p out (copied).  Returns its kind, 0 on timeout, -1 when
 * the server closed (EOF, close_notify, reset). */
static int pc_next(struct pc *p, uint8_t *out, size_t cap, size_t *len)
{
    for (;;) {
        if (p->in_off < p->in_len) {
            size_t used = 0;
            tse_unit u;
            int rc = tse_deframer_feed(&p->df, p->in + p->in_off, p->in_len - p->in_off, &used, &u);
            p->in_off += used;
            if (rc < 0) {
                fail("client deframer: %s", tse_strerror(rc));
                return -2;
            }
            if (rc == 1) {
                if (u.len > cap)
                    return -2;
                memcpy(out, u.data, u.len);
                *len = u.len;
                return u.kind;
            }
        }
        {
            int r = mbedtls_ssl_read(&p->ssl, p->in, sizeof p->in);
            if (r > 0) {
                p->in_off = 0;
                p->in_len = (size_t)r;
                continue;
            }
            if (r == MBEDTLS_ERR_SSL_TIMEOUT)
                return 0;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
            if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
                continue;
#endif
            p->eof = 1;
            return -1;
        }
    }
}

static int send_cm(struct pc *p, const tse_cm *m)
{
    uint8_t b[TSE_CM_MAX_ENCODED];
    size_t n;
    if (tse_cm_encode(m, b, sizeof b, &n) != TSE_OK)
        return -1;
    return pc_write(p, b, n);
}

/* Wait for a CM (skipping packets).  0 ok, 1 timeout/closed. */
static int recv_cm(struct pc *p, tse_cm *m)
{
    uint8_t b[70000];
    size_t n;
    int k, i;
    for (i = 0; i < 100; i++) {
        k = pc_next(p, b, sizeof b, &n);
        if (k <= 0)
            return 1;
        if (k == TSE_UNIT_CM) {
            int rc = tse_cm_decode(m, b, n);
            if (rc != TSE_OK) {
                fail("server sent a malformed CM: %s", tse_strerror(rc));
                return 1;
            }
            return 0;
        }
    }
    return 1;
}

/* Expect the server to close without sending a CM first. */
static int expect_close(struct pc *p)
{
    uint8_t b[70000];
    size_t n;
    int i;
    for (i = 0; i < 100; i++) {
        int k = pc_next(p, b, sizeof b, &n);
        if (k == -1)
            return 0;
        if (k == 0)
            return fail("server did not close the connection within %d ms", TIMEOUT_MS);
        if (k == TSE_UNIT_CM)
            return fail("unexpected CM before close (type %u)", b[1]);
    }
    return fail("server did not close");
}

struct tun_info {
    uint64_t tsid;
    uint8_t addr6[16];
    int has_v6;
    uint8_t addr[4];
    uint8_t mask[4];
    uint16_t keepalive;
    uint16_t rc;
};

/* Configuration_Request with @p tsid; fills @p ti.  Returns 0 when a
 * Configuration_Response came (any code), 1 otherwise. */
static int configure(struct pc *p, uint64_t tsid, const uint8_t *want, struct tun_info *ti)
{
    tse_cm m, r;
    memset(&m, 0, sizeof m);
    m.type = TSE_CM_CONFIG_REQUEST;
    m.tsid = tsid;
    m.seq = ++p->seq;
    m.present = TSE_CM_HAS_IPV4_ADDRESS | TSE_CM_HAS_IPV4_NETMASK;
    if (want)
        memcpy(m.ipv4_addr, want, 4);
    memset(m.ipv4_mask, 0xFF, 4);
    if (g_req_ka) {
        m.present |= TSE_CM_HAS_KEEPALIVE;
        m.keepalive_s = g_req_ka;
    }
    if (g_want_v6) {
        m.present |= TSE_CM_HAS_IPV6_ADDRESS | TSE_CM_HAS_IPV6_NETMASK;
        memset(m.ipv6_mask, 0xFF, 16);
    }
    if (send_cm(p, &m) < 0)
        return fail("send Configuration_Request");
    if (recv_cm(p, &r))
        return fail("no Configuration_Response");
    if (r.type != TSE_CM_CONFIG_RESPONSE || r.seq != m.seq)
        return fail("got %s seq %u, want Configuration_Response seq %u", tse_cm_type_name(r.type),
                    (unsigned)r.seq, (unsigned)m.seq);
    memset(ti, 0, sizeof *ti);
    ti->rc = r.response_code;
    ti->tsid = r.tsid;
    if (r.response_code == 0) {
        if (!(r.present & TSE_CM_HAS_IPV4_ADDRESS) || !(r.present & TSE_CM_HAS_IPV4_NETMASK))
            return fail("success without address/netmask");
        if (r.tsid == TSE_CM_TSID_NONE)
            return fail("success without a TSID");
        memcpy(ti->addr, r.ipv4_addr, 4);
        memcpy(ti->mask, r.ipv4_mask, 4);
        ti->keepalive = r.keepalive_s;
        if (r.present & TSE_CM_HAS_IPV6_ADDRESS) {
            ti->has_v6 = 1;
            memcpy(ti->addr6, r.ipv6_addr, 16);
        }
    }
    return 0;
}

static int configure_ok(struct pc *p, struct tun_info *ti)
{
    if (configure(p, TSE_CM_TSID_NONE, NULL, ti))
        return 1;
    if (ti->rc != 0)
        return fail("Response_Code %u, want 0", ti->rc);
    note("configured tsid=%016llx addr=%u.%u.%u.%u mask=%u.%u.%u.%u keepalive=%u",
         (unsigned long long)ti->tsid, ti->addr[0], ti->addr[1], ti->addr[2], ti->addr[3],
         ti->mask[0], ti->mask[1], ti->mask[2], ti->mask[3], ti->keepalive);
    return 0;
}

/* ---- packets ------------------------------------------------------------ */

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)(p[n - 1] << 8);
    return s;
}

static uint16_t csum_fin(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)~s;
}

static size_t build_ipv4(uint8_t *b, const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
                         const uint8_t *l4, size_t l4len)
{
    size_t n = 20 + l4len;
    uint16_t ck;
    memset(b, 0, 20);
    b[0] = 0x45;
    b[2] = (uint8_t)(n >> 8);
    b[3] = (uint8_t)n;
    b[4] = 0x12;
    b[5] = 0x34;
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    ck = csum_fin(csum_add(0, b, 20));
    b[10] = (uint8_t)(ck >> 8);
    b[11] = (uint8_t)ck;
    memcpy(b + 20, l4, l4len);
    return n;
}

static size_t build_ping(uint8_t *b, const uint8_t src[4], const uint8_t dst[4], uint16_t seq)
{
    uint8_t icmp[8 + 32];
    uint16_t ck;
    size_t i;
    memset(icmp, 0, sizeof icmp);
    icmp[0] = 8;
    icmp[4] = 0xAB;
    icmp[5] = 0xCD;
    icmp[6] = (uint8_t)(seq >> 8);
    icmp[7] = (uint8_t)seq;
    for (i = 8; i < sizeof icmp; i++)
        icmp[i] = (uint8_t)i;
    ck = csum_fin(csum_add(0, icmp, sizeof icmp));
    icmp[2] = (uint8_t)(ck >> 8);
    icmp[3] = (uint8_t)ck;
    return build_ipv4(b, src, dst, 1, icmp, sizeof icmp);
}

static size_t build_udp(uint8_t *b, const uint8_t src[4], const uint8_t dst[4], uint16_t sport,
                        uint16_t dport, const char *payload)
{
    uint8_t u[8 + 64];
    size_t pl = strlen(payload), n = 8 + pl;
    uint32_t s;
    uint16_t ck;
    memset(u, 0, 8);
    u[0] = (uint8_t)(sport >> 8);
    u[1] = (uint8_t)sport;
    u[2] = (uint8_t)(dport >> 8);
    u[3] = (uint8_t)dport;
    u[4] = (uint8_t)(n >> 8);
    u[5] = (uint8_t)n;
    memcpy(u + 8, payload, pl);
    s = csum_add(0, src, 4);
    s = csum_add(s, dst, 4);
    s += 17 + (uint32_t)n;
    s = csum_add(s, u, n);
    ck = csum_fin(s);
    if (!ck)
        ck = 0xFFFF;
    u[6] = (uint8_t)(ck >> 8);
    u[7] = (uint8_t)ck;
    return build_ipv4(b, src, dst, 17, u, n);
}

/* Wait for an IPv4 packet.  0 = got one, 1 = none. */
static int recv_pkt(struct pc *p, uint8_t *b, size_t *n)
{
    int i;
    for (i = 0; i < 100; i++) {
        int k = pc_next(p, b, 70000, n);
        if (k <= 0)
            return 1;
        if (k == TSE_UNIT_IPV4)
            return 0;
    }
    return 1;
}

static int check_echo_reply(const uint8_t *b, size_t n, const uint8_t me[4], const uint8_t peer[4],
                            uint16_t seq)
{
    if (n != 60)
        return fail("echo reply length %zu, want 60", n);
    if (csum_fin(csum_add(0, b, 20)) != 0)
        return fail("echo reply: bad IPv4 header checksum");
    if (csum_fin(csum_add(0, b + 20, n - 20)) != 0)
        return fail("echo reply: bad ICMP checksum");
    if (b[9] != 1 || b[20] != 0)
        return fail("not an ICMP echo reply (proto %u type %u)", b[9], b[20]);
    if (memcmp(b + 12, peer, 4) || memcmp(b + 16, me, 4))
        return fail("echo reply addresses wrong");
    if ((b[26] << 8 | b[27]) != seq)
        return fail("echo reply sequence %u, want %u", b[26] << 8 | b[27], seq);
    return 0;
}

/* ---- scenarios ----------------------------------------------------------- */

static int sc_config(int via_connect)
{
    struct pc *p = pc_open(via_connect);
    struct tun_info ti;
    int rc;
    if (!p)
        return 1;
    rc = configure_ok(p, &ti);
    if (!rc && (ti.addr[0] != 198 || ti.addr[1] != 18 || ti.addr[3] < 2))
        rc = fail("address %u.%u.%u.%u not from the default pool", ti.addr[0], ti.addr[1],
                  ti.addr[2], ti.addr[3]);
    if (!rc && memcmp(ti.mask, "\xff\xff\xff\x00", 4) != 0)
        rc = fail("netmask is not the pool's /24");
    if (!rc && ti.keepalive == 0)
        rc = fail("no Keep_Alive_Interval");
    if (!rc)
        printf("configured %u.%u.%u.%u keepalive=%u\n", ti.addr[0], ti.addr[1], ti.addr[2],
               ti.addr[3], ti.keepalive);
    pc_free(p);
    return rc;
}

static int sc_keepalive(void)
{
    struct pc *p;
    struct tun_info ti;
    tse_cm m, r;
    int rc = 1;
    /* a shorter interval than the server's is granted (policy: the smaller) */
    g_req_ka = 7;
    p = pc_open(0);
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    if (ti.keepalive != 7) {
        fail("requested Keep_Alive_Interval 7, got %u", ti.keepalive);
        goto out;
    }
    memset(&m, 0, sizeof m);
    m.type = TSE_CM_KEEPALIVE;
    m.tsid = ti.tsid;
    m.seq = 0xDEADBEEF;
    if (send_cm(p, &m) < 0 || recv_cm(p, &r)) {
        fail("no Keep_Alive_Response");
        goto out;
    }
    if (r.type != TSE_CM_KEEPALIVE_RESPONSE || r.seq != m.seq || r.tsid != ti.tsid) {
        fail("got %s seq %x tsid %016llx", tse_cm_type_name(r.type), (unsigned)r.seq,
             (unsigned long long)r.tsid);
        goto out;
    }
    rc = 0;
out:
    pc_free(p);
    return rc;
}

static int sc_release(void)
{
    struct pc *p = pc_open(0);
    struct tun_info ti, t2;
    tse_cm m, r;
    int rc = 1;
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    memset(&m, 0, sizeof m);
    m.type = TSE_CM_RELEASE_REQUEST;
    m.tsid = ti.tsid;
    m.seq = 77;
    if (send_cm(p, &m) < 0 || recv_cm(p, &r)) {
        fail("no Configuration_Release_Response");
        goto out;
    }
    if (r.type != TSE_CM_RELEASE_RESPONSE || r.seq != 77 || r.tsid != ti.tsid ||
        !(r.present & TSE_CM_HAS_RESPONSE_CODE) || r.response_code != 0) {
        fail("bad release response: %s seq %u rc %u", tse_cm_type_name(r.type), (unsigned)r.seq,
             r.response_code);
        goto out;
    }
    if (expect_close(p))
        goto out;
    pc_free(p);
    /* released means gone: resuming it must fail with code 1 */
    p = pc_open(0);
    if (!p)
        return 1;
    if (configure(p, ti.tsid, NULL, &t2))
        goto out;
    if (t2.rc != TSE_RC_INVALID_TSID) {
        fail("resume after release got Response_Code %u, want 1", t2.rc);
        goto out;
    }
    rc = 0;
out:
    pc_free(p);
    return rc;
}

static int sc_resume(void)
{
    struct pc *p = pc_open(0), *q;
    struct tun_info a, b, c;
    int rc = 1;
    if (!p)
        return 1;
    if (configure_ok(p, &a)) {
        pc_free(p);
        return 1;
    }
    /* drop the TCP connection without close_notify: a cut, not a goodbye */
    close(p->fd);
    p->fd = -1;
    pc_free(p);
    q = pc_open(1); /* and come back through a CONNECT head, for variety */
    if (!q)
        return 1;
    if (configure(q, a.tsid, NULL, &b))
        goto out;
    if (b.rc != 0 || b.tsid != a.tsid || memcmp(a.addr, b.addr, 4) != 0) {
        fail("resume: rc %u tsid %016llx addr %u.%u.%u.%u (was %016llx %u.%u.%u.%u)", b.rc,
             (unsigned long long)b.tsid, b.addr[0], b.addr[1], b.addr[2], b.addr[3],
             (unsigned long long)a.tsid, a.addr[0], a.addr[1], a.addr[2], a.addr[3]);
        goto out;
    }
    /* takeover: a second connection resumes the same tunnel; the first is closed */
    p = pc_open(0);
    if (!p)
        goto out;
    if (configure(p, a.tsid, NULL, &c) || c.rc != 0 || memcmp(c.addr, a.addr, 4) != 0) {
        fail("takeover resume failed");
        pc_free(p);
        goto out;
    }
    if (expect_close(q)) {
        pc_free(p);
        goto out;
    }
    pc_free(p);
    printf("resumed %016llx with %u.%u.%u.%u\n", (unsigned long long)a.tsid, a.addr[0],
           a.addr[1], a.addr[2], a.addr[3]);
    rc = 0;
out:
    pc_free(q);
    return rc;
}

static int sc_unknown_tsid(void)
{
    struct pc *p = pc_open(0);
    struct tun_info ti;
    int rc = 1;
    if (!p)
        return 1;
    if (configure(p, UINT64_C(0x0123456789ABCDEF), NULL, &ti))
        goto out;
    if (ti.rc != TSE_RC_INVALID_TSID) {
        fail("Response_Code %u, want 1", ti.rc);
        goto out;
    }
    /* the connection stays usable for a fresh request */
    if (configure_ok(p, &ti))
        goto out;
    rc = 0;
out:
    pc_free(p);
    return rc;
}

static int sc_max_tunnels(int n)
{
    struct pc *ps[64];
    struct tun_info ti;
    struct pc *x;
    int i, rc = 1;
    if (n < 0 || n > 64)
        return fail("bad N");
    memset(ps, 0, sizeof ps);
    for (i = 0; i < n; i++) {
        ps[i] = pc_open(0);
        if (!ps[i] || configure_ok(ps[i], &ti))
            goto out;
    }
    x = pc_open(0);
    if (!x)
        goto out;
    if (configure(x, TSE_CM_TSID_NONE, NULL, &ti) == 0 && ti.rc == TSE_RC_NO_RESOURCES &&
        expect_close(x) == 0)
        rc = 0;
    else if (ti.rc != TSE_RC_NO_RESOURCES)
        fail("tunnel %d: Response_Code %u, want 3", n + 1, ti.rc);
    pc_free(x);
out:
    for (i = 0; i < n; i++)
        pc_free(ps[i]);
    return rc;
}

static int sc_version(void)
{
    struct pc *p = pc_open(0);
    uint8_t b[16];
    tse_cm r;
    int rc = 1;
    if (!p)
        return 1;
    memset(b, 0, sizeof b);
    b[0] = 0x20; /* CM_Version 2 */
    b[1] = TSE_CM_CONFIG_REQUEST;
    memset(b + 4, 0xFF, 8);
    b[15] = 9;
    if (pc_write(p, b, sizeof b) < 0 || recv_cm(p, &r)) {
        fail("no answer to a version 2 request");
        goto out;
    }
    if (r.type != TSE_CM_CONFIG_RESPONSE || r.response_code != TSE_RC_VERSION_NOT_SUPPORTED ||
        r.seq != 9) {
        fail("got %s rc %u seq %u, want code 5", tse_cm_type_name(r.type), r.response_code,
             (unsigned)r.seq);
        goto out;
    }
    rc = expect_close(p);
out:
    pc_free(p);
    return rc;
}

static int sc_malformed(void)
{
    struct pc *p = pc_open(0);
    struct tun_info ti;
    /* Keep_Alive with one Response_Code TLV of length 3 (must be 2) */
    uint8_t b[16 + 5];
    int rc = 1, i;
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    memset(b, 0, sizeof b);
    b[0] = 0x10;
    b[1] = TSE_CM_KEEPALIVE;
    b[3] = 1;
    for (i = 0; i < 8; i++)
        b[4 + i] = (uint8_t)(ti.tsid >> (56 - 8 * i));
    b[15] = 1;
    b[16] = TSE_TLV_RESPONSE_CODE;
    b[17] = 3;
    if (pc_write(p, b, sizeof b) < 0)
        goto out;
    rc = expect_close(p);
out:
    pc_free(p);
    return rc;
}

static int sc_wrong_tsid(void)
{
    struct pc *p = pc_open(0);
    struct tun_info ti;
    tse_cm m;
    int rc = 1;
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    memset(&m, 0, sizeof m);
    m.type = TSE_CM_KEEPALIVE;
    m.tsid = ti.tsid ^ 1;
    m.seq = 5;
    if (send_cm(p, &m) < 0)
        goto out;
    rc = expect_close(p);
out:
    pc_free(p);
    return rc;
}

static int sc_echo(void)
{
    static const uint8_t srv[4] = { 198, 18, 0, 1 }, ext[4] = { 192, 0, 2, 1 };
    struct pc *p = pc_open(0);
    struct tun_info ti;
    uint8_t b[70000], spoof[4];
    size_t n;
    int rc = 1;
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    /* a spoofed source first: must not be answered */
    memcpy(spoof, ti.addr, 4);
    spoof[3] ^= 0x40;
    n = build_ping(b, spoof, srv, 1);
    if (pc_write(p, b, n) < 0)
        goto out;
    n = build_ping(b, ti.addr, srv, 2);
    if (pc_write(p, b, n) < 0 || recv_pkt(p, b, &n)) {
        fail("no echo reply from 198.18.0.1");
        goto out;
    }
    if (check_echo_reply(b, n, ti.addr, srv, 2))
        goto out; /* sequence 1 here would mean the spoof was answered */
    n = build_ping(b, ti.addr, ext, 3);
    if (pc_write(p, b, n) < 0 || recv_pkt(p, b, &n) || check_echo_reply(b, n, ti.addr, ext, 3)) {
        fail("no echo reply from 192.0.2.1");
        goto out;
    }
    n = build_udp(b, ti.addr, srv, 40000, 7, "hello tscf");
    if (pc_write(p, b, n) < 0 || recv_pkt(p, b, &n)) {
        fail("no UDP echo");
        goto out;
    }
    {
        uint32_t s = csum_add(0, b + 12, 8);
        s += 17 + (uint32_t)(n - 20);
        s = csum_add(s, b + 20, n - 20);
        if (b[9] != 17 || n != 20 + 8 + 10 || (b[20] << 8 | b[21]) != 7 ||
            (b[22] << 8 | b[23]) != 40000 || memcmp(b + 28, "hello tscf", 10) != 0 ||
            csum_fin(s) != 0 || memcmp(b + 16, ti.addr, 4) != 0) {
            fail("bad UDP echo");
            goto out;
        }
    }
    printf("echo ok\n");
    rc = 0;
out:
    pc_free(p);
    return rc;
}

static int sc_forward(void)
{
    struct pc *a = pc_open(0), *b = NULL;
    struct tun_info ta, tb;
    uint8_t pk[70000];
    size_t n;
    int rc = 1;
    if (!a)
        return 1;
    b = pc_open(0);
    if (!b || configure_ok(a, &ta) || configure_ok(b, &tb))
        goto out;
    n = build_udp(pk, ta.addr, tb.addr, 5060, 5060, "INVITE sip:b");
    if (pc_write(a, pk, n) < 0 || recv_pkt(b, pk, &n)) {
        fail("packet from tunnel A did not reach tunnel B");
        goto out;
    }
    if (memcmp(pk + 12, ta.addr, 4) || memcmp(pk + 16, tb.addr, 4) || n != 20 + 8 + 12) {
        fail("forwarded packet altered");
        goto out;
    }
    rc = 0;
out:
    pc_free(a);
    pc_free(b);
    return rc;
}

static int sc_load(int n)
{
    struct pc **ps = calloc((size_t)n, sizeof *ps);
    struct tun_info ti;
    int i, ok = 0;
    char c;
    struct rlimit rl;
    if (!ps)
        return 1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (i = 0; i < n; i++) {
        ps[i] = pc_open(0);
        if (!ps[i] || configure_ok(ps[i], &ti))
            break;
        if (ti.rc == 0)
            ok++;
        /* idle clients: keep only what the handshake left; nothing to read */
    }
    printf("ready %d\n", ok);
    fflush(stdout);
    while (read(0, &c, 1) > 0) {
    }
    for (i = 0; i < n; i++)
        pc_free(ps[i]);
    free(ps);
    return ok == n ? 0 : 1;
}

/* One ICMP echo to ADDR answered (through --echo or a TUN device). */
static int sc_ping(const char *addr)
{
    struct pc *p;
    struct tun_info ti;
    uint8_t b[70000], dst[4];
    size_t n;
    int rc = 1;
    if (!addr || inet_pton(AF_INET, addr, dst) != 1)
        return fail("ping needs an IPv4 address");
    p = pc_open(0);
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    n = build_ping(b, ti.addr, dst, 42);
    if (pc_write(p, b, n) < 0 || recv_pkt(p, b, &n)) {
        fail("no echo reply from %s", addr);
        goto out;
    }
    rc = check_echo_reply(b, n, ti.addr, dst, 42);
    if (!rc)
        printf("reply from %s\n", addr);
out:
    pc_free(p);
    return rc;
}

/* Send N pings without reading, then read everything: the server must stay
 * up, answer a Keep_Alive afterwards (control messages are never dropped)
 * and may drop echo replies that do not fit its queue. */
static int sc_flood(int count)
{
    static const uint8_t srv[4] = { 198, 18, 0, 1 };
    struct pc *p = pc_open(0);
    struct tun_info ti;
    uint8_t b[70000];
    size_t n;
    int i, got = 0, rc = 1, ka_ok = 0;
    tse_cm m;
    struct timeval tv = { 30, 0 };
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    /* writes must not time out while the server is blocked on us */
    setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (i = 0; i < count; i++) {
        n = build_ping(b, ti.addr, srv, (uint16_t)i);
        if (pc_write(p, b, n) < 0) {
            fail("write %d failed", i);
            goto out;
        }
    }
    memset(&m, 0, sizeof m);
    m.type = TSE_CM_KEEPALIVE;
    m.tsid = ti.tsid;
    m.seq = 4242;
    if (send_cm(p, &m) < 0)
        goto out;
    for (;;) {
        int k = pc_next(p, b, sizeof b, &n);
        if (k <= 0)
            break;
        if (k == TSE_UNIT_IPV4)
            got++;
        if (k == TSE_UNIT_CM && b[1] == TSE_CM_KEEPALIVE_RESPONSE) {
            ka_ok = 1;
            break;
        }
    }
    printf("sent %d pings, %d replies before the Keep_Alive_Response\n", count, got);
    if (!ka_ok) {
        fail("no Keep_Alive_Response after the flood");
        goto out;
    }
    rc = 0;
out:
    pc_free(p);
    return rc;
}

/* ICMPv6 echo to the pool6 prefix ::1 (argument: that address). */
static int sc_ipv6(const char *server6)
{
    struct pc *p;
    struct tun_info ti;
    uint8_t b[70000], dst[16], *ic;
    size_t n, i;
    uint32_t s;
    int rc = 1;
    if (!server6 || inet_pton(AF_INET6, server6, dst) != 1)
        return fail("ipv6 needs the server's inner IPv6 address");
    g_want_v6 = 1;
    p = pc_open(0);
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    if (!ti.has_v6 || memcmp(ti.addr6, dst, 8) != 0) {
        fail("no inner IPv6 address from the pool");
        goto out;
    }
    /* IPv6 header + ICMPv6 echo request (id 0x1234, seq 1, 24 bytes data) */
    memset(b, 0, 40 + 32);
    b[0] = 0x60;
    b[5] = 32;
    b[6] = 58;
    b[7] = 64;
    memcpy(b + 8, ti.addr6, 16);
    memcpy(b + 24, dst, 16);
    ic = b + 40;
    ic[0] = 128;
    ic[4] = 0x12;
    ic[5] = 0x34;
    ic[7] = 1;
    for (i = 8; i < 32; i++)
        ic[i] = (uint8_t)i;
    s = csum_add(0, b + 8, 32);
    s += 32 + 58;
    s = csum_add(s, ic, 32);
    {
        uint16_t ck = csum_fin(s);
        ic[2] = (uint8_t)(ck >> 8);
        ic[3] = (uint8_t)ck;
    }
    if (pc_write(p, b, 72) < 0)
        goto out;
    for (i = 0; i < 10; i++) {
        int k = pc_next(p, b, sizeof b, &n);
        if (k <= 0)
            break;
        if (k != TSE_UNIT_IPV6)
            continue;
        s = csum_add(0, b + 8, 32);
        s += (uint32_t)(n - 40) + 58;
        s = csum_add(s, b + 40, n - 40);
        if (n != 72 || b[6] != 58 || b[40] != 129 || csum_fin(s) != 0 ||
            memcmp(b + 8, dst, 16) || memcmp(b + 24, ti.addr6, 16)) {
            fail("bad ICMPv6 echo reply");
            goto out;
        }
        printf("ipv6 echo ok\n");
        rc = 0;
        goto out;
    }
    fail("no ICMPv6 echo reply");
out:
    pc_free(p);
    return rc;
}

/* Silent after configuration: the server must end the connection after
 * keep-alive + grace (argument: the longest wait in seconds). */
static int sc_silent(int max_s)
{
    struct pc *p = pc_open(0);
    struct tun_info ti;
    uint8_t b[70000];
    size_t n;
    int i, rc = 1;
    if (!p)
        return 1;
    if (configure_ok(p, &ti))
        goto out;
    for (i = 0; i * TIMEOUT_MS < max_s * 1000; i++) {
        int k = pc_next(p, b, sizeof b, &n);
        if (k == -1) {
            rc = 0;
            goto out;
        }
        if (k != 0) {
            fail("unexpected unit while silent");
            goto out;
        }
    }
    fail("server kept a silent tunnel for %d s (keepalive %u)", max_s, ti.keepalive);
out:
    pc_free(p);
    return rc;
}

static int set_server(const char *s)
{
    static char host[128];
    const char *colon = strrchr(s, ':');
    size_t hl;
    if (!colon)
        return -1;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb + 1 != colon)
            return -1;
        hl = (size_t)(rb - s - 1);
        if (hl >= sizeof host)
            return -1;
        memcpy(host, s + 1, hl);
    } else {
        hl = (size_t)(colon - s);
        if (hl >= sizeof host)
            return -1;
        memcpy(host, s, hl);
    }
    host[hl] = 0;
    g_host = host;
    g_port = colon + 1;
    return 0;
}

static int setup(const char *ca)
{
    int ret;
#if defined(MBEDTLS_PSA_CRYPTO_C)
    if (psa_crypto_init() != PSA_SUCCESS)
        return -1;
#endif
    mbedtls_entropy_init(&g_entropy);
    mbedtls_ctr_drbg_init(&g_drbg);
    mbedtls_ssl_config_init(&g_conf);
    mbedtls_x509_crt_init(&g_ca);
    if (mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy, NULL, 0) != 0)
        return -1;
    {
        FILE *f = fopen(ca, "rb");
        static unsigned char pem[65536];
        size_t n;
        if (!f)
            return fail("cannot open %s", ca);
        n = fread(pem, 1, sizeof pem - 1, f);
        fclose(f);
        pem[n] = 0;
        if ((ret = mbedtls_x509_crt_parse(&g_ca, pem, n + 1)) != 0)
            return fail("CA %s: -0x%04x", ca, (unsigned)-ret);
    }
    if (mbedtls_ssl_config_defaults(&g_conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return -1;
    mbedtls_ssl_conf_authmode(&g_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&g_conf, &g_ca, NULL);
    mbedtls_ssl_conf_rng(&g_conf, mbedtls_ctr_drbg_random, &g_drbg);
    return 0;
}

int main(int argc, char **argv)
{
    const char *ca = NULL, *sc = NULL, *arg = NULL;
    int i;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--server") && i + 1 < argc) {
            if (set_server(argv[++i]) < 0)
                return fail("bad --server");
        } else if (!strcmp(argv[i], "--ca") && i + 1 < argc) {
            ca = argv[++i];
        } else if (!strcmp(argv[i], "--sni") && i + 1 < argc) {
            g_sni = argv[++i];
        } else if (!strcmp(argv[i], "-v")) {
            g_verbose = 1;
        } else if (!sc) {
            sc = argv[i];
        } else {
            arg = argv[i];
        }
    }
    if (!g_host || !ca || !sc) {
        fprintf(stderr, "usage: tscf-probe --server HOST:PORT --ca FILE [--sni NAME] [-v] "
                        "SCENARIO [ARG]\n");
        return 2;
    }
    if (setup(ca))
        return 1;
    if (!strcmp(sc, "config")) return sc_config(0);
    if (!strcmp(sc, "connect")) return sc_config(1);
    if (!strcmp(sc, "keepalive")) return sc_keepalive();
    if (!strcmp(sc, "release")) return sc_release();
    if (!strcmp(sc, "resume")) return sc_resume();
    if (!strcmp(sc, "unknown-tsid")) return sc_unknown_tsid();
    if (!strcmp(sc, "max-tunnels")) return sc_max_tunnels(arg ? atoi(arg) : 2);
    if (!strcmp(sc, "version")) return sc_version();
    if (!strcmp(sc, "malformed")) return sc_malformed();
    if (!strcmp(sc, "wrong-tsid")) return sc_wrong_tsid();
    if (!strcmp(sc, "echo")) return sc_echo();
    if (!strcmp(sc, "forward")) return sc_forward();
    if (!strcmp(sc, "ipv6")) return sc_ipv6(arg);
    if (!strcmp(sc, "ping")) return sc_ping(arg);
    if (!strcmp(sc, "flood")) return sc_flood(arg ? atoi(arg) : 100000);
    if (!strcmp(sc, "silent")) return sc_silent(arg ? atoi(arg) : 15);
    if (!strcmp(sc, "load")) return sc_load(arg ? atoi(arg) : 100);
    return fail("unknown scenario %s", sc);
}
