/* Test vector file loader (see vectors.h). */
#include "vectors.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static char *trim(char *s)
{
    char *e;
    while (*s && isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int tv_parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    int hi = -1;
    size_t n = 0;
    for (; *s; s++) {
        int v;
        if (isspace((unsigned char)*s))
            continue;
        v = hexval((unsigned char)*s);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0)
        return -1;
    *len = n;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t l = strlen(src);
    if (l >= cap)
        return -1;
    memcpy(dst, src, l + 1);
    return 0;
}

int tv_load(const char *path, tv_record *recs, int max)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0, lineno = 0;
    tv_record *cur = NULL;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *hash, *colon, *key, *val;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f))
            goto bad;
        hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        key = trim(line);
        if (*key == '\0')
            continue;
        colon = strchr(key, ':');
        if (colon == NULL)
            goto bad;
        *colon = '\0';
        key = trim(key);
        val = trim(colon + 1);
        if (strcmp(key, "name") == 0) {
            if (n >= max)
                goto bad;
            cur = &recs[n++];
            memset(cur, 0, sizeof(*cur));
            cur->line = lineno;
            if (copy_str(cur->name, sizeof(cur->name), val) != 0)
                goto bad;
        } else if (cur == NULL) {
            goto bad;
        } else if (strcmp(key, "hex") == 0) {
            size_t l;
            if (tv_parse_hex(val, cur->hex + cur->hex_len,
                             TV_MAX_HEX - cur->hex_len, &l) != 0)
                goto bad;
            cur->hex_len += l;
        } else {
            if (cur->nkv >= TV_MAX_KV ||
                copy_str(cur->kv[cur->nkv].key, sizeof(cur->kv[0].key), key) != 0 ||
                copy_str(cur->kv[cur->nkv].val, sizeof(cur->kv[0].val), val) != 0)
                goto bad;
            cur->nkv++;
        }
    }
    fclose(f);
    return n;
bad:
    fprintf(stderr, "%s:%d: malformed vector line\n", path, lineno);
    fclose(f);
    return -1;
}

const char *tv_get(const tv_record *r, const char *key)
{
    int i;
    for (i = 0; i < r->nkv; i++)
        if (strcmp(r->kv[i].key, key) == 0)
            return r->kv[i].val;
    return NULL;
}
