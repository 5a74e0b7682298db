/* tse-cli --control FIFO: network changes told to a running tse-cli (by a
 * connection manager, a test, or an engineer), one command per line:
 *
 *   network ID                   the device moved to network ID (opaque
 *                                word); the proxy stays as it was
 *   network ID proxy HOST:PORT   ... and that network's HTTP proxy is
 *                                HOST:PORT (or http://[user:pass@]host:port)
 *   network ID direct            ... and it has no proxy
 *
 * --network ID names the network at the start (so coming back to it finds
 * its cached path).
 *
 * --watch-network (Linux): the same without a script: rtnetlink route,
 * address and link changes, settled for 300 ms, that change the network's
 * identity (the default route outside the TUN: interface, gateway,
 * address; tse_netwatch_new()) move the tunnel; the proxy stays.
 * Each runs tse_tunnel_set_outer_path() then tse_tunnel_network_changed():
 * the tunnel drops its connection and resumes at once on the new path,
 * starting where the per-network cache says it worked.  A JSON
 * "network_changed" event (or a line) acknowledges it; a bad command gives
 * an "error" event and changes nothing. */
#ifndef TSE_CLI_ROAM_CLI_H
#define TSE_CLI_ROAM_CLI_H

#include <stddef.h>

#include "tse/tse.h"
#include "tse_posix.h"

/* One command-line option (--control, --network, --watch-network).  Returns 0 (not ours), 1 (taken),
 * -1 (bad value; @p err says why). */
int roam_cli_option(const char *name, const char *val, char *err, size_t cap);

/* 1 if --control was given. */
int roam_cli_enabled(void);

/* Check the combination with the other options: 0, or -1 with @p err. */
int roam_cli_validate(long tunnels, char *err, size_t cap);

/* Settings for a tunnel that may roam: the shared per-network cache. */
void roam_cli_settings(tse_settings *s);

/* Open the FIFO (created if missing) and watch it on @p d for tunnel @p t.
 * @p s: the settings the tunnel was made with (ports, proxy: the path a
 * "network ID" without a proxy word keeps).  Returns 0, or -1 with @p err. */
int roam_cli_open(tse_posix_driver *d, tse_tunnel *t, const tse_settings *s, int json,
                  char *err, size_t cap);

/* Stop watching and close the FIFO. */
void roam_cli_close(void);

#endif
