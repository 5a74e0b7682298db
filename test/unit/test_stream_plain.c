/* The stream without TLS (tse_stream_settings::plain_tcp, TURN over TCP):
 * every TLS setting refused with it, the bytes going out exactly as
 * queued and coming in exactly as fed, through the CONNECT proxy too,
 * back-pressure both ways, the peer's FIN as a clean end, close, and each
 * failure on a virtual clock.  The driver here is the test itself: no
 * sockets, no TLS peer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_pki.h"
#include "tse/config.h"
#include "tse/stream.h"
#include "mem_count.h"
#include "tt.h"

static int ups, datas, writables, downs, warnings, last_error, last_proxy_status;
static int up_via_proxy, up_tls_version;
static tse_stream *close_on; /* close this stream from its UP or DATA event */
static tse_stream_event_type close_at;
static const char *up_suite;

static void on_event(void *user, const tse_stream_event *ev)
{
    (void)user;
    if (close_on != NULL && ev->type == close_at)
        tse_stream_close(close_on, 0);
    switch (ev->type) {
    case TSE_STREAM_EV_UP:
        ups++;
        up_via_proxy = ev->via_proxy;
        up_tls_version = ev->tls_version;
        up_suite = ev->tls_suite;
        break;
    case TSE_STREAM_EV_DATA: datas++; break;
    case TSE_STREAM_EV_WRITABLE: writables++; break;
    case TSE_STREAM_EV_WARNING: warnings++; break;
    case TSE_STREAM_EV_DOWN:
        downs++;
        last_error = ev->error;
        last_proxy_status = ev->proxy_status;
        break;
    }
}

static int entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 29u + 5u);
    return 0;
}

static const tse_stream_callbacks CB = { on_event, entropy };

static void reset_counts(void)
{
    ups = datas = writables = downs = warnings = last_error = last_proxy_status = 0;
    up_via_proxy = up_tls_version = -1;
    up_suite = "unset";
}

static void base(tse_stream_settings *s, int proxy)
{
    tse_stream_settings_default(s);
    s->host = "turn.test";
    s->port = 3478;
    s->plain_tcp = 1;
    s->send_buf = 256;
    s->recv_buf = 256;
    if (proxy) {
        s->proxy_host = "proxy.test";
        s->proxy_port = 3128;
    }
}

/* A started stream whose TCP connection is open (and, through a proxy,
 * whose CONNECT was answered 200). */
static void open_stream(tse_stream **out, const tse_stream_settings *s, tse_time_ms now)
{
    tse_stream *st = NULL;
    const char *h = NULL;
    uint16_t port = 0;
    reset_counts();
    *out = NULL;
    TT_EQ_INT(tse_stream_new(&st, s, &CB, &TU_MEM, NULL), TSE_OK);
    *out = st;
    TT_EQ_INT(tse_stream_start(st, now), TSE_OK);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_CONNECT);
    TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_OK);
    TT_ASSERT(strcmp(h, s->proxy_host ? s->proxy_host : s->host) == 0);
    TT_EQ_INT(port, s->proxy_host ? s->proxy_port : s->port);
    TT_EQ_INT(tse_stream_transport_connected(st, now), TSE_OK);
}

/* Everything pending for the port, appended at out+*n, then consumed. */
static void drain(tse_stream *st, uint8_t *out, size_t cap, size_t *n, tse_time_ms now)
{
    for (int guard = 0; guard < 64; guard++) {
        const uint8_t *p = NULL;
        size_t k = tse_stream_outer_pending(st, &p);
        if (k == 0)
            return;
        TT_ASSERT(*n + k <= cap);
        memcpy(out + *n, p, k);
        *n += k;
        tse_stream_outer_consume(st, k, now);
    }
    TT_ASSERT(!"drain did not end");
}

TT_TEST(every_tls_setting_is_refused_with_plain_tcp)
{
    tse_stream_settings s, tls;
    tse_tls_config *tc = NULL;
    tse_settings ts;
    const test_pki *pki = test_pki_get();
    static const uint8_t pin[32];

    base(&s, 0);
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_OK);
    tse_stream_settings_default(&tls);
    TT_EQ_INT(tls.plain_tcp, 0); /* TLS is the default */

    s.ca = (const uint8_t *)pki->ca_pem;
    s.ca_len = test_pki_len(pki->ca_pem);
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    base(&s, 0);
    s.pin_sha256 = pin;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    base(&s, 0);
    s.client_cert = (const uint8_t *)"x";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    base(&s, 0);
    s.client_key = (const uint8_t *)"x";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    base(&s, 0);
    s.tls_insecure_lab_only_skip_verify = 1;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    base(&s, 0);
    s.sni = "turn.test";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    base(&s, 0);
    s.plain_tcp = 2; /* a boolean: anything else is a mistake */
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);

    tse_settings_default(&ts);
    ts.ca = (const uint8_t *)pki->ca_pem;
    ts.ca_len = test_pki_len(pki->ca_pem);
    TT_EQ_INT(tse_tls_config_new(&tc, &ts, entropy, NULL, &TU_MEM, NULL), TSE_OK);
    base(&s, 0);
    s.tls_config = tc;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    {
        tse_stream *st = NULL;
        TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_ERR_SETTING_TLS);
        TT_ASSERT(st == NULL);
    }
    tse_tls_config_del(tc);

    /* the other checks still apply */
    base(&s, 1);
    s.proxy_port = 0;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_PROXY);
    base(&s, 0);
    s.recv_buf = 255;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_QUEUE);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(no_tls_memory_and_the_allocation_failing)
{
    tse_stream_settings s, sp, tls;
    tse_stream *st = NULL;
    base(&s, 0);
    base(&sp, 1);
    tls = s;
    tls.plain_tcp = 0;
    tls.ca = (const uint8_t *)test_pki_get()->ca_pem;
    tls.ca_len = test_pki_len(test_pki_get()->ca_pem);
    /* no TLS configuration and no ciphertext buffer without a proxy; the
     * CONNECT request's buffer with one */
    TT_ASSERT(tse_stream_footprint(&s) + TSE_OUTER_BUF_SIZE <= tse_stream_footprint(&tls));
    TT_ASSERT(tse_stream_footprint(&sp) >= tse_stream_footprint(&s) + TSE_OUTER_BUF_SIZE);
    TT_ASSERT(tse_stream_footprint(&sp) < tse_stream_footprint(&tls));
    tu_mem_fail = 1;
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_ERR_NO_MEMORY);
    tu_mem_fail = 0;
    TT_ASSERT(st == NULL);
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
    TT_EQ_INT(tu_mem_live, 1); /* one allocation */
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(bytes_go_out_and_come_in_as_they_are)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    uint8_t out[1024], in[512], big[300];
    size_t n = 0;
    const uint8_t *p = NULL;
    int r;

    base(&s, 0);
    s.send_buf = 300;
    reset_counts();
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, 100), TSE_OK);
    /* queued before the connection: not for the port yet */
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"early ", 6, 100), TSE_OK);
    TT_EQ_INT(tse_stream_outer_pending(st, &p), 0);
    {
        const char *h = NULL;
        uint16_t port = 0;
        TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_OK);
        TT_ASSERT(strcmp(h, "turn.test") == 0 && port == 3478);
        TT_EQ_INT(tse_stream_want(st), 0); /* connecting */
        TT_EQ_INT(tse_stream_outer_pending(st, &p), 0);
    }
    TT_EQ_INT(tse_stream_transport_connected(st, 110), TSE_OK);
    TT_EQ_INT(ups, 1);
    TT_EQ_INT(up_via_proxy, 0);
    TT_EQ_INT(up_tls_version, 0);
    TT_ASSERT(up_suite == NULL);
    TT_EQ_INT(warnings, 0);
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_UP);
    TT_ASSERT(tse_stream_expiry(st) == TSE_TIME_NEVER);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_READ | TSE_WANT_WRITE);

    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"late", 4, 120), TSE_OK);
    /* the port takes part of it: the rest stays pending, in order */
    TT_EQ_INT(tse_stream_outer_pending(st, &p), 10);
    TT_ASSERT(memcmp(p, "early late", 10) == 0);
    tse_stream_outer_consume(st, 3, 121);
    drain(st, out, sizeof out, &n, 122);
    TT_EQ_INT(n, 7);
    TT_ASSERT(memcmp(out, "ly late", 7) == 0);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_READ);
    tse_stream_outer_consume(st, 5, 122); /* nothing pending: harmless */

    /* full: nothing taken, WRITABLE once the port took some */
    memset(big, 'b', sizeof big);
    TT_EQ_INT(tse_stream_send(st, big, 200, 130), TSE_OK);
    TT_EQ_INT(tse_stream_send(st, big, 200, 130), TSE_ERR_QUEUE_FULL);
    TT_EQ_INT(tse_stream_send_space(st), 100);
    TT_EQ_INT(tse_stream_send(st, big, 301, 130), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(writables, 0);
    tse_stream_outer_consume(st, 150, 131);
    TT_EQ_INT(writables, 1);
    TT_EQ_INT(tse_stream_send(st, big, 200, 132), TSE_OK);
    n = 0;
    drain(st, out, sizeof out, &n, 133);
    TT_EQ_INT(n, 250);
    TT_EQ_INT(writables, 1); /* no refusal since */

    /* in: what fits in the receive buffer (256), the rest left to the driver */
    memset(in, 'x', sizeof in);
    in[0] = 'A';
    r = tse_stream_recv_outer(st, in, 300, 140);
    TT_EQ_INT(r, 256);
    TT_EQ_INT(datas, 1);
    TT_EQ_INT(tse_stream_readable(st), 256);
    TT_EQ_INT(tse_stream_want(st) & TSE_WANT_READ, 0);
    TT_EQ_INT(tse_stream_recv_outer(st, in + 256, 44, 141), 0); /* still full */
    {
        uint8_t got[512];
        TT_EQ_INT(tse_stream_recv(st, got, 100, 142), 100);
        TT_EQ_INT(got[0], 'A');
        TT_ASSERT(tse_stream_want(st) & TSE_WANT_READ);
        TT_EQ_INT(tse_stream_recv_outer(st, in + 256, 44, 143), 44);
        TT_EQ_INT(tse_stream_recv(st, got, sizeof got, 144), 200);
        TT_EQ_INT(tse_stream_recv(st, got, sizeof got, 144), TSE_ERR_WOULD_BLOCK);
    }
    TT_EQ_INT(downs, 0);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

/* A send that fits the free space only when counted from the front of
 * the buffer (the port took a little, the end is short): every byte
 * arrives, in order (found by fuzz_stream: the tail was dropped). */
TT_TEST(a_send_into_a_partly_consumed_buffer_loses_nothing)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    uint8_t data[270], out[512];
    size_t n = 0;
    base(&s, 0);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13u + 1u);
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_send(st, data, 200, 1), TSE_OK);
    {
        const uint8_t *p = NULL;
        TT_EQ_INT(tse_stream_outer_pending(st, &p), 200);
        memcpy(out, p, 20);
        n = 20;
    }
    tse_stream_outer_consume(st, 20, 2); /* 20 free at the front, 56 at the end */
    TT_EQ_INT(tse_stream_send_space(st), 76);
    TT_EQ_INT(tse_stream_send(st, data + 200, 70, 3), TSE_OK);
    TT_EQ_INT(tse_stream_send_space(st), 6);
    drain(st, out, sizeof out, &n, 4);
    TT_EQ_INT(n, 270);
    TT_ASSERT(memcmp(out, data, 270) == 0);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

/* The application closes from its callbacks (allowed, stream.h). */
TT_TEST(closing_from_the_up_or_data_callback)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    uint8_t out[2048];
    size_t n = 0;
    static const char reply[] = "HTTP/1.1 200 OK\r\n\r\nglued bytes";

    /* DATA: the bytes are taken (of no use now), the stream closes */
    base(&s, 0);
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    close_on = st;
    close_at = TSE_STREAM_EV_DATA;
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)"hello", 5, 1), 5);
    close_on = NULL;
    TT_EQ_INT(datas, 1);
    TT_EQ_INT(last_error, TSE_ERR_CLOSED);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_DISCONNECT);
    TT_EQ_INT(tse_stream_readable(st), 5); /* what came stays readable */
    tse_stream_outer_consume(st, 3, 2);     /* DOWN: nothing to consume */
    tse_stream_del(st);

    /* UP through the proxy: the bytes glued after the reply are dropped */
    base(&s, 1);
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    drain(st, out, sizeof out, &n, 1);
    close_on = st;
    close_at = TSE_STREAM_EV_UP;
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)reply, sizeof reply - 1, 2),
              (int)(sizeof reply - 1));
    close_on = NULL;
    TT_EQ_INT(ups, 1);
    TT_EQ_INT(datas, 0);
    TT_EQ_INT(last_error, TSE_ERR_CLOSED);
    TT_EQ_INT(tse_stream_readable(st), 0);
    tse_stream_del(st);

    /* the port reporting sends before the stream is up: nothing happens */
    reset_counts();
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, 0), TSE_OK);
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"x", 1, 0), TSE_OK);
    tse_stream_outer_consume(st, 1, 0);
    TT_EQ_INT(tse_stream_send_space(st), 255);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(the_peers_fin_is_a_clean_end_and_what_came_stays_readable)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    uint8_t got[16];
    base(&s, 0);
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)"bye", 3, 5), 3);
    TT_EQ_INT(tse_stream_transport_closed(st, 0, 6), TSE_OK);
    TT_EQ_INT(downs, 1);
    TT_EQ_INT(last_error, TSE_ERR_STREAM_EOF);
    TT_EQ_INT(tse_stream_want(st), 0); /* the connection is already gone */
    TT_EQ_INT(tse_stream_recv(st, got, sizeof got, 7), 3);
    TT_ASSERT(memcmp(got, "bye", 3) == 0);
    TT_EQ_INT(tse_stream_recv(st, got, sizeof got, 7), TSE_ERR_STREAM_EOF);
    tse_stream_del(st);

    /* a reset is a failure, not an end */
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_transport_closed(st, TSE_ERR_TRANSPORT_RESET, 6), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_TRANSPORT_RESET);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(close_sends_what_is_queued_then_disconnects)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    uint8_t out[64];
    size_t n = 0;
    base(&s, 0);
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"last words", 10, 1), TSE_OK);
    TT_EQ_INT(tse_stream_close(st, 2), TSE_OK);
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_CLOSING);
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"x", 1, 2), TSE_ERR_STATE);
    TT_ASSERT(tse_stream_want(st) & TSE_WANT_WRITE);
    drain(st, out, sizeof out, &n, 3);
    TT_EQ_INT(n, 10); /* no close_notify or anything else after it */
    TT_ASSERT(memcmp(out, "last words", 10) == 0);
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_DOWN);
    TT_EQ_INT(last_error, TSE_ERR_CLOSED);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_DISCONNECT);
    TT_EQ_INT(tse_stream_transport_closed(st, 0, 4), TSE_OK);
    TT_EQ_INT(tse_stream_want(st), 0);
    TT_EQ_INT(downs, 1);
    tse_stream_del(st);

    /* nothing queued: closed at once */
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_close(st, 2), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_CLOSED);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_DISCONNECT);
    tse_stream_del(st);

    /* the port never takes the rest: the close is bounded by tls_timeout_ms */
    s.tls_timeout_ms = 700;
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"stuck", 5, 10), TSE_OK);
    TT_EQ_INT(tse_stream_close(st, 10), TSE_OK);
    TT_ASSERT(tse_stream_expiry(st) == 710);
    TT_EQ_INT(tse_stream_handle_expiry(st, 709), TSE_OK);
    TT_EQ_INT(downs, 0);
    TT_EQ_INT(tse_stream_handle_expiry(st, 710), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_CLOSED);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_DISCONNECT);
    {
        const uint8_t *p = NULL;
        TT_EQ_INT(tse_stream_outer_pending(st, &p), 0); /* DOWN: nothing more */
    }
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(through_the_proxy)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    uint8_t out[2048], got[64];
    size_t n = 0;
    const uint8_t *p = NULL;
    static const char reply[] = "HTTP/1.1 200 Connection established\r\n\r\nglued";

    base(&s, 1);
    open_stream(&st, &s, 50);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_PROXY);
    TT_EQ_INT(ups, 0);
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"stun", 4, 51), TSE_OK);
    /* the CONNECT request, and nothing of the application's yet */
    drain(st, out, sizeof out, &n, 52);
    out[n] = 0;
    TT_ASSERT(strncmp((const char *)out, "CONNECT turn.test:3478 HTTP/1.1\r\n", 33) == 0);
    TT_ASSERT(strstr((const char *)out, "stun") == NULL);
    TT_ASSERT(tse_stream_expiry(st) == 50 + 10000);
    /* the reply in two pieces; bytes after its head are the server's */
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)reply, 10, 60), 10);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)reply + 10, sizeof reply - 11, 61),
              (int)(sizeof reply - 11));
    TT_EQ_INT(ups, 1);
    TT_EQ_INT(up_via_proxy, 1);
    TT_EQ_INT(up_tls_version, 0);
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_UP);
    TT_EQ_INT(tse_stream_recv(st, got, sizeof got, 62), 5);
    TT_ASSERT(memcmp(got, "glued", 5) == 0);
    TT_EQ_INT(tse_stream_outer_pending(st, &p), 4);
    TT_ASSERT(memcmp(p, "stun", 4) == 0);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(the_proxy_refuses_or_asks_for_credentials)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    uint8_t out[4096];
    size_t n = 0;
    static const char forbidden[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    static const char auth[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                               "Proxy-Authenticate: Basic realm=\"lab\"\r\n"
                               "Content-Length: 0\r\n\r\n";
    static const char auth_close[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                                     "Proxy-Authenticate: Basic realm=\"lab\"\r\n"
                                     "Connection: close\r\nContent-Length: 0\r\n\r\n";
    static const char ok[] = "HTTP/1.1 200 OK\r\n\r\n";

    base(&s, 1);
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    drain(st, out, sizeof out, &n, 1);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)forbidden, sizeof forbidden - 1, 2),
              TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(last_error, TSE_ERR_PROXY_STATUS);
    TT_EQ_INT(last_proxy_status, 403);
    TT_EQ_INT(ups, 0);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_DISCONNECT);
    tse_stream_del(st);

    /* 407 on a kept connection: the request again, with credentials */
    s.proxy_user = "alice";
    s.proxy_pass = "secret";
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    n = 0;
    drain(st, out, sizeof out, &n, 1);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)auth, sizeof auth - 1, 2),
              (int)(sizeof auth - 1));
    n = 0;
    drain(st, out, sizeof out - 1, &n, 3);
    out[n] = 0;
    TT_ASSERT(strstr((const char *)out, "Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n") != NULL);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)ok, sizeof ok - 1, 4), (int)(sizeof ok - 1));
    TT_EQ_INT(ups, 1);
    tse_stream_del(st);

    /* 407 and the proxy closes: a new connection, the request with credentials */
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    n = 0;
    drain(st, out, sizeof out, &n, 1);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)auth_close, sizeof auth_close - 1, 2),
              (int)(sizeof auth_close - 1));
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_DISCONNECT);
    TT_EQ_INT(tse_stream_transport_closed(st, 0, 3), TSE_OK);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_CONNECT);
    {
        const char *h = NULL;
        uint16_t port = 0;
        TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_OK);
        TT_EQ_INT(tse_stream_transport_connected(st, 4), TSE_OK);
    }
    n = 0;
    drain(st, out, sizeof out - 1, &n, 5);
    out[n] = 0;
    TT_ASSERT(strncmp((const char *)out, "CONNECT ", 8) == 0);
    TT_ASSERT(strstr((const char *)out, "Proxy-Authorization: Basic ") != NULL);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)ok, sizeof ok - 1, 6), (int)(sizeof ok - 1));
    TT_EQ_INT(ups, 1);
    TT_EQ_INT(downs, 0);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

/* Each failure on a virtual clock: connect, CONNECT reply, dead peer. */
TT_TEST(each_failure_on_a_virtual_clock)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    const char *h = NULL;
    uint16_t port = 0;
    uint8_t out[2048];
    size_t n = 0;

    base(&s, 0);
    s.connect_timeout_ms = 3000;
    reset_counts();
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, 1000), TSE_OK);
    TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_OK);
    TT_ASSERT(tse_stream_expiry(st) == 4000);
    TT_EQ_INT(tse_stream_handle_expiry(st, 3999), TSE_OK);
    TT_EQ_INT(downs, 0);
    TT_EQ_INT(tse_stream_handle_expiry(st, 4000), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_TRANSPORT_TIMEOUT);
    tse_stream_del(st);

    /* refused */
    reset_counts();
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, 0), TSE_OK);
    TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_OK);
    TT_EQ_INT(tse_stream_transport_closed(st, TSE_ERR_TRANSPORT_REFUSED, 1), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_TRANSPORT_REFUSED);
    TT_EQ_INT(tse_stream_want(st), 0);
    tse_stream_del(st);

    /* no CONNECT reply */
    base(&s, 1);
    s.proxy_timeout_ms = 2500;
    open_stream(&st, &s, 100);
    TT_ASSERT(st != NULL);
    drain(st, out, sizeof out, &n, 100);
    TT_ASSERT(tse_stream_expiry(st) == 2600);
    TT_EQ_INT(tse_stream_handle_expiry(st, 2600), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_PROXY_TIMEOUT);
    tse_stream_del(st);

    /* the proxy closes before answering */
    open_stream(&st, &s, 100);
    TT_ASSERT(st != NULL);
    TT_EQ_INT(tse_stream_transport_closed(st, 0, 101), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_PROXY_CLOSED);
    tse_stream_del(st);

    /* dead peer: sent, then nothing back */
    base(&s, 0);
    s.dead_peer_ms = 900;
    open_stream(&st, &s, 0);
    TT_ASSERT(st != NULL);
    TT_ASSERT(tse_stream_expiry(st) == TSE_TIME_NEVER); /* nothing sent yet */
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"ping", 4, 100), TSE_OK);
    TT_ASSERT(tse_stream_expiry(st) == 1000);
    /* more sent meanwhile: the deadline counts from the first unanswered */
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"pong", 4, 200), TSE_OK);
    TT_ASSERT(tse_stream_expiry(st) == 1000);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)"p", 1, 500), 1); /* alive */
    TT_ASSERT(tse_stream_expiry(st) == TSE_TIME_NEVER);
    n = 0;
    drain(st, out, sizeof out, &n, 600);
    TT_EQ_INT(tse_stream_send(st, (const uint8_t *)"ping", 4, 700), TSE_OK);
    TT_EQ_INT(tse_stream_handle_expiry(st, 1599), TSE_OK);
    TT_EQ_INT(downs, 0);
    TT_EQ_INT(tse_stream_handle_expiry(st, 1600), TSE_OK);
    TT_EQ_INT(last_error, TSE_ERR_STREAM_DEAD_PEER);
    TT_EQ_INT(tse_stream_want(st), TSE_WANT_DISCONNECT);
    TT_EQ_INT(tse_stream_recv_outer(st, (const uint8_t *)"late", 4, 1601), 4); /* dropped */
    TT_EQ_INT(tse_stream_readable(st), 1);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

int main(void)
{
    TT_RUN(every_tls_setting_is_refused_with_plain_tcp);
    TT_RUN(no_tls_memory_and_the_allocation_failing);
    TT_RUN(bytes_go_out_and_come_in_as_they_are);
    TT_RUN(a_send_into_a_partly_consumed_buffer_loses_nothing);
    TT_RUN(closing_from_the_up_or_data_callback);
    TT_RUN(the_peers_fin_is_a_clean_end_and_what_came_stays_readable);
    TT_RUN(close_sends_what_is_queued_then_disconnects);
    TT_RUN(through_the_proxy);
    TT_RUN(the_proxy_refuses_or_asks_for_credentials);
    TT_RUN(each_failure_on_a_virtual_clock);
    return TT_DONE();
}
