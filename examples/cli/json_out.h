/* tse-cli: one JSON object per line (--json).  Strings are escaped per
 * RFC 8259 7; invalid UTF-8 becomes U+FFFD so the output is always valid
 * JSON.  Pure functions, unit-tested in test/unit/test_cli_json.c. */
#ifndef TSE_CLI_JSON_OUT_H
#define TSE_CLI_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>

/* Write @p src as a JSON string literal (with the quotes) into @p dst of
 * @p cap bytes, always NUL-terminated (if cap > 0).  Returns the length
 * the full literal needs (excluding the NUL); if that is >= cap the output
 * was truncated, but never in the middle of an escape, and still ends with
 * the closing quote. NULL src writes null. */
size_t cli_json_escape(char *dst, size_t cap, const char *src);

#define CLI_JSON_MAX 2048

/* A line being built: {"k":v,...}.  Values that do not fit are dropped
 * whole and `overflow` is set (the object stays valid JSON). */
typedef struct cli_json {
    char buf[CLI_JSON_MAX];
    size_t len;
    int fields;
    int overflow;
} cli_json;

void cli_json_begin(cli_json *j);
void cli_json_str(cli_json *j, const char *key, const char *val);
void cli_json_int(cli_json *j, const char *key, long long val);
void cli_json_bool(cli_json *j, const char *key, int val);
void cli_json_num(cli_json *j, const char *key, double val, int decimals);
/* key:[v0,v1,...] of @p n unsigned counters. */
void cli_json_uint_array(cli_json *j, const char *key, const uint64_t *v, size_t n);
/* Close the object; returns the NUL-terminated line (no newline). */
const char *cli_json_end(cli_json *j);

#endif
