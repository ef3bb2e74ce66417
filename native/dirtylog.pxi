# Dirty-page logging: which 4 KiB RAM pages were written since the log was
# last fetched, as hardware dirty bits (or Intel's page-modification log)
# give a hypervisor for live migration.
#
# The fast path stays free of it: a page is marked when a store-capable TLB
# entry for it is installed (tlb_translate) and on every slow-path RAM write
# (store_ram: stores off the fast path, AMOs, SC, cbo.zero, HSV; the page
# walker's A/D updates; write_mem and device DMA through invalidate_code).
# Fetching the log clears it and drops every store TLB entry of every hart of
# the machine, so the next store to any page misses, refills and marks again.

cdef int machine_harts(Hart* h, Hart** out) noexcept nogil:
    # the harts sharing h's RAM (h alone when it has no peers)
    cdef int i, n = 0
    if h.group == NULL:
        out[0] = h
        return 1
    for i in range(MAX_HARTS):
        if h.group.harts[i] != NULL:
            out[n] = h.group.harts[i]
            n += 1
    return n


cdef void drop_store_entries(Hart* h) noexcept nogil:
    # every store TLB entry of every context goes: the next store refills
    cdef int c, p
    for c in range(TLB_CONTEXTS):
        for p in range(4):
            memset(&h.tlb[c][p][ACC_STORE][0], 0xFF, sizeof(TlbEntry) * TLB_SIZE)


cdef void dirty_log_release(Hart* h) noexcept nogil:
    cdef DirtyLog* log = h.dirty
    if log == NULL:
        return
    h.dirty = NULL
    log.refs -= 1
    if log.refs == 0:
        free(log.pages)
        free(log)


cdef int dirty_log_attach(Hart* h, DirtyLog* log) noexcept nogil:
    # h logs into `log` too (a hart joining a machine that is logging)
    if log == NULL:
        return 0
    h.dirty = log
    log.refs += 1
    return 0


cdef uint64_t dirty_log_collect(DirtyLog* log, uint32_t* out) noexcept nogil:
    # the marked page indexes in increasing order, clearing them; out has room
    # for every page
    cdef uint64_t i, j, n = 0
    cdef uint64_t* words = <uint64_t*>log.pages
    cdef uint64_t nwords = log.num_pages >> 3
    # eight pages at a time: most of a large RAM is clean
    for i in range(nwords):
        if words[i] == 0:
            continue
        for j in range(i << 3, (i << 3) + 8):
            if log.pages[j]:
                out[n] = <uint32_t>j
                n += 1
        words[i] = 0
    for i in range(nwords << 3, log.num_pages):
        if log.pages[i]:
            out[n] = <uint32_t>i
            n += 1
            log.pages[i] = 0
    return n
