/*
 * TLS over memory: mbed TLS client, BIO on caller-owned buffers.
 * Works with mbed TLS 2.28 (TLS 1.2) and 3.6 (TLS 1.3 and 1.2).
 */
#include "tls_session.h"
#include "tse/config.h"

#include <string.h>

#include <mbedtls/debug.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/version.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <psa/crypto.h>
#endif

#include "tse/error.h"
#include "tse/tse.h"

#if !defined(TSE_TLS_IDENTITY) /* lib/tls_identity.c replaces these */
/* TS 33.310 Annex E profile: AEAD suites with (EC)DHE only, TLS 1.3
 * first.  The list ends with 0 as mbed TLS requires. */
static const int tse_tls_suites[] = {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0
};

#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_SSL_PROTO_TLS1_2) && \
    defined(MBEDTLS_SSL_PROTO_TLS1_3)
/* signature_algorithms, in the client's order of preference.  mbed TLS 3.6
 * sends one list for both versions (the ClientHello is written before the
 * version is known), and its default puts rsa_pss_rsae_* before
 * rsa_pkcs1_*: they are what TLS 1.3 signs with over an RSA key.  But its
 * TLS 1.2 code cannot verify a ServerKeyExchange signed with
 * rsa_pss_rsae_* and aborts with illegal_parameter, and OpenSSL and GnuTLS
 * servers at TLS 1.2 pick the first scheme of the CLIENT's list that fits
 * their key.  So pkcs1 comes first here: a TLS 1.2 server with an RSA key
 * signs with rsa_pkcs1_sha256, and a TLS 1.3 server, for which pkcs1 is
 * not allowed in CertificateVerify (RFC 8446 4.2.3), skips to
 * rsa_pss_rsae_*; pkcs1 stays valid for the certificates' own signatures.
 * A TLS 1.2 server that enforces its own order and prefers PSS still fails
 * (mbed TLS accepts rsa_pss_rsae in TLS 1.2 only from a later release,
 * Mbed-TLS/mbedtls#10672); see docs/engine.md "TLS".  mbed TLS skips
 * entries its build cannot do. */
static const uint16_t tse_tls_sig_algs[] = {
    MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
    MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
    MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
    MBEDTLS_TLS1_3_SIG_NONE
};
#endif

static void add_detail(tse_tls *tls, const char *s)
{
#if !TSE_CONFIG_STRINGS
    (void)s; /* texts compiled out (tse/config.h): the literals go too */
    tls->detail[0] = '\0';
#else
    size_t n = strlen(tls->detail), cap = sizeof(tls->detail) - 1;
    while (s != NULL && *s != '\0' && n < cap) {
        tls->detail[n++] = *s++;
    }
    tls->detail[n] = '\0';
#endif
}

/* (EC)DHE groups offered, strongest-first is not the point: the profile's
 * curves only.  Without a list mbed TLS offers every curve its build
 * enables, and Debian's mbed TLS 2.28 enables secp192r1 and secp224r1: a
 * server that picked one got a working tunnel over a weak key exchange. */
#if MBEDTLS_VERSION_MAJOR >= 3
static const uint16_t tse_tls_groups[] = {
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_NONE
};
#else
static const mbedtls_ecp_group_id tse_tls_groups[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE
};
#endif

/* ---- key log (tse_settings.tls_keylog) ---------------------------------- */

/* (TSE_CONFIG_KEYLOG 0: none of it; tse_settings_check() refuses a key log) */
#if TSE_CONFIG_KEYLOG && MBEDTLS_VERSION_MAJOR >= 3
/* mbed TLS 3: every secret as it is derived (TLS 1.2 master secret, TLS
 * 1.3 handshake and application traffic secrets). */
static void export_keys(void *p, mbedtls_ssl_key_export_type type, const unsigned char *secret,
                        size_t secret_len, const unsigned char client_random[32],
                        const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
    tse_tls *tls = p;
    const char *label = NULL;
    (void)server_random;
    (void)prf;
    switch (type) {
    case MBEDTLS_SSL_KEY_EXPORT_TLS12_MASTER_SECRET:
        label = "CLIENT_RANDOM";
        break;
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_HANDSHAKE_TRAFFIC_SECRET:
        label = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
        break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_SERVER_HANDSHAKE_TRAFFIC_SECRET:
        label = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
        break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_APPLICATION_TRAFFIC_SECRET:
        label = "CLIENT_TRAFFIC_SECRET_0";
        break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_SERVER_APPLICATION_TRAFFIC_SECRET:
        label = "SERVER_TRAFFIC_SECRET_0";
        break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_EARLY_SECRET:
        label = "CLIENT_EARLY_TRAFFIC_SECRET";
        break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_EARLY_EXPORTER_SECRET:
        label = "EARLY_EXPORTER_SECRET";
        break;
#endif
    default:
        break;
    }
    if (label != NULL && tls->keylog != NULL) {
        tls->keylog(tls->keylog_user, label, client_random, secret, secret_len);
    }
}
#elif TSE_CONFIG_KEYLOG && defined(MBEDTLS_SSL_EXPORT_KEYS)
/* mbed TLS 2.28: the TLS 1.2 master secret (48 bytes) */
static int export_keys_ext(void *p, const unsigned char *ms, const unsigned char *kb,
                           size_t maclen, size_t keylen, size_t ivlen,
                           const unsigned char client_random[32],
                           const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
    tse_tls *tls = p;
    (void)kb;
    (void)maclen;
    (void)keylen;
    (void)ivlen;
    (void)server_random;
    (void)prf;
    if (tls->keylog != NULL) {
        tls->keylog(tls->keylog_user, "CLIENT_RANDOM", client_random, ms, 48);
    }
    return 0;
}
#endif

static void set_detail(tse_tls *tls, const char *a, const char *b)
{
    tls->detail[0] = '\0';
    add_detail(tls, a);
    add_detail(tls, b);
}

static void add_detail_num(tse_tls *tls, unsigned v)
{
    char num[12];
    size_t i = sizeof(num) - 1;
    num[i] = '\0';
    do {
        num[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && i > 0);
    add_detail(tls, num + i);
}

#if TSE_CONFIG_KEYLOG
int tse_tls_set_keylog(tse_tls *tls,
                       void (*keylog)(void *user, const char *label,
                                      const uint8_t client_random[32],
                                      const uint8_t *secret, size_t secret_len),
                       void *user, int own_conf)
{
    tls->keylog = keylog;
    tls->keylog_user = user;
    if (keylog == NULL) {
        return TSE_OK;
    }
#if MBEDTLS_VERSION_MAJOR >= 3
    (void)own_conf; /* per session: set in tse_tls_start() */
    return TSE_OK;
#elif defined(MBEDTLS_SSL_EXPORT_KEYS)
    if (!own_conf) {
        set_detail(tls, "TLS key log: mbed TLS 2.28 needs the tunnel's own TLS configuration", NULL);
        return TSE_ERR_TLS_CONFIG;
    }
    mbedtls_ssl_conf_export_keys_ext_cb(&tls->cf->conf, export_keys_ext, tls);
    return TSE_OK;
#else
    (void)own_conf;
    set_detail(tls, "TLS key log: mbed TLS built without MBEDTLS_SSL_EXPORT_KEYS", NULL);
    return TSE_ERR_TLS_CONFIG;
#endif
}
#endif /* TSE_CONFIG_KEYLOG */

#endif /* !TSE_TLS_IDENTITY */

#if !defined(TSE_TLS_IDENTITY) /* lib/tls_identity.c replaces these */
/* ---- BIO ------------------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    tse_tls *tls = ctx;
    /* partial: mbed TLS keeps the rest (out_left) */
    size_t n = tse_outbuf_append(&tls->out, buf, len);
    return n == 0 ? MBEDTLS_ERR_SSL_WANT_WRITE : (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    tse_tls *tls = ctx;
    if (tls->in_len == 0) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (len > tls->in_len) {
        len = tls->in_len;
    }
    memcpy(buf, tls->in, len);
    tls->in += len;
    tls->in_len -= len;
    return (int)len;
}

#endif /* !TSE_TLS_IDENTITY */

size_t tse_tls_pending(const tse_tls *tls, const uint8_t **p)
{
    return tse_outbuf_pending(&tls->out, p);
}

void tse_tls_consume(tse_tls *tls, size_t n)
{
    tse_outbuf_consume(&tls->out, n);
}

void tse_tls_discard(tse_tls *tls)
{
    tse_outbuf_clear(&tls->out);
}

size_t tse_tls_raw_reserve(tse_tls *tls, uint8_t **p)
{
    return tse_outbuf_reserve(&tls->out, p);
}

void tse_tls_raw_commit(tse_tls *tls, size_t n)
{
    tse_outbuf_commit(&tls->out, n);
}

/* ---- certificate pinning --------------------------------------------- */

int tse_tls_is_ip_literal(const char *h)
{
    int dots = 0;
    if (strchr(h, ':') != NULL) {
        return 1; /* IPv6: host names have no colon */
    }
    for (const char *p = h; *p != '\0'; p++) {
        if (*p == '.') {
            dots++;
        } else if (*p < '0' || *p > '9') {
            return 0;
        }
    }
    return dots == 3;
}

#if !defined(TSE_TLS_IDENTITY) /* lib/tls_identity.c replaces these */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth,
                     uint32_t *flags)
{
    tse_tls *tls = ctx;
    uint8_t digest[32];
    if (depth != 0) {
        return 0;
    }
    if (tls->ip_name[0] != '\0') {
        /* The host is an IP literal: mbed TLS was given no host name so
         * that none goes out as SNI; match the IP SAN here instead. */
        uint32_t f = 0;
        (void)mbedtls_x509_crt_verify(crt, &tls->cf->ca,
                                      NULL, tls->ip_name, &f, NULL, NULL);
        *flags |= f & MBEDTLS_X509_BADCERT_CN_MISMATCH;
    }
    if (!tls->has_pin) {
        return 0;
    }
    /* pk_raw is the SubjectPublicKeyInfo DER: the pin is its SHA-256 (as
     * OpenConnect's and HPKP's pin-sha256). */
    if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                   crt->pk_raw.p, crt->pk_raw.len, digest) != 0 ||
        memcmp(digest, tls->pin, sizeof(digest)) != 0) {
        tls->pin_failed = 1;
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
    }
    return 0;
}

#endif /* !TSE_TLS_IDENTITY */

/* ---- the configuration (shared or a tunnel's own) ----------------------- */

#if !defined(TSE_TLS_IDENTITY)
static void conf_detail(tse_tls_conf *c, const char *text)
{
#if TSE_CONFIG_STRINGS
    c->detail = text;
#else
    (void)text; /* texts compiled out (tse/config.h) */
    c->detail = NULL;
#endif
}

#endif

void tse_tls_conf_init(tse_tls_conf *c)
{
    memset(c, 0, sizeof(*c));
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->own_cert);
    mbedtls_pk_init(&c->own_key);
    mbedtls_ctr_drbg_init(&c->drbg);
}

void tse_tls_conf_free(tse_tls_conf *c)
{
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->own_cert);
    mbedtls_pk_free(&c->own_key);
    mbedtls_ctr_drbg_free(&c->drbg);
    c->configured = 0;
}

#if !defined(TSE_TLS_IDENTITY) /* lib/tls_identity.c replaces these */
#if TSE_CONFIG_LOG_DEBUG && defined(MBEDTLS_DEBUG_C)
/* mbed TLS's debug output (mbedtls_ssl_conf_dbg()) as TSE_LOG_DEBUG lines:
 * "mbedtls ssl_tls.c:1234: text", without mbed TLS's newline. */
static void tls_debug_line(void *ctx, int level, const char *file, int line,
                           const char *str)
{
    const tse_tls_conf *c = ctx;
    char text[TSE_LOG_LINE_MAX];
    size_t n = 0;
    const char *base = file;
    if (level > c->debug) {
        return; /* the threshold is process-wide; this configuration's is lower */
    }
    for (const char *f = file; f != NULL && *f != '\0'; f++) {
        if (*f == '/' || *f == '\\') {
            base = f + 1;
        }
    }
    while (str != NULL && str[n] != '\0' && str[n] != '\n' && n + 1 < sizeof(text)) {
        text[n] = str[n];
        n++;
    }
    text[n] = '\0';
    TSE_LOG_DBG(&c->log, "mbedtls %s:%d: %s", base != NULL ? base : "?", line, text);
}
#endif

int tse_tls_debug_available(void)
{
#if TSE_CONFIG_LOG_DEBUG && defined(MBEDTLS_DEBUG_C)
    return 1;
#else
    return 0;
#endif
}

int tse_tls_read_ends_record(const tse_tls *tls)
{
    return mbedtls_ssl_get_bytes_avail(&tls->ssl) == 0;
}

int tse_tls_conf_setup(tse_tls_conf *c, const tse_tls_conf_params *p)
{
    static const unsigned char pers[] = "libtse";
    int ret;

#if MBEDTLS_VERSION_MAJOR >= 3
    if (psa_crypto_init() != PSA_SUCCESS) { /* idempotent */
        conf_detail(c, "PSA crypto init failed");
        return TSE_ERR_TLS_CONFIG;
    }
#endif
    if (mbedtls_ctr_drbg_seed(&c->drbg, p->entropy, p->entropy_user, pers,
                              sizeof(pers) - 1) != 0) {
        conf_detail(c, "entropy source failed");
        return TSE_ERR_TLS_CONFIG;
    }
    if (mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        conf_detail(c, "mbed TLS refused the client defaults");
        return TSE_ERR_TLS_CONFIG;
    }
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_ciphersuites(&c->conf, tse_tls_suites);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_conf_groups(&c->conf, tse_tls_groups);
#else
    mbedtls_ssl_conf_curves(&c->conf, tse_tls_groups);
#endif
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_SSL_PROTO_TLS1_2) && \
    defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_sig_algs(&c->conf, tse_tls_sig_algs);
#endif
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_conf_min_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_max_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_3);
#else
    mbedtls_ssl_conf_max_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
#else
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif

#if TSE_CONFIG_LOG_DEBUG && defined(MBEDTLS_DEBUG_C)
    if (p->log != NULL && p->log->fn != NULL && p->debug > 0) {
        c->log = *p->log;
        c->debug = p->debug;
        mbedtls_ssl_conf_dbg(&c->conf, tls_debug_line, c);
        /* process-wide in mbed TLS: raised to the top, filtered per
         * configuration in tls_debug_line() */
        mbedtls_debug_set_threshold(4);
    }
#endif
    c->insecure = p->insecure != 0;
    if (p->insecure) {
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        if (p->ca == NULL || p->ca_len == 0) {
            conf_detail(c, "no trust anchors configured");
            return TSE_ERR_TLS_CONFIG;
        }
        ret = mbedtls_x509_crt_parse(&c->ca, p->ca, p->ca_len);
        if (ret != 0) {
            /* > 0: some certificates in a PEM bundle failed; accept the
             * bundle only if at least one anchor parsed. */
            if (ret < 0 || c->ca.raw.p == NULL) {
                conf_detail(c, "trust anchors do not parse");
                return TSE_ERR_TLS_CONFIG;
            }
        }
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    }

    if (p->client_cert != NULL) {
        if (p->client_key == NULL ||
            mbedtls_x509_crt_parse(&c->own_cert, p->client_cert,
                                   p->client_cert_len) != 0) {
            conf_detail(c, "client certificate does not parse");
            return TSE_ERR_TLS_CONFIG;
        }
#if MBEDTLS_VERSION_MAJOR >= 3
        ret = mbedtls_pk_parse_key(&c->own_key, p->client_key,
                                   p->client_key_len, NULL, 0,
                                   mbedtls_ctr_drbg_random, &c->drbg);
        if (ret == 0) {
            ret = mbedtls_pk_check_pair(&c->own_cert.pk, &c->own_key,
                                        mbedtls_ctr_drbg_random, &c->drbg);
        }
#else
        ret = mbedtls_pk_parse_key(&c->own_key, p->client_key,
                                   p->client_key_len, NULL, 0);
        if (ret == 0) {
            ret = mbedtls_pk_check_pair(&c->own_cert.pk, &c->own_key);
        }
#endif
        if (ret != 0 ||
            mbedtls_ssl_conf_own_cert(&c->conf, &c->own_cert, &c->own_key) != 0) {
            conf_detail(c, "client key does not parse or match");
            return TSE_ERR_TLS_CONFIG;
        }
    }
    c->configured = 1;
    return TSE_OK;
}

#endif /* !TSE_TLS_IDENTITY */

/* ---- a session ------------------------------------------------------- */

void tse_tls_init(tse_tls *tls)
{
    memset(tls, 0, sizeof(*tls));
    mbedtls_ssl_init(&tls->ssl);
}

void tse_tls_free(tse_tls *tls)
{
    mbedtls_ssl_free(&tls->ssl);
}

#if !defined(TSE_TLS_IDENTITY) /* lib/tls_identity.c replaces these */
int tse_tls_setup(tse_tls *tls, tse_tls_conf *cf, const char *hostname,
                  const uint8_t *pin_sha256, uint8_t *out, size_t out_cap)
{
    int ret;

    tse_outbuf_init(&tls->out, out, out_cap);
    tls->cf = cf;
    if (cf == NULL || !cf->configured) {
        set_detail(tls, "TLS configuration not set up", NULL);
        return TSE_ERR_TLS_CONFIG;
    }
    ret = mbedtls_ssl_setup(&tls->ssl, &cf->conf);
    if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
        return TSE_ERR_NO_MEMORY;
    }
    if (ret != 0) {
        return TSE_ERR_TLS_CONFIG;
    }
    tls->set_up = 1;
    if (!cf->insecure) {
        if (pin_sha256 != NULL) {
            memcpy(tls->pin, pin_sha256, sizeof(tls->pin));
            tls->has_pin = 1;
        }
        /* per session: the pin and the IP literal are this tunnel's */
        mbedtls_ssl_set_verify(&tls->ssl, verify_cb, tls);
    }
    if (hostname != NULL && tse_tls_is_ip_literal(hostname)) {
        size_t n = strlen(hostname);
        if (n >= sizeof(tls->ip_name)) {
            set_detail(tls, "bad TLS host name", NULL);
            return TSE_ERR_TLS_CONFIG;
        }
        memcpy(tls->ip_name, hostname, n + 1);
        if (cf->insecure) {
            tls->ip_name[0] = '\0';
        }
        /* explicit NULL: no SNI, and mbed TLS's own name check is off
         * because verify_cb does it */
        if (mbedtls_ssl_set_hostname(&tls->ssl, NULL) != 0) {
            return TSE_ERR_TLS_CONFIG;
        }
    } else if (hostname != NULL &&
               mbedtls_ssl_set_hostname(&tls->ssl, hostname) != 0) {
        set_detail(tls, "bad TLS host name", NULL);
        return TSE_ERR_TLS_CONFIG;
    }
    mbedtls_ssl_set_bio(&tls->ssl, tls, bio_send, bio_recv, NULL);
    return TSE_OK;
}

int tse_tls_start(tse_tls *tls)
{
    tse_outbuf_clear(&tls->out);
    tls->in = NULL;
    tls->in_len = 0;
    tls->write_pending = 0;
    tls->pin_failed = 0;
    tls->detail[0] = '\0';
    if (tls->started) {
        /* keeps the host name and the BIO */
        if (mbedtls_ssl_session_reset(&tls->ssl) != 0) {
            return TSE_ERR_NO_MEMORY;
        }
    }
    tls->started = 1;
#if TSE_CONFIG_KEYLOG && MBEDTLS_VERSION_MAJOR >= 3
    /* per context, set again for each connection */
    if (tls->keylog != NULL) {
        mbedtls_ssl_set_export_keys_cb(&tls->ssl, export_keys, tls);
    }
#endif
    return TSE_OK;
}

/* ---- errors ---------------------------------------------------------- */

static int map_verify_failure(tse_tls *tls)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&tls->ssl);
    if (tls->pin_failed) {
        set_detail(tls, "server public key does not match the pin", NULL);
        return TSE_ERR_TLS_PIN;
    }
    if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) {
        set_detail(tls, (flags & MBEDTLS_X509_BADCERT_EXPIRED)
                            ? "server certificate expired"
                            : "server certificate not yet valid", NULL);
        return TSE_ERR_TLS_CERT_EXPIRED;
    }
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        set_detail(tls, "server certificate not issued by a trusted CA", NULL);
        return TSE_ERR_TLS_CERT_UNTRUSTED;
    }
    if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        set_detail(tls, "server certificate does not name ",
                   "the configured host");
        return TSE_ERR_TLS_CERT_NAME;
    }
    set_detail(tls, "server certificate rejected", NULL);
    return TSE_ERR_TLS_CERT_OTHER;
}

/* ---- refusals by the server ----------------------------------------- */

/* What this client offers, for the user to compare with the server. */
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define TSE_TLS_OFFERED_VERSIONS "we offered TLS 1.2-1.3, "
#else
#define TSE_TLS_OFFERED_VERSIONS "we offered TLS 1.2, "
#endif
#define TSE_TLS_OFFERED TSE_TLS_OFFERED_VERSIONS \
    "ECDHE X25519/P-256/P-384, AES-GCM/ChaCha20-Poly1305 only"

/* RFC 8446 6 / RFC 5246 7.2 alert descriptions: each name follows its
 * code (one byte, as three octal digits so that no letter of the name is
 * read into the escape).  A packed list instead of a switch: the switch
 * became a 111-entry pointer table (444 bytes on a Cortex-M4). */
#if TSE_CONFIG_STRINGS
static const char *alert_name(unsigned d)
{
    static const char names[] =
        "\012unexpected_message\0"
        "\024bad_record_mac\0"
        "\026record_overflow\0"
        "\050handshake_failure\0"
        "\052bad_certificate\0"
        "\053unsupported_certificate\0"
        "\054certificate_revoked\0"
        "\055certificate_expired\0"
        "\056certificate_unknown\0"
        "\057illegal_parameter\0"
        "\060unknown_ca\0"
        "\061access_denied\0"
        "\062decode_error\0"
        "\063decrypt_error\0"
        "\106protocol_version\0"
        "\107insufficient_security\0"
        "\120internal_error\0"
        "\126inappropriate_fallback\0"
        "\132user_canceled\0"
        "\155missing_extension\0"
        "\156unsupported_extension\0"
        "\160unrecognized_name\0"
        "\164certificate_required\0"
        "\170no_application_protocol\0";
    const char *s = names;
    while (*s != '\0') {
        if ((unsigned char)*s == d) {
            return s + 1;
        }
        while (*s++ != '\0') {
        }
    }
    return "unknown alert";
}
#endif

/* The description of the fatal alert mbed TLS just received (its record
 * is still in the input buffer: 2 bytes, level then description). */
static unsigned received_alert(const tse_tls *tls)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    const unsigned char *msg = tls->ssl.MBEDTLS_PRIVATE(in_msg);
#else
    const unsigned char *msg = tls->ssl.in_msg;
#endif
    return msg != NULL ? msg[1] : 0;
}

/* A fatal alert from the server: name it, and for the refusals a user can
 * act on (no version or no suite in common) say what we offered. */
static int map_alert(tse_tls *tls)
{
    unsigned d = received_alert(tls);
    int err = TSE_ERR_TLS_ALERT;
    set_detail(tls, "server sent fatal alert ", NULL);
    add_detail_num(tls, d);
    add_detail(tls, " ");
#if TSE_CONFIG_STRINGS
    add_detail(tls, alert_name(d));
#endif
    /* the error names the refusal ("no version in common", "no suite,
     * group or signature in common"); the detail adds what we offered */
    switch (d) {
    case 70: /* protocol_version */
        err = TSE_ERR_TLS_VERSION;
        break;
    case 40: /* handshake_failure */
    case 71: /* insufficient_security */
        err = TSE_ERR_TLS_NO_COMMON;
        break;
    default:
        return err;
    }
    add_detail(tls, "; ");
    add_detail(tls, TSE_TLS_OFFERED);
    return err;
}

static int map_error(tse_tls *tls, int ret)
{
    switch (ret) {
    case MBEDTLS_ERR_SSL_WANT_READ:
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return TSE_ERR_WOULD_BLOCK;
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        return map_verify_failure(tls);
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        return TSE_ERR_TRANSPORT_CLOSED;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        return map_alert(tls);
#if MBEDTLS_VERSION_MAJOR >= 3
    case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
#else
    case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
#endif
        set_detail(tls, "the server chose a TLS version below 1.2; ",
                   TSE_TLS_OFFERED);
        return TSE_ERR_TLS_VERSION;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return TSE_ERR_NO_MEMORY;
    case MBEDTLS_ERR_SSL_INVALID_MAC:
    case MBEDTLS_ERR_SSL_INVALID_RECORD:
    case MBEDTLS_ERR_SSL_UNEXPECTED_RECORD:
        set_detail(tls, "corrupt TLS record", NULL);
        return TSE_ERR_TLS_RECORD;
    default:
        if (mbedtls_ssl_get_verify_result(&tls->ssl) != 0 &&
            mbedtls_ssl_get_verify_result(&tls->ssl) != (uint32_t)-1) {
            return map_verify_failure(tls);
        }
#if defined(MBEDTLS_ERROR_C)
        {
            char buf[80];
            mbedtls_strerror(ret, buf, sizeof(buf));
            set_detail(tls, buf, NULL);
        }
#else
        set_detail(tls, "TLS handshake failed", NULL);
#endif
        return TSE_ERR_TLS_HANDSHAKE;
    }
}

int tse_tls_handshake(tse_tls *tls)
{
    int ret = mbedtls_ssl_handshake(&tls->ssl);
    if (ret == 0) {
        return TSE_OK;
    }
    return map_error(tls, ret);
}

int tse_tls_write(tse_tls *tls, const uint8_t *data, size_t len)
{
    int ret;
    if (tls->write_pending != 0) {
        len = tls->write_pending;
    }
    ret = mbedtls_ssl_write(&tls->ssl, data, len);
    if (ret > 0) {
        tls->write_pending = 0;
        return ret;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        tls->write_pending = len;
        return TSE_ERR_WOULD_BLOCK;
    }
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_WANT_READ) {
        return TSE_ERR_WOULD_BLOCK;
    }
    return map_error(tls, ret);
}

int tse_tls_read(tse_tls *tls, uint8_t *buf, size_t cap)
{
    for (int guard = 0; guard < 64; guard++) {
        int ret = mbedtls_ssl_read(&tls->ssl, buf, cap);
        if (ret > 0) {
            return ret;
        }
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue; /* TLS 1.3 ticket: not used, keep reading */
        }
#endif
        if (ret == 0) {
            /* an empty application record: the memory BIO never
             * reports end of stream, so this is not EOF */
            continue;
        }
        return map_error(tls, ret);
    }
    return TSE_ERR_WOULD_BLOCK;
}

void tse_tls_close_notify(tse_tls *tls)
{
    /* WANT_WRITE: mbed TLS keeps the alert and sends it on the next
     * flush; nothing else is written afterwards, so that is fine */
    (void)mbedtls_ssl_close_notify(&tls->ssl);
}

size_t tse_tls_max_chunk(tse_tls *tls)
{
    size_t room = tse_outbuf_reserve(&tls->out, NULL);
    int exp = mbedtls_ssl_get_record_expansion(&tls->ssl);
    size_t max_payload = MBEDTLS_SSL_OUT_CONTENT_LEN;
    if (exp < 0) {
        exp = 64;
    }
    /* TLS 1.3 adds the inner content type and possible padding */
    exp += 16;
    if (room <= (size_t)exp) {
        return 0;
    }
    room -= (size_t)exp;
    return room < max_payload ? room : max_payload;
}

uint16_t tse_tls_version(const tse_tls *tls)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    return (uint16_t)mbedtls_ssl_get_version_number(&tls->ssl);
#else
    return (uint16_t)(0x0300 | tls->ssl.minor_ver);
#endif
}

const char *tse_tls_suite(const tse_tls *tls)
{
    return mbedtls_ssl_get_ciphersuite(&tls->ssl);
}

#endif /* !TSE_TLS_IDENTITY */

/* ---- the public shared configuration (tse.h) -------------------------- */

void tse_tls_conf_params_from(tse_tls_conf_params *cp, const tse_settings *s,
                              int (*entropy)(void *user, uint8_t *buf, size_t len),
                              void *entropy_user)
{
    memset(cp, 0, sizeof(*cp));
    cp->ca = s->ca;
    cp->ca_len = s->ca_len;
    cp->client_cert = s->client_cert;
    cp->client_cert_len = s->client_cert_len;
    cp->client_key = s->client_key;
    cp->client_key_len = s->client_key_len;
    cp->insecure = s->tls_insecure_lab_only_skip_verify;
    cp->entropy = entropy;
    cp->entropy_user = entropy_user;
    cp->debug = s->tls_debug;
}

int tse_tls_debug_check(const tse_settings *s)
{
    if (s->tls_debug < 0 || s->tls_debug > 4) {
        return TSE_ERR_SETTING_LOG;
    }
    if (s->tls_debug > 0 &&
        (!TSE_CONFIG_LOG_DEBUG || s->log == NULL || s->log_level != TSE_LOG_DEBUG ||
         !tse_tls_debug_available())) {
        return TSE_ERR_SETTING_LOG; /* nowhere to go, or compiled out */
    }
    return TSE_OK;
}

struct tse_tls_config {
    tse_tls_conf c;
    tse_mem mem;
};

int tse_tls_config_new(tse_tls_config **out, const tse_settings *s,
                       int (*entropy)(void *user, uint8_t *buf, size_t len),
                       void *entropy_user, const tse_mem *mem,
                       const char **detail)
{
    tse_tls_config *tc;
    tse_tls_conf_params cp;
    tse_logger lg;
    int rc;
    if (detail != NULL) {
        *detail = NULL;
    }
    if (out == NULL || s == NULL || entropy == NULL || mem == NULL ||
        mem->calloc == NULL || mem->free == NULL) {
        return TSE_ERR_INVALID_ARG;
    }
    if (tse_tls_debug_check(s) != TSE_OK) {
        return TSE_ERR_SETTING_LOG;
    }
    *out = NULL;
    tc = mem->calloc(mem->user, 1, sizeof(*tc));
    if (tc == NULL) {
        return TSE_ERR_NO_MEMORY;
    }
    tc->mem = *mem;
    tse_tls_conf_init(&tc->c);
    tse_tls_conf_params_from(&cp, s, entropy, entropy_user);
    if (TSE_CONFIG_LOG_DEBUG) {
        lg.fn = s->log;
        lg.user = s->log_user;
        lg.t = NULL; /* shared: its mbed TLS debug lines name no tunnel */
        lg.level = (int)s->log_level;
        cp.log = &lg;
    }
    rc = tse_tls_conf_setup(&tc->c, &cp);
    if (rc != TSE_OK) {
        if (detail != NULL) {
            *detail = tc->c.detail;
        }
        tse_tls_config_del(tc);
        return rc;
    }
    *out = tc;
    return TSE_OK;
}

void tse_tls_config_del(tse_tls_config *tc)
{
    tse_mem mem;
    if (tc == NULL) {
        return;
    }
    mem = tc->mem;
    tse_tls_conf_free(&tc->c);
    mem.free(mem.user, tc);
}

tse_tls_conf *tse_tls_config_conf(tse_tls_config *tc)
{
    return &tc->c;
}
