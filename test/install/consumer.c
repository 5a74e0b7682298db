/*
 * tse-consumer: a program outside libtse's tree, built against an
 * installed libtse (test/install/install_test.sh: find_package,
 * pkg-config, the plain source list).  Uses only the public headers.
 *
 *   tse-consumer HOST PORT CA.pem SNI
 *
 * Checks that the library's run-time version is the headers' version,
 * brings one tunnel up against the TSCF, releases it, and waits for
 * CLOSED.  Prints "consumer: version V", "consumer: up A.B.C.D",
 * "consumer: closed"; exit 0 iff all of that happened within 30 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tse/tse.h>
#include <tse/rfc4571.h>
#include <tse/turn.h>
#include <tse_detect_posix.h> /* every installed header compiles */
#include <tse_posix.h>

typedef struct app {
    tse_tunnel *t;
    int up, closed, failed;
} app;

static void on_event(void *user, const tse_event *ev)
{
    app *a = (app *)user;
    if (ev->type == TSE_EV_TUNNEL_UP) {
        const uint8_t *ip = ev->config->ipv4;
        printf("consumer: up %u.%u.%u.%u\n", ip[0], ip[1], ip[2], ip[3]);
        a->up = 1;
    } else if (ev->type == TSE_EV_TUNNEL_DOWN && ev->error != TSE_OK &&
               ev->error != TSE_ERR_CLOSED) {
        fprintf(stderr, "consumer: down: %s\n", tse_strerror(ev->error));
        a->failed = 1;
    } else if (ev->type == TSE_EV_STATE && ev->state == TSE_STATE_CLOSED) {
        a->closed = 1;
    }
}

static void on_packet(void *user, const uint8_t *pkt, size_t len)
{
    (void)user;
    (void)pkt;
    (void)len;
}

int main(int argc, char **argv)
{
    tse_settings s;
    tse_callbacks cb;
    tse_posix_driver *d = NULL;
    app a;
    uint8_t *ca;
    size_t ca_len;
    int rc, closing = 0;
    tse_time_ms deadline;

    if (argc != 5) {
        fprintf(stderr, "usage: tse-consumer HOST PORT CA.pem SNI\n");
        return 2;
    }
    if (strcmp(tse_version(), TSE_VERSION_STRING) != 0 ||
        tse_version_number() != TSE_VERSION_NUMBER ||
        TSE_VERSION_NUMBER != ((TSE_VERSION_MAJOR << 16) | (TSE_VERSION_MINOR << 8) |
                               TSE_VERSION_PATCH)) {
        fprintf(stderr, "consumer: library %s (0x%06lx), headers %s\n", tse_version(),
                tse_version_number(), TSE_VERSION_STRING);
        return 1;
    }
    printf("consumer: version %s\n", tse_version());

    ca = tse_posix_read_key_file(argv[3], &ca_len);
    if (ca == NULL) {
        fprintf(stderr, "consumer: cannot read %s\n", argv[3]);
        return 1;
    }
    memset(&a, 0, sizeof(a));
    tse_settings_default(&s);
    s.server_host = argv[1];
    s.server_port = (uint16_t)atoi(argv[2]);
    s.sni = argv[4];
    s.ca = ca;
    s.ca_len = ca_len;
    s.auto_reconnect = 0;
    memset(&cb, 0, sizeof(cb));
    cb.on_event = on_event;
    cb.on_packet = on_packet;
    cb.entropy = tse_posix_entropy;
    rc = tse_tunnel_new(&a.t, &s, &cb, tse_posix_mem(), &a);
    free(ca);
    if (rc != TSE_OK) {
        fprintf(stderr, "consumer: tse_tunnel_new: %s\n", tse_strerror(rc));
        return 1;
    }
    if ((rc = tse_posix_driver_new(&d)) != TSE_OK || (rc = tse_posix_driver_add(d, a.t)) != TSE_OK ||
        (rc = tse_tunnel_start(a.t, tse_posix_now_ms())) != TSE_OK) {
        fprintf(stderr, "consumer: start: %s\n", tse_strerror(rc));
        return 1;
    }
    deadline = tse_posix_now_ms() + 30000;
    while (!a.closed && !a.failed && tse_posix_now_ms() < deadline) {
        if (a.up && !closing) {
            closing = 1;
            (void)tse_tunnel_close(a.t, tse_posix_now_ms());
        }
        if (tse_posix_driver_run_once(d, 200) != TSE_OK) {
            break;
        }
    }
    (void)tse_posix_driver_remove(d, a.t);
    tse_posix_driver_del(d);
    tse_tunnel_del(a.t);
    if (a.up && a.closed && !a.failed) {
        printf("consumer: closed\n");
        return 0;
    }
    fprintf(stderr, "consumer: up=%d closed=%d failed=%d\n", a.up, a.closed, a.failed);
    return 1;
}
