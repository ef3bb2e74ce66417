/* mm.c -- physical page allocator and Sv39 page tables.
 *
 * Every address space shares the kernel's root slots 0 (the UART page) and 2
 * (RAM from 0x8020_0000 identity-mapped with 2 MiB megapages, kernel-only);
 * slots 1 (user memory, 4 KiB pages) and 3 (kernel-only private pages) are
 * its own.  PTE stores go through set_pte() (arch.h). */
#include "arch.h"
#include "kernel.h"

struct free_page { struct free_page *next; };

static struct free_page *free_list;
static uint64_t bump, pool_end_addr, in_use;
static pte_t *kroot;

#define VPN(va, level) (((va) >> (12 + 9 * (level))) & 0x1ff)
#define PTE_PA(pte) (((pte) >> PTE_PPN_SHIFT) << 12)
#define PTE_LEAF(pte) ((pte) & (PTE_R | PTE_W | PTE_X))
#define MAKE_PTE(pa, perm) ((((uint64_t)(pa) >> 12) << PTE_PPN_SHIFT) | (perm) | PTE_V)

void *page_alloc(void)
{
    void *page;
    if (free_list) {
        page = free_list;
        free_list = free_list->next;
    } else if (bump + PAGE_SIZE <= pool_end_addr) {
        page = (void *)bump;
        bump += PAGE_SIZE;
    } else {
        panic("out of memory (%lu pages in use)", in_use);
    }
    in_use++;
    memset(page, 0, PAGE_SIZE);
    return page;
}

void page_free(void *page)
{
    struct free_page *p = page;
    p->next = free_list;
    free_list = p;
    in_use--;
}

uint64_t pages_in_use(void)
{
    return in_use;
}

pte_t *kernel_root(void)
{
    return kroot;
}

uint64_t satp_of(pte_t *root)
{
    return SATP_SV39 | ((uint64_t)(uintptr_t)root >> 12);
}

pte_t *pte_lookup(pte_t *root, uint64_t va, int create)
{
    pte_t *table = root;
    for (int level = 2; level > 0; level--) {
        pte_t *ptep = &table[VPN(va, level)];
        if (!(*ptep & PTE_V)) {
            if (!create)
                return 0;
            pte_t *next = page_alloc();
            set_pte(ptep, MAKE_PTE(next, 0));
        } else if (PTE_LEAF(*ptep)) {
            return 0;                  /* inside a megapage: no 4 KiB entry */
        }
        table = (pte_t *)PTE_PA(*ptep);
    }
    return &table[VPN(va, 0)];
}

void map_page(pte_t *root, uint64_t va, uint64_t pa, uint64_t perm)
{
    pte_t *ptep = pte_lookup(root, va, 1);
    if (!ptep)
        panic("map_page: 0x%lx lies in a megapage", va);
    /* A and D preset: no implementation-defined A/D update faults. */
    set_pte(ptep, MAKE_PTE(pa, perm | PTE_A | PTE_D));
}

int unmap_page(pte_t *root, uint64_t va)
{
    pte_t *ptep = pte_lookup(root, va, 0);
    if (!ptep || !(*ptep & PTE_V))
        return 0;
    page_free((void *)PTE_PA(*ptep));
    set_pte(ptep, 0);
    sfence_vma_addr(va);
    return 1;
}

uint64_t translate(pte_t *root, uint64_t va)
{
    pte_t *ptep = pte_lookup(root, va, 0);
    if (!ptep || !(*ptep & PTE_V))
        return 0;
    return PTE_PA(*ptep) | (va & (PAGE_SIZE - 1));
}

pte_t *as_create(void)
{
    pte_t *root = page_alloc();
    set_pte(&root[0], kroot[0]);
    set_pte(&root[2], kroot[2]);
    return root;
}

static void free_table(pte_t *table, int level)
{
    for (int i = 0; i < 512; i++) {
        pte_t pte = table[i];
        if (!(pte & PTE_V))
            continue;
        if (level == 0 || PTE_LEAF(pte))
            page_free((void *)PTE_PA(pte));
        else
            free_table((pte_t *)PTE_PA(pte), level - 1);
    }
    page_free(table);
}

void as_destroy(pte_t *root)
{
    if (root == kroot)
        panic("as_destroy of the kernel's own table");
    for (int slot = 1; slot <= 3; slot += 2)
        if (root[slot] & PTE_V)
            free_table((pte_t *)PTE_PA(root[slot]), 1);
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
            map_page(dst, va, (uint64_t)(uintptr_t)page,
                     l0[j] & (PTE_R | PTE_W | PTE_X | PTE_U));
            copied++;
        }
    }
    return copied;
}

void mm_init(uint64_t pool_start, uint64_t pool_end)
{
    bump = (pool_start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    pool_end_addr = pool_end & ~(PAGE_SIZE - 1);
    kroot = page_alloc();

    pte_t *ram = page_alloc();
    for (uint64_t pa = KERNEL_BASE; pa < KERNEL_BASE + KERNEL_WINDOW; pa += MEGAPAGE)
        set_pte(&ram[VPN(pa, 1)], MAKE_PTE(pa, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D));
    set_pte(&kroot[VPN(KERNEL_BASE, 2)], MAKE_PTE(ram, 0));

    map_page(kroot, UART_BASE, UART_BASE, PTE_R | PTE_W);
    /* ptemod's scratch entry: its tables exist from boot, so a run that
     * remaps it allocates (and leaks) no page-table pages. */
    pte_lookup(kroot, SCRATCH_VA, 1);
    switch_satp(satp_of(kroot));
}
