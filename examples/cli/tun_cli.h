/* tse-cli --tun IFNAME [--route PREFIX]... [--mtu N]: the tunnel as a Linux
 * TUN interface (port/linux/tse_tun.h).  tse-cli.c calls these hooks; with
 * no --tun they do nothing.  On systems without port/linux (TSE_CLI_TUN
 * undefined) --tun is refused with a clear message. */
#ifndef TSE_CLI_TUN_CLI_H
#define TSE_CLI_TUN_CLI_H

#include <stddef.h>

#include "tse/tse.h"
#include "tse_posix.h"

/* One command-line option.  Returns 0 (not a TUN option), 1 (taken), -1
 * (bad value; @p err says why). */
int tun_cli_option(const char *name, const char *val, char *err, size_t cap);

/* After parsing: 1 if --tun was given. */
int tun_cli_enabled(void);

/* The --tun interface name, or NULL. */
const char *tun_cli_ifname(void);

/* Check the combination with the other options.  Returns 0, or -1 with
 * @p err set (usage error). */
int tun_cli_validate(long tunnels, int has_inner_app, char *err, size_t cap);

/* Engine settings for a TUN run (before tse_tunnel_new()): a bulk queue
 * that absorbs a kernel TCP's bursts (TSE_CLI_TUN_QUEUE). */
void tun_cli_settings(tse_settings *s);

/* Create the interface and hook it to tunnel @p t on driver @p d (also
 * installs the POSIX socket hook that keeps the outer connection out of a
 * default route).  Returns TSE_OK or an error with @p err set. */
int tun_cli_open(tse_posix_driver *d, tse_tunnel *t, int json, char *err, size_t cap);

/* From on_event / on_packet. */
void tun_cli_on_event(const tse_event *ev);
void tun_cli_on_packet(const uint8_t *pkt, size_t len);

/* A configuration failure seen in a callback, reported once: returns 1
 * with *code, @p reason and @p detail set. */
int tun_cli_take_error(int *code, char *detail, size_t cap);

/* Remove routes, addresses and the interface; print the counters. */
void tun_cli_close(void);

#endif
