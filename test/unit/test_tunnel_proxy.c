/* Engine: the outer path through an HTTP CONNECT proxy (mem_tscf's proxy
 * front): 200, glued TLS bytes, 407 Basic / Digest MD5 / Digest SHA-256,
 * failures and their error codes. */
#include <stdint.h>
#include <string.h>

#include "tse/tse.h"
#include "mem_tscf.h"
#include "tt.h"
#include "mt_fixture.h"

static void proxy_setup(int mode)
{
    mt_fix_setup(&F);
    F.cfg.proxy = mode;
    F.cfg.proxy_user = "alice";
    F.cfg.proxy_pass = "s3cret:with colon";
    F.s.proxy_host = "proxy.test";
    F.s.proxy_port = 3128;
    F.s.proxy_user = "alice";
    F.s.proxy_pass = "s3cret:with colon";
}

static int head_has(size_t i, const char *needle)
{
    const mt_seen *s = mem_tscf_seen(F.peer);
    return i < s->n_heads && strstr(s->heads[i], needle) != NULL;
}

/* Run until DOWN and check its error; returns the event (NULL on failure). */
static const mt_ev *down_with(int err)
{
    const mt_ev *e;
    if (!mt_run_until_event(&F.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN)) {
        mt_rec_dump(&F.rec);
        return NULL;
    }
    e = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_DOWN, 0);
    if (e->error != err) {
        mt_rec_dump(&F.rec);
        return NULL;
    }
    return e;
}

TT_TEST(proxy_200_up)
{
    const mt_ev *up;
    int saw_proxy_state = 0;
    size_t i;
    proxy_setup(MT_PROXY_200);
    F.s.proxy_user = NULL;
    F.s.proxy_pass = NULL;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_ASSERT(strcmp(F.d.last_host, "proxy.test") == 0);
    TT_EQ_INT(F.d.last_port, 3128);
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_heads, 1);
    /* RFC 9110 9.3.6: authority-form target, Host header */
    TT_ASSERT(strncmp(mem_tscf_seen(F.peer)->heads[0], "CONNECT tscf.test:443 HTTP/1.1\r\n", 32) == 0);
    TT_ASSERT(head_has(0, "\r\nHost: tscf.test:443\r\n"));
    TT_ASSERT(head_has(0, "\r\nUser-Agent: libtse/"));
    TT_ASSERT(!head_has(0, "Proxy-Authorization"));
    /* default: no IMS marker header (docs/engine.md) */
    TT_ASSERT(!head_has(0, "X-IMS"));
    up = mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 0);
    TT_ASSERT(up != NULL);
    TT_EQ_INT(up->config.via_proxy, 1);
    for (i = 0; i < F.rec.n_ev; i++) {
        if (F.rec.ev[i].type == TSE_EV_STATE && F.rec.ev[i].state == TSE_STATE_PROXY) saw_proxy_state = 1;
    }
    TT_ASSERT(saw_proxy_state);
    END();
}

TT_TEST(proxy_marker_and_user_agent)
{
    proxy_setup(MT_PROXY_200);
    F.s.proxy_marker_header = "X-IMS-Tunnel: tscf";
    F.s.user_agent = "ue-test/1";
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_ASSERT(head_has(0, "\r\nX-IMS-Tunnel: tscf\r\n"));
    TT_ASSERT(head_has(0, "\r\nUser-Agent: ue-test/1\r\n"));
    END();
}

TT_TEST(proxy_200_one_byte_chunks)
{
    proxy_setup(MT_PROXY_407_DIGEST_SHA256);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.chunk_to_peer = 1;
    F.d.chunk_to_engine = 1;
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(mem_tscf_seen(F.peer)->auth_ok, 1);
    TT_EQ_INT(F.d.stuck, 0);
    END();
}

/* The proxy's 200 and a TLS record in one read: the bytes after the head
 * belong to TLS.  A fatal alert there must surface as a TLS alert, not as a
 * malformed proxy reply and not be lost (which would hang the handshake). */
TT_TEST(proxy_200_with_tls_bytes_glued)
{
    static const uint8_t alert[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
    proxy_setup(MT_PROXY_200_GLUED);
    F.cfg.glue = alert;
    F.cfg.glue_len = sizeof(alert);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    /* 40 handshake_failure: a refusal, see fatal_alerts_are_named */
    TT_ASSERT(down_with(TSE_ERR_TLS_NO_COMMON) != NULL);
    /* the 200 itself was understood: TLS had started */
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_heads, 1);
    END();
}

/* Same, alert cut so that the 200 head and the first alert byte share a
 * read and the rest comes later. */
TT_TEST(proxy_200_glued_then_split)
{
    static const uint8_t alert[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
    proxy_setup(MT_PROXY_200_GLUED);
    F.cfg.glue = alert;
    F.cfg.glue_len = sizeof(alert);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.chunk_to_engine = 40; /* "HTTP/1.1 200 Connection established\r\n\r\n" is 41 */
    TT_ASSERT(down_with(TSE_ERR_TLS_NO_COMMON) != NULL);
    END();
}

/* Issue 11: a fatal alert in answer to the ClientHello is named in the
 * detail, and the refusals a user can act on get their own error and say
 * what the client offered (the alert is glued to the proxy's 200, the
 * first TLS bytes the engine sees). */
TT_TEST(fatal_alerts_are_named)
{
    static const struct {
        uint8_t desc;
        int err;
        const char *name;
        int offered;
    } rows[] = {
        { 40, TSE_ERR_TLS_NO_COMMON, "40 handshake_failure", 1 },
        { 71, TSE_ERR_TLS_NO_COMMON, "71 insufficient_security", 1 },
        { 70, TSE_ERR_TLS_VERSION, "70 protocol_version", 1 },
        { 47, TSE_ERR_TLS_ALERT, "47 illegal_parameter", 0 },
        { 48, TSE_ERR_TLS_ALERT, "48 unknown_ca", 0 },
        { 116, TSE_ERR_TLS_ALERT, "116 certificate_required", 0 },
        { 200, TSE_ERR_TLS_ALERT, "200 unknown alert", 0 },
    };
    size_t i;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint8_t alert[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0 };
        const mt_ev *e;
        alert[6] = rows[i].desc;
        proxy_setup(MT_PROXY_200_GLUED);
        F.cfg.glue = alert;
        F.cfg.glue_len = sizeof(alert);
        TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
        e = down_with(rows[i].err);
        TT_ASSERT(e != NULL);
        TT_ASSERT(e->has_detail);
        if (strstr(e->detail, rows[i].name) == NULL ||
            (strstr(e->detail, "offered TLS 1.2") != NULL) != rows[i].offered) {
            fprintf(stderr, "alert %u: detail '%s'\n", rows[i].desc, e->detail);
            TT_ASSERT(0);
        }
        END();
    }
}

/* Every alert description gets a name (RFC 8446 6.2 / RFC 5246 7.2), or
 * "unknown alert"; only 40, 70 and 71 change the error. */
TT_TEST(every_alert_description_is_named_or_unknown)
{
    static const uint8_t known[] = { 10, 20, 22, 40, 42, 43, 44, 45, 46, 47, 48, 49, 50,
                                     51, 70, 71, 80, 86, 90, 109, 110, 112, 116, 120 };
    unsigned d;
    for (d = 0; d < 256; d++) {
        uint8_t alert[7] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0 };
        const mt_ev *e;
        int is_known = memchr(known, (int)d, sizeof(known)) != NULL;
        int want = d == 40 || d == 71 ? TSE_ERR_TLS_NO_COMMON
                 : d == 70 ? TSE_ERR_TLS_VERSION : TSE_ERR_TLS_ALERT;
        alert[6] = (uint8_t)d;
        proxy_setup(MT_PROXY_200_GLUED);
        F.cfg.glue = alert;
        F.cfg.glue_len = sizeof(alert);
        TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
        e = down_with(want);
        TT_ASSERT(e != NULL && e->has_detail);
        if ((strstr(e->detail, "unknown alert") == NULL) != is_known) {
            fprintf(stderr, "alert %u: detail '%s'\n", d, e->detail);
            TT_ASSERT(0);
        }
        END();
    }
}

static void auth_ok_case(int mode, int close_after_407)
{
    const mt_seen *s;
    proxy_setup(mode);
    F.cfg.proxy_close_after_407 = close_after_407;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    if (!mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN)) mt_rec_dump(&F.rec);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    s = mem_tscf_seen(F.peer);
    if (s->auth_bad) fprintf(stderr, "auth: %s\n", s->auth_why);
    TT_EQ_INT(s->auth_ok, 1);
    TT_EQ_INT(s->auth_bad, 0);
    TT_EQ_INT(s->n_heads, 2);
    TT_ASSERT(!head_has(0, "Proxy-Authorization"));
    TT_ASSERT(head_has(1, "\r\nProxy-Authorization: "));
    /* keep-alive 407: the same connection; "Connection: close": a new one */
    TT_EQ_INT(s->conns, close_after_407 ? 2 : 1);
    TT_EQ_INT(F.d.connects, close_after_407 ? 2 : 1);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_DOWN), 0);
    END();
}

TT_TEST(proxy_407_basic_then_200) { auth_ok_case(MT_PROXY_407_BASIC, 0); }
TT_TEST(proxy_407_digest_md5_then_200) { auth_ok_case(MT_PROXY_407_DIGEST_MD5, 0); }
TT_TEST(proxy_407_digest_sha256_then_200) { auth_ok_case(MT_PROXY_407_DIGEST_SHA256, 0); }
TT_TEST(proxy_407_basic_connection_close_reconnects) { auth_ok_case(MT_PROXY_407_BASIC, 1); }
TT_TEST(proxy_407_digest_connection_close_reconnects) { auth_ok_case(MT_PROXY_407_DIGEST_MD5, 1); }

static void auth_final(int mode, const char *pass, int err)
{
    const mt_ev *e;
    proxy_setup(mode);
    F.s.proxy_pass = pass;
    if (pass == NULL) F.s.proxy_user = NULL;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    e = down_with(err);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->proxy_status, 407);
    mt_advance(&F.d, 600000);
    /* not retryable: CLOSED, never reconnected */
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_RECONNECT), 0);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 0);
    TT_EQ_INT(F.d.connected, 0);
    TT_EQ_INT(tse_tunnel_last_error(F.t), err);
}

TT_TEST(proxy_407_twice_auth_failed)
{
    auth_final(MT_PROXY_407_TWICE, "s3cret:with colon", TSE_ERR_PROXY_AUTH_FAILED);
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_heads, 2);
    TT_EQ_INT(mem_tscf_seen(F.peer)->auth_ok, 1); /* the credentials were right */
    TT_EQ_INT(F.d.connects, 1);
    END();
}

TT_TEST(proxy_407_wrong_password_auth_failed)
{
    auth_final(MT_PROXY_407_DIGEST_MD5, "wrong", TSE_ERR_PROXY_AUTH_FAILED);
    TT_EQ_INT(mem_tscf_seen(F.peer)->auth_bad, 1);
    END();
}

TT_TEST(proxy_407_without_credentials)
{
    auth_final(MT_PROXY_407_BASIC, NULL, TSE_ERR_PROXY_AUTH_REQUIRED);
    TT_EQ_INT(mem_tscf_seen(F.peer)->n_heads, 1);
    END();
}

TT_TEST(proxy_407_unsupported_scheme)
{
    static const char r[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                            "Proxy-Authenticate: Negotiate\r\n"
                            "Proxy-Authenticate: NTLM\r\n"
                            "Content-Length: 0\r\n\r\n";
    proxy_setup(MT_PROXY_RAW);
    F.cfg.proxy_raw = r;
    F.cfg.proxy_raw_len = sizeof(r) - 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(down_with(TSE_ERR_PROXY_AUTH_SCHEME) != NULL);
    END();
}

TT_TEST(proxy_403_status_and_reason)
{
    const mt_ev *e;
    proxy_setup(MT_PROXY_403);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    e = down_with(TSE_ERR_PROXY_STATUS);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->proxy_status, 403);
    TT_ASSERT(e->has_detail);
    TT_ASSERT(strcmp(e->detail, "Forbidden") == 0);
    /* a 4xx refusal is final: no reconnect loop against the proxy */
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_CLOSED);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_RECONNECT), 0);
    END();
}

TT_TEST(proxy_502_is_retried)
{
    static const char r[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
    const mt_ev *e;
    proxy_setup(MT_PROXY_RAW);
    F.cfg.proxy_raw = r;
    F.cfg.proxy_raw_len = sizeof(r) - 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    e = down_with(TSE_ERR_PROXY_STATUS);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->proxy_status, 502);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_BACKOFF);
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_RECONNECT), 1);
    END();
}

TT_TEST(proxy_garbage_is_malformed)
{
    proxy_setup(MT_PROXY_GARBAGE);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(down_with(TSE_ERR_PROXY_MALFORMED) != NULL);
    TT_EQ_INT(mem_tscf_seen(F.peer)->handshakes, 0);
    END();
}

TT_TEST(proxy_oversized_head_is_too_large)
{
    proxy_setup(MT_PROXY_OVERSIZED);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(down_with(TSE_ERR_PROXY_TOO_LARGE) != NULL);
    TT_EQ_INT(mem_tscf_seen(F.peer)->handshakes, 0);
    END();
}

TT_TEST(proxy_oversized_head_one_byte_at_a_time)
{
    proxy_setup(MT_PROXY_OVERSIZED);
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.chunk_to_engine = 1;
    TT_ASSERT(down_with(TSE_ERR_PROXY_TOO_LARGE) != NULL);
    END();
}

TT_TEST(proxy_silent_times_out)
{
    const mt_ev *e;
    proxy_setup(MT_PROXY_RAW);
    F.cfg.proxy_raw = "";
    F.cfg.proxy_raw_len = 0;
    F.s.proxy_timeout_ms = 4000;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    e = down_with(TSE_ERR_PROXY_TIMEOUT);
    TT_ASSERT(e != NULL);
    TT_EQ_INT(e->at, T0 + 4000);
    END();
}

TT_TEST(proxy_200_without_crlf_crlf_then_close)
{
    /* the proxy says half a head and drops the connection */
    static const char r[] = "HTTP/1.1 200 Connection established\r\n";
    proxy_setup(MT_PROXY_RAW);
    F.cfg.proxy_raw = r;
    F.cfg.proxy_raw_len = sizeof(r) - 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    mt_pump(&F.d);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_PROXY);
    TT_EQ_INT(tse_tunnel_transport_closed(F.t, TSE_ERR_TRANSPORT_CLOSED, F.d.now), TSE_OK);
    F.d.connected = 0;
    TT_ASSERT(down_with(TSE_ERR_PROXY_CLOSED) != NULL);
    END();
}

static void resume_through_proxy(int mode, int nonce_per_conn)
{
    const mt_seen *s;
    proxy_setup(mode);
    F.cfg.digest_nonce_per_conn = nonce_per_conn;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    mt_cut(&F.d);
    if (!mt_run_until_event(&F.d, TSE_EV_TUNNEL_UP, 2, 200000)) {
        mt_rec_dump(&F.rec);
        fprintf(stderr, "auth: %s\n", mem_tscf_seen(F.peer)->auth_why);
    }
    TT_EQ_INT(mt_rec_count(&F.rec, TSE_EV_TUNNEL_UP), 2);
    TT_EQ_INT(mt_rec_nth(&F.rec, TSE_EV_TUNNEL_UP, 1)->config.resumed, 1);
    s = mem_tscf_seen(F.peer);
    TT_EQ_INT(s->auth_ok, 2);
    /* the second connection authenticated too (preemptively or after a
     * fresh challenge) */
    TT_ASSERT(head_has(s->n_heads - 1, "Proxy-Authorization: "));
    END();
}

TT_TEST(proxy_basic_resume) { resume_through_proxy(MT_PROXY_407_BASIC, 0); }
TT_TEST(proxy_digest_resume_same_nonce) { resume_through_proxy(MT_PROXY_407_DIGEST_MD5, 0); }
TT_TEST(proxy_digest_resume_new_nonce) { resume_through_proxy(MT_PROXY_407_DIGEST_SHA256, 1); }

TT_TEST(proxy_ipv6_literal_target_is_bracketed)
{
    proxy_setup(MT_PROXY_200);
    F.s.server_host = "2001:db8::7";
    F.s.sni = "tscf.test";
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN));
    TT_ASSERT(strncmp(mem_tscf_seen(F.peer)->heads[0], "CONNECT [2001:db8::7]:443 HTTP/1.1\r\n", 36) == 0);
    TT_ASSERT(head_has(0, "\r\nHost: [2001:db8::7]:443\r\n"));
    END();
}

static void raw_200_case(const char *head)
{
    proxy_setup(MT_PROXY_RAW);
    F.cfg.proxy_raw = head;
    F.cfg.proxy_raw_len = strlen(head);
    F.cfg.raw_then_tls = 1;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    if (!mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN)) mt_rec_dump(&F.rec);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    END();
}

/* RFC 9110 9.3.6: a 2xx to CONNECT has no content; Content-Length and
 * Transfer-Encoding in it MUST be ignored (the tunnel starts after the
 * head). */
TT_TEST(proxy_200_with_content_length_is_ignored)
{
    raw_200_case("HTTP/1.1 200 Connection established\r\nContent-Length: 4000\r\n\r\n");
}
TT_TEST(proxy_200_with_chunked_is_ignored)
{
    raw_200_case("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}
TT_TEST(proxy_http10_200)
{
    raw_200_case("HTTP/1.0 200 Connection established\r\nProxy-agent: test\r\n\r\n");
}
TT_TEST(proxy_other_2xx_status)
{
    raw_200_case("HTTP/1.1 299 Whatever\r\nVia: 1.1 squid\r\n\r\n");
}

static void body_407_case(int chunked, size_t chunk)
{
    proxy_setup(MT_PROXY_407_DIGEST_MD5);
    F.cfg.proxy_407_body = "<html><body>Proxy authentication required. "
                           "HTTP/1.1 200 OK\r\n\r\n</body></html>";
    F.cfg.proxy_407_chunked = chunked;
    TT_EQ_INT(mt_fix_start(&F, T0), TSE_OK);
    F.d.chunk_to_engine = chunk;
    if (!mt_run_until_state(&F.d, TSE_STATE_UP, WITHIN)) mt_rec_dump(&F.rec);
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(mem_tscf_seen(F.peer)->auth_ok, 1);
    END();
}

/* A 407 with a body on a kept-alive connection: the body (which even
 * contains a fake status line) must be skipped, not parsed. */
TT_TEST(proxy_407_with_body) { body_407_case(0, 0); }
TT_TEST(proxy_407_with_body_byte_by_byte) { body_407_case(0, 1); }
TT_TEST(proxy_407_with_chunked_body) { body_407_case(1, 0); }
TT_TEST(proxy_407_with_chunked_body_byte_by_byte) { body_407_case(1, 1); }

/* Settings end up in the CONNECT head: a CR/LF in them must never become
 * a header line of its own (credentials can come from a percent-decoded
 * proxy URL in the environment). */
static void no_injection(const char *user, const char *ua, const char *marker, int mode)
{
    size_t i;
    int rc;
    proxy_setup(mode);
    F.s.proxy_user = user;
    F.cfg.proxy_user = user;
    F.s.user_agent = ua;
    F.s.proxy_marker_header = marker;
    rc = mt_fix_start(&F, T0);
    if (rc == TSE_OK) {
        mt_advance(&F.d, 30000);
        for (i = 0; i < mem_tscf_seen(F.peer)->n_heads; i++) {
            const char *h = mem_tscf_seen(F.peer)->heads[i];
            if (strstr(h, "\r\nX-Injected:") != NULL) fprintf(stderr, "head %zu:\n%s", i, h);
            TT_ASSERT(strstr(h, "\r\nX-Injected:") == NULL);
        }
    } else {
        TT_EQ_INT(rc, TSE_ERR_INVALID_ARG);
    }
    END();
}

TT_TEST(no_header_injection_via_digest_username)
{
    no_injection("bob\r\nX-Injected: 1", NULL, NULL, MT_PROXY_407_DIGEST_MD5);
}
TT_TEST(no_header_injection_via_user_agent)
{
    no_injection("alice", "ua/1\r\nX-Injected: 1", NULL, MT_PROXY_200);
}
TT_TEST(no_header_injection_via_marker)
{
    no_injection("alice", NULL, "X-IMS: 1\r\nX-Injected: 1", MT_PROXY_200);
}
TT_TEST(digest_username_with_quote)
{
    /* RFC 7616 3.4: a quoted-string; a '"' must be escaped (or the
     * username sent as username*), never end the value early */
    proxy_setup(MT_PROXY_407_DIGEST_MD5);
    F.s.proxy_user = "bo\"b";
    F.cfg.proxy_user = "bo\"b";
    if (mt_fix_start(&F, T0) == TSE_OK) {
        mt_advance(&F.d, 30000);
        TT_ASSERT(mem_tscf_seen(F.peer)->n_heads >= 2);
        TT_ASSERT(strstr(mem_tscf_seen(F.peer)->heads[1], "username=\"bo\"b\"") == NULL);
    }
    END();
}

int main(void)
{
    TT_RUN(proxy_200_up);
    TT_RUN(proxy_marker_and_user_agent);
    TT_RUN(proxy_200_one_byte_chunks);
    TT_RUN(proxy_200_with_tls_bytes_glued);
    TT_RUN(proxy_200_glued_then_split);
    TT_RUN(fatal_alerts_are_named);
    TT_RUN(every_alert_description_is_named_or_unknown);
    TT_RUN(proxy_407_basic_then_200);
    TT_RUN(proxy_407_digest_md5_then_200);
    TT_RUN(proxy_407_digest_sha256_then_200);
    TT_RUN(proxy_407_basic_connection_close_reconnects);
    TT_RUN(proxy_407_digest_connection_close_reconnects);
    TT_RUN(proxy_407_twice_auth_failed);
    TT_RUN(proxy_407_wrong_password_auth_failed);
    TT_RUN(proxy_407_without_credentials);
    TT_RUN(proxy_407_unsupported_scheme);
    TT_RUN(proxy_403_status_and_reason);
    TT_RUN(proxy_502_is_retried);
    TT_RUN(proxy_garbage_is_malformed);
    TT_RUN(proxy_oversized_head_is_too_large);
    TT_RUN(proxy_oversized_head_one_byte_at_a_time);
    TT_RUN(proxy_silent_times_out);
    TT_RUN(proxy_200_without_crlf_crlf_then_close);
    TT_RUN(proxy_basic_resume);
    TT_RUN(proxy_digest_resume_same_nonce);
    TT_RUN(proxy_digest_resume_new_nonce);
    TT_RUN(proxy_ipv6_literal_target_is_bracketed);
    TT_RUN(proxy_200_with_content_length_is_ignored);
    TT_RUN(proxy_200_with_chunked_is_ignored);
    TT_RUN(proxy_http10_200);
    TT_RUN(proxy_other_2xx_status);
    TT_RUN(proxy_407_with_body);
    TT_RUN(proxy_407_with_body_byte_by_byte);
    TT_RUN(proxy_407_with_chunked_body);
    TT_RUN(proxy_407_with_chunked_body_byte_by_byte);
    TT_RUN(no_header_injection_via_digest_username);
    TT_RUN(no_header_injection_via_user_agent);
    TT_RUN(no_header_injection_via_marker);
    TT_RUN(digest_username_with_quote);
    mt_fix_teardown(&F);
    return TT_DONE();
}
