/* main.c -- boot, mode selection and the final summary.
 *
 * The mode comes from two 32-bit globals in .data that tools patch in the
 * ELF (pyvmm.bench.elfpatch.patch_u32: kernel_mode, kernel_iterations), or
 * from the command line in /chosen/bootargs ("mode=NAME iterations=N"),
 * which wins when given.  Output never depends on timing: only counts that
 * the program fixes by construction are printed. */
#include "arch.h"
#include "kernel.h"
#include "sbi.h"

/* Patched in the ELF file, so they must live in .data even when zero. */
__attribute__((section(".data"), used)) volatile uint32_t kernel_mode = 0;
__attribute__((section(".data"), used)) volatile uint32_t kernel_iterations = 0;

#define TIMER_QUANTUM 10000   /* timebase ticks: 1 ms at QEMU virt's 10 MHz */

enum kind { DEMO, USER_BENCH, KERNEL_BENCH, MACRO };

struct mode {
    const char *name;
    enum kind kind;
    int prog;                         /* user program (user modes) */
    uint64_t (*bench)(uint64_t n);    /* kernel loop (kernel modes) */
    uint32_t default_iterations;
};

/* Indexed by kernel_mode: the numbers are part of the interface. */
static const struct mode modes[] = {
    { "demo",     DEMO,         PROG_INIT,     0,             0 },
    { "syscall",  USER_BENCH,   PROG_SYSCALL,  0,             1000 },
    { "mmio",     KERNEL_BENCH, 0,             bench_mmio,    1000 },
    { "csrwr",    KERNEL_BENCH, 0,             bench_csrwr,   1000 },
    { "callret",  KERNEL_BENCH, 0,             bench_callret, 1000 },
    { "pgfault",  USER_BENCH,   PROG_PGFAULT,  0,             1000 },
    { "trap",     USER_BENCH,   PROG_TRAP,     0,             1000 },
    { "ptemod",   KERNEL_BENCH, 0,             bench_ptemod,  1000 },
    { "ctxsw",    KERNEL_BENCH, 0,             bench_ctxsw,   1000 },
    { "compute",  MACRO,        PROG_COMPUTE,  0,             4 },
    { "forkwait", MACRO,        PROG_FORKWAIT, 0,             100 },
    { "console",  MACRO,        PROG_CONSOLE,  0,             100 },
};
#define NMODES (sizeof modes / sizeof modes[0])

static const char *const syscall_names[NSYSCALLS] = {
    "null", "exit", "write", "getpid", "yield", "sbrk", "fork", "wait", "sleep",
};

extern char _end[];

static const struct mode *mode;
static uint64_t iterations, baseline_pages;

void kernel_trap(uint64_t scause, uint64_t sepc, uint64_t stval)
{
    panic("trap in the kernel: scause 0x%lx sepc 0x%lx stval 0x%lx", scause, sepc, stval);
}

static uint64_t parse_uint(const char *s, size_t len, int *ok)
{
    uint64_t v = 0;
    *ok = len > 0 && len <= 10;
    for (size_t i = 0; i < len && *ok; i++) {
        if (s[i] < '0' || s[i] > '9')
            *ok = 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *ok = *ok && v <= 0xFFFFFFFFu;
    return v;
}

/* "mode=NAME iterations=N"; other words belong to someone else. */
static void parse_bootargs(const char *args, uint32_t *mode_index, uint32_t *n)
{
    while (*args) {
        while (*args == ' ')
            args++;
        const char *word = args;
        while (*args && *args != ' ')
            args++;
        size_t len = (size_t)(args - word);
        if (len > 5 && strncmp(word, "mode=", 5) == 0) {
            uint32_t i;
            for (i = 0; i < NMODES; i++)
                if (strlen(modes[i].name) == len - 5 && strncmp(word + 5, modes[i].name, len - 5) == 0)
                    break;
            if (i == NMODES) {
                char name[32];
                size_t k = len - 5 < sizeof name - 1 ? len - 5 : sizeof name - 1;
                memcpy(name, word + 5, k);
                name[k] = '\0';
                panic("unknown mode '%s' in bootargs", name);
            }
            *mode_index = i;
        } else if (len > 11 && strncmp(word, "iterations=", 11) == 0) {
            int ok;
            uint64_t v = parse_uint(word + 11, len - 11, &ok);
            if (!ok)
                panic("bad iterations in bootargs (want a 32-bit decimal number)");
            *n = (uint32_t)v;
        }
    }
}

static void print_stats(void)
{
    uint64_t total = 0;
    for (int i = 0; i < NSYSCALLS; i++)
        total += kstats.syscalls[i];
    char line[200];
    int len = format(line, sizeof line, "kernel: syscalls %lu (", total);
    const char *sep = "";
    for (int i = 0; i < NSYSCALLS; i++) {
        if (!kstats.syscalls[i])
            continue;
        len += format(line + len, sizeof line - (size_t)len, "%s%s %lu", sep,
                      syscall_names[i], kstats.syscalls[i]);
        sep = ", ";
    }
    kprintf("%s%s\n", total ? line : "kernel: syscalls 0", total ? ")" : "");
    kprintf("kernel: page faults %lu, fatal faults %lu, demand pages %lu, breakpoints %lu\n",
            kstats.page_faults, kstats.fatal_faults, kstats.demand_pages, kstats.breakpoints);
    kprintf("kernel: processes %lu, pages leaked %lu\n",
            kstats.processes, pages_in_use() - baseline_pages);
}

static void __attribute__((noreturn)) finish(uint64_t result)
{
    if (mode->kind == DEMO)
        kprintf("kernel: init exited with status %lu\n", result);
    else
        kprintf("bench %s: iterations %lu checksum 0x%lx\n", mode->name, iterations, result);
    print_stats();
    kprintf("kernel: shutdown\n");
    sbi_shutdown(0);
}

/* Called by the scheduler when no process is left. */
void kernel_finish(void)
{
    switch_satp(satp_of(kernel_root()));
    finish(proc_exit_status(1));
}

void kmain(uint64_t hartid, uint64_t dtb)
{
    (void)hartid;
    csr_write_sscratch(0);
    csr_write_stvec((uint64_t)(uintptr_t)trap_vector);
    sstatus_init();
    csr_write_sie(0);
    sbi_probe();

    struct boot_info info;
    fdt_parse(dtb, &info);
    uint32_t mode_index = kernel_mode, n = kernel_iterations;
    parse_bootargs(info.bootargs, &mode_index, &n);
    if (mode_index >= NMODES)
        panic("kernel_mode %u is not a mode (0..%u)", mode_index, (unsigned)NMODES - 1);
    mode = &modes[mode_index];
    iterations = n ? n : mode->default_iterations;

    uint64_t pool_start = (uint64_t)(uintptr_t)_end;
    uint64_t pool_end = KERNEL_BASE + KERNEL_WINDOW;
    if (info.ram_size && info.ram_base + info.ram_size < pool_end)
        pool_end = info.ram_base + info.ram_size;
    if (info.dtb_end > pool_start && info.dtb_start < pool_end)
        pool_end = info.dtb_start;
    if (pool_end < pool_start + (1ul << 20))
        panic("less than 1 MiB of RAM after the kernel");
    mm_init(pool_start, pool_end);
    baseline_pages = pages_in_use();

    if (mode->kind == DEMO)
        kprintf("kernel: Sv39 demo, user processes with system calls, demand paging and timer preemption\n");
    else
        kprintf("kernel: mode %s, iterations %lu\n", mode->name, iterations);

    if (mode->kind == KERNEL_BENCH)
        finish(mode->bench(iterations));
    proc_init(mode->kind == USER_BENCH ? 0 : TIMER_QUANTUM);
    proc_spawn(mode->prog, iterations);
    proc_run();
}
