/* The stream API's contracts (tse/stream.h): every refused setting with
 * its own error, every NULL and wrong-state call, the timeouts of each
 * phase on a virtual clock without a peer, the one allocation failing,
 * and state names.  The stream against a peer is test_stream.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_pki.h"
#include "tse/config.h"
#include "tse/stream.h"
#include "mem_count.h"
#include "tt.h"

static int events, downs, last_error;

static void on_event(void *user, const tse_stream_event *ev)
{
    (void)user;
    events++;
    if (ev->type == TSE_STREAM_EV_DOWN) {
        downs++;
        last_error = ev->error;
    }
}

static int entropy(void *user, uint8_t *buf, size_t len)
{
    size_t i;
    (void)user;
    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 37u + 11u);
    return 0;
}

static const tse_stream_callbacks CB = { on_event, entropy };

static void base(tse_stream_settings *s)
{
    const test_pki *pki = test_pki_get();
    tse_stream_settings_default(s);
    s->host = "sip.test";
    s->ca = (const uint8_t *)pki->ca_pem;
    s->ca_len = test_pki_len(pki->ca_pem);
}

TT_TEST(each_refused_setting_has_its_error)
{
    tse_stream_settings s;
    tse_tls_config *tc = NULL;
    tse_settings ts;
    tse_stream_settings_default(NULL); /* harmless */
    TT_EQ_INT(tse_stream_settings_check(NULL), TSE_ERR_INVALID_ARG);
    base(&s);
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_OK);
    TT_ASSERT(tse_stream_footprint(&s) > 2 * 4096);
    TT_EQ_INT(tse_stream_footprint(NULL), 0);
    s.host = NULL;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_INVALID_ARG);
    s.host = "";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_SERVER);
    base(&s);
    s.port = 0;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_SERVER);
    base(&s);
    s.proxy_host = "proxy.test";
    s.proxy_port = 0;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_PROXY);
    s.proxy_port = 3128;
    s.proxy_host = "";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_PROXY);
    s.proxy_host = "proxy.test";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_OK);
    s.proxy_user = "u";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_PROXY);
    s.proxy_user = NULL;
    s.proxy_pass = "p";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_PROXY);
    base(&s);
    s.send_buf = 255;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_QUEUE);
    s.send_buf = 256;
    s.recv_buf = 100;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_QUEUE);

    /* a shared TLS configuration with key material of its own */
    tse_settings_default(&ts);
    ts.ca = (const uint8_t *)test_pki_get()->ca_pem;
    ts.ca_len = test_pki_len(test_pki_get()->ca_pem);
    TT_EQ_INT(tse_tls_config_new(&tc, &ts, entropy, NULL, &TU_MEM, NULL), TSE_OK);
    base(&s);
    s.tls_config = tc;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS); /* ca */
    s.ca = NULL;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_OK);
    s.client_cert = (const uint8_t *)"x";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    s.client_cert = NULL;
    s.client_key = (const uint8_t *)"x";
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    s.client_key = NULL;
    s.tls_insecure_lab_only_skip_verify = 1;
    TT_EQ_INT(tse_stream_settings_check(&s), TSE_ERR_SETTING_TLS);
    s.tls_insecure_lab_only_skip_verify = 0;
    {
        tse_stream *st = NULL;
        TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
        TT_ASSERT(tse_stream_footprint(&s) < tse_stream_footprint(&(tse_stream_settings){
                                                  .host = "sip.test", .port = 443,
                                                  .send_buf = 4096, .recv_buf = 4096 }));
        tse_stream_del(st);
    }
    tse_tls_config_del(tc);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(new_refuses_bad_arguments)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    tse_stream_callbacks cb = CB;
    tse_mem mem = TU_MEM;
    base(&s);
    TT_EQ_INT(tse_stream_new(NULL, &s, &CB, &TU_MEM, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_new(&st, NULL, &CB, &TU_MEM, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_new(&st, &s, NULL, &TU_MEM, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, NULL, NULL), TSE_ERR_INVALID_ARG);
    mem.calloc = NULL;
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &mem, NULL), TSE_ERR_INVALID_ARG);
    mem = TU_MEM;
    mem.free = NULL;
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &mem, NULL), TSE_ERR_INVALID_ARG);
    cb.on_event = NULL;
    TT_EQ_INT(tse_stream_new(&st, &s, &cb, &TU_MEM, NULL), TSE_ERR_INVALID_ARG);
    cb = CB;
    cb.entropy = NULL;
    TT_EQ_INT(tse_stream_new(&st, &s, &cb, &TU_MEM, NULL), TSE_ERR_INVALID_ARG);
    s.port = 0;
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_ERR_SETTING_SERVER);
    base(&s);
    tu_mem_fail = 1;
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_ERR_NO_MEMORY);
    tu_mem_fail = 0;
    s.ca = (const uint8_t *)"not a certificate";
    s.ca_len = 18;
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_ERR_TLS_CONFIG);
    TT_ASSERT(st == NULL);
    TT_EQ_INT(tu_mem_live, 0);
    tse_stream_del(NULL);
}

TT_TEST(null_and_wrong_state_calls)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    const char *h = NULL;
    uint16_t port = 0;
    const uint8_t *p = NULL;
    uint8_t buf[16];
    base(&s);
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
    /* NULL everywhere */
    TT_EQ_INT(tse_stream_start(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_want(NULL), 0);
    TT_EQ_INT(tse_stream_connect_target(NULL, &h, &port), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_connect_target(st, NULL, &port), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_connect_target(st, &h, NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_transport_connected(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_transport_closed(NULL, 0, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_transport_closed(st, 1, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_recv_outer(NULL, buf, 1, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_recv_outer(st, NULL, 1, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_outer_pending(NULL, &p), 0);
    TT_EQ_INT(tse_stream_outer_pending(st, NULL), 0);
    tse_stream_outer_consume(NULL, 1, 0);
    TT_ASSERT(tse_stream_expiry(NULL) == TSE_TIME_NEVER);
    TT_EQ_INT(tse_stream_handle_expiry(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_send(NULL, buf, 1, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_send(st, NULL, 1, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_send_space(NULL), 0);
    TT_EQ_INT(tse_stream_recv(NULL, buf, sizeof buf, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_recv(st, NULL, sizeof buf, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_recv(st, buf, 0, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_readable(NULL), 0);
    TT_EQ_INT(tse_stream_close(NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_stream_get_state(NULL), TSE_STREAM_DOWN);
    TT_EQ_INT(tse_stream_last_error(NULL), TSE_ERR_INVALID_ARG);

    /* IDLE: nothing to connect, nothing to send or read */
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_IDLE);
    TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_ERR_STATE);
    TT_EQ_INT(tse_stream_transport_connected(st, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_stream_send(st, buf, 1, 0), TSE_ERR_STATE);
    TT_EQ_INT(tse_stream_send_space(st), 0);
    TT_EQ_INT(tse_stream_recv(st, buf, sizeof buf, 0), TSE_ERR_WOULD_BLOCK);
    TT_EQ_INT(tse_stream_recv_outer(st, buf, 1, 0), 1); /* no connection: taken, dropped */
    TT_ASSERT(tse_stream_expiry(st) == TSE_TIME_NEVER);
    TT_EQ_INT(tse_stream_handle_expiry(st, 5), TSE_OK);

    /* started: a connect is wanted, once */
    TT_EQ_INT(tse_stream_start(st, 1000), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, 1000), TSE_ERR_STATE);
    TT_ASSERT(tse_stream_want(st) != 0);
    TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_OK);
    TT_ASSERT(strcmp(h, "sip.test") == 0 && port == 443);
    TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_ERR_STATE);
    TT_EQ_INT(tse_stream_send(st, buf, 4097, 1000), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_stream_send(st, buf, 0, 1000), TSE_OK);
    TT_ASSERT(tse_stream_send_space(st) == 4096);

    /* closing before it is up ends it at once */
    TT_EQ_INT(tse_stream_close(st, 1001), TSE_OK);
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_DOWN);
    TT_EQ_INT(tse_stream_last_error(st), TSE_ERR_CLOSED);
    TT_EQ_INT(tse_stream_close(st, 1002), TSE_OK); /* again: nothing */
    TT_EQ_INT(tse_stream_send(st, buf, 1, 1002), TSE_ERR_STATE);
    TT_EQ_INT(tse_stream_recv(st, buf, sizeof buf, 1002), TSE_ERR_CLOSED);
    TT_EQ_INT(tse_stream_start(st, 1003), TSE_ERR_STATE);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

/* Each phase's timeout, with no peer at all. */
static void timeout_case(int proxy, int connect, uint32_t after, int want_err)
{
    tse_stream_settings s;
    tse_stream *st = NULL;
    const char *h = NULL;
    uint16_t port = 0;
    base(&s);
    s.connect_timeout_ms = 3000;
    s.proxy_timeout_ms = 4000;
    s.tls_timeout_ms = 5000;
    if (proxy) {
        s.proxy_host = "proxy.test";
        s.proxy_port = 3128;
    }
    downs = 0;
    TT_EQ_INT(tse_stream_new(&st, &s, &CB, &TU_MEM, NULL), TSE_OK);
    TT_EQ_INT(tse_stream_start(st, 1000), TSE_OK);
    TT_EQ_INT(tse_stream_connect_target(st, &h, &port), TSE_OK);
    TT_ASSERT(strcmp(h, proxy ? "proxy.test" : "sip.test") == 0);
    TT_EQ_INT(port, proxy ? 3128 : 443);
    if (connect)
        TT_EQ_INT(tse_stream_transport_connected(st, 1000), TSE_OK);
    TT_ASSERT(tse_stream_expiry(st) == 1000 + after);
    TT_EQ_INT(tse_stream_handle_expiry(st, 1000 + after - 1), TSE_OK);
    TT_EQ_INT(downs, 0); /* early: nothing */
    TT_EQ_INT(tse_stream_handle_expiry(st, 1000 + after), TSE_OK);
    TT_EQ_INT(downs, 1);
    TT_EQ_INT(last_error, want_err);
    TT_EQ_INT(tse_stream_get_state(st), TSE_STREAM_DOWN);
    TT_EQ_INT(tse_stream_last_error(st), want_err);
    tse_stream_del(st);
    TT_EQ_INT(tu_mem_live, 0);
}

TT_TEST(each_phase_times_out)
{
    timeout_case(0, 0, 3000, TSE_ERR_TRANSPORT_TIMEOUT);
    timeout_case(1, 1, 4000, TSE_ERR_PROXY_TIMEOUT);
    timeout_case(0, 1, 5000, TSE_ERR_TLS_TIMEOUT);
}

TT_TEST(state_names)
{
    TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_IDLE), TSE_CONFIG_STRINGS ? "IDLE" : "") == 0);
    if (TSE_CONFIG_STRINGS) {
        TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_CONNECTING), "CONNECTING") == 0);
        TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_PROXY), "PROXY") == 0);
        TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_TLS), "TLS") == 0);
        TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_UP), "UP") == 0);
        TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_CLOSING), "CLOSING") == 0);
        TT_ASSERT(strcmp(tse_stream_state_name(TSE_STREAM_DOWN), "DOWN") == 0);
        TT_ASSERT(strcmp(tse_stream_state_name((tse_stream_state)99), "?") == 0);
    }
}

int main(void)
{
    TT_RUN(each_refused_setting_has_its_error);
    TT_RUN(new_refuses_bad_arguments);
    TT_RUN(null_and_wrong_state_calls);
    TT_RUN(each_phase_times_out);
    TT_RUN(state_names);
    return TT_DONE();
}
