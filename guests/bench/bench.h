/* bench.h -- what the benchmark guests share: the console, the finisher and
 * the entry points crt0.S and the boot stubs call. */
#ifndef BENCH_H
#define BENCH_H
#include <stdint.h>

#define UART_BASE      0x10000000UL   /* NS16550A on QEMU's virt */
#define UART_LSR       5
#define UART_LSR_THRE  0x20
#define FINISHER_BASE  0x100000UL     /* SiFive test finisher */
#define FINISHER_PASS  0x5555

void uart_putc(char c);
void uart_puts(const char *s);
void uart_put_dec(uint64_t value);
void uart_put_hex(uint64_t value);
void finisher_pass(void) __attribute__((noreturn));

/* Sizes the run; patched in the ELF file by pyvmm.bench.elfpatch. */
extern volatile uint32_t bench_iterations;
extern volatile uint32_t bench_list_pages;

/* crt0.S calls bench_start in M-mode; the boot stub picks the privilege mode
 * and address translation, then calls bench_main, which never returns. */
void bench_start(void) __attribute__((noreturn));
void bench_main(void) __attribute__((noreturn));

#endif
