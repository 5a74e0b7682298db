/*
 * HTTP CONNECT proxy layer: request writer, strict bounded response parser,
 * Basic (RFC 7617) and Digest (RFC 7616) proxy authentication.
 * See http_connect.h for the contract and the wire decisions.
 */
#include "http_connect.h"

#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>

#include "tse/error.h"

#if TSE_CONFIG_PROXY /* nearly the whole file; stubs at the end */

/* The head buffer doubles as scratch for hashing and base64 (see
 * tse_hc_request); these sizes must fit in it. */
#define SCRATCH_B64_IN 0
#define SCRATCH_B64_OUT 1024

enum {
    ST_STATUS = 0,   /* expecting a status line */
    ST_HEADERS,      /* reading header lines */
    ST_BODY,         /* skipping the body of an answered 407 */
    ST_ESTABLISHED,  /* 2xx seen; the rest is TLS */
    ST_FAILED        /* sticky error in hc->err */
};

/* ------------------------------------------------------------------ */
/* Character classes (ASCII only, no locale)                           */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* RFC 9110 5.6.2 tchar */
static int is_tchar(unsigned char c)
{
    if (is_alpha(c) || is_digit(c))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 11.2 token68 characters (before the trailing '=' run) */
static int is_t68(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' ||
           c == '~' || c == '+' || c == '/';
}

/* field-vchar / SP / HTAB (RFC 9110 5.5); obs-text allowed on input */
static int is_field_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static int ci_eq(const char *a, size_t an, const char *lit)
{
    size_t ln = strlen(lit);
    if (an != ln)
        return 0;
    for (size_t i = 0; i < an; i++) {
        if (lower((unsigned char)a[i]) != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

static size_t skip_ows(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static size_t scan_token(const char *s, size_t n, size_t i)
{
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    return i;
}

/* ------------------------------------------------------------------ */
/* Output writer: never overruns, remembers overflow                   */

typedef struct {
    uint8_t *p;
    size_t cap;
    size_t n;
    int over;
} wbuf;

static void w_mem(wbuf *w, const void *src, size_t len)
{
    if (w->over || len > w->cap - w->n) {
        w->over = 1;
        return;
    }
    memcpy(w->p + w->n, src, len);
    w->n += len;
}

static void w_str(wbuf *w, const char *s) { w_mem(w, s, strlen(s)); }

static void w_dec(wbuf *w, unsigned v)
{
    char d[10];
    size_t k = sizeof d;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && k > 0);
    w_mem(w, d + k, sizeof d - k);
}

/* quoted-string with '"' and '\' escaped (RFC 9110 5.6.4) */
#if TSE_CONFIG_DIGEST
static void w_quoted(wbuf *w, const char *s)
{
    w_mem(w, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            w_mem(w, "\\", 1);
        w_mem(w, s, 1);
    }
    w_mem(w, "\"", 1);
}
#endif

#if TSE_CONFIG_DIGEST
static const char hexd[] = "0123456789abcdef";

static void hex_encode(char *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[in[i] >> 4];
        out[2 * i + 1] = hexd[in[i] & 15];
    }
    out[2 * n] = '\0';
}
#endif

/* ------------------------------------------------------------------ */
/* Parameter validation (header injection must be impossible)          */

/* Length of s if it is at most max bytes with no control character
 * (C0, DEL); -1 otherwise. */
static long text_len(const char *s, size_t max)
{
    size_t i;
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= max || c < 0x20 || c == 0x7f)
            return -1;
    }
    return (long)i;
}

/* Writes the authority "host:port" ("[v6]:port" for IPv6) into out.
 * Returns its length or TSE_ERR_INVALID_ARG. */
static int make_authority(const tse_hc_params *p, char *out, size_t cap)
{
    const char *h = p->target_host;
    size_t n, i;
    int v6 = 0, bracketed = 0;
    wbuf w = { (uint8_t *)out, cap - 1, 0, 0 };

    if (h == NULL || p->target_port == 0)
        return TSE_ERR_INVALID_ARG;
    n = strlen(h);
    if (n == 0 || n > TSE_HC_MAX_HOST)
        return TSE_ERR_INVALID_ARG;
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']')
            return TSE_ERR_INVALID_ARG;
        bracketed = 1;
        v6 = 1;
    } else if (memchr(h, ':', n) != NULL) {
        v6 = 1;
    }
    for (i = bracketed; i < n - (size_t)bracketed; i++) {
        unsigned char c = (unsigned char)h[i];
        int ok = v6 ? (is_hex(c) || c == ':' || c == '.')
                    : (is_alpha(c) || is_digit(c) || c == '-' || c == '.' ||
                       c == '_' || c == '~');
        if (!ok)
            return TSE_ERR_INVALID_ARG;
    }
    if (v6 && !bracketed)
        w_mem(&w, "[", 1);
    w_mem(&w, h, n);
    if (v6 && !bracketed)
        w_mem(&w, "]", 1);
    w_mem(&w, ":", 1);
    w_dec(&w, p->target_port);
    if (w.over)
        return TSE_ERR_INVALID_ARG;
    out[w.n] = '\0';
    return (int)w.n;
}

/* "Name: value": name a token, value without control characters. */
static int marker_ok(const char *m)
{
    size_t e = scan_token(m, strlen(m), 0);
    if (e == 0 || m[e] != ':')
        return 0;
    return text_len(m, 1024) >= 0;
}

/* ------------------------------------------------------------------ */
/* Digest (RFC 7616)                                                   */
#if TSE_CONFIG_DIGEST

static const mbedtls_md_info_t *scheme_md(int scheme)
{
    if (scheme == TSE_HC_SCHEME_DIGEST_MD5)
        return mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
    if (scheme == TSE_HC_SCHEME_DIGEST_SHA256)
        return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return NULL;
}

/* out_hex = hex(H(parts[0] ":" parts[1] ":" ...)), joined in scratch. */
static int hash_join(const mbedtls_md_info_t *md, char *scratch, size_t cap,
                     const char *const *parts, size_t nparts, char *out_hex)
{
    wbuf w = { (uint8_t *)scratch, cap, 0, 0 };
    uint8_t dig[32];
    size_t dlen = mbedtls_md_get_size(md);

    for (size_t i = 0; i < nparts; i++) {
        if (i > 0)
            w_mem(&w, ":", 1);
        w_str(&w, parts[i]);
    }
    if (w.over)
        return TSE_ERR_BUFFER_TOO_SMALL;
    if (dlen > sizeof dig ||
        mbedtls_md(md, (const unsigned char *)scratch, w.n, dig) != 0)
        return TSE_ERR_INVALID_ARG;
    hex_encode(out_hex, dig, dlen);
    return 0;
}

int tse_hc_digest_response(int scheme, int sess, const char *user,
                           const char *realm, const char *pass,
                           const char *method, const char *uri,
                           const char *nonce, const char *nc,
                           const char *cnonce, const char *qop,
                           char *scratch, size_t scratch_cap,
                           char out_hex[65])
{
    const mbedtls_md_info_t *md = scheme_md(scheme);
    char ha1[65], ha2[65];
    int r;

    if (md == NULL || user == NULL || realm == NULL || pass == NULL ||
        method == NULL || uri == NULL || nonce == NULL || scratch == NULL ||
        out_hex == NULL)
        return TSE_ERR_INVALID_ARG;
    if ((qop != NULL || sess) && (cnonce == NULL || (qop != NULL && nc == NULL)))
        return TSE_ERR_INVALID_ARG;

    {   /* A1 = user:realm:pass (RFC 7616 3.4.2) */
        const char *a1[3] = { user, realm, pass };
        if ((r = hash_join(md, scratch, scratch_cap, a1, 3, ha1)) != 0)
            return r;
    }
    if (sess) { /* -sess: H(H(user:realm:pass):nonce:cnonce) */
        const char *s[3] = { ha1, nonce, cnonce };
        if ((r = hash_join(md, scratch, scratch_cap, s, 3, ha1)) != 0)
            return r;
    }
    {   /* A2 = method:uri (qop=auth) */
        const char *a2[2] = { method, uri };
        if ((r = hash_join(md, scratch, scratch_cap, a2, 2, ha2)) != 0)
            return r;
    }
    if (qop != NULL) {
        const char *kd[6] = { ha1, nonce, nc, cnonce, qop, ha2 };
        r = hash_join(md, scratch, scratch_cap, kd, 6, out_hex);
    } else { /* RFC 2069 */
        const char *kd[3] = { ha1, nonce, ha2 };
        r = hash_join(md, scratch, scratch_cap, kd, 3, out_hex);
    }
    return r;
}

static int write_digest(tse_hc *hc, wbuf *w, const char *authority,
                        const char *pass)
{
    static const char *const alg_names[2][2] = {
        { "MD5", "MD5-sess" }, { "SHA-256", "SHA-256-sess" }
    };
    const mbedtls_md_info_t *md = scheme_md(hc->scheme);
    char cnonce[33] = "", nc[9] = "", resp[65], uhash[65];
    const char *username = hc->p.user;
    uint32_t ncv = hc->nc + 1;
    int r;

    if (md == NULL)
        return TSE_ERR_INVALID_ARG;
    if (hc->dg_qop || hc->dg_sess) {
        uint8_t rnd[16];
        if (hc->p.entropy == NULL ||
            hc->p.entropy(hc->p.entropy_user, rnd, sizeof rnd) != 0)
            return TSE_ERR_INVALID_ARG;
        hex_encode(cnonce, rnd, sizeof rnd);
        for (int i = 7; i >= 0; i--) {
            nc[i] = hexd[ncv & 15];
            ncv >>= 4;
        }
        nc[8] = '\0';
    }
    r = tse_hc_digest_response(hc->scheme, hc->dg_sess, hc->p.user,
                               hc->dg_realm, pass, "CONNECT", authority,
                               hc->dg_nonce, nc, cnonce,
                               hc->dg_qop ? "auth" : NULL, hc->head,
                               sizeof hc->head, resp);
    if (r != 0)
        return r;
    if (hc->dg_userhash) { /* RFC 7616 3.4.4: username = H(user:realm) */
        const char *u[2] = { hc->p.user, hc->dg_realm };
        if ((r = hash_join(md, hc->head, sizeof hc->head, u, 2, uhash)) != 0)
            return r;
        username = uhash;
    }

    w_str(w, "Proxy-Authorization: Digest username=");
    w_quoted(w, username);
    w_str(w, ", realm=");
    w_quoted(w, hc->dg_realm);
    w_str(w, ", nonce=");
    w_quoted(w, hc->dg_nonce);
    w_str(w, ", uri=");
    w_quoted(w, authority);
    w_str(w, ", algorithm=");
    w_str(w, alg_names[hc->scheme == TSE_HC_SCHEME_DIGEST_SHA256][hc->dg_sess]);
    if (hc->dg_qop) {
        w_str(w, ", qop=auth, nc=");
        w_str(w, nc);
        w_str(w, ", cnonce=\"");
        w_str(w, cnonce);
        w_str(w, "\"");
    }
    w_str(w, ", response=\"");
    w_str(w, resp);
    w_str(w, "\"");
    if (hc->dg_has_opaque) {
        w_str(w, ", opaque=");
        w_quoted(w, hc->dg_opaque);
    }
    if (hc->dg_userhash)
        w_str(w, ", userhash=true");
    w_str(w, "\r\n");
    return 0;
}
#else /* !TSE_CONFIG_DIGEST */
int tse_hc_digest_response(int scheme, int sess, const char *user,
                           const char *realm, const char *pass,
                           const char *method, const char *uri,
                           const char *nonce, const char *nc,
                           const char *cnonce, const char *qop,
                           char *scratch, size_t scratch_cap,
                           char out_hex[65])
{
    (void)scheme; (void)sess; (void)user; (void)realm; (void)pass;
    (void)method; (void)uri; (void)nonce; (void)nc; (void)cnonce; (void)qop;
    (void)scratch; (void)scratch_cap; (void)out_hex;
    return TSE_ERR_INVALID_ARG; /* compiled out (tse/config.h) */
}
#endif /* TSE_CONFIG_DIGEST */

static int write_basic(tse_hc *hc, wbuf *w, const char *pass)
{
    /* RFC 7617 2: base64(user-id ":" password), joined in scratch */
    char *in = hc->head + SCRATCH_B64_IN;
    unsigned char *out = (unsigned char *)hc->head + SCRATCH_B64_OUT;
    size_t ul = strlen(hc->p.user), pl = strlen(pass), olen = 0;

    if (strchr(hc->p.user, ':') != NULL) /* RFC 7617 2: not allowed */
        return TSE_ERR_INVALID_ARG;
    if (ul + 1 + pl > SCRATCH_B64_OUT)
        return TSE_ERR_INVALID_ARG;
    memcpy(in, hc->p.user, ul);
    in[ul] = ':';
    memcpy(in + ul + 1, pass, pl);
    if (mbedtls_base64_encode(out, sizeof hc->head - SCRATCH_B64_OUT, &olen,
                              (const unsigned char *)in, ul + 1 + pl) != 0)
        return TSE_ERR_INVALID_ARG;
    w_str(w, "Proxy-Authorization: Basic ");
    w_mem(w, out, olen);
    w_str(w, "\r\n");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Public: init, request                                               */

void tse_hc_restart(tse_hc *hc)
{
    if (hc == NULL)
        return;
    hc->state = ST_STATUS;
    hc->err = 0;
    hc->head_total = 0;
    hc->line_len = 0;
    hc->body_left = 0;
}

void tse_hc_init(tse_hc *hc, const tse_hc_params *p)
{
    if (hc == NULL)
        return;
    memset(hc, 0, sizeof *hc);
    if (p != NULL)
        hc->p = *p;
    tse_hc_restart(hc);
}

int tse_hc_request(tse_hc *hc, uint8_t *out, size_t cap)
{
    char authority[TSE_HC_MAX_HOST + 16];
    const char *pass;
    wbuf w = { out, cap, 0, 0 };
    int with_auth, r;

    if (hc == NULL || (out == NULL && cap != 0))
        return TSE_ERR_INVALID_ARG;
    tse_hc_restart(hc); /* a new request expects a new response */

    r = make_authority(&hc->p, authority, sizeof authority);
    if (r < 0)
        return r;
    if (hc->p.user_agent != NULL && text_len(hc->p.user_agent, 512) < 0)
        return TSE_ERR_INVALID_ARG;
    if (hc->p.marker_header != NULL && !marker_ok(hc->p.marker_header))
        return TSE_ERR_INVALID_ARG;
    pass = hc->p.pass != NULL ? hc->p.pass : "";
    if (hc->p.user != NULL &&
        (text_len(hc->p.user, TSE_HC_MAX_CRED) < 0 ||
         text_len(pass, TSE_HC_MAX_CRED) < 0))
        return TSE_ERR_INVALID_ARG;

    w_str(&w, "CONNECT ");
    w_str(&w, authority);
    w_str(&w, " HTTP/1.1\r\nHost: ");
    w_str(&w, authority);
    w_str(&w, "\r\n");
    if (hc->p.user_agent != NULL) {
        w_str(&w, "User-Agent: ");
        w_str(&w, hc->p.user_agent);
        w_str(&w, "\r\n");
    }
    if (hc->p.marker_header != NULL) {
        w_str(&w, hc->p.marker_header);
        w_str(&w, "\r\n");
    }
    with_auth = hc->p.user != NULL && hc->scheme != TSE_HC_SCHEME_NONE;
    if (with_auth) {
#if TSE_CONFIG_DIGEST
        r = hc->scheme == TSE_HC_SCHEME_BASIC
                ? write_basic(hc, &w, pass)
                : write_digest(hc, &w, authority, pass);
#else
        r = write_basic(hc, &w, pass); /* the only scheme chosen */
#endif
        /* (the head buffer served as scratch: fine, the parser was reset
         * above and no response line is pending) */
        if (r != 0)
            return r;
    }
    w_str(&w, "\r\n");
    if (w.over)
        return TSE_ERR_BUFFER_TOO_SMALL;
    if (with_auth) {
        hc->auth_sent = 1;
        hc->auth_preemptive = hc->auth_ok;
        if (hc->scheme != TSE_HC_SCHEME_BASIC && (hc->dg_qop || hc->dg_sess))
            hc->nc++;
    }
    return (int)w.n;
}

/* ------------------------------------------------------------------ */
/* Proxy-Authenticate parsing (RFC 9110 11.6.1, 11.2)                  */

typedef struct {
    const char *p;
    size_t n;
    int set;
    int quoted; /* p..p+n is the inside of a quoted-string */
} slice;

typedef struct {
    const char *scheme;
    size_t scheme_n;
    slice realm, nonce, opaque, algorithm, qop, userhash, stale;
    int dup;     /* a parameter appeared twice: invalid (RFC 7616 3.3) */
    int token68; /* token68 form (not Basic/Digest material) */
} challenge;

/* Unquoted length of a slice. */
#if TSE_CONFIG_DIGEST
static size_t unq_len(const slice *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++, k++) {
        if (s->quoted && s->p[i] == '\\')
            i++;
    }
    return k;
}
#endif

/* Copies the unquoted slice into dst (NUL-terminated); caller checked
 * unq_len(s) < cap. */
#if TSE_CONFIG_DIGEST
static void unq_copy(char *dst, const slice *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->quoted && s->p[i] == '\\')
            i++;
        dst[k++] = s->p[i];
    }
    dst[k] = '\0';
}
#endif

/* Case-insensitive equality of a parameter value with a literal (a value
 * with quoted-pairs never equals one of our literals). */
static int slice_is(const slice *s, const char *lit)
{
    return s->set && ci_eq(s->p, s->n, lit);
}

/* qop-options: a quoted comma list; does it hold "auth"? */
#if TSE_CONFIG_DIGEST
static int qop_has_auth(const slice *s)
{
    size_t i = 0;
    while (i < s->n) {
        size_t b, e;
        i = skip_ows(s->p, s->n, i);
        b = i;
        e = scan_token(s->p, s->n, i);
        if (ci_eq(s->p + b, e - b, "auth"))
            return 1;
        i = e;
        i = skip_ows(s->p, s->n, i);
        if (i < s->n && s->p[i] != ',')
            return 0;
        i++;
    }
    return 0;
}
#endif

static void eval_challenge(tse_hc *hc, const challenge *c)
{
    int rank = 0, sess = 0, qop = 0;

    if (c->token68 || c->dup)
        return;
    if (ci_eq(c->scheme, c->scheme_n, "basic")) {
        rank = TSE_HC_SCHEME_BASIC;
#if TSE_CONFIG_DIGEST
    } else if (ci_eq(c->scheme, c->scheme_n, "digest")) {
        if (!c->realm.set || !c->nonce.set)
            return;
        if (!c->algorithm.set || slice_is(&c->algorithm, "md5")) {
            rank = TSE_HC_SCHEME_DIGEST_MD5;
        } else if (slice_is(&c->algorithm, "md5-sess")) {
            rank = TSE_HC_SCHEME_DIGEST_MD5;
            sess = 1;
        } else if (slice_is(&c->algorithm, "sha-256")) {
            rank = TSE_HC_SCHEME_DIGEST_SHA256;
        } else if (slice_is(&c->algorithm, "sha-256-sess")) {
            rank = TSE_HC_SCHEME_DIGEST_SHA256;
            sess = 1;
        } else {
            return; /* e.g. SHA-512-256: not offered by mbed TLS 2.28 */
        }
        if (c->qop.set) {
            if (!qop_has_auth(&c->qop))
                return; /* auth-int only */
            qop = 1;
        } else if (sess) {
            return; /* -sess needs a cnonce, which needs qop */
        }
        if (scheme_md(rank) == NULL)
            return; /* hash not in this mbed TLS configuration */
        if (unq_len(&c->realm) >= TSE_HC_MAX_PARAM ||
            unq_len(&c->nonce) >= TSE_HC_MAX_PARAM ||
            (c->opaque.set && unq_len(&c->opaque) >= TSE_HC_MAX_PARAM))
            return;
#endif /* TSE_CONFIG_DIGEST */
    } else {
        return; /* NTLM, Negotiate, Bearer, ... */
    }
    if (rank <= hc->cand_rank)
        return; /* keep the first of equal rank */
    hc->cand_rank = rank;
    hc->cand_stale = slice_is(&c->stale, "true");
#if TSE_CONFIG_DIGEST
    if (rank != TSE_HC_SCHEME_BASIC) {
        hc->dg_sess = (uint8_t)sess;
        hc->dg_qop = (uint8_t)qop;
        hc->dg_userhash = (uint8_t)slice_is(&c->userhash, "true");
        hc->dg_has_opaque = (uint8_t)c->opaque.set;
        unq_copy(hc->dg_realm, &c->realm);
        unq_copy(hc->dg_nonce, &c->nonce);
        if (c->opaque.set)
            unq_copy(hc->dg_opaque, &c->opaque);
        else
            hc->dg_opaque[0] = '\0';
    }
#else
    (void)sess;
    (void)qop;
#endif
}

static void set_param(challenge *c, const char *name, size_t nn,
                      const slice *v)
{
    slice *dst = NULL;
    if (ci_eq(name, nn, "realm"))
        dst = &c->realm;
    else if (ci_eq(name, nn, "nonce"))
        dst = &c->nonce;
    else if (ci_eq(name, nn, "opaque"))
        dst = &c->opaque;
    else if (ci_eq(name, nn, "algorithm"))
        dst = &c->algorithm;
    else if (ci_eq(name, nn, "qop"))
        dst = &c->qop;
    else if (ci_eq(name, nn, "userhash"))
        dst = &c->userhash;
    else if (ci_eq(name, nn, "stale"))
        dst = &c->stale;
    if (dst == NULL)
        return; /* domain, charset, ...: not needed */
    if (dst->set)
        c->dup = 1;
    *dst = *v;
    dst->set = 1;
}

/* Parses one Proxy-Authenticate field value (a list of challenges) and
 * keeps the best supported one.  A syntax error drops the challenge being
 * parsed and the rest of this field value (the response stays valid: a
 * proxy's odd challenge must not hide a good one in another field). */
static void parse_challenges(tse_hc *hc, const char *v, size_t n)
{
    size_t i = 0;

    /* Every pass consumes at least the scheme token: bounded by n. */
    while (i < n) {
        challenge c;
        size_t e;

        while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i >= n)
            return;
        e = scan_token(v, n, i);
        if (e == i)
            return;
        memset(&c, 0, sizeof c);
        c.scheme = v + i;
        c.scheme_n = e - i;
        i = e;
        if (i < n && v[i] != ' ' && v[i] != '\t' && v[i] != ',')
            return;
        i = skip_ows(v, n, i);
        if (i < n && v[i] != ',') {
            /* token68? 1*t68char *"=" followed by end or ',' */
            size_t k = i, m;
            while (k < n && is_t68((unsigned char)v[k]))
                k++;
            m = k;
            while (m < n && v[m] == '=')
                m++;
            m = skip_ows(v, n, m);
            if (k > i && (m >= n || v[m] == ',')) {
                c.token68 = 1;
                i = m;
            } else {
                /* #auth-param; every pass consumes a parameter */
                while (i < n) {
                    size_t ps = i, pe, k2;
                    slice val;
                    memset(&val, 0, sizeof val);
                    pe = scan_token(v, n, i);
                    if (pe == ps)
                        return;
                    k2 = skip_ows(v, n, pe);
                    if (k2 >= n || v[k2] != '=') {
                        i = ps; /* the next challenge's scheme */
                        break;
                    }
                    k2 = skip_ows(v, n, k2 + 1);
                    if (k2 < n && v[k2] == '"') {
                        size_t q = k2 + 1;
                        while (q < n && v[q] != '"') {
                            if (v[q] == '\\')
                                q++;
                            q++;
                        }
                        if (q >= n)
                            return; /* unterminated quoted-string */
                        val.p = v + k2 + 1;
                        val.n = q - (k2 + 1);
                        val.quoted = 1;
                        i = q + 1;
                    } else {
                        size_t te = scan_token(v, n, k2);
                        if (te == k2)
                            return;
                        val.p = v + k2;
                        val.n = te - k2;
                        i = te;
                    }
                    set_param(&c, v + ps, pe - ps, &val);
                    i = skip_ows(v, n, i);
                    if (i < n && v[i] != ',')
                        return;
                    while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
                        i++;
                }
            }
        }
        eval_challenge(hc, &c);
    }
}

/* ------------------------------------------------------------------ */
/* Response parser                                                     */

static int fail(tse_hc *hc, int err)
{
    hc->state = ST_FAILED;
    hc->err = err;
    return err;
}

static int parse_status(tse_hc *hc, const char *l, size_t n)
{
    int code;
    size_t k = 0;

    /* RFC 9112 4: HTTP-version SP 3DIGIT SP [reason]; we also accept the
     * common "HTTP/1.1 200" without the second SP. */
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 ||
        !is_digit((unsigned char)l[7]) || l[8] != ' ' ||
        !is_digit((unsigned char)l[9]) || !is_digit((unsigned char)l[10]) ||
        !is_digit((unsigned char)l[11]) || (n > 12 && l[12] != ' '))
        return fail(hc, TSE_ERR_PROXY_MALFORMED);
    code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (code < 100 || code > 599)
        return fail(hc, TSE_ERR_PROXY_MALFORMED);
    for (size_t i = 13; i < n; i++) {
        if (!is_field_char((unsigned char)l[i]))
            return fail(hc, TSE_ERR_PROXY_MALFORMED);
    }
    hc->status = code;
    hc->http_minor = l[7] - '0';
    /* reason: printable ASCII copy, truncated, always terminated */
    for (size_t i = 13; i < n && k + 1 < sizeof hc->reason; i++) {
        unsigned char c = (unsigned char)l[i];
        hc->reason[k++] = c == '\t' ? ' ' : (c >= 0x80 ? '?' : (char)c);
    }
    hc->reason[k] = '\0';
    hc->cand_rank = 0;
    hc->cand_stale = 0;
    hc->conn_close = 0;
    hc->keep_alive = 0;
    hc->has_te = 0;
    hc->cl_state = 0;
    hc->cl = 0;
    hc->state = ST_HEADERS;
    return TSE_HC_NEED_MORE;
}

static void parse_content_length(tse_hc *hc, const char *v, size_t n)
{
    uint64_t x = 0;
    if (n == 0 || n > 18) { /* 18 digits cannot overflow uint64_t */
        hc->cl_state = -1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)v[i])) {
            hc->cl_state = -1;
            return;
        }
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (hc->cl_state == 0) {
        hc->cl_state = 1;
        hc->cl = x;
    } else if (hc->cl_state == 1 && hc->cl != x) {
        hc->cl_state = -1; /* conflicting lengths (RFC 9112 6.3) */
    }
}

/* Connection / Proxy-Connection: a comma list of tokens. */
static void parse_connection(tse_hc *hc, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t b, e;
        i = skip_ows(v, n, i);
        b = i;
        e = scan_token(v, n, i);
        if (ci_eq(v + b, e - b, "close"))
            hc->conn_close = 1;
        else if (ci_eq(v + b, e - b, "keep-alive"))
            hc->keep_alive = 1;
        i = e;
        while (i < n && v[i] != ',')
            i++;
        i++;
    }
}

static int parse_header(tse_hc *hc, const char *l, size_t n)
{
    size_t ne, vb, ve;

    if (l[0] == ' ' || l[0] == '\t') /* obs-fold (RFC 9112 5.2) */
        return fail(hc, TSE_ERR_PROXY_MALFORMED);
    ne = scan_token(l, n, 0);
    if (ne == 0 || ne >= n || l[ne] != ':') /* incl. "Name :" (5.1) */
        return fail(hc, TSE_ERR_PROXY_MALFORMED);
    vb = skip_ows(l, n, ne + 1);
    ve = n;
    while (ve > vb && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
        ve--;
    for (size_t i = vb; i < ve; i++) {
        if (!is_field_char((unsigned char)l[i]))
            return fail(hc, TSE_ERR_PROXY_MALFORMED);
    }
    if (ci_eq(l, ne, "content-length"))
        parse_content_length(hc, l + vb, ve - vb);
    else if (ci_eq(l, ne, "transfer-encoding"))
        hc->has_te = 1;
    else if (ci_eq(l, ne, "connection") || ci_eq(l, ne, "proxy-connection"))
        parse_connection(hc, l + vb, ve - vb);
    else if (hc->status == 407 && ci_eq(l, ne, "proxy-authenticate"))
        parse_challenges(hc, l + vb, ve - vb);
    return TSE_HC_NEED_MORE;
}

static int answer_407(tse_hc *hc)
{
    int persistent;

    if (hc->p.user == NULL)
        return fail(hc, TSE_ERR_PROXY_AUTH_REQUIRED);
    if (hc->auth_sent && !hc->auth_preemptive) {
        /* RFC 7616 3.3: stale=true means only the nonce was refused */
        if (hc->cand_rank < TSE_HC_SCHEME_DIGEST_MD5 || !hc->cand_stale ||
            hc->stale_retried)
            return fail(hc, TSE_ERR_PROXY_AUTH_FAILED);
        hc->stale_retried = 1;
    }
    if (hc->cand_rank == 0)
        return fail(hc, TSE_ERR_PROXY_AUTH_SCHEME);
    hc->scheme = hc->cand_rank;
    hc->auth_sent = 0;
    hc->auth_ok = 0;
    hc->auth_preemptive = 0;
    hc->nc = 0;

    /* Reuse the connection only if we know where the body ends and the
     * proxy keeps the connection (RFC 9112 6.3, 9.3). */
    persistent = !hc->conn_close && (hc->http_minor >= 1 || hc->keep_alive);
    if (!persistent || hc->has_te || hc->cl_state != 1 ||
        hc->cl > TSE_HC_MAX_SKIP) {
        tse_hc_restart(hc);
        hc->retry_pending = 0; /* the reconnect is the retry */
        return TSE_HC_RECONNECT;
    }
    if (hc->cl == 0) {
        tse_hc_restart(hc);
        hc->retry_pending = 1;
        return TSE_HC_RESEND;
    }
    hc->body_left = hc->cl;
    hc->state = ST_BODY;
    return TSE_HC_NEED_MORE;
}

static int end_of_head(tse_hc *hc)
{
    int s = hc->status;
    if (s >= 100 && s < 200) {
        if (s == 101) /* no Upgrade was asked for */
            return fail(hc, TSE_ERR_PROXY_STATUS);
        hc->state = ST_STATUS; /* interim: the final response follows */
        return TSE_HC_NEED_MORE;
    }
    if (s >= 200 && s < 300) {
        /* RFC 9110 9.3.6: a 2xx to CONNECT has no content; any
         * Content-Length / Transfer-Encoding is ignored */
        hc->state = ST_ESTABLISHED;
        if (hc->auth_sent) {
            hc->auth_ok = 1;
            hc->stale_retried = 0;
        }
        return TSE_HC_ESTABLISHED;
    }
    if (s == 407)
        return answer_407(hc);
    if (s == 401 && hc->auth_sent) /* tinyproxy 1.11's answer to wrong
                                      proxy credentials */
        return fail(hc, TSE_ERR_PROXY_AUTH_FAILED);
    return fail(hc, TSE_ERR_PROXY_STATUS);
}

static int head_byte(tse_hc *hc, unsigned char c)
{
    size_t n;

    if (c == 0)
        return fail(hc, TSE_ERR_PROXY_MALFORMED);
    if (hc->head_total >= TSE_HC_MAX_HEAD)
        return fail(hc, TSE_ERR_PROXY_TOO_LARGE);
    hc->head_total++;
    if (c != '\n') {
        /* line_len < head_total <= TSE_HC_MAX_HEAD: fits */
        hc->head[hc->line_len++] = (char)c;
        return TSE_HC_NEED_MORE;
    }
    n = hc->line_len;
    hc->line_len = 0;
    if (n > 0 && hc->head[n - 1] == '\r')
        n--;
    if (memchr(hc->head, '\r', n) != NULL) /* bare CR (RFC 9112 2.2) */
        return fail(hc, TSE_ERR_PROXY_MALFORMED);
    if (hc->state == ST_STATUS)
        return parse_status(hc, hc->head, n);
    if (n == 0)
        return end_of_head(hc);
    return parse_header(hc, hc->head, n);
}

int tse_hc_feed(tse_hc *hc, const uint8_t *in, size_t len, size_t *consumed)
{
    size_t i = 0;

    if (consumed != NULL)
        *consumed = 0;
    if (hc == NULL || consumed == NULL || (in == NULL && len != 0))
        return TSE_ERR_INVALID_ARG;
    if (hc->state == ST_FAILED)
        return hc->err;
    if (hc->state == ST_ESTABLISHED)
        return TSE_ERR_STATE;

    /* Every pass consumes at least one byte: bounded by len. */
    while (i < len) {
        int r;
        if (hc->state == ST_BODY) {
            size_t take = len - i;
            if ((uint64_t)take > hc->body_left)
                take = (size_t)hc->body_left;
            i += take;
            hc->body_left -= take;
            if (hc->body_left == 0) {
                tse_hc_restart(hc);
                hc->retry_pending = 1;
                *consumed = i;
                return TSE_HC_RESEND;
            }
            continue;
        }
        r = head_byte(hc, in[i++]);
        if (r != TSE_HC_NEED_MORE) {
            *consumed = i;
            return r;
        }
    }
    *consumed = len;
    return TSE_HC_NEED_MORE;
}

int tse_hc_on_close(tse_hc *hc)
{
    if (hc == NULL)
        return TSE_ERR_INVALID_ARG;
    if (hc->state == ST_BODY) {
        /* the 407 was answered; its body just did not finish */
        tse_hc_restart(hc);
        hc->retry_pending = 0;
        return TSE_HC_RECONNECT;
    }
    if (hc->state == ST_STATUS && hc->head_total == 0 && hc->retry_pending) {
        /* we resent after a 407 and the proxy closed without a word
         * (its keep-alive timer): one reconnect.  Once it answered
         * anything, head_total > 0 and EOF is just EOF. */
        hc->retry_pending = 0;
        return TSE_HC_RECONNECT;
    }
    if (hc->state == ST_STATUS || hc->state == ST_HEADERS)
        fail(hc, TSE_ERR_PROXY_CLOSED);
    return TSE_ERR_PROXY_CLOSED;
}

#else /* !TSE_CONFIG_PROXY: no HTTP CONNECT (tse/config.h).  The engine
       * never calls these: tse_settings_check() refuses a proxy_host. */

void tse_hc_restart(tse_hc *hc)
{
    (void)hc;
}

void tse_hc_init(tse_hc *hc, const tse_hc_params *p)
{
    if (hc != NULL) {
        memset(hc, 0, sizeof *hc);
        if (p != NULL)
            hc->p = *p;
    }
}

int tse_hc_request(tse_hc *hc, uint8_t *out, size_t cap)
{
    (void)hc; (void)out; (void)cap;
    return TSE_ERR_INVALID_ARG;
}

int tse_hc_feed(tse_hc *hc, const uint8_t *in, size_t len, size_t *consumed)
{
    (void)hc; (void)in; (void)len;
    if (consumed != NULL)
        *consumed = 0;
    return TSE_ERR_PROXY_MALFORMED;
}

int tse_hc_on_close(tse_hc *hc)
{
    (void)hc;
    return TSE_ERR_PROXY_CLOSED;
}

int tse_hc_digest_response(int scheme, int sess, const char *user,
                           const char *realm, const char *pass,
                           const char *method, const char *uri,
                           const char *nonce, const char *nc,
                           const char *cnonce, const char *qop,
                           char *scratch, size_t scratch_cap,
                           char out_hex[65])
{
    (void)scheme; (void)sess; (void)user; (void)realm; (void)pass;
    (void)method; (void)uri; (void)nonce; (void)nc; (void)cnonce; (void)qop;
    (void)scratch; (void)scratch_cap; (void)out_hex;
    return TSE_ERR_INVALID_ARG;
}

#endif /* TSE_CONFIG_PROXY */
