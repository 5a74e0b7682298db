/* vectors.h - load the line-based test vector files of test/vectors/.
 *
 * File format: '#' comments to end of line; "name: X" starts a record;
 * "hex: .." lines are concatenated into the record's bytes; any other
 * "key: value" line is kept as a string for tv_get().
 */
#ifndef TSE_TEST_VECTORS_H
#define TSE_TEST_VECTORS_H
#include <stddef.h>
#include <stdint.h>

#define TV_MAX_HEX 1024
#define TV_MAX_KV 24

typedef struct tv_kv {
    char key[32];
    char val[160];
} tv_kv;

typedef struct tv_record {
    char name[80];
    int line;               /* line of its "name:" */
    uint8_t hex[TV_MAX_HEX];
    size_t hex_len;
    int nkv;
    tv_kv kv[TV_MAX_KV];
} tv_record;

/* Load up to @p max records.  Returns the count, or -1 (reason on stderr)
 * if the file cannot be read or a line is malformed. */
int tv_load(const char *path, tv_record *recs, int max);

/* The value of @p key in @p r, or NULL. */
const char *tv_get(const tv_record *r, const char *key);

/* Parse hex digit pairs, whitespace anywhere.  Returns 0, or -1 on a bad
 * digit, an odd count or more than @p cap bytes. */
int tv_parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len);

#endif
