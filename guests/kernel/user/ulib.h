/* ulib.h -- system call wrappers and printing for user programs. */
#ifndef ULIB_H
#define ULIB_H

#include <stdint.h>

#include "../abi.h"
#include "../lib.h"

static inline long syscall2(long nr, long a0, long a1, long *second)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a7 __asm__("a7") = nr;
    __asm__ volatile ("ecall" : "+r"(r_a0), "+r"(r_a1) : "r"(r_a7) : "memory");
    if (second)
        *second = r_a1;
    return r_a0;
}

static inline long sys_null(void)             { return syscall2(SYS_null, 0, 0, 0); }
static inline void sys_exit(long status)      { syscall2(SYS_exit, status, 0, 0); for (;;) ; }
static inline long sys_write(const void *b, long n) { return syscall2(SYS_write, (long)b, n, 0); }
static inline long sys_getpid(void)           { return syscall2(SYS_getpid, 0, 0, 0); }
static inline long sys_yield(void)            { return syscall2(SYS_yield, 0, 0, 0); }
static inline long sys_sbrk(long increment)   { return syscall2(SYS_sbrk, increment, 0, 0); }
static inline long sys_fork(void)             { return syscall2(SYS_fork, 0, 0, 0); }
static inline long sys_sleep(long ticks)      { return syscall2(SYS_sleep, ticks, 0, 0); }
static inline long sys_wait(long pid, long *status) { return syscall2(SYS_wait, pid, 0, status); }

void uprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
