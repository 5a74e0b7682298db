/* sock_util.h - small POSIX helpers the port's tests share. */
#ifndef TSE_TEST_SOCK_UTIL_H
#define TSE_TEST_SOCK_UTIL_H

#include <stdint.h>

/* Open file descriptors of this process (/proc/self/fd), or -1. */
int tu_count_fds(void);

/* A TCP listener on 127.0.0.1 at a free port (*port set), or -1. */
int tu_listen4(uint16_t *port, int backlog);

/* Sleep @p ms milliseconds (through EINTR). */
void tu_sleep_ms(long ms);

#endif
