/* board.h - the QEMU mps2-an386 board (Cortex-M4) for the example image:
 * UART0 (CMSDK APB UART), SysTick millisecond clock, semihosting, the
 * test-only entropy source, a counting allocator, stack painting. */
#ifndef TSE_CM_BOARD_H
#define TSE_CM_BOARD_H

#include <stddef.h>
#include <stdint.h>

void board_init(void);

/* UART0 at 0x40004000 (QEMU: -serial) */
void uart_puts(const char *s);
void uart_putn(const char *s, size_t n);
void uart_putu(uint32_t v);

/* Milliseconds since board_init() (SysTick, 1 kHz). */
uint32_t board_ms(void);
/* Sleep until the next interrupt (SysTick at the latest). */
void board_idle(void);

/* Semihosting: exit QEMU with @p status (SYS_EXIT_EXTENDED). */
void board_exit(int status) __attribute__((noreturn));
/* Semihosting: the command line ("-semihosting-config arg=..."), or 0. */
int board_cmdline(char *buf, size_t cap);
/* Semihosting: read a host file into a new heap buffer (NUL added). */
uint8_t *board_read_file(const char *path, size_t *len);

/* TEST-ONLY entropy: see board.c.  0 on success. */
int board_test_entropy(void *user, uint8_t *buf, size_t len);

/* A counting allocator over newlib's malloc: live bytes and their
 * high-water mark, for libtse (tse_mem) and mbed TLS. */
void *board_calloc(size_t n, size_t size);
void board_free(void *p);
size_t board_heap_live(void);
size_t board_heap_peak(void);
void board_heap_reset_peak(void);

/* Stack painting: bytes of the stack ever used since reset. */
size_t board_stack_peak(void);
size_t board_stack_size(void);

#endif
