/* lwapp_cli.c - see lwapp_cli.h */
#include "lwapp_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return -1;
    }
    v = strtoul(s, &end, 10);
    if (*end != 0 || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int set_kind(lwapp_cli *c, lwapp_kind k, char *err, size_t errlen)
{
    if (c->spec.kind != LWAPP_NONE) {
        snprintf(err, errlen, "only one of --ping, --sip-options, --tcp-send, --rtp, --rtp-tcp");
        return -1;
    }
    c->spec.kind = k;
    return 0;
}

int lwapp_cli_parse(int argc, char **argv, lwapp_cli *c,
                    int (*extra)(void *u, const char *opt, const char *val),
                    void *u, char *err, size_t errlen)
{
    int i;
    unsigned long v;
    memset(c, 0, sizeof(*c));
    lwapp_spec_default(&c->spec);
    for (i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--json") == 0) {
            c->json = 1;
            continue;
        }
        if (strcmp(o, "--reconnect") == 0) {
            c->reconnect = 1;
            continue;
        }
        if (val == NULL) {
            snprintf(err, errlen, "%s: missing value or unknown option", o);
            return -1;
        }
        i++;
        if (strcmp(o, "--server") == 0) {
            const char *colon = strrchr(val, ':');
            size_t hl;
            if (colon == NULL || parse_uint(colon + 1, 65535, &v) != 0 || v == 0) {
                snprintf(err, errlen, "--server HOST:PORT");
                return -1;
            }
            hl = (size_t)(colon - val);
            if (hl >= 2 && val[0] == '[' && val[hl - 1] == ']') {
                val++;
                hl -= 2;
            }
            if (hl == 0 || hl >= sizeof(c->server_host)) {
                snprintf(err, errlen, "--server HOST:PORT");
                return -1;
            }
            memcpy(c->server_host, val, hl);
            c->server_host[hl] = 0;
            c->server_port = (u16_t)v;
        } else if (strcmp(o, "--ca") == 0) {
            c->ca_file = val;
        } else if (strcmp(o, "--sni") == 0) {
            c->sni = val;
        } else if (strcmp(o, "--outq") == 0) {
            uint64_t b;
            if (lwapp_parse_bytes(val, &b) != 0 || b < 4096 || b > (1u << 24)) {
                snprintf(err, errlen, "--outq 4096..16Mi");
                return -1;
            }
            c->outq = (size_t)b;
        } else if (strcmp(o, "--backoff-max") == 0) {
            if (parse_uint(val, 3600000, &v) != 0 || v < 100) {
                snprintf(err, errlen, "--backoff-max 100..3600000 (ms)");
                return -1;
            }
            c->backoff_max_ms = (unsigned)v;
        } else if (strcmp(o, "--timeout") == 0) {
            if (parse_uint(val, 86400, &v) != 0 || v == 0) {
                snprintf(err, errlen, "--timeout SECONDS (1..86400)");
                return -1;
            }
            c->timeout_s = (unsigned)v;
        } else if (strcmp(o, "--ping") == 0) {
            if (set_kind(c, LWAPP_PING, err, errlen) != 0) return -1;
            if (!ipaddr_aton(val, &c->spec.addr)) {
                snprintf(err, errlen, "--ping ADDRESS (a literal)");
                return -1;
            }
        } else if (strcmp(o, "--count") == 0) {
            if (parse_uint(val, 64, &v) != 0 || v == 0) {
                snprintf(err, errlen, "--count 1..64");
                return -1;
            }
            c->spec.count = (unsigned)v;
        } else if (strcmp(o, "--interval") == 0) {
            if (parse_uint(val, 3600000, &v) != 0 || v < 10) {
                snprintf(err, errlen, "--interval 10..3600000 (ms)");
                return -1;
            }
            c->spec.interval_ms = (unsigned)v;
        } else if (strcmp(o, "--sip-options") == 0) {
            if (set_kind(c, LWAPP_SIP, err, errlen) != 0) return -1;
            if (lwapp_parse_sip_uri(val, &c->spec) != 0) {
                snprintf(err, errlen, "--sip-options sip:ADDRESS[:PORT][;transport=tcp|udp]");
                return -1;
            }
        } else if (strcmp(o, "--tcp-send") == 0) {
            if (set_kind(c, LWAPP_TCP_SEND, err, errlen) != 0) return -1;
            if (lwapp_parse_hostport(val, &c->spec.addr, &c->spec.port) != 0) {
                snprintf(err, errlen, "--tcp-send ADDRESS:PORT");
                return -1;
            }
        } else if (strcmp(o, "--bytes") == 0) {
            if (lwapp_parse_bytes(val, &c->spec.bytes) != 0) {
                snprintf(err, errlen, "--bytes N[k|M|G|Ki|Mi|Gi]");
                return -1;
            }
        } else if (strcmp(o, "--seed") == 0) {
            char *end;
            c->spec.seed = strtoull(val, &end, 0);
            if (*end != 0 || val[0] == 0) {
                snprintf(err, errlen, "--seed NUMBER");
                return -1;
            }
        } else if (strcmp(o, "--rtp") == 0) {
            if (set_kind(c, LWAPP_RTP, err, errlen) != 0) return -1;
            if (lwapp_parse_hostport(val, &c->spec.addr, &c->spec.port) != 0) {
                snprintf(err, errlen, "--rtp ADDRESS:PORT");
                return -1;
            }
        } else if (strcmp(o, "--rtp-tcp") == 0) {
            if (set_kind(c, LWAPP_RTP_TCP, err, errlen) != 0) return -1;
            if (lwapp_parse_hostport(val, &c->spec.addr, &c->spec.port) != 0) {
                snprintf(err, errlen, "--rtp-tcp ADDRESS:PORT");
                return -1;
            }
        } else if (strcmp(o, "--seconds") == 0) {
            if (parse_uint(val, 3600, &v) != 0 || v == 0) {
                snprintf(err, errlen, "--seconds 1..3600");
                return -1;
            }
            c->spec.seconds = (unsigned)v;
        } else if (strcmp(o, "--pps") == 0) {
            if (parse_uint(val, 100000, &v) != 0) {
                snprintf(err, errlen, "--pps 0..100000 (0 = flood)");
                return -1;
            }
            c->spec.pps = (unsigned)v;
        } else if (strcmp(o, "--window") == 0) {
            if (parse_uint(val, 1024, &v) != 0 || v == 0) {
                snprintf(err, errlen, "--window 1..1024");
                return -1;
            }
            c->spec.window = (unsigned)v;
        } else if (extra == NULL || extra(u, o, val) != 0) {
            snprintf(err, errlen, "unknown option %s", o);
            return -1;
        }
    }
    if (c->server_port == 0 || c->ca_file == NULL) {
        snprintf(err, errlen, "--server and --ca are required");
        return -1;
    }
    return 0;
}

const char *lwapp_cli_usage(void)
{
    return "  --server HOST:PORT --ca CA.pem [--sni NAME] [--json] [--reconnect]\n"
           "  [--backoff-max MS] [--outq BYTES] [--timeout S]\n"
           "  and one inner application:\n"
           "  --ping A.B.C.D [--count 1..64] [--interval MS]\n"
           "  --sip-options sip:HOST[:PORT][;transport=tcp]\n"
           "  --tcp-send HOST:PORT [--bytes N[k|M|G|Ki|Mi|Gi]] [--seed N]\n"
           "  --rtp HOST:PORT [--seconds S] [--pps N (0 = flood)] [--window N]\n"
           "  --rtp-tcp HOST:PORT [--seconds S] [--pps N]: the same over TCP, RFC 4571\n"
           "      framing, an RTCP sender report every 50 packets (rtcp-mux)\n";
}

unsigned lwapp_cli_default_timeout(const lwapp_cli *c)
{
    if (c->timeout_s != 0) {
        return c->timeout_s;
    }
    switch (c->spec.kind) {
    case LWAPP_PING: return c->spec.count * c->spec.interval_ms / 1000u + 20u;
    case LWAPP_SIP: return 30;
    case LWAPP_TCP_SEND: return 280;
    case LWAPP_RTP:
    case LWAPP_RTP_TCP: return c->spec.seconds + 30u;
    default: return 30;
    }
}
