/* libFuzzer: the reference server's handling of what a client sends after
 * TLS (examples/tscf-server: handle_plain() -> deframer -> handle_cm() /
 * handle_packet()), for several connections at once, with its tunnel table,
 * persistence, resumption, keep-alive sweep and shutdown release.
 *
 * The server's own source is compiled into this file (its functions are
 * static), with main() renamed; connections are opened without a socket
 * (fd -1) through the server's conn_open(), as after a TLS handshake.  What
 * the server queues for a client is taken from its output queue here, not
 * written to TLS.
 *
 * Input: byte 0 configures the server (bit 0: --persist 30 instead of 0;
 * bit 1: --pool6; bits 2-3: --max-tunnels 1, 2, 3 or 8; bit 4: --echo;
 * bit 5: --pool /30 instead of /24; always --queue 4096 --keepalive 10).  Then records; op = byte & 7, k =
 * (byte >> 3) % 3 picks one of three client connections (opened on first
 * use, and again after it was closed):
 *   0-2  length byte, bytes: fed to the connection as plaintext
 *   3    the client reads: everything queued for it is deframed and checked;
 *        a connection the server closes after flushing is closed
 *   4    the client disconnects
 *   5    byte: the clock advances byte * 200 ms, then the server's sweep
 *        (keep-alive timeouts, persistence expiry)
 *   6    the server begins its shutdown drain (Release_Request to everyone)
 *   7    selector byte, length byte, bytes: as 0-2, but a leading CM gets a
 *        real TSID first (selector bit 7 clear: the connection's own
 *        tunnel's; set: tunnel number selector & 0x7f of the table), so
 *        Keep_Alive, Release and resumption are reached
 * Each fed chunk is in an exact-size allocation (ASan sees reads past it).
 *
 * Asserted after every record: the tunnel table is consistent (count, the
 * persistent count, TSID hash, slot map, tunnel <-> connection links, never
 * more than --max-tunnels); everything queued for a client deframes into
 * units whose CMs decode, are server-to-client types, and whose successful
 * Configuration_Response gives a usable pool address.  After each input
 * everything is freed (LeakSanitizer sees any leak).
 */
#define main tscf_server_main
#include "../../examples/tscf-server/tscf_server.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
    abort(); } } while (0)

/* The harness never loads keys (setup_tls() is not called). */
uint8_t *tse_posix_read_key_file(const char *path, size_t *len)
{
    (void)path;
    (void)len;
    return NULL;
}

#define NCONN 3
static struct conn *clients[NCONN];

static int fixed_entropy(void *p, unsigned char *out, size_t n)
{
    (void)p;
    memset(out, 0x42, n);
    return 0;
}

static void configure(uint8_t b)
{
    static const char *const max_t[4] = { "1", "2", "3", "8" };
    char *argv[32];
    int argc = 0;
    memset(&cfg, 0, sizeof cfg);
    argv[argc++] = "tscf-server";
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--cert";
    argv[argc++] = "unused";
    argv[argc++] = "--key";
    argv[argc++] = "unused";
    argv[argc++] = "--persist";
    argv[argc++] = (b & 1) ? "30" : "0";
    argv[argc++] = "--queue"; /* the smallest: big queues only cost time here */
    argv[argc++] = "4096";
    argv[argc++] = "--keepalive";
    argv[argc++] = "10";
    argv[argc++] = "--max-tunnels";
    argv[argc++] = (char *)max_t[(b >> 2) & 3];
    argv[argc++] = "--pool";
    argv[argc++] = (b & 0x20) ? "198.18.4.0/30" : "198.18.0.0/24";
    if (b & 2) {
        argv[argc++] = "--pool6";
        argv[argc++] = "2001:db8:5::/96";
    }
    if (b & 0x10)
        argv[argc++] = "--echo";
    argv[argc] = NULL;
    CHECK(parse_args(argc, argv) == 0);
    cfg.log_level = getenv("FUZZ_TSCF_VERBOSE") ? L_DEBUG : -1; /* quiet */
}

static void server_start(void)
{
    int i;
    memset(&S, 0, sizeof S);
    S.ep = -1;
    S.tun.fd = -1;
    S.sig.fd = -1;
    for (i = 0; i < MAX_LISTEN; i++)
        S.listeners[i].fd = -1;
    S.nslots = 1u << (32 - cfg.plen4);
    S.next_slot = 2;
    S.by_slot = calloc(S.nslots, sizeof *S.by_slot);
    CHECK(S.by_slot != NULL);
    mbedtls_ctr_drbg_init(&S.drbg);
    CHECK(mbedtls_ctr_drbg_seed(&S.drbg, fixed_entropy, NULL, NULL, 0) == 0);
    S.now = 1000000;
    S.last_sweep = S.now;
}

static void bury(void)
{
    while (S.graveyard) {
        struct conn *c = S.graveyard;
        int k;
        S.graveyard = c->next;
        for (k = 0; k < NCONN; k++)
            if (clients[k] == c)
                clients[k] = NULL;
        conn_destroy(c);
    }
}

static void server_stop(void)
{
    int i;
    if (getenv("FUZZ_TSCF_VERBOSE"))
        fprintf(stderr, "server: configured %llu resumed %llu released %llu rejected %llu "
                "pkts in %llu fwd %llu echo %llu drop src %llu noroute %llu\n",
                (unsigned long long)S.st.configured, (unsigned long long)S.st.resumed,
                (unsigned long long)S.st.released, (unsigned long long)S.st.rejected,
                (unsigned long long)S.st.pkts_in, (unsigned long long)S.st.pkts_fwd,
                (unsigned long long)S.st.pkts_echo, (unsigned long long)S.st.drop_src,
                (unsigned long long)S.st.drop_noroute);
    while (S.conns)
        conn_close(S.conns, "harness: end of input");
    bury();
    while (S.tunnels)
        tunnel_free(S.tunnels, "harness: end of input");
    free(S.by_slot);
    mbedtls_ctr_drbg_free(&S.drbg);
    for (i = 0; i < NCONN; i++)
        clients[i] = NULL;
}

/* As accept_all() and then a TLS handshake would, without a socket. */
static struct conn *client(int k)
{
    struct conn *c = clients[k];
    if (c)
        return c; /* open, or closed and still in the graveyard until bury() */
    c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    c->kind = EV_CONN;
    c->fd = -1;
    snprintf(c->peer, sizeof c->peer, "fuzz-client-%d", k);
    c->next = S.conns;
    if (S.conns)
        S.conns->prev = c;
    S.conns = c;
    S.nconns++;
    if (conn_open(c) < 0)
        CHECK(!"conn_open: out of memory");
    clients[k] = c;
    return c;
}

static void check_tables(void)
{
    struct tunnel *t;
    struct conn *c;
    unsigned n = 0, np = 0, nc = 0;
    for (t = S.tunnels; t; t = t->next) {
        n++;
        CHECK(n <= S.ntunnels);
        CHECK(t->slot >= 2 && t->slot < S.nslots - 1);
        CHECK(S.by_slot[t->slot] == t);
        CHECK(tsid_find(t->tsid) == t);
        CHECK(t->tsid != TSE_CM_TSID_NONE && t->tsid != 0);
        if (t->conn) {
            CHECK(t->conn->tun == t);
            CHECK(t->conn->state != CS_DEAD);
        } else {
            np++;
        }
        CHECK(!t->has_v6 || cfg.plen6);
    }
    CHECK(n == S.ntunnels);
    CHECK(np == S.npersistent);
    CHECK(S.ntunnels <= cfg.max_tunnels);
    for (c = S.conns; c; c = c->next) {
        nc++;
        CHECK(c->state != CS_DEAD);
        if (c->tun)
            CHECK(c->tun->conn == c);
    }
    CHECK(nc == S.nconns);
}

/* One unit the server sent to a client. */
static void check_sent_unit(const tse_unit *u)
{
    tse_cm m;
    if (u->kind != TSE_UNIT_CM) {
        CHECK(u->kind == TSE_UNIT_IPV4 || u->kind == TSE_UNIT_IPV6);
        return;
    }
    CHECK(tse_cm_decode(&m, u->data, u->len) == TSE_OK);
    CHECK(m.type == TSE_CM_CONFIG_RESPONSE || m.type == TSE_CM_KEEPALIVE_RESPONSE ||
          m.type == TSE_CM_RELEASE_RESPONSE || m.type == TSE_CM_RELEASE_REQUEST);
    if (m.type == TSE_CM_CONFIG_RESPONSE) {
        CHECK(m.present & TSE_CM_HAS_RESPONSE_CODE);
        if (m.response_code == TSE_RC_SUCCESS) {
            int64_t slot;
            CHECK(m.present & TSE_CM_HAS_IPV4_ADDRESS);
            slot = slot_of4(m.ipv4_addr);
            CHECK(slot >= 2 && slot < (int64_t)S.nslots - 1);
            CHECK(m.tsid != TSE_CM_TSID_NONE);
        }
    }
}

/* The client reads: deframe everything queued for it. */
static void client_reads(struct conn *c)
{
    static uint8_t dfbuf[65536];
    tse_deframer df;
    int guard;
    if (c->state != CS_OPEN)
        return;
    CHECK(tse_deframer_init(&df, TSE_FRAMING_TSCF, dfbuf, sizeof dfbuf) == TSE_OK);
    for (guard = 0; guard < 4096; guard++) {
        const uint8_t *p = NULL;
        tse_class cls;
        size_t chunk = tse_outq_peek(&c->oq, (uint32_t)S.now, 16384, 16384, &p, &cls);
        size_t off = 0;
        if (chunk == 0)
            break;
        while (off < chunk) {
            size_t used = 0;
            tse_unit u;
            int rc = tse_deframer_feed(&df, p + off, chunk - off, &used, &u);
            CHECK(rc >= 0);
            off += used;
            if (rc == 0)
                break;
            check_sent_unit(&u);
        }
        tse_outq_commit(&c->oq, chunk);
    }
    CHECK(tse_deframer_pending(&df) == 0); /* only whole units were queued */
    if (c->close_after_flush && !tse_outq_queued(&c->oq, TSE_CLASS_COUNT))
        conn_close(c, "harness: flushed, closing"); /* conn_flush()'s linger */
}

static void feed(struct conn *c, const uint8_t *p, size_t len, const uint8_t *tsid)
{
    uint8_t *b = malloc(len ? len : 1);
    CHECK(b != NULL);
    memcpy(b, p, len);
    if (tsid && len >= TSE_CM_HEADER_LEN && (b[0] >> 4) == TSE_CM_VERSION)
        memcpy(b + 4, tsid, 8);
    if (len)
        handle_plain(c, b, len);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i = 1;
    int drained = 0;
    if (size < 1)
        return 0;
    configure(data[0]);
    server_start();
    while (i < size) {
        uint8_t op = data[i++];
        int k = (op >> 3) % NCONN;
        struct conn *c = clients[k];
        if ((op & 7) <= 2 || (op & 7) == 7)
            c = client(k);
        switch (op & 7) {
        case 0: case 1: case 2: {
            size_t len = i < size ? data[i++] : 0;
            if (len > size - i)
                len = size - i;
            feed(c, data + i, len, NULL);
            i += len;
            break;
        }
        case 3:
            if (c)
                client_reads(c);
            break;
        case 4:
            if (c)
                conn_close(c, "harness: client disconnects");
            break;
        case 5:
            S.now += (int64_t)(i < size ? data[i++] : 0) * 200;
            sweep();
            break;
        case 6:
            if (!drained) {
                begin_drain();
                drained = 1;
            }
            break;
        default: {
            uint8_t sel = i < size ? data[i++] : 0;
            size_t len = i < size ? data[i++] : 0;
            struct tunnel *t = c->tun;
            uint8_t tsid[8];
            int j;
            if (sel & 0x80) {
                unsigned n = sel & 0x7f;
                for (t = S.tunnels; t && n; n--)
                    t = t->next;
            }
            for (j = 0; j < 8; j++)
                tsid[j] = (uint8_t)((t ? t->tsid : TSE_CM_TSID_NONE) >> (56 - 8 * j));
            if (len > size - i)
                len = size - i;
            feed(c, data + i, len, tsid);
            i += len;
            break;
        }
        }
        bury(); /* as the event loop does after each batch */
        check_tables();
    }
    server_stop();
    return 0;
}
