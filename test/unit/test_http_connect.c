/* HTTP CONNECT proxy layer: request bytes, response parser, proxy auth.
 * Expected Digest values were computed independently (Python hashlib) or
 * come from RFC 7616 3.9.1; the Basic value from RFC 7617 2. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http_connect.h"
#include "tse/error.h"
#include "tt.h"

static int ent_calls;
static int ent_fail;

/* cnonce bytes 00 01 .. 0f */
static int ent(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    ent_calls++;
    if (ent_fail)
        return -1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)i;
    return 0;
}

static tse_hc_params base_params(void)
{
    tse_hc_params p;
    memset(&p, 0, sizeof p);
    p.target_host = "tscf.example.com";
    p.target_port = 443;
    p.entropy = ent;
    return p;
}

static tse_hc hc; /* large: keep it off the stack */
static char req[8192];

/* request as a C string; returns tse_hc_request's result */
static int request(void)
{
    int n = tse_hc_request(&hc, (uint8_t *)req, sizeof req - 1);
    req[n > 0 ? n : 0] = '\0';
    return n;
}

static int feed(const char *s, size_t *used)
{
    return tse_hc_feed(&hc, (const uint8_t *)s, strlen(s), used);
}

/* Feeds s one byte at a time until a result other than NEED_MORE; *used is
 * the total taken. */
static int feed_bytewise(const char *s, size_t len, size_t *used)
{
    size_t total = 0;
    int r = TSE_HC_NEED_MORE;
    for (size_t i = 0; i < len; i++) {
        size_t u = 99;
        r = tse_hc_feed(&hc, (const uint8_t *)s + i, 1, &u);
        total += u;
        if (r != TSE_HC_NEED_MORE)
            break;
    }
    *used = total;
    return r;
}

static const char *squid_407_basic =
    "HTTP/1.1 407 Proxy Authentication Required\r\n"
    "Server: squid/5.7\r\n"
    "Content-Type: text/html;charset=utf-8\r\n"
    "Content-Length: 10\r\n"
    "Proxy-Authenticate: Basic realm=\"Squid proxy\"\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "0123456789";

/* ---------------------------------------------------------------- */
/* Requests                                                          */

TT_TEST(request_plain)
{
    tse_hc_params p = base_params();
    const char *exp = "CONNECT tscf.example.com:443 HTTP/1.1\r\n"
                      "Host: tscf.example.com:443\r\n\r\n";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
    /* exactly big enough works, one less does not */
    TT_EQ_INT(tse_hc_request(&hc, (uint8_t *)req, strlen(exp)), strlen(exp));
    TT_EQ_INT(tse_hc_request(&hc, (uint8_t *)req, strlen(exp) - 1),
              TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_hc_request(&hc, NULL, 0), TSE_ERR_BUFFER_TOO_SMALL);
}

TT_TEST(request_ipv4_port80)
{
    tse_hc_params p = base_params();
    const char *exp = "CONNECT 192.0.2.7:80 HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n";
    p.target_host = "192.0.2.7";
    p.target_port = 80;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
}

TT_TEST(request_ipv6)
{
    tse_hc_params p = base_params();
    const char *exp = "CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
                      "Host: [2001:db8::1]:443\r\n\r\n";
    p.target_host = "2001:db8::1";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
    p.target_host = "[2001:db8::1]"; /* already bracketed: same bytes */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
}

TT_TEST(request_ua_marker)
{
    tse_hc_params p = base_params();
    const char *exp = "CONNECT tscf.example.com:443 HTTP/1.1\r\n"
                      "Host: tscf.example.com:443\r\n"
                      "User-Agent: libtse/0.1 (test)\r\n"
                      "X-IMS-Tunnel: TR33.830\r\n\r\n";
    p.user_agent = "libtse/0.1 (test)";
    p.marker_header = "X-IMS-Tunnel: TR33.830";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
}

TT_TEST(request_credentials_not_sent_before_407)
{
    tse_hc_params p = base_params();
    p.user = "Aladdin";
    p.pass = "open sesame";
    tse_hc_init(&hc, &p);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strstr(req, "Proxy-Authorization") == NULL);
}

TT_TEST(request_rejects_injection)
{
    static const char *bad_hosts[] = {
        "a\r\nX-Evil: 1", "a\n", "a b", "a/b", "a@b", "a\tb", "", "[::1",
        "[]", "[::1]x", "[a:b:g::1]", "fe80::1%eth0", "h\x7f", "h\x80",
        "a?b", "[::1]]"
    };
    static const char *bad_text[] = { "x\r\nX-Evil: 1", "x\n", "x\r", "x\t",
                                      "x\x01", "x\x7f" };
    tse_hc_params p;
    char longhost[300];

    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        p = base_params();
        p.target_host = bad_hosts[i];
        tse_hc_init(&hc, &p);
        if (request() != TSE_ERR_INVALID_ARG) {
            fprintf(stderr, "host %zu accepted\n", i);
            TT_ASSERT(0);
        }
    }
    p = base_params();
    p.target_host = NULL;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
    p = base_params();
    p.target_port = 0;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
    memset(longhost, 'a', 256);
    longhost[256] = '\0';
    p = base_params();
    p.target_host = longhost;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
    longhost[255] = '\0'; /* 255 is the limit */
    tse_hc_init(&hc, &p);
    TT_ASSERT(request() > 0);

    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
        p = base_params();
        p.user_agent = bad_text[i];
        tse_hc_init(&hc, &p);
        TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
        p = base_params();
        p.user = bad_text[i];
        p.pass = "x";
        tse_hc_init(&hc, &p);
        TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
        p.user = "x";
        p.pass = bad_text[i];
        tse_hc_init(&hc, &p);
        TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
    }
    {
        static const char *bad_markers[] = {
            "X-IMS: a\r\nX-Evil: 1", "X-IMS: a\n", "NoColon", ": value",
            "Bad Name: x", "X-IMS : x", "X(IMS): x", "X-IMS: \x01"
        };
        for (size_t i = 0; i < sizeof bad_markers / sizeof bad_markers[0]; i++) {
            p = base_params();
            p.marker_header = bad_markers[i];
            tse_hc_init(&hc, &p);
            if (request() != TSE_ERR_INVALID_ARG) {
                fprintf(stderr, "marker %zu accepted\n", i);
                TT_ASSERT(0);
            }
        }
    }
    /* injection through the credentials once they are used */
    p = base_params();
    p.user = "Aladdin";
    p.pass = "open\r\nX-Evil: 1";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- */
/* Digest core against RFC 7616 3.9.1                                */

TT_TEST(digest_rfc7616_vectors)
{
    char scratch[512], out[65];
    const char *nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const char *cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "Mufasa",
                                     "http-auth@example.org", "Circle of Life",
                                     "GET", "/dir/index.html", nonce,
                                     "00000001", cnonce, "auth", scratch,
                                     sizeof scratch, out), 0);
    TT_ASSERT(strcmp(out, "8ca523f5e9506fed4657c9700eebdbec") == 0);
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_SHA256, 0, "Mufasa",
                                     "http-auth@example.org", "Circle of Life",
                                     "GET", "/dir/index.html", nonce,
                                     "00000001", cnonce, "auth", scratch,
                                     sizeof scratch, out), 0);
    TT_ASSERT(strcmp(out, "753927fa0e85d155564e2e272a28d180"
                          "2ca10daf4496794697cf8db5856cb6c1") == 0);
    /* scratch too small, bad scheme, -sess without cnonce */
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "Mufasa",
                                     "http-auth@example.org", "Circle of Life",
                                     "GET", "/dir/index.html", nonce,
                                     "00000001", cnonce, "auth", scratch, 20,
                                     out), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_BASIC, 0, "u", "r", "p",
                                     "GET", "/", "n", "00000001", "c", "auth",
                                     scratch, sizeof scratch, out),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 1, "u", "r", "p",
                                     "GET", "/", "n", NULL, NULL, NULL,
                                     scratch, sizeof scratch, out),
              TSE_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- */
/* Responses                                                         */

TT_TEST(established_with_tls_glued)
{
    tse_hc_params p = base_params();
    const char head[] = "HTTP/1.1 200 Connection established\r\n"
                        "Proxy-Agent: test\r\n\r\n";
    char buf[128];
    size_t used = 0, hl = strlen(head);
    memcpy(buf, head, hl);
    memcpy(buf + hl, "\x16\x03\x03\x00\x02\x02\x28", 7); /* TLS bytes */
    tse_hc_init(&hc, &p);
    TT_ASSERT(request() > 0);
    TT_EQ_INT(tse_hc_feed(&hc, (uint8_t *)buf, hl + 7, &used), TSE_HC_ESTABLISHED);
    TT_EQ_INT(used, hl);
    TT_EQ_INT(tse_hc_status(&hc), 200);
    TT_ASSERT(strcmp(tse_hc_reason(&hc), "Connection established") == 0);
    /* after ESTABLISHED the layer takes nothing more */
    TT_EQ_INT(tse_hc_feed(&hc, (uint8_t *)buf + hl, 7, &used), TSE_ERR_STATE);
    TT_EQ_INT(used, 0);
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_ERR_PROXY_CLOSED);
}

TT_TEST(established_bytewise)
{
    tse_hc_params p = base_params();
    const char *s = "HTTP/1.0 200 OK\r\nContent-Length: 99\r\n"
                    "Transfer-Encoding: chunked\r\n\r\nTLS";
    size_t used;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed_bytewise(s, strlen(s), &used), TSE_HC_ESTABLISHED);
    TT_EQ_INT(used, strlen(s) - 3);
}

TT_TEST(established_variants)
{
    static const char *ok[] = {
        "HTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200\r\n\r\n",                  /* no reason, no SP */
        "HTTP/1.1 200 \r\n\r\n",                 /* empty reason */
        "HTTP/1.1 200 OK\n\n",                   /* bare LF */
        "HTTP/1.1 200 OK\r\nA: b\n\r\n",          /* mixed */
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Ows: \t v \t\r\n\r\n",
        "HTTP/1.1 200 caf\xc3\xa9\r\n\r\n",      /* obs-text reason */
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        ("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
         "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        tse_hc_params p = base_params();
        size_t used = 0;
        int r;
        tse_hc_init(&hc, &p);
        r = feed(ok[i], &used);
        if (r != TSE_HC_ESTABLISHED || used != strlen(ok[i])) {
            fprintf(stderr, "case %zu: r=%d used=%zu\n", i, r, used);
            TT_ASSERT(0);
        }
        tse_hc_init(&hc, &p);
        r = feed_bytewise(ok[i], strlen(ok[i]), &used);
        TT_EQ_INT(r, TSE_HC_ESTABLISHED);
        TT_EQ_INT(used, strlen(ok[i]));
    }
    /* the reason is printable ASCII */
    TT_ASSERT(strcmp(tse_hc_reason(&hc), "OK") == 0);
    {
        tse_hc_params p = base_params();
        size_t used;
        tse_hc_init(&hc, &p);
        TT_EQ_INT(feed("HTTP/1.1 200 caf\xc3\xa9\tx\r\n\r\n", &used),
                  TSE_HC_ESTABLISHED);
        TT_ASSERT(strcmp(tse_hc_reason(&hc), "caf?? x") == 0);
    }
}

TT_TEST(status_errors_with_reason)
{
    tse_hc_params p = base_params();
    size_t used;
    char longr[400];

    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", &used),
              TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(tse_hc_status(&hc), 403);
    TT_ASSERT(strcmp(tse_hc_reason(&hc), "Forbidden") == 0);
    /* sticky */
    TT_EQ_INT(feed("HTTP/1.1 200 OK\r\n\r\n", &used), TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(used, 0);

    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.0 502 Bad Gateway\r\n\r\n", &used), TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(tse_hc_status(&hc), 502);
    TT_ASSERT(strcmp(tse_hc_reason(&hc), "Bad Gateway") == 0);

    /* reason truncated to TSE_HC_MAX_REASON - 1 */
    memcpy(longr, "HTTP/1.1 503 ", 13);
    memset(longr + 13, 'R', 300);
    memcpy(longr + 313, "\r\n\r\n", 5);
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed(longr, &used), TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(strlen(tse_hc_reason(&hc)), TSE_HC_MAX_REASON - 1);
    TT_EQ_INT(tse_hc_status(&hc), 503);

    /* 101 without Upgrade is not an interim we can skip */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 101 Switching Protocols\r\n\r\n", &used),
              TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(tse_hc_status(&hc), 101);
    /* 3xx is not followed */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 302 Found\r\nLocation: http://x/\r\n\r\n", &used),
              TSE_ERR_PROXY_STATUS);
}

TT_TEST(malformed)
{
    static const char *bad[] = {
        "HTTP/0.9 200 OK\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.10 200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n",
        "<html>\n",
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: v\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",    /* obs-fold */
        "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",       /* bare CR */
        "HTTP/1.1 200 OK\r\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",      /* CTL in value */
        "HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n",               /* CTL in reason */
        "HTTP/1.1 100 Continue\r\n\r\nJUNK\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tse_hc_params p = base_params();
        size_t used = 0, used1 = 0;
        int r, r1;
        tse_hc_init(&hc, &p);
        r = feed(bad[i], &used);
        tse_hc_init(&hc, &p);
        r1 = feed_bytewise(bad[i], strlen(bad[i]), &used1);
        if (r != TSE_ERR_PROXY_MALFORMED || r1 != r || used1 != used) {
            fprintf(stderr, "case %zu: r=%d r1=%d used=%zu/%zu\n", i, r, r1,
                    used, used1);
            TT_ASSERT(0);
        }
    }
    { /* NUL byte (cannot be in a C string literal test above) */
        tse_hc_params p = base_params();
        const char s[] = "HTTP/1.1 200 OK\r\nA: \0b\r\n\r\n";
        size_t used;
        tse_hc_init(&hc, &p);
        TT_EQ_INT(tse_hc_feed(&hc, (const uint8_t *)s, sizeof s - 1, &used),
                  TSE_ERR_PROXY_MALFORMED);
        TT_EQ_INT(used, 21); /* up to and including the NUL */
    }
}

TT_TEST(too_large)
{
    static char big[TSE_HC_MAX_HEAD + 64];
    tse_hc_params p = base_params();
    size_t used, n;

    /* a head of exactly TSE_HC_MAX_HEAD bytes is accepted */
    n = 0;
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    n = 20;
    memset(big + n, 'v', TSE_HC_MAX_HEAD - n - 4);
    n = TSE_HC_MAX_HEAD - 4;
    memcpy(big + n, "\r\n\r\n", 4);
    n += 4;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(tse_hc_feed(&hc, (uint8_t *)big, n, &used), TSE_HC_ESTABLISHED);
    TT_EQ_INT(used, TSE_HC_MAX_HEAD);
    /* one more byte is not */
    memmove(big + 21, big + 20, n - 20);
    n++;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(tse_hc_feed(&hc, (uint8_t *)big, n, &used), TSE_ERR_PROXY_TOO_LARGE);
    TT_EQ_INT(used, TSE_HC_MAX_HEAD + 1);
    /* an endless stream of 1xx heads counts together */
    {
        const char *c100 = "HTTP/1.1 100 Continue\r\n\r\n";
        int r = TSE_HC_NEED_MORE;
        tse_hc_init(&hc, &p);
        for (int i = 0; i < 1000 && r == TSE_HC_NEED_MORE; i++)
            r = feed(c100, &used);
        TT_EQ_INT(r, TSE_ERR_PROXY_TOO_LARGE);
    }
}

TT_TEST(eof_cases)
{
    tse_hc_params p = base_params();
    size_t used;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_ERR_PROXY_CLOSED);
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 200 Connection est", &used), TSE_HC_NEED_MORE);
    TT_EQ_INT(used, 27);
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_ERR_PROXY_CLOSED);
    TT_EQ_INT(feed("ablished\r\n\r\n", &used), TSE_ERR_PROXY_CLOSED); /* sticky */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 200 OK\r\nA: b\r\n", &used), TSE_HC_NEED_MORE);
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_ERR_PROXY_CLOSED);
}

/* ---------------------------------------------------------------- */
/* 407 handling                                                      */

TT_TEST(basic_squid_resend_then_200)
{
    tse_hc_params p = base_params();
    const char *exp =
        "CONNECT tscf.example.com:443 HTTP/1.1\r\n"
        "Host: tscf.example.com:443\r\n"
        "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n";
    size_t used;
    p.user = "Aladdin";
    p.pass = "open sesame";
    tse_hc_init(&hc, &p);
    TT_ASSERT(request() > 0);
    TT_EQ_INT(feed(squid_407_basic, &used), TSE_HC_RESEND);
    TT_EQ_INT(used, strlen(squid_407_basic));
    TT_EQ_INT(tse_hc_status(&hc), 407);
    TT_EQ_INT(request(), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
    TT_EQ_INT(feed("HTTP/1.1 200 Connection established\r\n\r\n", &used),
              TSE_HC_ESTABLISHED);
}

TT_TEST(basic_body_split_and_bytewise)
{
    tse_hc_params p = base_params();
    size_t used, hl = strlen(squid_407_basic) - 10;
    p.user = "Aladdin";
    p.pass = "open sesame";
    /* head, then the body in two pieces, then the next reply glued */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(tse_hc_feed(&hc, (const uint8_t *)squid_407_basic, hl, &used),
              TSE_HC_NEED_MORE);
    TT_EQ_INT(used, hl);
    TT_EQ_INT(feed("0123", &used), TSE_HC_NEED_MORE);
    TT_EQ_INT(used, 4);
    TT_EQ_INT(feed("456789HTTP/1.1 200 OK\r\n\r\n", &used), TSE_HC_RESEND);
    TT_EQ_INT(used, 6); /* the rest belongs to the next response */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed_bytewise(squid_407_basic, strlen(squid_407_basic), &used),
              TSE_HC_RESEND);
    TT_EQ_INT(used, strlen(squid_407_basic));
    /* EOF in the middle of the body: the answer is retried elsewhere */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(tse_hc_feed(&hc, (const uint8_t *)squid_407_basic, hl + 3, &used),
              TSE_HC_NEED_MORE);
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_HC_RECONNECT);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strstr(req, "Proxy-Authorization: Basic ") != NULL);
}

TT_TEST(basic_user_with_colon_rejected)
{
    tse_hc_params p = base_params();
    size_t used;
    p.user = "a:b";
    p.pass = "x";
    tse_hc_init(&hc, &p);
    TT_ASSERT(request() > 0); /* no auth yet: fine */
    TT_EQ_INT(feed(squid_407_basic, &used), TSE_HC_RESEND);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
}

TT_TEST(reconnect_cases)
{
    static const char *rc[] = {
        /* Connection: close */
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 5\r\n"
        "Connection: close\r\n\r\n",
        /* Proxy-Connection: close, in a list, odd case */
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n"
        "Proxy-Connection: foo, CLOSE\r\n\r\n",
        /* tinyproxy: HTTP/1.0, no keep-alive, body until close */
        "HTTP/1.0 407 Proxy Authentication Required\r\n"
        "Server: tinyproxy/1.11.1\r\nContent-Type: text/html\r\n"
        "Proxy-Authenticate: Basic realm=\"tinyproxy\"\r\n"
        "Connection: close\r\n\r\n",
        /* HTTP/1.0 with a length but no keep-alive */
        "HTTP/1.0 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 3\r\n\r\n",
        /* HTTP/1.1 without any length: body until close */
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\n\r\n",
        /* chunked */
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\n"
        "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        /* conflicting / invalid lengths */
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\n"
        "Content-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\n"
        "Content-Length: 99999999999999999999999\r\n\r\n",
        /* longer body than we care to skip */
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 65537\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
        tse_hc_params p = base_params();
        size_t used = 0;
        int r;
        p.user = "u";
        p.pass = "p";
        tse_hc_init(&hc, &p);
        TT_ASSERT(request() > 0);
        r = feed(rc[i], &used);
        if (r != TSE_HC_RECONNECT || used != strlen(rc[i])) {
            fprintf(stderr, "case %zu: r=%d used=%zu\n", i, r, used);
            TT_ASSERT(0);
        }
        /* the reconnect carries the credentials; a 200 follows */
        TT_ASSERT(request() > 0);
        TT_ASSERT(strstr(req, "Proxy-Authorization: Basic dTpw\r\n") != NULL);
        TT_EQ_INT(feed("HTTP/1.0 200 OK\r\n\r\n", &used), TSE_HC_ESTABLISHED);
    }
    { /* HTTP/1.0 with keep-alive and a length: same connection */
        tse_hc_params p = base_params();
        size_t used;
        const char *s = "HTTP/1.0 407 Proxy Authentication Required\r\n"
                        "Proxy-Authenticate: Basic realm=\"p\"\r\n"
                        "Content-Length: 2\r\nProxy-Connection: Keep-Alive\r\n\r\nab";
        p.user = "u";
        p.pass = "p";
        tse_hc_init(&hc, &p);
        TT_EQ_INT(feed(s, &used), TSE_HC_RESEND);
        TT_EQ_INT(used, strlen(s));
    }
}

TT_TEST(resend_then_eof_reconnects_once)
{
    tse_hc_params p = base_params();
    size_t used;
    p.user = "Aladdin";
    p.pass = "open sesame";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed(squid_407_basic, &used), TSE_HC_RESEND);
    TT_ASSERT(request() > 0);
    /* the proxy closed instead of answering (its idle timer) */
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_HC_RECONNECT);
    TT_ASSERT(request() > 0);
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_ERR_PROXY_CLOSED);
    /* but once the proxy started answering, EOF is just EOF */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed(squid_407_basic, &used), TSE_HC_RESEND);
    TT_ASSERT(request() > 0);
    TT_EQ_INT(feed("HTTP/1.1 2", &used), TSE_HC_NEED_MORE);
    TT_EQ_INT(tse_hc_on_close(&hc), TSE_ERR_PROXY_CLOSED);
}

TT_TEST(auth_failed_required_scheme)
{
    tse_hc_params p = base_params();
    size_t used;
    /* second 407 after credentials */
    p.user = "Aladdin";
    p.pass = "wrong";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed(squid_407_basic, &used), TSE_HC_RESEND);
    TT_ASSERT(request() > 0);
    TT_EQ_INT(feed(squid_407_basic, &used), TSE_ERR_PROXY_AUTH_FAILED);
    TT_EQ_INT(tse_hc_status(&hc), 407);
    /* tinyproxy: 407 with Connection: close, then 401 for a wrong password */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.0 407 Proxy Authentication Required\r\n"
                   "Proxy-Authenticate: Basic realm=\"Tinyproxy\"\r\n"
                   "Connection: close\r\n\r\n", &used), TSE_HC_RECONNECT);
    TT_ASSERT(request() > 0);
    TT_EQ_INT(feed("HTTP/1.0 401 Unauthorized\r\nConnection: close\r\n\r\n", &used),
              TSE_ERR_PROXY_AUTH_FAILED);
    TT_EQ_INT(tse_hc_status(&hc), 401);
    /* a 401 without credentials sent is just a status */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.0 401 Unauthorized\r\n\r\n", &used), TSE_ERR_PROXY_STATUS);
    /* no credentials */
    p.user = NULL;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed(squid_407_basic, &used), TSE_ERR_PROXY_AUTH_REQUIRED);
    /* only NTLM / Negotiate */
    p.user = "u";
    p.pass = "p";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 Proxy Authentication Required\r\n"
                   "Proxy-Authenticate: NTLM\r\n"
                   "Proxy-Authenticate: Negotiate\r\n"
                   "Proxy-Authenticate: Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg==\r\n"
                   "Content-Length: 0\r\n\r\n", &used),
              TSE_ERR_PROXY_AUTH_SCHEME);
    /* no challenge at all */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 Proxy Authentication Required\r\n"
                   "Content-Length: 0\r\n\r\n", &used),
              TSE_ERR_PROXY_AUTH_SCHEME);
    /* Digest variants we cannot answer */
    {
        static const char *unsup[] = {
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256, qop=\"auth\"",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            "Digest realm=\"r\", qop=\"auth\"",                 /* no nonce */
            "Digest nonce=\"n\", qop=\"auth\"",                 /* no realm */
            "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess", /* no qop */
            "Digest realm=\"r\", realm=\"s\", nonce=\"n\"",      /* duplicate */
            "Digest realm=\"r, nonce=\"n\"",                    /* unterminated */
            "Bearer realm=\"r\"",
            "Basic\"x\"",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int x\"",
            "Digest realm=\"r\", nonce=\"n\", qop=\"\"",
            "Digest realm=\"r\", nonce=\"n\", qop=\"authx\"",
            "Digest nonce=\"n\", realm=\"unterminated",
            "Digest nonce=\"n\", realm=\"esc at end\\\"",
            "Digest realm=, nonce=\"n\"",
            "Digest nonce=\"n\", realm=, qop=auth",
            "\"quoted\", Basic realm=\"x\"",
            "=x, Basic realm=\"x\"",
            "Digest realm=\"r\" nonce=\"n\"",
        };
        for (size_t i = 0; i < sizeof unsup / sizeof unsup[0]; i++) {
            char buf[512];
            size_t l1 = strlen("HTTP/1.1 407 X\r\nProxy-Authenticate: ");
            memcpy(buf, "HTTP/1.1 407 X\r\nProxy-Authenticate: ", l1);
            memcpy(buf + l1, unsup[i], strlen(unsup[i]));
            memcpy(buf + l1 + strlen(unsup[i]), "\r\n\r\n", 5);
            tse_hc_init(&hc, &p);
            if (feed(buf, &used) != TSE_ERR_PROXY_AUTH_SCHEME) {
                fprintf(stderr, "unsupported case %zu accepted\n", i);
                TT_ASSERT(0);
            }
        }
    }
    /* a broken field does not hide a good challenge in another field;
     * qop lists are parsed as lists */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: \"garbage\r\n"
                   "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n\", "
                   "qop=\" auth-int , auth \"\r\nContent-Length: 0\r\n\r\n", &used),
              TSE_HC_RESEND);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strstr(req, "qop=auth, nc=00000001") != NULL);
    /* Connection tokens are a list; "close" inside another token is not close */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: Basic realm=\"r\"\r\n"
                   "Connection: foo bar, notclose, close-ish\r\nContent-Length: 0\r\n\r\n",
                   &used), TSE_HC_RESEND);
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: Basic realm=\"r\"\r\n"
                   "Connection: foo bar, Close\r\nContent-Length: 0\r\n\r\n",
                   &used), TSE_HC_RECONNECT);
    /* a 407 with Proxy-Authenticate on a non-407 is ignored */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 200 OK\r\nProxy-Authenticate: Basic\r\n\r\n", &used),
              TSE_HC_ESTABLISHED);
}

/* Runs a 407 with the given challenge header lines (already CRLF-ended)
 * for Mufasa, then writes the follow-up request into req. */
static int digest_round(const char *challenges, const char *host)
{
    static char buf[2048];
    tse_hc_params p = base_params();
    size_t used, n = 0;
    const char *h1 = "HTTP/1.1 407 Proxy Authentication Required\r\n";
    const char *h2 = "Content-Length: 0\r\n\r\n";
    int r;
    if (host)
        p.target_host = host;
    p.user = "Mufasa";
    p.pass = "Circle of Life";
    memcpy(buf, h1, strlen(h1));
    n = strlen(h1);
    memcpy(buf + n, challenges, strlen(challenges));
    n += strlen(challenges);
    memcpy(buf + n, h2, strlen(h2) + 1);
    tse_hc_init(&hc, &p);
    r = request();
    if (r < 0)
        return r;
    r = feed(buf, &used);
    if (r != TSE_HC_RESEND)
        return r;
    return request();
}

#define NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define OPAQUE "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
#define REALM "http-auth@example.org"
#define CNONCE "000102030405060708090a0b0c0d0e0f"
#define REQ_HEAD "CONNECT tscf.example.com:443 HTTP/1.1\r\nHost: tscf.example.com:443\r\n"

TT_TEST(digest_connect_sha256_preferred)
{
    /* RFC 7616 3.9.1's challenge pair, plus Basic, spread over fields */
    const char *ch =
        "Proxy-Authenticate: Basic realm=\"" REALM "\"\r\n"
        "Proxy-Authenticate: Digest realm=\"" REALM "\", qop=\"auth, auth-int\", "
        "algorithm=MD5, nonce=\"" NONCE "\", opaque=\"" OPAQUE "\"\r\n"
        "Proxy-Authenticate: Digest realm=\"" REALM "\", qop=\"auth, auth-int\", "
        "algorithm=SHA-256, nonce=\"" NONCE "\", opaque=\"" OPAQUE "\"\r\n";
    const char *exp = REQ_HEAD
        "Proxy-Authorization: Digest username=\"Mufasa\", realm=\"" REALM "\", "
        "nonce=\"" NONCE "\", uri=\"tscf.example.com:443\", algorithm=SHA-256, "
        "qop=auth, nc=00000001, cnonce=\"" CNONCE "\", "
        "response=\"43c2a23687efaa0f8d682c22f59e225657807e704710fced8ca511d116796e15\", "
        "opaque=\"" OPAQUE "\"\r\n\r\n";
    ent_calls = 0;
    TT_EQ_INT(digest_round(ch, NULL), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
    TT_EQ_INT(ent_calls, 1);
    /* the same three challenges in one field, SHA-256 first, odd case */
    TT_EQ_INT(digest_round(
        "Proxy-Authenticate: dIgEsT realm=\"" REALM "\", qop=\"auth, auth-int\", "
        "algorithm=sha-256, nonce=\"" NONCE "\", opaque=\"" OPAQUE "\", "
        "Digest realm=\"" REALM "\", qop=\"auth\", algorithm=MD5, nonce=\"x\", "
        "BASIC realm=\"x\"\r\n", NULL), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
}

TT_TEST(digest_connect_md5)
{
    const char *ch =
        "Proxy-Authenticate: Negotiate, NTLM, Basic realm=\"x\", "
        "Digest realm=\"" REALM "\",qop=auth,nonce=\"" NONCE "\" , "
        "stale=FALSE, domain=\"/\"\r\n";
    const char *exp = REQ_HEAD
        "Proxy-Authorization: Digest username=\"Mufasa\", realm=\"" REALM "\", "
        "nonce=\"" NONCE "\", uri=\"tscf.example.com:443\", algorithm=MD5, "
        "qop=auth, nc=00000001, cnonce=\"" CNONCE "\", "
        "response=\"b90bf8a23be49a1d096dea17dabd85a8\"\r\n\r\n";
    TT_EQ_INT(digest_round(ch, NULL), strlen(exp));
    TT_ASSERT(strcmp(req, exp) == 0);
}

TT_TEST(digest_equal_rank_keeps_first)
{
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"r\", nonce=\"first\"\r\n"
                           "Proxy-Authenticate: Digest realm=\"r\", nonce=\"second\"\r\n",
                           NULL) > 0);
    TT_ASSERT(strstr(req, "nonce=\"first\"") != NULL);
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"r\", nonce=\"first\", "
                           "Digest realm=\"r\", nonce=\"second\"\r\n", NULL) > 0);
    TT_ASSERT(strstr(req, "nonce=\"first\"") != NULL);
}

TT_TEST(digest_variants)
{
    /* RFC 2069 form (no qop): no cnonce, no nc, no entropy needed */
    ent_calls = 0;
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"" REALM
                           "\", nonce=\"" NONCE "\"\r\n", NULL) > 0);
    TT_ASSERT(strstr(req, "response=\"04388ea973a469d722720cd767e6a85f\"\r\n") != NULL);
    TT_ASSERT(strstr(req, "cnonce") == NULL && strstr(req, "nc=") == NULL);
    TT_EQ_INT(ent_calls, 0);
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"" REALM
                           "\", nonce=\"" NONCE "\", algorithm=SHA-256\r\n", NULL) > 0);
    TT_ASSERT(strstr(req, "response=\"437b7bbecea880e7d0af2b5a49ef4531e9dd2a9e63b0777257e01c4c6f98e581\"") != NULL);
    /* -sess */
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"" REALM
                           "\", nonce=\"" NONCE "\", algorithm=MD5-sess, qop=\"auth\"\r\n",
                           NULL) > 0);
    TT_ASSERT(strstr(req, "algorithm=MD5-sess, ") != NULL);
    TT_ASSERT(strstr(req, "response=\"24184bae2c7fd803a5c41db47cb7702a\"") != NULL);
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"" REALM
                           "\", nonce=\"" NONCE "\", algorithm=SHA-256-sess, qop=\"auth\"\r\n",
                           NULL) > 0);
    TT_ASSERT(strstr(req, "response=\"e24e7ab9a9c4b022e4ad60365e27ae737a1e8cf7ca5233bf714d382e2dfc43ca\"") != NULL);
    /* userhash (RFC 7616 3.4.4): the response still uses the real name */
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"" REALM
                           "\", nonce=\"" NONCE "\", algorithm=SHA-256, qop=\"auth\", "
                           "userhash=true\r\n", NULL) > 0);
    TT_ASSERT(strstr(req, "username=\"a947aad205e80e429958a387394944c6b496301e79f89d35a4cc23b6ee12b5b6\"") != NULL);
    TT_ASSERT(strstr(req, "response=\"43c2a23687efaa0f8d682c22f59e225657807e704710fced8ca511d116796e15\"") != NULL);
    TT_ASSERT(strstr(req, ", userhash=true\r\n") != NULL);
    /* escaped realm, IPv6 target, RFC 2069 */
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"a\\\"b\\\\c\", nonce=\""
                           NONCE "\"\r\n", "2001:db8::1") > 0);
    TT_ASSERT(strstr(req, "realm=\"a\\\"b\\\\c\", ") != NULL);
    TT_ASSERT(strstr(req, "uri=\"[2001:db8::1]:443\"") != NULL);
    TT_ASSERT(strstr(req, "response=\"1f11d0346faa6eab8a3dd8b85f5b8b93\"") != NULL);
    /* entropy failure with qop */
    ent_fail = 1;
    TT_EQ_INT(digest_round("Proxy-Authenticate: Digest realm=\"r\", nonce=\"n\", "
                           "qop=\"auth\"\r\n", NULL), TSE_ERR_INVALID_ARG);
    ent_fail = 0;
    /* over-long nonce: challenge not supported */
    {
        char ch[400];
        memcpy(ch, "Proxy-Authenticate: Digest realm=\"r\", nonce=\"", 45);
        memset(ch + 45, 'n', TSE_HC_MAX_PARAM);
        memcpy(ch + 45 + TSE_HC_MAX_PARAM, "\"\r\n", 4);
        TT_EQ_INT(digest_round(ch, NULL), TSE_ERR_PROXY_AUTH_SCHEME);
        memcpy(ch + 45 + TSE_HC_MAX_PARAM - 1, "\"\r\n", 4);
        TT_ASSERT(digest_round(ch, NULL) > 0);
    }
}

TT_TEST(digest_stale_once)
{
    const char *stale =
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Digest realm=\"r\", nonce=\"new\", qop=\"auth\", stale=true\r\n"
        "Content-Length: 0\r\n\r\n";
    size_t used;
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"r\", nonce=\"old\", "
                           "qop=\"auth\"\r\n", NULL) > 0);
    TT_EQ_INT(feed(stale, &used), TSE_HC_RESEND);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strstr(req, "nonce=\"new\"") != NULL);
    TT_ASSERT(strstr(req, "nc=00000001") != NULL);
    TT_EQ_INT(feed(stale, &used), TSE_ERR_PROXY_AUTH_FAILED);
    /* without stale the second 407 fails at once */
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"r\", nonce=\"old\", "
                           "qop=\"auth\"\r\n", NULL) > 0);
    TT_EQ_INT(feed("HTTP/1.1 407 Proxy Authentication Required\r\n"
                   "Proxy-Authenticate: Digest realm=\"r\", nonce=\"new\", qop=\"auth\"\r\n"
                   "Content-Length: 0\r\n\r\n", &used), TSE_ERR_PROXY_AUTH_FAILED);
}

TT_TEST(reuse_after_established_preemptive)
{
    size_t used;
    const char *ch407 = "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Digest realm=\"r\", nonce=\"n2\", qop=\"auth\"\r\n"
        "Content-Length: 0\r\n\r\n";
    TT_ASSERT(digest_round("Proxy-Authenticate: Digest realm=\"r\", nonce=\"n1\", "
                           "qop=\"auth\"\r\n", NULL) > 0);
    TT_EQ_INT(feed("HTTP/1.1 200 OK\r\n\r\n", &used), TSE_HC_ESTABLISHED);
    /* the engine reconnects later with the same tse_hc */
    TT_ASSERT(request() > 0);
    TT_ASSERT(strstr(req, "nonce=\"n1\"") != NULL);
    TT_ASSERT(strstr(req, "nc=00000002") != NULL);
    /* that proxy forgot n1: the 407 is answered, not a failure */
    TT_EQ_INT(feed(ch407, &used), TSE_HC_RESEND);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strstr(req, "nonce=\"n2\"") != NULL);
    TT_ASSERT(strstr(req, "nc=00000001") != NULL);
    /* but credentials refused in answer to a 407 still fail */
    TT_EQ_INT(feed(ch407, &used), TSE_ERR_PROXY_AUTH_FAILED);
}

TT_TEST(bad_args)
{
    size_t used = 7;
    tse_hc_params p = base_params();
    tse_hc_init(&hc, &p);
    TT_EQ_INT(tse_hc_feed(&hc, NULL, 1, &used), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(used, 0);
    TT_EQ_INT(tse_hc_feed(&hc, (const uint8_t *)"x", 1, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_hc_feed(NULL, (const uint8_t *)"x", 1, &used), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_hc_feed(&hc, NULL, 0, &used), TSE_HC_NEED_MORE);
    TT_EQ_INT(tse_hc_request(NULL, (uint8_t *)req, 10), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_hc_on_close(NULL), TSE_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- */
/* Adversarial additions                                             */

/* A 407 with one Proxy-Authenticate field value and Content-Length: 0
 * for user "u"; returns the feed result, the follow-up request in req. */
static int challenge_round(const char *field_value)
{
    static char buf[2048];
    tse_hc_params p = base_params();
    size_t used;
    int r;
    p.user = "u";
    p.pass = "p";
    snprintf(buf, sizeof buf, "HTTP/1.1 407 X\r\nProxy-Authenticate: %s\r\nContent-Length: 0\r\n\r\n",
             field_value);
    tse_hc_init(&hc, &p);
    r = feed(buf, &used);
    if (r == TSE_HC_RESEND && request() <= 0)
        return -1;
    return r;
}

TT_TEST(digest_core_every_null_and_scratch_step)
{
    char scratch[512], out[65], uri[120];
    static const int ok = TSE_OK;
    const char *a[8] = {"u", "r", "p", "GET", "/", "n", "00000001", "c"};
    int k;
    /* each required argument NULL in turn */
    for (k = 0; k < 6; k++) {
        const char *v[6];
        memcpy(v, a, sizeof v);
        v[k] = NULL;
        TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, v[0], v[1], v[2], v[3], v[4],
                                         v[5], "00000001", "c", "auth", scratch, sizeof scratch, out),
                  TSE_ERR_INVALID_ARG);
    }
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", "/", "n",
                                     "00000001", "c", "auth", NULL, sizeof scratch, out),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", "/", "n",
                                     "00000001", "c", "auth", scratch, sizeof scratch, NULL),
              TSE_ERR_INVALID_ARG);
    /* qop needs nc and cnonce */
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", "/", "n",
                                     NULL, "c", "auth", scratch, sizeof scratch, out),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", "/", "n",
                                     "00000001", NULL, "auth", scratch, sizeof scratch, out),
              TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_hc_digest_response(99, 0, "u", "r", "p", "GET", "/", "n",
                                     "00000001", "c", "auth", scratch, sizeof scratch, out),
              TSE_ERR_INVALID_ARG);
    /* scratch large enough for A1 ("u:r:p") but not for the -sess step */
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 1, "u", "r", "p", "GET", "/", "n",
                                     "00000001", "c", "auth", scratch, 10, out),
              TSE_ERR_BUFFER_TOO_SMALL);
    /* ... nor for A2 with a long URI */
    memset(uri, 'x', sizeof uri - 1);
    uri[sizeof uri - 1] = '\0';
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", uri, "n",
                                     NULL, NULL, NULL, scratch, 60, out),
              TSE_ERR_BUFFER_TOO_SMALL);
    /* ... nor for the KD line (32 + nonce + nc + cnonce + qop + 32) */
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", "/", "n",
                                     "00000001", "c", "auth", scratch, 70, out),
              TSE_ERR_BUFFER_TOO_SMALL);
    /* exactly enough for the KD line: 32+1+1+1+8+1+1+1+4+1+32 = 83 */
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", "/", "n",
                                     "00000001", "c", "auth", scratch, 83, out), ok);
    TT_EQ_INT(strlen(out), 32);
    TT_EQ_INT(tse_hc_digest_response(TSE_HC_SCHEME_DIGEST_MD5, 0, "u", "r", "p", "GET", "/", "n",
                                     "00000001", "c", "auth", scratch, 82, out),
              TSE_ERR_BUFFER_TOO_SMALL);
}

TT_TEST(init_restart_null_and_empty_params)
{
    size_t used;
    tse_hc_restart(NULL);
    tse_hc_init(NULL, NULL);
    /* no parameters: no target, request refused */
    tse_hc_init(&hc, NULL);
    TT_EQ_INT(tse_hc_request(&hc, (uint8_t *)req, sizeof req), TSE_ERR_INVALID_ARG);
    /* the parser still works without parameters */
    TT_EQ_INT(feed("HTTP/1.1 200 OK\r\n\r\n", &used), TSE_HC_ESTABLISHED);
    TT_EQ_INT(tse_hc_status(&hc), 200);
    TT_EQ_INT(strcmp(tse_hc_reason(&hc), "OK"), 0);
}

TT_TEST(request_size_query_and_host_charset)
{
    tse_hc_params p = base_params();
    int n;
    tse_hc_init(&hc, &p);
    /* no buffer at all: too small, never a write through NULL */
    TT_EQ_INT(tse_hc_request(&hc, NULL, 0), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_hc_request(&hc, NULL, 5), TSE_ERR_INVALID_ARG);
    /* exact size and one less */
    n = request();
    TT_ASSERT(n > 0);
    TT_EQ_INT(tse_hc_request(&hc, (uint8_t *)req, (size_t)n - 1), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_hc_request(&hc, (uint8_t *)req, (size_t)n), n);
    /* names may hold '_' and '~'; IPv6 literals upper-case hex */
    p.target_host = "tscf_a~b.example";
    tse_hc_init(&hc, &p);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strncmp(req, "CONNECT tscf_a~b.example:443 HTTP/1.1\r\n", 39) == 0);
    p.target_host = "2001:DB8::AbCd";
    tse_hc_init(&hc, &p);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strncmp(req, "CONNECT [2001:DB8::AbCd]:443 HTTP/1.1\r\n", 39) == 0);
    /* but not 'g' in an IPv6 literal, nor '/' in a name */
    p.target_host = "2001:db8::g";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
    p.target_host = "a/b";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
}

TT_TEST(digest_qop_without_entropy_refused)
{
    tse_hc_params p = base_params();
    size_t used;
    p.user = "u";
    p.pass = "p";
    p.entropy = NULL;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n"
                   "Content-Length: 0\r\n\r\n", &used), TSE_HC_RESEND);
    TT_EQ_INT(request(), TSE_ERR_INVALID_ARG);
    /* RFC 2069 form needs no cnonce: fine without entropy */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
                   "Content-Length: 0\r\n\r\n", &used), TSE_HC_RESEND);
    TT_ASSERT(request() > 0);
    TT_ASSERT(strstr(req, "Proxy-Authorization: Digest username=\"u\"") != NULL);
}

TT_TEST(challenge_list_syntax)
{
    char ch[600];
    /* token68 with every token68 character, then Basic in the same field */
    TT_EQ_INT(challenge_round("Negotiate a-b.c_d~e+f/g==, Basic realm=\"x\""), TSE_HC_RESEND);
    TT_ASSERT(strstr(req, "Proxy-Authorization: Basic dTpw\r\n") != NULL);
    /* token68 without padding at the end of the value */
    TT_EQ_INT(challenge_round("Basic realm=\"x\", Negotiate abc"), TSE_HC_RESEND);
    TT_ASSERT(strstr(req, "Basic dTpw") != NULL);
    /* leading commas and HT, a scheme followed by a comma, a trailing comma */
    TT_EQ_INT(challenge_round(",\t, Digest, Basic realm=\"x\",\t"), TSE_HC_RESEND);
    TT_ASSERT(strstr(req, "Basic dTpw") != NULL);
    /* two challenges in one field: an unsupported Digest, then Basic */
    TT_EQ_INT(challenge_round("Digest realm=\"r\", algorithm=SHA-512-256, nonce=\"n\", Basic realm=\"x\""),
              TSE_HC_RESEND);
    TT_ASSERT(strstr(req, "Basic dTpw") != NULL);
    /* HT between parameters, lower-case names */
    TT_EQ_INT(challenge_round("Digest REALM=\"r\",\tNonce=\"n\""), TSE_HC_RESEND);
    TT_ASSERT(strstr(req, "Digest username=\"u\", realm=\"r\", nonce=\"n\"") != NULL);
    /* a parameter with an empty token value at the end of the field */
    TT_EQ_INT(challenge_round("Basic realm="), TSE_ERR_PROXY_AUTH_SCHEME);
    /* a scheme glued to a quoted string is not a challenge */
    TT_EQ_INT(challenge_round("Basic\trealm=\"x\""), TSE_HC_RESEND);
    /* realm and opaque at the parameter limit: refused; one below: kept */
    memcpy(ch, "Digest nonce=\"n\", realm=\"", 25);
    memset(ch + 25, 'r', TSE_HC_MAX_PARAM);
    memcpy(ch + 25 + TSE_HC_MAX_PARAM, "\"", 2);
    TT_EQ_INT(challenge_round(ch), TSE_ERR_PROXY_AUTH_SCHEME);
    memcpy(ch + 25 + TSE_HC_MAX_PARAM - 1, "\"", 2);
    TT_EQ_INT(challenge_round(ch), TSE_HC_RESEND);
    memcpy(ch, "Digest nonce=\"n\", realm=\"r\", opaque=\"", 37);
    memset(ch + 37, 'o', TSE_HC_MAX_PARAM);
    memcpy(ch + 37 + TSE_HC_MAX_PARAM, "\"", 2);
    TT_EQ_INT(challenge_round(ch), TSE_ERR_PROXY_AUTH_SCHEME);
    memcpy(ch + 37 + TSE_HC_MAX_PARAM - 1, "\"", 2);
    TT_EQ_INT(challenge_round(ch), TSE_HC_RESEND);
    TT_ASSERT(strstr(req, ", opaque=\"ooo") != NULL);
    /* an escaped realm at the limit counts unescaped characters */
    {
        size_t i, o = 25;
        memcpy(ch, "Digest nonce=\"n\", realm=\"", 25);
        for (i = 0; i < TSE_HC_MAX_PARAM - 1; i++) {
            ch[o++] = '\\';
            ch[o++] = 'q';
        }
        memcpy(ch + o, "\"", 2);
        TT_EQ_INT(challenge_round(ch), TSE_HC_RESEND);
        TT_ASSERT(strstr(req, "realm=\"qqqq") != NULL);
    }
}

TT_TEST(status_line_and_content_length_edges)
{
    tse_hc_params p = base_params();
    size_t used;
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.x 200 OK\r\n\r\n", &used), TSE_ERR_PROXY_MALFORMED);
    /* the same Content-Length twice is one length: the body is skipped and
     * the connection reused */
    p.user = "u";
    p.pass = "p";
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: Basic realm=\"r\"\r\n"
                   "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", &used), TSE_HC_RESEND);
    /* conflicting lengths: the body end is unknown, reconnect */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: Basic realm=\"r\"\r\n"
                   "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", &used), TSE_HC_RECONNECT);
    /* a bad length is not repaired by a good one after it */
    tse_hc_init(&hc, &p);
    TT_EQ_INT(feed("HTTP/1.1 407 X\r\nProxy-Authenticate: Basic realm=\"r\"\r\n"
                   "Content-Length: x\r\nContent-Length: 0\r\n\r\n", &used), TSE_HC_RECONNECT);
}

int main(void)
{
    TT_RUN(request_plain);
    TT_RUN(request_ipv4_port80);
    TT_RUN(request_ipv6);
    TT_RUN(request_ua_marker);
    TT_RUN(request_credentials_not_sent_before_407);
    TT_RUN(request_rejects_injection);
    TT_RUN(digest_rfc7616_vectors);
    TT_RUN(established_with_tls_glued);
    TT_RUN(established_bytewise);
    TT_RUN(established_variants);
    TT_RUN(status_errors_with_reason);
    TT_RUN(malformed);
    TT_RUN(too_large);
    TT_RUN(eof_cases);
    TT_RUN(basic_squid_resend_then_200);
    TT_RUN(basic_body_split_and_bytewise);
    TT_RUN(basic_user_with_colon_rejected);
    TT_RUN(reconnect_cases);
    TT_RUN(resend_then_eof_reconnects_once);
    TT_RUN(auth_failed_required_scheme);
    TT_RUN(digest_connect_sha256_preferred);
    TT_RUN(digest_connect_md5);
    TT_RUN(digest_equal_rank_keeps_first);
    TT_RUN(digest_variants);
    TT_RUN(digest_stale_once);
    TT_RUN(reuse_after_established_preemptive);
    TT_RUN(bad_args);
    TT_RUN(digest_core_every_null_and_scratch_step);
    TT_RUN(init_restart_null_and_empty_params);
    TT_RUN(request_size_query_and_host_charset);
    TT_RUN(digest_qop_without_entropy_refused);
    TT_RUN(challenge_list_syntax);
    TT_RUN(status_line_and_content_length_edges);
    return TT_DONE();
}
