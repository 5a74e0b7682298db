/*
 * The log hook (tse_settings::log): a sink, a level filter and a small
 * formatter of its own (lib/ has no stdio).  Internal to libtse.
 *
 * TSE_LOG() evaluates its arguments only when the message passes the
 * level; TSE_LOG_DBG() compiles to nothing unless TSE_CONFIG_LOG_DEBUG,
 * and everything compiles to nothing without TSE_CONFIG_LOG (tse/config.h).
 */
#ifndef TSE_LOG_H
#define TSE_LOG_H

#include "tse/config.h"
#include "tse/tse.h"

/* Where one tunnel's (or one shared TLS configuration's) messages go. */
typedef struct tse_logger {
    tse_log_fn fn;          /* NULL: no log */
    void *user;
    const tse_tunnel *t;    /* passed to fn; NULL for a shared TLS conf */
    int level;              /* most verbose level passed */
} tse_logger;

/* The longest message; longer ones end in "..." */
#define TSE_LOG_LINE_MAX 256

#if defined(__GNUC__) || defined(__clang__)
#define TSE_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define TSE_PRINTF_LIKE(f, a)
#endif

#if TSE_CONFIG_LOG
/* Format and pass one message.  Conversions: %s (NULL: "(null)"), %c, %d,
 * %u, %x, with an optional l or ll, a width and a 0 flag (e.g. %02x);
 * %% is a percent sign.  Anything else is copied as it is. */
void tse_log_write(const tse_logger *lg, tse_log_level level, const char *fmt, ...)
    TSE_PRINTF_LIKE(3, 4);
#define TSE_LOG(lg, lvl, ...)                                                 \
    do {                                                                      \
        if ((lg)->fn != (tse_log_fn)0 && (int)(lvl) <= (lg)->level) {         \
            tse_log_write((lg), (lvl), __VA_ARGS__);                          \
        }                                                                     \
    } while (0)
#else
#define TSE_LOG(lg, lvl, ...) do { (void)(lg); } while (0)
#endif

#if TSE_CONFIG_LOG && TSE_CONFIG_LOG_DEBUG
#define TSE_LOG_DBG(lg, ...) TSE_LOG(lg, TSE_LOG_DEBUG, __VA_ARGS__)
#else
#define TSE_LOG_DBG(lg, ...) do { (void)(lg); } while (0)
#endif

#endif /* TSE_LOG_H */
