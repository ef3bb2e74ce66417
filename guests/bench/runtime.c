/* runtime.c -- polled UART output and the finisher, the guests' only devices. */
#include "bench.h"

void uart_putc(char c)
{
    volatile uint8_t *uart = (volatile uint8_t *)UART_BASE;
    while (!(uart[UART_LSR] & UART_LSR_THRE))
        ;
    uart[0] = (uint8_t)c;
}

void uart_puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

void uart_put_dec(uint64_t value)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n)
        uart_putc(digits[--n]);
}

void uart_put_hex(uint64_t value)
{
    uart_puts("0x");
    for (int shift = 60; shift >= 0; shift -= 4)
        uart_putc("0123456789abcdef"[(value >> shift) & 0xF]);
}

void finisher_pass(void)
{
    *(volatile uint32_t *)FINISHER_BASE = FINISHER_PASS;
    for (;;)
        ;
}
