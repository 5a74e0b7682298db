/* TURN client (lib/turn.c) and the STUN codec it uses (lib/stun.c):
 * RFC 5769 integrity and fingerprint vectors, then a scripted server. */
#include <stdint.h>
#include <string.h>

#include "stun.h"
#include "tse/turn.h"
#include "tt.h"

/* ---------------------------------------------------------------------- */
/* RFC 5769 vectors                                                       */

/* 2.1: sample request, short-term password "VOkJxbRl1RmTxUk/WvJxBt" */
static const uint8_t RFC5769_REQ[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* 2.2: sample IPv4 response, same password */
static const uint8_t RFC5769_V4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* 2.4: sample request with long-term authentication: username
 * "<U+30DE><U+30C8><U+30EA><U+30C3><U+30AF><U+30B9>", realm "example.org",
 * nonce "f//499k954d6OL34oL9FSTvy64sA", password "TheMatrIX" (SASLprep'd) */
static const uint8_t RFC5769_LT[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33,
    0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12,
    0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
    0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
    0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
    0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
    0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66};

static const char SHORT_PW[] = "VOkJxbRl1RmTxUk/WvJxBt";

TT_TEST(rfc5769_short_term_integrity)
{
    tse_stun_msg m;
    uint8_t copy[sizeof RFC5769_REQ];
    TT_EQ_INT(tse_stun_parse(RFC5769_REQ, sizeof RFC5769_REQ, &m), TSE_OK);
    TT_EQ_INT(m.method, TSE_STUN_METHOD_BINDING);
    TT_EQ_INT(m.cls, TSE_STUN_CLASS_REQUEST);
    TT_ASSERT(m.present & TSE_STUN_HAS_FINGERPRINT);
    TT_ASSERT(m.present & TSE_STUN_HAS_USERNAME);
    TT_EQ_INT(m.username_len, 9);
    TT_EQ_MEM(m.username, "evtj:h6vY", 9);
    TT_EQ_INT(m.unknown_required, 0x0024); /* PRIORITY: ICE, not ours */
    TT_EQ_INT(tse_stun_check_integrity(&m, (const uint8_t *)SHORT_PW, strlen(SHORT_PW)),
              TSE_OK);
    TT_EQ_INT(tse_stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBT", 22),
              TSE_ERR_TURN_INTEGRITY);
    /* one flipped bit in a covered byte: integrity and fingerprint fail */
    memcpy(copy, RFC5769_REQ, sizeof copy);
    copy[30] ^= 1;
    TT_EQ_INT(tse_stun_parse(copy, sizeof copy, &m), TSE_ERR_STUN_FINGERPRINT);
    TT_EQ_INT(tse_stun_parse(RFC5769_V4, sizeof RFC5769_V4, &m), TSE_OK);
    TT_EQ_INT(m.cls, TSE_STUN_CLASS_SUCCESS);
    TT_ASSERT(m.present & TSE_STUN_HAS_XOR_MAPPED);
    TT_EQ_INT(m.xor_mapped.port, 32853);
    TT_EQ_INT(tse_stun_check_integrity(&m, (const uint8_t *)SHORT_PW, strlen(SHORT_PW)),
              TSE_OK);
}

TT_TEST(rfc5769_long_term_integrity)
{
    static const uint8_t user[] = {0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa,
                                   0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9};
    uint8_t key[16];
    tse_stun_msg m;
    TT_EQ_INT(tse_stun_parse(RFC5769_LT, sizeof RFC5769_LT, &m), TSE_OK);
    TT_ASSERT(m.present & TSE_STUN_HAS_NONCE);
    TT_ASSERT(m.present & TSE_STUN_HAS_REALM);
    TT_EQ_INT(m.realm_len, 11);
    TT_EQ_INT(m.nonce_len, 28);
    TT_EQ_INT(tse_stun_long_term_key(user, sizeof user, (const uint8_t *)"example.org", 11,
                                     (const uint8_t *)"TheMatrIX", 9, key), TSE_OK);
    TT_EQ_INT(tse_stun_check_integrity(&m, key, sizeof key), TSE_OK);
    key[0] ^= 1;
    TT_EQ_INT(tse_stun_check_integrity(&m, key, sizeof key), TSE_ERR_TURN_INTEGRITY);
}

TT_TEST(writer_reproduces_rfc5769_request)
{
    /* Rebuild 2.1 with the writer: the same bytes, MI and FP included. */
    static const uint8_t txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
                                     0xfa, 0x87, 0xdf, 0xae};
    static const uint8_t prio[4] = {0x6e, 0x00, 0x01, 0xff};
    static const uint8_t ice[8] = {0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36};
    uint8_t b[256];
    size_t n;
    tse_stun_writer w;
    tse_stun_writer_init(&w, b, sizeof b, 0x0001, txid);
    tse_stun_put_attr(&w, 0x8022, "STUN test client", 16);
    tse_stun_put_attr(&w, 0x0024, prio, 4);
    tse_stun_put_attr(&w, 0x8029, ice, 8);
    tse_stun_put_attr(&w, TSE_STUN_ATTR_USERNAME, "evtj:h6vY", 9);
    TT_EQ_INT(w.len, 76);
    memset(b + 73, ' ', 3); /* the RFC's sample pads with spaces */
    tse_stun_put_integrity(&w, (const uint8_t *)SHORT_PW, strlen(SHORT_PW));
    tse_stun_put_fingerprint(&w);
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_OK);
    TT_EQ_INT(n, sizeof RFC5769_REQ);
    TT_EQ_MEM(b, RFC5769_REQ, n);
    /* a buffer one byte short fails, and so does everything after */
    tse_stun_writer_init(&w, b, sizeof RFC5769_REQ - 1, 0x0001, txid);
    tse_stun_put_attr(&w, 0x8022, "STUN test client", 16);
    tse_stun_put_attr(&w, 0x0024, prio, 4);
    tse_stun_put_attr(&w, 0x8029, ice, 8);
    tse_stun_put_attr(&w, TSE_STUN_ATTR_USERNAME, "evtj:h6vY", 9);
    tse_stun_put_integrity(&w, (const uint8_t *)SHORT_PW, strlen(SHORT_PW));
    tse_stun_put_fingerprint(&w);
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(n, 0);
}

TT_TEST(sha256_integrity_round_trip)
{
    static const uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint8_t b[128];
    size_t n;
    tse_stun_writer w;
    tse_stun_msg m;
    tse_stun_writer_init(&w, b, sizeof b, 0x0003, txid);
    tse_stun_put_u32(&w, TSE_STUN_ATTR_LIFETIME, 600);
    tse_stun_put_integrity_sha256(&w, (const uint8_t *)"k", 1);
    tse_stun_put_fingerprint(&w);
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_OK);
    TT_EQ_INT(tse_stun_parse(b, n, &m), TSE_OK);
    TT_ASSERT(m.present & TSE_STUN_HAS_INTEGRITY_SHA256);
    TT_EQ_INT(m.integrity256_len, 32);
    TT_EQ_INT(m.lifetime, 600);
    TT_EQ_INT(tse_stun_check_integrity(&m, (const uint8_t *)"k", 1), TSE_OK);
    TT_EQ_INT(tse_stun_check_integrity(&m, (const uint8_t *)"K", 1), TSE_ERR_TURN_INTEGRITY);
}

TT_TEST(type_encoding)
{
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_BINDING, TSE_STUN_CLASS_REQUEST), 0x0001);
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_BINDING, TSE_STUN_CLASS_SUCCESS), 0x0101);
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_BINDING, TSE_STUN_CLASS_ERROR), 0x0111);
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_SEND, TSE_STUN_CLASS_INDICATION), 0x0016);
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_DATA, TSE_STUN_CLASS_INDICATION), 0x0017);
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_ALLOCATE, TSE_STUN_CLASS_SUCCESS), 0x0103);
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_CHANNEL_BIND, TSE_STUN_CLASS_ERROR), 0x0119);
    TT_EQ_INT(tse_stun_type(TSE_STUN_METHOD_CONNECTION_ATTEMPT, TSE_STUN_CLASS_INDICATION),
              0x001c);
    TT_EQ_INT(tse_stun_method(0x0119), TSE_STUN_METHOD_CHANNEL_BIND);
    TT_EQ_INT(tse_stun_class(0x0119), TSE_STUN_CLASS_ERROR);
    TT_EQ_INT(tse_stun_method(0x3EEF), 0xFFF);
    TT_EQ_INT(tse_stun_type(0xFFF, 3), 0x3FFF);
}

TT_TEST(parse_strictness)
{
    static const uint8_t txid[12] = {0};
    uint8_t b[128];
    size_t n;
    tse_stun_writer w;
    tse_stun_msg m;
    static const uint8_t three[3] = {1, 2, 3};
    /* LIFETIME of 3 bytes */
    tse_stun_writer_init(&w, b, sizeof b, 0x0103, txid);
    tse_stun_put_attr(&w, TSE_STUN_ATTR_LIFETIME, three, 3);
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_OK);
    TT_EQ_INT(tse_stun_parse(b, n, &m), TSE_ERR_STUN_ATTR);
    /* XOR-RELAYED-ADDRESS with family 3 */
    tse_stun_writer_init(&w, b, sizeof b, 0x0103, txid);
    {
        uint8_t v[8] = {0, 3, 0, 0, 0, 0, 0, 0};
        tse_stun_put_attr(&w, TSE_STUN_ATTR_XOR_RELAYED_ADDRESS, v, 8);
    }
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_OK);
    TT_EQ_INT(tse_stun_parse(b, n, &m), TSE_ERR_STUN_ATTR);
    /* ERROR-CODE class 7 */
    tse_stun_writer_init(&w, b, sizeof b, 0x0113, txid);
    {
        uint8_t v[4] = {0, 0, 7, 1};
        tse_stun_put_attr(&w, TSE_STUN_ATTR_ERROR_CODE, v, 4);
    }
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_OK);
    TT_EQ_INT(tse_stun_parse(b, n, &m), TSE_ERR_STUN_ATTR);
    /* attribute after FINGERPRINT */
    tse_stun_writer_init(&w, b, sizeof b, 0x0103, txid);
    tse_stun_put_fingerprint(&w);
    tse_stun_put_u32(&w, TSE_STUN_ATTR_LIFETIME, 1);
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_OK);
    TT_EQ_INT(tse_stun_parse(b, n, &m), TSE_ERR_STUN_FINGERPRINT);
    /* attributes after MESSAGE-INTEGRITY are ignored */
    tse_stun_writer_init(&w, b, sizeof b, 0x0103, txid);
    tse_stun_put_integrity(&w, (const uint8_t *)"x", 1);
    tse_stun_put_u32(&w, TSE_STUN_ATTR_LIFETIME, 1);
    TT_EQ_INT(tse_stun_writer_finish(&w, &n), TSE_OK);
    TT_EQ_INT(tse_stun_parse(b, n, &m), TSE_OK);
    TT_ASSERT(!(m.present & TSE_STUN_HAS_LIFETIME));
    /* length not covering the datagram, odd header length, truncation */
    TT_EQ_INT(tse_stun_parse(b, n - 4, &m), TSE_ERR_STUN_TRUNCATED);
    b[3] ^= 2;
    TT_EQ_INT(tse_stun_parse(b, n, &m), TSE_ERR_STUN_LENGTH);
    TT_EQ_INT(tse_stun_parse(b, 19, &m), TSE_ERR_STUN_TRUNCATED);
    b[4] = 0;
    TT_EQ_INT(tse_stun_parse(b, 20, &m), TSE_ERR_STUN_NOT_STUN);
}

/* ---------------------------------------------------------------------- */
/* A scripted server                                                      */

#define USER "alice"
#define PASS "s3cret"
#define REALM "turn.example"

static uint8_t g_key[16];
static unsigned g_entropy_ctr;

typedef struct rec {
    int n_ev;
    tse_turn_event ev[32];
    int n_data;
    tse_turn_addr data_peer;
    uint8_t data[256];
    size_t data_len;
} rec;

static int ent(void *user, uint8_t *buf, size_t len)
{
    size_t i;
    (void)user;
    g_entropy_ctr++;
    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)(g_entropy_ctr * 31u + i);
    return 0;
}

static void on_event(void *user, const tse_turn_event *ev)
{
    rec *r = user;
    if (r->n_ev < 32)
        r->ev[r->n_ev++] = *ev;
}

static void on_data(void *user, const tse_turn_addr *peer, const uint8_t *data, size_t len)
{
    rec *r = user;
    r->n_data++;
    r->data_peer = *peer;
    r->data_len = len < sizeof r->data ? len : sizeof r->data;
    memcpy(r->data, data, r->data_len);
}

static const tse_turn_event *last_ev(const rec *r)
{
    return r->n_ev ? &r->ev[r->n_ev - 1] : NULL;
}

static tse_turn_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
    tse_turn_addr x;
    memset(&x, 0, sizeof x);
    x.family = 4;
    x.port = port;
    x.addr[0] = a; x.addr[1] = b; x.addr[2] = c; x.addr[3] = d;
    return x;
}

static tse_stun_addr st(const tse_turn_addr *a)
{
    tse_stun_addr s;
    memset(&s, 0, sizeof s);
    s.family = a->family;
    s.port = a->port;
    memcpy(s.addr, a->addr, 16);
    return s;
}

typedef struct fixture {
    tse_turn c;
    uint8_t tx[4096], rx[2048];
    rec r;
    uint8_t out[4096]; /* what the client sent, reassembled for streams */
    size_t out_len;
} fixture;

static fixture F;

static int setup(int transport, int relay)
{
    tse_turn_settings s;
    memset(&F, 0, sizeof F);
    tse_turn_settings_default(&s);
    s.transport = transport;
    s.relay_protocol = (uint8_t)relay;
    s.username = USER;
    s.password = PASS;
    s.entropy = ent;
    s.on_event = on_event;
    s.on_data = on_data;
    s.user = &F.r;
    (void)tse_stun_long_term_key((const uint8_t *)USER, 5, (const uint8_t *)REALM,
                                 strlen(REALM), (const uint8_t *)PASS, 6, g_key);
    return tse_turn_init(&F.c, &s, F.tx, sizeof F.tx, F.rx, sizeof F.rx);
}

/* Take the next message the client wants sent (one datagram, or all of
 * the stream's pending bytes). */
static size_t take(void)
{
    const uint8_t *p;
    size_t n = tse_turn_pending(&F.c, &p);
    if (n > sizeof F.out)
        n = 0;
    if (n)
        memcpy(F.out, p, n);
    tse_turn_consume(&F.c, n);
    F.out_len = n;
    return n;
}

/* Parse what the client sent as one STUN message. */
static int sent_msg(tse_stun_msg *m)
{
    if (take() == 0)
        return TSE_ERR_WOULD_BLOCK;
    return tse_stun_parse(F.out, F.out_len, m);
}

/* Build a response to the request in @p req. */
typedef struct resp {
    uint8_t b[512];
    size_t n;
    tse_stun_writer w;
} resp;

static void r_start(resp *r, const tse_stun_msg *req, int cls)
{
    tse_stun_writer_init(&r->w, r->b, sizeof r->b, tse_stun_type(req->method, cls), req->txid);
}

static void r_error(resp *r, int code)
{
    uint8_t v[8] = {0, 0, 0, 0, 'o', 'o', 'p', 's'};
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    tse_stun_put_attr(&r->w, TSE_STUN_ATTR_ERROR_CODE, v, sizeof v);
}

static void r_challenge(resp *r, const char *nonce, int with_realm)
{
    if (with_realm)
        tse_stun_put_attr(&r->w, TSE_STUN_ATTR_REALM, REALM, strlen(REALM));
    tse_stun_put_attr(&r->w, TSE_STUN_ATTR_NONCE, nonce, strlen(nonce));
}

static void r_end(resp *r, const uint8_t *key)
{
    if (key)
        tse_stun_put_integrity(&r->w, key, 16);
    tse_stun_put_fingerprint(&r->w);
    (void)tse_stun_writer_finish(&r->w, &r->n);
}

static int feed(const uint8_t *b, size_t n, tse_time_ms now)
{
    return tse_turn_recv(&F.c, b, n, now);
}

/* Drive a client to ALLOCATED: challenge, authenticated retry, success. */
static int do_allocate(tse_time_ms now)
{
    tse_stun_msg m;
    resp r;
    tse_turn_addr relayed = v4(198, 51, 100, 7, 50000), mapped = v4(203, 0, 113, 5, 40000);
    tse_stun_addr a;
    if (tse_turn_allocate(&F.c, now) != TSE_OK || sent_msg(&m) != TSE_OK)
        return -1;
    if (m.method != TSE_STUN_METHOD_ALLOCATE || (m.present & TSE_STUN_HAS_INTEGRITY) ||
        !(m.present & TSE_STUN_HAS_REQUESTED_TRANSPORT) || !(m.present & TSE_STUN_HAS_FINGERPRINT))
        return -2;
    r_start(&r, &m, TSE_STUN_CLASS_ERROR);
    r_error(&r, 401);
    r_challenge(&r, "nonce-1", 1);
    r_end(&r, NULL);
    if (feed(r.b, r.n, now + 5) != TSE_OK || sent_msg(&m) != TSE_OK)
        return -3;
    if (m.method != TSE_STUN_METHOD_ALLOCATE || !(m.present & TSE_STUN_HAS_USERNAME) ||
        m.username_len != 5 || memcmp(m.username, USER, 5) != 0 || m.nonce_len != 7 ||
        tse_stun_check_integrity(&m, g_key, 16) != TSE_OK)
        return -4;
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    a = st(&relayed);
    tse_stun_put_xor_addr(&r.w, TSE_STUN_ATTR_XOR_RELAYED_ADDRESS, &a);
    a = st(&mapped);
    tse_stun_put_xor_addr(&r.w, TSE_STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
    tse_stun_put_u32(&r.w, TSE_STUN_ATTR_LIFETIME, 600);
    r_end(&r, g_key);
    if (feed(r.b, r.n, now + 10) != TSE_OK)
        return -5;
    return tse_turn_get_state(&F.c) == TSE_TURN_ALLOCATED ? 0 : -6;
}

/* Answer the client's next request with success (plus optional attrs). */
static int answer_ok(tse_time_ms now, uint16_t want_method)
{
    tse_stun_msg m;
    resp r;
    if (sent_msg(&m) != TSE_OK || m.method != want_method ||
        tse_stun_check_integrity(&m, g_key, 16) != TSE_OK)
        return -1;
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    if (want_method == TSE_STUN_METHOD_REFRESH)
        tse_stun_put_u32(&r.w, TSE_STUN_ATTR_LIFETIME, 600);
    r_end(&r, g_key);
    return feed(r.b, r.n, now);
}

TT_TEST(udp_allocate_permission_send_channel)
{
    tse_turn_addr peer = v4(192, 0, 2, 10, 7000), got;
    tse_stun_msg m;
    resp r;
    const tse_turn_event *ev;
    static const uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_send(&F.c, &peer, hello, 5, 0), TSE_ERR_TURN_NOT_ALLOCATED);
    TT_EQ_INT(do_allocate(1000), 0);
    ev = last_ev(&F.r);
    TT_ASSERT(ev && ev->type == TSE_TURN_EV_ALLOCATED);
    TT_EQ_INT(ev->lifetime_s, 600);
    TT_EQ_INT(ev->relayed.port, 50000);
    TT_EQ_INT(ev->relayed.addr[0], 198);
    TT_EQ_INT(ev->mapped.port, 40000);
    TT_EQ_INT(tse_turn_relayed(&F.c, &got), TSE_OK);
    TT_EQ_INT(got.port, 50000);

    /* no permission yet */
    TT_EQ_INT(tse_turn_send(&F.c, &peer, hello, 5, 1100), TSE_ERR_TURN_NO_PERMISSION);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &peer, 1100), TSE_OK);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &peer, 1100), TSE_OK); /* no second request */
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.method, TSE_STUN_METHOD_CREATE_PERMISSION);
    TT_ASSERT(m.present & TSE_STUN_HAS_PEER);
    TT_EQ_MEM(m.peer.addr, peer.addr, 4);
    TT_EQ_INT(take(), 0);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, g_key);
    TT_EQ_INT(feed(r.b, r.n, 1200), TSE_OK);
    ev = last_ev(&F.r);
    TT_EQ_INT(ev->type, TSE_TURN_EV_PERMISSION);

    /* Send indication: XOR-PEER-ADDRESS and DATA, no credentials */
    TT_EQ_INT(tse_turn_send(&F.c, &peer, hello, 5, 1300), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.type, 0x0016);
    TT_EQ_INT(m.peer.port, 7000);
    TT_EQ_INT(m.data_len, 5);
    TT_EQ_MEM(m.data, hello, 5);
    TT_ASSERT(!(m.present & TSE_STUN_HAS_INTEGRITY));

    /* Data indication from the server */
    {
        uint8_t txid[12] = {9, 9, 9};
        tse_stun_addr a = st(&peer);
        tse_stun_writer_init(&r.w, r.b, sizeof r.b, 0x0017, txid);
        tse_stun_put_xor_addr(&r.w, TSE_STUN_ATTR_XOR_PEER_ADDRESS, &a);
        tse_stun_put_attr(&r.w, TSE_STUN_ATTR_DATA, "world", 5);
        r_end(&r, NULL);
        TT_EQ_INT(feed(r.b, r.n, 1400), TSE_OK);
        TT_EQ_INT(F.r.n_data, 1);
        TT_EQ_INT(F.r.data_len, 5);
        TT_EQ_MEM(F.r.data, "world", 5);
        TT_EQ_INT(F.r.data_peer.port, 7000);
        /* without DATA: dropped */
        tse_stun_writer_init(&r.w, r.b, sizeof r.b, 0x0017, txid);
        tse_stun_put_xor_addr(&r.w, TSE_STUN_ATTR_XOR_PEER_ADDRESS, &a);
        r_end(&r, NULL);
        TT_EQ_INT(feed(r.b, r.n, 1400), TSE_ERR_TURN_BAD_RESPONSE);
        TT_EQ_INT(F.r.n_data, 1);
    }

    /* ChannelBind, then ChannelData both ways (unpadded over UDP) */
    TT_EQ_INT(tse_turn_bind_channel(&F.c, &peer, 1500), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.method, TSE_STUN_METHOD_CHANNEL_BIND);
    TT_EQ_INT(m.channel, 0x4000);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, g_key);
    /* before the answer, data still goes as a Send indication */
    TT_EQ_INT(tse_turn_send(&F.c, &peer, hello, 5, 1550), TSE_OK);
    TT_EQ_INT(take() > 36, 1);
    TT_EQ_INT(F.out[1], 0x16);
    TT_EQ_INT(feed(r.b, r.n, 1600), TSE_OK);
    ev = last_ev(&F.r);
    TT_EQ_INT(ev->type, TSE_TURN_EV_CHANNEL);
    TT_EQ_INT(ev->channel, 0x4000);
    TT_EQ_INT(tse_turn_send(&F.c, &peer, hello, 5, 1700), TSE_OK);
    TT_EQ_INT(take(), 9);
    {
        static const uint8_t want[9] = {0x40, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
        TT_EQ_MEM(F.out, want, 9);
    }
    {
        /* incoming ChannelData; the datagram may carry padding after it */
        uint8_t cd[12] = {0x40, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0, 0xee};
        TT_EQ_INT(feed(cd, 8, 1800), TSE_OK);
        TT_EQ_INT(F.r.n_data, 2);
        TT_EQ_INT(F.r.data_len, 3);
        TT_EQ_MEM(F.r.data, "abc", 3);
        TT_EQ_INT(F.r.data_peer.port, 7000);
        /* claimed length beyond the datagram, unknown channel, reserved */
        TT_EQ_INT(feed(cd, 6, 1800), TSE_ERR_TURN_CHANNEL_DATA);
        cd[1] = 1;
        TT_EQ_INT(feed(cd, 8, 1800), TSE_ERR_TURN_CHANNEL_DATA);
        cd[0] = 0x50;
        cd[1] = 0;
        TT_EQ_INT(feed(cd, 8, 1800), TSE_ERR_TURN_CHANNEL_DATA);
        TT_EQ_INT(F.r.n_data, 2);
        TT_EQ_INT(tse_turn_get_stats(&F.c)->rx_channel_data, 1);
    }
    /* an answer to nothing we asked: dropped */
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, g_key);
    TT_EQ_INT(feed(r.b, r.n, 1900), TSE_ERR_STUN_TXID);
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_ALLOCATED);

    /* deallocate */
    TT_EQ_INT(tse_turn_close(&F.c, 2000), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.method, TSE_STUN_METHOD_REFRESH);
    TT_ASSERT(m.present & TSE_STUN_HAS_LIFETIME);
    TT_EQ_INT(m.lifetime, 0);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    tse_stun_put_u32(&r.w, TSE_STUN_ATTR_LIFETIME, 0);
    r_end(&r, g_key);
    TT_EQ_INT(feed(r.b, r.n, 2100), TSE_OK);
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_CLOSED);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_CLOSED);
    TT_EQ_INT(tse_turn_expiry(&F.c), TSE_TIME_NEVER);
}

TT_TEST(udp_retransmission_schedule_and_timeout)
{
    static const tse_time_ms when[7] = {0, 500, 1500, 3500, 7500, 15500, 31500};
    uint8_t first[512];
    size_t first_len;
    int i;
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_allocate(&F.c, 0), TSE_OK);
    TT_ASSERT(take() > 0);
    memcpy(first, F.out, F.out_len);
    first_len = F.out_len;
    for (i = 1; i < 7; i++) {
        TT_EQ_INT(tse_turn_expiry(&F.c), when[i]);
        TT_EQ_INT(tse_turn_handle_expiry(&F.c, when[i] - 1), TSE_OK);
        TT_EQ_INT(take(), 0); /* not yet */
        TT_EQ_INT(tse_turn_handle_expiry(&F.c, when[i]), TSE_OK);
        TT_EQ_INT(take(), first_len);
        TT_EQ_MEM(F.out, first, first_len); /* the same bytes: same transaction */
    }
    TT_EQ_INT(tse_turn_expiry(&F.c), 39500);
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 39499), TSE_OK);
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_ALLOCATING);
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 39500), TSE_ERR_TURN_TIMEOUT);
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_FAILED);
    TT_EQ_INT(tse_turn_error(&F.c), TSE_ERR_TURN_TIMEOUT);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_FAILED);
    TT_EQ_INT(last_ev(&F.r)->method, TSE_TURN_M_ALLOCATE);
    TT_EQ_INT(tse_turn_get_stats(&F.c)->retransmits, 6);
    TT_EQ_INT(tse_turn_expiry(&F.c), TSE_TIME_NEVER);
}

TT_TEST(wrong_password_and_bad_challenges)
{
    tse_stun_msg m;
    resp r;
    /* 401 after credentials: wrong password */
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_allocate(&F.c, 0), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_ERROR);
    r_error(&r, 401);
    r_challenge(&r, "n1", 1);
    r_end(&r, NULL);
    TT_EQ_INT(feed(r.b, r.n, 1), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_ERROR);
    r_error(&r, 401);
    r_challenge(&r, "n2", 1);
    r_end(&r, NULL);
    TT_EQ_INT(feed(r.b, r.n, 2), TSE_OK);
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_FAILED);
    TT_EQ_INT(tse_turn_error(&F.c), TSE_ERR_TURN_UNAUTHORIZED);
    TT_EQ_INT(last_ev(&F.r)->stun_code, 401);
    TT_EQ_INT(take(), 0);

    /* 401 without NONCE */
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_allocate(&F.c, 0), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_ERROR);
    r_error(&r, 401);
    tse_stun_put_attr(&r.w, TSE_STUN_ATTR_REALM, REALM, strlen(REALM));
    r_end(&r, NULL);
    TT_EQ_INT(feed(r.b, r.n, 1), TSE_OK);
    TT_EQ_INT(tse_turn_error(&F.c), TSE_ERR_TURN_REALM);

    /* 401 without REALM */
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_allocate(&F.c, 0), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_ERROR);
    r_error(&r, 401);
    r_challenge(&r, "n1", 0);
    r_end(&r, NULL);
    TT_EQ_INT(feed(r.b, r.n, 1), TSE_OK);
    TT_EQ_INT(tse_turn_error(&F.c), TSE_ERR_TURN_REALM);

    /* error codes map one to one */
    {
        static const struct { int code, err; } map[] = {
            {300, TSE_ERR_TURN_TRY_ALTERNATE}, {400, TSE_ERR_TURN_BAD_REQUEST},
            {403, TSE_ERR_TURN_FORBIDDEN}, {420, TSE_ERR_TURN_UNKNOWN_ATTRIBUTE},
            {437, TSE_ERR_TURN_ALLOC_MISMATCH}, {440, TSE_ERR_TURN_PEER_FAMILY},
            {441, TSE_ERR_TURN_WRONG_CREDENTIALS}, {442, TSE_ERR_TURN_UNSUPPORTED_TRANSPORT},
            {486, TSE_ERR_TURN_QUOTA}, {500, TSE_ERR_TURN_SERVER_ERROR},
            {508, TSE_ERR_TURN_CAPACITY}, {599, TSE_ERR_TURN_ERROR_OTHER}};
        size_t i;
        for (i = 0; i < sizeof map / sizeof map[0]; i++) {
            TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
            TT_EQ_INT(tse_turn_allocate(&F.c, 0), TSE_OK);
            TT_EQ_INT(sent_msg(&m), TSE_OK);
            r_start(&r, &m, TSE_STUN_CLASS_ERROR);
            r_error(&r, map[i].code);
            r_end(&r, NULL);
            TT_EQ_INT(feed(r.b, r.n, 1), TSE_OK);
            TT_EQ_INT(tse_turn_error(&F.c), map[i].err);
            TT_EQ_INT(last_ev(&F.r)->stun_code, map[i].code);
            TT_ASSERT(strcmp(tse_strerror(map[i].err), "unknown error") != 0);
        }
    }
}

TT_TEST(stale_nonce_retries_bounded)
{
    tse_stun_msg m;
    resp r;
    int i;
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(do_allocate(0), 0);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &(tse_turn_addr){4, 1, {192, 0, 2, 1}}, 10),
              TSE_OK);
    for (i = 0; i <= TSE_TURN_STALE_RETRIES; i++) {
        char nonce[16] = "fresh-0";
        TT_EQ_INT(sent_msg(&m), TSE_OK);
        TT_EQ_INT(m.method, TSE_STUN_METHOD_CREATE_PERMISSION);
        if (i > 0) { /* the retry carries the nonce of the 438 */
            TT_EQ_INT(m.nonce_len, 7);
            TT_EQ_INT(m.nonce[6], '0' + i - 1);
        }
        TT_EQ_INT(tse_stun_check_integrity(&m, g_key, 16), TSE_OK);
        nonce[6] = (char)('0' + i);
        r_start(&r, &m, TSE_STUN_CLASS_ERROR);
        r_error(&r, 438);
        r_challenge(&r, nonce, 1);
        r_end(&r, NULL);
        TT_EQ_INT(feed(r.b, r.n, 20 + (tse_time_ms)i), TSE_OK);
    }
    TT_EQ_INT(take(), 0);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_FAILED);
    TT_EQ_INT(last_ev(&F.r)->err, TSE_ERR_TURN_STALE_NONCE);
    TT_EQ_INT(last_ev(&F.r)->method, TSE_TURN_M_CREATE_PERMISSION);
    /* a failed permission is not kept; the allocation is fine */
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_ALLOCATED);
    TT_EQ_INT(tse_turn_send(&F.c, &(tse_turn_addr){4, 1, {192, 0, 2, 1}}, (const uint8_t *)"x",
                            1, 30), TSE_ERR_TURN_NO_PERMISSION);
}

TT_TEST(integrity_checked_udp_drops_stream_fails)
{
    tse_stun_msg m;
    resp r;
    uint8_t bad[16];
    memcpy(bad, g_key, 16);
    /* UDP: a success with a wrong MESSAGE-INTEGRITY is as if never received */
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(do_allocate(0), 0);
    memcpy(bad, g_key, 16);
    bad[3] ^= 0x40;
    TT_EQ_INT(tse_turn_create_permission(&F.c, &(tse_turn_addr){4, 1, {192, 0, 2, 1}}, 10),
              TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, bad);
    TT_EQ_INT(feed(r.b, r.n, 20), TSE_OK);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_ALLOCATED); /* no new event */
    TT_EQ_INT(tse_turn_get_stats(&F.c)->integrity_drops, 1);
    /* without any integrity: same */
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, NULL);
    TT_EQ_INT(feed(r.b, r.n, 20), TSE_OK);
    TT_EQ_INT(tse_turn_get_stats(&F.c)->integrity_drops, 2);
    /* the retransmission still comes, and the right answer counts */
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 510), TSE_OK);
    TT_EQ_INT(answer_ok(600, TSE_STUN_METHOD_CREATE_PERMISSION), TSE_OK);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_PERMISSION);

    /* stream: the request fails at once */
    TT_EQ_INT(setup(TSE_TURN_STREAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(do_allocate(0), 0);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &(tse_turn_addr){4, 1, {192, 0, 2, 1}}, 10),
              TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, bad);
    TT_EQ_INT(feed(r.b, r.n, 20), TSE_OK);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_FAILED);
    TT_EQ_INT(last_ev(&F.r)->err, TSE_ERR_TURN_INTEGRITY);
}

TT_TEST(refresh_timers)
{
    tse_turn_addr peer = v4(192, 0, 2, 10, 7000);
    tse_stun_msg m;
    resp r;
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(do_allocate(0), 0);              /* success at t=10, lifetime 600 */
    TT_EQ_INT(tse_turn_bind_channel(&F.c, &peer, 100), TSE_OK);
    TT_EQ_INT(answer_ok(100, TSE_STUN_METHOD_CHANNEL_BIND), TSE_OK);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &peer, 200), TSE_OK);
    TT_EQ_INT(answer_ok(200, TSE_STUN_METHOD_CREATE_PERMISSION), TSE_OK);
    /* permission refresh 240 s after it was installed */
    TT_EQ_INT(tse_turn_expiry(&F.c), 200 + 240000);
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 240200), TSE_OK);
    TT_EQ_INT(answer_ok(240300, TSE_STUN_METHOD_CREATE_PERMISSION), TSE_OK);
    TT_EQ_INT(tse_turn_expiry(&F.c), 240300 + 240000);
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 480300), TSE_OK);
    TT_EQ_INT(answer_ok(480400, TSE_STUN_METHOD_CREATE_PERMISSION), TSE_OK);
    /* allocation refresh 60 s before the end: 10 + 540 s */
    TT_EQ_INT(tse_turn_expiry(&F.c), 10 + 540000);
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 540010), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.method, TSE_STUN_METHOD_REFRESH);
    TT_ASSERT(!(m.present & TSE_STUN_HAS_LIFETIME)); /* server's default */
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    tse_stun_put_u32(&r.w, TSE_STUN_ATTR_LIFETIME, 300);
    r_end(&r, g_key);
    TT_EQ_INT(feed(r.b, r.n, 540020), TSE_OK);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_REFRESHED);
    TT_EQ_INT(last_ev(&F.r)->lifetime_s, 300);
    /* channel refresh at 100 + 540 s */
    TT_EQ_INT(tse_turn_expiry(&F.c), 100 + 540000);
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 540100), TSE_OK);
    TT_EQ_INT(answer_ok(540200, TSE_STUN_METHOD_CHANNEL_BIND), TSE_OK);
    TT_EQ_INT(tse_turn_expiry(&F.c), 480400 + 240000);
    TT_EQ_INT(tse_turn_handle_expiry(&F.c, 720400), TSE_OK);
    TT_EQ_INT(answer_ok(720500, TSE_STUN_METHOD_CREATE_PERMISSION), TSE_OK);
    /* the allocation's next refresh: 540020 + 240 s */
    TT_EQ_INT(tse_turn_expiry(&F.c), 540020 + 240000);
    /* the refresh goes unanswered: UDP retransmits, the request times
     * out, is tried again 5 s later, and the allocation expires */
    {
        tse_time_ms t = 780020;
        int guard = 0, refreshes = 0;
        while (tse_turn_get_state(&F.c) == TSE_TURN_ALLOCATED && guard++ < 100) {
            tse_time_ms e = tse_turn_expiry(&F.c);
            TT_ASSERT(e >= t);
            t = e;
            (void)tse_turn_handle_expiry(&F.c, t);
            while (take() > 0) {
                tse_stun_msg q;
                if (tse_stun_parse(F.out, F.out_len, &q) == TSE_OK &&
                    q.method == TSE_STUN_METHOD_REFRESH)
                    refreshes++;
            }
        }
        TT_EQ_INT(tse_turn_error(&F.c), TSE_ERR_TURN_EXPIRED);
        TT_EQ_INT(t, 540020 + 300000);
        TT_EQ_INT(refreshes, 7 + 6); /* 7 sends, then 6 of the second try */
    }
}

TT_TEST(stream_byte_at_a_time_and_padding)
{
    tse_turn_addr peer = v4(192, 0, 2, 10, 7000);
    tse_stun_msg m;
    resp r;
    uint8_t stream[1024];
    size_t n = 0, i;
    TT_EQ_INT(setup(TSE_TURN_STREAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(do_allocate(0), 0);
    TT_EQ_INT(tse_turn_bind_channel(&F.c, &peer, 10), TSE_OK);
    TT_EQ_INT(answer_ok(20, TSE_STUN_METHOD_CHANNEL_BIND), TSE_OK);
    /* stream: ChannelData padded to 4 */
    TT_EQ_INT(tse_turn_send(&F.c, &peer, (const uint8_t *)"hello", 5, 30), TSE_OK);
    TT_EQ_INT(tse_turn_send(&F.c, &peer, (const uint8_t *)"abcd", 4, 30), TSE_OK);
    TT_EQ_INT(take(), 12 + 8);
    {
        static const uint8_t want[20] = {0x40, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0,
                                         0x40, 0, 0, 4, 'a', 'b', 'c', 'd'};
        TT_EQ_MEM(F.out, want, 20);
    }
    /* from the server: ChannelData (padded), a Data indication and a
     * stray response, back to back, one byte at a time */
    {
        static const uint8_t cd[8] = {0x40, 0, 0, 3, 'x', 'y', 'z', 0};
        uint8_t txid[12] = {7};
        tse_stun_addr a = st(&peer);
        memcpy(stream, cd, 8);
        n = 8;
        tse_stun_writer_init(&r.w, r.b, sizeof r.b, 0x0017, txid);
        tse_stun_put_xor_addr(&r.w, TSE_STUN_ATTR_XOR_PEER_ADDRESS, &a);
        tse_stun_put_attr(&r.w, TSE_STUN_ATTR_DATA, "data!", 5);
        r_end(&r, NULL);
        memcpy(stream + n, r.b, r.n);
        n += r.n;
        tse_stun_writer_init(&r.w, r.b, sizeof r.b, 0x0103, txid);
        r_end(&r, NULL);
        memcpy(stream + n, r.b, r.n);
        n += r.n;
        memcpy(stream + n, cd, 8);
        n += 8;
    }
    for (i = 0; i < n; i++)
        TT_EQ_INT(feed(stream + i, 1, 40), TSE_OK);
    TT_EQ_INT(F.r.n_data, 3);
    TT_EQ_INT(F.r.data_len, 3);
    TT_EQ_MEM(F.r.data, "xyz", 3);
    TT_EQ_INT(tse_turn_get_stats(&F.c)->dropped, 1);
    /* all at once: the same */
    TT_EQ_INT(feed(stream, n, 50), TSE_OK);
    TT_EQ_INT(F.r.n_data, 6);
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_ALLOCATED);
    /* a byte that starts neither STUN nor ChannelData loses the stream */
    {
        uint8_t junk[4] = {0x80, 0, 0, 0};
        TT_EQ_INT(feed(junk, 4, 60), TSE_ERR_TURN_MALFORMED);
        TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_FAILED);
        TT_EQ_INT(feed(stream, 8, 60), TSE_ERR_TURN_MALFORMED); /* sticky */
    }
    /* a unit larger than the receive buffer */
    TT_EQ_INT(setup(TSE_TURN_STREAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_allocate(&F.c, 0), TSE_OK);
    {
        uint8_t big[4] = {0x40, 0x00, 0x10, 0x00};
        TT_EQ_INT(feed(big, 4, 1), TSE_ERR_TURN_TOO_BIG);
    }
    /* a STUN message with a broken attribute loses the stream */
    TT_EQ_INT(setup(TSE_TURN_STREAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_allocate(&F.c, 0), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    tse_stun_put_attr(&r.w, TSE_STUN_ATTR_LIFETIME, "abc", 3);
    (void)tse_stun_writer_finish(&r.w, &r.n);
    TT_EQ_INT(feed(r.b, r.n, 1), TSE_ERR_TURN_MALFORMED);
}

TT_TEST(tcp_allocation_connect_and_bind)
{
    tse_turn_addr peer = v4(192, 0, 2, 20, 8000);
    tse_stun_msg m;
    resp r;
    uint8_t req[512], txid[12], data[600];
    size_t n, used;
    TT_EQ_INT(setup(TSE_TURN_STREAM, TSE_TURN_RELAY_TCP), TSE_OK);
    TT_EQ_INT(tse_turn_connection_bind_request(&F.c, 1, req, sizeof req, &n, txid),
              TSE_ERR_TURN_NOT_ALLOCATED);
    TT_EQ_INT(do_allocate(0), 0);
    TT_EQ_INT(tse_turn_send(&F.c, &peer, (const uint8_t *)"x", 1, 5), TSE_ERR_STATE);
    TT_EQ_INT(tse_turn_bind_channel(&F.c, &peer, 5), TSE_ERR_STATE);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &peer, 10), TSE_OK);
    TT_EQ_INT(answer_ok(20, TSE_STUN_METHOD_CREATE_PERMISSION), TSE_OK);
    TT_EQ_INT(tse_turn_connect(&F.c, &peer, 30), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.method, TSE_STUN_METHOD_CONNECT);
    TT_EQ_INT(m.peer.port, 8000);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    tse_stun_put_u32(&r.w, TSE_STUN_ATTR_CONNECTION_ID, 0xabcdef01u);
    r_end(&r, g_key);
    TT_EQ_INT(feed(r.b, r.n, 40), TSE_OK);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_CONNECTED);
    TT_EQ_INT(last_ev(&F.r)->connection_id, 0xabcdef01u);
    /* the data connection's ConnectionBind */
    TT_EQ_INT(tse_turn_connection_bind_request(&F.c, 0xabcdef01u, req, sizeof req, &n, txid),
              TSE_OK);
    TT_EQ_INT(tse_stun_parse(req, n, &m), TSE_OK);
    TT_EQ_INT(m.method, TSE_STUN_METHOD_CONNECTION_BIND);
    TT_EQ_INT(m.connection_id, 0xabcdef01u);
    TT_EQ_INT(tse_stun_check_integrity(&m, g_key, 16), TSE_OK);
    /* the success, then peer bytes on the same connection */
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, g_key);
    memcpy(data, r.b, r.n);
    memcpy(data + r.n, "PEER", 4);
    TT_EQ_INT(tse_turn_connection_bind_response(&F.c, txid, data, 10, &used),
              TSE_ERR_WOULD_BLOCK);
    TT_EQ_INT(tse_turn_connection_bind_response(&F.c, txid, data, r.n - 1, &used),
              TSE_ERR_WOULD_BLOCK);
    TT_EQ_INT(tse_turn_connection_bind_response(&F.c, txid, data, r.n + 4, &used), TSE_OK);
    TT_EQ_INT(used, r.n);
    txid[0] ^= 1;
    TT_EQ_INT(tse_turn_connection_bind_response(&F.c, txid, data, r.n + 4, &used),
              TSE_ERR_STUN_TXID);
    txid[0] ^= 1;
    /* a 447 and a bad integrity */
    r_start(&r, &m, TSE_STUN_CLASS_ERROR);
    r_error(&r, 447);
    r_end(&r, g_key);
    TT_EQ_INT(tse_turn_connection_bind_response(&F.c, txid, r.b, r.n, &used),
              TSE_ERR_TURN_CONNECTION_FAILED);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, NULL);
    TT_EQ_INT(tse_turn_connection_bind_response(&F.c, txid, r.b, r.n, &used),
              TSE_ERR_TURN_INTEGRITY);
    /* an incoming connection attempt */
    {
        uint8_t tid[12] = {3};
        tse_stun_addr a = st(&peer);
        tse_stun_writer_init(&r.w, r.b, sizeof r.b, 0x001c, tid);
        tse_stun_put_xor_addr(&r.w, TSE_STUN_ATTR_XOR_PEER_ADDRESS, &a);
        tse_stun_put_u32(&r.w, TSE_STUN_ATTR_CONNECTION_ID, 77);
        r_end(&r, NULL);
        TT_EQ_INT(feed(r.b, r.n, 50), TSE_OK);
        TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_CONNECTION_ATTEMPT);
        TT_EQ_INT(last_ev(&F.r)->connection_id, 77);
    }
    /* Connect refused */
    TT_EQ_INT(tse_turn_connect(&F.c, &peer, 60), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    r_start(&r, &m, TSE_STUN_CLASS_ERROR);
    r_error(&r, 446);
    r_end(&r, g_key);
    TT_EQ_INT(feed(r.b, r.n, 70), TSE_OK);
    TT_EQ_INT(last_ev(&F.r)->err, TSE_ERR_TURN_CONNECTION_EXISTS);
    TT_EQ_INT(tse_turn_get_state(&F.c), TSE_TURN_ALLOCATED);
}

TT_TEST(init_arguments_and_limits)
{
    tse_turn c;
    tse_turn_settings s;
    uint8_t tx[2048], rx[256];
    char longname[TSE_TURN_CRED_MAX + 2];
    tse_turn_settings_default(&s);
    s.username = "u";
    s.password = "p";
    s.entropy = ent;
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_OK);
    TT_EQ_INT(tse_turn_init(&c, &s, tx, 1023, NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_turn_init(NULL, &s, tx, sizeof tx, NULL, 0), TSE_ERR_INVALID_ARG);
    s.transport = TSE_TURN_STREAM;
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, rx, sizeof rx), TSE_OK);
    s.transport = TSE_TURN_DATAGRAM;
    s.relay_protocol = TSE_TURN_RELAY_TCP; /* RFC 6062 needs a stream */
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_ERR_INVALID_ARG);
    s.relay_protocol = 99;
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_ERR_INVALID_ARG);
    s.relay_protocol = TSE_TURN_RELAY_UDP;
    memset(longname, 'a', sizeof longname);
    longname[sizeof longname - 1] = 0;
    s.username = longname;
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_ERR_INVALID_ARG);
    longname[TSE_TURN_CRED_MAX] = 0;
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_OK);
    s.username = "";
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_ERR_INVALID_ARG);
    s.username = "u";
    s.entropy = NULL;
    TT_EQ_INT(tse_turn_init(&c, &s, tx, sizeof tx, NULL, 0), TSE_ERR_INVALID_ARG);
    /* ChannelData framing helper */
    {
        uint8_t o[16];
        size_t n;
        TT_EQ_INT(tse_turn_channel_data(0x3fff, o, 1, 0, o, sizeof o, &n), TSE_ERR_INVALID_ARG);
        TT_EQ_INT(tse_turn_channel_data(0x5000, o, 1, 0, o, sizeof o, &n), TSE_ERR_INVALID_ARG);
        TT_EQ_INT(tse_turn_channel_data(0x4fff, (const uint8_t *)"a", 1, 1, o, 7, &n),
                  TSE_ERR_BUFFER_TOO_SMALL);
        TT_EQ_INT(tse_turn_channel_data(0x4fff, (const uint8_t *)"a", 1, 1, o, 8, &n), TSE_OK);
        TT_EQ_INT(n, 8);
        TT_EQ_INT(tse_turn_channel_data(0x4fff, (const uint8_t *)"a", 1, 0, o, 8, &n), TSE_OK);
        TT_EQ_INT(n, 5);
    }
}

TT_TEST(queue_full_and_table_full)
{
    tse_turn_addr peer = v4(192, 0, 2, 10, 7000);
    static uint8_t big[1100];
    int i, rc = TSE_OK;
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(do_allocate(0), 0);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &peer, 10), TSE_OK);
    TT_EQ_INT(answer_ok(20, TSE_STUN_METHOD_CREATE_PERMISSION), TSE_OK);
    /* the 4096-byte queue takes three 1100-byte sends, not four */
    for (i = 0; i < 4 && rc == TSE_OK; i++)
        rc = tse_turn_send(&F.c, &peer, big, sizeof big, 30);
    TT_EQ_INT(rc, TSE_ERR_QUEUE_FULL);
    TT_EQ_INT(i, 4);
    TT_ASSERT(take() > 1100);
    TT_EQ_INT(tse_turn_send(&F.c, &peer, big, sizeof big, 30), TSE_OK);
    while (take() > 0) {
    }
    /* permissions: the table holds TSE_TURN_MAX_PERMISSIONS; requests in
     * flight are bounded by TSE_TURN_MAX_TRANSACTIONS */
    for (i = 0; i < TSE_TURN_MAX_PERMISSIONS - 1; i++) {
        tse_turn_addr p = v4(192, 0, 2, (uint8_t)(100 + i), 1);
        TT_EQ_INT(tse_turn_create_permission(&F.c, &p, 40), TSE_OK);
    }
    {
        tse_turn_addr p = v4(192, 0, 2, 200, 1);
        TT_EQ_INT(tse_turn_create_permission(&F.c, &p, 40), TSE_ERR_TURN_TABLE_FULL);
    }
}

TT_TEST(ipv6_peer_and_manual_refresh)
{
    tse_turn_addr peer;
    tse_stun_msg m;
    resp r;
    static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    memset(&peer, 0, sizeof peer);
    peer.family = 6;
    peer.port = 5004;
    memcpy(peer.addr, ip6, 16);
    TT_EQ_INT(setup(TSE_TURN_DATAGRAM, TSE_TURN_RELAY_UDP), TSE_OK);
    TT_EQ_INT(tse_turn_refresh(&F.c, 0), TSE_ERR_TURN_NOT_ALLOCATED);
    TT_EQ_INT(do_allocate(0), 0);
    TT_EQ_INT(tse_turn_create_permission(&F.c, &peer, 10), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.peer.family, 6);
    TT_EQ_INT(m.peer.port, 5004);
    TT_EQ_MEM(m.peer.addr, ip6, 16);
    r_start(&r, &m, TSE_STUN_CLASS_SUCCESS);
    r_end(&r, g_key);
    TT_EQ_INT(feed(r.b, r.n, 20), TSE_OK);
    /* the permission covers the address, whatever the port */
    peer.port = 6000;
    TT_EQ_INT(tse_turn_send(&F.c, &peer, (const uint8_t *)"v6", 2, 30), TSE_OK);
    TT_EQ_INT(sent_msg(&m), TSE_OK);
    TT_EQ_INT(m.peer.port, 6000);
    TT_EQ_MEM(m.peer.addr, ip6, 16);
    TT_EQ_INT(m.data_len, 2);
    /* an IPv4 peer with the same first bytes is another peer */
    {
        tse_turn_addr p4 = v4(0x20, 0x01, 0x0d, 0xb8, 6000);
        TT_EQ_INT(tse_turn_send(&F.c, &p4, (const uint8_t *)"v4", 2, 30),
                  TSE_ERR_TURN_NO_PERMISSION);
    }
    /* refresh on demand: one request, however often asked */
    TT_EQ_INT(tse_turn_refresh(&F.c, 40), TSE_OK);
    TT_EQ_INT(tse_turn_refresh(&F.c, 41), TSE_OK);
    TT_EQ_INT(answer_ok(50, TSE_STUN_METHOD_REFRESH), TSE_OK);
    TT_EQ_INT(take(), 0);
    TT_EQ_INT(last_ev(&F.r)->type, TSE_TURN_EV_REFRESHED);
    TT_EQ_INT(F.c.refresh_at, 50 + 540000); /* the timer restarted */
}

int main(void)
{
    TT_RUN(rfc5769_short_term_integrity);
    TT_RUN(rfc5769_long_term_integrity);
    TT_RUN(writer_reproduces_rfc5769_request);
    TT_RUN(sha256_integrity_round_trip);
    TT_RUN(type_encoding);
    TT_RUN(parse_strictness);
    TT_RUN(udp_allocate_permission_send_channel);
    TT_RUN(udp_retransmission_schedule_and_timeout);
    TT_RUN(wrong_password_and_bad_challenges);
    TT_RUN(stale_nonce_retries_bounded);
    TT_RUN(integrity_checked_udp_drops_stream_fails);
    TT_RUN(refresh_timers);
    TT_RUN(stream_byte_at_a_time_and_padding);
    TT_RUN(tcp_allocation_connect_and_bind);
    TT_RUN(init_arguments_and_limits);
    TT_RUN(queue_full_and_table_full);
    TT_RUN(ipv6_peer_and_manual_refresh);
    return TT_DONE();
}
