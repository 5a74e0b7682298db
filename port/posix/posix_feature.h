/* Feature-test macros for the POSIX port: the build is -std=c99 without
 * extensions, so ask for POSIX.1-2008 plus the BSD/GNU bits the port uses
 * (MSG_NOSIGNAL, getrandom, EHOSTDOWN).  Include before any system header. */
#ifndef TSE_POSIX_FEATURE_H
#define TSE_POSIX_FEATURE_H
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#if defined(__APPLE__) && !defined(_DARWIN_C_SOURCE)
#define _DARWIN_C_SOURCE 1
#endif
#endif
