/*
 * FUZZ BUILDS ONLY (-DTSE_TLS_IDENTITY, test/fuzz/CMakeLists.txt): the TLS
 * layer of lib/tls_session.h with no cryptography, so that a fuzzer's
 * bytes reach the tunnel's control procedures and inner packets as if
 * they had come out of a TLS session (issue 11, the whole-engine fuzzer).
 *
 * The "handshake" consumes one byte: 0x00 fails it (the certificate and
 * alert paths of the engine), anything else completes it.  Records are
 * the plaintext itself.  Everything else (buffers, configuration object,
 * ownership) is lib/tls_session.c's.  Never compiled into a library that
 * ships: the engine would then carry tunnel traffic in the clear.
 */
#include "tls_session.h"

#if defined(TSE_TLS_IDENTITY)

#include <string.h>

#include "tse/error.h"

int tse_tls_debug_available(void)
{
    return 0; /* no mbed TLS in the identity layer */
}

int tse_tls_read_ends_record(const tse_tls *tls)
{
    (void)tls;
    return 1; /* every read is a whole "record" */
}

int tse_tls_conf_setup(tse_tls_conf *c, const tse_tls_conf_params *p)
{
    c->insecure = p->insecure != 0;
    c->configured = 1;
    return TSE_OK;
}

int tse_tls_setup(tse_tls *tls, tse_tls_conf *cf, const char *hostname,
                  const uint8_t *pin_sha256, uint8_t *out, size_t out_cap)
{
    (void)hostname;
    (void)pin_sha256;
    tse_outbuf_init(&tls->out, out, out_cap);
    tls->cf = cf;
    if (cf == NULL || !cf->configured) {
        return TSE_ERR_TLS_CONFIG;
    }
    tls->set_up = 1;
    return TSE_OK;
}

int tse_tls_start(tse_tls *tls)
{
    tse_outbuf_clear(&tls->out);
    tls->in = NULL;
    tls->in_len = 0;
    tls->write_pending = 0;
    tls->detail[0] = '\0';
    tls->started = 1;
    tls->pin_failed = 0; /* reused: 1 once the handshake byte was seen */
    return TSE_OK;
}

int tse_tls_handshake(tse_tls *tls)
{
    if (tls->pin_failed) {
        return TSE_OK;
    }
    if (tls->in_len == 0) {
        return TSE_ERR_WOULD_BLOCK;
    }
    tls->in_len--;
    if (*tls->in++ == 0) {
        memcpy(tls->detail, "identity handshake refused", 27);
        return TSE_ERR_TLS_CERT_UNTRUSTED;
    }
    tls->pin_failed = 1;
    return TSE_OK;
}

int tse_tls_write(tse_tls *tls, const uint8_t *data, size_t len)
{
    size_t n = tse_outbuf_append(&tls->out, data, len);
    return n == 0 ? TSE_ERR_WOULD_BLOCK : (int)n;
}

int tse_tls_read(tse_tls *tls, uint8_t *buf, size_t cap)
{
    size_t n = tls->in_len < cap ? tls->in_len : cap;
    if (n == 0) {
        return TSE_ERR_WOULD_BLOCK;
    }
    memcpy(buf, tls->in, n);
    tls->in += n;
    tls->in_len -= n;
    return (int)n;
}

void tse_tls_close_notify(tse_tls *tls)
{
    (void)tls;
}

size_t tse_tls_max_chunk(tse_tls *tls)
{
    size_t room = tse_outbuf_reserve(&tls->out, NULL);
    return room < 16384 ? room : 16384;
}

uint16_t tse_tls_version(const tse_tls *tls)
{
    (void)tls;
    return 0x0304;
}

const char *tse_tls_suite(const tse_tls *tls)
{
    (void)tls;
    return "IDENTITY (fuzz build, no encryption)";
}

/* no secrets to log: the callback is kept and never called */
int tse_tls_set_keylog(tse_tls *tls,
                       void (*keylog)(void *user, const char *label,
                                      const uint8_t client_random[32],
                                      const uint8_t *secret, size_t secret_len),
                       void *user, int own_conf)
{
    (void)own_conf;
    tls->keylog = keylog;
    tls->keylog_user = user;
    return TSE_OK;
}

#else
/* ISO C wants a translation unit to declare something */
typedef int tse_tls_identity_unused;
#endif /* TSE_TLS_IDENTITY */
