/* pcap_out: pcap-ng writer (see pcap_out.h).  Blocks are written in the
 * host's byte order, which the Section Header's byte-order magic tells the
 * reader. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "pcap_out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A block is assembled here, then written with one fwrite. */
typedef struct blk {
    uint8_t *b;
    size_t len, cap;
} blk;

struct pcap_out {
    FILE *f;
    blk k;      /* the block being written (grown, reused) */
    char *path;
    int failed;
    unsigned long count;
};

/* block types and option codes (pcap-ng, draft-ietf-opsawg-pcapng) */
#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define OPT_END 0
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_DESCRIPTION 3
#define OPT_IF_TSRESOL 9
#define OPT_EPB_FLAGS 2

static int put(blk *k, const void *p, size_t n)
{
    if (k->len + n > k->cap) {
        size_t cap = k->cap ? k->cap : 256;
        uint8_t *nb;
        while (cap < k->len + n) {
            cap *= 2;
        }
        nb = realloc(k->b, cap);
        if (nb == NULL) {
            return -1;
        }
        k->b = nb;
        k->cap = cap;
    }
    if (n != 0) {
        memcpy(k->b + k->len, p, n);
    }
    k->len += n;
    return 0;
}

static int put32(blk *k, uint32_t v)
{
    return put(k, &v, 4);
}

static int put16(blk *k, uint16_t v)
{
    return put(k, &v, 2);
}

static int pad4(blk *k)
{
    static const uint8_t z[4] = {0, 0, 0, 0};
    return put(k, z, (4 - k->len % 4) % 4);
}

static int opt(blk *k, uint16_t code, const void *v, size_t n)
{
    if (put16(k, code) || put16(k, (uint16_t)n) || put(k, v, n)) {
        return -1;
    }
    return pad4(k);
}

static int opt_str(blk *k, uint16_t code, const char *s)
{
    return opt(k, code, s, strlen(s));
}

/* Start a block of type @p type (the length is patched by finish()). */
static int begin(blk *k, uint32_t type)
{
    k->len = 0;
    return put32(k, type) || put32(k, 0);
}

static void report(pcap_out *p, const char *what)
{
    if (!p->failed) {
        fprintf(stderr, "pcap: %s: %s: %s; capture stopped\n", p->path, what, strerror(errno));
    }
    p->failed = 1;
}

static int finish(pcap_out *p, blk *k)
{
    uint32_t total;
    if (pad4(k) || put32(k, 0)) {
        return -1;
    }
    total = (uint32_t)k->len;
    memcpy(k->b + 4, &total, 4);
    memcpy(k->b + k->len - 4, &total, 4);
    if (fwrite(k->b, 1, k->len, p->f) != k->len || fflush(p->f) != 0) {
        report(p, "write");
        return -1;
    }
    return 0;
}

static int write_idb(pcap_out *p, blk *k, uint16_t linktype, const char *name, const char *desc)
{
    uint8_t tsresol = 6; /* microseconds */
    if (begin(k, BT_IDB) || put16(k, linktype) || put16(k, 0) || put32(k, 0) /* no snaplen */ ||
        opt_str(k, OPT_IF_NAME, name) || opt_str(k, OPT_IF_DESCRIPTION, desc) ||
        opt(k, OPT_IF_TSRESOL, &tsresol, 1) || opt(k, OPT_END, NULL, 0)) {
        return -1;
    }
    return finish(p, k);
}

pcap_out *pcap_out_open(const char *path, const char *app, char *err, size_t errcap)
{
    pcap_out *p = calloc(1, sizeof(*p));
    int rc;
    if (p == NULL || (p->path = malloc(strlen(path) + 1)) == NULL) {
        snprintf(err, errcap, "out of memory");
        free(p);
        return NULL;
    }
    strcpy(p->path, path);
    p->f = fopen(path, "wb");
    if (p->f == NULL) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        free(p->path);
        free(p);
        return NULL;
    }
    rc = begin(&p->k, BT_SHB) || put32(&p->k, 0x1A2B3C4Du) || put16(&p->k, 1) ||
         put16(&p->k, 0) || put32(&p->k, 0xFFFFFFFFu) ||
         put32(&p->k, 0xFFFFFFFFu) /* section length unknown */ ||
         opt_str(&p->k, OPT_SHB_USERAPPL, app) || opt(&p->k, OPT_END, NULL, 0) ||
         finish(p, &p->k);
    rc = rc || write_idb(p, &p->k, PCAP_OUT_LINKTYPE_RAW, "tunnel",
                         "inner IP packets of the TSCF tunnel (TR 33.830 8.4)");
    rc = rc || write_idb(p, &p->k, PCAP_OUT_LINKTYPE_USER0, "tscf-cm",
                         "TSCF control messages (TR 33.830 Annex A: CM header and TLVs)");
    if (rc) {
        snprintf(err, errcap, "%s: cannot write the header: %s", path, strerror(errno));
        pcap_out_close(p);
        return NULL;
    }
    return p;
}

static void write_epb(pcap_out *p, uint32_t ifid, enum pcap_out_dir dir, const uint8_t *data,
                      size_t len)
{
    struct timespec ts;
    uint64_t us;
    uint32_t flags = (uint32_t)dir; /* bits 0-1: 01 inbound, 10 outbound */
    blk *k;
    if (p == NULL || p->failed || len > UINT32_MAX) {
        return;
    }
    k = &p->k;
    clock_gettime(CLOCK_REALTIME, &ts);
    us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    if (begin(k, BT_EPB) || put32(k, ifid) || put32(k, (uint32_t)(us >> 32)) ||
        put32(k, (uint32_t)us) || put32(k, (uint32_t)len) || put32(k, (uint32_t)len) ||
        put(k, data, len) || pad4(k) || opt(k, OPT_EPB_FLAGS, &flags, 4) ||
        opt(k, OPT_END, NULL, 0)) {
        report(p, "out of memory");
    } else if (finish(p, k) == 0) {
        p->count++;
    }
}

void pcap_out_packet(pcap_out *p, enum pcap_out_dir dir, const uint8_t *pkt, size_t len)
{
    write_epb(p, PCAP_OUT_IF_PACKET, dir, pkt, len);
}

void pcap_out_cm(pcap_out *p, enum pcap_out_dir dir, const uint8_t *cm, size_t len)
{
    write_epb(p, PCAP_OUT_IF_CM, dir, cm, len);
}

unsigned long pcap_out_count(const pcap_out *p)
{
    return p != NULL ? p->count : 0;
}

void pcap_out_close(pcap_out *p)
{
    if (p == NULL) {
        return;
    }
    if (p->f != NULL && fclose(p->f) != 0 && !p->failed) {
        fprintf(stderr, "pcap: %s: close: %s\n", p->path, strerror(errno));
    }
    free(p->k.b);
    free(p->path);
    free(p);
}
