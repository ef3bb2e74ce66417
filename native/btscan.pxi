# The bt translator's run over the guest instructions of a block it needs no
# decision for (pyvmm/hv/bt/translator.py, translate_block).
#
# Most of a kernel's instructions reach the translation cache as they are
# (after RVC expansion), and most of the rest are conditional branches, each
# rewritten the same way inside a superblock, and jumps, calls and auipc,
# rewritten from their bits and the translator's own sequences. What is
# copied is the translator's answer: it tells this side, for each
# instruction it meets (the bits that say which instruction a word is),
# whether that instruction is copied and which of its fields are x
# registers, so this side never decodes by itself and cannot disagree with
# pyvmm.isa. `scan` emits a run of instructions straight from a code page,
# holding what it decided in a table keyed by the raw parcel(s), and hands
# every other one (an instruction it was not told of, a CSR access, a word
# naming the runtime's base register) back to the translator.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_FORMAT, PyBUF_C_CONTIGUOUS
from cpython.list cimport PyList_Append, PyList_GET_SIZE
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.sequence cimport PySequence_Contains

cdef enum:
    # The longest run one scan emits: a page of 2-byte instructions (the
    # translator asks again after a full run).
    SCAN_RUN = 2048
    SCAN_PAGE_MASK = 0xFFF
    # What a held word is, and what a run's instruction emits.
    SCAN_COPIED = 1
    SCAN_BRANCH = 2
    SCAN_JUMP = 4                 # run only: jal, or jalr right after the auipc of its base
    SCAN_AUIPC = 5                # run only
    SCAN_INDIRECT = 6             # run only: jalr through the inline cache (the run's last)
    # The longest indirect jump: head (4), a link value (2), the tail with its
    # pad and literal.
    INDIRECT_MAX = 48
    # The shape table: how many shapes it holds before it empties.
    SHAPE_SLOTS = 1 << 14
    SHAPE_LIMIT = 1 << 13
    SHAPE_COPYABLE = 1            # copied unless a register field names the base register
    SHAPE_REWRITTEN = 2


cdef struct ScanEntry:
    uint32_t raw                  # the parcel(s) as fetched; 0: an empty slot
    uint32_t word                 # copied: the word; branch: the word that hops over its stub
    int32_t offset                # branch: its target, from its pc
    uint32_t kind                 # SCAN_COPIED or SCAN_BRANCH


cdef struct ShapeEntry:
    uint32_t shape                # a word's bits under its shape mask; 0: an empty slot
    uint16_t answer               # SHAPE_COPYABLE or SHAPE_REWRITTEN
    uint16_t fields               # copyable: its x-register fields (bit i: SHAPE_FIELD_SHIFTS[i])


# The low bits of the register fields a shape's fields bitmask names: rd, rs1, rs2, rs3.
cdef uint32_t SHAPE_FIELD_SHIFTS[4]
SHAPE_FIELD_SHIFTS[:] = [7, 15, 20, 27]


cdef inline bint parcel_format(const char *fmt) noexcept:
    # a buffer format of native-order or little-endian unsigned shorts
    if fmt == NULL:
        return False
    if fmt[0] == b'<' or fmt[0] == b'=' or fmt[0] == b'@':
        fmt += 1
    return fmt[0] == b'H' and fmt[1] == 0


# RVC expansion (RV64C with D: the 32-bit word a compressed parcel stands
# for, HINTs included; 0 for a reserved parcel), as pyvmm.isa.codec's
# expand_compressed gives it: a test holds the two equal on all 65,536
# parcels. The scan decides a compressed instruction it meets for the first
# time by its expansion, as it does a 32-bit word.

cdef inline uint32_t rvc_bits(uint32_t p, int hi, int lo, int at) noexcept nogil:
    # parcel bits hi..lo, placed at bit `at` of an immediate
    return ((p >> lo) & ((1u << (hi - lo + 1)) - 1)) << at

cdef inline uint32_t rv_i(uint32_t opcode, uint32_t funct3, uint32_t rd, uint32_t rs1,
                          int32_t imm) noexcept nogil:
    return opcode | rd << 7 | funct3 << 12 | rs1 << 15 | (<uint32_t>imm & 0xFFF) << 20

cdef inline uint32_t rv_s(uint32_t opcode, uint32_t funct3, uint32_t rs1, uint32_t rs2,
                          uint32_t imm) noexcept nogil:
    return opcode | (imm & 0x1F) << 7 | funct3 << 12 | rs1 << 15 | rs2 << 20 | (imm >> 5) << 25

cdef inline uint32_t rv_r(uint32_t opcode, uint32_t funct3, uint32_t funct7, uint32_t rd,
                          uint32_t rs1, uint32_t rs2) noexcept nogil:
    return opcode | rd << 7 | funct3 << 12 | rs1 << 15 | rs2 << 20 | funct7 << 25

cdef inline int constant32_words(uint32_t rd, int64_t value, uint32_t *out) noexcept:
    # pyvmm.hv.bt.emit's constant for a signed 32-bit value: lui and addiw,
    # or the one of them it needs (addi from x0 when the upper 20 bits are 0)
    cdef int64_t upper = (value + 0x800) >> 12
    cdef int64_t lo = value - (upper << 12)
    if not upper & 0xFFFFF:
        out[0] = rv_i(0x13, 0, rd, 0, <int32_t>lo)                   # addi rd, x0, lo
        return 1
    out[0] = 0x37 | rd << 7 | (<uint32_t>upper & 0xFFFFF) << 12        # lui rd, upper
    if lo:
        out[1] = rv_i(0x1B, 0, rd, rd, <int32_t>lo)                  # addiw rd, rd, lo
        return 2
    return 1


cdef inline int constant_words(uint32_t rd, uint64_t value, uint32_t *out) noexcept:
    # the words leaving `value` in rd, for a value in the signed 32-bit
    # range (every link value and auipc result of a kernel in the top 2 GiB
    # or a program in the bottom); -1 for the rest, which the translator emits
    if value < 0x80000000ULL or value >= 0xFFFFFFFF80000000ULL:
        return constant32_words(rd, <int64_t>value, out)
    return -1


cdef inline int32_t rvc_sext(uint32_t value, int bits) noexcept nogil:
    return <int32_t>(value << (32 - bits)) >> (32 - bits)

cdef uint32_t rvc_expand(uint32_t p) noexcept nogil:
    cdef uint32_t quadrant = p & 3, funct3 = (p >> 13) & 7
    cdef uint32_t rd = (p >> 7) & 31, rs2 = (p >> 2) & 31
    cdef uint32_t rdp = 8 + ((p >> 2) & 7), rs1p = 8 + ((p >> 7) & 7)
    cdef uint32_t uimm, shamt, imm
    cdef int32_t simm
    if p > 0xFFFF or quadrant == 3:
        return 0
    if quadrant == 0:
        if funct3 == 0:                                      # c.addi4spn
            uimm = (rvc_bits(p, 12, 11, 4) | rvc_bits(p, 10, 7, 6) | rvc_bits(p, 6, 6, 2)
                    | rvc_bits(p, 5, 5, 3))
            return 0 if uimm == 0 else rv_i(0x13, 0, rdp, 2, uimm)
        if funct3 == 4:
            return 0
        if funct3 == 2 or funct3 == 6:                       # c.lw, c.sw
            uimm = rvc_bits(p, 12, 10, 3) | rvc_bits(p, 6, 6, 2) | rvc_bits(p, 5, 5, 6)
        else:                                                # c.fld, c.ld, c.fsd, c.sd
            uimm = rvc_bits(p, 12, 10, 3) | rvc_bits(p, 6, 5, 6)
        if funct3 == 1:
            return rv_i(0x07, 3, rdp, rs1p, uimm)            # fld
        if funct3 == 2:
            return rv_i(0x03, 2, rdp, rs1p, uimm)            # lw
        if funct3 == 3:
            return rv_i(0x03, 3, rdp, rs1p, uimm)            # ld
        if funct3 == 5:
            return rv_s(0x27, 3, rs1p, rdp, uimm)            # fsd
        if funct3 == 6:
            return rv_s(0x23, 2, rs1p, rdp, uimm)            # sw
        return rv_s(0x23, 3, rs1p, rdp, uimm)                # sd
    if quadrant == 1:
        simm = rvc_sext(rvc_bits(p, 12, 12, 5) | rvc_bits(p, 6, 2, 0), 6)
        if funct3 == 0:
            return rv_i(0x13, 0, rd, rd, simm)               # c.addi (c.nop)
        if funct3 == 1:
            return 0 if rd == 0 else rv_i(0x1B, 0, rd, rd, simm)    # c.addiw
        if funct3 == 2:
            return rv_i(0x13, 0, rd, 0, simm)                # c.li
        if funct3 == 3:
            if rd == 2:                                      # c.addi16sp
                simm = rvc_sext(rvc_bits(p, 12, 12, 9) | rvc_bits(p, 6, 6, 4) | rvc_bits(p, 5, 5, 6)
                                | rvc_bits(p, 4, 3, 7) | rvc_bits(p, 2, 2, 5), 10)
                return 0 if simm == 0 else rv_i(0x13, 0, 2, 2, simm)
            if simm == 0:
                return 0
            return 0x37 | rd << 7 | (<uint32_t>simm & 0xFFFFF) << 12      # c.lui
        if funct3 == 4:
            shamt = rvc_bits(p, 12, 12, 5) | rvc_bits(p, 6, 2, 0)
            if (p >> 10) & 3 == 0:
                return rv_i(0x13, 5, rs1p, rs1p, shamt)      # c.srli
            if (p >> 10) & 3 == 1:
                return rv_i(0x13, 5, rs1p, rs1p, shamt | 0x400)   # c.srai
            if (p >> 10) & 3 == 2:
                return rv_i(0x13, 7, rs1p, rs1p, simm)       # c.andi
            if not (p >> 12) & 1:
                if (p >> 5) & 3 == 0:
                    return rv_r(0x33, 0, 0x20, rs1p, rs1p, rdp)    # c.sub
                if (p >> 5) & 3 == 1:
                    return rv_r(0x33, 4, 0, rs1p, rs1p, rdp)       # c.xor
                if (p >> 5) & 3 == 2:
                    return rv_r(0x33, 6, 0, rs1p, rs1p, rdp)       # c.or
                return rv_r(0x33, 7, 0, rs1p, rs1p, rdp)           # c.and
            if (p >> 5) & 3 == 0:
                return rv_r(0x3B, 0, 0x20, rs1p, rs1p, rdp)        # c.subw
            if (p >> 5) & 3 == 1:
                return rv_r(0x3B, 0, 0, rs1p, rs1p, rdp)           # c.addw
            return 0
        if funct3 == 5:                                      # c.j: jal x0
            imm = (rvc_bits(p, 12, 12, 11) | rvc_bits(p, 11, 11, 4) | rvc_bits(p, 10, 9, 8)
                   | rvc_bits(p, 8, 8, 10) | rvc_bits(p, 7, 7, 6) | rvc_bits(p, 6, 6, 7)
                   | rvc_bits(p, 5, 3, 1) | rvc_bits(p, 2, 2, 5))
            simm = rvc_sext(imm, 12)
            imm = <uint32_t>simm
            return (0x6F | ((imm >> 20) & 1) << 31 | ((imm >> 1) & 0x3FF) << 21
                    | ((imm >> 11) & 1) << 20 | ((imm >> 12) & 0xFF) << 12)
        # c.beqz, c.bnez
        imm = (rvc_bits(p, 12, 12, 8) | rvc_bits(p, 11, 10, 3) | rvc_bits(p, 6, 5, 6)
               | rvc_bits(p, 4, 3, 1) | rvc_bits(p, 2, 2, 5))
        imm = <uint32_t>rvc_sext(imm, 9)
        return (0x63 | (funct3 & 1) << 12 | rs1p << 15 | ((imm >> 12) & 1) << 31
                | ((imm >> 5) & 0x3F) << 25 | ((imm >> 1) & 0xF) << 8 | ((imm >> 11) & 1) << 7)
    # quadrant 2
    if funct3 == 0:
        shamt = rvc_bits(p, 12, 12, 5) | rvc_bits(p, 6, 2, 0)
        return rv_i(0x13, 1, rd, rd, shamt)                  # c.slli
    if funct3 == 1:                                          # c.fldsp
        uimm = rvc_bits(p, 12, 12, 5) | rvc_bits(p, 6, 5, 3) | rvc_bits(p, 4, 2, 6)
        return rv_i(0x07, 3, rd, 2, uimm)
    if funct3 == 2:                                          # c.lwsp
        uimm = rvc_bits(p, 12, 12, 5) | rvc_bits(p, 6, 4, 2) | rvc_bits(p, 3, 2, 6)
        return 0 if rd == 0 else rv_i(0x03, 2, rd, 2, uimm)
    if funct3 == 3:                                          # c.ldsp
        uimm = rvc_bits(p, 12, 12, 5) | rvc_bits(p, 6, 5, 3) | rvc_bits(p, 4, 2, 6)
        return 0 if rd == 0 else rv_i(0x03, 3, rd, 2, uimm)
    if funct3 == 4:
        if not (p >> 12) & 1:
            if rs2 == 0:
                return 0 if rd == 0 else rv_i(0x67, 0, 0, rd, 0)      # c.jr
            return rv_r(0x33, 0, 0, rd, 0, rs2)              # c.mv
        if rs2 == 0:
            if rd == 0:
                return 0x00100073                            # c.ebreak
            return rv_i(0x67, 0, 1, rd, 0)                   # c.jalr
        return rv_r(0x33, 0, 0, rd, rd, rs2)                 # c.add
    if funct3 == 5:                                          # c.fsdsp
        uimm = rvc_bits(p, 12, 10, 3) | rvc_bits(p, 9, 7, 6)
        return rv_s(0x27, 3, 2, rs2, uimm)
    if funct3 == 6:                                          # c.swsp
        uimm = rvc_bits(p, 12, 9, 2) | rvc_bits(p, 8, 7, 6)
        return rv_s(0x23, 2, 2, rs2, uimm)
    uimm = rvc_bits(p, 12, 10, 3) | rvc_bits(p, 9, 7, 6)     # c.sdsp
    return rv_s(0x23, 3, 2, rs2, uimm)


def expand_rvc(uint32_t parcel):
    """The 32-bit instruction word a compressed parcel stands for (RV64C
    with D, HINTs included), or None for a reserved parcel or one that is
    not compressed."""
    cdef uint32_t word = rvc_expand(parcel)
    return None if word == 0 else word


cdef class CopyScan:
    """The guest instructions the bt translator emits without a decision,
    keyed by their raw parcel(s) (a 16-bit compressed parcel, or a 32-bit
    word whose low two bits are 11): the ones it copies unchanged, with the
    word the translation cache gets (a compressed one expanded), the
    conditional branches it rewrites inside a superblock, with the inverted
    branch that hops over an exit stub and the offset of the taken target;
    and the scan of a run of instructions from a code page.

    `stub` is an exit stub's words (the callout first) and `exit_kind` its
    callout records' kind: a branch emits its hop, then the stub, whose
    callout record is (exit_kind, target, 0, 4, target, 0, 0).

    With `rewrites` set (set_rewrites: the shape masks, the runtime's base
    register, the hop's bits), the scan also decides the instructions it
    does not hold (a compressed one by its expansion): a conditional
    branch, jal and auipc from their bits, a jalr right after the auipc
    that set its base (a direct jump), any other word by its shape's answer
    (add_shape) when it has one, and holds what it copies or branches on.
    A shape's masks leave out register fields: a copyable shape names its
    x-register fields, and a word naming the base register in one of them
    is the translator's. A jump ends the run and the block (`ended`);
    `auipc` is (rd, value, pc after it) of the last auipc with a
    destination, or None, carried from one scan of a block to the next by
    the translator.

    At most `limit` words are held: the table empties when an add finds it
    full (a kernel has some 100 K distinct words; the translator adds them
    back as it meets them). Open addressing over twice that many slots;
    raw 0 marks an empty one (a reserved parcel, never held)."""

    cdef ScanEntry *slots
    cdef uint64_t mask
    cdef Py_ssize_t count
    cdef readonly Py_ssize_t limit
    cdef readonly tuple stub
    cdef readonly object exit_kind
    cdef readonly Py_ssize_t emitted      # guest instructions the last scan emitted
    cdef readonly bint ended              # the last scan ended its block with a jump
    cdef readonly object auipc            # (rd, value, next pc) after the last scan, or None
    cdef readonly bint rewrites           # set_rewrites was called
    cdef uint32_t base_reg
    cdef uint32_t hop_bits
    cdef uint32_t shape_masks[1024]
    cdef ShapeEntry *shapes
    cdef Py_ssize_t shape_count
    cdef uint32_t run_kinds[SCAN_RUN]
    cdef uint32_t run_words[SCAN_RUN]
    cdef uint64_t run_pcs[SCAN_RUN]
    cdef uint64_t run_targets[SCAN_RUN]
    cdef uint32_t run_consts[SCAN_RUN][2]  # a jump's link value or auipc's value as words
    cdef uint8_t run_nconst[SCAN_RUN]
    cdef uint8_t run_rd[SCAN_RUN]          # auipc's destination
    # Indirect jumps (set_indirect): the borrowed registers' state-page
    # slots, each (t, u) pair's tails (unpadded, padded) with their hit
    # site's and miss callout's word index, and the run's last jump's words.
    cdef readonly bint indirect
    cdef readonly object indirect_kind
    cdef int32_t spill_t, spill_u
    cdef uint32_t tails[16][2][INDIRECT_MAX]
    cdef int tail_len[16][2]
    cdef int tail_site[16][2]
    cdef int tail_callout[16][2]
    cdef uint32_t jump_words[INDIRECT_MAX]
    cdef int jump_len
    cdef uint64_t jump_site, jump_callout, jump_literal
    cdef uint32_t jump_word, jump_length

    def __cinit__(self, Py_ssize_t limit=1 << 18, tuple stub=(), exit_kind="exit"):
        cdef uint64_t size = 16
        if limit < 1 or limit > (1 << 26):
            raise ValueError(f"CopyScan of {limit} words: 1 to {1 << 26}")
        while size < <uint64_t>(2 * limit):
            size <<= 1
        self.slots = <ScanEntry *>calloc(size, sizeof(ScanEntry))
        self.shapes = <ShapeEntry *>calloc(SHAPE_SLOTS, sizeof(ShapeEntry))
        if self.slots == NULL or self.shapes == NULL:
            raise MemoryError()
        self.mask = size - 1
        self.limit = limit
        self.stub = stub
        self.exit_kind = exit_kind

    def __dealloc__(self):
        free(self.slots)
        free(self.shapes)

    def __len__(self):
        return self.count

    cdef inline ScanEntry *_slot(self, uint32_t raw) noexcept:
        # raw's slot, or the empty one where it would go
        cdef uint64_t i = ((<uint64_t>raw * 0x9E3779B97F4A7C15ULL) >> 32) & self.mask
        while self.slots[i].raw != 0 and self.slots[i].raw != raw:
            i = (i + 1) & self.mask
        return &self.slots[i]

    def clear(self):
        """Forget every word and every shape's answer."""
        memset(self.slots, 0, (self.mask + 1) * sizeof(ScanEntry))
        self.count = 0
        memset(self.shapes, 0, SHAPE_SLOTS * sizeof(ShapeEntry))
        self.shape_count = 0

    def set_rewrites(self, masks, uint32_t base_reg, uint32_t hop_bits):
        """Let the scan decide instructions it does not hold: `masks` are
        the 1,024 shape masks (index: opcode | funct3 << 7: the bits that
        decide which instruction a word is, register fields left out),
        `base_reg` the register translated code keeps for the runtime (a
        word naming it is the translator's), `hop_bits` a branch's hop over
        its stub less the fields it keeps from the guest's branch (rs1,
        rs2, funct3, opcode)."""
        cdef Py_ssize_t i
        if len(masks) != 1024:
            raise ValueError(f"1024 shape masks, not {len(masks)}")
        if not self.stub:
            raise ValueError("CopyScan: rewrites need the exit stub's words")
        if base_reg == 0 or base_reg > 31:
            raise ValueError(f"the base register is x1 to x31, not x{base_reg}")
        for i in range(1024):
            self.shape_masks[i] = masks[i]
        self.base_reg = base_reg
        self.hop_bits = hop_bits
        self.rewrites = True

    def set_indirect(self, kind, int32_t spill_t, int32_t spill_u, tails):
        """Let the scan emit an indirect jump (a jalr not right after the
        auipc of its base, gp in neither register): the two borrowed
        registers t and u (the first two of x5, x6, x7, x28 that are
        neither rd nor rs1) spilled to the state page at spill_t and
        spill_u, the target (bit 0 cleared) into t, the link value, then the
        tail from `tails`: {(t, u, padded): (words, index of the hit site,
        index of the miss callout)}, padded when the tail would otherwise
        leave its literal (its last two words) misaligned. The callout's
        record is (kind, pc, word, length, 0, site, literal)."""
        cdef int pair, padded, i
        if not self.rewrites:
            raise ValueError("CopyScan: indirect jumps need set_rewrites first")
        if not (-2048 <= spill_t < 2048 and -2048 <= spill_u < 2048):
            raise ValueError(f"spill slots are 12-bit offsets from the base register, "
                             f"not {spill_t}, {spill_u}")
        checked = []
        for (t, u, padded), (words, site, callout) in tails.items():
            if t not in (5, 6, 7, 28) or u not in (5, 6, 7, 28) or t == u or padded not in (0, 1):
                raise ValueError(f"a tail is for two of x5, x6, x7, x28, padded or not, "
                                 f"not {(t, u, padded)}")
            if not 0 < len(words) <= INDIRECT_MAX - 6 or not 0 <= site < len(words) \
                    or not 0 <= callout < len(words) \
                    or not all(0 <= word <= 0xFFFF_FFFF for word in words):
                raise ValueError("an indirect jump's tail is its words, hit site and callout")
            checked.append((self._pair(t, u), int(padded), words, site, callout))
        memset(self.tail_len, 0, sizeof(self.tail_len))
        for pair, padded, words, site, callout in checked:
            for i in range(len(words)):
                self.tails[pair][padded][i] = words[i]
            self.tail_len[pair][padded] = len(words)
            self.tail_site[pair][padded] = site
            self.tail_callout[pair][padded] = callout
        self.spill_t = spill_t
        self.spill_u = spill_u
        self.indirect_kind = kind
        self.indirect = True

    cdef inline int _pair(self, int t, int u) noexcept:
        # (t, u) of x5, x6, x7, x28 -> 0..15
        return (3 if t == 28 else t - 5) * 4 + (3 if u == 28 else u - 5)

    cdef inline uint32_t _shape(self, uint32_t word) noexcept:
        return word & self.shape_masks[(word & 0x7F) | ((word >> 5) & 0x380)]

    cdef inline ShapeEntry *_shape_slot(self, uint32_t shape) noexcept:
        cdef uint64_t i = ((<uint64_t>shape * 0x9E3779B97F4A7C15ULL) >> 40) & (SHAPE_SLOTS - 1)
        while self.shapes[i].shape != 0 and self.shapes[i].shape != shape:
            i = (i + 1) & (SHAPE_SLOTS - 1)
        return &self.shapes[i]

    def add_shape(self, uint32_t word, fields):
        """Hold the answer for every 32-bit word of `word`'s shape: None,
        rewritten (the translator's); else a tuple of the low bits of its
        x-register fields (7, 15, 20, 27: rd, rs1, rs2, rs3), copied unless
        one of them names the base register."""
        cdef ShapeEntry *slot
        cdef uint32_t shape
        cdef uint16_t bits = 0
        cdef int i
        if not self.rewrites:
            raise ValueError("CopyScan: shapes need set_rewrites first")
        if word & 3 != 3:
            raise ValueError(f"{word:#x} is not a 32-bit instruction word")
        if fields is not None:
            for lo in fields:
                for i in range(4):
                    if lo == SHAPE_FIELD_SHIFTS[i]:
                        bits |= 1 << i
                        break
                else:
                    raise ValueError(f"a register field starts at bit 7, 15, 20 or 27, not {lo}")
        if self.shape_count >= SHAPE_LIMIT:
            memset(self.shapes, 0, SHAPE_SLOTS * sizeof(ShapeEntry))
            self.shape_count = 0
        shape = self._shape(word)
        slot = self._shape_slot(shape)
        if slot.shape == 0:
            self.shape_count += 1
        slot.shape = shape
        slot.answer = SHAPE_REWRITTEN if fields is None else SHAPE_COPYABLE
        slot.fields = bits

    def shape_answer(self, uint32_t word):
        """What add_shape was told for a 32-bit word's shape: None (nothing),
        False (rewritten) or the tuple of its register fields' low bits."""
        cdef ShapeEntry *slot
        if not self.rewrites or word & 3 != 3:
            return None
        slot = self._shape_slot(self._shape(word))
        if slot.shape == 0:
            return None
        if slot.answer == SHAPE_REWRITTEN:
            return False
        return tuple(SHAPE_FIELD_SHIFTS[i] for i in range(4) if slot.fields >> i & 1)

    cdef _hold(self, uint32_t raw, uint32_t word, int32_t offset, uint32_t kind):
        cdef ScanEntry *slot
        if raw & 3 != 3 and raw > 0xFFFF or raw == 0:
            raise ValueError(f"{raw:#x} is not an instruction's parcel(s)")
        if self.count >= self.limit:
            memset(self.slots, 0, (self.mask + 1) * sizeof(ScanEntry))
            self.count = 0
        slot = self._slot(raw)
        if slot.raw == 0:
            self.count += 1
        slot.raw = raw
        slot.word = word
        slot.offset = offset
        slot.kind = kind

    def add(self, uint32_t raw, uint32_t word):
        """Hold `raw` (the parcel(s) as fetched) as copied, the translation
        cache getting `word`."""
        self._hold(raw, word, 0, SCAN_COPIED)

    def add_branch(self, uint32_t raw, uint32_t hop, int32_t offset):
        """Hold `raw` as a branch rewritten to `hop` (over an exit stub to
        the taken target, pc + offset), the block going on after the stub
        at the fall-through."""
        if not self.stub:
            raise ValueError("CopyScan: branches need the exit stub's words")
        if offset & 1 or not -(1 << 12) <= offset < (1 << 12):
            raise ValueError(f"a branch's offset is even and 13-bit signed, not {offset}")
        self._hold(raw, hop, offset, SCAN_BRANCH)

    def get(self, uint32_t raw):
        """What is held for `raw`: (the copied word, None), (a branch's hop,
        its offset), or None."""
        cdef ScanEntry *slot = self._slot(raw)
        if raw == 0 or slot.raw == 0:
            return None
        return (slot.word, slot.offset if slot.kind == SCAN_BRANCH else None)

    cdef bint _indirect_jump(self, uint32_t rd, uint32_t rs1, int64_t imm, uint64_t pc,
                             uint32_t length, uint32_t word, uint64_t tc) noexcept:
        # The words of an indirect jump at TC address tc into jump_words (the
        # translator's _indirect_jump): False when it is the translator's (a
        # 64-bit link value, a tail not given).
        cdef uint32_t t = 0, u = 0, reg
        cdef int n = 0, nconst, pair, padded, length_tail, i
        cdef uint64_t auipc_at
        for reg in (5, 6, 7, 28):
            if reg != rd and reg != rs1:
                if t == 0:
                    t = reg
                elif u == 0:
                    u = reg
        self.jump_words[0] = rv_s(0x23, 3, self.base_reg, t, <uint32_t>self.spill_t)
        self.jump_words[1] = rv_s(0x23, 3, self.base_reg, u, <uint32_t>self.spill_u)
        self.jump_words[2] = rv_i(0x13, 0, t, rs1, <int32_t>imm)
        self.jump_words[3] = rv_i(0x13, 7, t, t, -2)
        n = 4
        if rd:
            nconst = constant_words(rd, pc + length, &self.jump_words[n])
            if nconst < 0:
                return False
            n += nconst
        auipc_at = tc + 4 * <uint64_t>n
        pair = self._pair(t, u)
        length_tail = self.tail_len[pair][0]
        if length_tail == 0:
            return False
        # a pad word keeps the literal (the tail's last two words) 8-byte aligned
        padded = 1 if (auipc_at + 4 * <uint64_t>(length_tail - 2)) & 7 else 0
        length_tail = self.tail_len[pair][padded]
        if length_tail == 0 or n + length_tail > INDIRECT_MAX:
            return False
        for i in range(length_tail):
            self.jump_words[n + i] = self.tails[pair][padded][i]
        self.jump_len = n + length_tail
        self.jump_site = auipc_at + 4 * <uint64_t>self.tail_site[pair][padded]
        self.jump_callout = auipc_at + 4 * <uint64_t>self.tail_callout[pair][padded]
        self.jump_literal = auipc_at + 4 * <uint64_t>(length_tail - 2)
        self.jump_word = word
        self.jump_length = length
        return True

    def scan(self, parcels, Py_ssize_t first, uint64_t pc, Py_ssize_t limit, ptstores,
             uint64_t tc_addr, list words, list starts, list pcs, list callouts, auipc=None):
        """Emit the guest instructions from `pc` on while this side can:
        `parcels` is a code page's host memory as 16-bit parcels (a
        contiguous buffer of format H), its parcel `first` the page's first
        (pc's page). Each instruction appends its TC words to `words` (the
        TC address of words[i] is tc_addr + 4 * i), where it starts to
        `starts` and its guest pc to `pcs`; an exit stub (a branch's, a
        jump's) appends its start and target there too, and (its TC
        address, its callout record) to `callouts`. `auipc` is the block's
        last auipc so far ((rd, value, pc after it) or None), and the scan
        leaves it in its attribute `auipc`. Stops before the first
        instruction it does not hold or cannot decide (set_rewrites), whose
        pc is in `ptstores`, that lies outside `parcels`, or that straddles
        the page's end; after a jump (`ended`), after the page's last
        instruction, or after `limit` instructions. Returns the pc it
        stopped at; how many instructions it emitted is `emitted`."""
        cdef Py_buffer view
        cdef Py_ssize_t n = 0, i, total, at, k
        cdef const uint16_t *page
        cdef uint32_t raw, word, kind, op, rd, rs1, funct3, length, imm
        cdef int nconst
        cdef int64_t offset_signed
        cdef uint64_t here = pc, offset, tc, target, tc1
        cdef uint64_t a_rd = 0, a_value = 0, a_next = 0, p_rd, p_value, p_next
        cdef bint a_valid = False, p_valid
        cdef ScanEntry *slot
        cdef ShapeEntry *shape
        cdef object pc_obj, target_obj, stub_at, stub_word
        cdef bint check_ptstores, changed = False
        self.emitted = 0
        self.ended = False
        self.auipc = auipc
        if limit <= 0:
            return pc
        if auipc is not None:
            a_rd, a_value, a_next = auipc
            a_valid = True
        p_valid, p_rd, p_value, p_next = a_valid, a_rd, a_value, a_next
        tc1 = tc_addr + 4 * <uint64_t>PyList_GET_SIZE(words)
        PyObject_GetBuffer(parcels, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS)
        try:
            if view.itemsize != 2 or not parcel_format(view.format):
                raise TypeError("CopyScan.scan reads a buffer of 16-bit parcels (format H)")
            page = <const uint16_t *>view.buf
            total = view.len >> 1
            if limit > SCAN_RUN:
                limit = SCAN_RUN
            while n < limit:
                offset = here & SCAN_PAGE_MASK
                at = first + <Py_ssize_t>(offset >> 1)
                if at < 0 or at >= total:
                    break
                raw = page[at]
                length = 2
                if raw & 3 == 3:
                    if offset == SCAN_PAGE_MASK - 1 or at + 1 >= total:
                        break
                    raw |= <uint32_t>page[at + 1] << 16
                    length = 4
                slot = self._slot(raw)
                self.run_nconst[n] = 0
                target = 0
                if slot.raw != 0:
                    kind = slot.kind
                    word = slot.word
                    target = here + <uint64_t><int64_t>slot.offset
                elif not self.rewrites:
                    break
                else:
                    # Decided here as the translator's loop decides it.
                    word = raw if length == 4 else rvc_expand(raw)
                    if word == 0:
                        break                       # reserved: the translator's illegal callout
                    op = word & 0x7F
                    rd = (word >> 7) & 31
                    rs1 = (word >> 15) & 31
                    funct3 = (word >> 12) & 7
                    if op == 0x63:                  # beq .. bgeu: the superblock's branch
                        if funct3 == 2 or funct3 == 3 or rs1 == self.base_reg \
                                or (word >> 20) & 31 == self.base_reg:
                            break
                        imm = ((word >> 31) << 12 | ((word >> 7) & 1) << 11
                               | ((word >> 25) & 0x3F) << 5 | ((word >> 8) & 0xF) << 1)
                        offset_signed = <int64_t>imm - (1 << 13) if word >> 31 else <int64_t>imm
                        kind = SCAN_BRANCH
                        word = ((word & (0x7F | 7 << 12 | 31 << 15 | 31 << 20)) ^ (1 << 12)) \
                            | self.hop_bits
                        target = here + <uint64_t>offset_signed
                        self._hold(raw, word, <int32_t>offset_signed, SCAN_BRANCH)
                    elif op == 0x6F:                # jal: its link value, then a stub
                        if rd == self.base_reg:
                            break
                        imm = ((word >> 31) << 20 | ((word >> 12) & 0xFF) << 12
                               | ((word >> 20) & 1) << 11 | ((word >> 21) & 0x3FF) << 1)
                        offset_signed = <int64_t>imm - (1 << 21) if word >> 31 else <int64_t>imm
                        if rd:
                            nconst = constant_words(rd, here + length, self.run_consts[n])
                            if nconst < 0:
                                break
                            self.run_nconst[n] = nconst
                        kind = SCAN_JUMP
                        target = here + <uint64_t>offset_signed
                    elif op == 0x17:                # auipc: its value
                        if rd == self.base_reg:
                            break
                        target = here + <uint64_t><int64_t><int32_t>(word & ~(<uint32_t>0xFFF))
                        if rd:
                            nconst = constant_words(rd, target, self.run_consts[n])
                            if nconst < 0:
                                break
                            self.run_nconst[n] = nconst
                            p_valid, p_rd, p_value, p_next = True, rd, target, here + length
                        kind = SCAN_AUIPC
                        self.run_rd[n] = rd
                    elif op == 0x67 and funct3 == 0:
                        offset_signed = <int64_t>(word >> 20) - (1 << 12) if word >> 31 \
                            else <int64_t>(word >> 20)
                        if p_valid and p_next == here and rs1 == p_rd and rd != self.base_reg:
                            # jalr right after the auipc of its base: a direct jump
                            if rd:
                                nconst = constant_words(rd, here + length, self.run_consts[n])
                                if nconst < 0:
                                    break
                                self.run_nconst[n] = nconst
                            kind = SCAN_JUMP
                            target = (p_value + <uint64_t>offset_signed) & ~(<uint64_t>1)
                        elif not self.indirect or rd == self.base_reg or rs1 == self.base_reg \
                                or not self._indirect_jump(rd, rs1, offset_signed, here, length,
                                                           word, tc1):
                            break
                        else:
                            kind = SCAN_INDIRECT
                    else:                           # by its shape's answer
                        shape = self._shape_slot(self._shape(word))
                        if shape.answer != SHAPE_COPYABLE \
                                or shape.fields & 1 and rd == self.base_reg \
                                or shape.fields & 2 and rs1 == self.base_reg \
                                or shape.fields & 4 and (word >> 20) & 31 == self.base_reg \
                                or shape.fields & 8 and word >> 27 == self.base_reg:
                            break
                        kind = SCAN_COPIED
                        self._hold(raw, word, 0, SCAN_COPIED)
                self.run_kinds[n] = kind
                self.run_words[n] = word
                self.run_pcs[n] = here
                self.run_targets[n] = target
                # the TC address of the next instruction's first word
                if kind == SCAN_COPIED:
                    tc1 += 4
                elif kind == SCAN_BRANCH:
                    tc1 += 4 + 4 * <uint64_t>len(self.stub)
                elif kind == SCAN_JUMP:
                    tc1 += 4 * <uint64_t>(self.run_nconst[n] + len(self.stub))
                elif kind == SCAN_AUIPC:
                    tc1 += 4 * <uint64_t>self.run_nconst[n]
                n += 1
                here += length
                if kind == SCAN_JUMP or kind == SCAN_INDIRECT or here & SCAN_PAGE_MASK == 0:
                    break
        finally:
            PyBuffer_Release(&view)
        # The run as the translator's lists, cut before a pc in ptstores.
        check_ptstores = n and len(ptstores)
        tc = tc_addr + 4 * <uint64_t>PyList_GET_SIZE(words)
        for i in range(n):
            pc_obj = PyLong_FromUnsignedLongLong(self.run_pcs[i])
            if check_ptstores and PySequence_Contains(ptstores, pc_obj):
                here = self.run_pcs[i]
                break
            self.emitted = i + 1
            kind = self.run_kinds[i]
            PyList_Append(starts, PyLong_FromUnsignedLongLong(tc))
            PyList_Append(pcs, pc_obj)
            if kind == SCAN_COPIED or kind == SCAN_BRANCH:
                PyList_Append(words, PyLong_FromUnsignedLongLong(self.run_words[i]))
                tc += 4
            for k in range(self.run_nconst[i]):
                PyList_Append(words, PyLong_FromUnsignedLongLong(self.run_consts[i][k]))
                tc += 4
            if kind == SCAN_AUIPC and self.run_rd[i]:
                a_valid, a_rd, a_value, a_next = True, self.run_rd[i], self.run_targets[i], \
                    self.run_pcs[i] + 4
                changed = True
            elif kind == SCAN_INDIRECT:
                for k in range(self.jump_len):
                    PyList_Append(words, PyLong_FromUnsignedLongLong(self.jump_words[k]))
                PyList_Append(callouts, (self.jump_callout,
                                         (self.indirect_kind, pc_obj, self.jump_word,
                                          self.jump_length, 0, self.jump_site, self.jump_literal)))
                tc += 4 * <uint64_t>self.jump_len
                self.ended = True
            elif kind == SCAN_BRANCH or kind == SCAN_JUMP:
                stub_at = PyLong_FromUnsignedLongLong(tc)
                target_obj = PyLong_FromUnsignedLongLong(self.run_targets[i])
                PyList_Append(starts, stub_at)
                PyList_Append(pcs, target_obj)
                PyList_Append(callouts, (stub_at, (self.exit_kind, target_obj, 0, 4, target_obj,
                                                   0, 0)))
                for stub_word in self.stub:
                    PyList_Append(words, stub_word)
                tc += 4 * <uint64_t>len(self.stub)
                if kind == SCAN_JUMP:
                    self.ended = True
        if changed:
            self.auipc = (a_rd, a_value, a_next)
        return here
