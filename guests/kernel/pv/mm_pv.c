/* mm_pv.c -- mm.c for the paravirtual kernel (built with -DPV).
 *
 * mm.c itself is compiled here unchanged (its PTE stores already go through
 * set_pte, an mmu_update hypercall under PV); two of its functions are
 * replaced, because a PV kernel has two duties a native one has not:
 *  - as_destroy: a page-table page may be reused as memory only after the
 *    hypervisor has stopped treating it as one.  The root's entries are
 *    cleared through one mmu_update first (which drops every shadow entry
 *    derived from the tree), and the kernel never frees the table it runs
 *    on (Xen's rule for pinned tables).
 *  - as_copy_user: fork's leaf PTEs are queued and written in batches of
 *    up to 64 entries per mmu_update (Linux's lazy MMU mode). */
#define as_destroy native_as_destroy
#define as_copy_user native_as_copy_user
#include "../mm.c"
#undef as_destroy
#undef as_copy_user

void as_destroy(pte_t *root)
{
    if (root == kroot)
        panic("as_destroy of the kernel's own table");
    if (pv_current_satp == satp_of(root))
        pv_new_baseptr(satp_of(kroot));
    pte_t saved[4];
    struct pv_mmu_update req[4];
    unsigned long n = 0;
    for (int slot = 0; slot < 4; slot++) {
        saved[slot] = root[slot];
        if (root[slot] & PTE_V) {
            req[n].ptr = (uint64_t)(uintptr_t)&root[slot];
            req[n].val = 0;
            n++;
        }
    }
    if (n)
        pv_mmu_update(req, n);
    for (int slot = 1; slot <= 3; slot += 2)
        if (saved[slot] & PTE_V)
            free_table((pte_t *)PTE_PA(saved[slot]), 1);
    page_free(root);
}

int as_copy_user(pte_t *dst, pte_t *src)
{
    int copied = 0;
    if (!(src[1] & PTE_V))
        return 0;
    pte_t *l1 = (pte_t *)PTE_PA(src[1]);
    for (int i = 0; i < 512; i++) {
        if (!(l1[i] & PTE_V))
            continue;
        pte_t *l0 = (pte_t *)PTE_PA(l1[i]);
        for (int j = 0; j < 512; j++) {
            if (!(l0[j] & PTE_V))
                continue;
            uint64_t va = (1ul << 30) | ((uint64_t)i << 21) | ((uint64_t)j << 12);
            void *page = page_alloc();
            memcpy(page, (void *)PTE_PA(l0[j]), PAGE_SIZE);
            /* Lookups create missing tables at once (set_pte): only the
             * leaves wait in the queue, and nothing here reads them back. */
            pte_t *ptep = pte_lookup(dst, va, 1);
            if (!ptep)
                panic("as_copy_user: 0x%lx lies in a megapage", va);
            pv_mmu_queue(ptep, MAKE_PTE(page, (l0[j] & (PTE_R | PTE_W | PTE_X | PTE_U))
                                              | PTE_A | PTE_D));
            copied++;
        }
    }
    pv_mmu_flush();
    return copied;
}
