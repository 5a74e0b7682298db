/*
 * tse_mbedtls_device_config.h - a small mbed TLS 3.6 configuration for a
 * device (Cortex-M class): what a libtse *client* needs and nothing else.
 *
 * Used by the cross build (examples/cortex-m/) as MBEDTLS_CONFIG_FILE.  It
 * replaces mbed TLS's mbedtls_config.h; everything not defined here is off,
 * and mbed TLS's check_config.h checks the combination at every build.
 * The host configuration (tse_mbedtls_config.h) is the model; differences:
 *
 *  - TLS 1.3 and TLS 1.2 client, ECDHE only, AEAD only (AES-128/256-GCM,
 *    no ChaCha20-Poly1305), P-256 and X25519 key exchange, server
 *    certificates signed with ECDSA P-256/SHA-256 (add MBEDTLS_RSA_C,
 *    MBEDTLS_PKCS1_V15, MBEDTLS_PKCS1_V21, MBEDTLS_X509_RSASSA_PSS_SUPPORT
 *    and MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED for a TSCF with an RSA
 *    certificate: about +9 KB of flash; MBEDTLS_SHA384_C/SHA512_C and
 *    MBEDTLS_ECP_DP_SECP384R1_ENABLED for a P-384 chain).
 *  - No wall clock: MBEDTLS_HAVE_TIME_DATE is off, so certificate validity
 *    dates are NOT checked (a board without an RTC has no trustworthy date);
 *    a product with a trusted time source turns it on and provides
 *    mbedtls_platform_gmtime_r()/time() (MBEDTLS_PLATFORM_TIME_ALT).
 *  - No session tickets (resumption of the tunnel is by TSID, not TLS).
 *  - Entropy from the board: MBEDTLS_NO_PLATFORM_ENTROPY +
 *    MBEDTLS_ENTROPY_HARDWARE_ALT, the port provides mbedtls_hardware_poll()
 *    (PSA crypto's own DRBG is seeded from it; libtse's DRBG is seeded from
 *    tse_callbacks::entropy).  Both must be a real TRNG on a product.
 *  - Small record buffers: see MBEDTLS_SSL_IN_CONTENT_LEN below and
 *    docs/porting.md "TLS record sizes".
 *  - HTTP Digest (MD5) only with TSE_DEVICE_DIGEST (libtse's
 *    TSE_CONFIG_DIGEST).
 *  - No mbedtls_strerror() (MBEDTLS_ERROR_C off), no version strings.
 */
#ifndef TSE_MBEDTLS_DEVICE_CONFIG_H
#define TSE_MBEDTLS_DEVICE_CONFIG_H

/* ---- system support ------------------------------------------------------ */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY  /* mbedtls_platform_set_calloc_free() */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT
/* no stdio on the device: no mbedtls_printf/fprintf/snprintf users enabled */

/* ---- TLS ------------------------------------------------------------------ */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE /* middlebox compatibility */
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE     /* required by the TLS 1.3 code */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED

#define MBEDTLS_SSL_CIPHERSUITES                                   \
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,                             \
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,                             \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256

/* Record buffers.  IN: the largest record plaintext the TSCF may send.  The
 * protocol allows 2^14; a device that cannot afford 2 x 16.4 KB sets less,
 * which is safe only if the TSCF never sends a record longer than this
 * (docs/porting.md "TLS record sizes": examples/tscf-server writes records
 * of at most 4096 bytes of plaintext; a TSCF should honour RFC 8449
 * record_size_limit / RFC 6066 max_fragment_length).  mbed TLS drops the
 * connection (MBEDTLS_ERR_SSL_INVALID_RECORD) on a longer record: a loud
 * failure, never an overflow.  OUT: our own records; one inner packet (MTU
 * <= 1500) plus framing fits, and mbed TLS splits larger writes. */
#ifndef MBEDTLS_SSL_IN_CONTENT_LEN
#define MBEDTLS_SSL_IN_CONTENT_LEN  4096
#endif
#ifndef MBEDTLS_SSL_OUT_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN 2048
#endif
/* Tell the server (TLS 1.3, RFC 8449): the ClientHello carries
 * record_size_limit = MBEDTLS_SSL_IN_CONTENT_LEN.  A TSCF that implements
 * RFC 8449 then never sends a longer record.  (TLS 1.2's RFC 6066
 * max_fragment_length needs mbedtls_ssl_conf_max_frag_len() on the
 * configuration, which libtse does not call yet.) */
#define MBEDTLS_SSL_RECORD_SIZE_LIMIT

/* ---- X.509 ---------------------------------------------------------------- */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_PEM_PARSE_C   /* trust anchors as PEM; drop for DER only */
#define MBEDTLS_BASE64_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C

/* ---- public key ----------------------------------------------------------- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
/* smaller and slower ECC: a fixed-point window of 2 and no NIST
 * fast reduction */
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0

/* ---- symmetric, hashes ---------------------------------------------------- */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES     /* tables in flash, not RAM */
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA384_C           /* TLS 1.3 transcript of AES_256_GCM_SHA384 */
#define MBEDTLS_SHA512_C
#define MBEDTLS_SHA512_SMALLER
#define MBEDTLS_HKDF_C
#if defined(TSE_DEVICE_DIGEST)
#define MBEDTLS_MD5_C              /* HTTP Digest to a proxy */
#endif

/* ---- randomness ----------------------------------------------------------- */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* ---- PSA crypto (the TLS 1.3 code is written against it) ------------------ */
#define MBEDTLS_PSA_CRYPTO_C
/* One tunnel: the fixed key table is enough (each TLS 1.3 connection holds a
 * handful of keys while it runs). */
#define MBEDTLS_PSA_KEY_SLOT_COUNT 8

#endif /* TSE_MBEDTLS_DEVICE_CONFIG_H */
