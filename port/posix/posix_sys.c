/* POSIX clock, entropy and allocator (port/posix/tse_posix.h). */
#include "posix_feature.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
#include <sys/random.h>
#define TSE_HAVE_GETRANDOM 1
#endif

#include "tse_posix.h"

tse_time_ms tse_posix_now_ms(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail with a valid pointer on any POSIX system
     * that defines it; the engine only needs differences. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (tse_time_ms)ts.tv_sec * 1000u + (tse_time_ms)(ts.tv_nsec / 1000000);
}

static int urandom_read(uint8_t *buf, size_t len)
{
    int fd;
    do {
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    close(fd);
    return 0;
}

int tse_posix_entropy(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    if (buf == NULL && len > 0)
        return -1;
#ifdef TSE_HAVE_GETRANDOM
    {
        size_t done = 0;
        while (done < len) {
            ssize_t n = getrandom(buf + done, len - done, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == ENOSYS || errno == EPERM) /* old kernel, seccomp */
                    return urandom_read(buf + done, len - done);
                return -1;
            }
            done += (size_t)n;
        }
        return 0;
    }
#else
    return urandom_read(buf, len);
#endif
}

static void *mem_calloc(void *user, size_t n, size_t size)
{
    (void)user;
    return calloc(n, size);
}

static void mem_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static const tse_mem posix_mem = { NULL, mem_calloc, mem_free };

const tse_mem *tse_posix_mem(void)
{
    return &posix_mem;
}

uint8_t *tse_posix_read_key_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        size_t r;
        if (n + 4096 + 1 > cap) {
            uint8_t *nb;
            cap = cap ? cap * 2 : 8192;
            if (cap > (16u << 20)) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        errno = EIO;
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (strstr((const char *)buf, "-----BEGIN") != NULL)
        n++; /* PEM: the NUL is part of the input for mbed TLS */
    *len = n;
    return buf;
}
