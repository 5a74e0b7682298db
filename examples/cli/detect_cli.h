/* tse-cli --detect: is IMS blocked here, and which path works?  Runs the
 * detector (tse/detect.h) on the POSIX runner (tse_detect_posix.h), prints
 * every probe step live and the decision, keeps the winning tunnel up, and
 * with --verify sends a SIP OPTIONS over the chosen path. */
#ifndef TSE_CLI_DETECT_CLI_H
#define TSE_CLI_DETECT_CLI_H

/* 1 if the command line asks for detection (has --detect). */
int detect_cli_wanted(int argc, char **argv);

/* The whole --detect mode; returns the exit status (0 a path was found
 * (and, with --verify, SIP OPTIONS was answered over it), 1 failure,
 * 2 bad usage). */
int detect_cli_main(int argc, char **argv);

#endif
