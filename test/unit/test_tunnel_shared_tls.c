/* One TLS configuration for many tunnels (tse_tls_config_new, mbed TLS's
 * model): tunnels sharing it come up, a pin and the name verified stay
 * per tunnel, bad combinations and bad anchors are refused with their
 * own errors, (test_tunnel_memory measures
 * what sharing saves). */
#include <stdint.h>
#include <string.h>

#include "tls_session.h"
#include "tse/tse.h"
#include "mem_tscf.h"
#include "test_pki.h"
#include "tt.h"
#include "mt_fixture.h"

static mt_fix G; /* a second tunnel beside F */

static int entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(i * 131u + 7u);
    return 0;
}

static tse_tls_config *shared(mt_alloc *a)
{
    tse_tls_config *c = NULL;
    tse_settings s;
    const char *why = "unset";
    mt_settings_default(&s);
    if (tse_tls_config_new(&c, &s, entropy, NULL, mt_mem(a), &why) != TSE_OK) return NULL;
    return why == NULL ? c : NULL;
}

static void use(mt_fix *f, tse_tls_config *c)
{
    f->s.ca = NULL;
    f->s.ca_len = 0;
    f->s.tls_config = c;
}

TT_TEST(two_tunnels_share_one_configuration)
{
    mt_alloc ca;
    tse_tls_config *c;
    uint8_t pin[32];
    memset(&ca, 0, sizeof(ca));
    c = shared(&ca);
    TT_ASSERT(c != NULL);
    mt_fix_setup(&F);
    mt_fix_setup(&G);
    use(&F, c);
    use(&G, c);
    /* the pin is per tunnel: G's is wrong, F has none */
    memcpy(pin, test_pki_get()->server_spki_sha256, 32);
    pin[0] ^= 1;
    G.s.pin_sha256 = pin;
    START_UP();
    TT_EQ_INT(mt_fix_start(&G, T0), TSE_OK);
    TT_ASSERT(mt_run_until_event(&G.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN));
    TT_EQ_INT(mt_rec_nth(&G.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_TLS_PIN);
    TT_EQ_INT(mt_fix_teardown(&G), 0);
    /* and the name verified is per tunnel */
    mt_fix_setup(&G);
    use(&G, c);
    G.s.sni = "other.test";
    TT_EQ_INT(mt_fix_start(&G, T0), TSE_OK);
    TT_ASSERT(mt_run_until_event(&G.d, TSE_EV_TUNNEL_DOWN, 1, WITHIN));
    TT_EQ_INT(mt_rec_nth(&G.rec, TSE_EV_TUNNEL_DOWN, 0)->error, TSE_ERR_TLS_CERT_NAME);
    TT_EQ_INT(mt_fix_teardown(&G), 0);
    /* a good second tunnel beside the first */
    mt_fix_setup(&G);
    use(&G, c);
    TT_EQ_INT(mt_fix_start(&G, T0), TSE_OK);
    TT_ASSERT(mt_run_until_state(&G.d, TSE_STATE_UP, WITHIN));
    TT_EQ_INT(tse_tunnel_state(F.t), TSE_STATE_UP);
    TT_EQ_INT(mt_fix_teardown(&G), 0);
    TT_EQ_INT(mt_fix_teardown(&F), 0);
    tse_tls_config_del(c);
    TT_EQ_INT(ca.live, 0);
}

TT_TEST(refusals)
{
    mt_alloc ca;
    tse_tls_config *c = NULL;
    tse_settings s;
    const char *why = NULL;
    tse_tunnel *t = NULL;
    memset(&ca, 0, sizeof(ca));
    mt_settings_default(&s);
    TT_EQ_INT(tse_tls_config_new(NULL, &s, entropy, NULL, mt_mem(&ca), NULL), TSE_ERR_INVALID_ARG);
    TT_EQ_INT(tse_tls_config_new(&c, &s, NULL, NULL, mt_mem(&ca), NULL), TSE_ERR_INVALID_ARG);
    s.ca = (const uint8_t *)"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n";
    s.ca_len = strlen((const char *)s.ca) + 1;
    TT_EQ_INT(tse_tls_config_new(&c, &s, entropy, NULL, mt_mem(&ca), &why), TSE_ERR_TLS_CONFIG);
    TT_ASSERT(why != NULL && strstr(why, "trust anchors") != NULL);
    TT_ASSERT(c == NULL);
    s.ca = NULL;
    s.ca_len = 0;
    TT_EQ_INT(tse_tls_config_new(&c, &s, entropy, NULL, mt_mem(&ca), &why), TSE_ERR_TLS_CONFIG);
    TT_ASSERT(why != NULL && strstr(why, "no trust anchors") != NULL);
    TT_EQ_INT(ca.live, 0);
    /* a shared configuration together with the tunnel's own PKI fields */
    c = shared(&ca);
    TT_ASSERT(c != NULL);
    mt_fix_setup(&F);
    F.s.tls_config = c; /* and F.s.ca still set */
    TT_EQ_INT(tse_settings_check(&F.s), TSE_ERR_SETTING_TLS);
    TT_EQ_INT(tse_tunnel_new(&t, &F.s, mt_rec_callbacks(), mt_mem(&F.alloc), &F.rec),
              TSE_ERR_SETTING_TLS);
    F.s.ca = NULL;
    F.s.tls_insecure_lab_only_skip_verify = 1;
    TT_EQ_INT(tse_settings_check(&F.s), TSE_ERR_SETTING_TLS);
    tse_tls_config_del(c);
    tse_tls_config_del(NULL);
    TT_EQ_INT(ca.live, 0);
    END();
}

/* A tunnel on a shared configuration carries no TLS configuration of its
 * own: its one allocation is smaller by exactly that. */
TT_TEST(shared_tunnel_is_smaller)
{
    tse_settings s;
    size_t own, shared;
    tse_settings_default(&s);
    s.server_host = "tscf.test";
    own = tse_tunnel_footprint(&s);
    s.tls_config = (tse_tls_config *)(uintptr_t)&s; /* only compared with NULL */
    shared = tse_tunnel_footprint(&s);
    printf("  footprint: %zu bytes with its own TLS configuration, %zu shared (%zu saved)\n",
           own, shared, own - shared);
    TT_EQ_INT(own - shared, (sizeof(tse_tls_conf) + 7u) & ~(size_t)7u);
    TT_ASSERT(own - shared >= 512);
}

int main(void)
{
    TT_RUN(shared_tunnel_is_smaller);
    TT_RUN(two_tunnels_share_one_configuration);
    TT_RUN(refusals);
    mt_fix_teardown(&G);
    return TT_DONE();
}
