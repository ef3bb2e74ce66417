/* arch.h -- every privileged operation the kernel performs, in one place.
 *
 * The kernel touches supervisor state only through these inline functions
 * (and the trap entry/exit in trap.S).  Trap-and-emulate and binary
 * translation see exactly these instructions; the paravirtual build (-DPV,
 * make kernel-pv.elf) replaces the functions below by pv/arch_pv.h and
 * trap.S by pv/trap.S without touching the rest of the kernel. */
#ifndef ARCH_H
#define ARCH_H

#include <stdint.h>

#define SSTATUS_SIE   (1ul << 1)
#define SSTATUS_SPIE  (1ul << 5)
#define SSTATUS_SPP   (1ul << 8)
#define SSTATUS_SUM   (1ul << 18)

#define SIE_STIE      (1ul << 5)
#define SIP_STIP      (1ul << 5)

#define SCAUSE_INTERRUPT (1ul << 63)
#define IRQ_S_TIMER   5
#define EXC_BREAKPOINT 3
#define EXC_ECALL_U   8
#define EXC_INST_PAGE_FAULT 12
#define EXC_LOAD_PAGE_FAULT 13
#define EXC_STORE_PAGE_FAULT 15

#define SATP_SV39     (8ul << 60)

#ifdef PV
#include "pv/arch_pv.h"
#else

#define CSR_READ(name) ({ uint64_t v_; \
    __asm__ volatile ("csrr %0, " #name : "=r"(v_)); v_; })
#define CSR_WRITE(name, v) \
    __asm__ volatile ("csrw " #name ", %0" :: "r"((uint64_t)(v)) : "memory")
#define CSR_SET(name, v) \
    __asm__ volatile ("csrs " #name ", %0" :: "r"((uint64_t)(v)) : "memory")
#define CSR_CLEAR(name, v) \
    __asm__ volatile ("csrc " #name ", %0" :: "r"((uint64_t)(v)) : "memory")

static inline uint64_t csr_read_scause(void) { return CSR_READ(scause); }
static inline uint64_t csr_read_stval(void)  { return CSR_READ(stval); }
static inline uint64_t csr_read_sepc(void)   { return CSR_READ(sepc); }
static inline uint64_t csr_read_sip(void)    { return CSR_READ(sip); }
static inline uint64_t csr_read_satp(void)   { return CSR_READ(satp); }
static inline void csr_write_stvec(uint64_t v)    { CSR_WRITE(stvec, v); }
static inline void csr_write_sscratch(uint64_t v) { CSR_WRITE(sscratch, v); }
static inline void csr_write_sie(uint64_t v)      { CSR_WRITE(sie, v); }
static inline void csr_write_satp(uint64_t v)     { CSR_WRITE(satp, v); }

/* The csrwr nanobenchmark: one interrupt-mask write that also reads the old
 * mask back (the RISC-V analogue of a cr8/TPR write). */
static inline uint64_t csr_swap_sie(uint64_t v)
{
    uint64_t old;
    __asm__ volatile ("csrrw %0, sie, %1" : "=r"(old) : "r"(v) : "memory");
    return old;
}

/* Supervisor interrupts stay globally disabled in S-mode for the kernel's
 * whole life (sstatus.SIE = 0): U-mode is always interruptible regardless,
 * so interrupts arrive only from user mode and the kernel never nests. */
static inline void sstatus_init(void)
{
    CSR_CLEAR(sstatus, SSTATUS_SIE | SSTATUS_SPP | SSTATUS_SUM);
}

static inline uint64_t read_time(void)
{
    uint64_t t;
    __asm__ volatile ("rdtime %0" : "=r"(t));
    return t;
}

static inline void sfence_vma_all(void)
{
    __asm__ volatile ("sfence.vma zero, zero" ::: "memory");
}

static inline void sfence_vma_addr(uint64_t va)
{
    __asm__ volatile ("sfence.vma %0, zero" :: "r"(va) : "memory");
}

/* WFI with sstatus.SIE = 0 still wakes on any interrupt enabled in sie. */
static inline void wait_for_interrupt(void)
{
    __asm__ volatile ("wfi" ::: "memory");
}

/* A page-table entry store.  Natively a plain store; shadow paging traps it
 * (write-protected table pages), and a PV kernel would batch it. */
static inline void set_pte(volatile uint64_t *ptep, uint64_t pte)
{
    *ptep = pte;
}

/* Switch address space: satp write plus a full flush (no ASIDs are used). */
static inline void switch_satp(uint64_t satp)
{
    csr_write_satp(satp);
    sfence_vma_all();
}

/* The mmio nanobenchmark's device register read. */
static inline uint8_t mmio_read8(uintptr_t addr)
{
    return *(volatile uint8_t *)addr;
}

static inline void mmio_write8(uintptr_t addr, uint8_t v)
{
    *(volatile uint8_t *)addr = v;
}

#endif /* PV */
#endif
