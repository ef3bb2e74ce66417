/* arch_pv.h -- arch.h's privileged operations for the paravirtual kernel
 * (built with -DPV; included by arch.h).
 *
 * The PV kernel runs in real U-mode and executes no privileged instruction:
 * what the native kernel keeps in CSRs lives in the vcpu info page it shares
 * with the hypervisor (plain loads and stores, no exit), and what needs the
 * hypervisor (page tables, satp, TLB, timer, idling) is a hypercall. */
#ifndef ARCH_PV_H
#define ARCH_PV_H

#include "pv/pv.h"

static inline uint64_t csr_read_scause(void) { return pv_vcpu_info.cause; }
static inline uint64_t csr_read_stval(void)  { return pv_vcpu_info.tval; }
static inline uint64_t csr_read_sepc(void)   { return pv_vcpu_info.pc; }
static inline uint64_t csr_read_sip(void)    { return pv_vcpu_info.pending; }
static inline uint64_t csr_read_satp(void)   { return pv_current_satp; }
static inline void csr_write_stvec(uint64_t v)    { pv_register_callbacks(v); }
static inline void csr_write_sscratch(uint64_t v) { pv_vcpu_info.scratch = v; }
static inline void csr_write_sie(uint64_t v)      { pv_vcpu_info.enabled = v; }
static inline void csr_write_satp(uint64_t v)     { pv_new_baseptr(v); }

/* csrwr: the event mask is a word of the shared page, so the PV kernel's
 * cr8 write is a load and a store (the point of paravirtualizing it). */
static inline uint64_t csr_swap_sie(uint64_t v)
{
    uint64_t old = pv_vcpu_info.enabled;
    pv_vcpu_info.enabled = v;
    return old;
}

/* sstatus.SIE = 0 for the kernel's whole life becomes upcalls masked while
 * it runs: events reach it only from its user mode, as interrupts do natively. */
static inline void sstatus_init(void)
{
    pv_vcpu_info.upcall_mask = 1;
}

/* time is readable from U-mode (the hypervisor sets scounteren.TM). */
static inline uint64_t read_time(void)
{
    uint64_t t;
    __asm__ volatile ("rdtime %0" : "=r"(t));
    return t;
}

static inline void sfence_vma_all(void)
{
    pv_call(PV_TLB_FLUSH, PV_FLUSH_ALL, 0);
}

static inline void sfence_vma_addr(uint64_t va)
{
    pv_call(PV_TLB_FLUSH, PV_FLUSH_PAGE, (long)va);
}

static inline void wait_for_interrupt(void)
{
    pv_call(PV_BLOCK, 0, 0);
}

/* Page-table pages are read-only to the PV kernel: every PTE store is an
 * mmu_update (one entry here; pv/mm_pv.c batches where it can). */
static inline void set_pte(volatile uint64_t *ptep, uint64_t pte)
{
    struct pv_mmu_update req = { (uint64_t)(uintptr_t)ptep, pte };
    pv_mmu_update(&req, 1);
}

/* new_baseptr switches and flushes in one hypercall. */
static inline void switch_satp(uint64_t satp)
{
    pv_new_baseptr(satp);
}

/* Device registers stay memory-mapped: the hypervisor's shadow maps them so
 * that an access exits as MMIO, as for any guest. */
static inline uint8_t mmio_read8(uintptr_t addr)
{
    return *(volatile uint8_t *)addr;
}

static inline void mmio_write8(uintptr_t addr, uint8_t v)
{
    *(volatile uint8_t *)addr = v;
}

#endif
