# The hardware performance-monitor counters as QEMU 7.2's virt hart has them
# (pmu-num 16): mhpmcounter3..18 and their user views hpmcounter3..18 exist,
# the higher numbers are illegal instructions even in M-mode; mhpmevent3..31
# hold what is written. A counter counts only while its event is one QEMU
# maps to a counter, cycles (1) or instructions (2), and mcountinhibit does
# not hold it; both count retired instructions here, as mcycle and minstret
# do. QEMU gives each event to the first counter programmed with it (until
# that counter's event is written zero), and so does this hart. Other events
# (QEMU's TLB-miss ones, raw events) leave the counter where it was written.

cdef enum:
    NUM_HPM = 16                # mhpmcounter3 .. mhpmcounter(3 + NUM_HPM - 1)
    HPM_EVENT_CYCLES = 1
    HPM_EVENT_INSTRUCTIONS = 2
    CSR_MHPMCOUNTER3 = 0xB03
    CSR_HPMCOUNTER3 = 0xC03
    CSR_MHPMEVENT3 = 0x323
    CSR_MHPMEVENT31 = 0x33F

cdef uint64_t HPM_EVENT_INDEX = 0xFFFFF    # mhpmevent's event number (QEMU's MHPMEVENT_IDX_MASK)


cdef inline bint hpm_counts(Hart* h, int i) noexcept nogil:
    return (i == h.hpm_cycles_ctr or i == h.hpm_instret_ctr) and not ((h.mcountinhibit >> i) & 1)


cdef inline uint64_t hpm_read(Hart* h, int i) noexcept nogil:
    if hpm_counts(h, i):
        return h.hpm_val[i] + (h.instret - h.hpm_base[i])
    return h.hpm_val[i]


cdef void hpm_rebase(Hart* h) noexcept nogil:
    # before what counts changes: every counter restarts from its value now,
    # after the writing instruction (which is not counted)
    cdef int i
    for i in range(3, 3 + NUM_HPM):
        h.hpm_val[i] = hpm_read(h, i)
        h.hpm_base[i] = h.instret + 1


cdef void hpm_write_counter(Hart* h, int i, uint64_t value) noexcept nogil:
    # the next instruction reads `value`: the writing one retires uncounted
    h.hpm_val[i] = value
    h.hpm_base[i] = h.instret + 1


cdef void hpm_write_event(Hart* h, int i, uint64_t value) noexcept nogil:
    cdef uint64_t event = value & HPM_EVENT_INDEX
    h.mhpmevent[i] = value
    if i >= 3 + NUM_HPM:
        return
    hpm_rebase(h)
    if value == 0:
        # the counter gives up whatever events it was counting
        if h.hpm_cycles_ctr == i:
            h.hpm_cycles_ctr = 0
        if h.hpm_instret_ctr == i:
            h.hpm_instret_ctr = 0
    elif event == HPM_EVENT_CYCLES and h.hpm_cycles_ctr == 0:
        h.hpm_cycles_ctr = i
    elif event == HPM_EVENT_INSTRUCTIONS and h.hpm_instret_ctr == 0:
        h.hpm_instret_ctr = i
