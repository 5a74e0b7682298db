/* test_deps_mbedtls.c - the mbed TLS that cmake/TseDeps.cmake provides is the
 * one announced, and, when compiled with port/mbedtls/tse_mbedtls_config.h,
 * has exactly the TLS profile that header promises: the cipher suites, the
 * groups, the record sizes, and allocations routed through
 * mbedtls_platform_set_calloc_free(). */
#include <stdlib.h>

#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/ecp.h"
#include "mbedtls/version.h"
#if defined(MBEDTLS_PLATFORM_C)
#include "mbedtls/platform.h"
#endif

#include "tt.h"

TT_TEST(headers_and_library_agree)
{
#if defined(MBEDTLS_VERSION_C)
    /* a 2.28 header with a 3.6 library (or the reverse) shows up here */
    TT_EQ_INT(mbedtls_version_get_number(), MBEDTLS_VERSION_NUMBER);
#endif
#ifdef TSE_TEST_MBEDTLS_VERSION
    TT_ASSERT(strcmp(MBEDTLS_VERSION_STRING, TSE_TEST_MBEDTLS_VERSION) == 0);
#endif
    TT_ASSERT(MBEDTLS_VERSION_MAJOR == 3 || (MBEDTLS_VERSION_MAJOR == 2 && MBEDTLS_VERSION_MINOR >= 28));
}

#ifdef TSE_MBEDTLS_CONFIG_H

TT_TEST(default_suites_are_the_profile)
{
    /* tse_mbedtls_config.h MBEDTLS_SSL_CIPHERSUITES, in this order */
    static const int want[] = {
        MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
        MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
        MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    };
    const int *list = mbedtls_ssl_list_ciphersuites();
    size_t i;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        TT_EQ_INT(list[i], want[i]);
        TT_ASSERT(mbedtls_ssl_ciphersuite_from_id(want[i]) != NULL);
    }
    TT_EQ_INT(list[i], 0);
}

TT_TEST(weak_suites_are_not_compiled_in)
{
    /* CBC, static RSA key exchange, finite-field DHE, CCM, PSK */
    TT_ASSERT(mbedtls_ssl_ciphersuite_from_id(MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256) == NULL);
    TT_ASSERT(mbedtls_ssl_ciphersuite_from_id(MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384) == NULL);
    TT_ASSERT(mbedtls_ssl_ciphersuite_from_id(MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256) == NULL);
    TT_ASSERT(mbedtls_ssl_ciphersuite_from_id(MBEDTLS_TLS_DHE_RSA_WITH_AES_128_GCM_SHA256) == NULL);
    TT_ASSERT(mbedtls_ssl_ciphersuite_from_id(MBEDTLS_TLS1_3_AES_128_CCM_SHA256) == NULL);
    TT_ASSERT(mbedtls_ssl_ciphersuite_from_id(MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256) == NULL);
}

TT_TEST(groups_are_x25519_p256_p384)
{
    const mbedtls_ecp_curve_info *c = mbedtls_ecp_curve_list();
    int n = 0, x25519 = 0, p256 = 0, p384 = 0;
    for (; c->grp_id != MBEDTLS_ECP_DP_NONE && n < 64; c++, n++) {
        x25519 += c->grp_id == MBEDTLS_ECP_DP_CURVE25519;
        p256 += c->grp_id == MBEDTLS_ECP_DP_SECP256R1;
        p384 += c->grp_id == MBEDTLS_ECP_DP_SECP384R1;
    }
    TT_EQ_INT(n, 3);
    TT_EQ_INT(x25519, 1);
    TT_EQ_INT(p256, 1);
    TT_EQ_INT(p384, 1);
}

TT_TEST(record_sizes_and_modules)
{
    TT_EQ_INT(MBEDTLS_SSL_IN_CONTENT_LEN, 16384);
    TT_EQ_INT(MBEDTLS_SSL_OUT_CONTENT_LEN, 4096);
#if !defined(MBEDTLS_SSL_PROTO_TLS1_3) || !defined(MBEDTLS_SSL_PROTO_TLS1_2) || \
    !defined(MBEDTLS_SSL_CLI_C) || !defined(MBEDTLS_SSL_SERVER_NAME_INDICATION) || \
    !defined(MBEDTLS_MD5_C) || !defined(MBEDTLS_BASE64_C) || !defined(MBEDTLS_PLATFORM_MEMORY)
    TT_ASSERT(!"a feature the library needs is off");
#endif
#if defined(MBEDTLS_NET_C) || defined(MBEDTLS_TIMING_C) || defined(MBEDTLS_SSL_RENEGOTIATION)
    TT_ASSERT(!"a module the library must not need is on");
#endif
#if defined(TSE_MBEDTLS_FULL) && !(defined(MBEDTLS_SSL_SRV_C) && defined(MBEDTLS_X509_CRT_WRITE_C))
    TT_ASSERT(!"TSE_MBEDTLS_FULL without the server / certificate writing");
#endif
}

#endif /* TSE_MBEDTLS_CONFIG_H */

#if defined(MBEDTLS_PLATFORM_MEMORY)
static size_t n_calloc, n_free;
static void *count_calloc(size_t n, size_t size)
{
    n_calloc++;
    return calloc(n, size);
}
static void count_free(void *p)
{
    if (p != NULL) {
        n_free++;
    }
    free(p);
}

static int fixed_rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    memset(out, 0x5a, len); /* setup only checks that there is an RNG */
    return 0;
}

/* mbed TLS's heap use can be routed to the integrator's allocator */
TT_TEST(allocations_are_routed)
{
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    int ret;
    n_calloc = n_free = 0;
    TT_EQ_INT(mbedtls_platform_set_calloc_free(count_calloc, count_free), 0);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret == 0) {
        mbedtls_ssl_conf_rng(&conf, fixed_rng, NULL);
        ret = mbedtls_ssl_setup(&ssl, &conf); /* allocates the record buffers */
    }
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_platform_set_calloc_free(calloc, free);
    TT_EQ_INT(ret, 0);
    TT_ASSERT(n_calloc >= 2);
    TT_EQ_INT(n_free, n_calloc);
}
#endif

int main(void)
{
    TT_RUN(headers_and_library_agree);
#ifdef TSE_MBEDTLS_CONFIG_H
    TT_RUN(default_suites_are_the_profile);
    TT_RUN(weak_suites_are_not_compiled_in);
    TT_RUN(groups_are_x25519_p256_p384);
    TT_RUN(record_sizes_and_modules);
#endif
#if defined(MBEDTLS_PLATFORM_MEMORY)
    TT_RUN(allocations_are_routed);
#endif
    return TT_DONE();
}
