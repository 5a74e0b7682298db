/* tse_posix_read_key_file(): PEM hands mbed TLS its NUL, DER does not,
 * large files are read whole, missing files fail with errno. */
#include "posix_feature.h" /* POSIX declarations under -std=c99 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tse_posix.h"
#include "tt.h"

static char path[64];

static void write_tmp(const void *data, size_t len)
{
    FILE *f;
    int fd;
    strcpy(path, "/tmp/tse-keyfile-XXXXXX");
    fd = mkstemp(path);
    f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f != NULL) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

TT_TEST(pem_counts_its_nul)
{
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    size_t len = 0;
    uint8_t *b;
    write_tmp(pem, sizeof(pem) - 1);
    b = tse_posix_read_key_file(path, &len);
    unlink(path);
    TT_ASSERT(b != NULL);
    TT_EQ_INT(len, sizeof(pem));
    TT_EQ_INT(b[len - 1], 0);
    TT_EQ_MEM(b, pem, sizeof(pem));
    free(b);
}

TT_TEST(der_is_exact)
{
    static const uint8_t der[] = { 0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x00 };
    size_t len = 0;
    uint8_t *b;
    write_tmp(der, sizeof(der));
    b = tse_posix_read_key_file(path, &len);
    unlink(path);
    TT_ASSERT(b != NULL);
    TT_EQ_INT(len, sizeof(der));
    TT_EQ_MEM(b, der, sizeof(der));
    TT_EQ_INT(b[len], 0); /* terminated all the same */
    free(b);
}

TT_TEST(large_file_is_read_whole)
{
    /* more than the first 8 KiB buffer and more than 1 MiB */
    size_t n = (1u << 20) + 12345, len = 0;
    uint8_t *data = malloc(n), *b;
    TT_ASSERT(data != NULL);
    for (size_t i = 0; i < n; i++) {
        data[i] = (uint8_t)(i * 7 + 1);
    }
    write_tmp(data, n);
    b = tse_posix_read_key_file(path, &len);
    unlink(path);
    TT_ASSERT(b != NULL);
    TT_EQ_INT(len, n);
    TT_EQ_MEM(b, data, n);
    free(b);
    free(data);
}

TT_TEST(missing_file_fails_with_errno)
{
    size_t len = 0;
    errno = 0;
    TT_ASSERT(tse_posix_read_key_file("/nonexistent/tse/key.pem", &len) == NULL);
    TT_EQ_INT(errno, ENOENT);
}

int main(void)
{
    TT_RUN(pem_counts_its_nul);
    TT_RUN(der_is_exact);
    TT_RUN(large_file_is_read_whole);
    TT_RUN(missing_file_fails_with_errno);
    return TT_DONE();
}
