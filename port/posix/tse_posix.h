/**
 * @file tse_posix.h
 * @brief The POSIX port of libtse: non-blocking TCP (IPv4 and IPv6),
 *        monotonic clock, entropy, allocator, and a poll(2) driver that
 *        runs one or many tunnels in one thread.
 *
 * Thread rules: one driver, one thread.  A driver and every tunnel added
 * to it are used only from the thread that calls
 * tse_posix_driver_run_once() / _run() (or _prepare() / _process()).
 * Different drivers in different threads are independent.  The functions
 * of tse_posix_port() keep no shared state except the optional
 * /dev/urandom fallback (opened per call), so they may be used from any
 * thread for different connections.
 *
 * Blocking: nothing the port does blocks the driver's thread.  A literal
 * IPv4 / IPv6 address is used at once; a DNS name is resolved by
 * getaddrinfo(3) in a short-lived detached thread (one per connect, gone
 * when the answer is in), while the connection reports
 * TSE_ERR_WOULD_BLOCK and the driver serves everything else; or by the
 * application's own resolver (tse_posix_set_resolver()), which must not
 * block.  Connect, send, recv and close never block.
 *
 * Minimal program:
 * @code
 *   tse_settings s; tse_settings_default(&s);
 *   s.server_host = "tscf.example.net"; s.ca = pem; s.ca_len = pem_len;
 *   tse_callbacks cb = { on_event, on_packet, tse_posix_entropy, NULL };
 *   tse_tunnel *t; tse_tunnel_new(&t, &s, &cb, tse_posix_mem(), app);
 *   tse_posix_driver *d; tse_posix_driver_new(&d);
 *   tse_posix_driver_add(d, t);
 *   tse_tunnel_start(t, tse_posix_now_ms());
 *   static volatile sig_atomic_t stop;   // set from a signal handler
 *   tse_posix_driver_run(d, &stop);
 *   tse_posix_driver_remove(d, t); tse_tunnel_del(t); tse_posix_driver_del(d);
 * @endcode
 */
#ifndef TSE_POSIX_H
#define TSE_POSIX_H

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "tse/port.h"
#include "tse/tse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration (compile-time) ---------------------------------------- */

/** Most resolved addresses tried per connect (after interleaving). */
#ifndef TSE_POSIX_MAX_ADDRS
#define TSE_POSIX_MAX_ADDRS 16
#endif
/** Most connection attempts in flight at once (happy-eyeballs-lite). */
#ifndef TSE_POSIX_MAX_ATTEMPTS
#define TSE_POSIX_MAX_ATTEMPTS 4
#endif
/** Delay before the next address is tried while one is still pending
 *  (RFC 8305 5: "Connection Attempt Delay", recommended 250 ms). */
#ifndef TSE_POSIX_ATTEMPT_DELAY_MS
#define TSE_POSIX_ATTEMPT_DELAY_MS 250
#endif
/** Bytes read from one tunnel per poll round before moving on to the
 *  next (fairness between tunnels). */
#ifndef TSE_POSIX_READ_BUDGET
#define TSE_POSIX_READ_BUDGET 65536
#endif
/** Bytes of ciphertext sent on one tunnel per phase of a poll round (the
 *  service before poll(), the handling after it) before the application's
 *  watched fds run.  A TUN reader that shares the thread then drains the
 *  kernel's ring into the scheduler's classes at least every two budgets,
 *  so a voice packet waits behind at most that much encryption rather
 *  than in the ring's FIFO (docs/bench-tun.md).  Smaller costs more poll
 *  rounds per megabyte. */
#ifndef TSE_POSIX_WRITE_BUDGET
#define TSE_POSIX_WRITE_BUDGET 16384
#endif

/** Longest wait for a DNS name to resolve (the resolver thread's answer),
 *  in milliseconds; then the connect fails with TSE_ERR_TRANSPORT_RESOLVE.
 *  The thread itself cannot be stopped: it ends when getaddrinfo(3)
 *  returns (bounded by the system resolver's own timeouts, resolv.conf
 *  "timeout" x "attempts"), and its answer is then discarded. */
#ifndef TSE_POSIX_RESOLVE_TIMEOUT_MS
#define TSE_POSIX_RESOLVE_TIMEOUT_MS 5000
#endif

/** Most resolver threads alive at once in the process (a DNS that hangs
 *  longer than TSE_POSIX_RESOLVE_TIMEOUT_MS leaves its thread running
 *  until getaddrinfo(3) returns); beyond it a lookup fails at once with
 *  TSE_ERR_TRANSPORT_RESOLVE rather than piling up threads. */
#ifndef TSE_POSIX_RESOLVE_THREADS_MAX
#define TSE_POSIX_RESOLVE_THREADS_MAX 16
#endif

/* ---- the port table and its building blocks ------------------------------ */

/**
 * @brief The POSIX tse_port table (static, never NULL).
 *
 * connect_start() never blocks.  A literal address ("192.0.2.1",
 * "2001:db8::1", "[2001:db8::1]") is used at once, without a thread.  For
 * a name it asks the application's resolver if one is set
 * (tse_posix_set_resolver()); otherwise (or when that declines) it starts
 * getaddrinfo() in a detached thread and returns TSE_OK with the
 * connection "resolving": tse_posix_conn_pollfds() then gives one fd that
 * turns readable when the answer is in, tse_posix_conn_deadline() the
 * end of TSE_POSIX_RESOLVE_TIMEOUT_MS, and connect_poll() answers
 * TSE_ERR_WOULD_BLOCK until then; a name that does not resolve (or not in
 * time) fails connect_poll() with TSE_ERR_TRANSPORT_RESOLVE.  close()
 * during resolution does not wait: the thread frees what it shares with
 * the connection when it ends.  connect_start() returns TSE_ERR_NO_MEMORY
 * when the thread (or its pipe) cannot be created; it does not fall back
 * to resolving in the caller's thread, which would stall the driver.
 *
 * The resolved addresses are ordered alternating IPv6 / IPv4 (RFC 8305
 * 4), and a non-blocking connect starts to the first.  connect_poll() finishes attempts,
 * starts the next address when one fails, or when one has been pending
 * for TSE_POSIX_ATTEMPT_DELAY_MS (up to TSE_POSIX_MAX_ATTEMPTS in
 * parallel; the first to succeed wins).  Sockets get TCP_NODELAY (the
 * tunnel carries real-time traffic) and FD_CLOEXEC; sends use
 * MSG_NOSIGNAL (or SO_NOSIGPIPE) so a dead peer never raises SIGPIPE.
 * errno is mapped by tse_posix_err_from_errno().
 * @return the table
 */
TSE_API const tse_port *tse_posix_port(void);

/**
 * Called by the port for every outer TCP socket it creates, right after
 * socket(2) and its options (non-blocking, CLOEXEC, TCP_NODELAY), before
 * connect(2).  @p dst is where it is about to connect (the TSCF or the
 * HTTP proxy; one call per happy-eyeballs attempt).
 *
 * Use it to exempt the outer connection from a VPN that captures the
 * default route: on Android, VpnService.protect(fd) (through JNI); on
 * Linux, SO_MARK / SO_BINDTODEVICE, or tse_tun_exclude() of port/linux.
 * The hook must not close @p fd nor keep it beyond the call (the port
 * closes it when the connection ends).
 * @return 0 to go on; anything else fails this attempt: the socket is
 *         closed and the attempt counts as failed with
 *         TSE_ERR_TRANSPORT_IO (the next address, if any, is tried).
 */
typedef int (*tse_posix_socket_hook)(void *user, int fd,
                                     const struct sockaddr *dst,
                                     socklen_t dstlen);

/**
 * @brief Install (or remove, with NULL) the process-wide socket hook.
 *        Set it before the first tse_tunnel_start() (or between driver
 *        rounds): it is read without a lock by the thread that connects.
 *        Sockets of the detection (tse_detect_posix.h) do not call it.
 * @param hook  the hook, or NULL for none
 * @param user  passed to @p hook
 */
TSE_API void tse_posix_set_socket_hook(tse_posix_socket_hook hook, void *user);

/**
 * The application's resolver: fills up to @p max addresses for @p host,
 * for example those an Android application got from
 * Network.getAllByName() for the network the tunnel must use, or a
 * cache.  Called by connect_start() in the driver's thread, for DNS names
 * only (never for a literal address), so it must return at once: resolve
 * beforehand (in the application's own thread) and hand over the result
 * here.
 *
 * @param user   the pointer given to tse_posix_set_resolver()
 * @param host   the name (the TSCF's or the HTTP proxy's, without
 *               brackets); NUL-terminated; only valid during the call
 * @param addrs  [out] room for @p max addresses; each entry is a
 *               struct sockaddr_in (AF_INET) or struct sockaddr_in6
 *               (AF_INET6), others are skipped.  The port is ignored: the
 *               port sets the one it connects to.  IPv6 and IPv4 are
 *               tried interleaved, starting with the family of the first.
 * @param max    entries at @p addrs (TSE_POSIX_MAX_ADDRS)
 * @return the number of addresses written (1 .. @p max): used instead of
 *         the system resolver; 0: no answer from the application, the
 *         port resolves @p host itself (getaddrinfo(3) in a thread);
 *         negative: the name does not resolve, connect_start() fails with
 *         TSE_ERR_TRANSPORT_RESOLVE (no DNS query is made).
 */
typedef int (*tse_posix_resolver)(void *user, const char *host,
                                  struct sockaddr_storage *addrs, size_t max);

/**
 * @brief Install (or remove, with NULL) the process-wide resolver hook.
 *        Like the socket hook, set it before the first tse_tunnel_start()
 *        (or between driver rounds): it is read without a lock.
 *
 * @code
 *   static int app_resolve(void *user, const char *host,
 *                          struct sockaddr_storage *a, size_t max)
 *   {
 *       struct app_cache *cache = user;   // filled by the app's own thread
 *       return app_cache_lookup(cache, host, a, max);  // 0 if not cached
 *   }
 *   tse_posix_set_resolver(app_resolve, &cache);
 * @endcode
 * @param fn    the resolver, or NULL for getaddrinfo(3) only
 * @param user  passed to @p fn
 */
TSE_API void tse_posix_set_resolver(tse_posix_resolver fn, void *user);

/** @brief Milliseconds of CLOCK_MONOTONIC.
 *  @return the time */
TSE_API tse_time_ms tse_posix_now_ms(void);

/**
 * @brief Cryptographic random bytes: getrandom(2) where available, else
 *        /dev/urandom.  Signature of tse_callbacks::entropy (@p user is
 *        ignored), so it can be used there directly.
 * @param user  ignored
 * @param buf   filled with @p len random bytes
 * @param len   how many
 * @return 0 on success, -1 on failure.
 */
TSE_API int tse_posix_entropy(void *user, uint8_t *buf, size_t len);

/** @brief A calloc/free allocator for tse_tunnel_new().
 *  @return the allocator (static) */
TSE_API const tse_mem *tse_posix_mem(void);

/**
 * @brief Read a certificate or key file whole, for mbed TLS's buffer
 *        parsers (which, unlike the *_parse_file ones, need no
 *        MBEDTLS_FS_IO).  The buffer is always NUL-terminated; for PEM
 *        ("-----BEGIN" in it) the NUL is counted in @p len, as mbed TLS's
 *        PEM parser requires, for DER it is not.
 * @param[in]  path the file
 * @param[out] len bytes to hand to the parser
 * @return a buffer the caller frees with free(), or NULL with errno set
 *         (EFBIG above 16 MiB: that is not a certificate file).
 */
TSE_API uint8_t *tse_posix_read_key_file(const char *path, size_t *len);

/**
 * @brief Map an errno value to a TSE_ERR_TRANSPORT_* code:
 *        ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ENETDOWN, EHOSTDOWN,
 *        EADDRNOTAVAIL -> REFUSED; ETIMEDOUT -> TIMEOUT; ECONNRESET,
 *        EPIPE, ECONNABORTED -> RESET; ENOMEM/ENOBUFS -> IO; others -> IO.
 *        (EOF is not an errno: recv() reports it as TSE_ERR_TRANSPORT_CLOSED.)
 * @param e  an errno value
 * @return TSE_ERR_TRANSPORT_REFUSED, TSE_ERR_TRANSPORT_TIMEOUT,
 *         TSE_ERR_TRANSPORT_RESET or TSE_ERR_TRANSPORT_IO
 */
TSE_API int tse_posix_err_from_errno(int e);

/**
 * @brief The pollfd entries a connection needs now: the connected socket
 *        (with events = 0; the caller adds POLLIN/POLLOUT), one entry
 *        with POLLOUT per connection attempt in flight, or, while a name
 *        resolves, one entry with POLLIN that turns ready (POLLIN or
 *        POLLHUP) when the answer is in.  Never more than
 *        TSE_POSIX_MAX_ATTEMPTS.  On any readiness call connect_poll().
 * @param c    the connection
 * @param fds  filled
 * @param max  room in @p fds
 * @return number of entries written (at most @p max; 0 if @p c is NULL).
 */
TSE_API size_t tse_posix_conn_pollfds(const tse_port_conn *c, struct pollfd *fds,
                                      size_t max);

/** @brief When connect_poll() must run even without socket activity (the
 *         next happy-eyeballs attempt, or the end of the resolution
 *         timeout).
 *  @param c  the connection
 *  @return the time, or TSE_TIME_NEVER (none pending, or @p c NULL) */
TSE_API tse_time_ms tse_posix_conn_deadline(const tse_port_conn *c);

/** @brief The connected socket.
 *  @param c  the connection
 *  @return the fd, or -1 while connecting (and for NULL) */
TSE_API int tse_posix_conn_fd(const tse_port_conn *c);

/**
 * @brief Bound the bytes the kernel holds unsent for a connected socket
 *        (TCP_NOTSENT_LOWAT), so that the engine's scheduler, not a kernel
 *        FIFO, picks what goes next (tse_sched_settings::notsent_lowat).
 *        The driver calls it for each connection it opens.
 * @param c      the connection
 * @param bytes  the bound (1 .. INT_MAX)
 * @return TSE_OK, TSE_ERR_INVALID_ARG (not connected, or 0 / too large),
 *         TSE_ERR_STATE (the OS has no TCP_NOTSENT_LOWAT), or a
 *         TSE_ERR_TRANSPORT_* from setsockopt.
 */
TSE_API int tse_posix_conn_set_notsent_lowat(tse_port_conn *c, size_t bytes);

/* ---- the driver ----------------------------------------------------------- */

/** The poll driver (tse_posix_driver_new()); opaque. */
typedef struct tse_posix_driver tse_posix_driver;

/** Called when a watched application fd is ready (see watch_fd()). */
typedef void (*tse_posix_fd_cb)(void *user, int fd, short revents);

/**
 * Called once at the start of every poll round (run_once()), before the
 * tunnels are serviced, with the current time; its return value only
 * bounds how long the round's poll may sleep.  Do the application's periodic work
 * here (send packets with tse_tunnel_send_packet(), check timeouts...).
 * @return the next time it wants to be called, or TSE_TIME_NEVER.
 */
typedef tse_time_ms (*tse_posix_tick_cb)(void *user, tse_time_ms now);

/**
 * @brief Create a driver.
 * @param[out] out  the driver (free with tse_posix_driver_del())
 * @return TSE_OK, TSE_ERR_INVALID_ARG (@p out NULL), TSE_ERR_NO_MEMORY
 */
TSE_API int tse_posix_driver_new(tse_posix_driver **out);

/** @brief Close every connection still open and free the driver.  The
 *         tunnels themselves stay the application's (tse_tunnel_del()).
 *         NULL is fine.  Not from a driver callback.
 *  @param d  the driver */
TSE_API void tse_posix_driver_del(tse_posix_driver *d);

/**
 * @brief Let the driver run @p t (already created; start it with
 *        tse_tunnel_start() before or after).  The driver does the
 *        connect / disconnect the engine wants, moves bytes, and runs the
 *        engine's timers.  The application keeps ownership of @p t.
 * @param d  the driver
 * @param t  the tunnel
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, or already added),
 *         TSE_ERR_NO_MEMORY
 */
TSE_API int tse_posix_driver_add(tse_posix_driver *d, tse_tunnel *t);

/**
 * @brief Stop running @p t: its outer connection, if any, is closed
 *        WITHOUT telling the engine (call this just before
 *        tse_tunnel_del(), or after the tunnel reached CLOSED).  Not from
 *        an engine callback (on_event / on_packet) of a tunnel this driver
 *        runs; from the tick or a watched-fd callback it is fine.
 * @param d  the driver
 * @param t  the tunnel
 * @return TSE_OK, TSE_ERR_INVALID_ARG (not added)
 */
TSE_API int tse_posix_driver_remove(tse_posix_driver *d, tse_tunnel *t);

/**
 * @brief Service @p t now, as a round would: connect / disconnect as the
 *        engine wants, send what it has pending, run its due timers.  For
 *        watched-fd and tick callbacks that queued packets with
 *        tse_tunnel_send_packet() and want the queue drained to the
 *        socket before queueing more (e.g. a TUN reader whose tunnel
 *        answered TSE_ERR_QUEUE_FULL).  Not from an engine callback.
 * @param d  the driver
 * @param t  the tunnel
 * @return TSE_OK, TSE_ERR_INVALID_ARG (not added)
 */
TSE_API int tse_posix_driver_kick(tse_posix_driver *d, tse_tunnel *t);

/** @brief Number of tunnels added.
 *  @param d  the driver
 *  @return the count (0 for NULL) */
TSE_API size_t tse_posix_driver_count(const tse_posix_driver *d);

/**
 * @brief Also poll an application fd; @p cb runs from run_once() with the
 *        revents (POLLERR/POLLHUP/POLLNVAL included).  Watching an fd
 *        again replaces its events/callback.
 * @param d       the driver
 * @param fd      the fd (the application's; not closed by the driver)
 * @param events  POLLIN, POLLOUT...
 * @param cb      called when ready
 * @param user    passed to @p cb
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL, fd < 0, no @p cb),
 *         TSE_ERR_NO_MEMORY
 */
TSE_API int tse_posix_driver_watch_fd(tse_posix_driver *d, int fd, short events,
                                      tse_posix_fd_cb cb, void *user);

/** @brief Stop polling @p fd.
 *  @param d   the driver
 *  @param fd  a watched fd
 *  @return TSE_OK or TSE_ERR_INVALID_ARG (NULL, or @p fd not watched) */
TSE_API int tse_posix_driver_unwatch_fd(tse_posix_driver *d, int fd);

/** @brief Set (or clear with NULL) the per-round application callback.
 *  @param d     the driver
 *  @param cb    the callback, or NULL
 *  @param user  passed to @p cb */
TSE_API void tse_posix_driver_set_tick(tse_posix_driver *d, tse_posix_tick_cb cb,
                                       void *user);

/**
 * @brief One round: tick, service every tunnel (connect / disconnect as
 *        the engine wants, send what is pending, run due timers), poll(2)
 *        for at most @p max_wait_ms (-1 = until the next deadline), then
 *        read (at most TSE_POSIX_READ_BUDGET bytes per tunnel), write,
 *        finish connects, run watched-fd callbacks, and service again.
 *        Returns after one poll.
 * @param d            the driver
 * @param max_wait_ms  longest sleep in poll(2); -1 = until the next deadline
 * @return TSE_OK (also when poll was interrupted by a signal),
 *         TSE_ERR_INVALID_ARG (@p d NULL), TSE_ERR_NO_MEMORY,
 *         TSE_ERR_BUFFER_TOO_SMALL (internal pollfd array),
 *         TSE_ERR_TRANSPORT_IO (poll failed).
 */
TSE_API int tse_posix_driver_run_once(tse_posix_driver *d, int max_wait_ms);

/**
 * @brief run_once() until @p *stop is non-zero or until every tunnel is
 *        CLOSED (or none was added).  Between events it sleeps until the
 *        next deadline (keep-alive, timeouts): an idle tunnel costs no
 *        periodic wake-up.  Set @p *stop from a signal handler (the signal
 *        interrupts poll) or from another thread followed by
 *        tse_posix_driver_wake().
 * @param d     the driver
 * @param stop  the flag to watch (may be NULL: run until all CLOSED)
 * @return TSE_OK, TSE_ERR_INVALID_ARG (@p d NULL), or the first error of
 *         run_once()
 */
TSE_API int tse_posix_driver_run(tse_posix_driver *d,
                                 const volatile sig_atomic_t *stop);

/**
 * @brief Make the driver's current or next poll return at once.
 *        Async-signal-safe; may be called from any thread (the only
 *        driver function that may).
 * @param d  the driver
 * @return TSE_OK, TSE_ERR_INVALID_ARG (NULL), TSE_ERR_TRANSPORT_IO (the
 *         wake-up pipe could not be written)
 */
TSE_API int tse_posix_driver_wake(tse_posix_driver *d);

/** @brief How many times poll(2) returned (wake-ups, for measuring the
 *         idle cost).
 *  @param d  the driver
 *  @return the count; 0 for NULL */
TSE_API uint64_t tse_posix_driver_polls(const tse_posix_driver *d);

/* For an application that runs its own poll/epoll loop: */

/**
 * @brief Service the tunnels and describe what to wait for: fills
 *        @p fds with the tunnels' sockets (application fds from
 *        watch_fd() are NOT included) and @p *timeout_ms with the time
 *        until the next deadline (-1 = none).
 * @param[in]  d    the driver
 * @param[out] fds  room for at least tse_posix_driver_pollfd_max() entries
 * @param[in]  max  entries at @p fds
 * @param[out] n    entries written
 * @param[out] timeout_ms  milliseconds until the next deadline, -1 = none
 * @return TSE_OK, TSE_ERR_BUFFER_TOO_SMALL, TSE_ERR_INVALID_ARG (NULL),
 *         TSE_ERR_NO_MEMORY
 */
TSE_API int tse_posix_driver_prepare(tse_posix_driver *d, struct pollfd *fds,
                                     size_t max, size_t *n, int *timeout_ms);

/** @brief Entries prepare() may need.
 *  @param d  the driver
 *  @return the count (0 for NULL) */
TSE_API size_t tse_posix_driver_pollfd_max(const tse_posix_driver *d);

/**
 * @brief Handle what poll reported for the entries prepare() filled (pass
 *        them back unchanged except revents; add no tunnels in between).
 *        Then services every tunnel.
 * @param d    the driver
 * @param fds  the entries prepare() filled, with revents set
 * @param n    their number
 * @return TSE_OK, TSE_ERR_INVALID_ARG
 */
TSE_API int tse_posix_driver_process(tse_posix_driver *d, const struct pollfd *fds,
                                     size_t n);


/* ---- proxy from the environment (posix_proxy_env.c) ----------------------- */

/** Longest host name, with its NUL, that tse_posix_parse_hostport() and
 *  ::tse_posix_proxy hold. */
#define TSE_POSIX_HOST_MAX 256
/** Longest proxy user name or password, with its NUL. */
#define TSE_POSIX_CRED_MAX 256
/** curl's proxy port when the URL has none (curl(1) --proxy). */
#define TSE_POSIX_PROXY_DEFAULT_PORT 1080

/** An HTTP proxy as read from a URL or the environment; the caller's
 *  storage.  tse_posix_proxy_settings() points a ::tse_settings into it. */
typedef struct tse_posix_proxy {
    char host[TSE_POSIX_HOST_MAX]; /**< name or IP literal, without brackets */
    uint16_t port;                 /**< 1..65535 */
    int has_auth;                  /**< 1 if the URL had user[:pass]@ */
    char user[TSE_POSIX_CRED_MAX]; /**< percent-decoded; "" without auth */
    char pass[TSE_POSIX_CRED_MAX]; /**< percent-decoded; may be "" */
} tse_posix_proxy;

/** An environment lookup: the variable's value or NULL (getenv(3) when
 *  NULL is passed to tse_posix_proxy_from_env(); a table in tests). */
typedef const char *(*tse_posix_getenv_fn)(void *user, const char *name);

/**
 * @brief Parse "host", "host:port", "1.2.3.4:port", "[v6]", "[v6]:port"
 *        or a bare IPv6 literal "2001:db8::1" (two or more colons: no
 *        port).  Pure: no I/O, any thread.
 * @param s             the text (NUL-terminated)
 * @param[out] host     the host, without brackets
 * @param hostcap       size of @p host, with its NUL
 * @param[out] port     the port, or @p default_port when none is given
 * @param default_port  the port when @p s has none
 * @return 0, or -1 (NULL argument, empty host, bad or zero port,
 *         unbalanced bracket, host longer than @p hostcap - 1)
 *
 * @code
 *   char h[TSE_POSIX_HOST_MAX]; uint16_t p;
 *   tse_posix_parse_hostport("[2001:db8::1]:8443", h, sizeof h, &p, 443);
 *   // h = "2001:db8::1", p = 8443
 * @endcode
 */
TSE_API int tse_posix_parse_hostport(const char *s, char *host, size_t hostcap,
                                     uint16_t *port, uint16_t default_port);

/**
 * @brief Parse a proxy URL "[http://][user[:pass]@]host[:port][/]" as curl
 *        does: the scheme is optional and case-insensitive, only http is
 *        supported (https:// and socks proxies are errors), the port
 *        defaults to #TSE_POSIX_PROXY_DEFAULT_PORT, user and password are
 *        percent-decoded.  Pure: no I/O, any thread.
 * @param url       the URL
 * @param[out] out  the proxy (zeroed first)
 * @param[out] why  on -1, a static string naming the problem (may be NULL)
 * @return 0, or -1
 */
TSE_API int tse_posix_parse_proxy_url(const char *url, tse_posix_proxy *out,
                                      const char **why);

/**
 * @brief Whether @p host bypasses the proxy by the no_proxy list
 *        @p no_proxy, with curl's rules:
 *        - NULL or "": nothing bypasses; "*" alone: everything does;
 *        - entries are separated by commas and/or blanks; a name entry
 *          matches the host itself and any name under it ("example.com"
 *          matches "www.example.com", not "notexample.com"); a leading
 *          dot, a trailing dot and ":port" are ignored; case-insensitive;
 *        - IP literals (IPv6 with or without brackets) compare as
 *          addresses, exactly or by CIDR prefix ("192.0.2.0/24",
 *          "2001:db8::/32"); they never suffix-match.
 *        Pure: no I/O, any thread.
 * @param no_proxy  the list, or NULL
 * @param host      the target host (may be bracketed, "[::1]")
 * @return 1 (bypass the proxy) or 0
 */
TSE_API int tse_posix_no_proxy_match(const char *no_proxy, const char *host);

/**
 * @brief Pick the proxy for a TLS connection to @p target_host from the
 *        environment as curl does for an https:// URL: the first set,
 *        non-empty one of https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY,
 *        unless no_proxy (else NO_PROXY) exempts the host
 *        (tse_posix_no_proxy_match()).  Does not block; reads the
 *        environment only through @p get.
 * @param get          the lookup; NULL = getenv(3) (then not thread-safe
 *                     against setenv(3), as getenv itself)
 * @param user         passed to @p get
 * @param target_host  the TSCF's host (tse_settings::server_host)
 * @param[out] out     the proxy when 1 is returned
 * @param[out] why     on -1, what is wrong (may be NULL)
 * @param[out] var     on -1, the variable that is wrong (may be NULL)
 * @return 1 (proxy in @p out), 0 (connect directly), -1 (a variable is
 *         set but invalid, or @p target_host / @p out NULL)
 *
 * @code
 *   tse_posix_proxy px;   // must outlive the tunnel
 *   if (tse_posix_proxy_from_env(NULL, NULL, s.server_host, &px, NULL, NULL) == 1)
 *       tse_posix_proxy_settings(&px, &s);
 * @endcode
 */
TSE_API int tse_posix_proxy_from_env(tse_posix_getenv_fn get, void *user,
                                     const char *target_host, tse_posix_proxy *out,
                                     const char **why, const char **var);

/**
 * @brief Point @p s's proxy fields (proxy_host, proxy_port, and with
 *        credentials proxy_user / proxy_pass) into @p px.  @p px stays
 *        the caller's and must outlive every tunnel created from @p s.
 * @param px  the proxy (from tse_posix_proxy_from_env() or
 *            tse_posix_parse_proxy_url())
 * @param s   the settings to fill
 * @return 0, or -1 (NULL argument)
 */
TSE_API int tse_posix_proxy_settings(const tse_posix_proxy *px, tse_settings *s);

#ifdef __cplusplus
}
#endif
#endif /* TSE_POSIX_H */
