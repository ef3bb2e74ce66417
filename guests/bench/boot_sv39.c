/* boot_sv39.c -- run the workload in U-mode under Sv39 with 4 KiB pages.
 *
 * The image (code, data, .bss, stack) is identity-mapped page by page, not
 * with a megapage, so every page the workload touches costs its own TLB entry
 * and its own walk on a miss; the UART and finisher pages are mapped for the
 * user too, so the workload runs unchanged. A and D are set in advance: the
 * benchmark measures translation, not A/D updates.
 */
#include "bench.h"

#define PAGE_SIZE  4096UL
#define PTE_V      (1UL << 0)
#define PTE_R      (1UL << 1)
#define PTE_W      (1UL << 2)
#define PTE_X      (1UL << 3)
#define PTE_U      (1UL << 4)
#define PTE_A      (1UL << 6)
#define PTE_D      (1UL << 7)
#define SATP_SV39  (8UL << 60)
#define MSTATUS_MPP_MASK (3UL << 11)

#define VPN2(va) (((va) >> 30) & 0x1FF)
#define VPN1(va) (((va) >> 21) & 0x1FF)
#define VPN0(va) (((va) >> 12) & 0x1FF)

typedef uint64_t page_table[512] __attribute__((aligned(PAGE_SIZE)));

static page_table root;
static page_table l1_io, l0_finisher, l0_uart;
/* link.ld asserts that the image fits what these L0 tables map. */
#define IMAGE_L0_TABLES 8
static page_table l1_image, l0_image[IMAGE_L0_TABLES];

extern char __image_start[], __image_end[];

static uint64_t pte_table(const page_table *next)
{
    return (((uint64_t)next >> 12) << 10) | PTE_V;
}

static uint64_t pte_leaf(uint64_t pa, uint64_t perms)
{
    return ((pa >> 12) << 10) | perms | PTE_A | PTE_D | PTE_V;
}

static void user_entry(void) __attribute__((noreturn));
static void user_entry(void)
{
    bench_main();
}

void bench_start(void)
{
    uint64_t start = (uint64_t)__image_start, end = (uint64_t)__image_end;
    uint64_t user_rwx = PTE_U | PTE_R | PTE_W | PTE_X;

    /* The image starts 2 MiB-aligned (RAM base), so L0 table i maps its
     * i-th 2 MiB. */
    root[VPN2(start)] = pte_table(&l1_image);
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        page_table *l0 = &l0_image[(va - start) >> 21];
        l1_image[VPN1(va)] = pte_table(l0);
        (*l0)[VPN0(va)] = pte_leaf(va, user_rwx);
    }

    root[VPN2(FINISHER_BASE)] = pte_table(&l1_io);
    l1_io[VPN1(FINISHER_BASE)] = pte_table(&l0_finisher);
    l0_finisher[VPN0(FINISHER_BASE)] = pte_leaf(FINISHER_BASE, PTE_U | PTE_R | PTE_W);
    l1_io[VPN1(UART_BASE)] = pte_table(&l0_uart);
    l0_uart[VPN0(UART_BASE)] = pte_leaf(UART_BASE, PTE_U | PTE_R | PTE_W);

    /* U-mode accesses need a PMP entry that matches: one NAPOT region over
     * all of memory, RWX. */
    asm volatile("csrw pmpaddr0, %0" :: "r"(-1L));
    asm volatile("csrw pmpcfg0, %0" :: "r"(0x1FL));
    asm volatile("csrw satp, %0" :: "r"(SATP_SV39 | ((uint64_t)&root >> 12)));
    asm volatile("sfence.vma" ::: "memory");
    asm volatile("csrc mstatus, %0" :: "r"(MSTATUS_MPP_MASK));   /* MPP = U */
    asm volatile("csrw mepc, %0" :: "r"(user_entry));
    asm volatile("mret");
    __builtin_unreachable();
}
