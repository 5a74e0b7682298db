/*
 * keylog_out: SSLKEYLOGFILE for the example programs (tse-cli): the TLS
 * secrets that tse_settings.tls_keylog hands over, appended to the file as
 * NSS key log lines ("LABEL <client random hex> <secret hex>"), which
 * Wireshark and tshark read (tls.keylog_file).  Debugging only: whoever
 * reads the file can decrypt the tunnel.
 */
#ifndef TSE_EXAMPLES_KEYLOG_OUT_H
#define TSE_EXAMPLES_KEYLOG_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** If the environment variable SSLKEYLOGFILE names a file: open it for
 *  appending (created with mode 0600), print a loud warning naming it on
 *  stderr (prefixed with @p prog), and return it.  NULL when the variable
 *  is unset or empty; NULL with *@p failed = 1 when the file cannot be
 *  opened (reason printed). */
FILE *keylog_open_env(const char *prog, int *failed);

/** tse_settings.tls_keylog: @p user is the FILE from keylog_open_env(). */
void keylog_write(void *user, const char *label, const uint8_t client_random[32],
                  const uint8_t *secret, size_t secret_len);

#endif
