/*
 * arch/cc.h - compiler/platform glue lwIP needs (see lwIP's
 * doc "Porting": lwip/arch.h lists what may be defined here).
 *
 * This one is for hosted builds (Linux, other POSIX hosts) with GCC or
 * clang, as used by the project's tests and examples.  An RTOS vendor uses
 * its own arch/cc.h next to port/lwip/lwipopts.h.
 */
#ifndef TSE_LWIP_ARCH_CC_H
#define TSE_LWIP_ARCH_CC_H

#if defined(__unix__) || defined(__APPLE__)
/* Take errno values, struct timeval and the byte-order macros from the host,
 * so that lwIP headers and host headers can share a translation unit. */
#include <sys/types.h>
#include <sys/time.h>
#include <limits.h>
/* ssize_t comes from <sys/types.h>; tell lwip/arch.h so even in strict ISO C
 * mode, where <limits.h> hides the POSIX SSIZE_MAX. */
#ifndef SSIZE_MAX
#define SSIZE_MAX LONG_MAX
#endif
#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS
#endif

/* Byte order from the compiler when no header told us. */
#if !defined(BYTE_ORDER) && defined(__BYTE_ORDER__)
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTE_ORDER BIG_ENDIAN
#else
#define BYTE_ORDER LITTLE_ENDIAN
#endif
#endif

/* lwIP uses random numbers for initial local ports and IP/IPv6 IDs; none of
 * them is a security boundary inside the tunnel (the outer TLS is).  An
 * integrator with a hardware RNG defines LWIP_RAND itself. */
#ifndef LWIP_RAND
#include <stdlib.h>
#define LWIP_RAND() ((u32_t)rand())
#endif

/* Value of a critical section (sys_arch_protect) for SYS_LIGHTWEIGHT_PROT. */
typedef unsigned int sys_prot_t;

#endif /* TSE_LWIP_ARCH_CC_H */
