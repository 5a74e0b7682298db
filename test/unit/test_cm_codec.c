/* Control Message codec: vectors from test/vectors/cm.txt (byte-exact encode
 * and decode), one test per decoding error, round trips, and the edges the
 * vectors do not reach (saturation, every reserved TLV type, every header
 * byte value). */
#include "tse/cm.h"
#include "tse/error.h"
#include "tt.h"
#include "vectors.h"

#include <stdlib.h>

#define MAX_VECTORS 64
static tv_record vecs[MAX_VECTORS];
static int nvecs = -1;

static const struct {
    const char *name;
    int err;
} err_names[] = {
    {"ok", TSE_OK},
    {"TSE_ERR_CM_TRUNCATED", TSE_ERR_CM_TRUNCATED},
    {"TSE_ERR_CM_VERSION", TSE_ERR_CM_VERSION},
    {"TSE_ERR_CM_INDICATION", TSE_ERR_CM_INDICATION},
    {"TSE_ERR_CM_RESERVED", TSE_ERR_CM_RESERVED},
    {"TSE_ERR_CM_TYPE", TSE_ERR_CM_TYPE},
    {"TSE_ERR_CM_TLV_COUNT", TSE_ERR_CM_TLV_COUNT},
    {"TSE_ERR_CM_TLV_OVERRUN", TSE_ERR_CM_TLV_OVERRUN},
    {"TSE_ERR_CM_TLV_LENGTH", TSE_ERR_CM_TLV_LENGTH},
    {"TSE_ERR_CM_MASK_WITHOUT_ADDR", TSE_ERR_CM_MASK_WITHOUT_ADDR},
    {"TSE_ERR_CM_NO_RESPONSE_CODE", TSE_ERR_CM_NO_RESPONSE_CODE},
    {"TSE_ERR_CM_DUPLICATE_TLV", TSE_ERR_CM_DUPLICATE_TLV},
};
#define N_ERR_NAMES (sizeof(err_names) / sizeof(err_names[0]))

static int err_by_name(const char *s, int *err)
{
    size_t i;
    for (i = 0; i < N_ERR_NAMES; i++)
        if (strcmp(err_names[i].name, s) == 0) {
            *err = err_names[i].err;
            return 0;
        }
    return -1;
}

static void load(void)
{
    if (nvecs < 0)
        nvecs = tv_load(TSE_TEST_VECTORS_DIR "/cm.txt", vecs, MAX_VECTORS);
}

static const tv_record *find(const char *name)
{
    int i;
    load();
    for (i = 0; i < nvecs; i++)
        if (strcmp(vecs[i].name, name) == 0)
            return &vecs[i];
    return NULL;
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *v)
{
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    *v = strtoull(s, &end, 0);
    return (*end != '\0' || *v > max) ? -1 : 0;
}

static int parse_dotted(const char *s, uint8_t out[4])
{
    unsigned a, b, c, d;
    char tail;
    if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 ||
        a > 255 || b > 255 || c > 255 || d > 255)
        return -1;
    out[0] = (uint8_t)a; out[1] = (uint8_t)b; out[2] = (uint8_t)c; out[3] = (uint8_t)d;
    return 0;
}

/* The expected message of an "expect: ok" vector.  Returns 0 or -1. */
static int fields(const tv_record *r, tse_cm *m)
{
    unsigned long long v;
    const char *s;
    size_t l;
    memset(m, 0, sizeof(*m));
    if (parse_num(tv_get(r, "type"), 255, &v)) return -1;
    m->type = (uint8_t)v;
    s = tv_get(r, "tsid");
    if (s == NULL) return -1;
    {
        char buf[40];
        snprintf(buf, sizeof(buf), "0x%s", s);
        if (parse_num(buf, UINT64_MAX, &v)) return -1;
        m->tsid = v;
    }
    if (parse_num(tv_get(r, "seq"), UINT32_MAX, &v)) return -1;
    m->seq = (uint32_t)v;
    if ((s = tv_get(r, "response_code")) != NULL) {
        if (parse_num(s, 65535, &v)) return -1;
        m->response_code = (uint16_t)v;
        m->present |= TSE_CM_HAS_RESPONSE_CODE;
    }
    if ((s = tv_get(r, "keepalive")) != NULL) {
        if (parse_num(s, 65535, &v)) return -1;
        m->keepalive_s = (uint16_t)v;
        m->present |= TSE_CM_HAS_KEEPALIVE;
    }
    if ((s = tv_get(r, "ipv4_addr")) != NULL) {
        if (parse_dotted(s, m->ipv4_addr)) return -1;
        m->present |= TSE_CM_HAS_IPV4_ADDRESS;
    }
    if ((s = tv_get(r, "ipv4_mask")) != NULL) {
        if (parse_dotted(s, m->ipv4_mask)) return -1;
        m->present |= TSE_CM_HAS_IPV4_NETMASK;
    }
    if ((s = tv_get(r, "ipv6_addr")) != NULL) {
        if (tv_parse_hex(s, m->ipv6_addr, 16, &l) || l != 16) return -1;
        m->present |= TSE_CM_HAS_IPV6_ADDRESS;
    }
    if ((s = tv_get(r, "ipv6_mask")) != NULL) {
        if (tv_parse_hex(s, m->ipv6_mask, 16, &l) || l != 16) return -1;
        m->present |= TSE_CM_HAS_IPV6_NETMASK;
    }
    if ((s = tv_get(r, "padding")) != NULL) {
        if (parse_num(s, 65535, &v)) return -1;
        m->padding_len = (uint16_t)v;
        m->present |= TSE_CM_HAS_PADDING;
    }
    if ((s = tv_get(r, "unknown_tlvs")) != NULL) {
        if (parse_num(s, 65535, &v)) return -1;
        m->unknown_tlvs = (uint16_t)v;
    }
    if ((s = tv_get(r, "first_unknown_tlv")) != NULL) {
        if (parse_num(s, 255, &v)) return -1;
        m->first_unknown_tlv = (uint8_t)v;
    }
    return 0;
}

/* Field-by-field, so that padding bytes of the struct do not matter. */
static int cm_equal(const tse_cm *a, const tse_cm *b, int with_unknown)
{
    return a->type == b->type && a->tsid == b->tsid && a->seq == b->seq &&
           a->present == b->present && a->response_code == b->response_code &&
           a->keepalive_s == b->keepalive_s &&
           memcmp(a->ipv4_addr, b->ipv4_addr, 4) == 0 &&
           memcmp(a->ipv4_mask, b->ipv4_mask, 4) == 0 &&
           memcmp(a->ipv6_addr, b->ipv6_addr, 16) == 0 &&
           memcmp(a->ipv6_mask, b->ipv6_mask, 16) == 0 &&
           a->padding_len == b->padding_len &&
           (!with_unknown || (a->unknown_tlvs == b->unknown_tlvs &&
                              a->first_unknown_tlv == b->first_unknown_tlv));
}

/* Check one vector completely: decode result, decoded fields, byte-exact
 * encoding (canonical vectors), round trip, and BUFFER_TOO_SMALL for every
 * too-small output buffer. */
static void check_vector(const char *name)
{
    const tv_record *r = find(name);
    const char *exp_s;
    int exp, rc;
    tse_cm got, want, again;
    uint8_t out[TSE_CM_MAX_ENCODED];
    size_t n, cap;

    if (r == NULL)
        fprintf(stderr, "vector %s not found\n", name);
    TT_ASSERT(r != NULL);
    exp_s = tv_get(r, "expect");
    TT_ASSERT(exp_s != NULL);
    TT_EQ_INT(err_by_name(exp_s, &exp), 0);
    rc = tse_cm_decode(&got, r->hex, r->hex_len);
    if (rc != exp)
        fprintf(stderr, "vector %s (line %d): decode %s, expected %s\n", name,
                r->line, tse_strerror(rc), tse_strerror(exp));
    TT_EQ_INT(rc, exp);
    if (exp != TSE_OK)
        return;
    TT_EQ_INT(fields(r, &want), 0);
    TT_ASSERT(cm_equal(&got, &want, 1));

    /* decode(encode(decode(hex))) == decode(hex), skipped TLVs aside */
    TT_EQ_INT(tse_cm_encode(&got, out, sizeof(out), &n), TSE_OK);
    TT_EQ_INT(tse_cm_decode(&again, out, n), TSE_OK);
    TT_ASSERT(cm_equal(&again, &got, 0));
    TT_EQ_INT(again.unknown_tlvs, 0);

    if (tv_get(r, "encode") != NULL && strcmp(tv_get(r, "encode"), "no") == 0)
        return;
    /* canonical: encode(fields) == hex, byte for byte */
    TT_EQ_INT(tse_cm_encode(&want, out, sizeof(out), &n), TSE_OK);
    TT_EQ_INT(n, r->hex_len);
    TT_EQ_MEM(out, r->hex, n);
    for (cap = 0; cap < r->hex_len; cap++) {
        size_t w = 99;
        TT_EQ_INT(tse_cm_encode(&want, out, cap, &w), TSE_ERR_BUFFER_TOO_SMALL);
        TT_EQ_INT(w, 0);
    }
}

TT_TEST(vectors_load)
{
    load();
    TT_ASSERT(nvecs >= 30);
}

/* Every vector of the file is checked, whatever its name. */
TT_TEST(all_vectors)
{
    int i;
    load();
    TT_ASSERT(nvecs > 0);
    for (i = 0; i < nvecs; i++) {
        int before = tt_failed_checks;
        check_vector(vecs[i].name);
        if (tt_failed_checks != before) {
            fprintf(stderr, "  in vector %s\n", vecs[i].name);
            return;
        }
    }
}

/* Every CM decoding error has a vector. */
TT_TEST(every_error_has_a_vector)
{
    size_t e;
    int i;
    load();
    for (e = 1; e < N_ERR_NAMES; e++) {
        int found = 0;
        for (i = 0; i < nvecs; i++) {
            const char *x = tv_get(&vecs[i], "expect");
            if (x != NULL && strcmp(x, err_names[e].name) == 0)
                found = 1;
        }
        if (!found)
            fprintf(stderr, "no vector for %s\n", err_names[e].name);
        TT_ASSERT(found);
    }
}

/* One test per message type... */
TT_TEST(v_config_request_first) { check_vector("config_request_first"); }
TT_TEST(v_config_request_dual) { check_vector("config_request_dual_stack_keepalive"); }
TT_TEST(v_config_response_success) { check_vector("config_response_success"); }
TT_TEST(v_config_response_ipv6) { check_vector("config_response_ipv6"); }
TT_TEST(v_config_response_reject) { check_vector("config_response_reject"); }
TT_TEST(v_release_request) { check_vector("release_request"); }
TT_TEST(v_release_response) { check_vector("release_response"); }
TT_TEST(v_keepalive) { check_vector("keepalive"); }
TT_TEST(v_keepalive_response) { check_vector("keepalive_response"); }
TT_TEST(v_keepalive_response_with_code) { check_vector("keepalive_response_with_code"); }
TT_TEST(v_padding) { check_vector("config_request_padded"); }
TT_TEST(v_padding_empty) { check_vector("padding_empty"); }
TT_TEST(v_padding_repeated) { check_vector("padding_anywhere_repeated"); }
TT_TEST(v_unknown_tlvs) { check_vector("unknown_tlvs_skipped"); }
TT_TEST(v_tlv_order) { check_vector("tlv_order_reversed"); }

/* ...and one per decoding error. */
TT_TEST(e_truncated) { check_vector("err_truncated"); }
TT_TEST(e_version) { check_vector("err_version"); }
TT_TEST(e_indication) { check_vector("err_indication"); }
TT_TEST(e_reserved) { check_vector("err_reserved"); }
TT_TEST(e_type) { check_vector("err_type"); }
TT_TEST(e_tlv_count_extra) { check_vector("err_tlv_count_extra_bytes"); }
TT_TEST(e_tlv_count_missing) { check_vector("err_tlv_count_missing"); }
TT_TEST(e_tlv_overrun_header) { check_vector("err_tlv_overrun_header"); }
TT_TEST(e_tlv_overrun_value) { check_vector("err_tlv_overrun_value"); }
TT_TEST(e_tlv_length)
{
    check_vector("err_tlv_length_ipv4");
    check_vector("err_tlv_length_ipv4_mask");
    check_vector("err_tlv_length_ipv6");
    check_vector("err_tlv_length_keepalive");
    check_vector("err_tlv_length_response_code");
}
TT_TEST(e_mask_without_addr)
{
    check_vector("err_mask_without_addr");
    check_vector("err_mask6_without_addr");
}
TT_TEST(e_no_response_code)
{
    check_vector("err_no_response_code");
    check_vector("err_release_response_no_code");
}
TT_TEST(e_duplicate_tlv) { check_vector("err_duplicate_tlv"); }

/* Every prefix of every valid vector fails with the error its cut implies. */
TT_TEST(every_truncation)
{
    int i;
    load();
    for (i = 0; i < nvecs; i++) {
        const tv_record *r = &vecs[i];
        const char *x = tv_get(r, "expect");
        size_t cut, boundary = TSE_CM_HEADER_LEN;
        tse_cm m;
        if (x == NULL || strcmp(x, "ok") != 0)
            continue;
        for (cut = 0; cut < r->hex_len; cut++) {
            int exp, rc;
            while (boundary < cut)
                boundary += 2u + r->hex[boundary + 1];
            if (cut < TSE_CM_HEADER_LEN)
                exp = TSE_ERR_CM_TRUNCATED;
            else if (cut == boundary)
                exp = TSE_ERR_CM_TLV_COUNT;
            else
                exp = TSE_ERR_CM_TLV_OVERRUN;
            rc = tse_cm_decode(&m, r->hex, cut);
            if (rc != exp)
                fprintf(stderr, "%s cut at %zu\n", r->name, cut);
            TT_EQ_INT(rc, exp);
        }
    }
}

static void header(uint8_t *b, uint8_t byte0, uint8_t type, uint16_t count)
{
    memset(b, 0, TSE_CM_HEADER_LEN);
    b[0] = byte0;
    b[1] = type;
    b[2] = (uint8_t)(count >> 8);
    b[3] = (uint8_t)count;
}

/* All 256 values of byte 0: each header field is checked in order. */
TT_TEST(header_byte0_exhaustive)
{
    unsigned v;
    for (v = 0; v < 256; v++) {
        uint8_t b[16];
        tse_cm m;
        int exp;
        header(b, (uint8_t)v, TSE_CM_KEEPALIVE, 0);
        if ((v >> 4) != 1)
            exp = TSE_ERR_CM_VERSION;
        else if ((v >> 2) & 3)
            exp = TSE_ERR_CM_INDICATION;
        else if (v & 3)
            exp = TSE_ERR_CM_RESERVED;
        else
            exp = TSE_OK;
        TT_EQ_INT(tse_cm_decode(&m, b, 16), exp);
    }
}

/* All 256 CM_Type values; types 2 and 6 need their Response_Code. */
TT_TEST(cm_type_exhaustive)
{
    unsigned t;
    for (t = 0; t < 256; t++) {
        uint8_t b[16];
        tse_cm m;
        int known = t == 1 || t == 2 || t == 5 || t == 6 || t == 7 || t == 8;
        int exp = !known ? TSE_ERR_CM_TYPE
                  : (t == 2 || t == 6) ? TSE_ERR_CM_NO_RESPONSE_CODE : TSE_OK;
        header(b, 0x10, (uint8_t)t, 0);
        TT_EQ_INT(tse_cm_decode(&m, b, 16), exp);
        TT_EQ_INT(tse_cm_is_response((uint8_t)t), t == 2 || t == 6 || t == 8);
        if (known) {
            TT_ASSERT(strcmp(tse_cm_type_name((uint8_t)t), "unknown") != 0);
        } else {
            TT_ASSERT(strcmp(tse_cm_type_name((uint8_t)t), "unknown") == 0);
        }
    }
    TT_ASSERT(strcmp(tse_cm_type_name(1), "Configuration_Request") == 0);
    TT_ASSERT(strcmp(tse_cm_type_name(6), "Configuration_Release_Response") == 0);
    TT_ASSERT(strcmp(tse_cm_type_name(8), "Keep_Alive_Response") == 0);
}

/* Every TLV type that is not assigned is skipped, whatever its length. */
TT_TEST(every_reserved_tlv_skipped)
{
    unsigned t;
    for (t = 0; t < 256; t++) {
        uint8_t b[16 + 2 + 7];
        tse_cm m;
        int assigned = t == 3 || t == 4 || t == 5 || t == 6 || t == 8 ||
                       t == 18 || t == 19;
        if (assigned)
            continue;
        header(b, 0x10, TSE_CM_KEEPALIVE, 1);
        b[16] = (uint8_t)t;
        b[17] = 7;
        memset(b + 18, 0xee, 7);
        TT_EQ_INT(tse_cm_decode(&m, b, sizeof(b)), TSE_OK);
        TT_EQ_INT(m.unknown_tlvs, 1);
        TT_EQ_INT(m.first_unknown_tlv, t);
        TT_EQ_INT(m.present, 0);
    }
}

/* Each fixed-size TLV with every wrong length 0..20 is TLV_LENGTH. */
TT_TEST(tlv_length_every_known_type)
{
    static const uint8_t types[] = {3, 4, 5, 6, 18, 19};
    static const size_t sizes[] = {2, 4, 4, 2, 16, 16};
    size_t i, l;
    for (i = 0; i < sizeof(types); i++) {
        for (l = 0; l <= 20; l++) {
            uint8_t b[16 + 2 + 20];
            tse_cm m;
            int rc;
            header(b, 0x10, TSE_CM_CONFIG_REQUEST, 1);
            b[16] = types[i];
            b[17] = (uint8_t)l;
            memset(b + 18, 0, l);
            rc = tse_cm_decode(&m, b, 18 + l);
            if (l != sizes[i]) {
                TT_EQ_INT(rc, TSE_ERR_CM_TLV_LENGTH);
            } else if (types[i] == 5 || types[i] == 19) {
                TT_EQ_INT(rc, TSE_ERR_CM_MASK_WITHOUT_ADDR);
            } else {
                TT_EQ_INT(rc, TSE_OK);
            }
        }
    }
}

/* Each known TLV twice is DUPLICATE_TLV; Padding twice is fine. */
TT_TEST(duplicate_every_known_type)
{
    static const uint8_t types[] = {3, 4, 5, 6, 18, 19};
    static const uint8_t sizes[] = {2, 4, 4, 2, 16, 16};
    size_t i;
    for (i = 0; i < sizeof(types); i++) {
        uint8_t b[16 + 2 * 18];
        size_t n = 16;
        tse_cm m;
        header(b, 0x10, TSE_CM_CONFIG_REQUEST, 2);
        b[n++] = types[i]; b[n++] = sizes[i]; memset(b + n, 1, sizes[i]); n += sizes[i];
        b[n++] = types[i]; b[n++] = sizes[i]; memset(b + n, 2, sizes[i]); n += sizes[i];
        TT_EQ_INT(tse_cm_decode(&m, b, n), TSE_ERR_CM_DUPLICATE_TLV);
    }
}

/* When several defects are present, the first in wire order wins. */
TT_TEST(error_precedence)
{
    uint8_t b[32];
    tse_cm m;
    header(b, 0x2f, 99, 0); /* bad version, indication, reserved, type */
    TT_EQ_INT(tse_cm_decode(&m, b, 16), TSE_ERR_CM_VERSION);
    header(b, 0x1f, 99, 0);
    TT_EQ_INT(tse_cm_decode(&m, b, 16), TSE_ERR_CM_INDICATION);
    header(b, 0x13, 99, 0);
    TT_EQ_INT(tse_cm_decode(&m, b, 16), TSE_ERR_CM_RESERVED);
    /* bad length on the first TLV beats the overrun of the second */
    header(b, 0x10, 2, 2);
    b[16] = 4; b[17] = 1; b[18] = 0;
    b[19] = 4; b[20] = 200;
    TT_EQ_INT(tse_cm_decode(&m, b, 21), TSE_ERR_CM_TLV_LENGTH);
    /* TLV walk errors beat the message-level checks */
    header(b, 0x10, 2, 1); /* response, no code, mask only, extra byte */
    b[16] = 5; b[17] = 4; memset(b + 18, 0xff, 4); b[22] = 0;
    TT_EQ_INT(tse_cm_decode(&m, b, 23), TSE_ERR_CM_TLV_COUNT);
    TT_EQ_INT(tse_cm_decode(&m, b, 22), TSE_ERR_CM_MASK_WITHOUT_ADDR);
    /* 16 bytes is enough to see the header defects; 15 is TRUNCATED first */
    header(b, 0x20, 1, 0);
    TT_EQ_INT(tse_cm_decode(&m, b, 15), TSE_ERR_CM_TRUNCATED);
    TT_EQ_INT(tse_cm_decode(&m, b, 0), TSE_ERR_CM_TRUNCATED);
}

TT_TEST(padding_sums_and_saturates)
{
    static uint8_t b[16 + 300 * 257];
    size_t n = 16, i;
    tse_cm m;
    header(b, 0x10, TSE_CM_KEEPALIVE, 300);
    for (i = 0; i < 300; i++) {
        b[n++] = 8;
        b[n++] = 255;
        memset(b + n, 0, 255);
        n += 255;
    }
    TT_EQ_INT(tse_cm_decode(&m, b, n), TSE_OK);
    TT_EQ_INT(m.present, TSE_CM_HAS_PADDING);
    TT_EQ_INT(m.padding_len, 65535); /* 76500 saturated */
    /* 257 * 255 = 65535 exactly */
    header(b, 0x10, TSE_CM_KEEPALIVE, 257);
    TT_EQ_INT(tse_cm_decode(&m, b, 16 + 257 * 257), TSE_OK);
    TT_EQ_INT(m.padding_len, 65535);
    header(b, 0x10, TSE_CM_KEEPALIVE, 2);
    TT_EQ_INT(tse_cm_decode(&m, b, 16 + 2 * 257), TSE_OK);
    TT_EQ_INT(m.padding_len, 510);
}

/* The largest message the encoder produces fits TSE_CM_MAX_ENCODED. */
TT_TEST(encode_max)
{
    tse_cm m, d;
    uint8_t out[TSE_CM_MAX_ENCODED];
    size_t n;
    memset(&m, 0, sizeof(m));
    m.type = TSE_CM_CONFIG_RESPONSE;
    m.tsid = UINT64_C(0x8000000000000001);
    m.seq = 0x80000001u;
    m.present = TSE_CM_HAS_RESPONSE_CODE | TSE_CM_HAS_IPV4_ADDRESS |
                TSE_CM_HAS_IPV4_NETMASK | TSE_CM_HAS_KEEPALIVE |
                TSE_CM_HAS_PADDING | TSE_CM_HAS_IPV6_ADDRESS |
                TSE_CM_HAS_IPV6_NETMASK;
    m.response_code = 0xfffe;
    m.keepalive_s = 0xffff;
    memset(m.ipv4_addr, 0xa4, 4);
    memset(m.ipv4_mask, 0xb4, 4);
    memset(m.ipv6_addr, 0xa6, 16);
    memset(m.ipv6_mask, 0xb6, 16);
    m.padding_len = 255;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_OK);
    TT_EQ_INT(n, TSE_CM_MAX_ENCODED);
    TT_EQ_INT(out[3], 7);
    TT_EQ_INT(tse_cm_decode(&d, out, n), TSE_OK);
    TT_ASSERT(cm_equal(&d, &m, 1));
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out) - 1, &n), TSE_ERR_BUFFER_TOO_SMALL);
}

TT_TEST(encode_rejects)
{
    tse_cm m;
    uint8_t out[TSE_CM_MAX_ENCODED];
    size_t n = 5;
    memset(&m, 0, sizeof(m));
    m.type = TSE_CM_CONFIG_REQUEST;
    TT_EQ_INT(tse_cm_encode(NULL, out, sizeof(out), &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(n, 0);
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_cm_encode(&m, NULL, 10, &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_cm_encode(&m, NULL, 0, &n), TSE_ERR_BUFFER_TOO_SMALL);
    m.type = 3;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_ERR_INVALID_ARG);
    m.type = TSE_CM_CONFIG_REQUEST;
    m.present = TSE_CM_HAS_IPV4_NETMASK;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_ERR_INVALID_ARG);
    m.present = TSE_CM_HAS_IPV6_NETMASK | TSE_CM_HAS_IPV4_ADDRESS;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_ERR_INVALID_ARG);
    m.present = TSE_CM_HAS_PADDING;
    m.padding_len = 256;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_ERR_INVALID_ARG);
    m.padding_len = 255;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_OK);
    TT_EQ_INT(n, 16 + 2 + 255);
    /* padding_len without the presence bit is ignored */
    m.present = 0;
    m.padding_len = 1000;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_OK);
    TT_EQ_INT(n, 16);
    m.padding_len = 0;
    m.type = TSE_CM_CONFIG_RESPONSE;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_ERR_INVALID_ARG);
    m.type = TSE_CM_RELEASE_RESPONSE;
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_ERR_INVALID_ARG);
    m.type = TSE_CM_KEEPALIVE_RESPONSE; /* Response_Code optional (A.1.8-2) */
    TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_OK);
    TT_EQ_INT(n, 16);
}

TT_TEST(decode_args)
{
    uint8_t b[16];
    tse_cm m;
    header(b, 0x10, TSE_CM_KEEPALIVE, 0);
    TT_EQ_INT(tse_cm_decode(NULL, b, 16), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_cm_decode(&m, NULL, 16), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_cm_decode(&m, NULL, 0), TSE_ERR_CM_TRUNCATED);
    /* fields not present are zeroed, whatever was in the struct */
    memset(&m, 0x5a, sizeof(m));
    TT_EQ_INT(tse_cm_decode(&m, b, 16), TSE_OK);
    TT_EQ_INT(m.present, 0);
    TT_EQ_INT(m.response_code, 0);
    TT_EQ_INT(m.padding_len, 0);
    TT_EQ_INT(m.unknown_tlvs, 0);
    TT_EQ_INT(m.ipv6_mask[15], 0);
}

/* Deterministic random messages: encode, decode, compare. */
TT_TEST(random_round_trips)
{
    uint32_t s = 0x12345678u;
    int i;
    for (i = 0; i < 20000; i++) {
        tse_cm m, d;
        uint8_t out[TSE_CM_MAX_ENCODED];
        size_t n, k;
        static const uint8_t types[] = {1, 2, 5, 6, 7, 8};
        uint8_t raw[64];
        for (k = 0; k < sizeof(raw); k++) {
            s = s * 1103515245u + 12345u;
            raw[k] = (uint8_t)(s >> 16);
        }
        memset(&m, 0, sizeof(m));
        m.type = types[raw[0] % 6];
        m.present = raw[1] & 0x7f;
        if (m.present & TSE_CM_HAS_IPV4_NETMASK) m.present |= TSE_CM_HAS_IPV4_ADDRESS;
        if (m.present & TSE_CM_HAS_IPV6_NETMASK) m.present |= TSE_CM_HAS_IPV6_ADDRESS;
        if (m.type == 2 || m.type == 6) m.present |= TSE_CM_HAS_RESPONSE_CODE;
        memcpy(&m.seq, raw + 2, 4);
        memcpy(&m.tsid, raw + 6, 8);
        if (m.present & TSE_CM_HAS_RESPONSE_CODE) m.response_code = (uint16_t)(raw[14] << 8 | raw[15]);
        if (m.present & TSE_CM_HAS_KEEPALIVE) m.keepalive_s = (uint16_t)(raw[16] << 8 | raw[17]);
        if (m.present & TSE_CM_HAS_IPV4_ADDRESS) memcpy(m.ipv4_addr, raw + 18, 4);
        if (m.present & TSE_CM_HAS_IPV4_NETMASK) memcpy(m.ipv4_mask, raw + 22, 4);
        if (m.present & TSE_CM_HAS_IPV6_ADDRESS) memcpy(m.ipv6_addr, raw + 26, 16);
        if (m.present & TSE_CM_HAS_IPV6_NETMASK) memcpy(m.ipv6_mask, raw + 42, 16);
        if (m.present & TSE_CM_HAS_PADDING) m.padding_len = raw[58];
        TT_EQ_INT(tse_cm_encode(&m, out, sizeof(out), &n), TSE_OK);
        TT_EQ_INT(tse_cm_decode(&d, out, n), TSE_OK);
        TT_ASSERT(cm_equal(&d, &m, 1));
    }
}

int main(void)
{
    TT_RUN(vectors_load);
    TT_RUN(all_vectors);
    TT_RUN(every_error_has_a_vector);
    TT_RUN(v_config_request_first);
    TT_RUN(v_config_request_dual);
    TT_RUN(v_config_response_success);
    TT_RUN(v_config_response_ipv6);
    TT_RUN(v_config_response_reject);
    TT_RUN(v_release_request);
    TT_RUN(v_release_response);
    TT_RUN(v_keepalive);
    TT_RUN(v_keepalive_response);
    TT_RUN(v_keepalive_response_with_code);
    TT_RUN(v_padding);
    TT_RUN(v_padding_empty);
    TT_RUN(v_padding_repeated);
    TT_RUN(v_unknown_tlvs);
    TT_RUN(v_tlv_order);
    TT_RUN(e_truncated);
    TT_RUN(e_version);
    TT_RUN(e_indication);
    TT_RUN(e_reserved);
    TT_RUN(e_type);
    TT_RUN(e_tlv_count_extra);
    TT_RUN(e_tlv_count_missing);
    TT_RUN(e_tlv_overrun_header);
    TT_RUN(e_tlv_overrun_value);
    TT_RUN(e_tlv_length);
    TT_RUN(e_mask_without_addr);
    TT_RUN(e_no_response_code);
    TT_RUN(e_duplicate_tlv);
    TT_RUN(every_truncation);
    TT_RUN(header_byte0_exhaustive);
    TT_RUN(cm_type_exhaustive);
    TT_RUN(every_reserved_tlv_skipped);
    TT_RUN(tlv_length_every_known_type);
    TT_RUN(duplicate_every_known_type);
    TT_RUN(error_precedence);
    TT_RUN(padding_sums_and_saturates);
    TT_RUN(encode_max);
    TT_RUN(encode_rejects);
    TT_RUN(decode_args);
    TT_RUN(random_round_trips);
    return TT_DONE();
}
