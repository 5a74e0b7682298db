/* udp_echo_app.h - the application half of lwip-sys: plain lwIP sockets.
 * Kept in its own translation unit because lwIP's <lwip/sockets.h> and the
 * host's socket/poll headers (used by port/posix) cannot share one. */
#ifndef LWIP_SYS_UDP_ECHO_APP_H
#define LWIP_SYS_UDP_ECHO_APP_H

/* Send @p text to 198.18.0.1 port 7 over lwIP's socket API and wait up to
 * @p timeout_ms for it to come back; @p tries attempts.  Runs in the
 * calling (application) thread; never touches the tunnel.
 * Returns 0 when an identical datagram came back from 198.18.0.1:7. */
int udp_echo_app_run(const char *text, int tries, int timeout_ms);

#endif
