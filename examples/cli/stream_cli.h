/* tse-cli --sip-tls / --turn: SIP OPTIONS and a TURN allocation over the
 * TLS stream API (tse/stream.h), directly or through an HTTP CONNECT
 * proxy (TR 33.830 8.3). */
#ifndef TSE_CLI_STREAM_CLI_H
#define TSE_CLI_STREAM_CLI_H

/* 1 if the command line asks for this mode (--sip-tls or --turn). */
int stream_cli_wanted(int argc, char **argv);

/* The whole mode; returns the exit status (0 answered, 1 failure, 2 bad
 * usage). */
int stream_cli_main(int argc, char **argv);

#endif
