/* tse-cli: the library's log (--log LEVEL, --tls-debug N) on stderr, and a
 * tunnel's statistics (tse_stats) as one line: a JSON object with --json
 * (at exit, and for every tunnel on SIGUSR1), text otherwise. */
#ifndef TSE_CLI_STATS_CLI_H
#define TSE_CLI_STATS_CLI_H

#include <stddef.h>

#include "tse/tse.h"

/* --log / --tls-debug: 1 taken, 0 not ours, -1 bad value (msg says why). */
int stats_cli_option(const char *name, const char *val, char *msg, size_t cap);

/* The log hook into @p s (nothing without --log).  @p index_of names a
 * tunnel in log lines ("#3"; NULL or -1: no number). */
void stats_cli_settings(tse_settings *s, long (*index_of)(const tse_tunnel *t));

/* One line of @p t's statistics on stdout: {"event":"stats",...} with
 * @p json, else "stats[#idx]: ..." text.  @p idx < 0: no tunnel number.
 * @p wakeups: the driver's poll returns so far (tse_posix_driver_polls(),
 * the idle cost; shared by all its tunnels), printed as "wakeups". */
void stats_cli_print(const tse_tunnel *t, long idx, int json, unsigned long long wakeups);

#endif
