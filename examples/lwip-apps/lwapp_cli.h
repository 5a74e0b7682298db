/*
 * lwapp_cli.h - the command line shared by the lwIP examples (and meant for
 * tse-cli): the tunnel's options plus one inner application.
 *
 *   --server HOST:PORT --ca CA.pem [--sni NAME] [--json] [--reconnect]
 *   [--backoff-max MS] [--outq BYTES] [--timeout S]
 *   and one of
 *   --ping A.B.C.D [--count N] [--interval MS]
 *   --sip-options sip:HOST[:PORT][;transport=tcp]
 *   --tcp-send HOST:PORT [--bytes N[k|M|G|Ki|Mi|Gi]] [--seed N]
 *   --rtp HOST:PORT [--seconds S] [--pps N (0 = flood)] [--window N]
 *
 * Pure parsing (no lwIP calls besides address parsing): any thread.
 */
#ifndef LWAPP_CLI_H
#define LWAPP_CLI_H

#include "lwip_apps.h"

typedef struct lwapp_cli {
    char server_host[256];
    u16_t server_port;
    const char *ca_file;
    const char *sni;
    int json;
    int reconnect;          /**< tse_settings::auto_reconnect */
    unsigned backoff_max_ms;/**< tse_settings::backoff_max_ms, 0 = default;
                                 also caps backoff_initial_ms */
    size_t outq;            /**< tse_settings::outq_size, 0 = default */
    unsigned timeout_s;     /**< whole run; 0 = lwapp_cli_default_timeout() */
    lwapp_spec spec;        /**< kind LWAPP_NONE if no application was given */
} lwapp_cli;

/**
 * @brief Parse argv[1..argc).  Options the caller handles itself are
 *        reported through @p extra (called with the option and its value;
 *        return 0 if taken, -1 if unknown); may be NULL.
 * @return 0, or -1 with a message in @p err.
 */
int lwapp_cli_parse(int argc, char **argv, lwapp_cli *c,
                    int (*extra)(void *u, const char *opt, const char *val),
                    void *u, char *err, size_t errlen);

/** @brief The usage lines of the options above. */
const char *lwapp_cli_usage(void);

/** @brief Seconds the whole run may take for c->spec (tunnel set-up,
 *         the application, release). */
unsigned lwapp_cli_default_timeout(const lwapp_cli *c);

#endif /* LWAPP_CLI_H */
