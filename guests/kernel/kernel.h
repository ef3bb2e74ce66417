/* kernel.h -- declarations shared by the kernel's modules. */
#ifndef KERNEL_H
#define KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "lib.h"

#define PAGE_SIZE   4096ul
#define MEGAPAGE    (2ul << 20)
#define KERNEL_BASE 0x80200000ul
#define KERNEL_WINDOW (16ul << 20)     /* RAM the kernel maps and allocates from */
#define UART_BASE   0x10000000ul
#define UART_SCR    (UART_BASE + 7)    /* 16550 scratch register */

/* Kernel-only virtual pages in root slot 3 (0xC000_0000 ..). */
#define SCRATCH_VA  0xC0000000ul       /* ptemod's remapped page (kernel table) */
#define UAREA_VA    0xC0000000ul       /* ctxsw's per-address-space page */

#define PTE_V (1ul << 0)
#define PTE_R (1ul << 1)
#define PTE_W (1ul << 2)
#define PTE_X (1ul << 3)
#define PTE_U (1ul << 4)
#define PTE_A (1ul << 6)
#define PTE_D (1ul << 7)
#define PTE_PPN_SHIFT 10

typedef uint64_t pte_t;

static inline pte_t make_leaf_pte(uint64_t pa, uint64_t perm)
{
    return ((pa >> 12) << PTE_PPN_SHIFT) | perm | PTE_A | PTE_D | PTE_V;
}

/* --- console (kprintf.c) --- */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* --- physical pages and page tables (mm.c) --- */
void mm_init(uint64_t pool_start, uint64_t pool_end);
void *page_alloc(void);               /* zeroed; panics when none is left */
void page_free(void *page);
uint64_t pages_in_use(void);
pte_t *kernel_root(void);
uint64_t satp_of(pte_t *root);
pte_t *as_create(void);               /* kernel slots shared, user slots empty */
void as_destroy(pte_t *root);         /* frees the private slots and their pages */
pte_t *pte_lookup(pte_t *root, uint64_t va, int create);
void map_page(pte_t *root, uint64_t va, uint64_t pa, uint64_t perm);
int unmap_page(pte_t *root, uint64_t va);   /* 1 if a page was mapped */
uint64_t translate(pte_t *root, uint64_t va); /* physical address, 0 if unmapped */
int as_copy_user(pte_t *dst, pte_t *src);   /* fork: copies every user page */

/* --- processes (proc.c) --- */
struct trapframe {
    uint64_t regs[32];       /* x0..x31; regs[2] is the user sp */
    uint64_t epc;
    uint64_t kernel_sp;      /* trap.S switches to this stack */
};

struct kstats {
    uint64_t syscalls[NSYSCALLS];
    uint64_t bad_syscalls;
    uint64_t page_faults;     /* user page faults serviced by demand paging */
    uint64_t fatal_faults;    /* user faults that killed the process */
    uint64_t demand_pages;    /* pages allocated lazily (faults and copy-in) */
    uint64_t breakpoints;
    uint64_t processes;
    uint64_t ticks;           /* timer interrupts: never printed (not deterministic) */
};
extern struct kstats kstats;

void proc_init(int timer_quantum);
int proc_spawn(int prog, uint64_t arg);     /* a new process running user program prog */
void proc_run(void) __attribute__((noreturn)); /* run until every process has exited */
uint64_t proc_exit_status(int pid);         /* status of a process that has exited */
struct trapframe *trap_from_user(struct trapframe *tf);

/* --- entry and return (trap.S) --- */
void trap_vector(void);
void return_to_user(struct trapframe *tf) __attribute__((noreturn));

/* --- the kernel-mode nanobenchmarks (bench.c, bench_asm.S) --- */
uint64_t bench_mmio(uint64_t n);
uint64_t bench_csrwr(uint64_t n);
uint64_t bench_callret(uint64_t n);
uint64_t bench_ptemod(uint64_t n);
uint64_t bench_ctxsw(uint64_t n);
uint64_t bench_callret_loop(uint64_t n);   /* assembly: n calls of a leaf */

/* --- the device tree (fdt.c) --- */
struct boot_info {
    uint64_t ram_base, ram_size;   /* first /memory region (0 if absent) */
    uint64_t dtb_start, dtb_end;
    const char *bootargs;          /* "" if absent */
};
void fdt_parse(uint64_t dtb, struct boot_info *info);

/* --- the run (main.c) --- */
void kernel_finish(void) __attribute__((noreturn));

#endif
