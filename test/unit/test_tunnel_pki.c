/* The test PKI itself: every certificate the engine tests rely on must
 * fail (or pass) mbed TLS's verifier for exactly the intended reason. */
#include <stdint.h>
#include <string.h>

#include "mbedtls/md.h"
#include "mbedtls/pk.h"
#include "mbedtls/x509_crt.h"

#include "test_pki.h"
#include "tt.h"

#if MBEDTLS_VERSION_MAJOR >= 3
/* mbed TLS 3 checks an EC key pair by computing with blinding, so it needs an
 * RNG; any bytes do for that. */
static int blinding_rng(void *ctx, unsigned char *out, size_t len)
{
    size_t i;
    (void)ctx;
    for (i = 0; i < len; i++) {
        out[i] = (unsigned char)(i * 7 + 1);
    }
    return 0;
}
#endif

static int parse(mbedtls_x509_crt *c, const char *pem)
{
    mbedtls_x509_crt_init(c);
    return mbedtls_x509_crt_parse(c, (const unsigned char *)pem, strlen(pem) + 1);
}

static uint32_t verify(const char *leaf, const char *ca, const char *name)
{
    mbedtls_x509_crt l, a;
    uint32_t flags = 0;
    if (parse(&l, leaf) != 0 || parse(&a, ca) != 0) {
        return 0xFFFFFFFFu;
    }
    (void)mbedtls_x509_crt_verify(&l, &a, NULL, name, &flags, NULL, NULL);
    mbedtls_x509_crt_free(&l);
    mbedtls_x509_crt_free(&a);
    return flags;
}

TT_TEST(server_cert_verifies)
{
    const test_pki *p = test_pki_get();
    TT_EQ_INT(verify(p->server_pem, p->ca_pem, "tscf.test"), 0);
    TT_EQ_INT(verify(p->client_pem, p->ca_pem, "client.test"), 0);
}

TT_TEST(bad_certs_fail_for_the_intended_reason)
{
    const test_pki *p = test_pki_get();
    TT_EQ_INT(verify(p->wrong_name_pem, p->ca_pem, "tscf.test"), MBEDTLS_X509_BADCERT_CN_MISMATCH);
    TT_EQ_INT(verify(p->server_pem, p->ca_pem, "other.test"), MBEDTLS_X509_BADCERT_CN_MISMATCH);
    TT_EQ_INT(verify(p->expired_pem, p->ca_pem, "tscf.test"), MBEDTLS_X509_BADCERT_EXPIRED);
    TT_EQ_INT(verify(p->untrusted_ca_server_pem, p->ca_pem, "tscf.test"),
              MBEDTLS_X509_BADCERT_NOT_TRUSTED);
    /* ... and the untrusted one is fine with its own CA */
    TT_EQ_INT(verify(p->untrusted_ca_server_pem, p->untrusted_ca_pem, "tscf.test"), 0);
}

TT_TEST(keys_match_and_pin_is_spki_hash)
{
    const test_pki *p = test_pki_get();
    mbedtls_x509_crt c;
    unsigned char der[512];
    uint8_t h[32];
    int n;
    TT_EQ_INT(parse(&c, p->server_pem), 0);
    n = mbedtls_pk_write_pubkey_der(&c.pk, der, sizeof(der));
    TT_ASSERT(n > 0);
    TT_EQ_INT(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                         der + sizeof(der) - n, (size_t)n, h), 0);
    mbedtls_x509_crt_free(&c);
    TT_EQ_MEM(h, p->server_spki_sha256, 32);
    /* the key file belongs to the certificate */
    {
        mbedtls_pk_context k;
        mbedtls_pk_init(&k);
        TT_EQ_INT(parse(&c, p->server_pem), 0);
#if MBEDTLS_VERSION_MAJOR >= 3
        TT_EQ_INT(mbedtls_pk_parse_key(&k, (const unsigned char *)p->server_key,
                                       strlen(p->server_key) + 1, NULL, 0, NULL, NULL), 0);
        TT_EQ_INT(mbedtls_pk_check_pair(&c.pk, &k, blinding_rng, NULL), 0);
#else
        TT_EQ_INT(mbedtls_pk_parse_key(&k, (const unsigned char *)p->server_key,
                                       strlen(p->server_key) + 1, NULL, 0), 0);
        TT_EQ_INT(mbedtls_pk_check_pair(&c.pk, &k), 0);
#endif
        mbedtls_pk_free(&k);
        mbedtls_x509_crt_free(&c);
    }
}

TT_TEST(generation_is_deterministic)
{
    char a[TP_PEM_MAX], b[TP_PEM_MAX];
    int i;
    for (i = 0; i < 2; i++) {
        tp_rng *r = tp_rng_new("determinism");
        tp_key *k = tp_key_new(r);
        tp_cert_params cp;
        TT_ASSERT(r != NULL && k != NULL);
        memset(&cp, 0, sizeof(cp));
        cp.subject = "CN=x.test";
        cp.dns_name = "x.test";
        cp.ip = (const uint8_t *)"\x7f\x00\x00\x01";
        cp.ip_len = 4;
        cp.not_before = "20200101000000";
        cp.not_after = "20300101000000";
        cp.serial = 7;
        TT_EQ_INT(tp_cert_pem(r, &cp, k, k, "CN=x.test", i ? b : a, TP_PEM_MAX), 0);
        tp_key_free(k);
        tp_rng_free(r);
    }
    TT_ASSERT(strcmp(a, b) == 0);
    TT_EQ_INT(verify(a, a, "x.test"), 0);
}

int main(void)
{
    TT_RUN(server_cert_verifies);
    TT_RUN(bad_certs_fail_for_the_intended_reason);
    TT_RUN(keys_match_and_pin_is_spki_hash);
    TT_RUN(generation_is_deterministic);
    return TT_DONE();
}
