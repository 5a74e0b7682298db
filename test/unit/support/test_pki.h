/* test_pki.h - a throw-away PKI for the engine's tests, built in memory.
 *
 * Everything is ECDSA P-256, signed with SHA-256, generated from a fixed
 * DRBG seed, so every run of a test process sees the same keys and certs.
 *
 *   const test_pki *p = test_pki_get();      // built on first call
 *   settings.ca = (const uint8_t *)p->ca_pem; settings.ca_len = strlen(p->ca_pem) + 1;
 *
 * The lower layer (tp_*) is shared with test/tools/tse-mkcert.c, which
 * writes the same kind of set to PEM files.
 *
 * Names: the server certificates carry the name both as the subject CN and
 * in a subjectAltName extension (dNSName, plus iPAddress when asked).
 * mbed TLS 2.28 has no SAN writer (mbedtls_x509write_crt_set_subject_
 * alternative_name appeared in 3.x), so the extension is DER-encoded here
 * and added with mbedtls_x509write_crt_set_extension(), which both 2.28 and
 * 3.6 have.  mbed TLS 2.28's verifier matches dNSName only (not iPAddress).
 */
#ifndef TEST_PKI_H
#define TEST_PKI_H

#include <stddef.h>
#include <stdint.h>

#define TP_PEM_MAX 4096

/* ---- low layer -------------------------------------------------------- */

typedef struct tp_rng tp_rng;   /* a deterministic DRBG */

/* A fresh deterministic DRBG seeded from @p seed (any string). */
tp_rng *tp_rng_new(const char *seed);
void tp_rng_free(tp_rng *r);

typedef struct tp_key tp_key;   /* an ECDSA P-256 key pair */

tp_key *tp_key_new(tp_rng *r);
void tp_key_free(tp_key *k);
/* PEM of the private key (SEC1 "EC PRIVATE KEY") into out; 0 on success. */
int tp_key_pem(const tp_key *k, char *out, size_t cap);
/* SHA-256 of the DER SubjectPublicKeyInfo; 0 on success. */
int tp_key_spki_sha256(const tp_key *k, uint8_t out[32]);

typedef struct tp_cert_params {
    const char *subject;      /* "CN=tscf.test,O=libtse test" */
    const char *dns_name;     /* SAN dNSName, or NULL */
    const uint8_t *ip;        /* SAN iPAddress, or NULL */
    size_t ip_len;            /* 4 or 16 */
    int is_ca;
    int client;               /* extendedKeyUsage clientAuth, else serverAuth */
    const char *not_before;   /* "YYYYMMDDhhmmss" */
    const char *not_after;
    uint32_t serial;
} tp_cert_params;

/* Issue a certificate for @p subject_key signed by @p issuer_key whose
 * subject name is @p issuer_name (== p->subject for self-signed).
 * Writes PEM into out; 0 on success, else an mbed TLS error. */
int tp_cert_pem(tp_rng *r, const tp_cert_params *p, const tp_key *subject_key,
                const tp_key *issuer_key, const char *issuer_name,
                char *out, size_t cap);

/* ---- the set every engine test uses ----------------------------------- */

typedef struct test_pki {
    char ca_pem[TP_PEM_MAX];                 /* trusted CA */
    char ca_key[TP_PEM_MAX];
    char server_pem[TP_PEM_MAX];             /* "tscf.test", valid, by CA */
    char server_key[TP_PEM_MAX];
    uint8_t server_spki_sha256[32];          /* pin of server_key */
    char wrong_name_pem[TP_PEM_MAX];         /* "other.test", by CA */
    char wrong_name_key[TP_PEM_MAX];
    char expired_pem[TP_PEM_MAX];            /* "tscf.test", 2010-2011, by CA */
    char expired_key[TP_PEM_MAX];
    char untrusted_ca_pem[TP_PEM_MAX];       /* a second CA nobody trusts */
    char untrusted_ca_server_pem[TP_PEM_MAX];/* "tscf.test" by that CA */
    char untrusted_ca_server_key[TP_PEM_MAX];
    char server2_pem[TP_PEM_MAX];            /* "tscf.test", valid, by CA,
                                                another key (pin tests) */
    char server2_key[TP_PEM_MAX];
    char server_ip_pem[TP_PEM_MAX];          /* CN=127.0.0.1, SAN iPAddress
                                                127.0.0.1 only, by CA */
    char server_ip_key[TP_PEM_MAX];
    char client_pem[TP_PEM_MAX];             /* "client.test", clientAuth, by CA */
    char client_key[TP_PEM_MAX];
} test_pki;

/* Built once per process (aborts the process if mbed TLS fails). */
const test_pki *test_pki_get(void);

/* Helper: the length to pass as settings.ca_len etc. (strlen + 1). */
size_t test_pki_len(const char *pem);

#endif
