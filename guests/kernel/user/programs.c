/* programs.c -- the user programs, one image for all of them: umain picks
 * one by the id the kernel passes in a0.  They report through system calls
 * and their exit status, never through timing. */
#include <stdarg.h>

#include "ulib.h"

void uprintf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sys_write(buf, n < (int)sizeof buf ? n : (int)sizeof buf - 1);
}

static inline void breakpoint(void)
{
    __asm__ volatile (".option push\n.option norvc\nebreak\n.option pop" ::: "memory");
}

/* ------------------------------------------------------ nanobenchmarks */

static uint64_t prog_syscall(uint64_t n)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += (uint64_t)sys_null();     /* the kernel's running count: 1 + 2 + ... + n */
    return sum;
}

/* Each iteration touches a fresh page of a 16-page heap window (one demand
 * fault); when the window is used up, it is unmapped and reserved again. */
static uint64_t prog_pgfault(uint64_t n)
{
    const long window = PGFAULT_WINDOW_PAGES * 4096;
    volatile uint64_t *base = (volatile uint64_t *)sys_sbrk(window);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t page = i % PGFAULT_WINDOW_PAGES;
        volatile uint64_t *p = base + page * 512 + i % 512;
        sum += *p;                       /* a fresh page reads zero */
        *p = i + 1;
        sum += *p;
        if (page == PGFAULT_WINDOW_PAGES - 1 && i + 1 < n) {
            sys_sbrk(-window);
            sys_sbrk(window);
        }
    }
    sys_sbrk(-window);
    return sum;
}

static uint64_t prog_trap(uint64_t n)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        breakpoint();
        sum += 3;
    }
    return sum;
}

/* ------------------------------------------------------------- macro */

static uint32_t crc32(const uint8_t *data, uint64_t len, uint32_t crc)
{
    crc = ~crc;
    for (uint64_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    return ~crc;
}

static uint64_t count_primes(uint8_t *composite, uint64_t limit)
{
    uint64_t count = 0;
    memset(composite, 0, limit);
    for (uint64_t i = 2; i < limit; i++) {
        if (composite[i])
            continue;
        count++;
        for (uint64_t j = i * i; j < limit; j += i)
            composite[j] = 1;
    }
    return count;
}

#define MAT 12
static uint64_t matmul_trace(uint64_t seed)
{
    static uint64_t a[MAT][MAT], b[MAT][MAT];
    uint64_t trace = 0;
    for (int i = 0; i < MAT; i++)
        for (int j = 0; j < MAT; j++) {
            a[i][j] = seed + (uint64_t)(i * 7 + j);
            b[i][j] = seed ^ (uint64_t)(i + j * 3);
        }
    for (int i = 0; i < MAT; i++)
        for (int j = 0; j < MAT; j++) {
            uint64_t s = 0;
            for (int k = 0; k < MAT; k++)
                s += a[i][k] * b[k][j];
            trace += i == j ? s : s >> 7;
        }
    return trace;
}

static uint64_t prog_compute(uint64_t rounds)
{
    const uint64_t limit = 8192;
    uint8_t *heap = (uint8_t *)sys_sbrk((long)limit);
    uint64_t sum = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t primes = count_primes(heap, limit - r);
        uint32_t crc = crc32(heap, limit, (uint32_t)r);
        sum = sum * 31 + primes + crc + matmul_trace(r);
    }
    return sum;
}

static uint64_t prog_forkwait(uint64_t n)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        long pid = sys_fork();
        if (pid == 0) {
            volatile uint8_t *page = (volatile uint8_t *)sys_sbrk(4096);
            page[100] = (uint8_t)i;      /* one demand fault in every child */
            sys_exit((long)(i % 7) + page[100]);
        }
        long status = -1;
        if (pid < 0 || sys_wait(pid, &status) != pid)
            return (uint64_t)-1;
        sum += (uint64_t)status;
    }
    return sum;
}

static uint64_t prog_console(uint64_t n)
{
    uint64_t bytes = 0;
    char line[32];
    for (uint64_t i = 0; i < n; i++) {
        int len = format(line, sizeof line, "console %lu\n", i);
        bytes += (uint64_t)sys_write(line, len);
    }
    return bytes;
}

/* -------------------------------------------------------------- demo */

static uint64_t child_primes(void)
{
    const uint64_t limit = 65536;        /* 16 pages of heap, each faulted in */
    return count_primes((uint8_t *)sys_sbrk((long)limit), limit);
}

static uint64_t descend(int depth)
{
    volatile uint8_t frame[600];         /* about 7 pages of stack at depth 48 */
    for (int i = 0; i < (int)sizeof frame; i += 64)
        frame[i] = (uint8_t)(depth + i);
    uint64_t below = depth ? descend(depth - 1) : 0;
    return below * 3 + frame[depth % 9 * 64];
}

static uint64_t child_stack(void)
{
    return descend(48) % 1000003;
}

static uint64_t child_sleeper(void)
{
    uint64_t slept = 0;
    for (int i = 0; i < 3; i++)
        slept += sys_sleep(2) == 0;      /* each needs two timer interrupts */
    return slept;
}

static uint64_t child_yielder(void)
{
    uint64_t a = 0, b = 1;
    for (int i = 0; i < 10; i++) {
        sys_yield();
        for (int k = 0; k < 5; k++) {
            uint64_t t = a + b;
            a = b;
            b = t;
        }
    }
    return a;                            /* fib(50) */
}

static uint64_t child_breakpoints(void)
{
    for (int i = 0; i < 4; i++)
        breakpoint();
    return 4;
}

static uint64_t child_intruder(void)
{
    /* Kernel memory is mapped without PTE_U: the load faults and the kernel
     * kills the process (status 128 + 13). */
    return *(volatile uint64_t *)0x80200000ul;
}

/* System calls with arguments the kernel must refuse without harm: buffers in
 * kernel memory and device space, breaks outside the heap, an unknown call,
 * a wait for a process that is not a child.  Each refusal counts one. */
static uint64_t child_hostile(void)
{
    uint64_t refused = 0;
    refused += sys_write((const void *)0x80200000ul, 16) == -1;
    refused += sys_write((const void *)0x10000000ul, 1) == -1;
    refused += sys_sbrk(1l << 40) == -1;
    refused += sys_sbrk(-(1l << 40)) == -1;
    refused += syscall2(NSYSCALLS + 90, 0, 0, 0) == -1;
    refused += sys_wait(1, 0) == -1;        /* init is this process's parent */
    return refused;
}

static const struct child {
    const char *name;
    uint64_t (*run)(void);
} children[] = {
    { "primes", child_primes },
    { "stack", child_stack },
    { "sleeper", child_sleeper },
    { "yielder", child_yielder },
    { "breakpoints", child_breakpoints },
    { "intruder", child_intruder },
    { "hostile", child_hostile },
};
#define NCHILDREN (sizeof children / sizeof children[0])

static uint64_t prog_init(void)
{
    long pids[NCHILDREN];
    uprintf("init: pid %ld, running in user mode\n", sys_getpid());
    for (unsigned i = 0; i < NCHILDREN; i++) {
        pids[i] = sys_fork();
        if (pids[i] == 0)
            sys_exit((long)children[i].run());
        if (pids[i] < 0) {
            uprintf("init: fork failed\n");
            return 1;
        }
    }
    uprintf("init: started %u children\n", (unsigned)NCHILDREN);
    for (unsigned i = 0; i < NCHILDREN; i++) {
        long status = -1;
        long pid = sys_wait(pids[i], &status);
        uprintf("init: child %ld (%s) exited with status %ld\n", pid, children[i].name, status);
    }
    long status;
    uprintf("init: wait with no children left returns %ld\n", sys_wait(-1, &status));
    /* The only process left goes to sleep: the kernel idles in WFI until the
     * timer interrupt wakes it. */
    uprintf("init: sleep with nothing else to run returns %ld\n", sys_sleep(1));
    return 0;
}

uint64_t umain(uint64_t prog, uint64_t arg)
{
    switch (prog) {
    case PROG_INIT:     return prog_init();
    case PROG_SYSCALL:  return prog_syscall(arg);
    case PROG_PGFAULT:  return prog_pgfault(arg);
    case PROG_TRAP:     return prog_trap(arg);
    case PROG_COMPUTE:  return prog_compute(arg);
    case PROG_FORKWAIT: return prog_forkwait(arg);
    case PROG_CONSOLE:  return prog_console(arg);
    }
    return (uint64_t)-1;
}
