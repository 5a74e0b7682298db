/* RFC 4571 framing and the RFC 5761 / RFC 7983 demultiplexer. */
#include <stdint.h>
#include <string.h>

#include "tse/rfc4571.h"
#include "tt.h"

/* An RTP packet (V=2, PT 0 PCMU, seq 1, ts 160, SSRC 0x11223344, 4 bytes
 * payload) and an RTCP receiver report (PT 201, no report blocks). */
static const uint8_t RTP[] = {0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xa0,
                              0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xef};
static const uint8_t RTCP_RR[] = {0x80, 0xc9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44};

TT_TEST(encode_vectors)
{
    uint8_t out[64];
    size_t n = 99;
    static const uint8_t want[] = {0x00, 0x10, 0x80, 0x00, 0x00, 0x01};
    TT_EQ_INT(tse_rfc4571_encode(out, sizeof out, RTP, sizeof RTP, &n), TSE_OK);
    TT_EQ_INT(n, 18);
    TT_EQ_MEM(out, want, sizeof want);
    TT_EQ_MEM(out + 2, RTP, sizeof RTP);
    /* the null packet */
    TT_EQ_INT(tse_rfc4571_encode(out, sizeof out, NULL, 0, &n), TSE_OK);
    TT_EQ_INT(n, 2);
    TT_EQ_INT(out[0], 0);
    TT_EQ_INT(out[1], 0);
    /* exactly enough room, one byte short, too long, NULL */
    TT_EQ_INT(tse_rfc4571_encode(out, 18, RTP, sizeof RTP, &n), TSE_OK);
    TT_EQ_INT(tse_rfc4571_encode(out, 17, RTP, sizeof RTP, &n), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_rfc4571_encode(out, 1, NULL, 0, &n), TSE_ERR_BUFFER_TOO_SMALL);
    TT_EQ_INT(tse_rfc4571_encode(out, sizeof out, RTP, 65536, &n), TSE_ERR_RFC4571_TOO_BIG);
    TT_EQ_INT(tse_rfc4571_encode(NULL, 10, RTP, 1, &n), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_rfc4571_encode(out, 10, NULL, 1, &n), TSE_ERR_INVALID_ARG);
    {
        uint8_t h[2];
        TT_EQ_INT(tse_rfc4571_header(h, 65535), TSE_OK);
        TT_EQ_INT(h[0], 0xff);
        TT_EQ_INT(h[1], 0xff);
        TT_EQ_INT(tse_rfc4571_header(h, 65536), TSE_ERR_RFC4571_TOO_BIG);
        TT_EQ_INT(tse_rfc4571_header(h, 0x1234), TSE_OK);
        TT_EQ_INT(h[0], 0x12);
        TT_EQ_INT(h[1], 0x34);
    }
}

/* A stream of RTP, null, RTCP, RTP decoded whole and cut at every point. */
TT_TEST(decode_stream_every_cut)
{
    uint8_t stream[128], buf[64];
    size_t n = 0, k, cut;
    const size_t want_len[4] = {sizeof RTP, 0, sizeof RTCP_RR, sizeof RTP};
    const uint8_t *want_pkt[4] = {RTP, NULL, RTCP_RR, RTP};
    TT_EQ_INT(tse_rfc4571_encode(stream + n, sizeof stream - n, RTP, sizeof RTP, &k), TSE_OK);
    n += k;
    TT_EQ_INT(tse_rfc4571_encode(stream + n, sizeof stream - n, NULL, 0, &k), TSE_OK);
    n += k;
    TT_EQ_INT(tse_rfc4571_encode(stream + n, sizeof stream - n, RTCP_RR, sizeof RTCP_RR, &k), TSE_OK);
    n += k;
    TT_EQ_INT(tse_rfc4571_encode(stream + n, sizeof stream - n, RTP, sizeof RTP, &k), TSE_OK);
    n += k;

    for (cut = 0; cut <= n; cut++) {
        tse_rfc4571_decoder d;
        size_t got = 0, part;
        TT_EQ_INT(tse_rfc4571_decoder_init(&d, buf, 16), TSE_OK);
        for (part = 0; part < 2; part++) {
            const uint8_t *in = part == 0 ? stream : stream + cut;
            size_t len = part == 0 ? cut : n - cut;
            for (;;) {
                const uint8_t *p;
                size_t pl, used;
                int rc = tse_rfc4571_decode(&d, in, len, &used, &p, &pl);
                TT_ASSERT(used <= len);
                in += used;
                len -= used;
                if (rc == TSE_ERR_WOULD_BLOCK) {
                    TT_EQ_INT(len, 0);
                    break;
                }
                TT_EQ_INT(rc, TSE_OK);
                TT_ASSERT(got < 4);
                TT_EQ_INT(pl, want_len[got]);
                if (pl > 0)
                    TT_EQ_MEM(p, want_pkt[got], pl);
                else
                    TT_ASSERT(p == NULL);
                got++;
            }
        }
        TT_EQ_INT(got, 4);
        TT_EQ_INT(tse_rfc4571_decoder_at_eof(&d), TSE_OK);
    }
}

TT_TEST(decode_one_byte_at_a_time_and_zero_copy)
{
    uint8_t stream[20], buf[16];
    size_t n, i, got = 0, used, pl;
    const uint8_t *p;
    tse_rfc4571_decoder d;
    TT_EQ_INT(tse_rfc4571_encode(stream, sizeof stream, RTP, sizeof RTP, &n), TSE_OK);
    TT_EQ_INT(tse_rfc4571_decoder_init(&d, buf, sizeof buf), TSE_OK);
    for (i = 0; i < n; i++) {
        int rc = tse_rfc4571_decode(&d, stream + i, 1, &used, &p, &pl);
        TT_EQ_INT(used, 1);
        if (i + 1 < n) {
            TT_EQ_INT(rc, TSE_ERR_WOULD_BLOCK);
            TT_ASSERT(i == 0 || tse_rfc4571_decoder_at_eof(&d) == TSE_ERR_RFC4571_TRUNCATED);
        } else {
            TT_EQ_INT(rc, TSE_OK);
            TT_ASSERT(p == buf); /* reassembled in the decoder's buffer */
            got++;
        }
    }
    TT_EQ_INT(got, 1);
    /* whole in one call: points into the input */
    TT_EQ_INT(tse_rfc4571_decode(&d, stream, n, &used, &p, &pl), TSE_OK);
    TT_EQ_INT(used, n);
    TT_ASSERT(p == stream + 2);
    /* empty input */
    TT_EQ_INT(tse_rfc4571_decode(&d, NULL, 0, &used, &p, &pl), TSE_ERR_WOULD_BLOCK);
    TT_EQ_INT(used, 0);
}

TT_TEST(decode_limits)
{
    uint8_t buf[16], big[2 + 17];
    size_t used, pl;
    const uint8_t *p;
    tse_rfc4571_decoder d;
    memset(big, 0x80, sizeof big);
    /* exactly cap: fine; cap + 1: refused after the LENGTH, nothing more read */
    big[0] = 0;
    big[1] = 16;
    TT_EQ_INT(tse_rfc4571_decoder_init(&d, buf, 16), TSE_OK);
    TT_EQ_INT(tse_rfc4571_decode(&d, big, 18, &used, &p, &pl), TSE_OK);
    TT_EQ_INT(pl, 16);
    big[1] = 17;
    TT_EQ_INT(tse_rfc4571_decode(&d, big, sizeof big, &used, &p, &pl), TSE_ERR_RFC4571_TOO_BIG);
    TT_EQ_INT(used, 2);
    /* sticky */
    TT_EQ_INT(tse_rfc4571_decode(&d, big, 2, &used, &p, &pl), TSE_ERR_RFC4571_TOO_BIG);
    TT_EQ_INT(used, 0);
    TT_EQ_INT(tse_rfc4571_decoder_at_eof(&d), TSE_ERR_RFC4571_TOO_BIG);
    /* 0xFFFF against the largest cap: accepted as a length */
    {
        static uint8_t huge[65535];
        uint8_t hdr[2] = {0xff, 0xff};
        TT_EQ_INT(tse_rfc4571_decoder_init(&d, huge, sizeof huge), TSE_OK);
        TT_EQ_INT(tse_rfc4571_decode(&d, hdr, 2, &used, &p, &pl), TSE_ERR_WOULD_BLOCK);
        TT_EQ_INT(tse_rfc4571_decoder_at_eof(&d), TSE_ERR_RFC4571_TRUNCATED);
    }
    /* bad init */
    TT_EQ_INT(tse_rfc4571_decoder_init(&d, buf, 0), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_rfc4571_decoder_init(&d, buf, 65536), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_rfc4571_decoder_init(&d, NULL, 10), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_rfc4571_decode(&d, big, 2, &used, &p, &pl), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_rfc4571_decoder_init(NULL, buf, 10), TSE_ERR_INVALID_ARG);
}

TT_TEST(classify)
{
    uint8_t m[32];
    memset(m, 0, sizeof m);
    TT_EQ_INT(tse_rfc4571_classify(RTP, sizeof RTP), TSE_DEMUX_RTP);
    TT_EQ_INT(tse_rfc4571_classify(RTP, 11), TSE_DEMUX_UNKNOWN);
    TT_EQ_INT(tse_rfc4571_classify(RTCP_RR, sizeof RTCP_RR), TSE_DEMUX_RTCP);
    TT_EQ_INT(tse_rfc4571_classify(RTCP_RR, 7), TSE_DEMUX_UNKNOWN);
    TT_EQ_INT(tse_rfc4571_classify(NULL, 0), TSE_DEMUX_NULL);
    /* RFC 5761 4: second octet 192..223 is RTCP (SR 200, APP 204, edges) */
    memcpy(m, RTP, sizeof RTP);
    m[1] = 191; /* marker + PT 63 */
    TT_EQ_INT(tse_rfc4571_classify(m, 12), TSE_DEMUX_RTP);
    m[1] = 192;
    TT_EQ_INT(tse_rfc4571_classify(m, 12), TSE_DEMUX_RTCP);
    m[1] = 200;
    TT_EQ_INT(tse_rfc4571_classify(m, 12), TSE_DEMUX_RTCP);
    m[1] = 223;
    TT_EQ_INT(tse_rfc4571_classify(m, 12), TSE_DEMUX_RTCP);
    m[1] = 224; /* marker + PT 96: dynamic RTP */
    TT_EQ_INT(tse_rfc4571_classify(m, 12), TSE_DEMUX_RTP);
    m[1] = 96;
    TT_EQ_INT(tse_rfc4571_classify(m, 12), TSE_DEMUX_RTP);
    /* RFC 7983 first-byte ranges */
    memset(m, 0, sizeof m);
    m[4] = 0x21; m[5] = 0x12; m[6] = 0xa4; m[7] = 0x42;
    m[1] = 1; /* Binding request */
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_STUN);
    TT_EQ_INT(tse_rfc4571_classify(m, 19), TSE_DEMUX_UNKNOWN);
    m[6] = 0;
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_UNKNOWN); /* no cookie */
    m[0] = 16;
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_ZRTP);
    m[0] = 19;
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_ZRTP);
    m[0] = 22; /* handshake record */
    TT_EQ_INT(tse_rfc4571_classify(m, 13), TSE_DEMUX_DTLS);
    TT_EQ_INT(tse_rfc4571_classify(m, 12), TSE_DEMUX_UNKNOWN);
    m[0] = 63;
    TT_EQ_INT(tse_rfc4571_classify(m, 13), TSE_DEMUX_DTLS);
    m[0] = 0x40;
    TT_EQ_INT(tse_rfc4571_classify(m, 4), TSE_DEMUX_TURN_CHANNEL);
    TT_EQ_INT(tse_rfc4571_classify(m, 3), TSE_DEMUX_UNKNOWN);
    m[0] = 79;
    TT_EQ_INT(tse_rfc4571_classify(m, 4), TSE_DEMUX_TURN_CHANNEL);
    m[0] = 80;
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_UNKNOWN);
    m[0] = 4;
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_UNKNOWN);
    m[0] = 192; /* version 3 */
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_UNKNOWN);
    m[0] = 127;
    TT_EQ_INT(tse_rfc4571_classify(m, 20), TSE_DEMUX_UNKNOWN);
}

TT_TEST(mux_payload_types)
{
    TT_EQ_INT(tse_rtcp_mux_pt_ok(0), 1);
    TT_EQ_INT(tse_rtcp_mux_pt_ok(63), 1);
    TT_EQ_INT(tse_rtcp_mux_pt_ok(64), 0);
    TT_EQ_INT(tse_rtcp_mux_pt_ok(72), 0);
    TT_EQ_INT(tse_rtcp_mux_pt_ok(95), 0);
    TT_EQ_INT(tse_rtcp_mux_pt_ok(96), 1);
    TT_EQ_INT(tse_rtcp_mux_pt_ok(127), 1);
    TT_EQ_INT(tse_rtcp_mux_pt_ok(128), 0);
}

int main(void)
{
    TT_RUN(encode_vectors);
    TT_RUN(decode_stream_every_cut);
    TT_RUN(decode_one_byte_at_a_time_and_zero_copy);
    TT_RUN(decode_limits);
    TT_RUN(classify);
    TT_RUN(mux_payload_types);
    return TT_DONE();
}
