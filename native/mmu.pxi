# Memory: the physical map (RAM, CLINT, everything else is MMIO for Python),
# Sv39/Sv48/Sv57 translation with hardware A/D updates, the software TLB, and the
# per-page decoded-instruction cache that stores keep coherent.

# ---------------------------------------------------------------- time / CLINT

cdef inline uint64_t mtime_now(Hart* h) noexcept nogil:
    if h.realtime:
        return pyvmm_host_ticks() + <uint64_t>h.time_offset
    return (h.instret + <uint64_t>h.insn_offset) // h.insns_per_tick + <uint64_t>h.time_offset


cdef inline void set_mtime(Hart* h, uint64_t value) noexcept nogil:
    if h.realtime:
        h.time_offset = <int64_t>(value - pyvmm_host_ticks())
    else:
        h.time_offset = <int64_t>(value - (h.instret + <uint64_t>h.insn_offset) // h.insns_per_tick)


cdef inline bint vs_sstc(Hart* h) noexcept nogil:
    # vstimecmp drives VSTIP only while both levels enable Sstc
    return (h.menvcfg & MENVCFG_STCE) != 0 and (h.henvcfg & MENVCFG_STCE) != 0


cdef inline void update_timer_bits(Hart* h) noexcept nogil:
    cdef uint64_t now = mtime_now(h)
    cdef uint64_t hw = h.mip_hw & ~(MIP_MTIP | MIP_STIP | MIP_VSTIP)
    if now >= h.mtimecmp:
        hw |= MIP_MTIP
    if (h.menvcfg & MENVCFG_STCE) and now >= h.stimecmp:
        hw |= MIP_STIP
    # the guest's time is host time + htimedelta
    if vs_sstc(h) and now + h.htimedelta >= h.vstimecmp:
        hw |= MIP_VSTIP
    h.mip_hw = hw


cdef inline uint64_t read_mip(Hart* h) noexcept nogil:
    cdef uint64_t sw = h.mip_sw
    if h.menvcfg & MENVCFG_STCE:
        sw &= ~MIP_STIP
    return sw | h.mip_hw | (h.hvip & VS_INTERRUPTS)


cdef uint64_t instret_when_time_reaches(Hart* h, uint64_t target) noexcept nogil:
    # the retired-instruction count at which mtime first equals `target`
    cdef uint64_t now = mtime_now(h)
    cdef uint64_t ticks, base, t
    if now >= target:
        return h.instret
    ticks = target - now
    t = h.instret + <uint64_t>h.insn_offset
    base = t // h.insns_per_tick
    if ticks > U64_MAX // h.insns_per_tick - base - 1:
        return U64_MAX
    t = (base + ticks) * h.insns_per_tick - <uint64_t>h.insn_offset
    return t if t > h.instret else h.instret


cdef inline void force_event_check(Hart* h) noexcept nogil:
    h.event_at = 0


cdef inline bint clint_size_ok(uint64_t offset, int size) noexcept nogil:
    # QEMU's ACLINT: the MSWI half takes 4-byte accesses, the MTIMER half 4 or 8;
    # anything else fails on the bus (an access fault)
    if offset < CLINT_MTIMECMP:
        return size == 4
    return size == 4 or size == 8


cdef inline Hart* clint_hart(Hart* h, uint64_t hartid) noexcept nogil:
    # the hart whose MSWI/MTIMER registers sit at `hartid`'s slot: any hart
    # of the machine is reachable from any hart's accesses
    if hartid == h.hartid:
        return h
    if h.group != NULL and hartid < MAX_HARTS:
        return h.group.harts[hartid]
    return NULL


cdef uint64_t clint_read(Hart* h, uint64_t offset, int size) noexcept nogil:
    cdef uint64_t value = 0
    cdef uint64_t reg_off
    cdef Hart* t
    if offset < CLINT_MTIMECMP:
        t = clint_hart(h, offset >> 2)
        if t == NULL:
            return 0
        value = t.msip
        reg_off = offset & 3
    elif offset >= CLINT_MTIME and offset < CLINT_MTIME + 8:
        value = mtime_now(h)
        reg_off = offset - CLINT_MTIME
    elif offset < CLINT_MTIME:
        t = clint_hart(h, (offset - CLINT_MTIMECMP) >> 3)
        if t == NULL:
            return 0
        value = t.mtimecmp
        reg_off = (offset - CLINT_MTIMECMP) & 7
    else:
        return 0
    value >>= 8 * reg_off
    if size < 8:
        value &= (1ULL << (8 * size)) - 1
    return value


cdef void clint_write(Hart* h, uint64_t offset, int size, uint64_t value) noexcept nogil:
    cdef uint64_t old, mask, shift, new
    cdef int64_t delta
    cdef Hart* t
    cdef int i
    if offset < CLINT_MTIMECMP:
        t = clint_hart(h, offset >> 2)
        if t == NULL or (offset & 3):
            return
        t.msip = <uint32_t>(value & 1)
        if t.msip:
            t.mip_hw |= MIP_MSIP
        else:
            t.mip_hw &= ~MIP_MSIP
    elif offset >= CLINT_MTIME and offset < CLINT_MTIME + 8:
        shift = 8 * (offset - CLINT_MTIME)
        mask = U64_MAX if size >= 8 else ((1ULL << (8 * size)) - 1)
        old = mtime_now(h)
        new = (old & ~(mask << shift)) | ((value & mask) << shift)
        # one mtime for the machine: every hart's clock moves by the same step
        delta = <int64_t>(new - old)
        t = h
        if h.group == NULL:
            h.time_offset += delta
        else:
            for i in range(MAX_HARTS):
                t = h.group.harts[i]
                if t != NULL:
                    t.time_offset += delta
                    if t != h:
                        update_timer_bits(t)
                        force_event_check(t)
        t = h
    elif offset < CLINT_MTIME:
        t = clint_hart(h, (offset - CLINT_MTIMECMP) >> 3)
        if t == NULL:
            return
        shift = 8 * ((offset - CLINT_MTIMECMP) & 7)
        mask = U64_MAX if size >= 8 else ((1ULL << (8 * size)) - 1)
        old = t.mtimecmp
        t.mtimecmp = (old & ~(mask << shift)) | ((value & mask) << shift)
    else:
        return
    update_timer_bits(t)
    force_event_check(t)
    if t != h:
        force_event_check(h)


# ---------------------------------------------------------------- TLB

cdef inline uint64_t hgatp_vmid(uint64_t hgatp) noexcept nogil:
    return (hgatp >> HGATP_VMID_SHIFT) & HGATP_VMID_MASK


cdef int ctx_select(Hart* h, int virt, int keep) noexcept nogil:
    # the TLB context of the current address space at this V: found by its
    # key, else a free or the least recently used one (never `keep`), cleared
    cdef uint64_t atp = h.vsatp if virt else h.satp
    cdef uint64_t hg = h.hgatp if virt else 0
    cdef int c, victim = -1
    h.ctx_clock += 1
    for c in range(TLB_CONTEXTS):
        if h.ctx_valid[c] and h.ctx_virt[c] == virt and h.ctx_atp[c] == atp and h.ctx_hgatp[c] == hg:
            h.ctx_used[c] = h.ctx_clock
            return c
    for c in range(TLB_CONTEXTS):
        if c == keep:
            continue
        if not h.ctx_valid[c]:
            victim = c
            break
        if victim < 0 or h.ctx_used[c] < h.ctx_used[victim]:
            victim = c
    memset(&h.tlb[victim][0][0][0], 0xFF, sizeof(h.tlb[0]))
    h.ctx_valid[victim] = 1
    h.ctx_virt[victim] = virt
    h.ctx_atp[victim] = atp
    h.ctx_hgatp[victim] = hg
    h.ctx_used[victim] = h.ctx_clock
    return victim


cdef void update_mode(Hart* h) noexcept nogil:
    # choose the TLB sets for the current mode, MPRV and address space; the
    # decoded page pointer is re-derived on the next fetch
    cdef int dp = h.priv
    cdef int dv = h.virt
    if h.priv == PRV_M and (h.mstatus & MSTATUS_MPRV):
        dp = <int>((h.mstatus >> 11) & 3)
        dv = 1 if (dp != PRV_M and (h.mstatus & MSTATUS_MPV)) else 0
    h.data_priv = dp
    h.data_virt = dv
    h.fetch_ctx = ctx_select(h, h.virt, -1)
    h.data_ctx = h.fetch_ctx if dv == h.virt else ctx_select(h, dv, h.fetch_ctx)
    h.fetch_tlb = &h.tlb[h.fetch_ctx][h.priv][ACC_FETCH][0]
    h.load_tlb = &h.tlb[h.data_ctx][dp][ACC_LOAD][0]
    h.store_tlb = &h.tlb[h.data_ctx][dp][ACC_STORE][0]
    h.fetch_vpn = NO_VPN


cdef inline void set_priv(Hart* h, int priv) noexcept nogil:
    h.priv = priv
    update_mode(h)


cdef inline void set_mode(Hart* h, int virt, int priv) noexcept nogil:
    h.virt = virt
    h.priv = priv
    update_mode(h)


cdef inline bint ctx_matches(Hart* h, int c, int virt, int64_t vmid) noexcept nogil:
    # vmid < 0: any VMID
    if not h.ctx_valid[c] or h.ctx_virt[c] != virt:
        return False
    return vmid < 0 or hgatp_vmid(h.ctx_hgatp[c]) == <uint64_t>vmid


cdef void walk_cache_flush(Hart* h) noexcept nogil:
    memset(h.wc_gpage, 0xFF, sizeof(h.wc_gpage))


cdef void tlb_flush_contexts(Hart* h, int virt, int64_t vmid) noexcept nogil:
    # drop every entry of the matching contexts (SFENCE.VMA, HFENCE.*)
    cdef int c
    for c in range(TLB_CONTEXTS):
        if ctx_matches(h, c, virt, vmid):
            h.ctx_valid[c] = 0
    h.tlb_flushes += 1
    update_mode(h)


cdef void tlb_flush(Hart* h) noexcept nogil:
    # every context goes; the ones in use are cleared when update_mode re-selects them
    cdef int c
    for c in range(TLB_CONTEXTS):
        h.ctx_valid[c] = 0
    h.tlb_superpage = 0
    h.tlb_flushes += 1
    walk_cache_flush(h)
    update_mode(h)


cdef inline void tlb_drop_vpn(Hart* h, int c, uint64_t vpn) noexcept nogil:
    # context c's entries of page vpn, for every privilege and access
    cdef int p, a
    cdef TlbEntry* e
    for p in range(4):
        for a in range(3):
            e = &h.tlb[c][p][a][vpn & h.tlb_mask]
            if (e.tag & ~TLB_SLOW) == vpn:
                e.tag = TLB_EMPTY


cdef void tlb_flush_page(Hart* h, uint64_t vaddr, int virt, int64_t vmid) noexcept nogil:
    # SFENCE.VMA / HFENCE.VVMA with an address: drop that page's entries in
    # the matching contexts. Entries are per 4 KiB, so once a superpage has
    # been cached every entry may hold a piece of the changed leaf, and the
    # matching contexts go whole.
    cdef int c
    if h.tlb_superpage:
        tlb_flush_contexts(h, virt, vmid)
        return
    for c in range(TLB_CONTEXTS):
        if ctx_matches(h, c, virt, vmid):
            tlb_drop_vpn(h, c, vaddr >> 12)
    h.tlb_flushes += 1
    h.fetch_vpn = NO_VPN


cdef void tlb_flush_pages(Hart* h, const uint64_t* vaddrs, int n) noexcept nogil:
    # The hypervisor changed the leaves of these pages (a shadow pager that
    # dropped entries or took a store right): their entries go in every
    # context, as one flush. After a superpage entry, every context goes.
    cdef int c, i
    if h.tlb_superpage:
        tlb_flush(h)
        return
    for c in range(TLB_CONTEXTS):
        if h.ctx_valid[c]:
            for i in range(n):
                tlb_drop_vpn(h, c, vaddrs[i] >> 12)
    h.tlb_flushes += 1
    h.fetch_vpn = NO_VPN


cdef inline bint in_ram(Hart* h, uint64_t paddr, uint64_t size) noexcept nogil:
    return paddr >= h.ram_base and paddr - h.ram_base <= h.ram_size - size and size <= h.ram_size


cdef inline void dirty_mark(Hart* h, uint64_t paddr) noexcept nogil:
    # the page holding paddr was written (or may be, through a store TLB entry)
    cdef uint64_t off = paddr - h.ram_base
    if h.dirty != NULL and off < h.ram_size:
        h.dirty.pages[off >> 12] = 1


cdef void dirty_mark_range(Hart* h, uint64_t paddr, uint64_t n) noexcept nogil:
    cdef uint64_t page
    if h.dirty == NULL or n == 0:
        return
    page = paddr & ~0xFFFULL
    while page < paddr + n:
        dirty_mark(h, page)
        page += 4096


cdef inline bint hart_has_code(Hart* h, uint64_t ppage) noexcept nogil:
    cdef DecodePage* dp = h.dpages[(ppage - h.ram_base) >> 12]
    return dp != NULL and dp.gen == h.decode_gen


cdef inline bint page_has_code(Hart* h, uint64_t ppage) noexcept nogil:
    # decoded on any hart of the machine: every hart's stores to it must
    # take the slow path, which keeps all decoded copies coherent
    cdef HartGroup* g = h.group
    cdef int i
    if g == NULL:
        return hart_has_code(h, ppage)
    for i in range(MAX_HARTS):
        if g.harts[i] != NULL and hart_has_code(g.harts[i], ppage):
            return True
    return False


cdef inline bint page_has_watch(Hart* h, uint64_t ppage) noexcept nogil:
    cdef int i
    for i in range(h.num_watches):
        if h.watch_lo[i] < ppage + 4096 and h.watch_hi[i] > ppage:
            return True
    return False


cdef void protect_code_page(Hart* h, uint64_t ppage) noexcept nogil:
    # a page just got decoded code: its stores, on every hart, must take the
    # slow path
    cdef HartGroup* g = h.group
    cdef int i
    if g == NULL:
        protect_hart_code_page(h, ppage)
        return
    for i in range(MAX_HARTS):
        if g.harts[i] != NULL:
            protect_hart_code_page(g.harts[i], ppage)


cdef void protect_hart_code_page(Hart* h, uint64_t ppage) noexcept nogil:
    cdef int c, p, i
    cdef TlbEntry* e
    for c in range(TLB_CONTEXTS):
        if not h.ctx_valid[c]:
            continue
        for p in range(4):
            for i in range(TLB_SIZE):
                e = &h.tlb[c][p][ACC_STORE][i]
                if e.tag != TLB_EMPTY and e.ppage == ppage:
                    e.tag |= TLB_SLOW


cdef void invalidate_code(Hart* h, uint64_t paddr, uint64_t size) noexcept nogil:
    # drop decoded slots overlapping [paddr - 2, paddr + size): a 32-bit
    # instruction starting two bytes before the store also changes
    cdef uint64_t start, end, page, lo, hi
    cdef DecodePage* dp
    if size == 0:
        return
    start = paddr - 2 if paddr >= h.ram_base + 2 else h.ram_base
    end = paddr + size
    if end > h.ram_end:
        end = h.ram_end
    page = start & ~0xFFFULL
    while page < end:
        dp = h.dpages[(page - h.ram_base) >> 12]
        if dp != NULL and dp.gen == h.decode_gen:
            lo = (start - page) if start > page else 0
            hi = (end - page) if end < page + 4096 else 4096
            lo >>= 1
            hi = (hi + 1) >> 1
            memset(&dp.slots[lo], 0, (hi - lo) * sizeof(DecodedInsn))
            # their blocks go with them (a block covers its slot's run only)
            jit_forget(dp, forget_runs_into(dp.slots, lo, hi), hi)
        page += 4096


cdef void invalidate_code_all(Hart* h, uint64_t paddr, uint64_t size) noexcept nogil:
    # a store to RAM: every hart's decoded copy of it goes, so decoded code
    # is coherent with every store and fence.i has nothing to flush
    cdef HartGroup* g = h.group
    cdef int i
    if g == NULL:
        invalidate_code(h, paddr, size)
        return
    for i in range(MAX_HARTS):
        if g.harts[i] != NULL:
            invalidate_code(g.harts[i], paddr, size)


cdef void decode_cache_flush(Hart* h) noexcept nogil:
    # every page goes stale; pages are cleared lazily when fetched again
    h.decode_gen += 1
    h.decode_flushes += 1
    h.fetch_vpn = NO_VPN


# ---------------------------------------------------------------- PMP

cdef void pmp_update(Hart* h) noexcept nogil:
    # decode pmpcfg/pmpaddr into ranges once per CSR write
    cdef int i, t
    cdef uint8_t cfg, a
    cdef uint64_t addr, prev = 0
    h.pmp_active = 0
    h.pmp_locked = 0
    for i in range(NUM_PMP):
        cfg = h.pmpcfg[i]
        a = (cfg >> 3) & 3
        addr = h.pmpaddr[i]
        h.pmp_perm[i] = 0xFF
        if a == 1:          # TOR
            h.pmp_lo[i] = prev << 2
            h.pmp_hi[i] = addr << 2
        elif a == 2:        # NA4
            h.pmp_lo[i] = addr << 2
            h.pmp_hi[i] = (addr << 2) + 4
        elif a == 3:        # NAPOT: trailing ones give the size
            t = 0
            while t < 54 and (addr >> t) & 1:
                t += 1
            h.pmp_lo[i] = (addr & ~((1ULL << t) - 1)) << 2
            h.pmp_hi[i] = h.pmp_lo[i] + (1ULL << (t + 3)) if t < 54 else U64_MAX
        prev = addr
        if a != 0:
            h.pmp_perm[i] = cfg & 0x87
            h.pmp_active = 1
            if cfg & 0x80:
                h.pmp_locked = 1


cdef inline bint pmp_allows(uint8_t perm, int acc, int priv) noexcept nogil:
    if priv == PRV_M and not (perm & 0x80):
        return True
    if acc == ACC_FETCH:
        return (perm & 4) != 0
    if acc == ACC_LOAD:
        return (perm & 1) != 0
    return (perm & 2) != 0


cdef bint pmp_check(Hart* h, uint64_t pa, uint64_t size, int acc, int priv) noexcept nogil:
    # the lowest-numbered rule touching the access decides; it must cover all of it
    cdef int i
    cdef uint64_t end = pa + size
    if priv == PRV_M and not h.pmp_locked:
        return True
    for i in range(NUM_PMP):
        if h.pmp_perm[i] == 0xFF:
            continue
        if pa < h.pmp_hi[i] and end > h.pmp_lo[i]:
            if pa < h.pmp_lo[i] or end > h.pmp_hi[i]:
                return False
            return pmp_allows(h.pmp_perm[i], acc, priv)
    # no rule matches: M-mode is allowed, S and U are not (16 rules are implemented)
    return priv == PRV_M


cdef int pmp_page(Hart* h, uint64_t ppage, int acc, int priv) noexcept nogil:
    # 1: the whole page allowed, 0: the whole page denied, 2: mixed
    cdef int i
    cdef uint64_t end = ppage + 4096
    if priv == PRV_M and not h.pmp_locked:
        return 1
    for i in range(NUM_PMP):
        if h.pmp_perm[i] == 0xFF:
            continue
        if ppage < h.pmp_hi[i] and end > h.pmp_lo[i]:
            if ppage < h.pmp_lo[i] or end > h.pmp_hi[i]:
                return 2
            return 1 if pmp_allows(h.pmp_perm[i], acc, priv) else 0
    return 1 if priv == PRV_M else 0


# ---------------------------------------------------------------- page walk

cdef inline uint64_t page_fault_cause(int acc) noexcept nogil:
    if acc == ACC_FETCH:
        return CAUSE_FETCH_PAGE_FAULT
    if acc == ACC_LOAD:
        return CAUSE_LOAD_PAGE_FAULT
    return CAUSE_STORE_PAGE_FAULT


cdef inline uint64_t access_fault_cause(int acc) noexcept nogil:
    if acc == ACC_FETCH:
        return CAUSE_FETCH_ACCESS
    if acc == ACC_LOAD:
        return CAUSE_LOAD_ACCESS
    return CAUSE_STORE_ACCESS


cdef inline uint64_t guest_page_fault_cause(int acc) noexcept nogil:
    if acc == ACC_FETCH:
        return CAUSE_FETCH_GUEST_PAGE_FAULT
    if acc == ACC_LOAD:
        return CAUSE_LOAD_GUEST_PAGE_FAULT
    return CAUSE_STORE_GUEST_PAGE_FAULT


# walk() kinds: which stage a walk is and where its page tables live
cdef enum:
    WALK_SINGLE = 0     # satp (V=0): tables at physical addresses
    WALK_VS = 1         # vsatp (V=1): tables at guest-physical addresses, each access G-stage translated
    WALK_G = 2          # hgatp: GPA -> HPA, 16 KiB root, every leaf a user page


cdef inline int atp_levels(uint64_t mode) noexcept nogil:
    # page-table levels of a satp/vsatp/hgatp MODE: Sv39(x4) 3, Sv48(x4) 4, Sv57(x4) 5
    return <int>mode - 5


cdef uint64_t translate(Hart* h, uint64_t vaddr, int acc, int priv, int virt, bint hlvx,
                        uint64_t* paddr) noexcept nogil:
    # returns 0 and the physical address, or an exception cause. At V=1 a
    # guest-page fault leaves its GPA and htinst in xlate_gpa / exc_* (see
    # raise_xlate), and xlate_gpa_fault says whether the final G-stage failed.
    cdef uint64_t mode, gpa, cause, refs
    h.xlate_virt = virt
    h.xlate_gpa_fault = 0
    if not virt:
        mode = h.satp >> 60
        if priv == PRV_M or mode == SATP_MODE_BARE:
            paddr[0] = vaddr
            return 0
        h.page_walks += 1
        return walk(h, vaddr, acc, priv, h.satp & PPN_MASK, atp_levels(mode), WALK_SINGLE, hlvx, paddr)
    mode = h.vsatp >> 60
    if mode == SATP_MODE_BARE:
        gpa = vaddr
        if (h.hgatp >> 60) != SATP_MODE_BARE:
            h.page_walks += 1
    else:
        h.page_walks += 1
        h.walks_2d += 1
        refs = h.walk_mem_refs
        cause = walk(h, vaddr, acc, priv, h.vsatp & PPN_MASK, atp_levels(mode), WALK_VS, hlvx, &gpa)
        h.walk_2d_mem_refs += h.walk_mem_refs - refs
        if cause:
            return cause
    h.xlate_gpa = gpa
    refs = h.walk_mem_refs
    cause = gstage(h, gpa, acc, hlvx, paddr)
    if mode != SATP_MODE_BARE:
        h.walk_2d_mem_refs += h.walk_mem_refs - refs
    if cause:
        h.xlate_gpa_fault = 1
        h.xlate_fault_gpa = gpa
        h.xlate_fault_tinst = 0
    return cause


cdef uint64_t gstage(Hart* h, uint64_t gpa, int acc, bint hlvx, uint64_t* paddr) noexcept nogil:
    # the G-stage translation of one guest-physical address
    cdef uint64_t mode = h.hgatp >> 60
    if mode == SATP_MODE_BARE:
        paddr[0] = gpa
        return 0
    h.gstage_walks += 1
    return walk(h, gpa, acc, PRV_U, h.hgatp & PPN_MASK, atp_levels(mode), WALK_G, hlvx, paddr)


cdef uint64_t pte_gstage(Hart* h, uint64_t pte_gpa, int acc, uint64_t* pte_hpa) noexcept nogil:
    # the host address of a VS page-table entry: an implicit access, G-stage
    # translated as a load; its guest-page fault takes the original access's
    # type with htinst the pseudo-instruction for a PTE read
    cdef uint64_t gpage = pte_gpa & ~0xFFFULL
    cdef uint64_t hpa, cause
    cdef int slot = <int>((pte_gpa >> 12) & (WALK_CACHE_SIZE - 1))
    if (h.hgatp >> 60) == SATP_MODE_BARE:
        pte_hpa[0] = pte_gpa
        return 0
    if h.walk_cache_on and h.wc_gpage[slot] == gpage and h.wc_hgatp[slot] == h.hgatp:
        h.walk_cache_hits += 1
        pte_hpa[0] = h.wc_hpage[slot] | (pte_gpa & 0xFFF)
        return 0
    cause = gstage(h, pte_gpa, ACC_LOAD, False, &hpa)
    if cause:
        h.xlate_fault_gpa = pte_gpa
        h.xlate_fault_tinst = HTINST_PTE_READ
        return guest_page_fault_cause(acc)
    if h.walk_cache_on:
        h.wc_gpage[slot] = gpage
        h.wc_hgatp[slot] = h.hgatp
        h.wc_hpage[slot] = hpa & ~0xFFFULL
    pte_hpa[0] = hpa
    return 0


cdef uint64_t walk(Hart* h, uint64_t vaddr, int acc, int priv, uint64_t root_ppn, int levels,
                   int kind, bint hlvx, uint64_t* paddr) noexcept nogil:
    # one Sv39/Sv48/Sv57 walk (or Sv39x4/Sv48x4/Sv57x4 for the G-stage) from root_ppn
    cdef int i, va_bits
    cdef uint64_t table, pte_addr, pte_gpa = 0, pte, new_pte, ppn, shift, idx, cause, fault, ad_hpa
    cdef int64_t extended
    cdef bint mxr, sum_
    va_bits = 12 + 9 * levels
    if kind == WALK_G:
        # Sv39x4/Sv48x4/Sv57x4: two more address bits, which the root's 2048 entries index
        fault = guest_page_fault_cause(acc)
        if vaddr >> (va_bits + 2):
            return fault
        mxr = (h.mstatus & MSTATUS_MXR) != 0
        sum_ = False
    else:
        fault = page_fault_cause(acc)
        extended = (<int64_t>(vaddr << (64 - va_bits))) >> (64 - va_bits)
        if <uint64_t>extended != vaddr:
            return fault
        if kind == WALK_VS:
            # VS-stage: the guest's vsstatus, though HS's MXR also makes X readable
            mxr = ((h.vsstatus | h.mstatus) & MSTATUS_MXR) != 0
            sum_ = (h.vsstatus & MSTATUS_SUM) != 0
        else:
            mxr = (h.mstatus & MSTATUS_MXR) != 0
            sum_ = (h.mstatus & MSTATUS_SUM) != 0
    table = root_ppn << 12
    i = levels - 1
    while i >= 0:
        shift = 12 + 9 * <uint64_t>i
        idx = (vaddr >> shift) & 0x1FF
        if kind == WALK_G and i == levels - 1:
            idx = (vaddr >> shift) & 0x7FF
        pte_addr = table + idx * 8
        if kind == WALK_VS:
            pte_gpa = pte_addr
            cause = pte_gstage(h, pte_gpa, acc, &pte_addr)
            if cause:
                return cause
        if not in_ram(h, pte_addr, 8) or not pmp_check(h, pte_addr, 8, ACC_LOAD, PRV_S):
            return access_fault_cause(acc)
        h.walk_mem_refs += 1
        pte = pyvmm_ld(h.ram + (pte_addr - h.ram_base), 8)
        if not (pte & PTE_V) or ((pte & PTE_W) and not (pte & PTE_R)):
            return fault
        if pte & PTE_HIGH_BITS:
            return fault
        ppn = (pte >> 10) & PPN_MASK
        if not (pte & (PTE_R | PTE_X)):
            # pointer to the next level; A, D and U are reserved here
            if (pte & (PTE_A | PTE_D | PTE_U)) or i == 0:
                return fault
            table = ppn << 12
            i -= 1
            continue
        # leaf
        if i > 0 and (ppn & ((1ULL << (9 * i)) - 1)):
            return fault
        if kind == WALK_G:
            # G-stage accesses are all user-level
            if not (pte & PTE_U):
                return fault
        elif pte & PTE_U:
            if priv == PRV_S and (acc == ACC_FETCH or not sum_):
                return fault
        elif priv == PRV_U:
            return fault
        if acc == ACC_FETCH:
            if not (pte & PTE_X):
                return fault
        elif acc == ACC_LOAD:
            if hlvx:
                # HLVX reads what is executable, readable or not
                if not (pte & PTE_X):
                    return fault
            elif not ((pte & PTE_R) or (mxr and (pte & PTE_X))):
                return fault
        elif not (pte & PTE_W):
            return fault
        # hardware A/D update, as QEMU does
        new_pte = pte | PTE_A
        if acc == ACC_STORE:
            new_pte |= PTE_D
        if new_pte != pte:
            if kind == WALK_VS and (h.hgatp >> 60) != SATP_MODE_BARE:
                # the A/D update is a store to guest-physical memory: the
                # G-stage must allow writing the PTE (the spec; QEMU 7.2 skips this)
                if gstage(h, pte_gpa, ACC_STORE, False, &ad_hpa):
                    h.xlate_fault_gpa = pte_gpa
                    h.xlate_fault_tinst = HTINST_PTE_WRITE
                    return guest_page_fault_cause(acc)
            pyvmm_st(h.ram + (pte_addr - h.ram_base), 8, new_pte)
            invalidate_code_all(h, pte_addr, 8)
            dirty_mark(h, pte_addr)
        if i > 0:
            h.tlb_superpage = 1
        paddr[0] = ((ppn << 12) & ~((1ULL << shift) - 1)) | (vaddr & ((1ULL << shift) - 1))
        return 0
    return fault


cdef inline int raise_exc(Hart* h, uint64_t cause, uint64_t tval) noexcept nogil:
    # tval is a guest virtual address when the last translation was at V=1
    # (take_trap looks at exc_gva only for address causes)
    h.exc_cause = cause
    h.exc_tval = tval
    h.exc_gpa = 0
    h.exc_tinst = 0
    h.exc_gva = h.xlate_virt
    return ST_EXC


cdef int raise_xlate(Hart* h, uint64_t cause, uint64_t vaddr) noexcept nogil:
    # a failed translation: guest-page faults carry their GPA and htinst
    raise_exc(h, cause, vaddr)
    if cause == CAUSE_FETCH_GUEST_PAGE_FAULT or cause == CAUSE_LOAD_GUEST_PAGE_FAULT \
            or cause == CAUSE_STORE_GUEST_PAGE_FAULT:
        h.exc_gpa = h.xlate_fault_gpa
        h.exc_tinst = h.xlate_fault_tinst
    return ST_EXC


cdef inline bint in_guest_mmio(Hart* h, uint64_t gpa, uint64_t size) noexcept nogil:
    cdef int i
    for i in range(h.num_gmmio):
        if gpa >= h.gmmio_lo[i] and gpa + size <= h.gmmio_hi[i]:
            return True
    return False


cdef int tlb_translate(Hart* h, TlbEntry* e, uint64_t vaddr, uint64_t size, int acc, uint64_t* paddr) noexcept nogil:
    # slow-path translation through the TLB set `e` belongs to: use a slow
    # entry when it matches, else walk, check PMP and install an entry
    cdef uint64_t vpn = vaddr >> 12
    cdef uint64_t pa, ppage, cause
    cdef int priv = h.data_priv if acc != ACC_FETCH else h.priv
    cdef int virt = h.data_virt if acc != ACC_FETCH else h.virt
    cdef int pmp
    cdef bint slow
    h.xlate_virt = virt
    h.xlate_gmmio = 0
    if (e.tag & ~TLB_SLOW) == vpn:
        h.tlb_hits += 1
        pa = e.ppage | (vaddr & 0xFFF)
        if e.pmp_partial and not pmp_check(h, pa, size, acc, priv):
            return raise_exc(h, access_fault_cause(acc), vaddr)
        paddr[0] = pa
        return ST_OK
    h.tlb_misses += 1
    cause = translate(h, vaddr, acc, priv, virt, False, &pa)
    if cause:
        if virt and h.xlate_gpa_fault and h.num_gmmio and in_guest_mmio(h, h.xlate_gpa, size):
            # a guest-physical device the hypervisor emulates: MMIO at the GPA
            h.xlate_gmmio = 1
            h.xlate_gmmio_cause = cause
            paddr[0] = h.xlate_gpa
            return ST_OK
        return raise_xlate(h, cause, vaddr)
    ppage = pa & ~0xFFFULL
    pmp = pmp_page(h, ppage, acc, priv) if h.pmp_active or priv != PRV_M else 1
    if pmp == 0 or (pmp == 2 and not pmp_check(h, pa, size, acc, priv)):
        return raise_exc(h, access_fault_cause(acc), vaddr)
    e.ppage = ppage
    e.pmp_partial = pmp == 2
    if in_ram(h, ppage, 4096):
        e.addend = <int64_t>(<uint64_t>h.ram + (ppage - h.ram_base) - (vaddr & ~0xFFFULL))
        slow = pmp == 2 or (acc == ACC_STORE and (page_has_code(h, ppage) or page_has_watch(h, ppage))) \
            or (h.debug_data and acc != ACC_FETCH)
        e.tag = vpn | (TLB_SLOW if slow else 0)
        if acc == ACC_STORE:
            # stores through this entry skip the log: it is marked now, and
            # fetching the log drops the entry
            dirty_mark(h, ppage)
    else:
        e.addend = 0
        e.tag = vpn | TLB_SLOW
    paddr[0] = pa
    return ST_OK


# ---------------------------------------------------------------- data access

cdef int mmio_exit(Hart* h, uint64_t paddr, int size, bint is_write, uint64_t data) noexcept nogil:
    h.exit_reason = EXIT_MMIO_C
    h.exit_addr = paddr
    h.exit_size = <uint64_t>size
    h.exit_is_write = is_write
    h.exit_data = data
    h.exit_pc = h.pc
    h.mmio_virt = h.xlate_virt
    return ST_EXIT_AFTER if is_write else ST_EXIT_BEFORE


cdef int load_slow(Hart* h, uint64_t vaddr, int size, uint64_t* out) noexcept nogil:
    cdef uint64_t pa, pa2, value
    cdef int r, first, k, gm
    cdef TlbEntry* e = &h.load_tlb[(vaddr >> 12) & h.tlb_mask]
    if h.debug_data and debug_data_check(h, vaddr, size, ACC_LOAD) != ST_OK:
        return ST_EXC
    if (vaddr & 0xFFF) + <uint64_t>size > 4096:
        # crosses a page: both halves must translate and be RAM
        first = <int>(4096 - (vaddr & 0xFFF))
        r = tlb_translate(h, e, vaddr, <uint64_t>first, ACC_LOAD, &pa)
        if r:
            return r
        e = &h.load_tlb[((vaddr + <uint64_t>first) >> 12) & h.tlb_mask]
        gm = h.xlate_gmmio
        r = tlb_translate(h, e, vaddr + <uint64_t>first, <uint64_t>(size - first), ACC_LOAD, &pa2)
        if r:
            return r
        if gm or h.xlate_gmmio or not in_ram(h, pa, <uint64_t>first) or not in_ram(h, pa2, <uint64_t>(size - first)):
            return raise_exc(h, CAUSE_LOAD_ACCESS, vaddr)
        value = 0
        for k in range(size):
            if k < first:
                value |= (<uint64_t>h.ram[pa - h.ram_base + <uint64_t>k]) << (8 * k)
            else:
                value |= (<uint64_t>h.ram[pa2 - h.ram_base + <uint64_t>(k - first)]) << (8 * k)
        out[0] = value
        return ST_OK
    r = tlb_translate(h, e, vaddr, <uint64_t>size, ACC_LOAD, &pa)
    if r:
        return r
    if h.xlate_gmmio:
        return mmio_exit(h, pa, size, False, 0)
    if in_ram(h, pa, <uint64_t>size):
        out[0] = pyvmm_ld(h.ram + (pa - h.ram_base), size)
        return ST_OK
    if pa >= CLINT_BASE and pa < CLINT_BASE + CLINT_SIZE:
        if not clint_size_ok(pa - CLINT_BASE, size):
            return raise_exc(h, CAUSE_LOAD_ACCESS, vaddr)
        out[0] = clint_read(h, pa - CLINT_BASE, size)
        return ST_OK
    return mmio_exit(h, pa, size, False, 0)


cdef inline int load(Hart* h, uint64_t vaddr, int size, uint64_t* out) noexcept nogil:
    cdef TlbEntry* e = &h.load_tlb[(vaddr >> 12) & h.tlb_mask]
    if e.tag == (vaddr >> 12) and (vaddr & 0xFFF) <= <uint64_t>(4096 - size):
        h.tlb_hits += 1
        out[0] = pyvmm_ld(<uint8_t*>(<uint64_t>e.addend + vaddr), size)
        return ST_OK
    return load_slow(h, vaddr, size, out)


cdef int store_ram(Hart* h, uint64_t pa, int size, uint64_t value) noexcept nogil:
    # a RAM store on the slow path: keeps decoded code coherent, reports watches
    cdef int i
    pyvmm_st(h.ram + (pa - h.ram_base), size, value)
    invalidate_code_all(h, pa, <uint64_t>size)
    dirty_mark(h, pa)
    for i in range(h.num_watches):
        if h.watch_lo[i] < pa + <uint64_t>size and h.watch_hi[i] > pa:
            h.exit_reason = EXIT_WATCH_C
            h.exit_addr = pa
            h.exit_size = <uint64_t>size
            h.exit_is_write = True
            h.exit_data = value
            h.exit_pc = h.pc
            return ST_EXIT_AFTER
    return ST_OK


cdef int store_slow(Hart* h, uint64_t vaddr, int size, uint64_t value) noexcept nogil:
    cdef uint64_t pa, pa2
    cdef int r, r2, first, k, gm
    cdef TlbEntry* e = &h.store_tlb[(vaddr >> 12) & h.tlb_mask]
    if h.debug_data and debug_data_check(h, vaddr, size, ACC_STORE) != ST_OK:
        return ST_EXC
    if (vaddr & 0xFFF) + <uint64_t>size > 4096:
        first = <int>(4096 - (vaddr & 0xFFF))
        r = tlb_translate(h, e, vaddr, <uint64_t>first, ACC_STORE, &pa)
        if r:
            return r
        e = &h.store_tlb[((vaddr + <uint64_t>first) >> 12) & h.tlb_mask]
        gm = h.xlate_gmmio
        r = tlb_translate(h, e, vaddr + <uint64_t>first, <uint64_t>(size - first), ACC_STORE, &pa2)
        if r:
            return r
        if gm or h.xlate_gmmio or not in_ram(h, pa, <uint64_t>first) or not in_ram(h, pa2, <uint64_t>(size - first)):
            return raise_exc(h, CAUSE_STORE_ACCESS, vaddr)
        r = ST_OK
        for k in range(size):
            if k < first:
                r2 = store_ram(h, pa + <uint64_t>k, 1, (value >> (8 * k)) & 0xFF)
            else:
                r2 = store_ram(h, pa2 + <uint64_t>(k - first), 1, (value >> (8 * k)) & 0xFF)
            if r2 != ST_OK:
                r = r2
        if r != ST_OK:
            h.exit_addr = pa
            h.exit_size = <uint64_t>size
            h.exit_data = value
        return r
    r = tlb_translate(h, e, vaddr, <uint64_t>size, ACC_STORE, &pa)
    if r:
        return r
    if h.xlate_gmmio:
        h.mmio_state = MMIO_STORE_DONE
        h.mmio_vaddr = vaddr
        return mmio_exit(h, pa, size, True, value)
    if in_ram(h, pa, <uint64_t>size):
        return store_ram(h, pa, size, value)
    if pa >= CLINT_BASE and pa < CLINT_BASE + CLINT_SIZE:
        if not clint_size_ok(pa - CLINT_BASE, size):
            return raise_exc(h, CAUSE_STORE_ACCESS, vaddr)
        clint_write(h, pa - CLINT_BASE, size, value)
        return ST_OK
    h.mmio_state = MMIO_STORE_DONE
    h.mmio_vaddr = vaddr
    return mmio_exit(h, pa, size, True, value)


cdef inline int store(Hart* h, uint64_t vaddr, int size, uint64_t value) noexcept nogil:
    cdef TlbEntry* e = &h.store_tlb[(vaddr >> 12) & h.tlb_mask]
    if e.tag == (vaddr >> 12) and (vaddr & 0xFFF) <= <uint64_t>(4096 - size):
        h.tlb_hits += 1
        pyvmm_st(<uint8_t*>(<uint64_t>e.addend + vaddr), size, value)
        return ST_OK
    return store_slow(h, vaddr, size, value)


cdef int atomic_ram_addr(Hart* h, uint64_t vaddr, int size, int acc, uint64_t* pa) noexcept nogil:
    # LR/SC/AMO: aligned, RAM only (an AMO to MMIO is an access fault)
    cdef TlbEntry* e
    cdef int r
    if vaddr & <uint64_t>(size - 1):
        return raise_exc(h, CAUSE_LOAD_MISALIGNED if acc == ACC_LOAD else CAUSE_STORE_MISALIGNED, vaddr)
    if h.debug_data and debug_data_check(h, vaddr, size, acc) != ST_OK:
        return ST_EXC
    if acc == ACC_LOAD:
        e = &h.load_tlb[(vaddr >> 12) & h.tlb_mask]
    else:
        e = &h.store_tlb[(vaddr >> 12) & h.tlb_mask]
    if e.tag == (vaddr >> 12):
        h.tlb_hits += 1
        pa[0] = e.ppage | (vaddr & 0xFFF)
        h.xlate_virt = h.data_virt
    else:
        r = tlb_translate(h, e, vaddr, <uint64_t>size, acc, pa)
        if r:
            return r
        if h.xlate_gmmio:
            # no atomics on an emulated device: the hypervisor sees the guest-page fault
            return raise_xlate(h, h.xlate_gmmio_cause, vaddr)
    if not in_ram(h, pa[0], <uint64_t>size):
        return raise_exc(h, access_fault_cause(acc), vaddr)
    return ST_OK


# ---------------------------------------------------------------- fetch

cdef int enter_fetch_page(Hart* h, uint64_t pc) noexcept nogil:
    # make h.fetch_page the decoded page holding pc, or raise a fetch fault
    cdef uint64_t vpn = pc >> 12
    cdef TlbEntry* e = &h.fetch_tlb[vpn & h.tlb_mask]
    cdef uint64_t pa, ppage, cause, idx
    cdef DecodePage* dp
    cdef int pmp
    h.xlate_virt = h.virt
    if e.tag == vpn:
        h.tlb_hits += 1
        ppage = e.ppage
        if e.pmp_partial and not pmp_check(h, ppage | (pc & 0xFFF), 2, ACC_FETCH, h.priv):
            return raise_exc(h, CAUSE_FETCH_ACCESS, pc)
    else:
        h.tlb_misses += 1
        cause = translate(h, pc, ACC_FETCH, h.priv, h.virt, False, &pa)
        if cause:
            return raise_xlate(h, cause, pc)
        ppage = pa & ~0xFFFULL
        if not in_ram(h, ppage, 4096):
            return raise_exc(h, CAUSE_FETCH_ACCESS, pc)
        pmp = pmp_page(h, ppage, ACC_FETCH, h.priv) if h.pmp_active or h.priv != PRV_M else 1
        if pmp == 0 or (pmp == 2 and not pmp_check(h, pa, 2, ACC_FETCH, h.priv)):
            return raise_exc(h, CAUSE_FETCH_ACCESS, pc)
        e.tag = vpn
        e.ppage = ppage
        e.pmp_partial = pmp == 2
        e.addend = <int64_t>(<uint64_t>h.ram + (ppage - h.ram_base) - (pc & ~0xFFFULL))
    idx = (ppage - h.ram_base) >> 12
    dp = h.dpages[idx]
    if dp == NULL:
        dp = <DecodePage*>calloc(1, sizeof(DecodePage))
        if dp == NULL:
            abort()
        h.dpages[idx] = dp
        dp.gen = h.decode_gen
        protect_code_page(h, ppage)
    elif dp.gen != h.decode_gen:
        memset(dp.slots, 0, sizeof(dp.slots))
        if dp.jit != NULL:
            jit_page_reset(h, dp.jit)
        dp.gen = h.decode_gen
        protect_code_page(h, ppage)
    h.fetch_page = dp
    # a page with mixed PMP rules is re-entered (and re-checked) for every instruction
    h.fetch_vpn = NO_VPN if e.pmp_partial else vpn
    h.fetch_host = h.ram + (ppage - h.ram_base)
    return ST_OK


cdef DecodedInsn* fill_slot(Hart* h, uint64_t pc, DecodedInsn* d) noexcept nogil:
    # decode the instruction at pc into its slot; one straddling two pages is
    # decoded into cross_slot each time instead (NULL: its second half faulted)
    cdef uint64_t off = pc & 0xFFF
    cdef uint32_t lo = pyvmm_ld16(h.fetch_host + off)
    cdef uint32_t hi
    cdef uint64_t pa, cause
    cdef TlbEntry* e
    if (lo & 3) != 3 or off != 0xFFE:
        # the whole straight-line run from here, so the fast run can count it at once
        h.decode_fills += decode_run(h.fetch_host, d - (off >> 1), off >> 1)
        return d
    e = &h.fetch_tlb[((pc + 2) >> 12) & h.tlb_mask]
    if e.tag == (pc + 2) >> 12:
        pa = e.ppage
    else:
        cause = translate(h, pc + 2, ACC_FETCH, h.priv, h.virt, False, &pa)
        if cause:
            raise_xlate(h, cause, pc + 2)
            return NULL
        if not in_ram(h, pa & ~0xFFFULL, 4096):
            raise_exc(h, CAUSE_FETCH_ACCESS, pc + 2)
            return NULL
    hi = pyvmm_ld16(h.ram + ((pa & ~0xFFFULL) - h.ram_base))
    d = cross_slot(h)
    decode32(lo | (hi << 16), d)
    d.blen = 1
    return d
