/*
 * tse_mbedtls_config.h - the mbed TLS 3.6 configuration libtse is built with.
 *
 * Used as MBEDTLS_CONFIG_FILE when mbed TLS is compiled from source
 * (TSE_DEPS=debian-src or TSE_DEPS=custom with TSE_MBEDTLS_SOURCE_DIR, see
 * cmake/TseDeps.cmake).  It REPLACES mbed TLS's include/mbedtls/mbedtls_config.h:
 * everything not defined here is off.  mbed TLS's check_config.h runs on it at
 * every build (through mbedtls/build_info.h) and #errors on an inconsistent
 * combination.  Not used with the system mbed TLS 2.28 (TSE_DEPS=system), which
 * comes with Debian's own, much larger configuration.
 *
 * Two layers:
 *
 *  - always: what the library itself needs -- a TLS 1.3 / TLS 1.2 *client*
 *    that verifies the tunnel server's certificate chain, plus the hashes
 *    and codecs the HTTP CONNECT proxy layer needs (MD5 and SHA-256 for HTTP
 *    Digest, RFC 7616; base64 for Basic).  No sockets, files or clocks other
 *    than wall-clock time for certificate validity.
 *
 *  - TSE_MBEDTLS_FULL: what the project's tests and examples add on top -- a
 *    TLS server (tscf-server, the in-memory peer of the unit tests), session
 *    ticket issuing, certificate/key generation and writing for the test
 *    certificate tool, file I/O for examples that load PEM files, and the
 *    debug module.  CMake defines TSE_MBEDTLS_FULL unless
 *    -DTSE_MBEDTLS_CLIENT_ONLY=ON (a vendor building only the library).
 *
 * A vendor with its own mbed TLS build needs at least the "always" layer's
 * features; see README.md "Building against your own mbed TLS and lwIP".
 */
#ifndef TSE_MBEDTLS_CONFIG_H
#define TSE_MBEDTLS_CONFIG_H

/* ---- system support ------------------------------------------------------ */
#define MBEDTLS_HAVE_ASM
/* Wall-clock time is needed for certificate validity (notBefore/notAfter)
 * and for TLS 1.3 session ticket age.  An RTOS without time() sets
 * MBEDTLS_PLATFORM_TIME_ALT and calls mbedtls_platform_set_time(). */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_PLATFORM_C
/* Every mbed TLS allocation goes through mbedtls_calloc/mbedtls_free, which
 * with PLATFORM_MEMORY are function pointers settable with
 * mbedtls_platform_set_calloc_free(): the integrator routes them to the same
 * allocator it gives libtse.  Note these pointers are process-global. */
#define MBEDTLS_PLATFORM_MEMORY

/* ---- TLS ------------------------------------------------------------------ */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
/* Send the dummy ChangeCipherSpec / legacy session id of RFC 8446 D.4 so a
 * TLS 1.3 handshake looks like a 1.2 resumption to middleboxes -- the very
 * firewalls and proxies the tunnel exists to get through. */
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
/* Resumption with a ticket (psk_dhe_ke keeps forward secrecy). */
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE /* required by the TLS 1.3 code */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_ALPN
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET /* TLS 1.2, RFC 7627 */
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
/* No renegotiation, no TLS 1.2 non-ECDHE key exchange, no CBC. */

/* TLS 1.2 key exchanges: ECDHE only (forward secrecy), server authenticated
 * by an ECDSA or an RSA certificate. */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED

/* The default cipher suite list, strongest first.  This is the TLS profile
 * of 3GPP TS 33.310 Annex E as it applies here: for TLS 1.3 the AEAD suites
 * TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384 (plus
 * TLS_CHACHA20_POLY1305_SHA256, which is fast on CPUs without AES
 * instructions); for TLS 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305,
 * ECDSA or RSA certificates.  No CBC, no static RSA, no finite-field DHE. */
#define MBEDTLS_SSL_CIPHERSUITES                                   \
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,                             \
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,                             \
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,                       \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,               \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,               \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,         \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,                 \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,                 \
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256

/* Record buffer sizes.  Incoming records can be as large as the protocol
 * allows (2^14 bytes of plaintext): the TSE cannot make the TSCF (a server
 * it does not control) send smaller ones, and mbed TLS drops a connection
 * whose record does not fit.  Outgoing records are ours: one inner IP packet
 * (at most the tunnel MTU, typically 1280-1500 bytes) plus its framing fits
 * easily in 4096, and mbed TLS splits anything larger into several records.
 * Together with the TLS overhead this is about 2 x 16.5 KiB + 2 x 4.3 KiB of
 * record buffers per tunnel instead of 2 x 33 KiB for the defaults. */
#define MBEDTLS_SSL_IN_CONTENT_LEN  16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

/* ---- X.509 ---------------------------------------------------------------- */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C /* ECDSA signature encoding */

/* ---- public key ----------------------------------------------------------- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21 /* RSASSA-PSS: what TLS 1.3 signs with over RSA keys */
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT /* ...and offers rsa_pss_rsae_* only with this */
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED

/* ---- symmetric, hashes ---------------------------------------------------- */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_MD_C
#define MBEDTLS_MD5_C    /* HTTP Digest (RFC 7616) to a proxy; TURN long-term
                          * credential key (RFC 8489 9.2.2); never in TLS */
#define MBEDTLS_SHA1_C   /* STUN/TURN MESSAGE-INTEGRITY is HMAC-SHA1 (RFC 8489
                          * 14.5); TLS and X.509 default profiles exclude SHA-1 */
#define MBEDTLS_SHA224_C /* mbed TLS builds SHA-224 and SHA-256 together */
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C   /* TLS 1.3 key schedule (as PSA HKDF) */

/* ---- randomness ----------------------------------------------------------- */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
/* The default entropy source is the OS (getrandom on Linux).  An RTOS port
 * defines MBEDTLS_NO_PLATFORM_ENTROPY and MBEDTLS_ENTROPY_HARDWARE_ALT and
 * provides mbedtls_hardware_poll(). */

/* ---- PSA crypto: the TLS 1.3 code is written against it ------------------- */
#define MBEDTLS_PSA_CRYPTO_C
/* Every TLS 1.3 connection holds PSA keys (traffic secrets, ECDHE).  A fixed
 * key table (MBEDTLS_PSA_KEY_SLOT_COUNT, 32 by default) caps the number of
 * concurrent connections per process: tse-cli's 200-tunnel test ran out at
 * the 33rd.  The dynamic key store grows the table on the heap instead. */
#define MBEDTLS_PSA_KEY_STORE_DYNAMIC

/* ---- diagnostics ---------------------------------------------------------- */
#define MBEDTLS_ERROR_C /* mbedtls_strerror(), for logs */
#define MBEDTLS_VERSION_C

/* Explicitly off (listed so nobody turns them on by accident):
 * MBEDTLS_NET_C      the library never opens a socket: TLS runs over memory
 * MBEDTLS_FS_IO      the library never opens a file: certificates come as bytes
 * MBEDTLS_TIMING_C   time is fed in by the caller
 * MBEDTLS_SSL_RENEGOTIATION, MBEDTLS_SSL_PROTO_DTLS, MBEDTLS_THREADING_C */

/* ---- test and example extras ---------------------------------------------- */
#if defined(TSE_MBEDTLS_FULL)
#define MBEDTLS_SSL_SRV_C          /* tscf-server, the in-memory test peer */
#define MBEDTLS_SSL_TICKET_C       /* the server side of session tickets */
#define MBEDTLS_X509_CREATE_C
#define MBEDTLS_X509_CRT_WRITE_C   /* the test certificate tool */
#define MBEDTLS_X509_CSR_WRITE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_GENPRIME           /* RSA key generation for test certs */
#define MBEDTLS_HMAC_DRBG_C        /* the deterministic test PKI */
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_FS_IO              /* examples load PEM files */
#define MBEDTLS_DEBUG_C            /* mbedtls_ssl_conf_dbg() in the examples */
#endif

#endif /* TSE_MBEDTLS_CONFIG_H */
