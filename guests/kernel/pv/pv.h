/* pv.h -- the paravirtual interface between the PV kernel and pyvmm's
 * hypervisor (pyvmm/hv/pv.py, docs/pv.md): hypercall numbers and the
 * shared "vcpu info" page.  Included by C and by assembly.
 *
 * A hypercall is an ecall with a7 = PV_EID and a6 = the function, arguments
 * in a0..a2, the SBI convention for the answer (a0 = error, a1 = value).
 * The kernel runs in real U-mode, so every ecall it makes reaches the
 * hypervisor; its user programs' ecalls are bounced back to it. */
#ifndef PV_H
#define PV_H

#define PV_EID 0x0A505600              /* "PV", in SBI's firmware-specific range */

#define PV_REGISTER_CALLBACKS 0        /* (callback va, vcpu info gpa) */
#define PV_MMU_UPDATE         1        /* (gpa of {pte gpa, value}[n], n) -> entries done */
#define PV_NEW_BASEPTR        2        /* (satp) */
#define PV_TLB_FLUSH          3        /* (PV_FLUSH_ALL | PV_FLUSH_PAGE, va) */
#define PV_SET_TIMER          4        /* (absolute time) */
#define PV_CONSOLE_WRITE      5        /* (length, gpa) -> bytes written */
#define PV_IRET               6        /* (gpa of a frame: x0..x31, pc); does not return */
#define PV_BLOCK              7        /* () until an enabled event is pending */
#define PV_CONSOLE_READ       8        /* (length, gpa) -> bytes read */

#define PV_FLUSH_ALL  0
#define PV_FLUSH_PAGE 1

/* struct pv_vcpu_info, byte offsets (written by the hypervisor on an upcall;
 * enabled, upcall_mask and scratch by the kernel, with plain stores). */
#define PV_INFO_PC          0          /* interrupted pc */
#define PV_INFO_CAUSE       8          /* scause encoding: bit 63 for events */
#define PV_INFO_TVAL        16
#define PV_INFO_PREV_MODE   24         /* 0 user, 1 kernel */
#define PV_INFO_PENDING     32         /* events pending (sip bits: 5 timer, 9 console) */
#define PV_INFO_ENABLED     40         /* events enabled (sie bits) */
#define PV_INFO_UPCALL_MASK 48         /* 1: no upcall while the kernel runs */
#define PV_INFO_SCRATCH     56         /* swapped with sp on an upcall (sscratch) */
#define PV_INFO_SIZE        64

#ifndef __ASSEMBLER__
#include <stdint.h>

struct pv_vcpu_info {
    uint64_t pc, cause, tval, prev_mode;
    uint64_t pending, enabled, upcall_mask, scratch;
};

struct pv_mmu_update {
    uint64_t ptr;                      /* guest-physical address of the PTE */
    uint64_t val;
};

struct pv_ret { long error; long value; };

extern volatile struct pv_vcpu_info pv_vcpu_info;
extern uint64_t pv_current_satp;

static inline struct pv_ret pv_call(long fid, long a0, long a1)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a6 __asm__("a6") = fid;
    register long r_a7 __asm__("a7") = PV_EID;
    __asm__ volatile ("ecall" : "+r"(r_a0), "+r"(r_a1) : "r"(r_a6), "r"(r_a7) : "memory");
    return (struct pv_ret){ r_a0, r_a1 };
}

int pv_present(void);                  /* is the PV extension there (probed once) */
void pv_register_callbacks(uint64_t callback);
void pv_mmu_update(const struct pv_mmu_update *req, unsigned long count);
void pv_mmu_queue(volatile uint64_t *ptep, uint64_t pte);   /* batched ... */
void pv_mmu_flush(void);               /* ... until this */
void pv_new_baseptr(uint64_t satp);
void pv_console_write(const char *buf, unsigned long len);
#endif

#endif
