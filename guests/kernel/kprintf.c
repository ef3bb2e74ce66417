/* kprintf.c -- formatted kernel output through the SBI console. */
#include <stdarg.h>

#include "kernel.h"
#include "sbi.h"

void kprintf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf)
        n = sizeof buf - 1;
    sbi_console_write(buf, (size_t)n);
}

void panic(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf)
        n = sizeof buf - 1;
    sbi_console_write("kernel panic: ", 14);
    sbi_console_write(buf, (size_t)n);
    sbi_console_write("\n", 1);
    sbi_shutdown(1);
}
