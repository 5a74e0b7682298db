/* SIP OPTIONS request builder and strict response parser (RFC 3261), for
 * the direct-access probe of the detection (TR 33.830 8.4.2). */
#include "tse/config.h"
#if TSE_CONFIG_DETECT /* the whole file */

#include "sip_probe.h"

#include <string.h>

/* ---- building ---------------------------------------------------------- */

size_t tse_sip_hostport(char *dst, const char *host, size_t hl, uint16_t port, int port0)
{
    const char *q;
    char d[5];
    size_t n = 0, k = sizeof d;
    int v6 = 0;
    for (q = host; q && *q; q++)
        v6 |= *q == ':';
    if (v6)
        dst[n++] = '[';
    if (host != NULL && hl > 0)
        memcpy(dst + n, host, hl);
    else
        hl = 0;
    n += hl;
    if (v6)
        dst[n++] = ']';
    if (port || port0) {
        dst[n++] = ':';
        do {
            d[--k] = (char)('0' + port % 10);
            port /= 10;
        } while (port);
        memcpy(dst + n, d + k, sizeof d - k);
        n += sizeof d - k;
    }
    dst[n] = '\0';
    return n;
}

/* Names, IPv4 and IPv6 literals only: nothing that could end a header or
 * open a URI parameter. */
static int host_ok(const char *h)
{
    size_t n = 0;
    if (!h)
        return 0;
    for (; h[n]; n++) {
        char c = h[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'))
            return 0;
    }
    return n > 0 && n <= 255;
}

static void to_hex(char *dst, const uint8_t *src, size_t n)
{
    size_t i;
    for (i = 0; i < 2 * n; i++) {
        unsigned x = (src[i / 2] >> (i & 1 ? 0 : 4)) & 15u;
        dst[i] = (char)(x < 10 ? '0' + x : 'a' - 10 + x);
    }
    dst[2 * n] = '\0';
}

/* The request, RFC 3261 8.1.1: a code below 0x09 stands for a field
 * (see tse_sip_options_build()).  RFC 3581 rport: the answer comes back
 * to the address the request came from, whatever NAT lies in between.
 * The CSeq number is tse_sip_ids::cseq, always 1. */
static const char request[] =
    "OPTIONS sip:\1 SIP/2.0\r\n"
    "Via: SIP/2.0/\4 \2;branch=\5;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:\3>\r\n"
    "From: <sip:probe@tse.invalid>;tag=\6\r\n"
    "Call-ID: \7\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Contact: <sip:probe@\2;transport=\10>\r\n"
    "Accept: application/sdp\r\n"
    "\16"
    "Content-Length: 0\r\n\r\n";

typedef struct out_buf {
    char *p;
    size_t cap, n;
} out_buf;

/* Append @p s; 0 when it does not fit (what fits is written: the caller
 * fails the whole request then). */
static int put(out_buf *o, const char *s)
{
    for (; *s; s++) {
        if (o->n == o->cap)
            return 0;
        o->p[o->n++] = *s;
    }
    return 1;
}

int tse_sip_options_build(const tse_sip_options_params *p,
                          int (*entropy)(void *user, uint8_t *buf, size_t len),
                          void *ent_user, char *buf, size_t cap,
                          size_t *out_len, tse_sip_ids *ids)
{
    uint8_t rnd[12 + 16 + 8];
    char field[TSE_SIP_HOSTPORT_MAX];
    const char *t, *lh;
    out_buf o;
    size_t i;

    if (!p || !entropy || !buf || !out_len || !ids || !host_ok(p->host) ||
        (unsigned)p->transport > TSE_SIP_TLS || (p->local_host && !host_ok(p->local_host)))
        return TSE_ERR_INVALID_ARG;
    for (i = 0; p->user_agent && p->user_agent[i]; i++)
        if ((unsigned char)p->user_agent[i] < 0x20 || p->user_agent[i] == 0x7f)
            return TSE_ERR_INVALID_ARG;
    if (entropy(ent_user, rnd, sizeof rnd) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    memcpy(ids->branch, "z9hG4bK", 7); /* RFC 3261 17.2.3 magic cookie */
    to_hex(ids->branch + 7, rnd, 12);
    to_hex(ids->call_id, rnd + 12, 16);
    to_hex(ids->from_tag, rnd + 28, 8);
    ids->cseq = 1;
    lh = p->local_host ? p->local_host : "tse.invalid";
    o.p = buf;
    o.cap = cap;
    o.n = 0;

    for (t = request; *t; t++) {
        const char *f = field, *h = *t == 2 ? lh : p->host;
        switch (*t) {
        case 1:
        case 2:
        case 3:
            tse_sip_hostport(field, h, strlen(h),
                             *t == 1 ? p->port : *t == 2 ? p->local_port : 0, 0);
            break;
        case 4: f = &"UDP\0TCP\0TLS"[4 * p->transport]; break;
        case 5: f = ids->branch; break;
        case 6: f = ids->from_tag; break;
        case 7: f = ids->call_id; break;
        case 8: f = &"udp\0tcp\0tls"[4 * p->transport]; break;
        case 14:
            f = "";
            if (p->user_agent) {
                if (!put(&o, "User-Agent: ") || !put(&o, p->user_agent))
                    return TSE_ERR_BUFFER_TOO_SMALL;
                f = "\r\n";
            }
            break;
        default:
            field[0] = *t;
            field[1] = '\0';
            break;
        }
        if (!put(&o, f))
            return TSE_ERR_BUFFER_TOO_SMALL;
    }
    *out_len = o.n;
    return TSE_OK;
}

/* ---- parsing ----------------------------------------------------------- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 3261 25.1 token characters: what a header name is made of. */
static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
}

/* Whether s[0..n) is @p lc (lower case letters, '-', '/', '.', digits)
 * ignoring the case of letters.  c | 0x20 maps only the upper case
 * letters onto lower case ones and otherwise only control characters
 * onto '-', '/', '.' or digits: callers pass token characters or text
 * without control characters. */
static int name_is(const char *s, size_t n, const char *lc)
{
    size_t j;
    for (j = 0; j < n; j++)
        if ((s[j] | 0x20) != lc[j])
            return 0; /* also at lc's end: c | 0x20 is never 0 */
    return lc[n] == '\0';
}

static int same(const char *s, size_t n, const char *b)
{
    return strlen(b) == n && memcmp(s, b, n) == 0;
}

/* Trim whitespace (including folding CRLFs) at both ends. */
static void trim(const char **s, size_t *n)
{
    while (*n && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_ws((*s)[*n - 1]))
        (*n)--;
}

/* The decimal number that starts s[0..n): how many digits it has, 0 when
 * none or more than 9. */
static size_t number(const char *s, size_t n, uint32_t *v)
{
    size_t k = 0;
    *v = 0;
    while (k < n && s[k] >= '0' && s[k] <= '9')
        *v = *v * 10 + (uint32_t)(s[k++] - '0');
    return k > 9 ? 0 : k;
}

/* The CR that ends the line at s[i], 0 when the line is malformed: no
 * control characters but HT (RFC 3261 25.1), CR only in CRLF, and with
 * @p fold a CRLF followed by SP or HT continues the line (7.3.1).  The
 * head's final CRLFCRLF bounds the scan. */
static size_t line_end(const char *s, size_t i, int fold)
{
    for (;; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            if (s[i + 1] != '\n')
                return 0;
            if (!fold || (s[i + 2] != ' ' && s[i + 2] != '\t'))
                return i;
            i++;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return 0;
        }
    }
}

/* RFC 3261 20.42: the top Via is the first value of the first Via
 * header; its branch parameter identifies our transaction (17.1.3). */
static int via_branch_matches(const char *v, size_t n, const char *branch)
{
    size_t i, end = 0, ps = 0, eq = 0;
    const char *p;
    size_t pn;
    while (end < n && v[end] != ',') /* the first via-parm */
        end++;
    /* its parameters: each ';' (the first ends sent-protocol and sent-by)
     * opens one, up to the next ';' or the end */
    for (i = 0; i <= end; i++) {
        if (i < end && v[i] != ';') {
            if (ps && !eq && v[i] == '=')
                eq = i;
            continue;
        }
        if (ps) {
            p = v + ps;
            pn = (eq ? eq : i) - ps;
            trim(&p, &pn);
            if (name_is(p, pn, "branch")) {
                if (!eq)
                    return 0;
                p = v + eq + 1;
                pn = i - eq - 1;
                trim(&p, &pn);
                return same(p, pn, branch);
            }
        }
        ps = i + 1;
        eq = 0;
    }
    return 0;
}

/* The header fields the parser reads, each with its compact form (RFC
 * 3261 7.3.3; CSeq has none and is listed twice): a name's index / 2 is
 * its H_* */
static const char fields[] = "via\0v\0call-id\0i\0cseq\0cseq\0content-length\0l";
enum { H_VIA, H_CALLID, H_CSEQ, H_CL };

int tse_sip_response_parse(const uint8_t *data, size_t len,
                           tse_sip_transport transport, const tse_sip_ids *ids,
                           tse_sip_response *out, size_t *consumed)
{
    const char *s = (const char *)data, *l;
    size_t start = 0, head_end = 0, i, line, limit, end;
    unsigned seen = 0, ok = 0;
    uint32_t status, cl = 0, crlf2 = 0;
    int stream = transport == TSE_SIP_TCP || transport == TSE_SIP_TLS;

    if (!data || !ids || !out || (unsigned)transport > TSE_SIP_TLS)
        return TSE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (consumed)
        *consumed = 0;

    /* RFC 3261 7.5 / RFC 5626 3.5.1: CRLFs between messages on a stream
     * are keep-alives, not part of the message. */
    if (stream) {
        while (len - start >= 2 && s[start] == '\r' && s[start + 1] == '\n')
            start += 2;
        if (start == len || (len - start == 1 && s[start] == '\r'))
            return TSE_ERR_WOULD_BLOCK;
    }

    /* Find the blank line that ends the head, within the limit. */
    limit = len - start;
    if (limit > TSE_SIP_MAX_HEAD + 4)
        limit = TSE_SIP_MAX_HEAD + 4;
    for (i = 0; i < limit && !head_end; i++) {
        crlf2 = crlf2 << 8 | (unsigned char)s[start + i];
        if (crlf2 == 0x0D0A0D0Au) /* CR LF CR LF */
            head_end = start + i + 1;
    }
    if (!head_end) {
        if (len - start >= TSE_SIP_MAX_HEAD + 4)
            return TSE_ERR_SIP_TOO_LARGE;
        return stream ? TSE_ERR_WOULD_BLOCK : TSE_ERR_SIP_MALFORMED;
    }

    /* Status line: SIP/2.0 SP 3DIGIT SP Reason-Phrase CRLF (RFC 3261 7.2) */
    l = s + start;
    end = line_end(l, 0, 0);
    if (end < 12 || !name_is(l, 7, "sip/2.0") || l[7] != ' ' || l[11] != ' ' ||
        number(l + 8, 3, &status) != 3 || status < 100 || status > 699)
        return TSE_ERR_SIP_MALFORMED;
    out->status = (int)status;
    out->reason = l + 12;
    out->reason_len = end - 12;
    line = start + end + 2;

    /* Header fields up to the blank line: token, optional SP/HT, ':' */
    while (line < head_end - 2) {
        const char *val, *f = fields;
        size_t nb = line, vlen, k;
        uint32_t num;
        int h;
        while (is_token_char(s[nb]))
            nb++;
        end = nb;
        while (s[nb] == ' ' || s[nb] == '\t')
            nb++;
        if (end == line || s[nb] != ':')
            return TSE_ERR_SIP_MALFORMED;
        for (h = 0; h < 8 && !name_is(s + line, end - line, f); h++)
            f += strlen(f) + 1;
        end = line_end(s, nb + 1, 1);
        if (!end)
            return TSE_ERR_SIP_MALFORMED;
        val = s + nb + 1;
        vlen = end - nb - 1;
        trim(&val, &vlen);
        line = end + 2;
        if (h == 8)
            continue;
        h >>= 1;
        if (seen & (1u << h)) {
            if (h == H_VIA)
                continue; /* the top Via is the first */
            return TSE_ERR_SIP_MALFORMED; /* Call-ID, CSeq, Content-Length: once */
        }
        seen |= 1u << h;
        if (h == H_VIA) {
            ok |= (unsigned)via_branch_matches(val, vlen, ids->branch) << H_VIA;
        } else if (h == H_CALLID) {
            ok |= (unsigned)same(val, vlen, ids->call_id) << H_CALLID;
        } else if (h == H_CSEQ) {
            /* RFC 3261 20.16: number LWS method */
            k = number(val, vlen, &num);
            if (!k || k == vlen || !is_ws(val[k]))
                return TSE_ERR_SIP_MALFORMED;
            val += k;
            vlen -= k;
            trim(&val, &vlen);
            ok |= (unsigned)(num == ids->cseq && same(val, vlen, "OPTIONS")) << H_CSEQ;
        } else {
            k = number(val, vlen, &cl);
            if (!k || k != vlen)
                return TSE_ERR_SIP_MALFORMED;
            if (cl > TSE_SIP_MAX_BODY)
                return TSE_ERR_SIP_TOO_LARGE;
        }
    }

    /* RFC 3261 8.1.1: Via, Call-ID and CSeq are mandatory; 18.3: on a
     * stream, Content-Length frames the message. */
    if ((seen & 7u) != 7u || (stream && !(seen & (1u << H_CL))))
        return TSE_ERR_SIP_MALFORMED;
    if (len - head_end < cl)
        return stream ? TSE_ERR_WOULD_BLOCK : TSE_ERR_SIP_MALFORMED;
    if (ok != 7u)
        return TSE_ERR_SIP_MISMATCH;
    out->content_length = seen & (1u << H_CL) ? cl : len - head_end;
    if (consumed)
        *consumed = head_end + out->content_length;
    return TSE_OK;
}

#else
/* ISO C: a translation unit is not empty */
typedef int tse_sip_probe_compiled_out;
#endif /* TSE_CONFIG_DETECT */
