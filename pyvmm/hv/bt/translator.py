"""The translator: one guest superblock -> host instruction words for the TC.

Pure: it reads guest code through a `fetch(gva) -> 16-bit parcel` function
and knows nothing of the runtime but the TC address the block will live at
(PC-relative rewrites need it). What it does to each guest instruction
(compressed ones are expanded first, so every TC instruction is 4 bytes):

* innocuous (integer, M, A, F, D, loads/stores, fences, lui, and the
  unprivileged fflags/frm/fcsr accesses): copied.
* auipc rd: rd = the guest pc + offset, as a constant.
* jal: the link value (guest pc + length) as a constant, then an exit stub
  to the target. Conditional branches do not end the block (a superblock):
  the inverted branch hops over an exit stub to the taken target and
  translation goes on at the fall-through. An exit stub is a callout until
  the runtime translates its target and patches it into a direct jal
  (chaining).
* auipc rX + jalr rd, off(rX) right after it (a `call` or `tail` to a
  pc-relative target, as a kernel built without linker relaxation makes
  every call): rX as auipc sets it, the link value, then an exit stub to the
  target, as for jal: the jalr's base is known, so it is a direct jump.
* jalr (ret, indirect calls): an inline one-entry cache, then a table. The
  target is computed into a borrowed register and compared with a literal
  (the guest target last seen here); a hit jumps straight to that target's
  block. A miss probes the runtime's lookup table (guest pc -> the block's
  indirect entry, layout.IBL_GVA) and jumps through it; only a miss there
  is a callout, which looks the target up, fills the table's entry and
  re-points the inline cache.
* CSR reads of virtual state without side effects: `ld rd, OFF(gp)` from the
  VCPU-state page (gp holds its address in translated code, layout.BASE_REG). CSR writes of scratch-like state (sscratch, sepc, scause,
  stval), and clears of interrupt enables (csrc sie, csrci sstatus): a
  short load/modify/store on the state page with one borrowed register
  spilled there. Interrupt enables (csrs sstatus of SIE alone) are done on
  the state page when sip & sie shows nothing to deliver, else they are the
  csr callout. csrrc/csrrw of sstatus by register (a kernel's trap entry
  and return) are done on the state page when they change only SIE
  (clearing it), SPIE and SPP, else they are the csr callout. Reads of
  `time` are copied (the runtime lets translated
  code read the hart's, which is the guest's). Other CSR accesses
  (sstatus/sie/satp writes, which may unmask an interrupt or change the
  address space; sip, which depends on time; cycle and instret, which are
  the hypervisor's; unknown CSRs): callouts.
* sret, wfi, ecall, ebreak, and what a guest S-mode may not execute
  (mret, H instructions, illegal words): callouts. sfence.vma: a check of
  a state-page flag the runtime sets when it has work for the next one,
  the callout only then.

A callout is an `ecall` in the TC: the runtime recognises it by its TC
address (Block.callouts, records of ints: KIND, GUEST_PC, ...), never by
the guest's own ecalls, which are themselves callouts of kind "ecall".

gp is the runtime's in translated code, so every guest instruction run in
the core that names gp is renamed: a borrowed register, spilled to the state
page, stands in for it, loaded from the guest's gp slot before and (when the
instruction writes gp) stored back after. Callouts need no renaming: the
runtime sees the guest's gp in the register file.
"""

from functools import lru_cache

from pyvmm._core import BTBlock, CopyScan
from pyvmm.isa import codec
from pyvmm.isa.csrs import CSRS
from pyvmm.isa.instructions import INSTRUCTIONS
from pyvmm.hv.bt import emit
from pyvmm.hv.bt.layout import (BASE_REG, GUEST_GP, IBL_ENTRIES, IBL_INDEX_BITS, IBL_OFFSET,
                                IBL_REG, PAGE_SIZE, SFENCE_WORK, SPILL_IBL, SPILL_OLD,
                                SPILL_RENAME, SPILL_SECOND, SPILL_TARGET, SPILL_TEMP,
                                STATE_OFFSET)

MAX_BLOCK_INSNS = 64
# An exit stub's words: the callout, then room for a far chain (spill t6,
# auipc, jalr to the target's indirect entry, which reloads t6).
STUB_WORDS = 3
MASK64 = (1 << 64) - 1

BRANCHES = frozenset(("beq", "bne", "blt", "bge", "bltu", "bgeu"))
CSR_OPS = frozenset(("csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"))
# Instructions a guest kernel's privilege needs the runtime for.
SYSTEM_CALLOUTS = {"sret": "sret", "sfence.vma": "sfence", "wfi": "wfi", "ecall": "ecall",
                   "ebreak": "ebreak"}

# CSRs whose reads are a plain load of the state page.
INLINE_READS = {CSRS[name]: STATE_OFFSET[name] for name in
                ("sstatus", "sie", "stvec", "sscratch", "sepc", "scause", "stval", "satp",
                 "scounteren", "senvcfg")}
# CSRs whose writes have no effect beyond the stored value (sepc: bit 0 reads 0).
INLINE_WRITES = {CSRS[name]: STATE_OFFSET[name] for name in ("sscratch", "sepc", "scause", "stval")}
SEPC, SIE, SSTATUS, TIME = CSRS["sepc"], CSRS["sie"], CSRS["sstatus"], CSRS["time"]
SSTATUS_SIE = 1 << 1
FP_CSRS = frozenset((CSRS["fflags"], CSRS["frm"], CSRS["fcsr"]))
# What a "ptstore" callout may stand for: stores and AMOs (amo*; not lr/sc,
# whose reservation lives in the core).
PLAIN_STORES = frozenset(("sb", "sh", "sw", "sd"))


class FetchFault(Exception):
    """Guest code at `gva` cannot be fetched (the guest's own fetch fault)."""

    def __init__(self, gva, cause=12):
        super().__init__(f"cannot fetch guest code at {gva:#x}")
        self.gva = gva
        self.cause = cause


# A callout's record: (kind, guest pc, instruction word, length, target,
# site, literal), a plain tuple of ints and an interned kind, which the
# garbage collector stops tracking (a booting Linux keeps some 130 K):
#   kind      exit jalr csr sret sfence wfi ecall ebreak illegal ptstore
#   guest pc  the guest instruction (for exit: the jump target)
#   insn      the guest instruction word (expanded); length, its length in guest memory
#   target    exit: guest pc to continue at
#   site      jalr: TC address of the cache's hit jump
#   literal   jalr: TC address of the cache's guest-target literal
KIND, GUEST_PC, INSN, LENGTH, TARGET, SITE, LITERAL = range(7)


# One translated block: its TC words, the map from TC addresses to guest pcs,
# its callout records and the guest pages it was read from (the fields are
# listed in its docstring). The core defines the type: tens of thousands
# live through a Linux boot, and as a type the garbage collector does not
# track (it holds ints and tuples of them only) no collection walks them.
Block = BTBlock


def _scratch(avoid):
    """A register the rewrite may borrow (spilled around it), not among `avoid`."""
    for reg in (5, 6, 7, 28):
        if reg not in avoid:
            return reg
    raise AssertionError("unreachable: four candidates, at most two excluded")


# An exit stub's spare words, after its callout.
STUB_SPARE = (emit.NOP,) * (STUB_WORDS - 1)


class _Emitter:
    """A block's words and maps while it is translated: plain lists the
    translator appends to (translate_block's loop does so itself for the
    common instructions)."""
    __slots__ = ("tc_addr", "code", "starts", "pcs", "callouts", "renamed")

    def __init__(self, tc_addr):
        self.tc_addr = tc_addr
        self.code = []
        self.starts = []
        self.pcs = []
        self.callouts = []
        self.renamed = []

    @property
    def here(self):
        return self.tc_addr + 4 * len(self.code)

    def mark(self, guest_pc):
        self.starts.append(self.tc_addr + 4 * len(self.code))
        self.pcs.append(guest_pc)

    def words(self, words):
        self.code.extend(words)

    def rename(self, stand_in):
        """The next word is a renamed guest instruction, stand_in for gp."""
        self.renamed.append((self.tc_addr + 4 * len(self.code), stand_in))

    def callout(self, kind, guest_pc, insn=0, length=4, target=0, site=0, literal=0):
        self.callouts.append((self.tc_addr + 4 * len(self.code),
                              (kind, guest_pc, insn, length, target, site, literal)))
        self.code.append(emit.ECALL)

    def exit_stub(self, target):
        """A callout to `target`, with room to become a jump to its block
        anywhere in the TC (cache.TranslationCache.chain)."""
        here = self.tc_addr + 4 * len(self.code)
        self.starts.append(here)
        self.pcs.append(target)
        self.callouts.append((here, ("exit", target, 0, 4, target, 0, 0)))
        self.code.append(emit.ECALL)
        self.code.extend(STUB_SPARE)


# Guest words classified so far (raw parcel(s) -> _classify's answer): a
# plain dict, cheaper to probe than an LRU cache, emptied when it grows past
# CLASSIFIED_MAX (a kernel has some 100 K distinct instruction words).
_classified = {}
CLASSIFIED_MAX = 1 << 18


def _classify(raw):
    """(the 32-bit word, whether it is copied as it is) for a guest
    instruction, a compressed one expanded first; (None, False) for a
    reserved parcel. A copied store is still a ptstore callout where the
    runtime asks for one. Ints only, so the cache's entries are nothing the
    garbage collector walks: most words are copied, and those need nothing
    more."""
    known = _classified.get(raw)
    if known is not None:
        return known
    word = codec.expand_compressed(raw) if raw & 3 != 3 else raw
    if word is None:
        known = (None, False)
    else:
        shape = word & _SHAPE_MASKS[word & 0x7F | (word >> 5) & 0x380]
        copied = _copied_shapes.get(shape)
        if copied is None:
            copied = _copied_shapes[shape] = _decoded_copied(word)
        known = (word, copied)
    if len(_classified) >= CLASSIFIED_MAX:
        _classified.clear()
        _copied_shapes.clear()
    _classified[raw] = known
    return known


def _shape_masks():
    """For each major opcode and funct3 (index: opcode | funct3 << 7), the
    bits of a 32-bit word that decide which instruction it is: those two
    fields and every bit the decoder compares for an instruction they do
    not rule out (codec.decode_entry tries their masks); and the same with
    those instructions' x-register fields (_copied reads them), the bits
    that decide whether it is copied. Words alike in those bits (most
    differ only in an immediate) share the answer. Returns both tables."""
    by_instruction, by_copy = [], []
    for key in range(1024):
        bits = (key & 0x7F) | (key >> 7) << 12
        mask = registers = 0x707F
        for ins in INSTRUCTIONS:
            if not (bits ^ ins.match) & ins.mask & 0x707F:
                mask |= ins.mask
                for f in ins.fields:
                    if f.kind == "reg":
                        registers |= f.instr_mask
        by_instruction.append(mask)
        by_copy.append(mask | registers)
    return tuple(by_instruction), tuple(by_copy)


# The core's scan decides by instruction (CopyScan.set_rewrites), told each
# one's x-register fields (_shape_fields); _classify, by copy.
_INSTRUCTION_MASKS, _SHAPE_MASKS = _shape_masks()
# A 32-bit word's bits under its _SHAPE_MASKS entry -> whether it is copied.
_copied_shapes = {}


def _shape_fields(word):
    """What the core's scan is told of a 32-bit word's instruction
    (CopyScan.add_shape): None if the translator rewrites it, else the low
    bits of its x-register fields (it is copied unless one names gp)."""
    instruction = word & _INSTRUCTION_MASKS[word & 0x7F | (word >> 5) & 0x380]
    fields = _fields_of.get(instruction, _UNKNOWN)
    if fields is _UNKNOWN:
        entry = codec.decode_entry(word)
        fields = None if entry is None else _register_shifts(entry)
        if len(_fields_of) >= CLASSIFIED_MAX:
            _fields_of.clear()
        _fields_of[instruction] = fields
    return fields


# A word's bits under its _INSTRUCTION_MASKS entry -> _shape_fields' answer.
_fields_of = {}
_UNKNOWN = object()


def _decoded_copied(word):
    """Whether a 32-bit word is copied, straight from the decoder (what a
    shape's answer stands for)."""
    entry = codec.decode_entry(word)
    return entry is not None and _copied(entry, word)


def _decode(word):
    """codec.decode of a word the translator rewrites. Jumps, branches and
    auipc are most of them and nearly each one's word is unique (its
    offset): their few operands are taken out by shifts here rather than
    by codec's field-by-field extraction."""
    opcode = word & 0x7F
    if opcode not in _SHIFTED_OPCODES:
        return _decode_recurring(word)
    entry = codec.decode_entry(word)
    if entry is None:
        return None
    if opcode == 0x63:                                   # beq .. bgeu
        imm = ((word >> 31) << 12 | ((word >> 7) & 1) << 11 | ((word >> 25) & 0x3F) << 5
               | ((word >> 8) & 0xF) << 1)
        return entry, {"rs1": (word >> 15) & 31, "rs2": (word >> 20) & 31,
                       "imm": imm - (1 << 13) if word >> 31 else imm}
    rd = (word >> 7) & 31
    if opcode == 0x6F:                                   # jal
        imm = ((word >> 31) << 20 | ((word >> 12) & 0xFF) << 12 | ((word >> 20) & 1) << 11
               | ((word >> 21) & 0x3FF) << 1)
        return entry, {"rd": rd, "imm": imm - (1 << 21) if word >> 31 else imm}
    if opcode == 0x67:                                   # jalr
        imm = word >> 20
        return entry, {"rd": rd, "imm": imm - (1 << 12) if word >> 31 else imm,
                       "rs1": (word >> 15) & 31}
    return entry, {"rd": rd, "imm": word >> 12}          # auipc


_SHIFTED_OPCODES = frozenset((0x63, 0x6F, 0x67, 0x17))


@lru_cache(maxsize=1 << 12)
def _decode_recurring(word):
    """codec.decode of the other words the translator rewrites (a few
    recur: CSR accesses, system instructions)."""
    return codec.decode(word)


def _copied(entry, word):
    """Whether _translate_one copies this instruction word unchanged (only
    its register operands are looked at)."""
    shifts = _register_shifts(entry)
    if shifts is None:
        return False
    for lo in shifts:
        if (word >> lo) & 31 == BASE_REG:
            return False
    return True


def _register_shifts(entry):
    """_reg_shifts(entry), kept by instruction name."""
    shifts = _REG_SHIFTS.get(entry.name, False)
    if shifts is False:
        shifts = _REG_SHIFTS[entry.name] = _reg_shifts(entry)
    return shifts


# Instruction name -> the low bit of each of its x-register fields, or None
# for an instruction the translator always rewrites.
_REG_SHIFTS = {}


def _reg_shifts(entry):
    name = entry.name
    if name in ("jal", "jalr", "auipc") or name in BRANCHES or name in CSR_OPS \
            or name in SYSTEM_CALLOUTS or entry.ext in ("priv", "H"):
        return None
    shifts = []
    for f in entry.fields:
        if f.kind == "reg":
            (hi, lo, value_lo), = f.segments      # 32-bit words: five plain bits each
            assert hi - lo == 4 and value_lo == 0 and not f.reg_offset, f"{name}.{f.name}"
            shifts.append(lo)
    return tuple(shifts)


def translate_block(fetch, guest_pc, tc_addr, max_insns=MAX_BLOCK_INSNS, ptstores=frozenset(),
                    code_page=None, scan=True):
    """Translate the guest basic block starting at guest_pc, to be placed at
    tc_addr. Raises FetchFault if its first instruction cannot be fetched
    (later ones end the block early instead, so the fault is raised where the
    guest would take it). Stores at the guest pcs in `ptstores` (ones the
    runtime saw writing page tables) become "ptstore" callouts.

    `code_page(gva)`, when given, returns the parcels of the page holding
    gva at once, as (a sequence of 16-bit parcels, the index of the page's
    first one), or raises FetchFault: the block reads them without a call
    each (`fetch` is then not used). With `scan` (the default) and a page
    of host memory (a buffer of 16-bit parcels), the core's CopyScan emits
    runs of instructions, one call a run: copied words, superblock
    branches, jal, auipc, calls and indirect jumps, from their bits and
    from what this loop has told it of each instruction's shape. It hands
    back what this loop rewrites itself (CSR and system instructions, words
    naming gp, 64-bit constants, ptstore pcs, reserved parcels), and the
    block is the same as the loop alone builds (scan=False)."""
    out = _Emitter(tc_addr)
    words = out.code
    starts = out.starts
    pcs = out.pcs
    callouts = out.callouts
    page = guest_pc & ~(PAGE_SIZE - 1)
    # A block stays on its first page (it ends at the page boundary), so
    # only a 4-byte instruction straddling the boundary reads another page.
    pages = [page]
    scanner = None
    if code_page is not None:
        parcels, first = code_page(guest_pc)
        if scan and isinstance(parcels, memoryview):
            scanner = _scan_table
    classified = _classified
    load_constant = emit.constant
    pc = guest_pc
    count = 0
    ended = False
    # The last auipc's register, its value, and the guest pc right after it.
    auipc = None
    while count < max_insns:
        if scanner is not None:
            pc = scanner.scan(parcels, first, pc, max_insns - count, ptstores, tc_addr, words,
                              starts, pcs, callouts, auipc)
            if scanner.emitted:
                count += scanner.emitted
                auipc = scanner.auipc
                if scanner.ended:
                    ended = True
                    break
                if count >= max_insns or not pc & (PAGE_SIZE - 1):
                    break
        try:
            if code_page is not None:
                at = first + ((pc & (PAGE_SIZE - 1)) >> 1)
                raw = parcels[at]
                if raw & 3 == 3:
                    length = 4
                    if (pc + 2) & (PAGE_SIZE - 1):
                        raw |= parcels[at + 1] << 16
                    else:        # into the next page, where the block goes on
                        parcels, first = code_page(pc + 2)
                        raw |= parcels[first] << 16
                        pages.append(pc + 2)
                        if scanner is not None and not isinstance(parcels, memoryview):
                            scanner = None
                else:
                    length = 2
            else:
                raw = fetch(pc)
                if raw & 3 == 3:
                    raw |= fetch(pc + 2) << 16
                    length = 4
                    if (pc + 2) & (PAGE_SIZE - 1) == 0:
                        pages.append(pc + 2)
                else:
                    length = 2
        except FetchFault:
            if count == 0:
                raise
            break
        known = classified.get(raw)
        word, copied = known if known is not None else _classify(raw)
        count += 1
        here = tc_addr + 4 * len(words)
        starts.append(here)
        pcs.append(pc)
        if scanner is not None and word is not None:
            # what the scan needs to decide words of this shape by itself
            scanner.add_shape(word, _shape_fields(word))
        if copied and pc not in ptstores:
            words.append(word)
        else:
            # The rewrites most blocks have (branches, jal, auipc, jalr),
            # straight from the word's bits; the rest, and any naming gp,
            # through _translate_one.
            opcode = word & 0x7F if word is not None else 0
            if opcode == 0x63 and (word >> 12) & 7 in _BRANCH_FUNCT3 \
                    and (word >> 15) & 31 != BASE_REG and (word >> 20) & 31 != BASE_REG:
                imm = ((word >> 31) << 12 | ((word >> 7) & 1) << 11
                       | ((word >> 25) & 0x3F) << 5 | ((word >> 8) & 0xF) << 1)
                offset = imm - (1 << 13) if word >> 31 else imm
                target = (pc + offset) & MASK64
                hop = (word & _BRANCH_KEEP) ^ _FUNCT3_INVERT | _HOP_STUB
                words.append(hop)
                here += 4
                starts.append(here)
                pcs.append(target)
                callouts.append((here, ("exit", target, 0, 4, target, 0, 0)))
                words += _STUB
            elif opcode == 0x6F and (word >> 7) & 31 != BASE_REG:
                rd = (word >> 7) & 31
                if rd:
                    words += load_constant(rd, pc + length)
                imm = ((word >> 31) << 20 | ((word >> 12) & 0xFF) << 12
                       | ((word >> 20) & 1) << 11 | ((word >> 21) & 0x3FF) << 1)
                out.exit_stub((pc + (imm - (1 << 21) if word >> 31 else imm)) & MASK64)
                ended = True
            elif opcode == 0x17 and (word >> 7) & 31 != BASE_REG:
                rd = (word >> 7) & 31
                if rd:
                    upper = word & 0xFFFF_F000
                    value = (pc + (upper - (1 << 32) if upper >> 31 else upper)) & MASK64
                    words += load_constant(rd, value)
                    auipc = (rd, value, pc + length)
            elif opcode == 0x67 and not (word >> 12) & 7:
                imm = word >> 20
                imm = imm - (1 << 12) if word >> 31 else imm
                rd, rs1 = (word >> 7) & 31, (word >> 15) & 31
                if auipc is not None and auipc[2] == pc and rs1 == auipc[0] and rd != BASE_REG:
                    # auipc + jalr (a `call` or `tail` to a pc-relative
                    # function): its base register was set right before, so
                    # the target is known: a direct jump, chained as jal's.
                    if rd:
                        words += load_constant(rd, pc + length)
                    out.exit_stub((auipc[1] + imm) & MASK64 & ~1)
                else:
                    _indirect_jump(out, pc, word, length, rd, rs1, imm)
                ended = True
            else:
                decoded = _decode(word) if word is not None else None
                ended = _translate_one(out, pc, raw if word is None else word, length, decoded,
                                       pc in ptstores)
        pc = (pc + length) & MASK64
        if ended:
            break
        if pc & (PAGE_SIZE - 1) == 0:
            break                    # one guest page per block: invalidation stays per page
    if not ended:
        out.exit_stub(pc)
    return Block(guest_pc, tc_addr, tuple(words), tuple(starts), tuple(pcs), tuple(callouts), pc,
                 count, tuple(pages), tuple(out.renamed))


# The superblock's branch: funct3 of the six branches (the other two are
# reserved), the fields it keeps, funct3's low bit, which inverts each
# (beq/bne, blt/bge, bltu/bgeu), and the hop over the taken side's stub.
_BRANCH_FUNCT3 = frozenset((0, 1, 4, 5, 6, 7))
_BRANCH_KEEP = 0x7F | 7 << 12 | 31 << 15 | 31 << 20
_FUNCT3_INVERT = 1 << 12
_HOP_STUB = codec.encode("beq", rs1=0, rs2=0, imm=4 + 4 * STUB_WORDS) & ~0x7F
_STUB = (emit.ECALL,) + STUB_SPARE
# The words translate_block has met and the shapes it has decided, in the
# core, which emits a run of instructions from a code page in one call.
_scan_table = CopyScan(CLASSIFIED_MAX, _STUB, "exit")
_scan_table.set_rewrites(_INSTRUCTION_MASKS, BASE_REG, _HOP_STUB)


def _translate_one(out, pc, word, length, decoded, ptstore=False):
    """Emit one guest instruction; True if it ends the block."""
    if decoded is None:
        out.callout("illegal", pc, word, length)
        return True
    entry, ops = decoded
    name = entry.name
    if ptstore and (name in PLAIN_STORES or name.startswith("amo")):
        # Adaptive BT: a store that kept write-protect trapping on page
        # tables is performed by the runtime, for a callout's price.
        out.callout("ptstore", pc, word, length)
        return False
    if name == "jal":
        if ops["rd"]:
            _set_register(out, ops["rd"], pc + length)
        out.exit_stub((pc + ops["imm"]) & MASK64)
        return True
    # jalr and branches not on gp never reach here: translate_block rewrites them.
    if name in BRANCHES:
        return _branch_on_gp(out, pc, length, name, ops)
    if name == "auipc":
        if ops["rd"]:
            _set_register(out, ops["rd"], pc + (emit.sext(ops["imm"] << 12, 32)))
        return False
    if name in CSR_OPS:
        return _translate_csr(out, pc, word, length, name, ops, entry)
    if name == "sfence.vma":
        _sfence(out, pc, word, length, ops["rs1"], ops["rs2"])
        return False
    if name in SYSTEM_CALLOUTS:
        kind = SYSTEM_CALLOUTS[name]
        out.callout(kind, pc, word, length)
        return kind in ("sret", "ebreak")
    if entry.ext in ("priv", "H"):
        out.callout("illegal", pc, word, length)
        return True
    _copy(out, entry, ops, word)
    return False


def _gp_fields(entry, ops):
    """The x-register operand fields of an instruction that name gp."""
    return [f for f in entry.fields if f.kind == "reg" and ops[f.name] == BASE_REG]


def _copy(out, entry, ops, word):
    """A guest instruction run as it is, gp renamed if it names it."""
    gp_fields = _gp_fields(entry, ops)
    if not gp_fields:
        out.words([word])
        return
    stand_in = _scratch({ops[f.name] for f in entry.fields if f.kind == "reg"})
    renamed = word
    for f in gp_fields:
        renamed = (renamed & ~f.instr_mask) | f.insert(stand_in)
    out.words([emit.state_store(stand_in, SPILL_RENAME), emit.state_load(stand_in, GUEST_GP)])
    # The one word here that can fault for the guest: the runtime puts the
    # stand-in's own value back before reflecting the fault.
    out.rename(stand_in)
    out.words([renamed])
    if any(f.name == "rd" for f in gp_fields):
        out.words([emit.state_store(stand_in, GUEST_GP)])
    out.words([emit.state_load(stand_in, SPILL_RENAME)])


def _set_register(out, rd, value):
    """rd = value (a constant the translator knows), rd possibly gp."""
    if rd != BASE_REG:
        out.words(emit.load_constant(rd, value))
        return
    t = _scratch(())
    out.words([emit.state_store(t, SPILL_RENAME)] + emit.load_constant(t, value)
              + [emit.state_store(t, GUEST_GP), emit.state_load(t, SPILL_RENAME)])


def _branch_on_gp(out, pc, length, name, ops):
    """A conditional branch that reads gp (translate_block rewrites the
    others inside its superblock): gp is read through a stand-in, restored
    on both ways out, and the branch, retargeted, hops over a fall-through
    exit stub onto a taken one. The block ends here."""
    rs1, rs2 = ops["rs1"], ops["rs2"]
    t = _scratch({rs1, rs2})
    restore = emit.state_load(t, SPILL_RENAME)
    out.words([emit.state_store(t, SPILL_RENAME), emit.state_load(t, GUEST_GP),
               emit.branch(name, t if rs1 == BASE_REG else rs1, t if rs2 == BASE_REG else rs2,
                           8 + 4 * STUB_WORDS),
               restore])
    out.exit_stub((pc + length) & MASK64)
    out.words([restore])
    out.exit_stub((pc + ops["imm"]) & MASK64)
    return True


def _translate_csr(out, pc, word, length, name, ops, entry):
    csr, rd = ops["csr"], ops["rd"]
    if csr in FP_CSRS:
        # fflags, frm, fcsr: unprivileged F/D state the hart holds for the
        # guest (guarded by the FS the runtime sets from the guest's): copied
        _copy(out, entry, ops, word)
        return False
    immediate = name.endswith("i")
    source = ops["zimm"] if immediate else ops["rs1"]
    op = name[:5]                                      # csrrw / csrrs / csrrc
    writes = op == "csrrw" or source != 0
    if csr == TIME and not writes:
        # rdtime: the guest's time is the host's mtime, and the runtime lets
        # translated code read it (BTVCPU._counters_for); copied
        _copy(out, entry, ops, word)
        return False
    if not writes and csr in INLINE_READS:
        if rd == BASE_REG:
            t = _scratch(())
            out.words([emit.state_store(t, SPILL_RENAME), emit.state_load(t, INLINE_READS[csr]),
                       emit.state_store(t, GUEST_GP), emit.state_load(t, SPILL_RENAME)])
        elif rd:
            out.words([emit.state_load(rd, INLINE_READS[csr])])
        return False
    if writes and csr in INLINE_WRITES:
        _inline_write_renamed(out, op, immediate, rd, source, INLINE_WRITES[csr], csr == SEPC)
        return False
    if op == "csrrc" and (csr == SIE or csr == SSTATUS and immediate):
        # Clearing interrupt enables can never unmask one, and csrci reaches
        # only sstatus bits 0-4 (SIE and read-only zeros), never SUM/MXR: no
        # side effect for Python to act on.
        _inline_write_renamed(out, op, immediate, rd, source, INLINE_READS[csr], False)
        return False
    if op == "csrrs" and csr == SSTATUS and BASE_REG not in (rd, 0 if immediate else source) \
            and (not immediate or source & ~SSTATUS_SIE == 0):
        _interrupt_enable(out, pc, word, length, immediate, rd, source)
        return False
    if csr == SSTATUS and not immediate and source and BASE_REG not in (rd, source) \
            and op in ("csrrc", "csrrw"):
        _status_write(out, pc, word, length, op, rd, source)
        return False
    out.callout("csr", pc, word, length)
    return False


# sstatus bits a write changes with no effect beyond the stored value (SIE
# only ever cleared: nothing to deliver); the others (SUM, MXR: the guest's
# access rights, which the shadow pager follows; FS: the F/D state the
# runtime moves between the VCPU and the hart) make the write a callout.
SSTATUS_PLAIN = SSTATUS_SIE | 1 << 5 | 1 << 8          # SIE, SPIE, SPP


def _fast_path_end(words, rd, t, u):
    """Close an inline CSR fast path: rd gets the old value from its spill,
    the borrowed t and u their guest values, then a jump over the slow
    path, which restores u and t before the callout (the checks branch
    there). Returns the slow path's index in words."""
    if rd:
        words.append(emit.state_load(rd, SPILL_OLD))
    words += [emit.state_load(t, SPILL_TEMP), emit.state_load(u, SPILL_SECOND),
              codec.encode("jal", rd=0, imm=16)]
    slow = len(words)
    words += [emit.state_load(u, SPILL_SECOND), emit.state_load(t, SPILL_TEMP)]
    return slow


def _status_write(out, pc, word, length, op, rd, source):
    """csrrc sstatus, rs (a kernel's trap entry clearing SUM and FS, often
    clear already) and csrrw sstatus, rs (its trap return putting sstatus
    back): on the state page when the write changes SIE, SPIE and SPP only
    and sets no SIE, so that it has no effect beyond the stored value: the
    new slot is the old one with those bits from the write (WARL: the rest
    read-only or unchanged). Otherwise the csr callout, which emulates it;
    both ways, the borrowed registers as the guest left them."""
    encode = codec.encode
    t = _scratch({rd, source})
    u = _scratch({rd, source, t})
    sstatus = STATE_OFFSET["sstatus"]
    words = [emit.state_store(t, SPILL_TEMP), emit.state_store(u, SPILL_SECOND),
             emit.state_load(t, sstatus)]
    checks = []
    if op == "csrrc":
        # Bits other than SIE, SPIE, SPP it would clear must be clear already.
        words += [encode("and", rd=u, rs1=t, rs2=source),
                  encode("andi", rd=u, rs1=u, imm=~SSTATUS_PLAIN)]
        checks.append(len(words))
        words.append(None)                                 # bne u, x0, slow
        words += [encode("or", rd=u, rs1=t, rs2=source),   # old & ~source
                  encode("xor", rd=u, rs1=u, rs2=source),
                  encode("andi", rd=u, rs1=u, imm=SSTATUS_PLAIN)]
    else:
        # FS, SUM and MXR (bits 13, 14, 18, 19) unchanged, SIE not set.
        words += [encode("xor", rd=u, rs1=t, rs2=source),
                  encode("srli", rd=u, rs1=u, shamt=13),
                  encode("andi", rd=u, rs1=u, imm=0x63)]
        checks.append(len(words))
        words += [None, encode("andi", rd=u, rs1=source, imm=SSTATUS_SIE)]
        checks.append(len(words))
        words += [None, encode("andi", rd=u, rs1=source, imm=SSTATUS_PLAIN)]
    # u: the new SIE, SPIE and SPP (csrrc: old & ~source has nothing else to change)
    if rd:
        words.append(emit.state_store(t, SPILL_OLD))
    words += [encode("andi", rd=t, rs1=t, imm=~SSTATUS_PLAIN),
              encode("or", rd=t, rs1=t, rs2=u),
              emit.state_store(t, sstatus)]
    slow = _fast_path_end(words, rd, t, u)
    for at in checks:
        words[at] = encode("bne", rs1=u, rs2=0, imm=4 * (slow - at))
    out.words(words)
    out.callout("csr", pc, word, length)


def _interrupt_enable(out, pc, word, length, immediate, rd, source):
    """csrs sstatus (a kernel's interrupt enable and restore): inline when
    it sets no bit but SIE and no interrupt is pending and enabled in sie,
    so the write has no effect beyond the stored value; otherwise the csr
    callout, which delivers the interrupt. The value is checked first, so a
    csrs of another bit (SUM) pays four words before its callout."""
    encode = codec.encode
    t = _scratch({rd, 0 if immediate else source})
    u = _scratch({rd, 0 if immediate else source, t})
    words = [emit.state_store(t, SPILL_TEMP)]
    value_check = None
    if not immediate:
        words.append(encode("andi", rd=t, rs1=source, imm=~SSTATUS_SIE))
        value_check = len(words)
        words.append(None)                                 # bne t, x0, slow (t only)
    words += [emit.state_store(u, SPILL_SECOND),
              emit.state_load(t, STATE_OFFSET["sip"]), emit.state_load(u, STATE_OFFSET["sie"]),
              encode("and", rd=t, rs1=t, rs2=u)]
    pending_check = len(words)
    words += [None,                                        # bne t, x0, slow (t and u)
              emit.state_load(t, STATE_OFFSET["sstatus"])]
    if rd:
        words.append(emit.state_store(t, SPILL_OLD))
    words.append(encode("ori", rd=t, rs1=t, imm=source) if immediate
                 else encode("or", rd=t, rs1=t, rs2=source))
    words.append(emit.state_store(t, STATE_OFFSET["sstatus"]))
    slow_u = _fast_path_end(words, rd, t, u)
    words[pending_check] = encode("bne", rs1=t, rs2=0, imm=4 * (slow_u - pending_check))
    if value_check is not None:
        words[value_check] = encode("bne", rs1=t, rs2=0, imm=4 * (slow_u + 1 - value_check))
    out.words(words)
    out.callout("csr", pc, word, length)


def _sfence(out, pc, word, length, rs1, rs2):
    """sfence.vma: nothing to do unless the runtime flagged work for it
    (SFENCE_WORK: page tables translated code was walked through were
    stored to), in which case it is the sfence callout. The shadow trees
    (and the hart's TLB with them) are kept coherent with the guest's PTEs
    by write protection, so a flush itself has nothing to drop. Both ways
    run four TC words (instret does not depend on the runtime's state); the
    borrowed register, not an operand, is restored after the callout."""
    t = _scratch({rs1, rs2})
    out.words([emit.state_store(t, SPILL_TEMP), emit.state_load(t, SFENCE_WORK),
               emit.branch("beq", t, 0, 8)])              # no work: past the callout
    out.callout("sfence", pc, word, length)
    out.words([emit.state_load(t, SPILL_TEMP)])


def _inline_write_renamed(out, op, immediate, rd, source, offset, clear_bit0):
    """_inline_csr_write, with a stand-in for gp when rd or the source register is gp."""
    if rd != BASE_REG and (immediate or source != BASE_REG):
        out.words(_inline_csr_write(op, immediate, rd, source, offset, clear_bit0))
        return
    s = _scratch({rd, 0 if immediate else source})
    rd_s = s if rd == BASE_REG else rd
    source_s = s if not immediate and source == BASE_REG else source
    out.words([emit.state_store(s, SPILL_RENAME), emit.state_load(s, GUEST_GP)])
    out.words(_inline_csr_write(op, immediate, rd_s, source_s, offset, clear_bit0))
    if rd == BASE_REG:
        out.words([emit.state_store(s, GUEST_GP)])
    out.words([emit.state_load(s, SPILL_RENAME)])


def _inline_csr_write(op, immediate, rd, source, offset, clear_bit0):
    """old = CSR; CSR = f(old, source); rd = old, through one borrowed register t."""
    t = _scratch({rd, 0 if immediate else source})
    encode = codec.encode
    words = [emit.state_store(t, SPILL_TEMP), emit.state_load(t, offset)]
    if rd:
        words.append(emit.state_store(t, SPILL_OLD))
    if op == "csrrw":
        if immediate:
            words.append(encode("addi", rd=t, rs1=0, imm=source))
        else:
            words.append(encode("addi", rd=t, rs1=source, imm=0))
    elif op == "csrrs":
        words.append(encode("ori", rd=t, rs1=t, imm=source) if immediate
                     else encode("or", rd=t, rs1=t, rs2=source))
    else:                                              # csrrc: old & ~source
        if immediate:
            words.append(encode("andi", rd=t, rs1=t, imm=~source))
        else:
            words.append(encode("or", rd=t, rs1=t, rs2=source))
            words.append(encode("xor", rd=t, rs1=t, rs2=source))
    if clear_bit0:
        words.append(encode("andi", rd=t, rs1=t, imm=-2))
    words.append(emit.state_store(t, offset))
    if rd:
        words.append(emit.state_load(rd, SPILL_OLD))
    words.append(emit.state_load(t, SPILL_TEMP))
    return words


# An indirect jump's cache literal before any target is known: odd, so it
# never equals a target (bit 0 cleared, as jalr does).
NO_TARGET = 1


def _indirect_jump(out, pc, word, length, rd, rs1, imm):
    """jalr through a one-entry inline cache, then the lookup table (see the
    module docstring)."""
    head, t, u = _indirect_head(rd, rs1, imm)
    code = out.code
    code += head
    if rd == BASE_REG:
        code += emit.constant(u, pc + length)
        code.append(emit.state_store(u, GUEST_GP))
    elif rd:
        code += emit.constant(rd, pc + length)
    auipc_at = out.tc_addr + 4 * len(code)
    # A pad word keeps the literal 8-byte aligned.
    tail, site_index, callout_index = _indirect_tail(
        t, u, bool((auipc_at + 4 * INDIRECT_TAIL_WORDS) & 7))
    code += tail
    out.callouts.append((auipc_at + 4 * callout_index,
                         ("jalr", pc, word, length, 0, auipc_at + 4 * site_index,
                          auipc_at + 4 * (len(tail) - 2))))


@lru_cache(maxsize=1 << 12)                # (rd, rs1, offset): a kernel's few dozen
def _indirect_head(rd, rs1, imm):
    """An indirect jump's words up to its link value: the two borrowed
    registers (t, u) spilled, the target (bit 0 cleared) into t. Returns
    (words, t, u)."""
    t = _scratch({rd, rs1})
    u = _scratch({rd, rs1, t})
    words = [emit.state_store(t, SPILL_TEMP), emit.state_store(u, SPILL_SECOND)]
    if rs1 == BASE_REG:
        words += [emit.state_load(t, GUEST_GP), emit.i_type("addi", t, t, imm)]
    else:
        words.append(emit.i_type("addi", t, rs1, imm))
    words.append(emit.i_type("andi", t, t, -2))
    return tuple(words), t, u


@lru_cache(maxsize=None)                  # four candidate pairs, padded or not
def _indirect_tail(t, u, padded):
    """The words of an indirect jump from the literal check on (t holds the
    target, t and u spilled), the literal still NO_TARGET: (words, index of
    the hit site, index of the miss callout's ecall)."""
    encode = codec.encode
    restore = [emit.state_load(t, SPILL_TEMP), emit.state_load(u, SPILL_SECOND)]
    literal_at = 4 * INDIRECT_TAIL_WORDS + (4 if padded else 0)
    words = [encode("auipc", rd=u, imm=0), encode("ld", rd=u, rs1=u, imm=literal_at),
             encode("bne", rs1=t, rs2=u, imm=16)] + restore
    site = len(words)
    words.append(emit.ECALL)                 # the hit: becomes `jal x0, block` with the literal
    words += _table_probe(t, u)
    # The miss: the target for the runtime, every register the guest's.
    words += [emit.state_store(t, SPILL_TARGET), emit.state_load(IBL_REG, SPILL_IBL)] + restore
    callout = len(words)
    words.append(emit.ECALL)
    if padded:
        words.append(emit.NOP)
    assert 4 * len(words) == literal_at, "the indirect jump's tail has INDIRECT_TAIL_WORDS words"
    words += [NO_TARGET, 0]
    return tuple(words), site, callout


@lru_cache(maxsize=None)
def _table_probe(t, u):
    """The lookup table probe for target t (u free, both spilled): every other
    register already holds its value after the jump, so IBL_REG's is spilled
    as it is and the target block's indirect entry reloads it. A hit jumps
    there; a miss falls through past these words."""
    encode = codec.encode
    x = IBL_REG
    shift = 63 - IBL_INDEX_BITS
    return (emit.state_store(x, SPILL_IBL),
            encode("slli", rd=u, rs1=t, shamt=shift),          # pc bits 1.. -> entry offset
            encode("srli", rd=u, rs1=u, shamt=shift - 3),
            encode("add", rd=u, rs1=u, rs2=BASE_REG),
            encode("lui", rd=x, imm=IBL_OFFSET >> 12),
            encode("add", rd=u, rs1=u, rs2=x),
            encode("ld", rd=x, rs1=u, imm=0),                  # the entry's tag
            encode("bne", rs1=x, rs2=t, imm=20),
            encode("ld", rd=x, rs1=u, imm=8),                  # the block's indirect entry
            emit.state_load(t, SPILL_TEMP), emit.state_load(u, SPILL_SECOND),
            encode("jalr", rd=0, rs1=x, imm=0))


# auipc, ld, bne, 2 restores, the hit site, the probe (12), the target's
# store and 3 restores, the callout.
INDIRECT_TAIL_WORDS = 23
# The first word of every block's indirect entry, right before the block:
# what a table jump lands on.
INDIRECT_ENTRY = emit.state_load(IBL_REG, SPILL_IBL)


def ibl_index(guest_pc):
    """The lookup table entry guest_pc belongs to (what _table_probe computes)."""
    return (guest_pc >> 1) & (IBL_ENTRIES - 1)


def _indirect_tails():
    """Every (t, u) pair _indirect_head borrows, padded or not: its tail
    (what the core's scan emits an indirect jump with)."""
    pairs = set()
    for rd in range(32):
        for rs1 in range(32):
            t = _scratch({rd, rs1})
            pairs.add((t, _scratch({rd, rs1, t})))
    return {(t, u, padded): _indirect_tail(t, u, padded) for t, u in pairs for padded in (False, True)}


_scan_table.set_indirect("jalr", SPILL_TEMP, SPILL_SECOND, _indirect_tails())
