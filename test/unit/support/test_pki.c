/* test_pki.c - deterministic in-memory test PKI (see test_pki.h). */
#include "test_pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/version.h"
#include "mbedtls/ecp.h"
#include "mbedtls/hmac_drbg.h"
#include "mbedtls/md.h"
#include "mbedtls/oid.h"
#include "mbedtls/pk.h"
#include "mbedtls/x509_crt.h"
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include "psa/crypto.h"
#endif

struct tp_rng {
    mbedtls_hmac_drbg_context drbg;
};

struct tp_key {
    mbedtls_pk_context pk;
};

static int tp_random(void *p, unsigned char *out, size_t len)
{
    return mbedtls_hmac_drbg_random(p, out, len);
}

static void tp_psa_init(void)
{
#if defined(MBEDTLS_PSA_CRYPTO_C)
    /* mbed TLS 3.x signs through PSA when MBEDTLS_USE_PSA_CRYPTO is set;
     * initialising twice is harmless. */
    (void)psa_crypto_init();
#endif
}

tp_rng *tp_rng_new(const char *seed)
{
    tp_rng *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    tp_psa_init();
    mbedtls_hmac_drbg_init(&r->drbg);
    /* Seeded from the buffer only, never from an entropy source: the same
     * seed gives the same keys, certificates and signatures every run. */
    if (mbedtls_hmac_drbg_seed_buf(&r->drbg,
                                   mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                                   (const unsigned char *)seed,
                                   strlen(seed)) != 0) {
        mbedtls_hmac_drbg_free(&r->drbg);
        free(r);
        return NULL;
    }
    return r;
}

void tp_rng_free(tp_rng *r)
{
    if (r != NULL) {
        mbedtls_hmac_drbg_free(&r->drbg);
        free(r);
    }
}

tp_key *tp_key_new(tp_rng *r)
{
    tp_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return NULL;
    }
    mbedtls_pk_init(&k->pk);
    if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk),
                            tp_random, &r->drbg) != 0) {
        mbedtls_pk_free(&k->pk);
        free(k);
        return NULL;
    }
    return k;
}

void tp_key_free(tp_key *k)
{
    if (k != NULL) {
        mbedtls_pk_free(&k->pk);
        free(k);
    }
}

int tp_key_pem(const tp_key *k, char *out, size_t cap)
{
    return mbedtls_pk_write_key_pem((mbedtls_pk_context *)&k->pk,
                                    (unsigned char *)out, cap);
}

int tp_key_spki_sha256(const tp_key *k, uint8_t out[32])
{
    unsigned char der[512];
    int n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&k->pk, der,
                                        sizeof(der));
    if (n <= 0) {
        return n < 0 ? n : -1;
    }
    /* pk_write_*_der writes at the END of the buffer. */
    return mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                      der + sizeof(der) - (size_t)n, (size_t)n, out);
}

/* DER: tag, short or one-byte long length, value. */
static size_t der_put(uint8_t *out, uint8_t tag, const uint8_t *val, size_t len)
{
    size_t o = 0;
    out[o++] = tag;
    if (len < 128) {
        out[o++] = (uint8_t)len;
    } else {
        out[o++] = 0x81;
        out[o++] = (uint8_t)len;
    }
    memcpy(out + o, val, len);
    return o + len;
}

static int tp_set_ext(mbedtls_x509write_cert *crt, const char *oid,
                      size_t oid_len, int critical, const uint8_t *v, size_t n)
{
    return mbedtls_x509write_crt_set_extension(crt, oid, oid_len, critical, v, n);
}

int tp_cert_pem(tp_rng *r, const tp_cert_params *p, const tp_key *subject_key,
                const tp_key *issuer_key, const char *issuer_name,
                char *out, size_t cap)
{
    mbedtls_x509write_cert crt;
    int ret;
    uint8_t serial[4];

    mbedtls_x509write_crt_init(&crt);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, (mbedtls_pk_context *)&subject_key->pk);
    mbedtls_x509write_crt_set_issuer_key(&crt, (mbedtls_pk_context *)&issuer_key->pk);

    serial[0] = (uint8_t)(p->serial >> 24);
    serial[1] = (uint8_t)(p->serial >> 16);
    serial[2] = (uint8_t)(p->serial >> 8);
    serial[3] = (uint8_t)p->serial;
    serial[0] &= 0x7f; /* positive INTEGER */
#if MBEDTLS_VERSION_MAJOR >= 3
    {
        /* DER INTEGERs are minimal (X.690 8.3.2): set_serial_raw writes the
         * bytes as given, and OpenSSL rejects 00 00 00 01 ("illegal
         * padding"), so drop the redundant leading zeros. */
        size_t k = 0;
        while (k + 1 < sizeof(serial) && serial[k] == 0 && (serial[k + 1] & 0x80) == 0) {
            k++;
        }
        ret = mbedtls_x509write_crt_set_serial_raw(&crt, serial + k, sizeof(serial) - k);
    }
#else
    {
        mbedtls_mpi s;
        mbedtls_mpi_init(&s);
        ret = mbedtls_mpi_read_binary(&s, serial, sizeof(serial));
        if (ret == 0) {
            ret = mbedtls_x509write_crt_set_serial(&crt, &s);
        }
        mbedtls_mpi_free(&s);
    }
#endif
    if (ret != 0) goto done;
    if ((ret = mbedtls_x509write_crt_set_subject_name(&crt, p->subject)) != 0) goto done;
    if ((ret = mbedtls_x509write_crt_set_issuer_name(&crt, issuer_name)) != 0) goto done;
    if ((ret = mbedtls_x509write_crt_set_validity(&crt, p->not_before, p->not_after)) != 0) goto done;
    if ((ret = mbedtls_x509write_crt_set_basic_constraints(&crt, p->is_ca, p->is_ca ? 0 : -1)) != 0) goto done;
    if (p->is_ca) {
        ret = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                        MBEDTLS_X509_KU_CRL_SIGN);
    } else {
        ret = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    }
    if (ret != 0) goto done;

    if (!p->is_ca) {
        /* extendedKeyUsage: SEQUENCE { OID serverAuth | clientAuth } */
        uint8_t oid[16], seq[32];
        size_t n;
        if (p->client) {
            n = der_put(oid, 0x06, (const uint8_t *)MBEDTLS_OID_CLIENT_AUTH,
                        MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
        } else {
            n = der_put(oid, 0x06, (const uint8_t *)MBEDTLS_OID_SERVER_AUTH,
                        MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
        }
        n = der_put(seq, 0x30, oid, n);
        ret = tp_set_ext(&crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                         MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, seq, n);
        if (ret != 0) goto done;
    }

    if (p->dns_name != NULL || p->ip != NULL) {
        /* subjectAltName: SEQUENCE { [2] dNSName, [7] iPAddress } (RFC 5280
         * 4.2.1.6), written by hand for mbed TLS 2.28 (no SAN writer). */
        uint8_t names[300], seq[310];
        size_t n = 0, dl = p->dns_name ? strlen(p->dns_name) : 0;
        if (dl > 250 || (p->ip != NULL && p->ip_len != 4 && p->ip_len != 16)) {
            ret = -1;
            goto done;
        }
        if (p->dns_name != NULL) {
            n += der_put(names + n, 0x82, (const uint8_t *)p->dns_name, dl);
        }
        if (p->ip != NULL) {
            n += der_put(names + n, 0x87, p->ip, p->ip_len);
        }
        n = der_put(seq, 0x30, names, n);
        ret = tp_set_ext(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                         MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, seq, n);
        if (ret != 0) goto done;
    }

    ret = mbedtls_x509write_crt_pem(&crt, (unsigned char *)out, cap, tp_random, &r->drbg);
done:
    mbedtls_x509write_crt_free(&crt);
    return ret;
}

/* ---- the fixed set ----------------------------------------------------- */

static test_pki g_pki;
static int g_pki_built;

#define TP_CA_NAME "CN=libtse test CA,O=libtse test"
#define TP_UNTRUSTED_CA_NAME "CN=libtse untrusted CA,O=libtse test"
#define TP_NB "20200101000000"
#define TP_NA "20991231235959"

static void tp_die(const char *what, int ret)
{
    fprintf(stderr, "test_pki: %s failed: -0x%04x\n", what, (unsigned)-ret);
    abort();
}

static void tp_leaf_ip(tp_rng *r, const tp_key *issuer, const char *issuer_name,
                       char *pem, char *key_pem)
{
    static const uint8_t lo[4] = { 127, 0, 0, 1 };
    tp_cert_params p;
    int ret;
    tp_key *k = tp_key_new(r);
    if (k == NULL) tp_die("key", -1);
    memset(&p, 0, sizeof(p));
    p.subject = "CN=127.0.0.1,O=libtse test";
    p.ip = lo;
    p.ip_len = 4;
    p.not_before = TP_NB;
    p.not_after = TP_NA;
    p.serial = 6;
    if ((ret = tp_cert_pem(r, &p, k, issuer, issuer_name, pem, TP_PEM_MAX)) != 0) tp_die("ip cert", ret);
    if ((ret = tp_key_pem(k, key_pem, TP_PEM_MAX)) != 0) tp_die("key pem", ret);
    tp_key_free(k);
}

static void tp_leaf(tp_rng *r, const char *cn_subject, const char *dns, int client,
                    const char *nb, const char *na, uint32_t serial,
                    const tp_key *issuer, const char *issuer_name,
                    char *pem, char *key_pem, uint8_t *pin)
{
    tp_cert_params p;
    int ret;
    tp_key *k = tp_key_new(r);
    if (k == NULL) tp_die("key", -1);
    memset(&p, 0, sizeof(p));
    p.subject = cn_subject;
    p.dns_name = dns;
    p.client = client;
    p.not_before = nb;
    p.not_after = na;
    p.serial = serial;
    if ((ret = tp_cert_pem(r, &p, k, issuer, issuer_name, pem, TP_PEM_MAX)) != 0) tp_die(cn_subject, ret);
    if ((ret = tp_key_pem(k, key_pem, TP_PEM_MAX)) != 0) tp_die("key pem", ret);
    if (pin != NULL && (ret = tp_key_spki_sha256(k, pin)) != 0) tp_die("pin", ret);
    tp_key_free(k);
}

static void tp_ca(tp_rng *r, const char *name, uint32_t serial, tp_key **key_out,
                  char *pem)
{
    tp_cert_params p;
    int ret;
    tp_key *k = tp_key_new(r);
    if (k == NULL) tp_die("CA key", -1);
    memset(&p, 0, sizeof(p));
    p.subject = name;
    p.is_ca = 1;
    p.not_before = TP_NB;
    p.not_after = TP_NA;
    p.serial = serial;
    if ((ret = tp_cert_pem(r, &p, k, k, name, pem, TP_PEM_MAX)) != 0) tp_die("CA", ret);
    *key_out = k;
}

const test_pki *test_pki_get(void)
{
    tp_rng *r;
    tp_key *ca, *uca;
    if (g_pki_built) {
        return &g_pki;
    }
    r = tp_rng_new("libtse test pki v1");
    if (r == NULL) tp_die("drbg", -1);

    tp_ca(r, TP_CA_NAME, 1, &ca, g_pki.ca_pem);
    if (tp_key_pem(ca, g_pki.ca_key, TP_PEM_MAX) != 0) tp_die("CA key pem", -1);
    tp_leaf(r, "CN=tscf.test,O=libtse test", "tscf.test", 0, TP_NB, TP_NA, 2,
            ca, TP_CA_NAME, g_pki.server_pem, g_pki.server_key, g_pki.server_spki_sha256);
    tp_leaf(r, "CN=other.test,O=libtse test", "other.test", 0, TP_NB, TP_NA, 3,
            ca, TP_CA_NAME, g_pki.wrong_name_pem, g_pki.wrong_name_key, NULL);
    tp_leaf(r, "CN=tscf.test,O=libtse test expired", "tscf.test", 0,
            "20100101000000", "20110101000000", 4,
            ca, TP_CA_NAME, g_pki.expired_pem, g_pki.expired_key, NULL);
    tp_leaf(r, "CN=client.test,O=libtse test", "client.test", 1, TP_NB, TP_NA, 5,
            ca, TP_CA_NAME, g_pki.client_pem, g_pki.client_key, NULL);

    tp_leaf_ip(r, ca, TP_CA_NAME, g_pki.server_ip_pem, g_pki.server_ip_key);
    tp_leaf(r, "CN=tscf.test,O=libtse test 2", "tscf.test", 0, TP_NB, TP_NA, 7,
            ca, TP_CA_NAME, g_pki.server2_pem, g_pki.server2_key, NULL);

    tp_ca(r, TP_UNTRUSTED_CA_NAME, 100, &uca, g_pki.untrusted_ca_pem);
    tp_leaf(r, "CN=tscf.test,O=libtse test untrusted", "tscf.test", 0, TP_NB, TP_NA, 101,
            uca, TP_UNTRUSTED_CA_NAME, g_pki.untrusted_ca_server_pem,
            g_pki.untrusted_ca_server_key, NULL);

    tp_key_free(ca);
    tp_key_free(uca);
    tp_rng_free(r);
    g_pki_built = 1;
    return &g_pki;
}

size_t test_pki_len(const char *pem)
{
    return strlen(pem) + 1;
}
