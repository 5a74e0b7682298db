/* lwip_tscf.c - see lwip_tscf.h. */
#include <string.h>

#include "lwip/sys.h"

#include "lwip_tscf.h"

static void tick(lwip_tscf *s)
{
    if (s->clock != NULL) {
        *s->clock = sys_now();
    }
}

static void detach(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
}

void lwip_tscf_close(lwip_tscf *s)
{
    if (s->conn != NULL) {
        detach(s->conn);
        tcp_close(s->conn);
        s->conn = NULL;
        mem_tscf_conn_close(s->peer);
    }
}

void lwip_tscf_flush(lwip_tscf *s)
{
    const uint8_t *d;
    size_t n;
    if (s->conn == NULL) {
        return;
    }
    tick(s);
    while ((n = mem_tscf_conn_output(s->peer, &d)) > 0) {
        u16_t room = tcp_sndbuf(s->conn);
        if (n > room) {
            n = room;
        }
        if (n == 0 || tcp_write(s->conn, d, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
            break;
        }
        mem_tscf_conn_consume(s->peer, n);
    }
    tcp_output(s->conn);
    if (mem_tscf_conn_want_close(s->peer) && mem_tscf_conn_output(s->peer, &d) == 0) {
        lwip_tscf_close(s);
    }
}

static void on_err(void *arg, err_t err)
{
    lwip_tscf *s = (lwip_tscf *)arg;
    (void)err;
    s->conn = NULL; /* lwIP freed it */
    mem_tscf_conn_close(s->peer);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    lwip_tscf *s = (lwip_tscf *)arg;
    struct pbuf *q;
    (void)err;
    tick(s);
    if (p == NULL) {
        lwip_tscf_close(s); /* the device's FIN */
        return ERR_OK;
    }
    for (q = p; q != NULL; q = q->next) {
        mem_tscf_conn_input(s->peer, (const uint8_t *)q->payload, q->len);
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (s->eager) {
        lwip_tscf_flush(s);
    }
    return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb; (void)len;
    lwip_tscf_flush((lwip_tscf *)arg);
    return ERR_OK;
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    (void)pcb;
    lwip_tscf_flush((lwip_tscf *)arg);
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    lwip_tscf *s = (lwip_tscf *)arg;
    if (err != ERR_OK || pcb == NULL) {
        return ERR_VAL;
    }
    if (s->conn != NULL) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    s->conn = pcb;
    s->accepts++;
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
    if (s->eager) {
        tcp_sent(pcb, on_sent);
        tcp_poll(pcb, on_poll, 1);
    }
    tcp_nagle_disable(pcb);
    tick(s);
    mem_tscf_conn_open(s->peer);
    return ERR_OK;
}

int lwip_tscf_listen(lwip_tscf *s, mem_tscf *peer, struct netif *netif, u16_t port, int eager,
                     tse_time_ms *clock)
{
    struct tcp_pcb *pcb;
    memset(s, 0, sizeof(*s));
    s->peer = peer;
    s->eager = eager;
    s->clock = clock;
    pcb = tcp_new();
    if (pcb == NULL) {
        return -1;
    }
    tcp_bind_netif(pcb, netif);
    if (tcp_bind(pcb, IP_ADDR_ANY, port) != ERR_OK) {
        tcp_abort(pcb);
        return -1;
    }
    s->listener = tcp_listen(pcb);
    if (s->listener == NULL) {
        tcp_abort(pcb);
        return -1;
    }
    tcp_arg(s->listener, s);
    tcp_accept(s->listener, on_accept);
    return 0;
}

void lwip_tscf_stop(lwip_tscf *s)
{
    if (s->conn != NULL) {
        detach(s->conn);
        tcp_abort(s->conn);
        s->conn = NULL;
    }
    if (s->listener != NULL) {
        tcp_close(s->listener);
        s->listener = NULL;
    }
}
