# The translator: hot straight-line runs of a decoded page as x86-64 host
# code. The interpreter's fast run is bounded by what an interpreter cannot
# avoid (an indirect jump per instruction, every result stored to x[] for the
# next one to load back); a block runs a whole run with neither.
#
# A block is a run's instructions from one slot: ALU (RV64I and M, W forms),
# lui/auipc, loads and stores that hit the TLB's fast path, and the run's
# closing branch, jal or jalr. It is entered where the fast run enters a
# straight-line run, after the run's count was taken from `left`, so
# counting stays the interpreter's: a block either retires the whole run, or
# stops at its k-th instruction with the first k retired and hands that slot
# back to the interpreter, already counted, exactly as an interpreter
# handler leaving the fast path does (an unsupported op, a load or store
# off the TLB's fast path, which the interpreter's handler then retries and
# takes to the general path). Its exit to a run on the same page whose block
# exists jumps straight there after the same count check the fast run makes
# (left >= blen, subtract); one to another page does too when jit_far_enter
# can enter that page as the fetch path would on a TLB hit; one onto a lone
# jump or branch runs it (counted as a run of one) and takes its exits; any
# other exit returns the pc to continue at.
#
# Blocks use no pc of their own: the page's guest address comes in the frame
# (a physical page may be mapped at several virtual ones), and so do the x[]
# base and the TLB sets of the moment. Coherence follows the decoded slots:
# clearing a slot (a store into code, the page's reuse) clears its entry,
# and a block covers its slot's run only, whose every slot is cleared when
# any of them is (forget_runs_into). A full buffer is emptied at once and
# the generation number makes every page's entries stale.

cdef extern from *:
    """
    #include <sys/mman.h>
    #if defined(__x86_64__)
    #define PYVMM_JIT_HOST 1
    #else
    #define PYVMM_JIT_HOST 0
    #endif
    static inline uint8_t *pyvmm_jit_map(uint64_t size) {
    #if PYVMM_JIT_HOST
        void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : (uint8_t *)p;
    #else
        (void)size;
        return NULL;
    #endif
    }
    static inline void pyvmm_jit_unmap(uint8_t *p, uint64_t size) {
        if (p != NULL)
            munmap(p, (size_t)size);
    }
    typedef uint64_t (*pyvmm_jit_tramp_t)(void *frame, void *code);
    static inline uint64_t pyvmm_jit_call(uint8_t *tramp, void *frame, uint8_t *code) {
        return ((pyvmm_jit_tramp_t)(void *)tramp)(frame, code);
    }
    """
    int JIT_HOST "PYVMM_JIT_HOST"
    uint8_t* pyvmm_jit_map(uint64_t size) nogil
    void pyvmm_jit_unmap(uint8_t* p, uint64_t size) nogil
    uint64_t pyvmm_jit_call(uint8_t* tramp, void* frame, uint8_t* code) nogil


cdef enum:
    JIT_HOT = 32                # run entries before a slot's run is translated, by default (and at most)
    JIT_MIN_BLOCK = 4           # instructions a block must cover unless it ends in a jump or ends its run
    JIT_BUF_SIZE = 16 << 20     # the code buffer, by default
    JIT_MIN_BUF_SIZE = 96 << 10 # room for the trampoline and the largest block
    JIT_NO_HOST = 1             # jit_error: the host is not x86-64
    JIT_NO_EXEC = 2             # jit_error: no executable memory (mmap PROT_EXEC refused)
    JIT_MAX_INSN_BYTES = 320    # an instruction's code with its exit stubs (and their stores back), at most
    JIT_MAX_BLOCK = 256         # instructions in a block; a longer run goes on in the interpreter
    JIT_HOST_REGS = 7           # host registers that hold guest ones within a block
    # the trampoline's layout at the buffer's start
    JIT_EPILOGUE = 64           # offset of the shared exit
    JIT_FAR = 128               # offset of the shared call of jit_far_enter
    JIT_CODE_START = 256        # blocks start here

    # x86-64 registers
    RAX = 0
    RCX = 1
    RDX = 2
    RBX = 3
    RBP = 5
    RSI = 6
    RDI = 7
    R8 = 8
    R9 = 9
    R10 = 10
    R11 = 11
    R12 = 12
    R13 = 13
    R14 = 14
    R15 = 15
    # condition codes
    CC_B = 2
    CC_AE = 3
    CC_E = 4
    CC_NE = 5
    CC_BE = 6
    CC_A = 7
    CC_L = 12
    CC_GE = 13
    CC_LE = 14
    CC_G = 15


# What a block gets (r12 points here while it runs). The offsets are the
# generated code's: keep them in step with FR_*.
cdef struct JitFrame:
    uint64_t* x             # 0
    TlbEntry* load_tlb      # 8
    TlbEntry* store_tlb     # 16
    uint64_t tlb_mask       # 24
    uint64_t page_pc        # 32
    uint64_t left           # 40
    uint64_t hits           # 48: fast-path loads and stores, added at each exit
    uint64_t npc            # 56: where to go on, set by jit_enter; a jump off the page's target
    Hart* hart              # 64: for jit_far_enter

cdef enum:
    FR_LOAD_TLB = 8
    FR_STORE_TLB = 16
    FR_PAGE_PC = 32
    FR_LEFT = 40
    FR_HITS = 48
    FR_NPC = 56
    FR_HART = 64


cdef struct JitAsm:
    uint8_t* p              # next byte
    uint8_t* buf            # the code buffer's start (for rel32 to the epilogue)
    # guest registers kept in host registers for the block: host[r] (-1: in
    # x[] only); dirty: those written since the block began, stored back to
    # x[] on every way out
    int8_t host[33]
    uint64_t dirty


cdef inline void e1(JitAsm* a, uint64_t b) noexcept nogil:
    a.p[0] = <uint8_t>b
    a.p += 1


cdef inline void e4(JitAsm* a, uint64_t v) noexcept nogil:
    cdef uint32_t w = <uint32_t>v
    memcpy(a.p, &w, 4)
    a.p += 4


cdef inline void e8(JitAsm* a, uint64_t v) noexcept nogil:
    memcpy(a.p, &v, 8)
    a.p += 8


cdef inline void rex(JitAsm* a, int w, int reg, int base) noexcept nogil:
    e1(a, 0x40 | (w << 3) | ((reg >> 3) << 2) | (base >> 3))


cdef inline void mem(JitAsm* a, int reg, int base, int32_t disp) noexcept nogil:
    # ModRM (and SIB for r12) for [base + disp32]
    e1(a, 0x80 | ((reg & 7) << 3) | (base & 7))
    if (base & 7) == 4:
        e1(a, 0x24)
    e4(a, <uint32_t>disp)


cdef inline void op_rm(JitAsm* a, int w, int opcode, int reg, int base, int32_t disp) noexcept nogil:
    # opcode reg, [base + disp] (or the store direction, by opcode)
    rex(a, w, reg, base)
    e1(a, opcode)
    mem(a, reg, base, disp)


cdef inline void op_rr(JitAsm* a, int w, int opcode, int dst, int src) noexcept nogil:
    # opcode with r/m = dst, reg = src (add 01, or 09, and 21, sub 29, xor 31, cmp 39, mov 89)
    rex(a, w, src, dst)
    e1(a, opcode)
    e1(a, 0xC0 | ((src & 7) << 3) | (dst & 7))


cdef inline void op_ri(JitAsm* a, int w, int ext, int dst, int32_t imm) noexcept nogil:
    # add 0, or 1, and 4, sub 5, xor 6, cmp 7: dst, imm32
    rex(a, w, 0, dst)
    e1(a, 0x81)
    e1(a, 0xC0 | (ext << 3) | (dst & 7))
    e4(a, <uint32_t>imm)


cdef inline void shift_ri(JitAsm* a, int w, int ext, int dst, int n) noexcept nogil:
    # shl 4, shr 5, sar 7
    rex(a, w, 0, dst)
    e1(a, 0xC1)
    e1(a, 0xC0 | (ext << 3) | (dst & 7))
    e1(a, n)


cdef inline void shift_cl(JitAsm* a, int w, int ext, int dst) noexcept nogil:
    rex(a, w, 0, dst)
    e1(a, 0xD3)
    e1(a, 0xC0 | (ext << 3) | (dst & 7))


cdef inline void movsxd(JitAsm* a, int dst, int src) noexcept nogil:
    rex(a, 1, dst, src)
    e1(a, 0x63)
    e1(a, 0xC0 | ((dst & 7) << 3) | (src & 7))


cdef inline void load_x(JitAsm* a, int reg, int r) noexcept nogil:
    # reg = x[r]
    if r == 0:
        op_rr(a, 0, 0x31, reg, reg)         # xor reg32, reg32: zero
    elif a.host[r] >= 0:
        op_rr(a, 1, 0x89, reg, a.host[r])
    else:
        op_rm(a, 1, 0x8B, reg, RBX, r * 8)


cdef inline void store_x(JitAsm* a, int r, int reg) noexcept nogil:
    # x[r] = reg (r is 32 for a write to x0: the sink)
    if a.host[r] >= 0:
        op_rr(a, 1, 0x89, a.host[r], reg)
        a.dirty |= 1ULL << r
    else:
        op_rm(a, 1, 0x89, reg, RBX, r * 8)


cdef inline void src_op(JitAsm* a, int w, int opcode, int reg, int r) noexcept nogil:
    # reg = reg <op> x[r], for the reg <- r/m opcodes (add 03, or 0B, and 23,
    # sub 2B, xor 33, cmp 3B); x[0] is zero in memory
    cdef int hr = a.host[r]
    if hr >= 0:
        rex(a, w, reg, hr)
        e1(a, opcode)
        e1(a, 0xC0 | ((reg & 7) << 3) | (hr & 7))
    else:
        op_rm(a, w, opcode, reg, RBX, r * 8)


cdef inline void imul_src(JitAsm* a, int w, int reg, int r) noexcept nogil:
    # reg = reg * x[r] (the low half)
    cdef int hr = a.host[r]
    rex(a, w, reg, hr if hr >= 0 else RBX)
    e1(a, 0x0F)
    e1(a, 0xAF)
    if hr >= 0:
        e1(a, 0xC0 | ((reg & 7) << 3) | (hr & 7))
    else:
        mem(a, reg, RBX, r * 8)


cdef inline void f7_src(JitAsm* a, int ext, int r) noexcept nogil:
    # the one-operand group: mul 4, imul 5 (rdx:rax = rax * x[r])
    cdef int hr = a.host[r]
    rex(a, 1, 0, hr if hr >= 0 else RBX)
    e1(a, 0xF7)
    if hr >= 0:
        e1(a, 0xC0 | (ext << 3) | (hr & 7))
    else:
        mem(a, ext, RBX, r * 8)


cdef inline int host_reg(int i) noexcept nogil:
    # the i-th host register for guest ones: caller-saved first, then rbp
    if i < 2:
        return RSI + i
    if i < 6:
        return R8 + (i - 2)
    return RBP


cdef void write_back(JitAsm* a, uint64_t dirty) noexcept nogil:
    # the guest registers written so far go back to x[] before a way out
    cdef int r
    for r in range(1, 32):
        if (dirty >> r) & 1:
            op_rm(a, 1, 0x89, a.host[r], RBX, r * 8)


cdef inline void lea_pc(JitAsm* a, int reg, int64_t off) noexcept nogil:
    # reg = page_pc + off
    op_rm(a, 1, 0x8D, reg, R14, <int32_t>off)


cdef inline void mov_imm64(JitAsm* a, int reg, uint64_t v) noexcept nogil:
    rex(a, 1, 0, reg)
    e1(a, 0xB8 | (reg & 7))
    e8(a, v)


cdef inline uint8_t* jcc32(JitAsm* a, int cc) noexcept nogil:
    # a conditional jump whose rel32 is patched later: returns where it is
    e1(a, 0x0F)
    e1(a, 0x80 | cc)
    e4(a, 0)
    return a.p - 4


cdef inline uint8_t* jmp32(JitAsm* a) noexcept nogil:
    e1(a, 0xE9)
    e4(a, 0)
    return a.p - 4


cdef inline void patch(uint8_t* at, uint8_t* target) noexcept nogil:
    cdef int32_t rel = <int32_t>(<int64_t>(<uintptr_t>target - <uintptr_t>(at + 4)))
    memcpy(at, &rel, 4)


cdef inline void add_hits(JitAsm* a, int n) noexcept nogil:
    if n:
        # add qword [r12 + FR_HITS], n
        rex(a, 1, 0, R12)
        e1(a, 0x81)
        mem(a, 0, R12, FR_HITS)
        e4(a, <uint32_t>n)


cdef inline void call32(JitAsm* a, uint8_t* target) noexcept nogil:
    e1(a, 0xE8)                                     # call rel32
    e4(a, 0)
    patch(a.p - 4, target)


cdef inline void exit_epilogue(JitAsm* a) noexcept nogil:
    patch(jmp32(a), a.buf + JIT_EPILOGUE)


cdef int branch_cc(JitAsm* a, DecodedInsn* d, bint loaded) noexcept nogil:
    # compare a branch's sources (rs1 in rax already when loaded): the
    # condition code under which it is taken
    cdef int op = d.op
    cdef int cc
    if not loaded:
        load_x(a, RAX, d.rs1)
    src_op(a, 1, 0x3B, RAX, d.rs2)                  # cmp rax, x[rs2]
    cc = (CC_E if op == OP_BEQ else CC_NE if op == OP_BNE else CC_L if op == OP_BLT
          else CC_GE if op == OP_BGE else CC_B if op == OP_BLTU else CC_AE)
    if (d.dispatch & 255) >= OP_BLT_NEAR_R and (d.dispatch & 255) <= OP_BGEU_NEAR_R:
        # decode swapped the sources in the slot: compare the other way
        cc = CC_G if cc == CC_L else CC_LE if cc == CC_GE else CC_A if cc == CC_B else CC_BE
    return cc


cdef void exit_far(JitAsm* a) noexcept nogil:
    # go on to the run at the pc in rax, on another page: its block if
    # jit_far_enter can enter its page and it has one whose count fits, else
    # back to the fast run with that pc. The guest registers are in x[].
    cdef uint8_t* to_ret
    call32(a, a.buf + JIT_FAR)
    op_rr(a, 1, 0x85, RAX, RAX)                     # test rax, rax
    to_ret = jcc32(a, CC_E)
    e1(a, 0xFF); e1(a, 0xE0)                        # jmp rax
    patch(to_ret, a.p)
    op_rm(a, 1, 0x8B, RAX, R12, FR_NPC)             # mov rax, [r12 + npc]: the pc again
    exit_epilogue(a)


cdef void exit_counted(JitAsm* a, uint64_t off, int hits, uint64_t dirty) noexcept nogil:
    # stop at the instruction at page offset off, not run, its run already counted
    write_back(a, dirty)
    add_hits(a, hits)
    lea_pc(a, RAX, <int64_t>off + 1)
    exit_epilogue(a)


cdef void exit_enter(JitAsm* a, Hart* h, DecodePage* dp, int64_t off, int hits,
                     uint64_t first, uint8_t* body) noexcept nogil:
    # go on to a new straight-line run at page offset off (maybe off the page);
    # the block being translated is slot first's, body its code after the
    # loads of its guest registers: a loop back to itself finds them in the
    # host registers already (and in x[], stored back just before)
    write_back(a, a.dirty)
    add_hits(a, hits)
    exit_to(a, h, dp, off, first, body, True)


cdef void exit_to(JitAsm* a, Hart* h, DecodePage* dp, int64_t off, uint64_t first, uint8_t* body,
                  bint fold) noexcept nogil:
    # exit_enter's jump, the guest registers stored back and the hits added
    cdef uint8_t* to_ret1
    cdef uint8_t* to_ret2
    cdef uint8_t* to_generic
    cdef uint32_t code
    cdef DecodedInsn* j
    cdef uint8_t* to_taken
    if fold and 0 <= off < 4096 and ((dp.slots[off >> 1].op == OP_JAL and dp.slots[off >> 1].rd == 32)
                                     or dp.slots[off >> 1].op == OP_JALR
                                     or (dp.slots[off >> 1].op >= OP_BEQ and dp.slots[off >> 1].op <= OP_BGEU)):
        # A lone jump or branch there (decoded by now), a run of its own the
        # translator leaves to the interpreter (translated code's exit
        # stubs, a loop's way back, a return, a branch to a branch): run it
        # here as the fast run would (its count of one from left) while its
        # slot still holds it, then go on to its target. Folded once: a jump
        # to a jump stops at the second.
        j = &dp.slots[off >> 1]
        mov_imm64(a, RAX, <uint64_t>&j.raw)
        e1(a, 0x81); e1(a, 0x38); e4(a, j.raw)             # cmp dword [rax], raw
        to_ret1 = jcc32(a, CC_NE)
        op_ri(a, 1, 7, R13, 1)                              # cmp r13, 1
        to_ret2 = jcc32(a, CC_B)
        op_ri(a, 1, 5, R13, 1)                              # sub r13, 1
        if j.op == OP_JAL:
            exit_to(a, h, dp, off + j.imm, first, body, False)
        elif j.op != OP_JALR:
            to_taken = jcc32(a, branch_cc(a, j, False))
            exit_to(a, h, dp, off + insn_len(j), first, body, False)
            patch(to_taken, a.p)
            exit_to(a, h, dp, off + j.imm, first, body, False)
        else:
            # the guest registers are in x[] (and the host ones): the
            # target from rs1 before the link may overwrite it, the link
            # to x[] only, as exit_jump's blocks load theirs from there
            load_x(a, RAX, j.rs1)
            if j.imm:
                op_ri(a, 1, 0, RAX, j.imm)
            op_ri(a, 1, 4, RAX, -2)                         # and rax, ~1
            if j.rd != 32:
                lea_pc(a, RCX, off + insn_len(j))
                op_rm(a, 1, 0x89, RCX, RBX, j.rd * 8)       # mov [rbx + rd*8], rcx
            exit_jump(a, h, dp)
        patch(to_ret1, a.p)
        patch(to_ret2, a.p)
        lea_pc(a, RAX, off)
        exit_epilogue(a)
        return
    if 0 <= off < 4096 and dp.slots[off >> 1].op != OP_NONE:
        # a block known now: straight there, with its count as a constant.
        # This block itself is valid while it runs (a store into code leaves
        # it), so its own loop needs no look at the entry; another's entry
        # must still hold that block.
        code = dp.jit.entry[off >> 1]
        if <uint64_t>(off >> 1) == first or code > JIT_HOT:
            to_generic = NULL
            if <uint64_t>(off >> 1) != first:
                mov_imm64(a, RAX, <uint64_t>&dp.jit.entry[off >> 1])
                e1(a, 0x81); e1(a, 0x38); e4(a, code)           # cmp dword [rax], code
                to_generic = jcc32(a, CC_NE)
            op_ri(a, 1, 7, R13, dp.slots[off >> 1].blen)        # cmp r13, blen
            to_ret1 = jcc32(a, CC_B)
            op_ri(a, 1, 5, R13, dp.slots[off >> 1].blen)        # sub r13, blen
            patch(jmp32(a), body if <uint64_t>(off >> 1) == first else h.jit_buf + code)
            patch(to_ret1, a.p)
            lea_pc(a, RAX, off)
            exit_epilogue(a)
            if to_generic == NULL:
                return
            patch(to_generic, a.p)
    if 0 <= off < 4096:
        # its block, if it has one and the run's count fits: the fast run's check
        mov_imm64(a, RAX, <uint64_t>&dp.jit.entry[off >> 1])
        e1(a, 0x8B); e1(a, 0x00)                        # mov eax, [rax]
        e1(a, 0x3D); e4(a, JIT_HOT)                     # cmp eax, JIT_HOT
        to_ret1 = jcc32(a, CC_BE)
        mov_imm64(a, RDX, <uint64_t>&dp.slots[off >> 1].blen)
        e1(a, 0x0F); e1(a, 0xB7); e1(a, 0x0A)           # movzx ecx, word [rdx]
        op_rr(a, 1, 0x39, R13, RCX)                     # cmp r13, rcx
        to_ret2 = jcc32(a, CC_B)
        op_rr(a, 1, 0x29, R13, RCX)                     # sub r13, rcx
        mov_imm64(a, RCX, <uint64_t>h.jit_buf)
        op_rr(a, 1, 0x01, RAX, RCX)                     # add rax, rcx
        e1(a, 0xFF); e1(a, 0xE0)                        # jmp rax
        patch(to_ret1, a.p)
        patch(to_ret2, a.p)
        lea_pc(a, RAX, off)
        exit_epilogue(a)
        return
    lea_pc(a, RAX, off)
    exit_far(a)


cdef void exit_jump(JitAsm* a, Hart* h, DecodePage* dp) noexcept nogil:
    # go on to a new straight-line run at the pc in rax (a jalr's target): a
    # block of this page if it has one and its count fits, as exit_enter's
    # look-up does, one of another page through exit_far, else back to the
    # fast run. The guest registers are all
    # in x[] by now, so every host register but rbx and r12..r15 is free.
    cdef uint8_t* to_ret1
    cdef uint8_t* to_ret2
    cdef uint8_t* to_ret3
    op_rr(a, 1, 0x89, RCX, RAX)                         # mov rcx, rax
    op_rr(a, 1, 0x29, RCX, R14)                         # sub rcx, r14
    op_ri(a, 1, 7, RCX, 4096)                           # cmp rcx, 4096
    to_ret1 = jcc32(a, CC_AE)
    shift_ri(a, 1, 5, RCX, 1)                           # shr rcx, 1: the slot
    mov_imm64(a, RDX, <uint64_t>&dp.jit.entry[0])
    e1(a, 0x8B); e1(a, 0x14); e1(a, 0x8A)               # mov edx, [rdx + rcx*4]
    e1(a, 0x81); e1(a, 0xFA); e4(a, JIT_HOT)            # cmp edx, JIT_HOT
    to_ret2 = jcc32(a, CC_BE)
    shift_ri(a, 1, 4, RCX, 4)                           # shl rcx, 4: the slot's bytes
    mov_imm64(a, RSI, <uint64_t>&dp.slots[0].blen)
    e1(a, 0x0F); e1(a, 0xB7); e1(a, 0x0C); e1(a, 0x0E)  # movzx ecx, word [rsi + rcx]
    op_rr(a, 1, 0x39, R13, RCX)                         # cmp r13, rcx
    to_ret3 = jcc32(a, CC_B)
    op_rr(a, 1, 0x29, R13, RCX)                         # sub r13, rcx
    mov_imm64(a, RSI, <uint64_t>h.jit_buf)
    op_rr(a, 1, 0x01, RDX, RSI)                         # add rdx, rsi
    e1(a, 0xFF); e1(a, 0xE2)                            # jmp rdx
    patch(to_ret1, a.p)
    exit_far(a)
    patch(to_ret2, a.p)
    patch(to_ret3, a.p)
    exit_epilogue(a)


cdef uint64_t jit_far_enter(Hart* h, JitFrame* fr, uint64_t pc) noexcept nogil:
    # A block goes on to the run at pc, on another page: enter that page as
    # enter_fetch_page does on a fetch TLB hit (the same counters, the same
    # fetch state) and take the run's count from fr.left, as the fast run
    # would after coming back to run_hart for it. Returns the run's block, or
    # 0 (nothing changed) when only the way through run_hart is exact: a TLB
    # miss, a page with mixed PMP rules (checked per instruction), a decoded
    # page or entries gone stale, no block for the run, or a count that does
    # not fit (an event, the budget or a debug trigger is due first).
    cdef uint64_t vpn = pc >> 12
    cdef TlbEntry* e = &h.fetch_tlb[vpn & h.tlb_mask]
    cdef DecodePage* dp
    cdef JitPage* jp
    cdef uint64_t slot = (pc & 0xFFF) >> 1
    cdef uint32_t v
    if e.tag != vpn or e.pmp_partial:
        return 0
    dp = h.dpages[(e.ppage - h.ram_base) >> 12]
    if dp == NULL or dp.gen != h.decode_gen:
        return 0
    jp = dp.jit
    if jp == NULL or jp.gen != h.jit_gen:
        return 0
    v = jp.entry[slot]
    if v <= JIT_HOT or fr.left < dp.slots[slot].blen:
        return 0
    fr.left -= dp.slots[slot].blen
    h.xlate_virt = h.virt
    h.tlb_hits += 1
    h.fetch_page = dp
    h.fetch_vpn = vpn
    h.fetch_host = h.ram + (e.ppage - h.ram_base)
    fr.page_pc = pc & ~0xFFFULL
    return <uint64_t>(h.jit_buf + v)


cdef void emit_trampoline(uint8_t* buf) noexcept nogil:
    # enter(frame, code): save the callee-saved registers the blocks use,
    # load rbx = x, r12 = frame, r13 = left, r14 = page_pc, r15 = tlb_mask,
    # jump to the block. The epilogue writes left back and returns rax.
    cdef JitAsm asm
    cdef JitAsm* a = &asm
    a.p = buf
    a.buf = buf
    e1(a, 0x53)                                     # push rbx
    e1(a, 0x55)                                     # push rbp
    e1(a, 0x41); e1(a, 0x54)                        # push r12
    e1(a, 0x41); e1(a, 0x55)                        # push r13
    e1(a, 0x41); e1(a, 0x56)                        # push r14
    e1(a, 0x41); e1(a, 0x57)                        # push r15
    e1(a, 0x49); e1(a, 0x89); e1(a, 0xFC)           # mov r12, rdi
    op_rm(a, 1, 0x8B, RBX, R12, 0)
    op_rm(a, 1, 0x8B, R13, R12, FR_LEFT)
    op_rm(a, 1, 0x8B, R14, R12, FR_PAGE_PC)
    op_rm(a, 1, 0x8B, R15, R12, 24)
    e1(a, 0xFF); e1(a, 0xE6)                        # jmp rsi
    a.p = buf + JIT_EPILOGUE
    op_rm(a, 1, 0x89, R13, R12, FR_LEFT)            # mov [r12 + left], r13
    e1(a, 0x41); e1(a, 0x5F)                        # pop r15
    e1(a, 0x41); e1(a, 0x5E)                        # pop r14
    e1(a, 0x41); e1(a, 0x5D)                        # pop r13
    e1(a, 0x41); e1(a, 0x5C)                        # pop r12
    e1(a, 0x5D)                                     # pop rbp
    e1(a, 0x5B)                                     # pop rbx
    e1(a, 0xC3)                                     # ret
    # far(rax = pc), called by a block (so the stack is 16-byte aligned
    # here): rax = jit_far_enter(hart, frame, pc), with left and page_pc
    # through the frame (r13, r14 again after it)
    a.p = buf + JIT_FAR
    op_rm(a, 1, 0x89, RAX, R12, FR_NPC)             # mov [r12 + npc], rax
    op_rm(a, 1, 0x89, R13, R12, FR_LEFT)            # mov [r12 + left], r13
    op_rm(a, 1, 0x8B, RDI, R12, FR_HART)            # mov rdi, [r12 + hart]
    op_rr(a, 1, 0x89, RSI, R12)                     # mov rsi, r12
    op_rr(a, 1, 0x89, RDX, RAX)                     # mov rdx, rax
    mov_imm64(a, RAX, <uint64_t>&jit_far_enter)
    e1(a, 0xFF); e1(a, 0xD0)                        # call rax
    op_rm(a, 1, 0x8B, R13, R12, FR_LEFT)            # mov r13, [r12 + left]
    op_rm(a, 1, 0x8B, R14, R12, FR_PAGE_PC)         # mov r14, [r12 + page_pc]
    e1(a, 0xC3)                                     # ret


cdef bint jit_start(Hart* h) noexcept nogil:
    # map the code buffer on first use; False (and jit_error) when impossible
    if h.jit_buf != NULL:
        return True
    if not JIT_HOST:
        h.jit_error = JIT_NO_HOST
        h.jit_on = 0
        return False
    if h.jit_size == 0:
        h.jit_size = JIT_BUF_SIZE
    h.jit_buf = pyvmm_jit_map(h.jit_size)
    if h.jit_buf == NULL:
        h.jit_error = JIT_NO_EXEC
        h.jit_on = 0
        return False
    emit_trampoline(h.jit_buf)
    h.jit_used = JIT_CODE_START
    h.jit_gen += 1
    return True


cdef void jit_release(Hart* h) noexcept nogil:
    cdef uint64_t i
    if h.dpages != NULL:
        for i in range(h.num_pages):
            if h.dpages[i] != NULL and h.dpages[i].jit != NULL:
                free(h.dpages[i].jit)
                h.dpages[i].jit = NULL
    pyvmm_jit_unmap(h.jit_buf, h.jit_size)
    h.jit_buf = NULL


cdef inline void jit_page_reset(Hart* h, JitPage* jp) noexcept nogil:
    memset(jp.entry, 0, sizeof(jp.entry))
    jp.gen = h.jit_gen


cdef JitPage* jit_page(Hart* h, DecodePage* dp) noexcept nogil:
    # the fast run is entering dp: its entries, current (NULL: the JIT is off)
    cdef JitPage* jp
    if not h.jit_on:
        return NULL
    jp = dp.jit
    if jp == NULL:
        jp = <JitPage*>calloc(1, sizeof(JitPage))
        if jp == NULL:
            abort()
        dp.jit = jp
        jp.gen = h.jit_gen
    elif jp.gen != h.jit_gen:
        jit_page_reset(h, jp)
    return jp


cdef inline void jit_forget(DecodePage* dp, uint64_t lo, uint64_t hi) noexcept nogil:
    # slots [lo, hi) were cleared: so are their blocks
    if dp.jit != NULL and hi > lo:
        memset(&dp.jit.entry[lo], 0, (hi - lo) * sizeof(uint32_t))


cdef bint jit_zb(int op) noexcept nogil:
    # the Zba/Zbb/Zbs ops blocks hold (not clz/ctz/cpop, orc.b, clmul: the
    # interpreter runs those)
    return (op >= OP_ADD_UW and op <= OP_XNOR) or (op >= OP_MAX and op <= OP_RORW) or op == OP_REV8 \
        or (op >= OP_BCLR and op <= OP_BSETI)


cdef bint jit_supported(int op) noexcept nogil:
    return (op >= OP_LUI and op <= OP_SD and op != OP_ILLEGAL) or (op >= OP_ADDI and op <= OP_REMUW) \
        or op == OP_FENCE or jit_zb(op)


cdef void emit_zb(JitAsm* a, DecodedInsn* d) noexcept nogil:
    # a Zba/Zbb/Zbs op: rax holds x[rs1]; the result in rax
    cdef int op = d.op
    cdef int n = d.imm & 63
    if op == OP_ADD_UW or op == OP_SH1ADD_UW or op == OP_SH2ADD_UW or op == OP_SH3ADD_UW or op == OP_SLLI_UW:
        op_rr(a, 0, 0x89, RAX, RAX)                     # mov eax, eax: zero-extend
    if op == OP_SH1ADD or op == OP_SH1ADD_UW:
        shift_ri(a, 1, 4, RAX, 1)
    elif op == OP_SH2ADD or op == OP_SH2ADD_UW:
        shift_ri(a, 1, 4, RAX, 2)
    elif op == OP_SH3ADD or op == OP_SH3ADD_UW:
        shift_ri(a, 1, 4, RAX, 3)
    elif op == OP_SLLI_UW:
        shift_ri(a, 1, 4, RAX, n)
    if op >= OP_ADD_UW and op <= OP_SH3ADD_UW:
        src_op(a, 1, 0x03, RAX, d.rs2)
    elif op == OP_ANDN or op == OP_ORN:
        load_x(a, RCX, d.rs2)
        e1(a, 0x48); e1(a, 0xF7); e1(a, 0xD1)           # not rcx
        op_rr(a, 1, 0x21 if op == OP_ANDN else 0x09, RAX, RCX)
    elif op == OP_XNOR:
        src_op(a, 1, 0x33, RAX, d.rs2)
        e1(a, 0x48); e1(a, 0xF7); e1(a, 0xD0)           # not rax
    elif op >= OP_MAX and op <= OP_MINU:
        load_x(a, RCX, d.rs2)
        op_rr(a, 1, 0x39, RAX, RCX)                     # cmp rax, rcx
        # cmovl (max), cmovb (maxu), cmovg (min), cmova (minu): rax = rcx
        e1(a, 0x48); e1(a, 0x0F)
        e1(a, 0x4C if op == OP_MAX else 0x42 if op == OP_MAXU else 0x4F if op == OP_MIN else 0x47)
        e1(a, 0xC1)
    elif op == OP_SEXT_B:
        e1(a, 0x48); e1(a, 0x0F); e1(a, 0xBE); e1(a, 0xC0)     # movsx rax, al
    elif op == OP_SEXT_H:
        e1(a, 0x48); e1(a, 0x0F); e1(a, 0xBF); e1(a, 0xC0)     # movsx rax, ax
    elif op == OP_ZEXT_H:
        e1(a, 0x0F); e1(a, 0xB7); e1(a, 0xC0)                  # movzx eax, ax
    elif op == OP_ROL or op == OP_ROR or op == OP_ROLW or op == OP_RORW:
        load_x(a, RCX, d.rs2)
        shift_cl(a, 1 if (op == OP_ROL or op == OP_ROR) else 0, 0 if (op == OP_ROL or op == OP_ROLW) else 1, RAX)
        if op == OP_ROLW or op == OP_RORW:
            movsxd(a, RAX, RAX)
    elif op == OP_RORI:
        shift_ri(a, 1, 1, RAX, n)
    elif op == OP_RORIW:
        shift_ri(a, 0, 1, RAX, n & 31)
        movsxd(a, RAX, RAX)
    elif op == OP_REV8:
        e1(a, 0x48); e1(a, 0x0F); e1(a, 0xC8)           # bswap rax
    elif op == OP_BEXT or op == OP_BEXTI:
        if op == OP_BEXT:
            load_x(a, RCX, d.rs2)
            shift_cl(a, 1, 5, RAX)                      # shr rax, cl (mod 64)
        else:
            shift_ri(a, 1, 5, RAX, n)
        op_ri(a, 0, 4, RAX, 1)                          # and eax, 1
    elif op == OP_BCLR or op == OP_BSET or op == OP_BINV:
        load_x(a, RCX, d.rs2)
        # btr / bts / btc rax, rcx: the bit rcx mod 64
        e1(a, 0x48); e1(a, 0x0F); e1(a, 0xB3 if op == OP_BCLR else 0xAB if op == OP_BSET else 0xBB); e1(a, 0xC8)
    elif op == OP_BCLRI or op == OP_BSETI or op == OP_BINVI:
        # btr / bts / btc rax, imm8
        e1(a, 0x48); e1(a, 0x0F); e1(a, 0xBA)
        e1(a, 0xC0 | ((6 if op == OP_BCLRI else 5 if op == OP_BSETI else 7) << 3))
        e1(a, n)


cdef int emit_divrem(JitAsm* a, int op, int rd, int rs1, int rs2) noexcept nogil:
    # RISC-V division: x/0 gives all ones (rem: the dividend), the signed
    # overflow MIN/-1 gives MIN (rem: 0); the host's idiv traps on both
    cdef int w = 0 if (op >= OP_MULW) else 1
    cdef bint signed_ = op == OP_DIV or op == OP_REM or op == OP_DIVW or op == OP_REMW
    cdef bint rem = op == OP_REM or op == OP_REMU or op == OP_REMW or op == OP_REMUW
    cdef uint8_t* to_zero
    cdef uint8_t* to_neg1
    cdef uint8_t* to_done1
    cdef uint8_t* to_done2
    to_neg1 = NULL
    load_x(a, RCX, rs2)
    load_x(a, RAX, rs1)
    op_rr(a, w, 0x85, RCX, RCX)                 # test rcx, rcx
    to_zero = jcc32(a, CC_E)
    if signed_:
        op_ri(a, w, 7, RCX, -1)                 # cmp rcx, -1
        to_neg1 = jcc32(a, CC_E)
        if w:
            e1(a, 0x48); e1(a, 0x99)            # cqo
        else:
            e1(a, 0x99)                         # cdq
        rex(a, w, 0, RCX); e1(a, 0xF7); e1(a, 0xF9)     # idiv rcx
    else:
        op_rr(a, 0, 0x31, RDX, RDX)             # xor edx, edx
        rex(a, w, 0, RCX); e1(a, 0xF7); e1(a, 0xF1)     # div rcx
    if rem:
        op_rr(a, 1, 0x89, RAX, RDX)             # mov rax, rdx
    to_done1 = jmp32(a)
    # divisor zero: quotient all ones, remainder the dividend (rax already)
    patch(to_zero, a.p)
    if not rem:
        rex(a, 1, 0, RAX); e1(a, 0xC7); e1(a, 0xC0); e4(a, 0xFFFFFFFF)  # mov rax, -1
    to_done2 = jmp32(a)
    if signed_:
        # divisor -1: the negated dividend (MIN stays MIN), remainder 0
        patch(to_neg1, a.p)
        if rem:
            op_rr(a, 0, 0x31, RAX, RAX)
        else:
            rex(a, w, 0, RAX); e1(a, 0xF7); e1(a, 0xD8)     # neg rax
    patch(to_done1, a.p)
    patch(to_done2, a.p)
    if not w:
        movsxd(a, RAX, RAX)
    store_x(a, rd, RAX)
    return 0


cdef uint32_t jit_translate(Hart* h, DecodePage* dp, uint64_t first) noexcept nogil:
    # host code for the run at slot `first`: its offset in the buffer, or
    # JIT_HOT when its first instruction is not one the translator covers or
    # the block would stop after fewer than JIT_MIN_BLOCK instructions
    cdef DecodedInsn* d = &dp.slots[first]
    cdef uint64_t n = d.blen
    cdef uint64_t i, k, off
    cdef uint64_t need = (n if n < JIT_MAX_BLOCK else JIT_MAX_BLOCK) * JIT_MAX_INSN_BYTES + 2048
    cdef JitAsm asm
    cdef JitAsm* a = &asm
    cdef uint8_t* start
    cdef uint8_t* body
    cdef uint8_t* to_slow
    cdef uint8_t* to_slow2
    cdef uint8_t* to_taken
    cdef uint8_t* stubs[2 * JIT_MAX_BLOCK]
    cdef uint64_t stub_off[2 * JIT_MAX_BLOCK]
    cdef int stub_hits[2 * JIT_MAX_BLOCK]
    cdef int nstubs = 0
    cdef int hits = 0
    cdef uint64_t stub_dirty[2 * JIT_MAX_BLOCK]
    cdef int op, size, cached, cc, w, j, r, best, nregs
    cdef int uses[33]
    cdef bint terminated = False
    cdef uint64_t covered
    if d.op == OP_NONE or not jit_supported(d.op) or n == 0:
        return JIT_HOT
    # The guest registers the block uses most live in host registers from
    # its start (loaded here) to each way out (stored back if written).
    memset(uses, 0, sizeof(uses))
    k = first
    covered = 0
    for i in range(n if n < JIT_MAX_BLOCK else JIT_MAX_BLOCK):
        d = &dp.slots[k]
        op = d.op
        if not jit_supported(op) and not (op == OP_JAL or op == OP_JALR or (op >= OP_BEQ and op <= OP_BGEU)):
            break
        covered += 1
        uses[d.rs1] += 1
        uses[d.rs2] += 1
        uses[d.rd] += 1
        if op == OP_JAL or op == OP_JALR or (op >= OP_BEQ and op <= OP_BGEU):
            if covered == 1:
                return JIT_HOT          # a lone jump: the interpreter's jump is cheaper than an entry
            covered = JIT_MIN_BLOCK     # a block that ends in a jump chains: worth its entry
            break
        k += insn_len(d) >> 1
    if covered < JIT_MIN_BLOCK and covered < n:
        # a few instructions before one the translator leaves to the
        # interpreter (a trap handler's addi before mret): entering host code
        # and coming back costs more than interpreting them
        return JIT_HOT
    if h.jit_used + need > h.jit_size:
        # full: empty it, like QEMU's tb_flush; every page's entries go stale
        h.jit_gen += 1
        h.jit_flushes += 1
        h.jit_used = JIT_CODE_START
        jit_page_reset(h, dp.jit)
    start = h.jit_buf + h.jit_used
    a.p = start
    a.buf = h.jit_buf
    memset(a.host, -1, sizeof(a.host))
    a.dirty = 0
    uses[0] = 0
    uses[32] = 0
    nregs = 0
    while nregs < JIT_HOST_REGS:
        best = 0
        for r in range(1, 32):
            if uses[r] > uses[best]:
                best = r
        if uses[best] < 2:
            break
        a.host[best] = host_reg(nregs)
        uses[best] = 0
        nregs += 1
        op_rm(a, 1, 0x8B, a.host[best], RBX, best * 8)
    body = a.p
    cached = -1             # the guest register rax holds, or -1
    k = first
    for i in range(n):
        d = &dp.slots[k]
        op = d.op
        off = k << 1
        if i == JIT_MAX_BLOCK or (not jit_supported(op) and not (op == OP_JAL or op == OP_JALR or (op >= OP_BEQ and op <= OP_BGEU))):
            exit_counted(a, off, hits, a.dirty)
            terminated = True
            break
        if op == OP_JAL:
            if d.rd != 32:
                lea_pc(a, RAX, <int64_t>(off + insn_len(d)))
                store_x(a, d.rd, RAX)
            exit_enter(a, h, dp, <int64_t>off + d.imm, hits, first, body)
            terminated = True
            break
        if op == OP_JALR:
            load_x(a, RAX, d.rs1)
            if d.imm:
                op_ri(a, 1, 0, RAX, d.imm)
            op_ri(a, 1, 4, RAX, -2)                     # and rax, ~1
            if d.rd != 32:
                lea_pc(a, RCX, <int64_t>(off + insn_len(d)))
                store_x(a, d.rd, RCX)
            write_back(a, a.dirty)
            add_hits(a, hits)
            exit_jump(a, h, dp)
            terminated = True
            break
        if op >= OP_BEQ and op <= OP_BGEU:
            to_taken = jcc32(a, branch_cc(a, d, cached == d.rs1 and d.rs1 != 0))
            exit_enter(a, h, dp, <int64_t>(off + insn_len(d)), hits, first, body)
            patch(to_taken, a.p)
            exit_enter(a, h, dp, <int64_t>off + d.imm, hits, first, body)
            terminated = True
            break
        if op >= OP_LB and op <= OP_SD:
            size = (1 if op == OP_LB or op == OP_LBU or op == OP_SB else
                    2 if op == OP_LH or op == OP_LHU or op == OP_SH else
                    4 if op == OP_LW or op == OP_LWU or op == OP_SW else 8)
            if cached != d.rs1 or d.rs1 == 0:
                load_x(a, RAX, d.rs1)
            if d.imm:
                op_ri(a, 1, 0, RAX, d.imm)
            op_rr(a, 1, 0x89, RCX, RAX)                 # mov rcx, rax
            shift_ri(a, 1, 5, RCX, 12)                  # shr rcx, 12
            op_rr(a, 1, 0x89, RDX, RCX)                 # mov rdx, rcx
            op_rr(a, 1, 0x21, RDX, R15)                 # and rdx, r15
            shift_ri(a, 1, 4, RDX, 5)                   # shl rdx, 5 (sizeof(TlbEntry))
            op_rm(a, 1, 0x03, RDX, R12, FR_STORE_TLB if op >= OP_SB else FR_LOAD_TLB)
            e1(a, 0x48); e1(a, 0x3B); e1(a, 0x0A)       # cmp rcx, [rdx]: the tag
            to_slow = jcc32(a, CC_NE)
            to_slow2 = NULL
            if size > 1:
                e1(a, 0xA8); e1(a, size - 1)            # test al, size - 1
                to_slow2 = jcc32(a, CC_NE)
            e1(a, 0x48); e1(a, 0x03); e1(a, 0x42); e1(a, 0x08)  # add rax, [rdx + 8]: the addend
            stubs[nstubs] = to_slow
            stub_off[nstubs] = off
            stub_hits[nstubs] = hits
            stub_dirty[nstubs] = a.dirty
            nstubs += 1
            if to_slow2 != NULL:
                stubs[nstubs] = to_slow2
                stub_off[nstubs] = off
                stub_hits[nstubs] = hits
                stub_dirty[nstubs] = a.dirty
                nstubs += 1
            hits += 1
            if op >= OP_SB:
                load_x(a, RCX, d.rs2)
                if op == OP_SD:
                    e1(a, 0x48); e1(a, 0x89); e1(a, 0x08)   # mov [rax], rcx
                elif op == OP_SW:
                    e1(a, 0x89); e1(a, 0x08)
                elif op == OP_SH:
                    e1(a, 0x66); e1(a, 0x89); e1(a, 0x08)
                else:
                    e1(a, 0x88); e1(a, 0x08)                # mov [rax], cl
                cached = -1
            else:
                if op == OP_LD:
                    e1(a, 0x48); e1(a, 0x8B); e1(a, 0x00)
                elif op == OP_LW:
                    e1(a, 0x48); e1(a, 0x63); e1(a, 0x00)
                elif op == OP_LWU:
                    e1(a, 0x8B); e1(a, 0x00)
                elif op == OP_LH:
                    e1(a, 0x48); e1(a, 0x0F); e1(a, 0xBF); e1(a, 0x00)
                elif op == OP_LHU:
                    e1(a, 0x0F); e1(a, 0xB7); e1(a, 0x00)
                elif op == OP_LB:
                    e1(a, 0x48); e1(a, 0x0F); e1(a, 0xBE); e1(a, 0x00)
                else:
                    e1(a, 0x0F); e1(a, 0xB6); e1(a, 0x00)
                store_x(a, d.rd, RAX)
                cached = d.rd
            k += insn_len(d) >> 1
            continue
        if op == OP_FENCE:
            k += insn_len(d) >> 1
            continue
        # ALU: the result in rax, then to x[rd]
        if op == OP_LUI:
            rex(a, 1, 0, RAX); e1(a, 0xC7); e1(a, 0xC0); e4(a, <uint32_t>d.imm)
        elif op == OP_AUIPC:
            lea_pc(a, RAX, <int64_t>off + d.imm)
        elif jit_zb(op):
            if cached != d.rs1 or d.rs1 == 0:
                load_x(a, RAX, d.rs1)
            emit_zb(a, d)       # sign-extends its W results itself
        elif op >= OP_MUL and op <= OP_REMUW and op != OP_MUL and op != OP_MULW \
                and op != OP_MULH and op != OP_MULHU and op != OP_MULHSU:
            emit_divrem(a, op, d.rd, d.rs1, d.rs2)
            cached = d.rd
            k += insn_len(d) >> 1
            continue
        else:
            if cached != d.rs1 or d.rs1 == 0:
                load_x(a, RAX, d.rs1)
            w = 0 if op >= OP_ADDIW and op <= OP_SRAW else 1
            if op == OP_MULW:
                w = 0
            if op == OP_ADDI or op == OP_ADDIW:
                op_ri(a, w, 0, RAX, d.imm)
            elif op == OP_XORI:
                op_ri(a, 1, 6, RAX, d.imm)
            elif op == OP_ORI:
                op_ri(a, 1, 1, RAX, d.imm)
            elif op == OP_ANDI:
                op_ri(a, 1, 4, RAX, d.imm)
            elif op == OP_SLTI or op == OP_SLTIU:
                op_ri(a, 1, 7, RAX, d.imm)
                e1(a, 0x0F); e1(a, 0x9C if op == OP_SLTI else 0x92); e1(a, 0xC0)   # setl/setb al
                e1(a, 0x0F); e1(a, 0xB6); e1(a, 0xC0)                               # movzx eax, al
            elif op == OP_SLLI or op == OP_SLLIW:
                shift_ri(a, w, 4, RAX, d.imm)
            elif op == OP_SRLI or op == OP_SRLIW:
                shift_ri(a, w, 5, RAX, d.imm)
            elif op == OP_SRAI or op == OP_SRAIW:
                shift_ri(a, w, 7, RAX, d.imm)
            elif op == OP_ADD or op == OP_ADDW:
                src_op(a, w, 0x03, RAX, d.rs2)
            elif op == OP_SUB or op == OP_SUBW:
                src_op(a, w, 0x2B, RAX, d.rs2)
            elif op == OP_XOR:
                src_op(a, 1, 0x33, RAX, d.rs2)
            elif op == OP_OR:
                src_op(a, 1, 0x0B, RAX, d.rs2)
            elif op == OP_AND:
                src_op(a, 1, 0x23, RAX, d.rs2)
            elif op == OP_SLT or op == OP_SLTU:
                src_op(a, 1, 0x3B, RAX, d.rs2)
                e1(a, 0x0F); e1(a, 0x9C if op == OP_SLT else 0x92); e1(a, 0xC0)
                e1(a, 0x0F); e1(a, 0xB6); e1(a, 0xC0)
            elif op == OP_SLL or op == OP_SLLW or op == OP_SRL or op == OP_SRLW or op == OP_SRA or op == OP_SRAW:
                load_x(a, RCX, d.rs2)
                shift_cl(a, w, 4 if (op == OP_SLL or op == OP_SLLW) else 5 if (op == OP_SRL or op == OP_SRLW) else 7, RAX)
            elif op == OP_MUL or op == OP_MULW:
                imul_src(a, w, RAX, d.rs2)
            elif op == OP_MULH or op == OP_MULHU:
                # one-operand imul/mul: rdx:rax = rax * x[rs2]
                f7_src(a, 5 if op == OP_MULH else 4, d.rs2)
                op_rr(a, 1, 0x89, RAX, RDX)
            elif op == OP_MULHSU:
                # signed by unsigned: the unsigned high part, less rs2 when rs1 is negative
                op_rr(a, 1, 0x89, RCX, RAX)                 # mov rcx, rax
                f7_src(a, 4, d.rs2)                         # mul x[rs2]
                shift_ri(a, 1, 7, RCX, 63)                  # sar rcx, 63
                src_op(a, 1, 0x23, RCX, d.rs2)              # and rcx, x[rs2]
                op_rr(a, 1, 0x29, RDX, RCX)                 # sub rdx, rcx
                op_rr(a, 1, 0x89, RAX, RDX)
            if not w:
                movsxd(a, RAX, RAX)
        store_x(a, d.rd, RAX)
        cached = d.rd
        k += insn_len(d) >> 1
    if not terminated:
        # the run ends at the page's end (its next slot is the empty one past it)
        exit_counted(a, k << 1, hits, a.dirty)
    for j in range(nstubs):
        patch(stubs[j], a.p)
        exit_counted(a, stub_off[j], stub_hits[j], stub_dirty[j])
    if <uint64_t>(a.p - start) > need:
        # the room checked above is the emitter's bound per instruction; a
        # block past it would have written beyond the buffer's free space
        abort()
    h.jit_used += <uint64_t>(a.p - start)
    h.jit_used = (h.jit_used + 15) & ~15ULL
    h.jit_blocks += 1
    h.jit_bytes += <uint64_t>(a.p - start)
    return <uint32_t>(start - h.jit_buf)


cdef uint64_t jit_enter(Hart* h, DecodedInsn* d, JitFrame* fr) noexcept nogil:
    # The fast run enters the straight-line run at slot d, counted. Returns
    # 0 to have the interpreter run it; 1 when the block stopped at the
    # instruction at fr.npc with its run counted; 2 to enter the run at fr.npc.
    cdef DecodePage* dp = h.fetch_page
    cdef JitPage* jp = dp.jit
    cdef uint64_t idx = <uint64_t>(d - dp.slots)
    cdef uint32_t v = jp.entry[idx]
    cdef uint64_t r
    if v < JIT_HOT:
        if d.op == OP_NONE:
            return 0
        v += 1
        if v < h.jit_threshold:
            jp.entry[idx] = v
            return 0
        if not jit_start(h):
            # no executable memory after all: the interpreter runs from now on
            jp.entry[idx] = JIT_HOT
            return 0
        if jp.gen != h.jit_gen:
            # the buffer was just mapped: start the page's counts afresh
            jit_page_reset(h, jp)
        v = jit_translate(h, dp, idx)
        jp.entry[idx] = v
    if v == JIT_HOT:
        return 0
    h.jit_runs += 1
    r = pyvmm_jit_call(h.jit_buf, fr, h.jit_buf + v)
    fr.npc = r & ~1ULL
    return 1 if (r & 1) else 2


JIT_ERRORS = {
    JIT_NO_HOST: "the host is not x86-64",
    JIT_NO_EXEC: "the host refused executable memory (mmap PROT_EXEC)",
}


def jit_default():
    """Whether new cores translate: the PYVMM_JIT environment variable
    (0 off, 1 on), on when unset."""
    import os
    value = os.environ.get("PYVMM_JIT", "1")
    if value not in ("0", "1"):
        raise ValueError(f"PYVMM_JIT must be 0 or 1, not {value!r}")
    return value == "1"


def jit_threshold_default():
    """Run entries before a run is translated for new cores: the
    PYVMM_JIT_THRESHOLD environment variable (1..32, default 32); 1
    translates every run on first entry, which tests use to cover more."""
    import os
    value = os.environ.get("PYVMM_JIT_THRESHOLD", str(JIT_HOT))
    if not value.isdigit() or not 1 <= int(value) <= JIT_HOT:
        raise ValueError(f"PYVMM_JIT_THRESHOLD must be 1..{JIT_HOT}, not {value!r}")
    return int(value)
