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

/* SIP over TLS (tse-cli --sip-tls): Via and Contact say TLS, and the
 * response is framed like TCP's (RFC 3261 18.3: Content-Length). */
TT_TEST(tls_transport)
{
    char buf[1024];
    tse_sip_options_params p;
    tse_sip_response r;
    size_t n = 0, used = 0, m;
    memset(&p, 0, sizeof p);
    p.host = "pcscf.example";
    p.port = 443;
    p.transport = TSE_SIP_TLS;
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &g_ids), TSE_OK);
    buf[n] = '\0';
    TT_ASSERT(strncmp(buf, "OPTIONS sip:pcscf.example:443 SIP/2.0\r\n", 39) == 0);
    TT_ASSERT(strstr(buf, "Via: SIP/2.0/TLS tse.invalid;branch="));
    TT_ASSERT(strstr(buf, ";transport=tls>"));
    m = mk_resp_cl(buf, sizeof buf, "200 OK", "");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, m, TSE_SIP_TLS, &g_ids, &r, &used), TSE_OK);
    TT_EQ_INT(r.status, 200);
    TT_EQ_INT(used, m);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, m - 1, TSE_SIP_TLS, &g_ids, &r, &used),
              TSE_ERR_WOULD_BLOCK);
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

/* ---- adversarial additions: argument checks, every parser branch ---- */

static int parse_txt(const char *txt, tse_sip_transport tp, tse_sip_response *r, size_t *used)
{
    return tse_sip_response_parse((const uint8_t *)txt, strlen(txt), tp, &g_ids, r, used);
}

/* A well-formed head for g_ids whose first header line is `first` and whose
 * Via / Call-ID / CSeq values can be replaced. */
static size_t mk_custom(char *buf, size_t cap, const char *status, const char *via,
                        const char *callid, const char *cseq, const char *extra)
{
    char v[256];
    int n;
    if (via == NULL) {
        snprintf(v, sizeof v, "SIP/2.0/UDP a;branch=%s", g_ids.branch);
        via = v;
    }
    n = snprintf(buf, cap, "%s\r\nVia: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n%s\r\n", status, via,
                 callid ? callid : g_ids.call_id, cseq ? cseq : "1 OPTIONS", extra ? extra : "");
    return n > 0 ? (size_t)n : 0;
}

TT_TEST(build_rejects_each_null_and_bad_local_host)
{
    char buf[1024];
    tse_sip_options_params p;
    tse_sip_ids ids;
    size_t n = 7;
    memset(&p, 0, sizeof p);
    p.host = "pcscf.example";
    p.port = 5060;
    TT_EQ_INT(tse_sip_options_build(NULL, ctr_entropy, NULL, buf, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_sip_options_build(&p, NULL, NULL, buf, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, NULL, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, NULL, &ids), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(n, 7);
    p.host = NULL;
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
    p.host = "pcscf.example";
    /* a Via sent-by that could inject a parameter or a header */
    p.local_host = "a;branch=z9hG4bKevil";
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
    p.local_host = "";
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
    /* a 256-byte host is one too long, 255 is accepted */
    {
        char longh[257];
        memset(longh, 'h', 256);
        longh[256] = '\0';
        p.local_host = NULL;
        p.host = longh;
        TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
        longh[255] = '\0';
        TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &ids), TSE_OK);
    }
    /* DEL in the User-Agent */
    p.host = "pcscf.example";
    p.user_agent = "ua\x7f";
    TT_EQ_INT(tse_sip_options_build(&p, ctr_entropy, NULL, buf, sizeof buf, &n, &ids), TSE_ERR_INVALID_ARG);
}

TT_TEST(parse_rejects_bad_args)
{
    char req[1024];
    tse_sip_response r;
    static const char ok[] = "SIP/2.0 200 OK\r\n\r\n";
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)ok, sizeof ok - 1, TSE_SIP_UDP, NULL, &r, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)ok, sizeof ok - 1, TSE_SIP_UDP, &g_ids, NULL, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)ok, sizeof ok - 1, (tse_sip_transport)3, &g_ids, &r, NULL), TSE_ERR_INVALID_ARG);
}

TT_TEST(parse_tcp_keepalive_edges)
{
    char req[1024];
    tse_sip_response r;
    size_t used = 5;
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_TCP, "pcscf.example"));
    /* keep-alives only, or a lone CR of the next one: wait */
    TT_EQ_INT(parse_txt("\r\n\r\n\r", TSE_SIP_TCP, &r, &used), TSE_ERR_WOULD_BLOCK);
    TT_EQ_INT(used, 0);
    TT_EQ_INT(parse_txt("\r", TSE_SIP_TCP, &r, &used), TSE_ERR_WOULD_BLOCK);
    /* CR then something else is not a keep-alive: a head that never ends */
    TT_EQ_INT(parse_txt("\r\n\rX", TSE_SIP_TCP, &r, &used), TSE_ERR_WOULD_BLOCK);
    /* the same bytes in a datagram: malformed, not incomplete */
    TT_EQ_INT(parse_txt("\rX\r\n\n\r\r\n", TSE_SIP_UDP, &r, &used), TSE_ERR_SIP_MALFORMED);
}

TT_TEST(parse_status_line_edges)
{
    char req[1024], buf[2048];
    tse_sip_response r;
    size_t n, k;
    static const char *const bad[] = {
        "SIP/2.0 200 OK\rX",     /* CR without LF inside the status line */
        "SIP/2.0x200 OK",        /* no SP after the version */
        "SIP/2.0 200xOK",        /* no SP after the code */
        "SIP/2.0 200 O\x01K",    /* control character in the reason */
        "SIP/2.0 200 O\x7fK",    /* DEL in the reason */
    };
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        n = mk_custom(buf, sizeof buf, bad[k], NULL, NULL, NULL, NULL);
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL),
                  TSE_ERR_SIP_MALFORMED);
    }
    /* HT is allowed in the reason phrase, empty reason too; lower-case version */
    n = mk_custom(buf, sizeof buf, "sip/2.0 200 O\tK", NULL, NULL, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_OK);
    TT_EQ_INT(r.reason_len, 3);
    TT_EQ_MEM(r.reason, "O\tK", 3);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 180 ", NULL, NULL, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_OK);
    TT_EQ_INT(r.status, 180);
    TT_EQ_INT(r.reason_len, 0);
}

TT_TEST(parse_header_syntax_edges)
{
    char req[1024], buf[2048];
    tse_sip_response r;
    size_t n, k;
    static const char *const bad[] = {
        ": no name\r\n",
        "X-a: b\rc\r\n",           /* CR without LF inside a value */
        "X-a: b\x7f\r\n",          /* DEL in a value */
        "X-a: b\x01\r\n",          /* control character in a value */
        "X\x01: b\r\n",            /* control character in a name */
        "X Y: b\r\n",              /* SP inside a name */
    };
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, NULL, bad[k]);
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL),
                  TSE_ERR_SIP_MALFORMED);
    }
    /* after CSeq a leading blank folds into CSeq (method no longer OPTIONS);
     * right after the status line it folds nothing and is refused */
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, NULL, " X: y\r\n");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL),
              TSE_ERR_SIP_MISMATCH);
    n = (size_t)snprintf(buf, sizeof buf, "SIP/2.0 200 OK\r\n\tVia: x\r\n\r\n");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL),
              TSE_ERR_SIP_MALFORMED);
    /* every token character in a name, blanks before the colon, HT in a
     * value, a header folded with HT: all accepted */
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, NULL,
                  "Az09-.!%*_+`'~ \t: a\tb\r\n\tc\r\nCONTENT-LENGTH :  0 \r\n");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_OK);
    TT_EQ_INT(r.content_length, 0);
    /* Content-Length: ten digits is refused even when the value is 0 */
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, NULL, "Content-Length: 0000000000\r\n");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, NULL, "Content-Length:\r\n");
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    /* exactly the body limit is accepted (datagram holding it) */
    {
        static char big[TSE_SIP_MAX_BODY + 1024];
        size_t h = mk_custom(big, sizeof big, "SIP/2.0 200 OK", NULL, NULL, NULL, "Content-Length: 4096\r\n");
        memset(big + h, 'b', TSE_SIP_MAX_BODY);
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)big, h + TSE_SIP_MAX_BODY, TSE_SIP_UDP, &g_ids, &r, &n), TSE_OK);
        TT_EQ_INT(r.content_length, TSE_SIP_MAX_BODY);
        TT_EQ_INT(n, h + TSE_SIP_MAX_BODY);
        h = mk_custom(big, sizeof big, "SIP/2.0 200 OK", NULL, NULL, NULL, "Content-Length: 4097\r\n");
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)big, h, TSE_SIP_UDP, &g_ids, &r, &n), TSE_ERR_SIP_TOO_LARGE);
    }
    /* datagram without Content-Length: the rest is the body */
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, NULL, NULL);
    memcpy(buf + n, "xyz", 3);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n + 3, TSE_SIP_UDP, &g_ids, &r, &k), TSE_OK);
    TT_EQ_INT(r.content_length, 3);
    TT_EQ_INT(k, n + 3);
}

TT_TEST(parse_via_branch_edges)
{
    char req[1024], buf[2048], via[256];
    tse_sip_response r;
    size_t n;
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    /* valueless and other parameters before the branch; spaces around '=' */
    snprintf(via, sizeof via, "SIP/2.0/UDP a ; rport ; received=192.0.2.9 ; BRANCH = %s ; x", g_ids.branch);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", via, NULL, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_OK);
    /* branch without a value, branch with a prefix of ours, no parameters */
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", "SIP/2.0/UDP a;branch", NULL, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    snprintf(via, sizeof via, "SIP/2.0/UDP a;branch=%.*s", (int)strlen(g_ids.branch) - 1, g_ids.branch);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", via, NULL, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", "SIP/2.0/UDP a", NULL, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    /* our branch in a later parameter that is not "branch" */
    snprintf(via, sizeof via, "SIP/2.0/UDP a;xbranch=%s", g_ids.branch);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", via, NULL, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
}

TT_TEST(parse_callid_cseq_edges)
{
    char req[1024], buf[2048], cid[64];
    tse_sip_response r;
    size_t n, k;
    static const char *const bad_cseq[] = {
        "x OPTIONS", "1OPTIONS", "1", "", "1234567890 OPTIONS", "-1 OPTIONS"};
    static const char *const other_cseq[] = {"1 OPTIONZ", "1 OPTION", "1 options", "2 OPTIONS"};
    TT_ASSERT(build_req(req, sizeof req, TSE_SIP_UDP, "pcscf.example"));
    for (k = 0; k < sizeof bad_cseq / sizeof bad_cseq[0]; k++) {
        n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, bad_cseq[k], NULL);
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL),
                  TSE_ERR_SIP_MALFORMED);
    }
    for (k = 0; k < sizeof other_cseq / sizeof other_cseq[0]; k++) {
        n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, other_cseq[k], NULL);
        TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL),
                  TSE_ERR_SIP_MISMATCH);
    }
    /* CSeq number and method separated by HT */
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, NULL, "1\tOPTIONS", NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_OK);
    /* Call-ID shorter and longer than ours */
    snprintf(cid, sizeof cid, "%.*s", (int)strlen(g_ids.call_id) - 1, g_ids.call_id);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, cid, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    snprintf(cid, sizeof cid, "%s0", g_ids.call_id);
    n = mk_custom(buf, sizeof buf, "SIP/2.0 200 OK", NULL, cid, NULL, NULL);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MISMATCH);
    /* each mandatory header missing */
    n = (size_t)snprintf(buf, sizeof buf, "SIP/2.0 200 OK\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n\r\n", g_ids.call_id);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
    n = (size_t)snprintf(buf, sizeof buf, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=%s\r\nCall-ID: %s\r\n\r\n",
                         g_ids.branch, g_ids.call_id);
    TT_EQ_INT(tse_sip_response_parse((const uint8_t *)buf, n, TSE_SIP_UDP, &g_ids, &r, NULL), TSE_ERR_SIP_MALFORMED);
}

/* host:port as the request and the detection's probe targets write it */
TT_TEST(hostport_forms)
{
    char b[TSE_SIP_HOSTPORT_MAX];
    TT_EQ_INT(tse_sip_hostport(b, "pcscf.example", 13, 5060, 0), 18);
    TT_EQ_INT(strcmp(b, "pcscf.example:5060"), 0);
    TT_EQ_INT(tse_sip_hostport(b, "2001:db8::1", 11, 65535, 0), 19);
    TT_EQ_INT(strcmp(b, "[2001:db8::1]:65535"), 0);
    /* port 0: none in a URI or Via, ":0" in a probe target */
    TT_EQ_INT(tse_sip_hostport(b, "192.0.2.1", 9, 0, 0), 9);
    TT_EQ_INT(strcmp(b, "192.0.2.1"), 0);
    TT_EQ_INT(tse_sip_hostport(b, "192.0.2.1", 9, 0, 1), 11);
    TT_EQ_INT(strcmp(b, "192.0.2.1:0"), 0);
    /* a host cut to its first characters; no host at all */
    TT_EQ_INT(tse_sip_hostport(b, "abcdef", 3, 7, 0), 5);
    TT_EQ_INT(strcmp(b, "abc:7"), 0);
    TT_EQ_INT(tse_sip_hostport(b, NULL, 0, 3478, 1), 5);
    TT_EQ_INT(strcmp(b, ":3478"), 0);
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
    TT_RUN(build_rejects_each_null_and_bad_local_host);
    TT_RUN(parse_rejects_bad_args);
    TT_RUN(parse_tcp_keepalive_edges);
    TT_RUN(parse_status_line_edges);
    TT_RUN(parse_header_syntax_edges);
    TT_RUN(parse_via_branch_edges);
    TT_RUN(parse_callid_cseq_edges);
    TT_RUN(tls_transport);
    TT_RUN(hostport_forms);
    return TT_DONE();
}
