/* SIP OPTIONS probe codec: request shape, strict response parser. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sip_probe.h"
#include "tt.h"

static uint8_t g_ctr;
static int ctr_entropy(void *user, uint8_t *buf, size_t len)
{
    size_t i;
    (void)user;
    for (i = 0; i < len; i++)
        buf[i] = g_ctr++;
    return 0;
}
static int fail_entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user; (void)buf; (void)len;
    return 1;
}

static tse_sip_ids g_ids;

static size_t build_req(char *buf, size_t cap, tse_sip_transport tp, const char *host)
{
    tse_sip_options_params p;
    size_t n = 0;
    memset(&p, 0, sizeof p);
    p.host = host;
    p.port = 5060;
    p.transport = tp;
    g_ctr = 0;
    if (tse_sip_options_build(&p, ctr_entropy, NULL, buf, cap, &n, &g_ids) != TSE_OK)
        return 0;
    return n;
}

/* A response for g_ids with the given status, extra headers and body. */
static size_t mk_resp(char *buf, size_t cap, const char *status, const char *extra,
                      const char *body, int with_cl)
{
    int n = snprintf(buf, cap,
                     "SIP/2.0 %s\r\n"
                     "Via: SIP/2.0/UDP tse.invalid;branch=%s;rport=5060;received=192.0.2.7\r\n"
                     "To: <sip:pcscf.example>;tag=abc\r\n"
                     "From: <sip:probe@tse.invalid>;tag=%s\r\n"
                     "Call-ID: %s\r\n"
                     "CSeq: 1 OPTIONS\r\n"
                     "%s"
                     "\r\n%s",
                     status, g_ids.branch, g_ids.from_tag, g_ids.call_id, extra ? extra : "",
                     body ? body : "");
    (void)with_cl;
    return n > 0 ? (size_t)n : 0;
}

static size_t mk_resp_cl(char *buf, size_t cap, const char *status, const char *body)
{
    char extra[64];
    snprintf(extra, sizeof extra, "Content-Length: %u\r\n", (unsigned)strlen(body));
    return mk_resp(buf, cap, status, extra, body, 0);
}

TT_TEST(build_udp_request)
{
    char buf[1024];
    size_t n = build_req(buf, sizeof buf, TSE_SIP_UDP, "pcscf.example");
    TT_ASSERT(n > 0);
    buf[n] = '\0';
    TT_ASSERT(strncmp(buf, "OPTIONS sip:pcscf.example:5060 SIP/2.0\r\n", 40) == 0);
    TT_ASSERT(strstr(buf, "\r\nVia: SIP/2.0/UDP tse.invalid;branch=z9hG4bK000102030405060708090a0b;rport\r\n"));
    TT_EQ_INT(strlen(g_ids.branch), 31);
    TT_ASSERT(strstr(buf, "\r\nMax-Forwards: 70\r\n"));
    TT_ASSERT(strstr(buf, "\r\nTo: <sip:pcscf.example>\r\n"));
    TT_ASSERT(strstr(buf, "\r\nFrom: <sip:probe@tse.invalid>;tag=1c1d1e1f20212223\r\n"));
    TT_ASSERT(strstr(buf, "\r\nCall-ID: 0c0d0e0f101112131415161718191a1b\r\n"));
    TT_ASSERT(strstr(buf, "\r\nCSeq: 1 OPTIONS\r\n"));
    TT_ASSERT(strstr(buf, "\r\nAccept: application/sdp\r\n"));
    TT_ASSERT(strstr(buf, "\r\nContent-Length: 0\r\n\r\n"));
    TT_EQ_INT(strcmp(buf + n - 4, "\r\n\r\n"), 0);
    TT_EQ_INT(g_ids.cseq, 1);
}

TT_TEST(build_tcp_ipv6_and_errors)
{
    char buf[1024];
    tse_sip_options_params p;
    size_t n = 0, i;
    memset(&p, 0, sizeof p);
    p.host = "2001:db8::1";
    p.port = 5060;
    p.transport = TSE_SIP_TCP;
    p.local_host = "192.0.2.1";
    p.local_port = 40000;
    p.user_agent = "libtse-probe";
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &g_ids), TSE_OK);
    buf[n] = '\0';
    TT_ASSERT(strncmp(buf, "OPTIONS sip:[2001:db8::1]:5060 SIP/2.0\r\n", 40) == 0);
    TT_ASSERT(strstr(buf, "Via: SIP/2.0/TCP 192.0.2.1:40000;branch="));
    TT_ASSERT(strstr(buf, ";transport=tcp>"));
    TT_ASSERT(strstr(buf, "\r\nUser-Agent: libtse-probe\r\n"));
    /* every smaller buffer is refused, never overrun */
    for (i = 0; i < n; i++) {
        size_t m = 99;
        TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, i, &m, &g_ids),
                  TSE_ERR_BUFFER_TOO_SMALL);
        TT_EQ_INT(m, 99);
    }
    TT_EQ_INT(tse_sip_options_build(&p, fail_entropy, NULL, buf, sizeof buf, &n, &g_ids),
              TSE_ERR_DETECT_ENTROPY);
    p.host = "evil.example>\r\nX: y";
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &g_ids),
              TSE_ERR_INVALID_ARG);
    p.host = "";
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &g_ids),
              TSE_ERR_INVALID_ARG);
    p.host = "ok.example";
    p.user_agent = "a\r\nb";
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &g_ids),
              TSE_ERR_INVALID_ARG);
    p.user_agent = NULL;
    p.transport = (tse_sip_transport)7;
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &g_ids),
              TSE_ERR_INVALID_ARG);
}

TT_TEST(parse_final_statuses)
{
    char req[1024], buf[2048];
    static const char *const st[] = {"200 OK", "404 Not Found", "405 Method Not Allowed",
                                     "483 Too Many Hops", "503 Service Unavailable", "699 x"};
    static const int code[] = {200, 404, 405, 483, 503, 699};
    size_t k;
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    for (k = 0; k < 6; k++) {
        tse_sip_response r;
        size_t used = 0;
        size_t n = mk_resp(buf, sizeof buf, st[k], NULL, NULL, 0);
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, &used), TSE_OK);
        TT_EQ_INT(r.status, code[k]);
        TT_EQ_INT(used, n);
        TT_EQ_INT(r.reason_len, strlen(st[k]) - 4);
        TT_EQ_MEM(r.reason, st[k] + 4, r.reason_len);
    }
}

TT_TEST(parse_udp_body_and_provisional)
{
    char req[1024], buf[2048];
    tse_sip_response r;
    size_t used, n;
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    n = mk_resp_cl(buf, sizeof buf, "200 OK", "v=0\r\n");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, &used), TSE_OK);
    TT_EQ_INT(r.content_length, 5);
    TT_EQ_INT(used, n);
    /* Content-Length above the datagram */
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n - 1, TSE_SIP_UDP, &g_ids, &r, &used),
              TSE_ERR_SIP_MALFORMED);
    /* 100 Trying parses; the caller keeps waiting */
    n = mk_resp(buf, sizeof buf, "100 Trying", NULL, NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, &used), TSE_OK);
    TT_EQ_INT(r.status, 100);
}

TT_TEST(parse_tcp_framing)
{
    char req[1024], buf[4096];
    tse_sip_response r;
    size_t used = 0, n, n1, i;
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_TCP, "pcscf.example"));
    /* keep-alive CRLFs, then two messages back to back */
    memcpy(buf, "\r\n\r\n", 4);
    n1 = mk_resp_cl(buf + 4, sizeof buf - 4, "100 Trying", "") + 4;
    n = n1 + mk_resp_cl(buf + n1, sizeof buf - n1, "200 OK", "abc");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_TCP, &g_ids, &r, &used), TSE_OK);
    TT_EQ_INT(r.status, 100);
    TT_EQ_INT(used, n1);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf + used, n - used, TSE_SIP_TCP, &g_ids, &r, &used), TSE_OK);
    TT_EQ_INT(r.status, 200);
    TT_EQ_INT(r.content_length, 3);
    TT_EQ_INT(used, n - n1);
    /* every prefix of the second message is incomplete, never an error */
    for (i = 0; i < n - n1; i++)
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf + n1, i, TSE_SIP_TCP, &g_ids, &r, &used),
                  TSE_ERR_WOULD_BLOCK);
    /* TCP without Content-Length */
    n = mk_resp(buf, sizeof buf, "200 OK", NULL, NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_TCP, &g_ids, &r, &used),
              TSE_ERR_SIP_MALFORMED);
}

TT_TEST(parse_mismatch_and_compact)
{
    char req[1024], buf[2048];
    tse_sip_response r;
    size_t n;
    tse_sip_ids saved;
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    saved = g_ids;
    n = mk_resp(buf, sizeof buf, "200 OK", NULL, NULL, 0);
    g_ids.branch[10] ^= 1;
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    g_ids = saved;
    g_ids.call_id[0] ^= 1;
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    g_ids = saved;
    g_ids.cseq = 2;
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    g_ids = saved;
    /* compact forms, folded Via, lower-case header names, second Via ignored */
    n = (size_t)snprintf(buf, sizeof buf,
                         "SIP/2.0 200 OK\r\n"
                         "v: SIP/2.0/UDP tse.invalid\r\n ;branch=%s,SIP/2.0/UDP other;branch=z9hG4bKx\r\n"
                         "v: SIP/2.0/UDP proxy;branch=z9hG4bKy\r\n"
                         "i: %s\r\n"
                         "cseq: 1   OPTIONS\r\n"
                         "l: 0\r\n\r\n",
                         g_ids.branch, g_ids.call_id);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_OK);
    /* our branch only in the second Via: not ours */
    n = (size_t)snprintf(buf, sizeof buf,
                         "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKq\r\nVia: SIP/2.0/UDP b;branch=%s\r\n"
                         "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\n\r\n",
                         g_ids.branch, g_ids.call_id);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    /* CSeq method other than OPTIONS */
    n = (size_t)snprintf(buf, sizeof buf,
                         "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=%s\r\n"
                         "Call-ID: %s\r\nCSeq: 1 INVITE\r\n\r\n",
                         g_ids.branch, g_ids.call_id);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
}

TT_TEST(parse_malformed)
{
    char req[1024], buf[8192];
    tse_sip_response r;
    size_t n, k;
    static const char *const bad_status[] = {
        "SIP/2.0 20 OK", "SIP/2.0 2000 OK", "SIP/2.0 099 x", "SIP/2.0 700 x", "SIP/3.0 200 OK",
        "HTTP/1.1 200 OK", "SIP/2.0 200", "SIP/2.0 2x0 OK", "SIP/2.0  200 OK"};
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    for (k = 0; k < sizeof bad_status / sizeof bad_status[0]; k++) {
        n = (size_t)snprintf(buf, sizeof buf, "%s\r\nVia: SIP/2.0/UDP a;branch=%s\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n\r\n",
                             bad_status[k], g_ids.branch, g_ids.call_id);
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    }
    /* duplicate Call-ID / CSeq / Content-Length, bad Content-Length */
    n = mk_resp(buf, sizeof buf, "200 OK", "Call-ID: x\r\n", NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = mk_resp(buf, sizeof buf, "200 OK", "CSeq: 1 OPTIONS\r\n", NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = mk_resp(buf, sizeof buf, "200 OK", "Content-Length: 0\r\nl: 0\r\n", NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = mk_resp(buf, sizeof buf, "200 OK", "Content-Length: -1\r\n", NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = mk_resp(buf, sizeof buf, "200 OK", "Content-Length: 99999999\r\n", NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_TOO_LARGE);
    /* header without colon, bare LF, NUL in a value */
    n = mk_resp(buf, sizeof buf, "200 OK", "Bogus header\r\n", NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = mk_resp(buf, sizeof buf, "200 OK", "X: a\nY: b\r\n", NULL, 0);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = mk_resp(buf, sizeof buf, "200 OK", "X: aZb\r\n", NULL, 0);
    *strchr(buf, 'Z') = '\0';
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    /* missing Call-ID */
    n = (size_t)snprintf(buf, sizeof buf, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=%s\r\nCSeq: 1 OPTIONS\r\n\r\n", g_ids.branch);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    /* no end of head in a datagram */
    n = mk_resp(buf, sizeof buf, "200 OK", NULL, NULL, 0) - 2;
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    /* oversized head: refused on both transports */
    memset(buf, 'a', sizeof buf);
    memcpy(buf, "SIP/2.0 200 OK\r\nX: ", 19);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, sizeof buf, TSE_SIP_TCP, &g_ids, &r, NULL), TSE_ERR_SIP_TOO_LARGE);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, sizeof buf, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_TOO_LARGE);
    TT_EQ_INT(tse_sip_response_parse(NULL, 0, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_INVALID_ARG);
}

int main(void)
{
    TT_RUN(build_udp_request);
    TT_RUN(build_tcp_ipv6_and_errors);
    TT_RUN(parse_final_statuses);
    TT_RUN(parse_udp_body_and_provisional);
    TT_RUN(parse_tcp_framing);
    TT_RUN(parse_mismatch_and_compact);
    TT_RUN(parse_malformed);
    return TT_DONE();
}
