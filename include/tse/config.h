/**
 * @file config.h
 * @brief libtse's compile-time configuration: every knob and feature
 *        switch in one place, with its default.
 *
 * Like mbed TLS's MBEDTLS_CONFIG_FILE: define TSE_CONFIG_FILE (e.g.
 * -DTSE_CONFIG_FILE='"my_tse_config.h"') to a header that defines the
 * values you want; it is included first, and everything it leaves
 * undefined gets the default below.  Then bad combinations stop the build
 * with \#error.  The library AND every file that includes libtse's headers
 * must see the same configuration (some values size public structs, e.g.
 * TSE_DETECT_REQ_MAX in struct tse_detect): put the define in the build
 * system's flags for all of them.
 *
 * The defaults are the library's historical behaviour; a device
 * configuration (examples/cortex-m/tse_device_config.h) turns features off
 * and buffers down.  docs/footprint.md has what each switch saves.
 */
#ifndef TSE_CONFIG_H
#define TSE_CONFIG_H

#if defined(TSE_CONFIG_FILE)
/* cppcheck-suppress preprocessorErrorDirective */
#include TSE_CONFIG_FILE
#endif

/* ---- feature switches (1 = compiled in, 0 = out) ------------------------ */

/** Human-readable texts: tse_strerror() names and the `detail` texts of
 *  events.  0: tse_strerror() returns "" for every code (like mbed TLS
 *  without MBEDTLS_ERROR_C) and events carry no detail of the library's
 *  own (a proxy's reason phrase is still passed on; the detection's step
 *  and result reasons are ""). */
#ifndef TSE_CONFIG_STRINGS
#define TSE_CONFIG_STRINGS 1
#endif

/** HTTP CONNECT through a proxy (lib/http_connect.c).  0: direct
 *  connections only; a proxy_host is refused by tse_settings_check()
 *  (TSE_ERR_SETTING_PROXY), and the proxy state inside each tunnel
 *  shrinks to a few bytes (TSE_HC_MAX_HEAD's default becomes 16). */
#ifndef TSE_CONFIG_PROXY
#define TSE_CONFIG_PROXY 1
#endif

/** HTTP Digest authentication to a proxy (RFC 7616; needs MD5 and/or
 *  SHA-256 in mbed TLS).  0: Basic only; a Digest-only proxy is
 *  TSE_ERR_PROXY_AUTH_SCHEME.  Default: on with the proxy. */
#ifndef TSE_CONFIG_DIGEST
#define TSE_CONFIG_DIGEST TSE_CONFIG_PROXY
#endif

/** Network detection (include/tse/detect.h: tse_detect_*, the STUN and
 *  SIP probes).  0: lib/detect.c, lib/stun.c and lib/sip_probe.c compile to
 *  nothing. */
#ifndef TSE_CONFIG_DETECT
#define TSE_CONFIG_DETECT 1
#endif
/** The detection's per-network decision cache (tse_detect_cache_*,
 *  tse_detect_settings::cache), which is also the tunnel's path cache
 *  (tse_settings::path_cache, with TSE_CONFIG_MULTIPATH).  0 for a device
 *  with one uplink that does not roam (about 0.5 KiB of code on a
 *  Cortex-M4): the tse_detect_cache_* functions are not built,
 *  tse_detect_init() refuses a cache or a network_id
 *  (TSE_ERR_INVALID_ARG) and tse_settings_check() a path_cache
 *  (TSE_ERR_SETTING_PATH).  Needs TSE_CONFIG_DETECT. */
#ifndef TSE_CONFIG_DETECT_CACHE
#define TSE_CONFIG_DETECT_CACHE TSE_CONFIG_DETECT
#endif

/** The TURN client (include/tse/turn.h: tse_turn_*, RFC 8656 / RFC 6062).
 *  It uses the STUN codec, which is compiled when either this or
 *  TSE_CONFIG_DETECT is on.  0: lib/turn.c compiles to nothing. */
#ifndef TSE_CONFIG_TURN
#define TSE_CONFIG_TURN 1
#endif

/** The TLS byte stream (include/tse/stream.h: tse_stream_*, SIP and TURN
 *  over TLS on 443, TR 33.830 8.3).  0: lib/stream.c compiles to nothing. */
#ifndef TSE_CONFIG_STREAM
#define TSE_CONFIG_STREAM 1
#endif

/** Detection of the TR 33.830 8.3 path ("reuse of existing solutions":
 *  SIP over TLS to the P-CSCF and TURN over TLS, both on 443), the
 *  decision TSE_PATH_REUSE_EXISTING (include/tse/detect.h).  Needs
 *  TSE_CONFIG_DETECT, and a port that runs the probes over the stream
 *  API: TSE_CONFIG_STREAM and TSE_CONFIG_TURN (on by default when all
 *  three are; a build error when set to 1 without them).  0: two probes fewer
 *  in struct tse_detect, and the 8.3 settings are refused. */
#ifndef TSE_CONFIG_DETECT_REUSE
/* default: on when what it needs is (a device build that leaves out
 * detection or the stream leaves this out too, without an #error) */
#define TSE_CONFIG_DETECT_REUSE (TSE_CONFIG_DETECT && TSE_CONFIG_STREAM && TSE_CONFIG_TURN)
#endif

/** Outer paths chosen per connection attempt (docs/engine.md): a second
 *  TSCF port (tse_settings::server_port_2), tse_tunnel_set_outer_path()
 *  and the per-network path cache (tse_settings::path_cache).  0: one
 *  port and the proxy of the settings; server_port_2, path_cache and
 *  tse_tunnel_set_outer_path() are TSE_ERR_SETTING_PATH.
 *  tse_tunnel_network_changed() still moves the tunnel at once. */
#ifndef TSE_CONFIG_MULTIPATH
#define TSE_CONFIG_MULTIPATH 1
#endif
/** The names of the Linux TUN and netlink port's error codes
 *  (TSE_ERR_TUN_*, TSE_ERR_NETLINK*, TSE_ERR_NO_ROUTE: port/linux/tse_tun.h).  0 for a build with no such port (a device): those codes
 *  are "unknown error" in tse_strerror() and their names are not in the
 *  image.  Only names depend on it. */
#ifndef TSE_CONFIG_HOST_PORT
#define TSE_CONFIG_HOST_PORT 1
#endif
/** Inner IPv6: request an IPv6 address (tse_settings::request_ipv6) and
 *  take one from the Configuration_Response.  0: request_ipv6 is refused
 *  by tse_settings_check() (TSE_ERR_INVALID_ARG) and IPv6 TLVs of the
 *  response are ignored.  (IPv6 inner packets are still framed and
 *  passed through: the TSCF decides what it sends.) */
#ifndef TSE_CONFIG_IPV6
#define TSE_CONFIG_IPV6 1
#endif

/** The FTT wire profile (TS 24.322 envelopes, TSE_FRAMING_FTT).  0: only
 *  TSE_FRAMING_TSCF; the FTT profile is TSE_ERR_SETTING_PROFILE. */
#ifndef TSE_CONFIG_FTT
#define TSE_CONFIG_FTT 1
#endif

/** The log hook (tse_settings::log): the engine's decisions as text at
 *  TSE_LOG_ERROR, _WARN and _INFO.  0: no log code and no log texts in the
 *  image (the hook is never called).  Default: on with the texts. */
#ifndef TSE_CONFIG_LOG
#define TSE_CONFIG_LOG TSE_CONFIG_STRINGS
#endif

/** Debug-level log messages (TSE_LOG_DEBUG: every control message, each
 *  keep-alive's round trip, state steps, mbed TLS's own debug output when
 *  tse_settings::tls_debug asks for it).  Default 0: they compile out, so
 *  a product build pays neither their code nor their texts; a debugging
 *  build defines it to 1 (CMake: -DTSE_LOG_DEBUG=ON). */
#ifndef TSE_CONFIG_LOG_DEBUG
#define TSE_CONFIG_LOG_DEBUG 0
#endif

/** The TLS key log (tse_settings::tls_keylog): every connection's secrets
 *  for a protocol analyser, a debugging aid.  0: no key export code in the
 *  image; tse_settings_check() refuses a tls_keylog (TSE_ERR_SETTING_LOG,
 *  as for debug output compiled out).  Default 1. */
#ifndef TSE_CONFIG_KEYLOG
#define TSE_CONFIG_KEYLOG 1
#endif

/* ---- engine (lib/tunnel.c) ---------------------------------------------- */

/** Ciphertext (outer) buffer, bytes: holds TLS records until the port has
 *  sent them.  Must fit one full record of MBEDTLS_SSL_OUT_CONTENT_LEN
 *  plus its expansion for full-size records; smaller still works with
 *  smaller records. */
#ifndef TSE_OUTER_BUF_SIZE
#define TSE_OUTER_BUF_SIZE 8192
#endif
/** The control class's queue, bytes: a few encoded CMs. */
#ifndef TSE_CM_QUEUE_SIZE
#define TSE_CM_QUEUE_SIZE 512u
#endif
/** Plaintext read from TLS at a time (a stack buffer of the engine). */
#ifndef TSE_READ_CHUNK
#define TSE_READ_CHUNK 2048u
#endif

/* ---- HTTP CONNECT (lib/http_connect.h) ---------------------------------- */

/** Largest proxy response head (all interim heads and the final one);
 *  also the scratch space for Digest hashing and base64 (>= 2048). */
#ifndef TSE_HC_MAX_HEAD
#if TSE_CONFIG_PROXY
#define TSE_HC_MAX_HEAD 4096
#else
#define TSE_HC_MAX_HEAD 16
#endif
#endif
/** Largest 407 body skipped to reuse the connection; above: reconnect. */
#ifndef TSE_HC_MAX_SKIP
#define TSE_HC_MAX_SKIP 65536u
#endif
/** Longest reason phrase kept from the proxy's status line. */
#ifndef TSE_HC_MAX_REASON
#define TSE_HC_MAX_REASON 64
#endif
/** Largest Digest realm / nonce / opaque kept from a challenge (three
 *  such buffers in each tunnel; 1 when Digest is compiled out). */
#ifndef TSE_HC_MAX_PARAM
#if TSE_CONFIG_DIGEST
#define TSE_HC_MAX_PARAM 160
#else
#define TSE_HC_MAX_PARAM 1
#endif
#endif
/** Largest target host, user and password. */
#ifndef TSE_HC_MAX_HOST
#define TSE_HC_MAX_HOST 255
#endif
/** Largest proxy user name and password (TSE_HC_MAX_HOST's companion). */
#ifndef TSE_HC_MAX_CRED
#define TSE_HC_MAX_CRED 255
#endif

/* ---- detection (include/tse/detect.h, lib/sip_probe.h) ------------------ */

#ifndef TSE_DETECT_NETID_MAX
#define TSE_DETECT_NETID_MAX 64u     /**< network identity bytes */
#endif
#ifndef TSE_DETECT_REQ_MAX
#define TSE_DETECT_REQ_MAX 640u      /**< bytes kept per probe request */
#endif
#ifndef TSE_DETECT_TCP_RX_MAX
#define TSE_DETECT_TCP_RX_MAX 4096u  /**< SIP-over-TCP receive buffer */
#endif
#ifndef TSE_DETECT_TARGET_MAX
#define TSE_DETECT_TARGET_MAX 272u   /**< "host:port" text */
#endif
#ifndef TSE_SIP_MAX_HEAD
#define TSE_SIP_MAX_HEAD 4096u       /**< SIP response head parsed */
#endif
#ifndef TSE_SIP_MAX_BODY
#define TSE_SIP_MAX_BODY 4096u       /**< SIP response body skipped */
#endif

/* ---- checks ------------------------------------------------------------- */

#if (TSE_CONFIG_STRINGS != 0 && TSE_CONFIG_STRINGS != 1) || \
    (TSE_CONFIG_PROXY != 0 && TSE_CONFIG_PROXY != 1) || \
    (TSE_CONFIG_DIGEST != 0 && TSE_CONFIG_DIGEST != 1) || \
    (TSE_CONFIG_DETECT != 0 && TSE_CONFIG_DETECT != 1) || \
    (TSE_CONFIG_DETECT_CACHE != 0 && TSE_CONFIG_DETECT_CACHE != 1) || \
    (TSE_CONFIG_TURN != 0 && TSE_CONFIG_TURN != 1) || \
    (TSE_CONFIG_STREAM != 0 && TSE_CONFIG_STREAM != 1) || \
    (TSE_CONFIG_DETECT_REUSE != 0 && TSE_CONFIG_DETECT_REUSE != 1) || \
    (TSE_CONFIG_HOST_PORT != 0 && TSE_CONFIG_HOST_PORT != 1) || \
    (TSE_CONFIG_MULTIPATH != 0 && TSE_CONFIG_MULTIPATH != 1) || \
    (TSE_CONFIG_IPV6 != 0 && TSE_CONFIG_IPV6 != 1) || \
    (TSE_CONFIG_FTT != 0 && TSE_CONFIG_FTT != 1) || \
    (TSE_CONFIG_LOG != 0 && TSE_CONFIG_LOG != 1) || \
    (TSE_CONFIG_LOG_DEBUG != 0 && TSE_CONFIG_LOG_DEBUG != 1)
#error "tse/config.h: the TSE_CONFIG_* switches are 0 or 1"
#endif
#if TSE_OUTER_BUF_SIZE < 1024
#error "tse/config.h: TSE_OUTER_BUF_SIZE below 1024 cannot hold a ClientHello"
#endif
#if TSE_CM_QUEUE_SIZE < 352
#error "tse/config.h: TSE_CM_QUEUE_SIZE must hold the largest CM (TSE_CM_MAX_ENCODED, 329 bytes, plus framing)"
#endif
#if TSE_READ_CHUNK < 256
#error "tse/config.h: TSE_READ_CHUNK below 256"
#endif
#if TSE_CONFIG_LOG && !TSE_CONFIG_STRINGS
#error "tse/config.h: TSE_CONFIG_LOG needs TSE_CONFIG_STRINGS (log messages are texts)"
#endif
#if TSE_CONFIG_LOG_DEBUG && !TSE_CONFIG_LOG
#error "tse/config.h: TSE_CONFIG_LOG_DEBUG needs TSE_CONFIG_LOG"
#endif
#if TSE_CONFIG_DIGEST && !TSE_CONFIG_PROXY
#error "tse/config.h: TSE_CONFIG_DIGEST needs TSE_CONFIG_PROXY"
#endif
#if TSE_CONFIG_PROXY && TSE_HC_MAX_HEAD < 2048
#error "tse/config.h: TSE_HC_MAX_HEAD below 2048 (the scratch space of the CONNECT request)"
#endif
#if TSE_CONFIG_DIGEST && TSE_HC_MAX_PARAM < 16
#error "tse/config.h: TSE_HC_MAX_PARAM too small for Digest"
#endif
#if TSE_HC_MAX_HOST < 16 || TSE_HC_MAX_CRED < 1
#error "tse/config.h: TSE_HC_MAX_HOST/CRED too small"
#endif
#if TSE_CONFIG_DETECT_CACHE && !TSE_CONFIG_DETECT
#error "tse/config.h: TSE_CONFIG_DETECT_CACHE needs TSE_CONFIG_DETECT"
#endif
#if TSE_CONFIG_DETECT_REUSE && !TSE_CONFIG_DETECT
#error "tse/config.h: TSE_CONFIG_DETECT_REUSE needs TSE_CONFIG_DETECT"
#endif
#if TSE_CONFIG_DETECT_REUSE && (!TSE_CONFIG_STREAM || !TSE_CONFIG_TURN)
#error "tse/config.h: TSE_CONFIG_DETECT_REUSE needs TSE_CONFIG_STREAM and TSE_CONFIG_TURN (its probes run over them)"
#endif
#if TSE_DETECT_NETID_MAX > 255
#error "tse/config.h: TSE_DETECT_NETID_MAX above 255 (kept in a uint8_t)"
#endif
#if TSE_CONFIG_DETECT && (TSE_DETECT_REQ_MAX < 512 || TSE_DETECT_TARGET_MAX < 64 || \
                          TSE_DETECT_TCP_RX_MAX < 512 || TSE_DETECT_NETID_MAX < 1)
#error "tse/config.h: detection buffers too small (a SIP OPTIONS request needs 512 bytes)"
#endif
#if TSE_CONFIG_DETECT && (TSE_SIP_MAX_HEAD < 256 || TSE_SIP_MAX_HEAD > TSE_DETECT_TCP_RX_MAX)
#error "tse/config.h: TSE_SIP_MAX_HEAD must be 256..TSE_DETECT_TCP_RX_MAX"
#endif

/** A literal the library shows to humans (an event's detail): NULL when
 *  TSE_CONFIG_STRINGS is 0, so that the text is not in the image. */
#if TSE_CONFIG_STRINGS
#define TSE_TEXT(s) (s)
#else
#define TSE_TEXT(s) ((const char *)0)
#endif
/** The same for a text that is also a verdict (non-NULL = "this is
 *  wrong"): "" when TSE_CONFIG_STRINGS is 0. */
#if TSE_CONFIG_STRINGS
#define TSE_TEXT_NZ(s) (s)
#else
#define TSE_TEXT_NZ(s) ("")
#endif

#endif /* TSE_CONFIG_H */
