# The hart's state as C structs: architectural registers, the software TLB,
# the decoded-instruction cache, exit payloads and counters. Everything the
# run loop touches lives here so the loop never needs a Python object.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t

cdef enum:
    PRV_U = 0
    PRV_S = 1
    PRV_M = 3

    TLB_BITS = 8
    TLB_SIZE = 256          # entries per (privilege, access type) set
    TLB_CONTEXTS = 8        # translation contexts (V, satp/vsatp, hgatp) with their own TLB sets
    WALK_CACHE_SIZE = 64    # G-stage translations of VS page-table pages
    MAX_GUEST_MMIO = 16
    SLOTS_PER_PAGE = 2048   # one decoded slot per 16-bit parcel of a 4 KiB page
    MAX_WATCHES = 16
    MAX_HARTS = 8           # harts of one machine sharing RAM and the CLINT
    NUM_TRIGGERS = 2        # Sdtrig triggers (tselect 0..1), as QEMU 7.2
    MAX_DEBUG_BPS = 64      # the debugger's breakpoints (pc values)
    MAX_DEBUG_WPS = 16      # the debugger's watchpoints (virtual ranges)

# Access types index the TLB sets and select the fault causes.
cdef enum:
    ACC_FETCH = 0
    ACC_LOAD = 1
    ACC_STORE = 2

ctypedef struct TlbEntry:
    uint64_t tag        # virtual page number; | TLB_SLOW when every access must take the slow path
    int64_t addend      # host address minus guest virtual address, for RAM pages
    uint64_t ppage      # physical page address
    uint64_t pmp_partial  # PMP rules differ inside this page: check every access

ctypedef struct DecodedInsn:
    uint8_t op          # OP_NONE (0) = not decoded yet
    uint8_t rd          # 32 stands for x0: writes land in a scratch register
    uint8_t rs1
    uint8_t rs2
    # instructions from this one to the end of its straight-line run on the
    # page (the next branch, jump, or instruction the fast run does not
    # execute), itself included: the fast run counts a run at its entry
    uint16_t blen
    uint16_t dispatch   # the fast run's jump-table index: op, plus 256 for a 4-byte instruction
    uint32_t raw        # the instruction bits as fetched (16 bits for compressed)
    int32_t imm         # immediate, CSR number, or shift amount

# The translator's view of one decoded page (jit.pxi): per slot, how often a
# straight-line run was entered there (below JIT_HOT), JIT_HOT when its run
# is not worth translating, or the offset of its block in the code buffer
ctypedef struct JitPage:
    uint64_t gen        # valid only while equal to Hart.jit_gen
    uint32_t entry[SLOTS_PER_PAGE + 1]

ctypedef struct DecodePage:
    uint64_t gen        # valid only while equal to Hart.decode_gen
    JitPage* jit        # NULL until the translator is on and the fast run enters the page
    # one slot more than the page holds: it stays OP_NONE, so the run loop's
    # sequential step off the page's end lands on a slot that stops it
    DecodedInsn slots[SLOTS_PER_PAGE + 1]

cdef struct HartGroup

# The log of RAM pages written since it was last fetched, shared by every
# hart of a machine (they share RAM). One byte per 4 KiB page.
ctypedef struct DirtyLog:
    int refs            # harts logging into it
    uint64_t num_pages
    uint8_t* pages      # 1: written since the last fetch

ctypedef struct Hart:
    uint64_t* x         # 33 registers: x0..x31 and the x0 write sink
    uint64_t* f         # f0..f31 (F/D), 64 bits each; singles are NaN-boxed
    uint32_t fflags     # accrued exceptions NV DZ OF UF NX (fcsr 4:0)
    uint32_t frm        # dynamic rounding mode (fcsr 7:5); 5..7 make dynamic-rm instructions illegal
    unsigned host_fpenv # the host FPU's control word when run() began, restored when it returns
    uint64_t pc
    int priv
    int data_priv       # privilege of loads/stores (MPRV/MPP applied)
    int virt            # the H extension's V: 1 = VS/VU
    int data_virt       # V of loads/stores (MPRV/MPV applied)
    int cpu_profile     # 0 standard, 1 classic (U-mode sees sstatus/satp)
    uint64_t hartid

    # CSRs
    uint64_t mstatus
    uint64_t misa
    uint64_t medeleg
    uint64_t mideleg
    uint64_t mie
    uint64_t mip_sw     # software-writable mip bits (SSIP, STIP without Sstc, SEIP's software part)
    uint64_t mip_hw     # bits driven by devices/time: MSIP MTIP SEIP-line MEIP and Sstc STIP
    uint64_t mtvec
    uint64_t mcounteren
    uint64_t menvcfg
    uint64_t mscratch
    uint64_t mepc
    uint64_t mcause
    uint64_t mtval
    uint64_t stvec
    uint64_t scounteren
    uint64_t senvcfg
    uint64_t sscratch
    uint64_t sepc
    uint64_t scause
    uint64_t stval
    uint64_t satp
    uint64_t stimecmp
    # H extension
    uint64_t hstatus
    uint64_t hedeleg
    uint64_t hideleg
    uint64_t hvip           # VSSIP (also mip.VSSIP), VSTIP, VSEIP as the hypervisor injects them
    uint64_t htimedelta
    uint64_t hcounteren
    uint64_t henvcfg
    uint64_t htval
    uint64_t htinst
    uint64_t hgatp
    uint64_t mtval2
    uint64_t mtinst
    uint64_t vsstatus
    uint64_t vstvec
    uint64_t vsscratch
    uint64_t vsepc
    uint64_t vscause
    uint64_t vstval
    uint64_t vsatp
    uint64_t vstimecmp
    uint8_t pmpcfg[64]
    uint64_t pmpaddr[64]
    # decoded PMP rules: [lo, hi) and permission bits (R=1 W=2 X=4, L=0x80); perm 0xFF = off
    uint64_t pmp_lo[16]
    uint64_t pmp_hi[16]
    uint8_t pmp_perm[16]
    int pmp_active      # any rule not OFF
    int pmp_locked      # any locked rule (they bind M-mode too)
    uint64_t mcycle_offset
    uint64_t minstret_offset
    uint64_t mcountinhibit
    uint64_t mcycle_frozen      # mcycle while mcountinhibit.CY holds it
    uint64_t minstret_frozen    # minstret while mcountinhibit.IR holds it
    # HPM counters (hpm.pxi): value at hpm_base retired instructions, events
    uint64_t hpm_val[32]
    uint64_t hpm_base[32]
    uint64_t mhpmevent[32]
    int hpm_cycles_ctr          # the counter counting the cycles event (0: none)
    int hpm_instret_ctr         # the counter counting the instructions event

    # CLINT and time
    uint32_t msip
    uint64_t mtimecmp
    # mtime = (instret + insn_offset) / insns_per_tick + time_offset (or host
    # ticks + time_offset): insn_offset puts the hart on the machine's clock
    # when several harts take turns
    int64_t time_offset
    int64_t insn_offset
    uint64_t insns_per_tick
    int realtime
    int wfi_exit            # an idle WFI exits (EXIT_WFI) instead of skipping time to the next timer
    HartGroup* group        # the machine's harts, for the shared CLINT and reservations; NULL = alone

    # LR/SC reservation
    int res_valid
    uint64_t res_addr
    uint64_t res_paddr      # physical address of the reservation (other harts' SC/AMO clear it)
    uint64_t res_value

    # physical memory
    uint8_t* ram
    uint64_t ram_base
    uint64_t ram_size
    uint64_t ram_end

    # software TLB: [context][privilege][access type][index]; privilege 2 unused.
    # A context is one address space: (V, satp) at V=0, (V, vsatp, hgatp) at
    # V=1, so switching ASID/VMID changes the sets in use instead of flushing.
    TlbEntry tlb[TLB_CONTEXTS][4][3][TLB_SIZE]
    uint64_t ctx_atp[TLB_CONTEXTS]      # satp (V=0) or vsatp (V=1) the context translates with
    uint64_t ctx_hgatp[TLB_CONTEXTS]    # hgatp (V=1 contexts; 0 at V=0)
    int ctx_virt[TLB_CONTEXTS]
    int ctx_valid[TLB_CONTEXTS]         # 0: free or flushed, cleared before reuse
    uint64_t ctx_used[TLB_CONTEXTS]     # last selection, for LRU replacement
    uint64_t ctx_clock
    int fetch_ctx
    int data_ctx
    # G-stage translations of VS page-table pages: key (hgatp, GPA page) -> host page
    int walk_cache_on
    uint64_t tlb_mask       # entries in use per TLB set, minus one (core.tlb_entries, a power of two)
    uint64_t wc_hgatp[WALK_CACHE_SIZE]
    uint64_t wc_gpage[WALK_CACHE_SIZE]
    uint64_t wc_hpage[WALK_CACHE_SIZE]
    TlbEntry* fetch_tlb
    int tlb_superpage       # some entry came from a megapage/gigapage leaf: address flushes go wide
    TlbEntry* load_tlb
    TlbEntry* store_tlb

    # decoded-instruction cache, per physical RAM page
    DecodePage** dpages
    uint64_t num_pages
    uint64_t decode_gen
    uint64_t fetch_vpn      # page the current fetch_page belongs to; NO_VPN = none
    DecodePage* fetch_page
    uint8_t* fetch_host
    # instructions straddling a page are decoded into this page's last slot
    # (cross_slot()), never cached; its other slots stay empty, so a branch
    # the fast run follows from there lands on a slot that stops it
    DecodePage cross_page
    DecodedInsn cross_end   # the slot after a 4-byte one in cross_page's last: empty, it stops the run

    # a pending synchronous exception
    uint64_t exc_cause
    uint64_t exc_tval
    uint64_t exc_gpa        # guest-page faults: the faulting guest-physical address
    uint64_t exc_tinst      # what htinst/mtinst receive
    int exc_gva             # tval holds a guest virtual address
    # the last translation: its V, and the final GPA (V=1)
    int xlate_virt
    uint64_t xlate_gpa
    int xlate_gpa_fault     # the fault came from the final G-stage translation (not the VS walk)
    int xlate_gmmio         # the access hit a guest-MMIO range: paddr is the GPA
    uint64_t xlate_gmmio_cause  # the guest-page fault it would have been
    uint64_t xlate_fault_gpa    # a failed V=1 translation: the GPA the G-stage refused
    uint64_t xlate_fault_tinst  # and htinst for it (0, or the PTE pseudo-instruction)

    # run control
    uint64_t instret
    uint64_t budget_end
    uint64_t event_at       # run handle_events when instret reaches this
    uint64_t exit_on_exception
    uint64_t exit_on_interrupt

    # exit payload
    int exit_reason
    uint64_t exit_addr
    uint64_t exit_size
    int exit_is_write
    uint64_t exit_data
    uint64_t exit_pc
    uint64_t exit_cause
    uint64_t exit_tval
    uint64_t exit_insn
    int exit_virt
    int exit_priv
    uint64_t exit_gpa
    uint64_t exit_htinst

    # an MMIO load waiting for Python's answer
    int mmio_state          # MMIO_IDLE / MMIO_WAITING / MMIO_COMPLETED / MMIO_FAULTED
    uint8_t mmio_rd
    uint8_t mmio_size
    uint8_t mmio_signed
    uint8_t mmio_fp         # the load's destination is f[mmio_rd] (flw boxes, fld whole)
    uint8_t mmio_ilen
    uint64_t mmio_vaddr
    int mmio_virt           # the access was translated at V=1 (its fault's tval is a GVA)
    uint64_t mmio_value

    # watched physical ranges (HTIF tohost)
    int num_watches
    uint64_t watch_lo[MAX_WATCHES]
    uint64_t watch_hi[MAX_WATCHES]

    # guest-physical ranges whose G-stage misses exit as MMIO (V=1)
    int num_gmmio
    uint64_t gmmio_lo[MAX_GUEST_MMIO]
    uint64_t gmmio_hi[MAX_GUEST_MMIO]

    # Sdtrig triggers: tdata1/tdata2 of each; tdata3 reads 0 (no textra)
    int tselect
    uint64_t tdata1[NUM_TRIGGERS]
    uint64_t tdata2[NUM_TRIGGERS]
    # the debugger's breakpoints and watchpoints, and what is armed: the run
    # loop tests debug_exec once per run of instructions; debug_data makes
    # every load/store TLB entry slow so accesses reach the check
    int debug_exec
    int debug_data
    int num_dbg_bps
    uint64_t dbg_bp[MAX_DEBUG_BPS]
    int num_dbg_wps
    uint64_t dbg_wp_lo[MAX_DEBUG_WPS]
    uint64_t dbg_wp_hi[MAX_DEBUG_WPS]
    int dbg_wp_kind[MAX_DEBUG_WPS]      # 1 load, 2 store, 3 both
    int debug_hit           # a watchpoint matched: exit once the instruction retires

    # counters
    uint64_t traps[64]
    uint64_t interrupts[64]
    uint64_t tlb_hits
    uint64_t tlb_misses
    uint64_t page_walks
    uint64_t walk_mem_refs
    uint64_t exits[8]
    uint64_t decode_fills
    uint64_t decode_flushes
    uint64_t walks_2d
    uint64_t walk_2d_mem_refs
    uint64_t gstage_walks
    uint64_t tlb_flushes
    uint64_t walk_cache_hits

    # the translator (jit.pxi): hot straight-line runs as host code
    int jit_on              # translate hot runs and run their blocks
    uint32_t jit_threshold  # run entries before a run is translated (1..JIT_HOT)
    int jit_error           # why it cannot be on: 0 none, JIT_NO_HOST, JIT_NO_EXEC
    uint8_t* jit_buf        # the executable code buffer (NULL: not mapped yet)
    uint64_t jit_size
    uint64_t jit_used       # bytes of the buffer handed out (bump allocation)
    uint64_t jit_gen        # bumped when the buffer is emptied: older blocks are gone
    uint64_t jit_blocks     # blocks translated
    uint64_t jit_bytes      # code bytes emitted
    uint64_t jit_flushes    # times the full buffer was emptied
    uint64_t jit_runs       # block entries from the fast run (chained ones not counted)

    # dirty-page logging (NULL: off). While on, a store-capable RAM TLB entry
    # exists only for a page already marked, so the fast path never marks.
    DirtyLog* dirty


# The harts of one machine: same RAM buffer, one CLINT. harts[i] is the hart
# whose mhartid is i (NULL: none); each member holds a reference.
cdef struct HartGroup:
    int refs
    Hart* harts[MAX_HARTS]
