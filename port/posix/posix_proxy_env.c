/* The POSIX port: host:port, proxy URL and no_proxy parsing, and the proxy
 * from the environment as curl reads it (tse_posix.h).  Pure functions: no
 * I/O besides the environment lookup the caller passes. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "tse_posix.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* the environment's own lookup, for get == NULL */
static const char *env_getenv(void *user, const char *name)
{
    (void)user;
    return getenv(name);
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int ieq_n(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Decimal port 1..65535 from [s, s+n). */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
    unsigned long v = 0;
    size_t i;
    if (n == 0 || n > 5)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n + 1 > cap)
        return -1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

/* Same as tse_posix_parse_hostport() but on [s, s+n). */
static int parse_hostport_n(const char *s, size_t n, char *host, size_t hostcap,
                            uint16_t *port, uint16_t default_port)
{
    const char *colon;
    size_t i, ncolons = 0;

    if (!s || !host || !port || n == 0)
        return -1;
    if (s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        size_t hl;
        if (!rb)
            return -1;
        hl = (size_t)(rb - s) - 1;
        if (hl == 0 || memchr(s + 1, '[', hl))
            return -1;
        if (copy_str(host, hostcap, s + 1, hl) < 0)
            return -1;
        if ((size_t)(rb - s) + 1 == n) {
            *port = default_port;
            return 0;
        }
        if (rb[1] != ':')
            return -1;
        return parse_port(rb + 2, n - (size_t)(rb - s) - 2, port);
    }
    for (i = 0; i < n; i++) {
        if (s[i] == ':')
            ncolons++;
        if (s[i] == ']' || s[i] == '[' || s[i] == '/' || s[i] == '@' ||
            isspace((unsigned char)s[i]))
            return -1;
    }
    if (ncolons >= 2) { /* bare IPv6 literal, no port possible */
        if (copy_str(host, hostcap, s, n) < 0)
            return -1;
        *port = default_port;
        return 0;
    }
    colon = memchr(s, ':', n);
    if (!colon) {
        if (copy_str(host, hostcap, s, n) < 0)
            return -1;
        *port = default_port;
        return 0;
    }
    if (colon == s)
        return -1;
    if (parse_port(colon + 1, n - (size_t)(colon - s) - 1, port) < 0)
        return -1;
    return copy_str(host, hostcap, s, (size_t)(colon - s));
}

int tse_posix_parse_hostport(const char *s, char *host, size_t hostcap,
                       uint16_t *port, uint16_t default_port)
{
    if (!s)
        return -1;
    return parse_hostport_n(s, strlen(s), host, hostcap, port, default_port);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decode [s, s+n) into dst (cap bytes incl. NUL). */
static int pct_decode(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return -1; /* truncated escape */
            h = hexval((unsigned char)s[i + 1]);
            l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            if (c == 0)
                return -1; /* no NUL inside a C string */
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

int tse_posix_parse_proxy_url(const char *url, tse_posix_proxy *out, const char **why)
{
    const char *p, *end, *at, *hp;
    const char *dummy;
    size_t i;

    if (!why)
        why = &dummy;
    if (!url || !out) {
        *why = "missing proxy URL";
        return -1;
    }
    memset(out, 0, sizeof *out);
    p = strstr(url, "://");
    if (p) {
        size_t sl = (size_t)(p - url);
        if (sl == 4 && ieq_n(url, "http", 4)) {
            p += 3;
        } else if (sl == 5 && ieq_n(url, "https", 5)) {
            *why = "https:// proxies are not supported (use http://)";
            return -1;
        } else {
            *why = "unsupported proxy scheme (only http:// is supported)";
            return -1;
        }
    } else {
        p = url; /* curl: no scheme means http */
    }
    /* the authority ends at the first '/', '?' or '#' */
    end = p;
    while (*end && *end != '/' && *end != '?' && *end != '#')
        end++;
    for (i = 0; end[i]; i++) {
        /* only an empty path "/" is accepted after the authority */
        if (i == 0 && end[0] == '/' && end[1] == '\0')
            break;
        *why = "proxy URL must not have a path, query or fragment";
        return -1;
    }
    /* userinfo: up to the LAST '@' of the authority */
    at = NULL;
    for (hp = p; hp < end; hp++)
        if (*hp == '@')
            at = hp;
    hp = p;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : (size_t)(at - p);
        if (pct_decode(out->user, sizeof out->user, p, ul) < 0) {
            *why = "bad proxy user name (encoding or length)";
            return -1;
        }
        if (colon && pct_decode(out->pass, sizeof out->pass, colon + 1,
                                (size_t)(at - colon - 1)) < 0) {
            *why = "bad proxy password (encoding or length)";
            return -1;
        }
        if (out->user[0] == '\0') {
            *why = "empty proxy user name";
            return -1;
        }
        out->has_auth = 1;
        hp = at + 1;
    }
    if (parse_hostport_n(hp, (size_t)(end - hp), out->host, sizeof out->host,
                         &out->port, TSE_POSIX_PROXY_DEFAULT_PORT) < 0) {
        *why = "bad proxy host or port";
        return -1;
    }
    return 0;
}

/* ---- no_proxy --------------------------------------------------------- */

/* Parse an IP literal (optionally bracketed) of length n into 16 bytes;
 * returns 4 or 16 (address length), 0 if not an IP literal. */
static int parse_ip(const char *s, size_t n, uint8_t out[16])
{
    char buf[64];
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, buf, out) == 1)
        return 16;
    return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return 0;
    if (rest) {
        uint8_t m = (uint8_t)(0xFFu << (8 - rest));
        if ((a[full] & m) != (b[full] & m))
            return 0;
    }
    return 1;
}

/* One IP entry "addr" or "addr/bits" against an IP host. */
static int match_ip_entry(const char *e, size_t n, const uint8_t *hip, int hlen)
{
    uint8_t eip[16];
    const char *slash = memchr(e, '/', n);
    size_t al = slash ? (size_t)(slash - e) : n;
    unsigned bits;
    int elen = parse_ip(e, al, eip);
    if (elen == 0 || elen != hlen)
        return 0;
    bits = (unsigned)elen * 8;
    if (slash) {
        size_t i, dl = n - al - 1;
        unsigned v = 0;
        if (dl == 0 || dl > 3)
            return 0;
        for (i = 0; i < dl; i++) {
            if (slash[1 + i] < '0' || slash[1 + i] > '9')
                return 0;
            v = v * 10 + (unsigned)(slash[1 + i] - '0');
        }
        if (v > bits)
            return 0;
        bits = v;
    }
    return prefix_equal(eip, hip, bits);
}

/* One name entry against a host name (both without trailing dots). */
static int match_name_entry(const char *e, size_t n, const char *h, size_t hl)
{
    const char *colon;
    if (n > 0 && e[0] == '.') {
        e++;
        n--;
    }
    colon = memchr(e, ':', n);
    if (colon) /* "name:port": the port is ignored */
        n = (size_t)(colon - e);
    if (n > 0 && e[n - 1] == '.')
        n--;
    if (n == 0 || n > hl)
        return 0;
    if (!ieq_n(h + hl - n, e, n))
        return 0;
    return n == hl || h[hl - n - 1] == '.';
}

int tse_posix_no_proxy_match(const char *no_proxy, const char *host)
{
    const char *p;
    uint8_t hip[16];
    int hlen;
    size_t hl;

    if (!no_proxy || !host)
        return 0;
    /* "*" alone (surrounding blanks tolerated) matches every host */
    p = no_proxy;
    while (*p == ' ' || *p == '\t')
        p++;
    if (p[0] == '*') {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '\0')
            return 1;
    }
    hl = strlen(host);
    hlen = parse_ip(host, hl, hip);
    if (!hlen) {
        if (hl > 0 && host[hl - 1] == '.')
            hl--;
        if (hl == 0)
            return 0;
    }
    p = no_proxy;
    for (;;) {
        const char *tok;
        size_t tl;
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        tok = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        tl = (size_t)(p - tok);
        if (hlen) {
            if (match_ip_entry(tok, tl, hip, hlen))
                return 1;
        } else if (match_name_entry(tok, tl, host, hl)) {
            return 1;
        }
    }
    return 0;
}

static const char *env_first(tse_posix_getenv_fn get, void *user,
                             const char *const *names, const char **which)
{
    size_t i;
    for (i = 0; names[i]; i++) {
        const char *v = get(user, names[i]);
        if (v && *v) {
            if (which)
                *which = names[i];
            return v;
        }
    }
    return NULL;
}

int tse_posix_proxy_from_env(tse_posix_getenv_fn get, void *user, const char *target_host,
                       tse_posix_proxy *out, const char **why, const char **var)
{
    static const char *const proxy_vars[] = { "https_proxy", "HTTPS_PROXY",
                                              "all_proxy", "ALL_PROXY", NULL };
    static const char *const no_vars[] = { "no_proxy", "NO_PROXY", NULL };
    const char *which = NULL, *v, *np;

    if (!target_host || !out)
        return -1;
    if (!get)
        get = env_getenv;
    v = env_first(get, user, proxy_vars, &which);
    if (!v)
        return 0;
    np = env_first(get, user, no_vars, NULL);
    if (np && tse_posix_no_proxy_match(np, target_host))
        return 0;
    if (var)
        *var = which;
    if (tse_posix_parse_proxy_url(v, out, why) < 0)
        return -1;
    return 1;
}

int tse_posix_proxy_settings(const tse_posix_proxy *px, tse_settings *s)
{
    if (!px || !s)
        return -1;
    s->proxy_host = px->host;
    s->proxy_port = px->port;
    s->proxy_user = px->has_auth ? px->user : NULL;
    s->proxy_pass = px->has_auth ? px->pass : NULL;
    return 0;
}
