/* SIP OPTIONS request builder and strict response parser (RFC 3261), for
 * the direct-access probe of the detection (TR 33.830 8.4.2). */
#include "tse/config.h"
#if TSE_CONFIG_DETECT /* the whole file */

#include "sip_probe.h"

#include <string.h>

/* ---- building ---------------------------------------------------------- */

size_t tse_sip_hostport(char *dst, const char *host, size_t hl, uint16_t port, int port0)
{
    char *o = dst, *q;
    unsigned d;
    int v6 = host != NULL && strchr(host, ':') != NULL;
    if (v6)
        *o++ = '[';
    if (host != NULL) {
        memcpy(o, host, hl);
        o += hl;
    }
    if (v6)
        *o++ = ']';
    if (port || port0) {
        *o = ':';
        for (d = port; d >= 10; d /= 10)
            o++;
        q = ++o;
        do {
            *q-- = (char)('0' + port % 10);
            port /= 10;
        } while (port);
        o++;
    }
    *o = '\0';
    return (size_t)(o - dst);
}

/* Names, IPv4 and IPv6 literals only: nothing that could end a header or
 * open a URI parameter.  The host's length (1..255), 0 when it is not
 * one. */
static size_t host_ok(const char *h)
{
    const char *q = h;
    for (; *q; q++) {
        unsigned c = (unsigned char)*q;
        if ((c | 0x20) - 'a' >= 26u && c - '-' >= 2u && c - '0' >= 11u) /* 0-9 and ':' */
            return 0;
    }
    return q - h <= 255 ? (size_t)(q - h) : 0;
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

/* The request, RFC 3261 8.1.1: a code below 0x0c but LF stands for a
 * field (see tse_sip_options_build()).  RFC 3581 rport: the answer comes
 * back to the address the request came from, whatever NAT lies in
 * between.  The CSeq number is tse_sip_ids::cseq, always 1.  The
 * User-Agent line (after \13) is left out when there is none. */
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
    "\13User-Agent: \11\r\n"
    "Content-Length: 0\r\n\r\n";

int tse_sip_options_build(const tse_sip_options_params *p,
                          int (*entropy)(void *user, uint8_t *buf, size_t len),
                          void *ent_user, char *buf, size_t cap,
                          size_t *out_len, tse_sip_ids *ids)
{
    uint8_t rnd[12 + 16 + 8];
    char field[TSE_SIP_HOSTPORT_MAX];
    const char *t = request, *f = "", *h, *fv[6];
    size_t hl, ll = 11; /* lengths of the host and the Via host */
    char *o = buf;

    if (!p || !entropy || !buf || !out_len || !ids || !p->host || !(hl = host_ok(p->host)) ||
        (unsigned)p->transport > TSE_SIP_TLS || (p->local_host && !(ll = host_ok(p->local_host))))
        return TSE_ERR_INVALID_ARG;
    for (h = p->user_agent; h && *h; h++)
        if ((unsigned char)*h < 0x20 || *h == 0x7f)
            return TSE_ERR_INVALID_ARG;
    if (entropy(ent_user, rnd, sizeof rnd) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    memcpy(ids->branch, "z9hG4bK", 8); /* RFC 3261 17.2.3 magic cookie */
    to_hex(ids->branch + 7, rnd, 12);
    to_hex(ids->call_id, rnd + 12, 16);
    to_hex(ids->from_tag, rnd + 28, 8);
    ids->cseq = 1;
    fv[0] = &"UDP\0TCP\0TLS\0udp\0tcp\0tls"[4 * p->transport];
    fv[4] = fv[0] + 12;
    fv[1] = ids->branch;
    fv[2] = ids->from_tag;
    fv[3] = ids->call_id;
    fv[5] = p->user_agent;

    /* The template's characters, a field's in place of its code (1-3
     * host:port, 4-9 fv[], 11 the User-Agent line's start): fields hold
     * no control characters, so none is taken for a code. */
    for (;;) {
        unsigned char c = (unsigned char)(*f ? *f++ : *t++);
        if (!c)
            break;
        if (c < 12 && c != '\n') {
            f = field;
            if (c < 4) {
                uint16_t port = c == 1 ? p->port : 0;
                size_t n = hl;
                h = p->host;
                if (c == 2) {
                    h = p->local_host ? p->local_host : "tse.invalid";
                    port = p->local_port;
                    n = ll;
                }
                tse_sip_hostport(field, h, n, port, 0);
            } else if (c < 10) {
                f = fv[c - 4];
            } else {
                f = "";
                if (!p->user_agent)
                    while (*t++ != '\n')
                        ;
            }
            continue;
        }
        if (o == buf + cap)
            return TSE_ERR_BUFFER_TOO_SMALL;
        *o++ = (char)c;
    }
    *out_len = (size_t)(o - buf);
    return TSE_OK;
}

/* ---- parsing ----------------------------------------------------------- */

/* SP, HT, CR or LF: one bit each, from the character minus one. */
static int is_ws(char c)
{
    unsigned u = (unsigned char)c - 1u;
    return u < 32 && (0x80001300u >> u) & 1;
}

/* RFC 3261 25.1 token characters: what a header name is made of
 * (alphanum and -.!%*_+`'~), one bit per character from SP to DEL. */
static int is_token_char(char c)
{
    static const uint32_t map[3] = {0x03FF6CA2u, 0x87FFFFFEu, 0x47FFFFFFu};
    unsigned u = (unsigned char)c - 0x20u;
    return u < 96 && (map[u >> 5] >> (u & 31)) & 1;
}

/* Whether [s, e), trimmed, is @p b; with fold 0x20 ignoring the case of
 * letters (then b holds lower case letters, '-', '/', '.' or digits).
 * c | 0x20 maps only the upper case letters onto lower case ones and
 * otherwise only control characters onto '-', '/', '.' or digits:
 * callers pass text without control characters (so without NUL). */
static int same(const char *s, const char *e, const char *b, int fold)
{
    while (s < e && is_ws(*s)) /* trimmed: blanks and folding CRLFs */
        s++;
    while (e > s && is_ws(e[-1]))
        e--;
    for (; s < e; s++, b++)
        if ((*s | fold) != *b)
            return 0; /* also at b's end: *s is never 0 */
    return *b == '\0';
}

/* The decimal number that starts [s, e): how many digits it has, 0 when
 * none or more than 9. */
static size_t number(const char *s, const char *e, uint32_t *v)
{
    const char *d = s;
    uint32_t x = 0;
    while (d < e && (unsigned)(*d - '0') <= 9)
        x = x * 10 + (uint32_t)(*d++ - '0');
    *v = x;
    return d - s > 9 ? 0 : (size_t)(d - s);
}

/* The CR that ends the line at s, NULL when the line is malformed: no
 * control characters but HT (RFC 3261 25.1), CR only in CRLF, and with
 * @p fold a CRLF followed by SP or HT continues the line (7.3.1).  The
 * head's final CRLFCRLF bounds the scan. */
static const char *line_end(const char *s, int fold)
{
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r' && s[1] == '\n') {
            if (!fold || (s[2] != ' ' && s[2] != '\t'))
                return s;
            s++;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return NULL;
        }
    }
}

/* RFC 3261 20.42: the top Via is the first value of the first Via
 * header; its branch parameter identifies our transaction (17.1.3).
 * The first via-parm ends at the first ','; each ';' (the first ends
 * sent-protocol and sent-by) opens a parameter, up to the next ';' or
 * the end, with its value after its first '='. */
static int via_branch_matches(const char *v, const char *e, const char *branch)
{
    const char *p = NULL, *eq;
    for (;; v++) {
        if (v == e || *v == ',' || *v == ';') {
            if (p) {
                for (eq = p; eq < v && *eq != '='; eq++)
                    ;
                if (same(p, eq, "branch", 0x20))
                    return (eq < v) & same(eq + 1, v, branch, 0);
            }
            if (v == e || *v == ',')
                return 0;
            p = v + 1;
        }
    }
}

/* The header fields the parser reads, each with its compact form (RFC
 * 3261 7.3.3; CSeq has none and is listed twice): a name's index / 2 is
 * its H_* (CSeq and Content-Length differ in bit 0) */
static const char fields[] = "via\0v\0call-id\0i\0cseq\0cseq\0content-length\0l";
enum { H_VIA, H_CALLID, H_CSEQ, H_CL };

int tse_sip_response_parse(const uint8_t *data, size_t len,
                           tse_sip_transport transport, const tse_sip_ids *ids,
                           tse_sip_response *out, size_t *consumed)
{
    const char *s = (const char *)data, *l, *p, *v, *e, *head_end;
    size_t i, n;
    unsigned seen = 0, ok = 1, need;
    uint32_t num, crlf2 = 0;
    size_t cl = 0;
    int stream = transport != TSE_SIP_UDP, fold = 0;
    unsigned h;

    if (!data || !ids || !out || (unsigned)transport > TSE_SIP_TLS)
        return TSE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (consumed)
        *consumed = 0;

    /* RFC 3261 7.5 / RFC 5626 3.5.1: CRLFs between messages on a stream
     * are keep-alives, not part of the message (what is left of them
     * cannot end a head: incomplete). */
    l = s;
    if (stream)
        while (s + len - l >= 2 && l[0] == '\r' && l[1] == '\n')
            l += 2;

    /* Find the blank line that ends the head, within the limit. */
    n = (size_t)(s + len - l);
    if (n > TSE_SIP_MAX_HEAD + 4)
        n = TSE_SIP_MAX_HEAD + 4;
    for (i = 0; i < n && crlf2 != 0x0D0A0D0Au; i++)
        crlf2 = crlf2 << 8 | (unsigned char)l[i]; /* CR LF CR LF */
    if (crlf2 != 0x0D0A0D0Au) {
        if (n == TSE_SIP_MAX_HEAD + 4)
            return TSE_ERR_SIP_TOO_LARGE;
        return stream ? TSE_ERR_WOULD_BLOCK : TSE_ERR_SIP_MALFORMED;
    }
    head_end = l + i;

    /* The status line, then header fields up to the blank line. */
    for (; l < head_end - 2; l = p + 2, fold = 1) {
        const char *f = fields;
        p = line_end(l, fold);
        if (!p)
            return TSE_ERR_SIP_MALFORMED;
        if (!fold) {
            /* SIP/2.0 SP 3DIGIT SP Reason-Phrase CRLF (RFC 3261 7.2) */
            /* l[7] | l[11] is ' ' only when both are: line_end() let no
             * control character (0x00..0x1f but HT) through */
            if (p - l < 12 || !same(l, l + 7, "sip/2.0", 0x20) || (l[7] | l[11]) != ' ' ||
                number(l + 8, p, &num) != 3 || l[8] < '1' || l[8] > '6')
                return TSE_ERR_SIP_MALFORMED;
            out->status = (int)num;
            out->reason = l + 12;
            out->reason_len = (size_t)(p - l - 12);
            continue;
        }
        /* token, optional SP/HT, ':' */
        for (e = l; is_token_char(*e); e++)
            ;
        for (v = e; *v == ' ' || *v == '\t'; v++)
            ;
        if (e == l || *v++ != ':')
            return TSE_ERR_SIP_MALFORMED;
        for (h = 0; h < 8 && !same(l, e, f, 0x20); h++)
            while (*f++)
                ;
        if (h == 8)
            continue;
        while (v < p && is_ws(*v))
            v++;
        h >>= 1;
        if (seen & (1u << h)) {
            if (h == H_VIA)
                continue; /* the top Via is the first */
            return TSE_ERR_SIP_MALFORMED; /* Call-ID, CSeq, Content-Length: once */
        }
        seen |= 1u << h;
        if (h == H_VIA) {
            ok &= (unsigned)via_branch_matches(v, p, ids->branch);
        } else if (h == H_CALLID) {
            ok &= (unsigned)same(v, p, ids->call_id, 0);
        } else {
            /* RFC 3261 20.16 CSeq: number LWS method; 20.14 Content-Length:
             * the number alone (then the digits end where the trimmed
             * value does, before a blank or the CR) */
            const char *q = v + number(v, p, &num);
            if (q == v || (unsigned)same(q, p, "", 0) != (h & 1) || !is_ws(*q))
                return TSE_ERR_SIP_MALFORMED;
            if (h & 1) { /* H_CL */
                cl = num;
                if (cl > TSE_SIP_MAX_BODY)
                    return TSE_ERR_SIP_TOO_LARGE;
            } else {
                ok &= (num == ids->cseq) & same(q, p, "OPTIONS", 0);
            }
        }
    }

    /* RFC 3261 8.1.1: Via, Call-ID and CSeq are mandatory; 18.3: on a
     * stream, Content-Length frames the message. */
    need = stream ? 15u : 7u;
    if ((seen & need) != need)
        return TSE_ERR_SIP_MALFORMED;
    i = (size_t)(head_end - s);
    if (!(seen & (1u << H_CL)))
        cl = len - i; /* a datagram: the rest */
    if (len - i < cl)
        return stream ? TSE_ERR_WOULD_BLOCK : TSE_ERR_SIP_MALFORMED;
    if (!ok)
        return TSE_ERR_SIP_MISMATCH;
    out->content_length = cl;
    if (consumed)
        *consumed = i + cl;
    return TSE_OK;
}

#else
/* ISO C: a translation unit is not empty */
typedef int tse_sip_probe_compiled_out;
#endif /* TSE_CONFIG_DETECT */
