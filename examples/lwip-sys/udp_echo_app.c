/* udp_echo_app.c - see udp_echo_app.h.  Only lwIP headers here. */
#include "udp_echo_app.h"

#include <stdio.h>
#include <string.h>

#include "lwip/inet.h"
#include "lwip/sockets.h"

#include "lwip/def.h"
#include "lwip/ip_addr.h"

int udp_echo_app_run(const char *text, int tries, int timeout_ms)
{
    struct sockaddr_in to, from;
    struct timeval tv;
    char buf[512];
    size_t len = strlen(text);
    int s, i, ok = -1;

    s = lwip_socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) {
        printf("lwip_socket failed\n");
        return -1;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    lwip_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_port = lwip_htons(7);
    to.sin_addr.s_addr = PP_HTONL(0xc6120001UL); /* 198.18.0.1 */

    for (i = 0; i < tries && ok != 0; i++) {
        socklen_t fl = sizeof(from);
        int n;
        if (lwip_sendto(s, text, len, 0, (struct sockaddr *)&to, sizeof(to)) != (int)len) {
            printf("lwip_sendto failed (try %d)\n", i + 1);
            continue;
        }
        n = lwip_recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            printf("no echo within %d ms (try %d)\n", timeout_ms, i + 1);
            continue;
        }
        if ((size_t)n == len && memcmp(buf, text, len) == 0 &&
            from.sin_addr.s_addr == to.sin_addr.s_addr && from.sin_port == to.sin_port) {
            printf("UDP echo from 198.18.0.1:7: \"%.*s\" (%d bytes, through lwIP sockets and the tunnel)\n",
                   n, buf, n);
            ok = 0;
        } else {
            printf("unexpected datagram of %d bytes\n", n);
        }
    }
    lwip_close(s);
    return ok;
}
