/* abi.h -- the contract between the kernel and its user programs: system
 * call numbers (a7; arguments a0..a2; result a0, a second result in a1),
 * program ids (a0 at process entry, a1 = argument) and the user layout. */
#ifndef ABI_H
#define ABI_H

#define SYS_null    0   /* () -> how many null calls so far, this one included */
#define SYS_exit    1   /* (status) */
#define SYS_write   2   /* (buf, len) -> len; straight to the console */
#define SYS_getpid  3   /* () -> pid */
#define SYS_yield   4   /* () -> 0 */
#define SYS_sbrk    5   /* (increment) -> old break; shrinking unmaps pages */
#define SYS_fork    6   /* () -> child pid in the parent, 0 in the child */
#define SYS_wait    7   /* (pid or -1) -> a0 pid (-1: no such child), a1 status */
#define SYS_sleep   8   /* (ticks) -> 0, after that many timer ticks */
#define NSYSCALLS   9

#define PROG_INIT      0   /* the demo's first process */
#define PROG_SYSCALL   1
#define PROG_PGFAULT   2
#define PROG_TRAP      3
#define PROG_COMPUTE   4
#define PROG_FORKWAIT  5
#define PROG_CONSOLE   6

/* User virtual layout (Sv39 root slot 1: 0x4000_0000 .. 0x7FFF_FFFF). */
#define USER_BASE       0x40000000ul   /* the program image (user.ld) */
#define USER_HEAP_LIMIT 0x60000000ul   /* sbrk stops here */
#define USER_STACK_TOP  0x80000000ul
#define USER_STACK_SIZE 0x00100000ul   /* pages below the top appear on demand */

#define USER_MAGIC 0x52455355u         /* "USER" little-endian */

/* A process killed by a fault exits with this status plus scause. */
#define KILLED_STATUS_BASE 128

#define PGFAULT_WINDOW_PAGES 16        /* pgfault: pages touched between unmaps */

#endif
