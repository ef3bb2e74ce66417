/* pv.c -- the PV kernel's side of the hypercall interface (pv.h): the shared
 * vcpu info page, the probe, and the hypercalls that are more than a line. */
#include "../arch.h"
#include "../kernel.h"
#include "../sbi.h"

/* Shared with the hypervisor: aligned so it never straddles a page. */
__attribute__((aligned(PV_INFO_SIZE))) volatile struct pv_vcpu_info pv_vcpu_info;
uint64_t pv_current_satp;              /* what the last new_baseptr installed */

#define MMU_QUEUE_LEN 64
static struct pv_mmu_update mmu_queue[MMU_QUEUE_LEN];
static unsigned long mmu_queued;
static int pv_probed = -1;

int pv_present(void)
{
    if (pv_probed < 0) {
        struct sbiret r = sbi_call(SBI_EXT_BASE, 3, PV_EID, 0, 0);
        pv_probed = r.error == 0 && r.value != 0;
    }
    return pv_probed;
}

/* The first thing the kernel does (kmain's stvec write): without the PV
 * hypervisor the kernel cannot go on, so say so on the SBI console. */
void pv_register_callbacks(uint64_t callback)
{
    if (!pv_present()) {
        sbi_probe();                   /* so that panic's shutdown reports the failure */
        panic("not running on the pyvmm PV hypervisor (no SBI extension 0x%x)", PV_EID);
    }
    struct pv_ret r = pv_call(PV_REGISTER_CALLBACKS, (long)callback,
                              (long)(uintptr_t)&pv_vcpu_info);
    if (r.error)
        panic("register_callbacks refused (error %ld)", r.error);
}

void pv_mmu_update(const struct pv_mmu_update *req, unsigned long count)
{
    /* Kernel memory is identity-mapped: the batch's address is its GPA. */
    struct pv_ret r = pv_call(PV_MMU_UPDATE, (long)(uintptr_t)req, (long)count);
    if (r.error)
        panic("mmu_update refused entry %ld of %lu (error %ld)", r.value, count, r.error);
}

void pv_mmu_queue(volatile uint64_t *ptep, uint64_t pte)
{
    if (mmu_queued == MMU_QUEUE_LEN)
        pv_mmu_flush();
    mmu_queue[mmu_queued].ptr = (uint64_t)(uintptr_t)ptep;
    mmu_queue[mmu_queued].val = pte;
    mmu_queued++;
}

void pv_mmu_flush(void)
{
    if (mmu_queued)
        pv_mmu_update(mmu_queue, mmu_queued);
    mmu_queued = 0;
}

void pv_new_baseptr(uint64_t satp)
{
    struct pv_ret r = pv_call(PV_NEW_BASEPTR, (long)satp, 0);
    if (r.error)
        panic("new_baseptr 0x%lx refused (error %ld)", satp, r.error);
    pv_current_satp = satp;
}

void pv_console_write(const char *buf, unsigned long len)
{
    while (len) {
        struct pv_ret r = pv_call(PV_CONSOLE_WRITE, (long)len, (long)(uintptr_t)buf);
        if (r.error || r.value <= 0 || (unsigned long)r.value > len)
            return;
        buf += r.value;
        len -= (unsigned long)r.value;
    }
}
