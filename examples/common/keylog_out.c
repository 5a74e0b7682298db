/* keylog_out: SSLKEYLOGFILE (see keylog_out.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "keylog_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

FILE *keylog_open_env(const char *prog, int *failed)
{
    const char *path = getenv("SSLKEYLOGFILE");
    FILE *f;
    int fd;
    *failed = 0;
    if (path == NULL || *path == '\0') {
        return NULL;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "a")) == NULL) {
        fprintf(stderr, "%s: error: SSLKEYLOGFILE=%s: %s\n", prog, path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        *failed = 1;
        return NULL;
    }
    fprintf(stderr,
            "%s: WARNING: ********************************************************\n"
            "%s: WARNING: SSLKEYLOGFILE is set: the TLS secrets of this run are\n"
            "%s: WARNING: written to %s\n"
            "%s: WARNING: anyone who reads that file can decrypt the tunnel.\n"
            "%s: WARNING: For debugging only; unset SSLKEYLOGFILE otherwise.\n"
            "%s: WARNING: ********************************************************\n",
            prog, prog, prog, path, prog, prog, prog);
    return f;
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        fprintf(f, "%02x", p[i]);
    }
}

void keylog_write(void *user, const char *label, const uint8_t client_random[32],
                  const uint8_t *secret, size_t secret_len)
{
    FILE *f = user;
    fprintf(f, "%s ", label);
    hex(f, client_random, 32);
    fputc(' ', f);
    hex(f, secret, secret_len);
    fputc('\n', f);
    fflush(f); /* complete lines even if the program is killed */
}
