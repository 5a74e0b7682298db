/* tse-cli: HOST[:PORT] parsing, proxy URLs, and the https_proxy / no_proxy
 * environment as curl reads it.  Pure functions (no I/O), unit-tested in
 * test/unit/test_cli_proxy_env.c. */
#ifndef TSE_CLI_PROXY_ENV_H
#define TSE_CLI_PROXY_ENV_H

#include <stddef.h>
#include <stdint.h>

#define CLI_HOST_MAX 256
#define CLI_CRED_MAX 256

/* curl's default proxy port when the URL has none (curl(1) --proxy). */
#define CLI_PROXY_DEFAULT_PORT 1080

typedef struct cli_proxy {
    char host[CLI_HOST_MAX];   /* without brackets */
    uint16_t port;
    int has_auth;
    char user[CLI_CRED_MAX];   /* percent-decoded */
    char pass[CLI_CRED_MAX];
} cli_proxy;

/* Parse "host", "host:port", "1.2.3.4:port", "[v6]", "[v6]:port", or a
 * bare IPv6 literal "2001:db8::1" (two or more colons: no port).  The host
 * is copied without brackets.  Returns 0, or -1 (empty host, bad or zero
 * port, unbalanced bracket, host too long). */
int cli_parse_hostport(const char *s, char *host, size_t hostcap,
                       uint16_t *port, uint16_t default_port);

/* Parse a proxy URL "[http://][user[:pass]@]host[:port][/]".  The scheme is
 * optional and case-insensitive; only http is supported (an https:// or
 * socks proxy is an error).  user and pass are percent-decoded.  Returns 0
 * or -1; on -1, *why (if not NULL) names the problem. */
int cli_parse_proxy_url(const char *url, cli_proxy *out, const char **why);

/* Whether @p host must bypass the proxy according to the no_proxy list
 * @p no_proxy (curl semantics):
 *  - NULL or "" : nothing bypasses;
 *  - "*" alone  : everything bypasses;
 *  - otherwise entries separated by commas and/or spaces; each entry
 *    matches the host itself or any name under it ("example.com" matches
 *    "example.com" and "www.example.com", not "notexample.com"); a leading
 *    dot is ignored; a trailing dot, and ":port" after a name, are
 *    ignored; comparison is case-insensitive;
 *  - IP literals (IPv6 without brackets, though "[::1]" is accepted) are
 *    compared as addresses, exactly, or by prefix with CIDR "a.b.c.d/n",
 *    "2001:db8::/32"; they never suffix-match.
 * @p host may be bracketed ("[::1]").  Returns 1 (bypass) or 0. */
int cli_no_proxy_match(const char *no_proxy, const char *host);

/* The environment lookup to use (getenv in tse-cli; a table in tests). */
typedef const char *(*cli_getenv_fn)(void *user, const char *name);

/* Decide the proxy for a TLS connection to @p target_host from the
 * environment, as curl does for an https:// URL: https_proxy, then
 * HTTPS_PROXY, then all_proxy, then ALL_PROXY (the first set and non-empty
 * wins); no_proxy, then NO_PROXY, may exempt the host.
 * Returns 1 (proxy filled in), 0 (direct), -1 (the variable is set but
 * invalid: *why and *var say why and which). */
int cli_proxy_from_env(cli_getenv_fn get, void *user, const char *target_host,
                       cli_proxy *out, const char **why, const char **var);

#endif
