/* tse-mkcert - write a test PKI for libtse's e2e and lab tests as PEM files.
 *
 *   tse-mkcert [-o DIR] [-n DNS-NAME] [-i IP] [-s SEED]
 *
 * Writes into DIR (default "."; created if missing):
 *   ca.pem ca.key                       the trusted test CA
 *   server.pem server.key server.pin    a server cert for -n/-i (default
 *                                       "tscf.test"), and the base64 and hex
 *                                       SHA-256 of its SubjectPublicKeyInfo
 *   wrong-name.pem wrong-name.key       same CA, name "other.test"
 *   expired.pem expired.key             same name, valid 2010-2011 only
 *   untrusted-ca.pem untrusted-ca.key   a second CA nobody trusts
 *   untrusted.pem untrusted.key         the server name, issued by it
 *   client.pem client.key               a clientAuth cert "client.test"
 *
 * All keys are ECDSA P-256, all certificates SHA-256, generated from a
 * deterministic DRBG seeded with SEED (default "tse-mkcert"): the same
 * arguments give the same files.  FOR TESTS ONLY - the keys are
 * predictable by construction.
 *
 * Names: the server name goes into the subject CN and into a
 * subjectAltName (dNSName and/or iPAddress).  mbed TLS 2.28 has no SAN
 * writer, so the extension is DER-encoded by test_pki.c; mbed TLS 2.28's
 * verifier matches dNSName (and the CN) but not iPAddress, 3.6 matches both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbedtls/base64.h"
#include "test_pki.h"

static const char *g_dir = ".";
static tp_rng *g_rng;

static void die(const char *what)
{
    fprintf(stderr, "tse-mkcert: %s\n", what);
    exit(1);
}

static void write_file(const char *name, const char *text)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static tp_key *new_key(const char *keyfile)
{
    char pem[TP_PEM_MAX];
    tp_key *k = tp_key_new(g_rng);
    if (k == NULL) die("key generation failed");
    if (tp_key_pem(k, pem, sizeof(pem)) != 0) die("key PEM failed");
    write_file(keyfile, pem);
    return k;
}

static void issue(const char *certfile, const tp_cert_params *p, const tp_key *k,
                  const tp_key *issuer, const char *issuer_name)
{
    char pem[TP_PEM_MAX];
    int ret = tp_cert_pem(g_rng, p, k, issuer, issuer_name, pem, sizeof(pem));
    if (ret != 0) {
        fprintf(stderr, "tse-mkcert: %s: mbed TLS error -0x%04x\n", certfile, (unsigned)-ret);
        exit(1);
    }
    write_file(certfile, pem);
}

static void usage(void)
{
    fprintf(stderr, "usage: tse-mkcert [-o DIR] [-n DNS-NAME] [-i IP] [-s SEED]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dns = NULL, *ip_text = NULL, *seed = "tse-mkcert";
    uint8_t ip[16];
    size_t ip_len = 0;
    char subj[512], pin_text[256];
    uint8_t pin[32];
    unsigned char b64[64];
    size_t b64_len = 0, i;
    tp_cert_params p;
    tp_key *ca, *uca, *k;
    int c;
    const char *ca_name = "CN=libtse test CA,O=libtse test";
    const char *uca_name = "CN=libtse untrusted CA,O=libtse test";

    while ((c = getopt(argc, argv, "o:n:i:s:h")) != -1) {
        switch (c) {
        case 'o': g_dir = optarg; break;
        case 'n': dns = optarg; break;
        case 'i': ip_text = optarg; break;
        case 's': seed = optarg; break;
        default: usage();
        }
    }
    if (optind != argc) usage();
    if (ip_text != NULL) {
        if (inet_pton(AF_INET, ip_text, ip) == 1) ip_len = 4;
        else if (inet_pton(AF_INET6, ip_text, ip) == 1) ip_len = 16;
        else die("-i: not an IPv4 or IPv6 address");
    }
    if (dns == NULL && ip_text == NULL) dns = "tscf.test";
    if (dns != NULL && strlen(dns) > 200) die("-n: name too long");
    snprintf(subj, sizeof(subj), "CN=%s,O=libtse test", dns ? dns : ip_text);

    if (mkdir(g_dir, 0755) != 0 && errno != EEXIST) {
        perror(g_dir);
        return 1;
    }
    g_rng = tp_rng_new(seed);
    if (g_rng == NULL) die("DRBG setup failed");

    memset(&p, 0, sizeof(p));
    p.not_before = "20200101000000";
    p.not_after = "20991231235959";

    ca = new_key("ca.key");
    p.subject = ca_name; p.is_ca = 1; p.serial = 1;
    issue("ca.pem", &p, ca, ca, ca_name);
    p.is_ca = 0;

    k = new_key("server.key");
    p.subject = subj; p.dns_name = dns; p.ip = ip_len ? ip : NULL; p.ip_len = ip_len;
    p.serial = 2;
    issue("server.pem", &p, k, ca, ca_name);
    if (tp_key_spki_sha256(k, pin) != 0) die("pin failed");
    if (mbedtls_base64_encode(b64, sizeof(b64), &b64_len, pin, sizeof(pin)) != 0) die("base64");
    b64[b64_len] = 0;
    snprintf(pin_text, sizeof(pin_text), "sha256//%s\n", (const char *)b64);
    for (i = 0; i < 32; i++) {
        snprintf(pin_text + strlen(pin_text), sizeof(pin_text) - strlen(pin_text), "%02x", pin[i]);
    }
    strcat(pin_text, "\n");
    write_file("server.pin", pin_text);
    tp_key_free(k);

    k = new_key("wrong-name.key");
    p.subject = "CN=other.test,O=libtse test"; p.dns_name = "other.test"; p.ip = NULL; p.ip_len = 0;
    p.serial = 3;
    issue("wrong-name.pem", &p, k, ca, ca_name);
    tp_key_free(k);

    k = new_key("expired.key");
    p.subject = subj; p.dns_name = dns; p.ip = ip_len ? ip : NULL; p.ip_len = ip_len;
    p.not_before = "20100101000000"; p.not_after = "20110101000000";
    p.serial = 4;
    issue("expired.pem", &p, k, ca, ca_name);
    tp_key_free(k);
    p.not_before = "20200101000000"; p.not_after = "20991231235959";

    k = new_key("client.key");
    p.subject = "CN=client.test,O=libtse test"; p.dns_name = "client.test"; p.ip = NULL; p.ip_len = 0;
    p.client = 1; p.serial = 5;
    issue("client.pem", &p, k, ca, ca_name);
    tp_key_free(k);
    p.client = 0;

    uca = new_key("untrusted-ca.key");
    p.subject = uca_name; p.is_ca = 1; p.dns_name = NULL; p.serial = 100;
    issue("untrusted-ca.pem", &p, uca, uca, uca_name);
    p.is_ca = 0;
    k = new_key("untrusted.key");
    p.subject = subj; p.dns_name = dns; p.ip = ip_len ? ip : NULL; p.ip_len = ip_len;
    p.serial = 101;
    issue("untrusted.pem", &p, k, uca, uca_name);
    tp_key_free(k);

    tp_key_free(ca);
    tp_key_free(uca);
    tp_rng_free(g_rng);
    printf("tse-mkcert: wrote the test PKI to %s (server name %s%s%s)\n", g_dir,
           dns ? dns : "", dns && ip_text ? ", " : "", ip_text ? ip_text : "");
    return 0;
}
