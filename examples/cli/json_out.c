/* tse-cli: JSON line output (see json_out.h). */
#include "json_out.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, max U+10FFFF), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

size_t cli_json_escape(char *dst, size_t cap, const char *src)
{
    size_t need = 0, o = 0;
    const unsigned char *s = (const unsigned char *)src;
    char tmp[8];
    int full = 0;

    if (!src) {
        if (cap > 0) {
            size_t n = cap - 1 < 4 ? cap - 1 : 4;
            memcpy(dst, "null", n);
            dst[n] = '\0';
        }
        return 4;
    }
    /* reserve room for the closing quote and the NUL */
#define EMIT(p, n) do { size_t n_ = (n); need += n_; \
        if (!full && cap > 0 && o + n_ + 2 <= cap) { memcpy(dst + o, (p), n_); o += n_; } \
        else full = 1; } while (0)
    EMIT("\"", 1);
    while (*s) {
        size_t l;
        switch (*s) {
        case '"': EMIT("\\\"", 2); s++; continue;
        case '\\': EMIT("\\\\", 2); s++; continue;
        case '\b': EMIT("\\b", 2); s++; continue;
        case '\f': EMIT("\\f", 2); s++; continue;
        case '\n': EMIT("\\n", 2); s++; continue;
        case '\r': EMIT("\\r", 2); s++; continue;
        case '\t': EMIT("\\t", 2); s++; continue;
        default: break;
        }
        if (*s < 0x20 || *s == 0x7F) {
            snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)*s);
            EMIT(tmp, 6);
            s++;
            continue;
        }
        l = utf8_seq(s);
        if (l == 0) {
            EMIT("\\ufffd", 6);
            s++;
            continue;
        }
        EMIT(s, l);
        s += l;
    }
#undef EMIT
    need += 1;
    if (cap > 0) {
        if (o + 2 <= cap)
            dst[o++] = '"';
        dst[o < cap ? o : cap - 1] = '\0';
    }
    return need;
}

void cli_json_begin(cli_json *j)
{
    j->buf[0] = '{';
    j->buf[1] = '\0';
    j->len = 1;
    j->fields = 0;
    j->overflow = 0;
}

/* Append ,"key": and the value text; all or nothing. Leaves room for "}". */
static void add_raw(cli_json *j, const char *key, const char *val, size_t vlen)
{
    char kbuf[128];
    size_t kl = cli_json_escape(kbuf, sizeof kbuf, key);
    size_t need = (j->fields ? 1 : 0) + kl + 1 + vlen;
    if (kl >= sizeof kbuf || j->len + need + 2 > sizeof j->buf) {
        j->overflow = 1;
        return;
    }
    if (j->fields)
        j->buf[j->len++] = ',';
    memcpy(j->buf + j->len, kbuf, kl);
    j->len += kl;
    j->buf[j->len++] = ':';
    memcpy(j->buf + j->len, val, vlen);
    j->len += vlen;
    j->buf[j->len] = '\0';
    j->fields++;
}

void cli_json_str(cli_json *j, const char *key, const char *val)
{
    char v[CLI_JSON_MAX];
    size_t n = cli_json_escape(v, sizeof v, val);
    if (n >= sizeof v) {
        j->overflow = 1;
        return;
    }
    add_raw(j, key, v, n);
}

void cli_json_int(cli_json *j, const char *key, long long val)
{
    char v[32];
    int n = snprintf(v, sizeof v, "%lld", val);
    add_raw(j, key, v, (size_t)n);
}

void cli_json_bool(cli_json *j, const char *key, int val)
{
    add_raw(j, key, val ? "true" : "false", val ? 4 : 5);
}

void cli_json_num(cli_json *j, const char *key, double val, int decimals)
{
    char v[64];
    int n;
    if (isnan(val) || isinf(val)) { /* JSON has no NaN/Infinity */
        add_raw(j, key, "null", 4);
        return;
    }
    n = snprintf(v, sizeof v, "%.*f", decimals, val);
    if (n < 0 || (size_t)n >= sizeof v) {
        j->overflow = 1;
        return;
    }
    add_raw(j, key, v, (size_t)n);
}

void cli_json_uint_array(cli_json *j, const char *key, const uint64_t *v, size_t n)
{
    char a[CLI_JSON_MAX];
    size_t len = 0, i;
    a[len++] = '[';
    for (i = 0; i < n; i++) {
        int w = snprintf(a + len, sizeof a - len, "%s%llu", i ? "," : "",
                         (unsigned long long)v[i]);
        if (w < 0 || (size_t)w >= sizeof a - len - 1) {
            j->overflow = 1;
            return;
        }
        len += (size_t)w;
    }
    a[len++] = ']';
    add_raw(j, key, a, len);
}

const char *cli_json_end(cli_json *j)
{
    j->buf[j->len++] = '}';
    j->buf[j->len] = '\0';
    return j->buf;
}
