/*
 * The log hook's formatter: printf's few conversions the library's
 * messages use, into a line on the stack, truncated with "...".
 */
#include "log.h"

#if TSE_CONFIG_LOG

#include <stdarg.h>
#include <string.h>

typedef struct line {
    char buf[TSE_LOG_LINE_MAX];
    size_t len;
    int full;
} line;

static void put_char(line *l, char c)
{
    if (l->len + 1 < sizeof(l->buf)) {
        l->buf[l->len++] = c;
    } else {
        l->full = 1;
    }
}

static void put_str(line *l, const char *s)
{
    while (*s != '\0' && !l->full) {
        put_char(l, *s++);
    }
}

/* An unsigned number in base 10 or 16, at least @p width digits wide,
 * padded with '0' or ' '. */
static void put_num(line *l, unsigned long long v, unsigned base, int neg,
                    unsigned width, char pad)
{
    char digits[24];
    unsigned n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + (d - 10));
        v /= base;
    } while (v != 0 && n < sizeof(digits));
    if (neg && pad == '0') {
        put_char(l, '-');
    }
    for (unsigned w = n + (neg ? 1u : 0u); w < width; w++) {
        put_char(l, pad);
    }
    if (neg && pad != '0') {
        put_char(l, '-');
    }
    while (n > 0) {
        put_char(l, digits[--n]);
    }
}

void tse_log_write(const tse_logger *lg, tse_log_level level, const char *fmt, ...)
{
    line l;
    va_list ap;
    if (lg == NULL || lg->fn == NULL || fmt == NULL) {
        return;
    }
    l.len = 0;
    l.full = 0;
    va_start(ap, fmt);
    while (*fmt != '\0' && !l.full) {
        unsigned width = 0;
        int longs = 0;
        char pad = ' ';
        if (*fmt != '%') {
            put_char(&l, *fmt++);
            continue;
        }
        fmt++;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9' && width < 64) {
            width = width * 10 + (unsigned)(*fmt++ - '0');
        }
        while (*fmt == 'l' && longs < 2) {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            put_str(&l, s != NULL ? s : "(null)");
            break;
        }
        case 'c':
            put_char(&l, (char)va_arg(ap, int));
            break;
        case 'd': {
            long long v = longs == 2 ? va_arg(ap, long long)
                          : longs == 1 ? (long long)va_arg(ap, long)
                                       : (long long)va_arg(ap, int);
            unsigned long long m = v < 0 ? 0ull - (unsigned long long)v
                                         : (unsigned long long)v;
            put_num(&l, m, 10, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs == 2 ? va_arg(ap, unsigned long long)
                                   : longs == 1 ? (unsigned long long)va_arg(ap, unsigned long)
                                                : (unsigned long long)va_arg(ap, unsigned);
            put_num(&l, v, *fmt == 'x' ? 16u : 10u, 0, width, pad);
            break;
        }
        case '%':
            put_char(&l, '%');
            break;
        case '\0':
            fmt--; /* a lone '%' at the end */
            break;
        default:
            put_char(&l, '%');
            put_char(&l, *fmt);
            break;
        }
        fmt++;
    }
    va_end(ap);
    if (l.full || *fmt != '\0') {
        memcpy(l.buf + sizeof(l.buf) - 4, "...", 3);
        l.len = sizeof(l.buf) - 1;
    }
    l.buf[l.len] = '\0';
    lg->fn(lg->user, lg->t, level, l.buf);
}

#endif /* TSE_CONFIG_LOG */
