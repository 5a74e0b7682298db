/* libFuzzer: the SIP OPTIONS response parser (lib/sip_probe.c).
 *
 * The first input byte picks the transport and how the transaction IDs
 * are chosen; the rest is the response.  Properties: never crashes; the
 * parse is deterministic; on success the status is 100..699, the reason
 * and the consumed length lie inside the input; over TCP, parsing a
 * prefix never succeeds with more bytes than it was given, and feeding
 * the consumed bytes alone gives the same answer.
 */
#include "sip_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tse_sip_ids ids;
    tse_sip_response a, b;
    tse_sip_transport tp;
    size_t ua = 0, ub = 0;
    int ra, rb;
    if (size < 1)
        return 0;
    tp = (data[0] & 1) ? TSE_SIP_TCP : TSE_SIP_UDP;
    /* Fixed IDs that seed inputs can carry, so matching paths are reached. */
    memset(&ids, 0, sizeof ids);
    memcpy(ids.branch, "z9hG4bK000102030405060708090a0b", 31);
    memcpy(ids.call_id, "0c0d0e0f101112131415161718191a1b", 32);
    memcpy(ids.from_tag, "1c1d1e1f20212223", 16);
    ids.cseq = (data[0] & 2) ? 2 : 1;
    data++;
    size--;

    ra = tse_sip_response_parse(data, size, tp, &ids, &a, &ua);
    rb = tse_sip_response_parse(data, size, tp, &ids, &b, &ub);
    CHECK(ra == rb && ua == ub);
    CHECK(a.status == b.status && a.reason == b.reason && a.reason_len == b.reason_len &&
          a.content_length == b.content_length);
    CHECK(ra <= 0);
    if (ra == TSE_OK) {
        CHECK(a.status >= 100 && a.status <= 699);
        CHECK(ua <= size && ua > 0);
        CHECK((const uint8_t *)a.reason >= data &&
              (const uint8_t *)a.reason + a.reason_len <= data + size);
        CHECK(a.content_length <= TSE_SIP_MAX_BODY || tp == TSE_SIP_UDP);
        if (tp == TSE_SIP_TCP) {
            /* the message alone parses the same way */
            CHECK(tse_sip_response_parse(data, ua, tp, &ids, &b, &ub) == TSE_OK);
            CHECK(ub == ua && b.status == a.status);
            /* one byte less is incomplete, never a different success */
            CHECK(tse_sip_response_parse(data, ua - 1, tp, &ids, &b, &ub) != TSE_OK ||
                  ub < ua);
        }
    } else {
        CHECK(ua == 0);
    }
    return 0;
}
