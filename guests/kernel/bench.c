/* bench.c -- the nanobenchmarks that run in the kernel itself (S-mode):
 * each does n iterations of one operation and returns a checksum that only
 * the real work produces.  The user-mode ones live in user/programs.c. */
#include "arch.h"
#include "kernel.h"

#define SCR_PATTERN 0xA5

/* mmio: a device-register read (the 16550's scratch register). */
uint64_t bench_mmio(uint64_t n)
{
    uint64_t sum = 0;
    mmio_write8(UART_SCR, SCR_PATTERN);
    for (uint64_t i = 0; i < n; i++)
        sum += mmio_read8(UART_SCR);
    return sum;
}

/* csrwr: an interrupt-mask write with nothing pending (sstatus.SIE is 0). */
uint64_t bench_csrwr(uint64_t n)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += csr_swap_sie(i & 1 ? 0 : SIE_STIE);
    csr_write_sie(0);
    return sum;
}

/* callret: a call/return pair (bench_asm.S). */
uint64_t bench_callret(uint64_t n)
{
    return bench_callret_loop(n);
}

/* ptemod: rewrite one PTE to alternate between two frames, flush that page,
 * and read through the new mapping. */
uint64_t bench_ptemod(uint64_t n)
{
    uint64_t *frame[2] = { page_alloc(), page_alloc() };
    frame[0][0] = 0x1001;
    frame[1][0] = 0x2002;
    pte_t *ptep = pte_lookup(kernel_root(), SCRATCH_VA, 1);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        set_pte(ptep, make_leaf_pte((uint64_t)(uintptr_t)frame[i & 1], PTE_R | PTE_W));
        sfence_vma_addr(SCRATCH_VA);
        sum += *(volatile uint64_t *)SCRATCH_VA;
    }
    set_pte(ptep, 0);
    sfence_vma_addr(SCRATCH_VA);
    page_free(frame[0]);
    page_free(frame[1]);
    return sum;
}

/* ctxsw: switch between two address spaces (satp write + full flush) and
 * read a kernel-only page that differs between them. */
uint64_t bench_ctxsw(uint64_t n)
{
    pte_t *as[2];
    uint64_t satp[2];
    for (int k = 0; k < 2; k++) {
        uint64_t *uarea = page_alloc();
        uarea[0] = (uint64_t)(k + 1) * 0x10001;
        as[k] = as_create();
        map_page(as[k], UAREA_VA, (uint64_t)(uintptr_t)uarea, PTE_R | PTE_W);
        satp[k] = satp_of(as[k]);
    }
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        switch_satp(satp[i & 1]);
        sum += *(volatile uint64_t *)UAREA_VA;
    }
    switch_satp(satp_of(kernel_root()));
    as_destroy(as[0]);
    as_destroy(as[1]);
    return sum;
}
