/* board.c - QEMU mps2-an386 support for the example image: vector table and
 * reset, UART0, SysTick, semihosting, TEST-ONLY entropy, a counting
 * allocator, stack painting. */
#include "board.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REG(a) (*(volatile uint32_t *)(a))

/* ---- reset and vectors --------------------------------------------------- */

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __heap_start__, __heap_end__, __stack_limit__, __stack_top__;

int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);

#define STACK_PAINT 0xC0FFEE11u

void Reset_Handler(void)
{
    uint32_t *src = &__etext, *dst, *sp;
    for (dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0;
    }
    /* paint the stack below this frame (a margin of 64 bytes) */
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (dst = &__stack_limit__; dst < sp - 16;) {
        *dst++ = STACK_PAINT;
    }
    board_exit(main());
}

void Default_Handler(void)
{
    uart_puts("\r\nunexpected exception\r\n");
    board_exit(70);
}

void HardFault_Handler(void)
{
    uart_puts("\r\nHardFault\r\n");
    board_exit(71);
}

static volatile uint32_t ticks;

void SysTick_Handler(void)
{
    ticks++;
}

typedef void (*vector)(void);
__attribute__((section(".isr_vector"), used)) static const vector vectors[16 + 32] = {
    (vector)(uintptr_t)&__stack_top__,
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler,
    Default_Handler,   /* MemManage */
    Default_Handler,   /* BusFault */
    Default_Handler,   /* UsageFault */
    0, 0, 0, 0,
    Default_Handler,   /* SVC */
    Default_Handler,   /* DebugMon */
    0,
    Default_Handler,   /* PendSV */
    SysTick_Handler,
    /* external interrupts: none enabled */
};

/* ---- UART0: CMSDK APB UART ------------------------------------------------- */

#define UART0 0x40004000u
#define UART_DATA (UART0 + 0x00)
#define UART_STATE (UART0 + 0x04)
#define UART_CTRL (UART0 + 0x08)
#define UART_BAUDDIV (UART0 + 0x10)

void uart_putn(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        while (REG(UART_STATE) & 1u) {
        }
        REG(UART_DATA) = (uint8_t)s[i];
    }
}

void uart_puts(const char *s)
{
    uart_putn(s, strlen(s));
}

void uart_putu(uint32_t v)
{
    char b[11];
    int i = 10;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    uart_puts(b + i);
}

/* ---- SysTick: 1 kHz from the 25 MHz core clock ------------------------------ */

#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u
#define CORE_HZ 25000000u

void board_init(void)
{
    REG(UART_BAUDDIV) = 16;
    REG(UART_CTRL) = 1; /* TX enable */
    REG(SYST_RVR) = CORE_HZ / 1000u - 1u;
    REG(SYST_CVR) = 0;
    REG(SYST_CSR) = 7; /* core clock, interrupt, enable */
}

uint32_t board_ms(void)
{
    return ticks;
}

void board_idle(void)
{
    __asm volatile("wfi");
}

/* ---- semihosting ------------------------------------------------------------ */

static int semihost(int op, void *arg)
{
    register int r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void board_exit(int status)
{
    uint32_t blk[2] = { 0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)status };
    for (;;) {
        (void)semihost(0x20 /* SYS_EXIT_EXTENDED */, blk);
    }
}

int board_cmdline(char *buf, size_t cap)
{
    uint32_t blk[2] = { (uint32_t)(uintptr_t)buf, (uint32_t)cap };
    if (semihost(0x15 /* SYS_GET_CMDLINE */, blk) != 0) {
        return -1;
    }
    return (int)blk[1];
}

uint8_t *board_read_file(const char *path, size_t *len)
{
    uint32_t blk[3];
    int h, n, left;
    uint8_t *b;
    blk[0] = (uint32_t)(uintptr_t)path;
    blk[1] = 0; /* "r" */
    blk[2] = (uint32_t)strlen(path);
    if ((h = semihost(0x01 /* SYS_OPEN */, blk)) < 0) {
        return NULL;
    }
    blk[0] = (uint32_t)h;
    n = semihost(0x0c /* SYS_FLEN */, blk);
    b = n >= 0 ? (uint8_t *)board_calloc(1, (size_t)n + 1) : NULL;
    if (b != NULL) {
        blk[0] = (uint32_t)h;
        blk[1] = (uint32_t)(uintptr_t)b;
        blk[2] = (uint32_t)n;
        left = semihost(0x06 /* SYS_READ */, blk); /* bytes NOT read */
        if (left != 0) {
            board_free(b);
            b = NULL;
        } else {
            *len = (size_t)n + 1; /* with the NUL: PEM for mbed TLS */
        }
    }
    blk[0] = (uint32_t)h;
    (void)semihost(0x02 /* SYS_CLOSE */, blk);
    return b;
}

/* ---- TEST-ONLY entropy ----------------------------------------------------------
 *
 * *********************************************************************
 * *  NOT A SOURCE OF ENTROPY.  The emulated board has no TRNG.  This    *
 * *  mixes the SysTick counter and the millisecond clock (which vary    *
 * *  with the host's timing under QEMU) into xorshift64*: good enough   *
 * *  for a test that must not depend on the keys being secret, USELESS  *
 * *  on a product (predictable keys, broken TLS).  A real port reads    *
 * *  the MCU's TRNG here (docs/porting.md "Entropy").                   *
 * *********************************************************************
 */
static uint64_t test_rng;

int board_test_entropy(void *user, uint8_t *buf, size_t len)
{
    size_t i;
    (void)user;
    for (i = 0; i < len; i++) {
        test_rng ^= ((uint64_t)REG(SYST_CVR) << 32) ^ ticks ^ 0x9e3779b97f4a7c15ull;
        test_rng ^= test_rng >> 12;
        test_rng ^= test_rng << 25;
        test_rng ^= test_rng >> 27;
        buf[i] = (uint8_t)((test_rng * 0x2545F4914F6CDD1Dull) >> 56);
    }
    return 0;
}

/* ---- the counting allocator --------------------------------------------------- */

static size_t heap_live, heap_peak;

void *board_calloc(size_t n, size_t size)
{
    size_t *p;
    if (size != 0 && n > (SIZE_MAX - 8) / size) {
        return NULL;
    }
    p = (size_t *)calloc(1, n * size + 8);
    if (p == NULL) {
        return NULL;
    }
    p[0] = n * size;
    heap_live += p[0];
    if (heap_live > heap_peak) {
        heap_peak = heap_live;
    }
    return p + 2;
}

void board_free(void *ptr)
{
    size_t *p = (size_t *)ptr;
    if (p == NULL) {
        return;
    }
    p -= 2;
    heap_live -= p[0];
    free(p);
}

size_t board_heap_live(void) { return heap_live; }
size_t board_heap_peak(void) { return heap_peak; }
void board_heap_reset_peak(void) { heap_peak = heap_live; }

/* newlib's malloc gets its memory here: the .heap section, nothing more. */
void *_sbrk(ptrdiff_t incr);
void *_sbrk(ptrdiff_t incr)
{
    static uint8_t *brk;
    uint8_t *old;
    if (brk == NULL) {
        brk = (uint8_t *)&__heap_start__;
    }
    if (incr > (uint8_t *)&__heap_end__ - brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    old = brk;
    brk += incr;
    return old;
}

void _exit(int status);
void _exit(int status)
{
    board_exit(status);
}

/* ---- stack painting ------------------------------------------------------------- */

size_t board_stack_peak(void)
{
    const uint32_t *p = &__stack_limit__;
    while (p < &__stack_top__ && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)((const uint8_t *)&__stack_top__ - (const uint8_t *)p);
}

size_t board_stack_size(void)
{
    return (size_t)((const uint8_t *)&__stack_top__ - (const uint8_t *)&__stack_limit__);
}
