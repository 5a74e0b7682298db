/* SIP OPTIONS request builder and strict response parser (RFC 3261), for
 * the direct-access probe of the detection (TR 33.830 8.4.2). */
#include "tse/config.h"
#if TSE_CONFIG_DETECT /* the whole file */

#include "sip_probe.h"

#include <string.h>

/* ---- building ---------------------------------------------------------- */

typedef struct out_buf {
    char *p;
    size_t cap, n;
    int overflow;
} out_buf;

static void put_mem(out_buf *o, const char *s, size_t len)
{
    if (o->overflow || o->cap - o->n < len) {
        o->overflow = 1;
        return;
    }
    memcpy(o->p + o->n, s, len);
    o->n += len;
}

static void put(out_buf *o, const char *s)
{
    put_mem(o, s, strlen(s));
}

static void put_u32(out_buf *o, uint32_t v)
{
    char d[10];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_mem(o, d + i, sizeof d - i);
}

/* host[:port] as it goes into a SIP URI or Via (IPv6 in brackets). */
static void put_hostport(out_buf *o, const char *host, uint16_t port)
{
    int v6 = strchr(host, ':') != NULL;
    if (v6)
        put(o, "[");
    put(o, host);
    if (v6)
        put(o, "]");
    if (port) {
        put(o, ":");
        put_u32(o, port);
    }
}

/* Names, IPv4 and IPv6 literals only: nothing that could end a header or
 * open a URI parameter. */
static int host_ok(const char *h)
{
    size_t i, n;
    if (!h)
        return 0;
    n = strlen(h);
    if (n == 0 || n > 255)
        return 0;
    for (i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':'))
            return 0;
    }
    return 1;
}

static void to_hex(char *dst, const uint8_t *src, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        dst[2 * i] = hx[src[i] >> 4];
        dst[2 * i + 1] = hx[src[i] & 15];
    }
    dst[2 * n] = '\0';
}

int tse_sip_options_build(const tse_sip_options_params *p,
                          int (*entropy)(void *user, uint8_t *buf, size_t len),
                          void *ent_user, char *buf, size_t cap,
                          size_t *out_len, tse_sip_ids *ids)
{
    uint8_t rnd[12 + 16 + 8];
    const char *tp, *lh;
    out_buf o;
    size_t i;

    if (!p || !entropy || !buf || !out_len || !ids || !host_ok(p->host) ||
        (p->transport != TSE_SIP_UDP && p->transport != TSE_SIP_TCP &&
         p->transport != TSE_SIP_TLS) ||
        (p->local_host && !host_ok(p->local_host)))
        return TSE_ERR_INVALID_ARG;
    if (p->user_agent) {
        for (i = 0; p->user_agent[i]; i++)
            if ((unsigned char)p->user_agent[i] < 0x20 || p->user_agent[i] == 0x7f)
                return TSE_ERR_INVALID_ARG;
    }
    if (entropy(ent_user, rnd, sizeof rnd) != 0)
        return TSE_ERR_DETECT_ENTROPY;
    memcpy(ids->branch, "z9hG4bK", 7);
    to_hex(ids->branch + 7, rnd, 12);
    to_hex(ids->call_id, rnd + 12, 16);
    to_hex(ids->from_tag, rnd + 28, 8);
    ids->cseq = 1;

    tp = p->transport == TSE_SIP_UDP ? "UDP" : p->transport == TSE_SIP_TLS ? "TLS" : "TCP";
    lh = p->local_host ? p->local_host : "tse.invalid";
    o.p = buf;
    o.cap = cap;
    o.n = 0;
    o.overflow = 0;

    put(&o, "OPTIONS sip:");
    put_hostport(&o, p->host, p->port);
    put(&o, " SIP/2.0\r\nVia: SIP/2.0/");
    put(&o, tp);
    put(&o, " ");
    put_hostport(&o, lh, p->local_port);
    /* RFC 3581 rport: the answer comes back to the address it came from,
     * whatever NAT lies in between. */
    put(&o, ";branch=");
    put(&o, ids->branch);
    put(&o, ";rport\r\nMax-Forwards: 70\r\nTo: <sip:");
    put_hostport(&o, p->host, 0);
    put(&o, ">\r\nFrom: <sip:probe@tse.invalid>;tag=");
    put(&o, ids->from_tag);
    put(&o, "\r\nCall-ID: ");
    put(&o, ids->call_id);
    put(&o, "\r\nCSeq: ");
    put_u32(&o, ids->cseq);
    put(&o, " OPTIONS\r\nContact: <sip:probe@");
    put_hostport(&o, lh, p->local_port);
    put(&o, ";transport=");
    put(&o, p->transport == TSE_SIP_UDP ? "udp" : p->transport == TSE_SIP_TLS ? "tls" : "tcp");
    put(&o, ">\r\nAccept: application/sdp\r\n");
    if (p->user_agent) {
        put(&o, "User-Agent: ");
        put(&o, p->user_agent);
        put(&o, "\r\n");
    }
    put(&o, "Content-Length: 0\r\n\r\n");
    if (o.overflow)
        return TSE_ERR_BUFFER_TOO_SMALL;
    *out_len = o.n;
    return TSE_OK;
}

/* ---- parsing ----------------------------------------------------------- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int ieq(const char *a, size_t alen, const char *b)
{
    size_t i;
    if (strlen(b) != alen)
        return 0;
    for (i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
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

/* Parse a decimal number of at most 9 digits occupying all of s[0..n). */
static int parse_num(const char *s, size_t n, uint32_t *out)
{
    size_t i;
    uint32_t v = 0;
    if (n == 0 || n > 9)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* RFC 3261 20.42: the top Via is the first value of the first Via
 * header; its branch parameter identifies our transaction (17.1.3). */
static int via_branch_matches(const char *v, size_t n, const char *branch)
{
    size_t i = 0, end = 0;
    /* first via-parm: up to a comma */
    while (end < n && v[end] != ',')
        end++;
    /* skip sent-protocol and sent-by, up to the first ';' */
    while (i < end && v[i] != ';')
        i++;
    while (i < end) {
        size_t ps, pe, eq;
        i++; /* ';' */
        ps = i;
        while (i < end && v[i] != ';')
            i++;
        pe = i;
        eq = ps;
        while (eq < pe && v[eq] != '=')
            eq++;
        {
            const char *name = v + ps;
            size_t nlen = eq - ps;
            trim(&name, &nlen);
            if (ieq(name, nlen, "branch")) {
                const char *val;
                size_t vlen;
                if (eq == pe)
                    return 0;
                val = v + eq + 1;
                vlen = pe - eq - 1;
                trim(&val, &vlen);
                return vlen == strlen(branch) && memcmp(val, branch, vlen) == 0;
            }
        }
    }
    return 0;
}

int tse_sip_response_parse(const uint8_t *data, size_t len,
                           tse_sip_transport transport, const tse_sip_ids *ids,
                           tse_sip_response *out, size_t *consumed)
{
    const char *s = (const char *)data;
    size_t start = 0, head_end = 0, i, line, limit;
    int have_via = 0, have_callid = 0, have_cseq = 0, have_cl = 0;
    int via_ok = 0, callid_ok = 0, cseq_ok = 0;
    uint32_t status = 0, cl = 0;

    if (!data || !ids || !out ||
        (transport != TSE_SIP_UDP && transport != TSE_SIP_TCP && transport != TSE_SIP_TLS))
        return TSE_ERR_INVALID_ARG;
    if (transport == TSE_SIP_TLS)
        transport = TSE_SIP_TCP; /* a stream like TCP (RFC 3261 18.3) */
    memset(out, 0, sizeof *out);
    if (consumed)
        *consumed = 0;

    /* RFC 3261 7.5 / RFC 5626 3.5.1: CRLFs between messages on a stream
     * are keep-alives, not part of the message. */
    if (transport == TSE_SIP_TCP) {
        while (len - start >= 2 && s[start] == '\r' && s[start + 1] == '\n')
            start += 2;
        if (start == len || (len - start == 1 && s[start] == '\r'))
            return TSE_ERR_WOULD_BLOCK;
    }

    /* Find the blank line that ends the head, within the limit. */
    limit = len - start;
    if (limit > TSE_SIP_MAX_HEAD + 4)
        limit = TSE_SIP_MAX_HEAD + 4;
    for (i = 3; i < limit; i++) {
        const char *q = s + start + i - 3;
        if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
            head_end = start + i + 1;
            break;
        }
    }
    if (!head_end) {
        if (len - start >= TSE_SIP_MAX_HEAD + 4)
            return TSE_ERR_SIP_TOO_LARGE;
        return transport == TSE_SIP_TCP ? TSE_ERR_WOULD_BLOCK : TSE_ERR_SIP_MALFORMED;
    }

    /* Status line: SIP/2.0 SP 3DIGIT SP Reason-Phrase CRLF (RFC 3261 7.2) */
    {
        const char *l = s + start;
        size_t ll = 0;
        while (l[ll] != '\r')
            ll++;
        if (s[start + ll + 1] != '\n')
            return TSE_ERR_SIP_MALFORMED;
        if (ll < 12 || !ieq(l, 7, "SIP/2.0") || l[7] != ' ' || l[11] != ' ')
            return TSE_ERR_SIP_MALFORMED;
        if (parse_num(l + 8, 3, &status) != 0 || status < 100 || status > 699)
            return TSE_ERR_SIP_MALFORMED;
        for (i = 12; i < ll; i++)
            if (((unsigned char)l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
                return TSE_ERR_SIP_MALFORMED;
        out->status = (int)status;
        out->reason = l + 12;
        out->reason_len = ll - 12;
        line = start + ll + 2;
    }

    /* Header fields up to the blank line. */
    while (line < head_end - 2) {
        size_t nb = line, ne, vb, ve;
        const char *name, *val;
        size_t nlen, vlen;
        if (s[line] == ' ' || s[line] == '\t')
            return TSE_ERR_SIP_MALFORMED; /* folding without a header */
        while (nb < head_end && is_token_char(s[nb]))
            nb++;
        ne = nb;
        while (nb < head_end && (s[nb] == ' ' || s[nb] == '\t'))
            nb++;
        if (ne == line || s[nb] != ':')
            return TSE_ERR_SIP_MALFORMED;
        vb = nb + 1;
        /* The value runs to a CRLF not followed by SP/HT (folding). */
        ve = vb;
        for (;;) {
            while (s[ve] != '\r') {
                unsigned char c = (unsigned char)s[ve];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                    return TSE_ERR_SIP_MALFORMED;
                ve++;
            }
            if (s[ve + 1] != '\n')
                return TSE_ERR_SIP_MALFORMED;
            if (ve + 2 < head_end && (s[ve + 2] == ' ' || s[ve + 2] == '\t')) {
                ve += 2;
                continue;
            }
            break;
        }
        name = s + line;
        nlen = ne - line;
        val = s + vb;
        vlen = ve - vb;
        trim(&val, &vlen);
        line = ve + 2;

        if (ieq(name, nlen, "via") || ieq(name, nlen, "v")) {
            if (!have_via)
                via_ok = via_branch_matches(val, vlen, ids->branch);
            have_via = 1;
        } else if (ieq(name, nlen, "call-id") || ieq(name, nlen, "i")) {
            if (have_callid)
                return TSE_ERR_SIP_MALFORMED;
            have_callid = 1;
            callid_ok = vlen == strlen(ids->call_id) && memcmp(val, ids->call_id, vlen) == 0;
        } else if (ieq(name, nlen, "cseq")) {
            size_t k = 0;
            uint32_t num;
            const char *m;
            size_t mlen;
            if (have_cseq)
                return TSE_ERR_SIP_MALFORMED;
            have_cseq = 1;
            while (k < vlen && val[k] >= '0' && val[k] <= '9')
                k++;
            if (parse_num(val, k, &num) != 0 || k == vlen || !is_ws(val[k]))
                return TSE_ERR_SIP_MALFORMED;
            m = val + k;
            mlen = vlen - k;
            trim(&m, &mlen);
            cseq_ok = num == ids->cseq && mlen == 7 && memcmp(m, "OPTIONS", 7) == 0;
        } else if (ieq(name, nlen, "content-length") || ieq(name, nlen, "l")) {
            if (have_cl)
                return TSE_ERR_SIP_MALFORMED;
            have_cl = 1;
            if (parse_num(val, vlen, &cl) != 0)
                return TSE_ERR_SIP_MALFORMED;
            if (cl > TSE_SIP_MAX_BODY)
                return TSE_ERR_SIP_TOO_LARGE;
        }
    }

    /* RFC 3261 8.1.1: Via, Call-ID and CSeq are mandatory. */
    if (!have_via || !have_callid || !have_cseq)
        return TSE_ERR_SIP_MALFORMED;
    /* RFC 3261 18.3: on a stream, Content-Length frames the message. */
    if (transport == TSE_SIP_TCP && !have_cl)
        return TSE_ERR_SIP_MALFORMED;
    if (transport == TSE_SIP_TCP) {
        if (len - head_end < cl)
            return TSE_ERR_WOULD_BLOCK;
    } else if (have_cl && len - head_end < cl) {
        return TSE_ERR_SIP_MALFORMED;
    }
    if (!via_ok || !callid_ok || !cseq_ok)
        return TSE_ERR_SIP_MISMATCH;
    out->content_length = have_cl ? cl : len - head_end;
    if (consumed)
        *consumed = head_end + out->content_length;
    return TSE_OK;
}

#else
/* ISO C: a translation unit is not empty */
typedef int tse_sip_probe_compiled_out;
#endif /* TSE_CONFIG_DETECT */
