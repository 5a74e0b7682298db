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

typedef struct tse_tls_params {
    const uint8_t *ca; size_t ca_len;
    const uint8_t *client_cert; size_t client_cert_len;
    const uint8_t *client_key; size_t client_key_len;
    const uint8_t *pin_sha256;   /* 32 bytes or NULL */
    const char *hostname;        /* SNI and the name verified; may be NULL */
    int insecure;                /* lab only: no verification */
    int (*entropy)(void *user, uint8_t *buf, size_t len);
    void *entropy_user;
} tse_tls_params;

typedef struct tse_tls {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own_cert;
    mbedtls_pk_context own_key;
    mbedtls_ctr_drbg_context drbg;
    int set_up;              /* ssl_setup done */
    int configured;          /* conf/drbg initialised by tse_tls_setup */
    int started;             /* a session is in progress on this connection */
    uint8_t pin[32];
    int has_pin;
    int pin_failed;
    /* BIO: input borrowed from the caller during one feed */
    const uint8_t *in;
    size_t in_len;
    /* BIO: output appended to the engine's ciphertext buffer */
    uint8_t *out;
    size_t out_cap;
    size_t out_off;          /* first unsent byte */
    size_t out_len;          /* end of data */
    size_t write_pending;    /* length of an ssl_write that returned WANT_WRITE */
    char ip_name[48];        /* IP literal to match against the IP SAN
                                (sent as no SNI, RFC 6066 3) */
    char detail[256];        /* why the handshake or verification failed */
} tse_tls;

/* Cannot fail; makes tse_tls_free() safe. */
void tse_tls_init(tse_tls *tls);

/* Parse trust anchors and keys, seed the DRBG, set up the context.
 * out/out_cap: the ciphertext buffer (owned by the caller, outlives tls).
 * Returns TSE_OK or TSE_ERR_TLS_CONFIG / TSE_ERR_NO_MEMORY. */
int tse_tls_setup(tse_tls *tls, const tse_tls_params *p, uint8_t *out,
                  size_t out_cap);

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

/* Room for new records in the output buffer (after compaction). */
size_t tse_tls_out_space(tse_tls *tls);

/* Largest plaintext chunk that fits one record in the free space. */
size_t tse_tls_max_chunk(tse_tls *tls);

/* Append raw (non-TLS) bytes, e.g. the CONNECT request. */
int tse_tls_out_raw(tse_tls *tls, const uint8_t *data, size_t len);

/* Queue a close_notify alert (RFC 8446 6.1); best effort. */
void tse_tls_close_notify(tse_tls *tls);

/* Whether @p h is an IPv4 or IPv6 literal (not a host name). */
int tse_tls_is_ip_literal(const char *h);

/* Negotiated version (0x0303/0x0304) and suite name. */
uint16_t tse_tls_version(const tse_tls *tls);
const char *tse_tls_suite(const tse_tls *tls);

#endif /* TSE_TLS_SESSION_H */
