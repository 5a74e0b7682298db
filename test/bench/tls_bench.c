/*
 * tse-bench-tls: the ceiling for the tunnel - raw mbed TLS record
 * throughput between two processes on loopback, no TSCF framing, no lwIP.
 *
 *   tse-bench-tls --cert server.pem --key server.key --ca ca.pem
 *                 [--name tscf.test] [--record BYTES] [--seconds S]
 *
 * The process forks: the child is a TLS client (verifies the server as the
 * tunnel does) that writes application records of --record bytes (one
 * mbedtls_ssl_write() per record) for --seconds; the parent is the TLS
 * server that reads and counts them.  Both sockets have TCP_NODELAY, like
 * port/posix and tscf-server.  One JSON line on stdout:
 *   {"record":R,"records":N,"bytes":B,"seconds":S,"mbps":M,"records_per_s":P,
 *    "version":"TLSv1.3","suite":"..."}
 * measured at the receiver from the first to the last byte.  Works with
 * mbed TLS 2.28 and 3.6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_MAJOR >= 3
#include <mbedtls/build_info.h>
#endif
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#define MAX_RECORD 16384

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (b = malloc((size_t)n + 1)) == NULL) {
        if (f) fclose(f);
        return NULL;
    }
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    b[n] = 0;
    *len = (size_t)n + 1;
    return b;
}

static int fd_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n;
    do {
        n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int fd_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n;
    do {
        n = recv(*(int *)ctx, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        return MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
    }
    return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

typedef struct tls {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    mbedtls_ssl_context ssl;
} tls;

static int tls_setup(tls *t, int server, const char *cert, const char *key, const char *ca,
                     const char *name)
{
    unsigned char *pem;
    size_t len;
    int ret;
#if defined(MBEDTLS_PSA_CRYPTO_C)
    if (psa_crypto_init() != PSA_SUCCESS) {
        return -1;
    }
#endif
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_x509_crt_init(&t->crt);
    mbedtls_pk_init(&t->pk);
    mbedtls_ssl_init(&t->ssl);
    if (mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                              (const unsigned char *)"bench", 5) != 0) {
        return -1;
    }
    if ((pem = load(server ? cert : ca, &len)) == NULL) {
        fprintf(stderr, "cannot read %s\n", server ? cert : ca);
        return -1;
    }
    ret = mbedtls_x509_crt_parse(&t->crt, pem, len);
    free(pem);
    if (ret != 0) {
        fprintf(stderr, "certificate: -0x%x\n", (unsigned)-ret);
        return -1;
    }
    if (mbedtls_ssl_config_defaults(&t->conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        return -1;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    if (server) {
        if ((pem = load(key, &len)) == NULL) {
            fprintf(stderr, "cannot read %s\n", key);
            return -1;
        }
#if MBEDTLS_VERSION_MAJOR >= 3
        ret = mbedtls_pk_parse_key(&t->pk, pem, len, NULL, 0, mbedtls_ctr_drbg_random, &t->drbg);
#else
        ret = mbedtls_pk_parse_key(&t->pk, pem, len, NULL, 0);
#endif
        free(pem);
        if (ret != 0 || mbedtls_ssl_conf_own_cert(&t->conf, &t->crt, &t->pk) != 0) {
            fprintf(stderr, "key: -0x%x\n", (unsigned)-ret);
            return -1;
        }

    } else {
        mbedtls_ssl_conf_ca_chain(&t->conf, &t->crt, NULL);
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    }
    /* the suites (and order) of lib/tls_session.c and tscf-server, so that
     * the bench negotiates what the tunnel negotiates */
    {
        static int suites[12];
        int n = 0;
#ifdef MBEDTLS_TLS1_3_AES_128_GCM_SHA256
        suites[n++] = MBEDTLS_TLS1_3_AES_128_GCM_SHA256;
        suites[n++] = MBEDTLS_TLS1_3_AES_256_GCM_SHA384;
        suites[n++] = MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256;
#endif
        suites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
        suites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384;
        suites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
        suites[n] = 0;
        mbedtls_ssl_conf_ciphersuites(&t->conf, suites);
    }
    if (mbedtls_ssl_setup(&t->ssl, &t->conf) != 0) {
        return -1;
    }
    if (!server && mbedtls_ssl_set_hostname(&t->ssl, name) != 0) {
        return -1;
    }
    return 0;
}

static int handshake(tls *t, int *fd)
{
    int ret;
    mbedtls_ssl_set_bio(&t->ssl, fd, fd_send, fd_recv, NULL);
    do {
        ret = mbedtls_ssl_handshake(&t->ssl);
    } while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (ret != 0) {
        fprintf(stderr, "handshake: -0x%x\n", (unsigned)-ret);
    }
    return ret;
}

static void nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int client(unsigned short port, const char *ca, const char *name, size_t record, double seconds)
{
    static unsigned char buf[MAX_RECORD];
    struct sockaddr_in sa;
    tls t;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    double end;
    size_t i;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        return 1;
    }
    nodelay(fd);
    if (tls_setup(&t, 0, NULL, NULL, ca, name) != 0 || handshake(&t, &fd) != 0) {
        return 1;
    }
    for (i = 0; i < record; i++) {
        buf[i] = (unsigned char)(i * 7u + 3u);
    }
    end = now_s() + seconds;
    while (now_s() < end) {
        int k;
        for (k = 0; k < 64; k++) { /* check the clock every 64 records */
            size_t off = 0;
            while (off < record) {
                int ret = mbedtls_ssl_write(&t.ssl, buf + off, record - off);
                if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
                    continue;
                }
                if (ret < 0) {
                    fprintf(stderr, "write: -0x%x\n", (unsigned)-ret);
                    return 1;
                }
                off += (size_t)ret;
            }
        }
    }
    (void)mbedtls_ssl_close_notify(&t.ssl);
    shutdown(fd, SHUT_WR);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    static unsigned char buf[MAX_RECORD + 1024];
    const char *cert = NULL, *key = NULL, *ca = NULL, *name = "tscf.test";
    size_t record = 1402;
    double seconds = 5, t0 = 0, t1 = 0;
    unsigned long long bytes = 0;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int i, ls, fd, st = 0;
    pid_t pid;
    tls t;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cert") == 0) cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0) key = argv[i + 1];
        else if (strcmp(argv[i], "--ca") == 0) ca = argv[i + 1];
        else if (strcmp(argv[i], "--name") == 0) name = argv[i + 1];
        else if (strcmp(argv[i], "--record") == 0) record = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
        else break;
    }
    if (i != argc || !cert || !key || !ca || record == 0 || record > MAX_RECORD || seconds <= 0 ||
        seconds > 600) {
        fprintf(stderr, "usage: %s --cert PEM --key PEM --ca PEM [--name NAME] [--record 1..16384] "
                        "[--seconds S]\n", argv[0]);
        return 2;
    }
    ls = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
        perror("listen");
        return 1;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(ls);
        _exit(client(ntohs(sa.sin_port), ca, name, record, seconds));
    }
    alarm((unsigned)seconds + 30); /* bounded even if the client hangs */
    fd = accept(ls, NULL, NULL);
    close(ls);
    if (fd < 0) {
        perror("accept");
        return 1;
    }
    nodelay(fd);
    if (tls_setup(&t, 1, cert, key, NULL, NULL) != 0 || handshake(&t, &fd) != 0) {
        kill(pid, SIGTERM);
        return 1;
    }
    for (;;) {
        int ret = mbedtls_ssl_read(&t.ssl, buf, sizeof buf);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue;
        }
#endif
        if (ret <= 0) {
            break; /* close_notify or EOF */
        }
        if (bytes == 0) {
            t0 = now_s();
        }
        bytes += (unsigned long long)ret;
        t1 = now_s();
    }
    close(fd);
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || bytes == 0 || t1 <= t0) {
        fprintf(stderr, "the client failed\n");
        return 1;
    }
    printf("{\"record\":%zu,\"records\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"mbps\":%.1f,"
           "\"records_per_s\":%.0f,\"version\":\"%s\",\"suite\":\"%s\",\"mbedtls\":\"%s\"}\n",
           record, bytes / record, bytes, t1 - t0, (double)bytes * 8 / (t1 - t0) / 1e6,
           (double)(bytes / record) / (t1 - t0), mbedtls_ssl_get_version(&t.ssl),
           mbedtls_ssl_get_ciphersuite(&t.ssl), MBEDTLS_VERSION_STRING);
    return 0;
}
