/* mem_tscf.c - in-memory proxy + TLS server + TSCF peer, driver, recorder
 * (see mem_tscf.h).  Test code: it may allocate and print. */
#include "mem_tscf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/version.h"
#include "mbedtls/base64.h"
#include "mbedtls/hmac_drbg.h"
#include "mbedtls/md.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include "psa/crypto.h"
#endif

#include "tse/framing.h"
#include "test_pki.h"

static int ci_ncmp(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return x - y;
        if (x == 0) return 0;
    }
    return 0;
}

/* ======================================================================== */
/* growable byte queue                                                      */

typedef struct mt_q {
    uint8_t *b;
    size_t off, len, cap;
} mt_q;

static void q_push(mt_q *q, const uint8_t *d, size_t n)
{
    if (n == 0) {
        return; /* memcpy with a NULL buffer is UB even for 0 bytes (UBSan) */
    }
    if (q->off > 0 && q->off == q->len) {
        q->off = q->len = 0;
    }
    if (q->len + n > q->cap) {
        size_t live = q->len - q->off;
        if (q->off > 0) {
            memmove(q->b, q->b + q->off, live);
            q->len = live;
            q->off = 0;
        }
        if (q->len + n > q->cap) {
            size_t nc = q->cap ? q->cap : 4096;
            while (nc < q->len + n) nc *= 2;
            q->b = realloc(q->b, nc);
            if (q->b == NULL) abort();
            q->cap = nc;
        }
    }
    memcpy(q->b + q->len, d, n);
    q->len += n;
}

static size_t q_avail(const mt_q *q) { return q->len - q->off; }
static const uint8_t *q_data(const mt_q *q) { return q->b + q->off; }
static void q_drop(mt_q *q, size_t n) { q->off += n; if (q->off >= q->len) q->off = q->len = 0; }
static void q_clear(mt_q *q) { q->off = q->len = 0; }
static void q_free(mt_q *q) { free(q->b); memset(q, 0, sizeof(*q)); }

/* ======================================================================== */
/* the peer                                                                 */

enum { PH_PROXY = 0, PH_TLS };

struct mem_tscf {
    mt_cfg cfg;
    mt_seen seen;
    const tse_time_ms *clock;

    /* TLS server */
    mbedtls_hmac_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt client_ca;
    mbedtls_pk_context key;
    mbedtls_ssl_context ssl;
    const char *loaded_cert;      /* cfg.cert_pem the config was built for */
    const char *loaded_ca;        /* cfg.client_ca_pem, idem */
    int conf_ready, ssl_ready;
    mt_secret secrets[MT_MAX_SECRETS];
    size_t nsecrets;

    /* current connection */
    int open;
    int phase;
    int hs_done;
    int dead;                     /* TLS failed: ignore further input */
    int want_close;               /* close TCP once output is delivered */
    int records_out;              /* TLS records written on this connection */
    mt_q in;                      /* engine -> peer, not yet consumed */
    mt_q out;                     /* peer -> engine */
    char head[16384];
    size_t head_len;
    int n407;                     /* 407s sent on this tunnel attempt */
    tse_deframer df;
    uint8_t dfbuf[65536];

    /* TSCF state across connections */
    uint64_t tsid;                /* assigned, 0 = none */
    uint8_t ipv4[4];
    int rejects_done;
    int ka_answered;
    uint32_t srv_seq;
    uint64_t next_tsid;
};

static tse_time_ms p_now(const mem_tscf *p) { return p->clock ? *p->clock : 0; }

static int p_rng(void *ctx, unsigned char *out, size_t len)
{
    return mbedtls_hmac_drbg_random(ctx, out, len);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    mem_tscf *p = ctx;
    q_push(&p->out, buf, len);
    /* mbed TLS hands its BIO one record per call */
    if (++p->records_out == p->cfg.corrupt_record && len > 0) {
        p->out.b[p->out.len - 1] ^= 0x01;
    }
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    mem_tscf *p = ctx;
    size_t n = q_avail(&p->in);
    if (n == 0) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (n > len) n = len;
    memcpy(buf, q_data(&p->in), n);
    q_drop(&p->in, n);
    return (int)n;
}

int mt_peer_running;

void mt_cfg_default(mt_cfg *c)
{
    const test_pki *pki = test_pki_get();
    memset(c, 0, sizeof(*c));
    c->cert_pem = pki->server_pem;
    c->key_pem = pki->server_key;
    c->tsid = UINT64_C(0x0102030405060708);
    c->ipv4[0] = 10; c->ipv4[1] = 0; c->ipv4[2] = 0; c->ipv4[3] = 2;
    memset(c->ipv4_mask, 255, 4);
    c->ipv6[0] = 0xfd; c->ipv6[15] = 2;
    memset(c->ipv6_mask, 255, 16);
    c->resume = 1;
    c->resume_ipv4[0] = 10; c->resume_ipv4[3] = 99;
    c->ka_answer_limit = -1;
    c->ftt_gw[0] = 10; c->ftt_gw[3] = 1;
}

#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
static int p_sni(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    mem_tscf *p = ctx;
    (void)ssl;
    p->seen.sni_present = 1;
    if (len >= sizeof(p->seen.sni)) len = sizeof(p->seen.sni) - 1;
    memcpy(p->seen.sni, name, len);
    p->seen.sni[len] = 0;
    return 0;
}
#endif


static void record_secret(mem_tscf *p, int type, const unsigned char *cr, const unsigned char *secret,
                          size_t len)
{
    mt_secret *s;
    if (p->nsecrets >= MT_MAX_SECRETS || len > sizeof(s->secret))
        return;
    s = &p->secrets[p->nsecrets++];
    s->type = type;
    memcpy(s->client_random, cr, 32);
    memcpy(s->secret, secret, len);
    s->len = len;
}

#if MBEDTLS_VERSION_MAJOR >= 3
static void p_export_keys(void *ctx, mbedtls_ssl_key_export_type type, const unsigned char *secret,
                          size_t len, const unsigned char cr[32], const unsigned char sr[32],
                          mbedtls_tls_prf_types prf)
{
    (void)sr;
    (void)prf;
    record_secret(ctx, (int)type, cr, secret, len);
}
#elif defined(MBEDTLS_SSL_EXPORT_KEYS)
static int p_export_keys_ext(void *ctx, const unsigned char *ms, const unsigned char *kb,
                             size_t maclen, size_t keylen, size_t ivlen, const unsigned char cr[32],
                             const unsigned char sr[32], mbedtls_tls_prf_types prf)
{
    (void)kb; (void)maclen; (void)keylen; (void)ivlen; (void)sr; (void)prf;
    record_secret(ctx, 0, cr, ms, 48);
    return 0;
}
#endif

static int p_build_conf(mem_tscf *p)
{
    int ret;
    if (p->conf_ready) {
        mbedtls_ssl_free(&p->ssl);
        mbedtls_ssl_config_free(&p->conf);
        mbedtls_x509_crt_free(&p->crt);
        mbedtls_x509_crt_free(&p->client_ca);
        mbedtls_pk_free(&p->key);
        p->conf_ready = p->ssl_ready = 0;
    }
    mbedtls_ssl_config_init(&p->conf);
    mbedtls_x509_crt_init(&p->crt);
    mbedtls_x509_crt_init(&p->client_ca);
    mbedtls_pk_init(&p->key);
    mbedtls_ssl_init(&p->ssl);
    p->conf_ready = 1;
    ret = mbedtls_x509_crt_parse(&p->crt, (const unsigned char *)p->cfg.cert_pem,
                                 strlen(p->cfg.cert_pem) + 1);
    if (ret != 0) return ret;
#if MBEDTLS_VERSION_MAJOR >= 3
    ret = mbedtls_pk_parse_key(&p->key, (const unsigned char *)p->cfg.key_pem,
                               strlen(p->cfg.key_pem) + 1, NULL, 0, p_rng, &p->drbg);
#else
    ret = mbedtls_pk_parse_key(&p->key, (const unsigned char *)p->cfg.key_pem,
                               strlen(p->cfg.key_pem) + 1, NULL, 0);
#endif
    if (ret != 0) return ret;
    ret = mbedtls_ssl_config_defaults(&p->conf, MBEDTLS_SSL_IS_SERVER,
                                      MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) return ret;
    mbedtls_ssl_conf_rng(&p->conf, p_rng, &p->drbg);
#if MBEDTLS_VERSION_MAJOR >= 3
    if (p->cfg.tls12_only)
        mbedtls_ssl_conf_max_tls_version(&p->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#elif defined(MBEDTLS_SSL_EXPORT_KEYS)
    mbedtls_ssl_conf_export_keys_ext_cb(&p->conf, p_export_keys_ext, p);
#endif
    if (p->cfg.client_ca_pem != NULL) {
        ret = mbedtls_x509_crt_parse(&p->client_ca, (const unsigned char *)p->cfg.client_ca_pem,
                                     strlen(p->cfg.client_ca_pem) + 1);
        if (ret != 0) return ret;
        mbedtls_ssl_conf_ca_chain(&p->conf, &p->client_ca, NULL);
        mbedtls_ssl_conf_authmode(&p->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&p->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    ret = mbedtls_ssl_conf_own_cert(&p->conf, &p->crt, &p->key);
    if (ret != 0) return ret;
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
    mbedtls_ssl_conf_sni(&p->conf, p_sni, p);
#endif
    ret = mbedtls_ssl_setup(&p->ssl, &p->conf);
    if (ret != 0) return ret;
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_set_export_keys_cb(&p->ssl, p_export_keys, p);
#endif
    mbedtls_ssl_set_bio(&p->ssl, p, bio_send, bio_recv, NULL);
    p->ssl_ready = 1;
    p->loaded_cert = p->cfg.cert_pem;
    p->loaded_ca = p->cfg.client_ca_pem;
    return 0;
}

mem_tscf *mem_tscf_new(const mt_cfg *cfg)
{
    static const char seed[] = "mem_tscf server drbg";
    mem_tscf *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    p->cfg = *cfg;
#if defined(MBEDTLS_PSA_CRYPTO_C)
    (void)psa_crypto_init();
#endif
    mbedtls_hmac_drbg_init(&p->drbg);
    if (mbedtls_hmac_drbg_seed_buf(&p->drbg, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                                   (const unsigned char *)seed, sizeof(seed) - 1) != 0 ||
        p_build_conf(p) != 0) {
        mem_tscf_free(p);
        return NULL;
    }
    p->next_tsid = cfg->tsid;
    p->srv_seq = 0x70000000u;
    return p;
}

void mem_tscf_free(mem_tscf *p)
{
    if (p == NULL) return;
    if (p->conf_ready) {
        mbedtls_ssl_free(&p->ssl);
        mbedtls_ssl_config_free(&p->conf);
        mbedtls_x509_crt_free(&p->crt);
        mbedtls_x509_crt_free(&p->client_ca);
        mbedtls_pk_free(&p->key);
    }
    mbedtls_hmac_drbg_free(&p->drbg);
    q_free(&p->in);
    q_free(&p->out);
    free(p);
}

mt_cfg *mem_tscf_cfg(mem_tscf *p) { return &p->cfg; }
const mt_seen *mem_tscf_seen(const mem_tscf *p) { return &p->seen; }
size_t mem_tscf_secrets(const mem_tscf *p, const mt_secret **out)
{
    *out = p->secrets;
    return p->nsecrets;
}

uint64_t mem_tscf_tsid(const mem_tscf *p) { return p->tsid; }

size_t mem_tscf_count_cms(const mem_tscf *p, int type)
{
    size_t i, n = 0;
    for (i = 0; i < p->seen.n_cms; i++) {
        if (type == 0 || p->seen.cms[i].cm.type == type) n++;
    }
    return n;
}

const mt_cm_rec *mem_tscf_cm(const mem_tscf *p, int type, size_t nth)
{
    size_t i;
    for (i = 0; i < p->seen.n_cms; i++) {
        if (type == 0 || p->seen.cms[i].cm.type == type) {
            if (nth-- == 0) return &p->seen.cms[i];
        }
    }
    return NULL;
}

/* A new TCP connection arrives. */
static void p_conn_open(mem_tscf *p)
{
    if (p->cfg.cert_pem != p->loaded_cert || p->cfg.client_ca_pem != p->loaded_ca) {
        if (p_build_conf(p) != 0) {
            fprintf(stderr, "mem_tscf: cannot load the server certificate\n");
            abort();
        }
    } else {
        mbedtls_ssl_session_reset(&p->ssl);
    }
    q_clear(&p->in);
    q_clear(&p->out);
    p->open = 1;
    p->phase = p->cfg.proxy == MT_PROXY_NONE ? PH_TLS : PH_PROXY;
    p->hs_done = 0;
    p->dead = 0;
    p->want_close = 0;
    p->records_out = 0;
    p->head_len = 0;
    p->seen.sni_present = 0;
    p->seen.sni[0] = 0;
    (void)tse_deframer_init(&p->df, p->cfg.ftt ? TSE_FRAMING_FTT : TSE_FRAMING_TSCF,
                            p->dfbuf, sizeof(p->dfbuf));
    p->seen.conns++;
    if (p->cfg.proxy == MT_PROXY_RAW && p->cfg.raw_on_open) {
        q_push(&p->out, (const uint8_t *)p->cfg.proxy_raw, p->cfg.proxy_raw_len);
        p->phase = PH_TLS;
        p->dead = 1;
    }
}

/* The connection is gone (either side). */
static void p_conn_close(mem_tscf *p)
{
    p->open = 0;
    p->want_close = 0;
    q_clear(&p->in);
    q_clear(&p->out);
}

/* ---- TLS plaintext out -------------------------------------------------- */

int mem_tscf_send_plain(mem_tscf *p, const uint8_t *data, size_t len)
{
    size_t off = 0;
    int guard = 0;
    if (!p->open || !p->hs_done || p->dead) return -1;
    while (off < len && guard++ < 1000) {
        int r = mbedtls_ssl_write(&p->ssl, data + off, len - off);
        if (r > 0) {
            off += (size_t)r;
        } else if (r != MBEDTLS_ERR_SSL_WANT_WRITE && r != MBEDTLS_ERR_SSL_WANT_READ) {
            p->seen.tls_error = r;
            return -1;
        }
    }
    return off == len ? 0 : -1;
}

int mem_tscf_send_cm(mem_tscf *p, const tse_cm *cm)
{
    uint8_t buf[TSE_CM_MAX_ENCODED];
    size_t n = 0;
    if (tse_cm_encode(cm, buf, sizeof(buf), &n) != TSE_OK) return -1;
    return mem_tscf_send_plain(p, buf, n);
}

int mem_tscf_send_packet(mem_tscf *p, const uint8_t *pkt, size_t len)
{
    if (p->cfg.ftt) {
        static uint8_t env[65536];
        int n;
        if (len == 0 || (pkt[0] >> 4 != 4 && pkt[0] >> 4 != 6)) return -1;
        n = tse_frame_unit(TSE_FRAMING_FTT, pkt[0] >> 4, pkt, len, env, sizeof(env));
        if (n < 0) return -1;
        return mem_tscf_send_plain(p, env, (size_t)n);
    }
    return mem_tscf_send_plain(p, pkt, len);
}

static uint16_t csum(const uint8_t *d, size_t n, uint32_t sum);

/* FTT: an ICMP Echo Request (RFC 792) from ftt_gw to the inner address:
 * the engine takes its destination as its address. */
static void p_ftt_announce(mem_tscf *p)
{
    uint8_t pkt[28];
    uint16_t c;
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0x45;
    pkt[3] = sizeof(pkt);
    pkt[8] = 64;
    pkt[9] = 1; /* ICMP */
    memcpy(pkt + 12, p->cfg.ftt_gw, 4);
    memcpy(pkt + 16, p->cfg.ipv4, 4);
    c = csum(pkt, 20, 0);
    pkt[10] = (uint8_t)(c >> 8);
    pkt[11] = (uint8_t)c;
    pkt[20] = 8; /* Echo Request */
    pkt[25] = 1; /* identifier 0, sequence 1 */
    c = csum(pkt + 20, 8, 0);
    pkt[22] = (uint8_t)(c >> 8);
    pkt[23] = (uint8_t)c;
    memcpy(p->ipv4, p->cfg.ipv4, 4);
    (void)mem_tscf_send_packet(p, pkt, sizeof(pkt));
}

int mem_tscf_send_empty_record(mem_tscf *p)
{
    static const uint8_t none[1] = { 0 };
    int r;
    if (!p->open || !p->hs_done || p->dead) return -1;
    r = mbedtls_ssl_write(&p->ssl, none, 0);
    return r >= 0 ? 0 : -1;
}

void mem_tscf_corrupt_next(mem_tscf *p)
{
    p->cfg.corrupt_record = p->records_out + 1;
}

int mem_tscf_close_notify(mem_tscf *p)
{
    int r, guard = 0;
    if (!p->open || !p->hs_done || p->dead) return -1;
    do {
        r = mbedtls_ssl_close_notify(&p->ssl);
    } while (r == MBEDTLS_ERR_SSL_WANT_WRITE && guard++ < 100);
    p->dead = 1;
    return r == 0 ? 0 : -1;
}

int mem_tscf_tls_version(const mem_tscf *p)
{
    if (!p->open || !p->hs_done) return 0;
#if MBEDTLS_VERSION_MAJOR >= 3
    return (int)mbedtls_ssl_get_version_number(&p->ssl);
#else
    {
        const char *v = mbedtls_ssl_get_version(&p->ssl);
        return strcmp(v, "TLSv1.2") == 0 ? 0x0303 : strcmp(v, "TLSv1.3") == 0 ? 0x0304 : 0;
    }
#endif
}

int mem_tscf_send_release(mem_tscf *p)
{
    tse_cm cm;
    memset(&cm, 0, sizeof(cm));
    cm.type = TSE_CM_RELEASE_REQUEST;
    cm.tsid = p->tsid;
    cm.seq = p->srv_seq++;
    if (mem_tscf_send_cm(p, &cm) != 0) return -1;
    p->tsid = 0; /* released: this tunnel cannot be resumed */
    return 0;
}

/* ---- TSCF responder ----------------------------------------------------- */

static void p_respond(mem_tscf *p, uint8_t type, uint64_t tsid, uint32_t seq,
                      int code, int with_code)
{
    tse_cm r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.tsid = tsid;
    r.seq = seq;
    if (with_code) {
        r.present |= TSE_CM_HAS_RESPONSE_CODE;
        r.response_code = (uint16_t)code;
    }
    (void)mem_tscf_send_cm(p, &r);
}

static void p_on_config(mem_tscf *p, const tse_cm *q)
{
    tse_cm r;
    int resumed = 0;
    if (p->cfg.ignore_config) return;
    memset(&r, 0, sizeof(r));
    r.type = TSE_CM_CONFIG_RESPONSE;
    r.seq = p->cfg.config_wrong_seq ? q->seq + 1 : q->seq;
    r.present = TSE_CM_HAS_RESPONSE_CODE;
    if (p->cfg.response_code != 0 &&
        (p->cfg.reject_times < 0 || p->rejects_done < p->cfg.reject_times)) {
        p->rejects_done++;
        r.tsid = q->tsid;
        r.response_code = p->cfg.response_code;
        (void)mem_tscf_send_cm(p, &r);
        return;
    }
    if (q->tsid != TSE_CM_TSID_NONE && p->cfg.resume && p->tsid != 0 && q->tsid == p->tsid) {
        resumed = 1;
        if (p->cfg.resume_new_addr) {
            memcpy(p->ipv4, p->cfg.resume_ipv4, 4);
        }
    } else {
        p->tsid = p->next_tsid;
        p->next_tsid += 0x100;
        memcpy(p->ipv4, p->cfg.ipv4, 4);
    }
    (void)resumed;
    r.tsid = p->tsid;
    if (p->cfg.config_wrong_tsid) r.tsid = p->tsid ^ UINT64_C(0x00FF00FF00FF00FF);
    r.response_code = TSE_RC_SUCCESS;
    if (!p->cfg.omit_ipv4) {
        r.present |= TSE_CM_HAS_IPV4_ADDRESS | TSE_CM_HAS_IPV4_NETMASK;
        memcpy(r.ipv4_addr, p->ipv4, 4);
        memcpy(r.ipv4_mask, p->cfg.ipv4_mask, 4);
    }
    if (p->cfg.assign_ipv6) {
        r.present |= TSE_CM_HAS_IPV6_ADDRESS | TSE_CM_HAS_IPV6_NETMASK;
        memcpy(r.ipv6_addr, p->cfg.ipv6, 16);
        memcpy(r.ipv6_mask, p->cfg.ipv6_mask, 16);
    }
    if (p->cfg.keepalive_s) {
        r.present |= TSE_CM_HAS_KEEPALIVE;
        r.keepalive_s = p->cfg.keepalive_s;
    }
    {
        uint8_t buf[TSE_CM_MAX_ENCODED + 8 + 4096];
        size_t n = 0;
        if (tse_cm_encode(&r, buf, TSE_CM_MAX_ENCODED, &n) != TSE_OK) return;
        if (p->cfg.config_extra_tlv) {
            uint16_t cnt = (uint16_t)((buf[2] << 8 | buf[3]) + 1);
            buf[2] = (uint8_t)(cnt >> 8);
            buf[3] = (uint8_t)cnt;
            buf[n++] = 200; buf[n++] = 3; buf[n++] = 1; buf[n++] = 2; buf[n++] = 3;
        }
        if (p->cfg.post_config_len > 0 && p->cfg.post_config_len <= 4096) {
            memcpy(buf + n, p->cfg.post_config, p->cfg.post_config_len);
            n += p->cfg.post_config_len;
        }
        if (p->cfg.config_split) {
            (void)mem_tscf_send_plain(p, buf, 1);
            (void)mem_tscf_send_plain(p, buf + 1, n - 1);
        } else {
            (void)mem_tscf_send_plain(p, buf, n);
        }
    }
}

static void p_on_cm(mem_tscf *p, const tse_cm *cm)
{
    switch (cm->type) {
    case TSE_CM_CONFIG_REQUEST:
        p_on_config(p, cm);
        break;
    case TSE_CM_KEEPALIVE:
        if (p->cfg.ka_answer_limit < 0 || p->ka_answered < p->cfg.ka_answer_limit) {
            uint64_t tsid = p->cfg.ka_wrong_tsid ? p->tsid ^ 1u : cm->tsid;
            uint32_t seq = p->cfg.ka_wrong_seq ? cm->seq + 1 : cm->seq;
            p->ka_answered++;
            /* Table A.1.8-2: TLV_Count 0 */
            p_respond(p, TSE_CM_KEEPALIVE_RESPONSE, tsid, seq,
                      p->cfg.ka_code > 0 ? p->cfg.ka_code - 1 : 0, p->cfg.ka_code > 0);
        }
        break;
    case TSE_CM_RELEASE_REQUEST:
        if (!p->cfg.ignore_release) {
            p_respond(p, TSE_CM_RELEASE_RESPONSE, cm->tsid, cm->seq, TSE_RC_SUCCESS, 1);
            p->tsid = 0; /* released: no resume */
            if (p->cfg.close_after_release) p->want_close = 1;
        }
        break;
    default:
        break;
    }
}

static void p_on_packet(mem_tscf *p, const uint8_t *d, size_t n, int kind)
{
    mt_seen *s = &p->seen;
    s->pkts_total++;
    s->units++;
    if (s->n_pkts < MT_MAX_PKTS) {
        mt_pkt_rec *r = &s->pkts[s->n_pkts++];
        r->len = n;
        memcpy(r->data, d, n < MT_PKT_MAX ? n : MT_PKT_MAX);
        r->conn = s->conns;
        r->at = p_now(p);
        r->ord = s->units;
    }
    if (p->cfg.echo && n <= sizeof(p->dfbuf)) {
        static uint8_t e[65536];
        uint8_t tmp[16];
        memcpy(e, d, n);
        if (kind == TSE_UNIT_IPV4 && n >= 20) {
            memcpy(tmp, e + 12, 4); memcpy(e + 12, e + 16, 4); memcpy(e + 16, tmp, 4);
        } else if (kind == TSE_UNIT_IPV6 && n >= 40) {
            memcpy(tmp, e + 8, 16); memcpy(e + 8, e + 24, 16); memcpy(e + 24, tmp, 16);
        }
        (void)mem_tscf_send_packet(p, e, n);
    }
}

static void p_on_plain(mem_tscf *p, const uint8_t *d, size_t n)
{
    if (p->cfg.app_raw) {
        size_t keep = p->seen.app_len < MT_APP_MAX ? MT_APP_MAX - p->seen.app_len : 0;
        memcpy(p->seen.app + p->seen.app_len, d, n < keep ? n : keep);
        p->seen.app_len += n;
        if (p->cfg.app_echo) {
            (void)mem_tscf_send_plain(p, d, n);
        }
        return;
    }
    while (n > 0 && p->seen.unit_error == 0) {
        size_t used = 0;
        tse_unit u;
        int r = tse_deframer_feed(&p->df, d, n, &used, &u);
        if (r < 0) {
            p->seen.unit_error = r;
            return;
        }
        d += used;
        n -= used;
        if (r == 1) {
            if (u.kind == TSE_UNIT_CM) {
                tse_cm cm;
                int e = tse_cm_decode(&cm, u.data, u.len);
                if (e != TSE_OK) {
                    p->seen.unit_error = e;
                    return;
                }
                if (p->seen.n_cms < MT_MAX_CMS) {
                    mt_cm_rec *rec = &p->seen.cms[p->seen.n_cms++];
                    rec->cm = cm;
                    rec->conn = p->seen.conns;
                    rec->at = p_now(p);
                    rec->ord = p->seen.units + 1;
                }
                p->seen.units++;
                p_on_cm(p, &cm);
            } else {
                p_on_packet(p, u.data, u.len, u.kind);
            }
        } else if (used == 0) {
            return;
        }
    }
}

static void p_tls_run(mem_tscf *p)
{
    int guard;
    if (p->dead || p->cfg.tls_silent) {
        q_clear(&p->in);
        return;
    }
    if (!p->hs_done) {
        int r = mbedtls_ssl_handshake(&p->ssl);
        if (r == 0) {
            p->hs_done = 1;
            p->seen.handshakes++;
            if (p->cfg.ftt && !p->cfg.ftt_no_announce) {
                p_ftt_announce(p);
            }
        } else {
            if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
                /* like a real server: (alert already written) then close */
                p->seen.tls_error = r;
                p->dead = 1;
                p->want_close = 1;
            }
            return;
        }
    }
    for (guard = 0; guard < 100000; guard++) {
        uint8_t buf[4096];
        int r = mbedtls_ssl_read(&p->ssl, buf, sizeof(buf));
        if (r > 0) {
            p_on_plain(p, buf, (size_t)r);
            continue;
        }
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
            return;
        }
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue;
#endif
        if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            p->seen.close_notify = 1;
            p->dead = 1;
            return;
        }
        if (r == 0) return;
        p->seen.tls_error = r;
        p->dead = 1;
        p->want_close = 1;
        return;
    }
}

/* ---- proxy front -------------------------------------------------------- */

static void p_write_str(mem_tscf *p, const char *s)
{
    q_push(&p->out, (const uint8_t *)s, strlen(s));
}

/* Value of header @p name in the request head (case-insensitive name). */
static int head_header(const char *head, const char *name, char *out, size_t cap)
{
    const char *l = strstr(head, "\r\n");
    size_t nl = strlen(name);
    while (l != NULL) {
        const char *line = l + 2;
        const char *end = strstr(line, "\r\n");
        if (end == NULL || end == line) break;
        if ((size_t)(end - line) > nl && line[nl] == ':' &&
            ci_ncmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            size_t n;
            while (*v == ' ' || *v == '\t') v++;
            n = (size_t)(end - v);
            if (n >= cap) n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return 1;
        }
        l = end;
    }
    return 0;
}

/* Digest parameter @p key from a "Digest k=v, k="v"" value. */
static int digest_param(const char *v, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *s = v;
    if (ci_ncmp(s, "Digest ", 7) == 0) s += 7;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (ci_ncmp(s, key, kl) == 0 && s[kl] == '=') {
            size_t n = 0;
            s += kl + 1;
            if (*s == '"') {
                s++;
                while (*s && *s != '"' && n + 1 < cap) out[n++] = *s++;
            } else {
                while (*s && *s != ',' && *s != ' ' && n + 1 < cap) out[n++] = *s++;
            }
            out[n] = 0;
            return 1;
        }
        /* skip this parameter */
        while (*s && *s != '=') s++;
        if (*s == '=') s++;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') s++;
            if (*s) s++;
        } else {
            while (*s && *s != ',') s++;
        }
    }
    return 0;
}

static void hex_hash(mbedtls_md_type_t md, const char *in, char *out)
{
    uint8_t h[32];
    const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(md);
    size_t i, n = mbedtls_md_get_size(mi);
    (void)mbedtls_md(mi, (const unsigned char *)in, strlen(in), h);
    for (i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", h[i]);
    out[2 * n] = 0;
}

#define MT_REALM "tscf-test@proxy"
#define MT_NONCE "dcd98b7102dd2f0e8b11d0f600bfb0c093"

static const char *p_nonce(const mem_tscf *p)
{
    static char buf[64];
    if (!p->cfg.digest_nonce_per_conn) return MT_NONCE;
    snprintf(buf, sizeof(buf), "%s%u", MT_NONCE, p->seen.conns);
    return buf;
}

static void auth_fail(mem_tscf *p, const char *why)
{
    p->seen.auth_bad++;
    snprintf(p->seen.auth_why, sizeof(p->seen.auth_why), "%s", why);
}

/* 1 if the request carries the right credentials for the mode. */
static int p_check_auth(mem_tscf *p, const char *head)
{
    char v[1024];
    const char *user = p->cfg.proxy_user ? p->cfg.proxy_user : "";
    const char *pass = p->cfg.proxy_pass ? p->cfg.proxy_pass : "";
    if (!head_header(head, "Proxy-Authorization", v, sizeof(v))) {
        auth_fail(p, "no Proxy-Authorization");
        return 0;
    }
    if (p->cfg.proxy == MT_PROXY_407_BASIC || p->cfg.proxy == MT_PROXY_407_TWICE) {
        char up[512], want[1024];
        size_t olen = 0;
        snprintf(up, sizeof(up), "%s:%s", user, pass);
        if (mbedtls_base64_encode((unsigned char *)want, sizeof(want) - 1, &olen,
                                  (const unsigned char *)up, strlen(up)) != 0) {
            auth_fail(p, "base64");
            return 0;
        }
        want[olen] = 0;
        if (strncmp(v, "Basic ", 6) != 0 || strcmp(v + 6, want) != 0) {
            auth_fail(p, "Basic credentials differ");
            return 0;
        }
    } else {
        mbedtls_md_type_t md = p->cfg.proxy == MT_PROXY_407_DIGEST_SHA256
                                   ? MBEDTLS_MD_SHA256 : MBEDTLS_MD_MD5;
        char username[256], realm[128], nonce[128], uri[300], response[128];
        char qop[32], nc[32], cnonce[128], alg[32];
        char a1[800], ha1[65], a2[400], ha2[65], all[1200], want[65];
        if (strncmp(v, "Digest ", 7) != 0 ||
            !digest_param(v, "username", username, sizeof(username)) ||
            !digest_param(v, "realm", realm, sizeof(realm)) ||
            !digest_param(v, "nonce", nonce, sizeof(nonce)) ||
            !digest_param(v, "uri", uri, sizeof(uri)) ||
            !digest_param(v, "response", response, sizeof(response)) ||
            !digest_param(v, "qop", qop, sizeof(qop)) ||
            !digest_param(v, "nc", nc, sizeof(nc)) ||
            !digest_param(v, "cnonce", cnonce, sizeof(cnonce))) {
            auth_fail(p, "Digest parameter missing");
            return 0;
        }
        if (md == MBEDTLS_MD_SHA256 &&
            (!digest_param(v, "algorithm", alg, sizeof(alg)) || strcmp(alg, "SHA-256") != 0)) {
            auth_fail(p, "algorithm is not SHA-256");
            return 0;
        }
        if (strcmp(username, user) != 0 || strcmp(realm, MT_REALM) != 0 ||
            strcmp(nonce, p_nonce(p)) != 0 || strcmp(qop, "auth") != 0) {
            auth_fail(p, "username/realm/nonce/qop differ");
            return 0;
        }
        snprintf(a1, sizeof(a1), "%s:%s:%s", username, realm, pass);
        hex_hash(md, a1, ha1);
        snprintf(a2, sizeof(a2), "CONNECT:%s", uri);
        hex_hash(md, a2, ha2);
        snprintf(all, sizeof(all), "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2);
        hex_hash(md, all, want);
        if (strcmp(want, response) != 0) {
            auth_fail(p, "Digest response differs");
            return 0;
        }
    }
    p->seen.auth_ok++;
    return 1;
}

static void p_send_407(mem_tscf *p)
{
    char buf[640], ch[400];
    switch (p->cfg.proxy) {
    case MT_PROXY_407_DIGEST_MD5:
    case MT_PROXY_407_DIGEST_SHA256:
        snprintf(ch, sizeof(ch), "Digest realm=\"" MT_REALM "\", qop=\"auth\", nonce=\"%s\", "
                 "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", algorithm=%s", p_nonce(p),
                 p->cfg.proxy == MT_PROXY_407_DIGEST_MD5 ? "MD5" : "SHA-256");
        break;
    default:
        snprintf(ch, sizeof(ch), "Basic realm=\"" MT_REALM "\"");
        break;
    }
    if (p->cfg.proxy_407_body != NULL && p->cfg.proxy_407_chunked) {
        /* the body as one chunk, then the last chunk */
        snprintf(buf, sizeof(buf),
                 "HTTP/1.1 407 Proxy Authentication Required\r\n"
                 "Proxy-Authenticate: %s\r\n"
                 "Transfer-Encoding: chunked\r\n%s\r\n%zx\r\n",
                 ch, p->cfg.proxy_close_after_407 ? "Connection: close\r\n" : "",
                 strlen(p->cfg.proxy_407_body));
        p_write_str(p, buf);
        p_write_str(p, p->cfg.proxy_407_body);
        p_write_str(p, "\r\n0\r\n\r\n");
    } else {
        const char *body = p->cfg.proxy_407_body ? p->cfg.proxy_407_body : "";
        snprintf(buf, sizeof(buf),
                 "HTTP/1.1 407 Proxy Authentication Required\r\n"
                 "Proxy-Authenticate: %s\r\n"
                 "Content-Length: %zu\r\n%s\r\n",
                 ch, strlen(body), p->cfg.proxy_close_after_407 ? "Connection: close\r\n" : "");
        p_write_str(p, buf);
        p_write_str(p, body);
    }
    p->n407++;
    if (p->cfg.proxy_close_after_407) p->want_close = 1;
}

static void p_go_tls(mem_tscf *p)
{
    p->phase = PH_TLS;
    if (q_avail(&p->in) > 0) p_tls_run(p);
}

static void p_proxy_run(mem_tscf *p)
{
    char *end;
    size_t take;
    if (p->want_close) {
        q_clear(&p->in);
        return;
    }
    /* Collect the request head; keep what follows it in p->in (TLS). */
    take = q_avail(&p->in);
    if (take > sizeof(p->head) - 1 - p->head_len) take = sizeof(p->head) - 1 - p->head_len;
    memcpy(p->head + p->head_len, q_data(&p->in), take);
    p->head[p->head_len + take] = 0;
    end = strstr(p->head, "\r\n\r\n");
    if (end == NULL) {
        p->head_len += take;
        q_drop(&p->in, take);
        return;
    }
    {
        size_t hl = (size_t)(end + 4 - p->head);
        q_drop(&p->in, hl - p->head_len);
        p->head_len = hl;
        p->head[hl] = 0;
    }
    if (p->seen.n_heads < MT_MAX_HEADS) {
        char *dst = p->seen.heads[p->seen.n_heads++];
        size_t hl = strlen(p->head);
        if (hl > MT_HEAD_MAX - 1) hl = MT_HEAD_MAX - 1;
        memcpy(dst, p->head, hl);
        dst[hl] = 0;
    }
    p->head_len = 0;

    switch (p->cfg.proxy) {
    case MT_PROXY_200:
        p_write_str(p, "HTTP/1.1 200 Connection established\r\n\r\n");
        p_go_tls(p);
        break;
    case MT_PROXY_200_GLUED:
        p_write_str(p, "HTTP/1.1 200 Connection established\r\n\r\n");
        if (q_avail(&p->in) == 0 && p->cfg.glue_len > 0) {
            q_push(&p->out, p->cfg.glue, p->cfg.glue_len);
        }
        p_go_tls(p);
        break;
    case MT_PROXY_407_BASIC:
    case MT_PROXY_407_DIGEST_MD5:
    case MT_PROXY_407_DIGEST_SHA256:
        if (strstr(p->head, "\r\nProxy-Authorization:") == NULL &&
            strstr(p->head, "\r\nproxy-authorization:") == NULL) {
            p_send_407(p);
        } else if (p_check_auth(p, p->head)) {
            p_write_str(p, "HTTP/1.1 200 Connection established\r\n\r\n");
            p_go_tls(p);
        } else {
            p_send_407(p);
        }
        break;
    case MT_PROXY_407_TWICE:
        if (strstr(p->head, "\r\nProxy-Authorization:") != NULL) {
            (void)p_check_auth(p, p->head);
        }
        p_send_407(p);
        break;
    case MT_PROXY_403:
        p_write_str(p, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        p->want_close = 1;
        break;
    case MT_PROXY_GARBAGE:
        p_write_str(p, "SSH-2.0-OpenSSH_9.2 garbage\r\n\r\n");
        break;
    case MT_PROXY_OVERSIZED: {
        int i;
        p_write_str(p, "HTTP/1.1 200 Connection established\r\n");
        for (i = 0; i < 300; i++) {
            p_write_str(p, "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        p_write_str(p, "\r\n");
        break;
    }
    case MT_PROXY_RAW:
        q_push(&p->out, (const uint8_t *)p->cfg.proxy_raw, p->cfg.proxy_raw_len);
        if (p->cfg.raw_then_tls) p_go_tls(p);
        break;
    default:
        break;
    }
}

/* Bytes from the engine. */
static void p_input(mem_tscf *p, const uint8_t *d, size_t n)
{
    q_push(&p->in, d, n);
    if (p->phase == PH_PROXY) {
        p_proxy_run(p);
    } else {
        p_tls_run(p);
    }
}

/* ---- byte level ----------------------------------------------------------- */

void mem_tscf_set_clock(mem_tscf *p, const tse_time_ms *clock) { p->clock = clock; }
void mem_tscf_conn_open(mem_tscf *p) { p_conn_open(p); }
void mem_tscf_conn_input(mem_tscf *p, const uint8_t *d, size_t n)
{
    if (p->open) p_input(p, d, n);
}
size_t mem_tscf_conn_output(const mem_tscf *p, const uint8_t **data)
{
    *data = q_data(&p->out);
    return p->open ? q_avail(&p->out) : 0;
}
void mem_tscf_conn_consume(mem_tscf *p, size_t n) { q_drop(&p->out, n); }
int mem_tscf_conn_want_close(const mem_tscf *p) { return p->open && p->want_close; }
void mem_tscf_conn_close(mem_tscf *p) { p_conn_close(p); }

/* ======================================================================== */
/* recorder                                                                 */

static void rec_on_event(void *user, const tse_event *ev)
{
    mt_rec *r = user;
    if (r->n_ev < MT_MAX_EVS) {
        mt_ev *e = &r->ev[r->n_ev++];
        memset(e, 0, sizeof(*e));
        e->type = ev->type;
        e->state = ev->state;
        e->old_state = ev->old_state;
        e->error = ev->error;
        e->proxy_status = ev->proxy_status;
        e->response_code = ev->response_code;
        e->retry_in_ms = ev->retry_in_ms;
        if (ev->detail != NULL) {
            e->has_detail = 1;
            snprintf(e->detail, sizeof(e->detail), "%s", ev->detail);
        }
        if (ev->config != NULL) {
            e->has_config = 1;
            e->config = *ev->config;
        }
        e->at = r->clock ? *r->clock : 0;
    } else {
        r->ev_dropped++;
    }
    if (r->hook != NULL) r->hook(r, ev, r->hook_arg);
}

static void rec_on_packet(void *user, const uint8_t *pkt, size_t len)
{
    mt_rec *r = user;
    r->in_total++;
    if (r->n_in < MT_MAX_INPKTS) {
        mt_pkt_rec *p = &r->in[r->n_in++];
        p->len = len;
        memcpy(p->data, pkt, len < MT_PKT_MAX ? len : MT_PKT_MAX);
        p->at = r->clock ? *r->clock : 0;
    }
}

static int rec_entropy(void *user, uint8_t *buf, size_t len)
{
    mt_rec *r = user;
    size_t i;
    if (r->entropy_fail) return -1;
    for (i = 0; i < len; i++) {
        /* xorshift64* - deterministic, good enough for tests */
        r->prng ^= r->prng >> 12;
        r->prng ^= r->prng << 25;
        r->prng ^= r->prng >> 27;
        buf[i] = (uint8_t)((r->prng * UINT64_C(2685821657736338717)) >> 56);
    }
    return 0;
}

void mt_rec_init(mt_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->prng = UINT64_C(0x9E3779B97F4A7C15);
}

const tse_callbacks *mt_rec_callbacks(void)
{
    static const tse_callbacks cb = { rec_on_event, rec_on_packet, rec_entropy, NULL };
    return &cb;
}

size_t mt_rec_count(const mt_rec *r, tse_event_type type)
{
    size_t i, n = 0;
    for (i = 0; i < r->n_ev; i++) {
        if (r->ev[i].type == type) n++;
    }
    return n;
}

const mt_ev *mt_rec_nth(const mt_rec *r, tse_event_type type, size_t nth)
{
    size_t i;
    for (i = 0; i < r->n_ev; i++) {
        if (r->ev[i].type == type && nth-- == 0) return &r->ev[i];
    }
    return NULL;
}

const mt_ev *mt_rec_last(const mt_rec *r, tse_event_type type)
{
    size_t i = r->n_ev;
    while (i-- > 0) {
        if (r->ev[i].type == type) return &r->ev[i];
    }
    return NULL;
}

void mt_rec_dump(const mt_rec *r)
{
    static const char *names[] = { "?", "STATE", "UP", "DOWN", "ADDR_CHANGED",
                                   "WARNING", "RECONNECT" };
    size_t i;
    for (i = 0; i < r->n_ev; i++) {
        const mt_ev *e = &r->ev[i];
        fprintf(stderr, "  ev %2zu t=%llu %-12s %s -> %s err=%d (%s) proxy=%d rc=%d retry=%u %s\n",
                i, (unsigned long long)e->at,
                (e->type >= 1 && e->type <= 6) ? names[e->type] : "?",
                tse_state_name(e->old_state), tse_state_name(e->state), e->error,
                tse_strerror(e->error), e->proxy_status, e->response_code,
                (unsigned)e->retry_in_ms, e->has_detail ? e->detail : "");
    }
}

/* ---- allocator ---------------------------------------------------------- */

static void *mt_calloc(void *user, size_t n, size_t size)
{
    mt_alloc *a = user;
    a->total++;
    if (a->fail_at != 0 && a->total == a->fail_at) return NULL;
    {
        void *p = calloc(n, size);
        if (p != NULL) a->live++;
        return p;
    }
}

static void mt_free(void *user, void *ptr)
{
    mt_alloc *a = user;
    if (ptr != NULL) a->live--;
    free(ptr);
}

const tse_mem *mt_mem(mt_alloc *a)
{
    a->mem.user = a;
    a->mem.calloc = mt_calloc;
    a->mem.free = mt_free;
    return &a->mem;
}

void mt_settings_default(tse_settings *s)
{
    const test_pki *pki = test_pki_get();
    tse_settings_default(s);
    s->server_host = "tscf.test";
    s->server_port = 443;
    s->ca = (const uint8_t *)pki->ca_pem;
    s->ca_len = strlen(pki->ca_pem) + 1;
    s->connect_timeout_ms = 5000;
    s->proxy_timeout_ms = 5000;
    s->tls_timeout_ms = 5000;
    s->config_timeout_ms = 5000;
    s->ka_response_timeout_ms = 5000;
    s->release_timeout_ms = 2000;
}

/* ======================================================================== */
/* driver                                                                   */

void mt_drv_init(mt_drv *d, tse_tunnel *t, mem_tscf *peer, mt_rec *rec,
                 tse_time_ms start)
{
    memset(d, 0, sizeof(*d));
    d->t = t;
    d->peer = peer;
    d->rec = rec;
    d->now = start;
    if (rec != NULL) rec->clock = &d->now;
    if (peer != NULL) peer->clock = &d->now;
}

static void drv_rc(mt_drv *d, int rc)
{
    if (rc < 0) d->last_rc = rc;
}

static void drv_drop_conn(mt_drv *d)
{
    d->connected = 0;
    mt_peer_running++;
    if (d->peer) p_conn_close(d->peer);
    mt_peer_running--;
}

static size_t drv_chunk(mt_drv *d, size_t limit, size_t avail)
{
    size_t k = (limit && limit < avail) ? limit : avail;
    if (d->chunk_rand != 0 && k > 1) {
        d->chunk_rand ^= d->chunk_rand << 13;
        d->chunk_rand ^= d->chunk_rand >> 7;
        d->chunk_rand ^= d->chunk_rand << 17;
        k = 1 + (size_t)(d->chunk_rand % k);
    }
    return k;
}

/* One round; returns 1 if anything happened. */
static int drv_step(mt_drv *d)
{
    int progress = 0;
    unsigned w = tse_tunnel_want(d->t);

    if (w & TSE_WANT_DISCONNECT) {
        drv_drop_conn(d);
        d->connecting = 0;
        d->disconnects++;
        drv_rc(d, tse_tunnel_transport_closed(d->t, 0, d->now));
        return 1;
    }
    if (!(w & TSE_WANT_CONNECT)) {
        d->connecting = 0;
    } else if (!d->connected && !d->connecting) {
        const char *h = NULL;
        uint16_t port = 0;
        int res = 0;
        drv_rc(d, tse_tunnel_connect_target(d->t, &h, &port));
        snprintf(d->last_host, sizeof(d->last_host), "%s", h ? h : "(null)");
        d->last_port = port;
        d->connects++;
        if (d->connect_result != 0 &&
            (d->connect_fail_times < 0 || d->connect_fail_times > 0)) {
            if (d->connect_fail_times > 0) d->connect_fail_times--;
            res = d->connect_result;
        }
        if (d->blocked_result != 0 &&
            (port == d->blocked_port || port == d->blocked_port_2)) {
            res = d->blocked_result;
        }
        if (res == MT_CONNECT_HANG) {
            d->connecting = 1;
        } else if (res != 0) {
            drv_rc(d, tse_tunnel_transport_closed(d->t, res, d->now));
        } else {
            d->connected = 1;
            mt_peer_running++;
            if (d->peer) p_conn_open(d->peer);
            mt_peer_running--;
            drv_rc(d, tse_tunnel_transport_connected(d->t, d->now));
        }
        return 1;
    }

    if (d->connected) {
        const uint8_t *data = NULL;
        size_t n = d->hold_to_peer ? 0 : tse_tunnel_outer_pending(d->t, &data);
        if (n > 0) {
            if (d->last_dir != 1) d->flights++;
            d->last_dir = 1;
            size_t k = drv_chunk(d, d->chunk_to_peer, n);
            mt_peer_running++;
            if (d->peer) p_input(d->peer, data, k);
            mt_peer_running--;
            tse_tunnel_outer_consume(d->t, k);
            d->bytes_to_peer += k;
            progress = 1;
        }
        if (d->connected && d->peer && q_avail(&d->peer->out) > 0) {
            size_t a = q_avail(&d->peer->out);
            size_t k = drv_chunk(d, d->chunk_to_engine, a);
            uint8_t *copy = malloc(k);
            if (copy == NULL) abort();
            memcpy(copy, q_data(&d->peer->out), k);
            q_drop(&d->peer->out, k);
            d->bytes_to_engine += k;
            d->last_dir = 2;
            drv_rc(d, tse_tunnel_recv_outer(d->t, copy, k, d->now));
            free(copy);
            progress = 1;
        } else if (d->connected && d->peer && d->peer->want_close) {
            drv_drop_conn(d);
            drv_rc(d, tse_tunnel_transport_closed(d->t, TSE_ERR_TRANSPORT_CLOSED, d->now));
            progress = 1;
        }
    }
    if (!progress && tse_tunnel_expiry(d->t) <= d->now) {
        d->expiries++;
        drv_rc(d, tse_tunnel_handle_expiry(d->t, d->now));
        /* an expiry that does not move the deadline is a stuck engine;
         * the bound in mt_pump catches it */
        progress = 1;
    }
    return progress;
}

int mt_steps(mt_drv *d, int n)
{
    int i, did = 0;
    for (i = 0; i < n; i++) {
        if (!drv_step(d)) break;
        did++;
    }
    return did;
}

void mt_pump(mt_drv *d)
{
    int i;
    for (i = 0; i < 200000; i++) {
        if (!drv_step(d)) return;
    }
    d->stuck = 1;
}

int mt_run_until(mt_drv *d, int (*pred)(mt_drv *d, void *arg), void *arg,
                 tse_time_ms max_ms)
{
    tse_time_ms deadline = d->now + max_ms;
    int i;
    mt_pump(d);
    for (i = 0; i < 1000000 && !d->stuck; i++) {
        tse_time_ms e;
        if (pred != NULL && pred(d, arg)) return 1;
        e = tse_tunnel_expiry(d->t);
        if (e > deadline) {
            d->now = deadline;
            mt_pump(d);
            return pred != NULL ? pred(d, arg) : 0;
        }
        if (e > d->now) d->now = e;
        mt_pump(d);
    }
    d->stuck = 1;
    return 0;
}

void mt_advance(mt_drv *d, tse_time_ms ms)
{
    (void)mt_run_until(d, NULL, NULL, ms);
}

static int pred_state(mt_drv *d, void *arg)
{
    return tse_tunnel_state(d->t) == *(const tse_state *)arg;
}

int mt_run_until_state(mt_drv *d, tse_state st, tse_time_ms max_ms)
{
    return mt_run_until(d, pred_state, &st, max_ms);
}

struct ev_arg { tse_event_type type; size_t n; };

static int pred_event(mt_drv *d, void *arg)
{
    const struct ev_arg *a = arg;
    return d->rec != NULL && mt_rec_count(d->rec, a->type) >= a->n;
}

int mt_run_until_event(mt_drv *d, tse_event_type type, size_t n, tse_time_ms max_ms)
{
    struct ev_arg a;
    a.type = type;
    a.n = n;
    return mt_run_until(d, pred_event, &a, max_ms);
}

void mt_cut(mt_drv *d)
{
    if (d->connected) {
        drv_drop_conn(d);
        drv_rc(d, tse_tunnel_transport_closed(d->t, TSE_ERR_TRANSPORT_RESET, d->now));
    }
}

void mt_peer_close(mt_drv *d)
{
    if (d->connected) {
        drv_drop_conn(d);
        drv_rc(d, tse_tunnel_transport_closed(d->t, TSE_ERR_TRANSPORT_CLOSED, d->now));
    }
}

/* ---- packets ------------------------------------------------------------ */

static uint16_t csum(const uint8_t *d, size_t n, uint32_t sum)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) sum += (uint32_t)(d[i] << 8 | d[i + 1]);
    if (n & 1) sum += (uint32_t)d[n - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t mt_make_ipv4(uint8_t *out, size_t total, const uint8_t src[4],
                    const uint8_t dst[4], uint8_t seq)
{
    uint16_t c;
    size_t ulen;
    if (total < 28) total = 28;
    memset(out, 0, total);
    out[0] = 0x45;
    out[2] = (uint8_t)(total >> 8);
    out[3] = (uint8_t)total;
    out[4] = 0; out[5] = seq;
    out[8] = 64;
    out[9] = 17; /* UDP */
    memcpy(out + 12, src, 4);
    memcpy(out + 16, dst, 4);
    c = csum(out, 20, 0);
    out[10] = (uint8_t)(c >> 8);
    out[11] = (uint8_t)c;
    ulen = total - 20;
    out[20] = 0x13; out[21] = 0xc4;   /* 5060 */
    out[22] = 0x13; out[23] = 0xc4;
    out[24] = (uint8_t)(ulen >> 8);
    out[25] = (uint8_t)ulen;
    memset(out + 28, seq, total - 28);
    /* UDP checksum 0 = none (IPv4) */
    return total;
}

/* ---- fixture ------------------------------------------------------------ */

long mt_fix_teardown(mt_fix *f)
{
    long live;
    if (f->t != NULL) {
        tse_tunnel_del(f->t);
        f->t = NULL;
    }
    live = f->alloc.live;
    if (f->peer != NULL) {
        mem_tscf_free(f->peer);
        f->peer = NULL;
    }
    return live;
}

void mt_fix_setup(mt_fix *f)
{
    (void)mt_fix_teardown(f);
    memset(f, 0, sizeof(*f));
    mt_cfg_default(&f->cfg);
    mt_settings_default(&f->s);
    mt_rec_init(&f->rec);
}

int mt_fix_start(mt_fix *f, tse_time_ms start)
{
    tse_callbacks cb;
    f->peer = mem_tscf_new(&f->cfg);
    if (f->peer == NULL) {
        fprintf(stderr, "mt_fix_start: mem_tscf_new failed\n");
        abort();
    }
    cb = *mt_rec_callbacks();
    cb.on_trace = f->on_trace;
    f->new_rc = tse_tunnel_new(&f->t, &f->s, &cb, mt_mem(&f->alloc), &f->rec);
    if (f->new_rc != TSE_OK) {
        f->t = NULL;
        return f->new_rc;
    }
    mt_drv_init(&f->d, f->t, f->peer, &f->rec, start);
    f->d.last_rc = tse_tunnel_start(f->t, start);
    return TSE_OK;
}
