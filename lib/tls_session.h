/*
 * TLS over memory (STYLE.md 2): mbed TLS client whose BIO reads the bytes
 * the port fed in and appends records to a buffer the port drains.
 * Internal to libtse; tunnel.c drives it.
 *
 * Profile (TS 33.310 Annex E; TR 33.830 8.4): TLS 1.3 preferred, TLS 1.2
 * minimum; AEAD cipher suites with ECDHE only; SNI; chain and host-name
 * verification required by default; optional SHA-256 SPKI pin.
 */
#ifndef TSE_TLS_SESSION_H
#define TSE_TLS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "log.h"
#include "outbuf.h"

/* What one TLS configuration is made of (shared by tunnels, or a
 * tunnel's own). */
typedef struct tse_tls_conf_params {
    const uint8_t *ca; size_t ca_len;
    const uint8_t *client_cert; size_t client_cert_len;
    const uint8_t *client_key; size_t client_key_len;
    int insecure;                /* lab only: no verification */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    void *entropy_user;
    const tse_logger *log;       /* mbed TLS debug lines go here (copied) */
    int debug;                   /* ... up to this mbed TLS level (0: none) */
} tse_tls_conf_params;

/* mbed TLS's way: one mbedtls_ssl_config with its trust anchors, own
 * certificate and DRBG, set up once and read by every session that uses
 * it (the DRBG is the one mutable part: sessions sharing a configuration
 * run in one thread). */
typedef struct tse_tls_conf {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    mbedtls_ctr_drbg_context drbg;
    int insecure;
    tse_logger log;          /* mbed TLS debug output (tls_debug) */
    int debug;               /* its level; 0: mbedtls_ssl_conf_dbg() unset */
    int configured;          /* conf set up: sessions may use it */
    const char *detail;      /* why setup failed (static text) */
} tse_tls_conf;

/* The PKI fields of tse_settings as configuration parameters. */
struct tse_settings;
void tse_tls_conf_params_from(tse_tls_conf_params *cp, const struct tse_settings *s,
                              int (*entropy)(void *user, uint8_t *buf, size_t len),
                              void *entropy_user);

/* The configuration inside a public tse_tls_config (tse.h). */
struct tse_tls_config;
tse_tls_conf *tse_tls_config_conf(struct tse_tls_config *tc);

/* Whether mbed TLS's debug output can be routed to the log
 * (TSE_CONFIG_LOG_DEBUG and MBEDTLS_DEBUG_C). */
int tse_tls_debug_available(void);

/* tse_settings::tls_debug as tse_settings_check() and tse_tls_config_new()
 * take it: TSE_OK, or TSE_ERR_SETTING_LOG (out of 0..4, or above 0 without
 * a debug-level log to go to or with debug output compiled out). */
int tse_tls_debug_check(const struct tse_settings *s);

/* Cannot fail; makes tse_tls_conf_free() safe. */
void tse_tls_conf_init(tse_tls_conf *c);
/* Parse trust anchors and keys, seed the DRBG, set up the configuration.
 * Returns TSE_OK or TSE_ERR_TLS_CONFIG (detail in c->detail). */
int tse_tls_conf_setup(tse_tls_conf *c, const tse_tls_conf_params *p);
void tse_tls_conf_free(tse_tls_conf *c);

typedef struct tse_tls {
    mbedtls_ssl_context ssl;
    tse_tls_conf *cf;        /* shared or the tunnel's own; outlives tls (its
                                DRBG is used, so not const) */
    int set_up;              /* ssl_setup done */
    int started;             /* a session is in progress on this connection */
    uint8_t pin[32];
    int has_pin;
    int pin_failed;
    /* BIO: input borrowed from the caller during one feed */
    const uint8_t *in;
    size_t in_len;
    /* BIO: records appended to the ciphertext buffer, which this layer
     * owns (outbuf.h); the engine reads it through tse_tls_pending() /
     * tse_tls_consume() */
    tse_outbuf out;
    size_t write_pending;    /* length of an ssl_write that returned WANT_WRITE */
    char ip_name[48];        /* IP literal to match against the IP SAN
                                (sent as no SNI, RFC 6066 3) */
    char detail[256];        /* why the handshake or verification failed */
    void (*keylog)(void *user, const char *label, const uint8_t client_random[32],
                   const uint8_t *secret, size_t secret_len);
    void *keylog_user;
} tse_tls;

/* Cannot fail; makes tse_tls_free() safe. */
void tse_tls_init(tse_tls *tls);

/* Optional (TSE_CONFIG_KEYLOG), after tse_tls_setup(): hand every connection's secrets to
 * keylog (NSS key log fields; tse_settings.tls_keylog).  @p own_conf: the
 * configuration is this session's alone (mbed TLS 2.28 sets the export
 * callback on the configuration, so it cannot log through a shared one).
 * Returns TSE_OK or TSE_ERR_TLS_CONFIG (2.28 without MBEDTLS_SSL_EXPORT_KEYS
 * or with a shared configuration; detail in tls->detail). */
int tse_tls_set_keylog(tse_tls *tls,
                       void (*keylog)(void *user, const char *label,
                                      const uint8_t client_random[32],
                                      const uint8_t *secret, size_t secret_len),
                       void *user, int own_conf);

/* Set up a session on configuration @p cf (set up, outlives tls) for
 * @p hostname (SNI and the name verified; may be NULL) with an optional
 * 32-byte SPKI pin.  out/out_cap: the ciphertext buffer (owned by the
 * caller, outlives tls).
 * Returns TSE_OK or TSE_ERR_TLS_CONFIG / TSE_ERR_NO_MEMORY. */
int tse_tls_setup(tse_tls *tls, tse_tls_conf *cf, const char *hostname,
                  const uint8_t *pin_sha256, uint8_t *out, size_t out_cap);

void tse_tls_free(tse_tls *tls);

/* New connection: reset the session and both buffers. */
int tse_tls_start(tse_tls *tls);

/* Borrow input for the duration of the following calls. */
static inline void tse_tls_set_input(tse_tls *tls, const uint8_t *in,
                                     size_t len)
{
    tls->in = in;
    tls->in_len = len;
}

/* Step the handshake: TSE_OK when done, TSE_ERR_WOULD_BLOCK when it needs
 * input or output room, else a TSE_ERR_TLS_* (detail in tls->detail). */
int tse_tls_handshake(tse_tls *tls);

/* Encrypt up to len bytes; returns bytes taken (> 0), TSE_ERR_WOULD_BLOCK,
 * or a TSE_ERR_TLS_*.  After WOULD_BLOCK, call again with the SAME data
 * (mbed TLS's rule); write_pending remembers the length. */
int tse_tls_write(tse_tls *tls, const uint8_t *data, size_t len);

/* Decrypt into buf; returns bytes (> 0), TSE_ERR_WOULD_BLOCK (need more
 * input), TSE_ERR_TRANSPORT_CLOSED (close_notify) or a TSE_ERR_TLS_*. */
int tse_tls_read(tse_tls *tls, uint8_t *buf, size_t cap);

/* Ciphertext waiting for the port, and the port having sent n of it. */
size_t tse_tls_pending(const tse_tls *tls, const uint8_t **p);
void tse_tls_consume(tse_tls *tls, size_t n);

/* Forget unsent ciphertext (the connection it was for is gone). */
void tse_tls_discard(tse_tls *tls);

/* Largest plaintext chunk that fits one record in the free space. */
size_t tse_tls_max_chunk(tse_tls *tls);

/* Raw (non-TLS) bytes before the handshake, e.g. the CONNECT request:
 * write up to the returned room at *p, then commit what was written. */
size_t tse_tls_raw_reserve(tse_tls *tls, uint8_t **p);
void tse_tls_raw_commit(tse_tls *tls, size_t n);

/* Queue a close_notify alert (RFC 8446 6.1); best effort. */
void tse_tls_close_notify(tse_tls *tls);

/* Whether @p h is an IPv4 or IPv6 literal (not a host name). */
int tse_tls_is_ip_literal(const char *h);

/* Whether the last tse_tls_read() emptied its record (records_in). */
int tse_tls_read_ends_record(const tse_tls *tls);

/* Negotiated version (0x0303/0x0304) and suite name. */
uint16_t tse_tls_version(const tse_tls *tls);
const char *tse_tls_suite(const tse_tls *tls);

#endif /* TSE_TLS_SESSION_H */
