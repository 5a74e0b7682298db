/*
 * tse_device_config.h - libtse's configuration for the Cortex-M example
 * (TSE_CONFIG_FILE; see include/tse/config.h for every knob).
 *
 * A device that reaches its TSCF directly (no HTTP CONNECT proxy),
 * IPv4 inside the tunnel, no network detection (the path is provisioned),
 * no texts (error codes are logged as numbers).  The footprint table
 * (docs/footprint.md) is measured with this file and, for the "with
 * strings" column, with TSE_CONFIG_STRINGS forced to 1.
 */
#ifndef TSE_DEVICE_CONFIG_H
#define TSE_DEVICE_CONFIG_H

#ifndef TSE_CONFIG_STRINGS
#define TSE_CONFIG_STRINGS 0
#endif
/* A device that reaches its TSCF without a proxy: -DTSE_DEVICE_PROXY=1
 * brings HTTP CONNECT (Basic only) back. */
#if defined(TSE_DEVICE_PROXY) && TSE_DEVICE_PROXY
#define TSE_CONFIG_PROXY 1
#define TSE_HC_MAX_HEAD 2048
#else
#define TSE_CONFIG_PROXY 0
#endif
#define TSE_CONFIG_DIGEST 0
#ifndef TSE_CONFIG_DETECT
#define TSE_CONFIG_DETECT 0   /* the path is provisioned */
#endif
/* one uplink that does not roam: no per-network decision cache */
#define TSE_CONFIG_DETECT_CACHE 0
#define TSE_CONFIG_TURN 0     /* no TURN relay on the device */
#define TSE_CONFIG_MULTIPATH 0 /* one TSCF port, no path cache */
#define TSE_CONFIG_STREAM 0   /* no SIP or TURN over TLS of its own */
#define TSE_CONFIG_HOST_PORT 0 /* no Linux TUN/netlink port: no names */
#define TSE_CONFIG_IPV6 0
#define TSE_CONFIG_FTT 0
#define TSE_CONFIG_KEYLOG 0   /* no TLS key log (a debugging aid) */
/* No log hook on the device (its texts and formatter, ~2 KiB, would also
 * land in the "with strings" column); -DTSE_CONFIG_LOG=1 brings it. */
#ifndef TSE_CONFIG_LOG
#define TSE_CONFIG_LOG 0
#endif

/* Ciphertext buffer: one record of MBEDTLS_SSL_OUT_CONTENT_LEN (2048,
 * port/mbedtls/tse_mbedtls_device_config.h) plus its expansion, twice. */
#define TSE_OUTER_BUF_SIZE 4096
#define TSE_READ_CHUNK 1024u

#endif
