"""The conformance harness extended for the H extension.

harness.py runs a snippet in M-mode with an M and an (H)S trap handler. For
the H extension the snippet also needs a VS-mode handler and, for each trap
taken in M or HS, the registers the H extension adds. This module wraps a
snippet so that:

- M traps first pass through `__h_m_trap`, which records mtval2, mtinst and
  hstatus, then continue into the harness's M handler (an ecall with a7 = -2,
  `to_m()`, instead continues in M-mode after the ecall: snippets use it to
  look at the state a lower mode left);
- HS traps first pass through `__h_s_trap`, which records htval, htinst and
  hstatus, then continue into the harness's S handler (it resumes with sret,
  so hstatus.SPV brings a trap from V=1 back to V=1);
- traps delegated to VS (hedeleg/hideleg) reach `__h_vs_trap`, a handler at
  vstvec that logs them with mode 2 and resumes the same way (skip the
  instruction, return to `ra` on a fetch fault, mask an interrupt in vsie).

An instruction guest-page fault (cause 20) in M or HS cannot be skipped like
other exceptions: the prefixes point the epc at `ra - 4` first, so the
handler logs that and resumes after the jump that faulted (write it as a
4-byte `jalr` under `.option norvc`); tval keeps the faulting address.

The extra records live in the first 3 * H_LOG_TRAPS doublewords of `__sig`
(printed by the harness on QEMU, read from memory on the core), indexed like
the trap log, so both backends report them. Snippets keep `__sig[30..31]`.

Modes in the trap log: 3 = M, 1 = HS, 2 = VS. Snippets start in M-mode with
hgatp and vsatp Bare (GPA = VA = host address), so the harness's handlers can
read trapping instructions whatever V was.
"""

import dataclasses

from . import harness

H_LOG_TRAPS = 10
MODE_VS = 2

MSTATUS_MPV = 1 << 39
MSTATUS_GVA = 1 << 38
HSTATUS_GVA = 1 << 6
HSTATUS_SPV = 1 << 7
HSTATUS_SPVP = 1 << 8
HSTATUS_HU = 1 << 9
HSTATUS_VTVM = 1 << 20
HSTATUS_VTW = 1 << 21
HSTATUS_VTSR = 1 << 22
SSTATUS_SUM_MXR = (1 << 18) | (1 << 19)

V, R, W, X, U, G, A, D = 1, 2, 4, 8, 16, 32, 64, 128
GSTAGE_RWX = V | R | W | X | U | A | D        # G-stage leaves need U (all G-stage accesses are user)
SV39X4, SV48X4 = 8, 9

_SETUP = """\
    .option arch, +h
    li      t0, (1 << 2) | (1 << 6) | (1 << 10)
    csrs    mideleg, t0             # read-only one with H; QEMU 7.2 routes them by what was written
    la      t0, __h_m_trap
    csrw    mtvec, t0
    la      t0, __h_s_trap
    csrw    stvec, t0
    la      t0, __h_vs_trap
    csrw    vstvec, t0
    la      t0, __h_vs_save
    csrw    vsscratch, t0
    li      t0, 0
    j       __h_body

# Record (tval2, tinst, hstatus) at __sig[3 * __trap_count] and go on into
# the harness's handler with every register as it was.
    .balign 4
__h_m_trap:
    csrrw   t6, mscratch, t6
    sd      t0, 5*8(t6)
    sd      t1, 6*8(t6)
    sd      t2, 7*8(t6)
    csrr    t0, mcause              # an ecall with a7 = -2: go on in M-mode after it
    addi    t0, t0, -8
    li      t1, 4
    bgeu    t0, t1, 3f
    addi    t0, a7, 2
    bnez    t0, 3f
    csrr    t0, mepc
    addi    t0, t0, 4
    csrw    mepc, t0
    li      t0, 0x1800
    csrs    mstatus, t0
    li      t0, {mpv}
    csrc    mstatus, t0
    ld      t0, 5*8(t6)
    ld      t1, 6*8(t6)
    ld      t2, 7*8(t6)
    csrrw   t6, mscratch, t6
    mret
3:  csrr    t0, mcause              # instruction guest-page fault: resume after the jump
    li      t1, 20
    bne     t0, t1, 4f
    addi    t0, ra, -4
    csrw    mepc, t0
4:  la      t0, __trap_count
    ld      t1, 0(t0)
    li      t2, {log_traps}
    bgeu    t1, t2, 1f
    slli    t2, t1, 4
    slli    t1, t1, 3
    add     t1, t1, t2
    la      t0, __sig
    add     t0, t0, t1
    csrr    t1, mtval2
    sd      t1, 0(t0)
    csrr    t1, mtinst
    sd      t1, 8(t0)
    csrr    t1, hstatus
    sd      t1, 16(t0)
1:  ld      t0, 5*8(t6)
    ld      t1, 6*8(t6)
    ld      t2, 7*8(t6)
    csrrw   t6, mscratch, t6
    j       __m_trap

    .balign 4
__h_s_trap:
    csrrw   t6, sscratch, t6
    sd      t0, 5*8(t6)
    sd      t1, 6*8(t6)
    sd      t2, 7*8(t6)
    csrr    t0, scause
    li      t1, 20
    bne     t0, t1, 4f
    addi    t0, ra, -4
    csrw    sepc, t0
4:  la      t0, __trap_count
    ld      t1, 0(t0)
    li      t2, {log_traps}
    bgeu    t1, t2, 1f
    slli    t2, t1, 4
    slli    t1, t1, 3
    add     t1, t1, t2
    la      t0, __sig
    add     t0, t0, t1
    csrr    t1, htval
    sd      t1, 0(t0)
    csrr    t1, htinst
    sd      t1, 8(t0)
    csrr    t1, hstatus
    sd      t1, 16(t0)
1:  csrr    t1, scause              # a VS interrupt taken in HS: mask it in hie (the
    bgez    t1, 2f                  # harness's handler masks sie, which has no VS bits)
    li      t2, 1
    sll     t2, t2, t1
    csrc    hie, t2
2:  ld      t0, 5*8(t6)
    ld      t1, 6*8(t6)
    ld      t2, 7*8(t6)
    csrrw   t6, sscratch, t6
    j       __s_trap

# VS-mode handler (V=1: sscratch/scause/... are the VS copies).
    .balign 4
__h_vs_trap:
    csrrw   t6, sscratch, t6
{save}
    csrr    t5, sscratch
    sd      t5, 31*8(t6)
    csrw    sscratch, t6
    mv      s0, t6
    csrr    s1, sstatus
    li      t0, {sum_mxr}
    csrs    sstatus, t0
    csrr    a0, scause              # an ecall from VU with a7 = -1: leave from VS
    li      t0, 8
    bne     a0, t0, 1f
    ld      t0, 17*8(s0)
    addi    t0, t0, 1
    bnez    t0, 1f
    csrw    sstatus, s1
    mv      t6, s0
{restore}
    ld      t6, 31*8(t6)
__h_vs_reexit:
    ecall
1:  csrr    a0, scause
    csrr    a1, sepc
    csrr    a2, stval
    mv      a3, s1
    li      a4, {mode_vs}
    call    __log_trap
    csrr    a0, scause
    bltz    a0, 3f
    li      t0, 12
    beq     a0, t0, 2f
    li      t0, 2
    bgeu    a0, t0, 4f
2:  ld      t0, 1*8(s0)             # fetch faults: return to ra
    csrw    sepc, t0
    j       5f
3:  slli    a0, a0, 1               # interrupts: mask this one in vsie
    srli    a0, a0, 1
    li      t0, 1
    sll     t0, t0, a0
    csrc    sie, t0
    j       5f
4:  csrr    t0, sepc
    lhu     t2, 0(t0)
    andi    t2, t2, 3
    li      t1, 3
    addi    t0, t0, 2
    bne     t2, t1, 6f
    addi    t0, t0, 2
6:  csrw    sepc, t0
5:  csrw    sstatus, s1
    mv      t6, s0
{restore}
    ld      t6, 31*8(t6)
    sret
__h_body:
"""

_DATA = """
    .balign 8
__h_vs_save:    .space 32 * 8
    .section .bss
    .balign 16384
__h_groot:      .space 16384        # a G-stage root: Sv39x4/Sv48x4 want 16 KiB alignment
__h_groot2:     .space 16384        # another, for a second VMID
__h_gpool:      .space 8 * 4096     # G-stage next-level tables and test pages
    .section .data
"""


def _save(reg):
    return "\n".join(f"    sd      x{i}, {i}*8({reg})" for i in range(1, 31))


def _restore(reg):
    return "\n".join(f"    ld      x{i}, {i}*8({reg})" for i in range(1, 31))


def program_source(body, data=""):
    setup = _SETUP.format(log_traps=H_LOG_TRAPS, save=_save("t6"), restore=_restore("t6"), mpv=MSTATUS_MPV,
                          sum_mxr=SSTATUS_SUM_MXR, mode_vs=MODE_VS)
    return harness.program_source(setup + body, data + _DATA)


@dataclasses.dataclass(frozen=True)
class HTrap:
    cause: int
    epc: int
    tval: int
    status: int         # mstatus (M), HS sstatus (HS) or vsstatus (VS) at the handler
    mode: int           # 3 M, 1 HS, 2 VS
    tval2: int          # mtval2 / htval (0 for VS)
    tinst: int          # mtinst / htinst (0 for VS)
    hstatus: int        # hstatus at the handler (0 for VS)

    @property
    def code(self):
        return self.cause & ~(1 << 63)

    @property
    def interrupt(self):
        return bool(self.cause >> 63)

    @property
    def virt(self):
        """V at the trapping instruction (MPV for M, hstatus.SPV for HS, 1 for VS)."""
        if self.mode == 3:
            return self.status >> 39 & 1
        if self.mode == 1:
            return self.hstatus >> 7 & 1
        return 1

    @property
    def previous_priv(self):
        if self.mode == 3:
            return (self.status >> 11) & 3
        return (self.status >> 8) & 1

    @property
    def gva(self):
        if self.mode == 3:
            return self.status >> 38 & 1
        if self.mode == 1:
            return self.hstatus >> 6 & 1
        return 0

    @property
    def origin(self):
        """The trapping mode as a name: M, HS, U, VS or VU."""
        priv = self.previous_priv
        if self.virt:
            return "VS" if priv == 1 else "VU"
        return {3: "M", 1: "HS", 0: "U"}[priv]


@dataclasses.dataclass
class HResult:
    raw: harness.Result
    traps: list

    def __getitem__(self, reg):
        return self.raw[reg]

    @property
    def symbols(self):
        return self.raw.symbols

    @property
    def sig(self):
        return self.raw.sig

    def summary(self):
        """[(cause, epc, tval, handler mode, trapping mode)] with labels for epcs where known."""
        names = {}
        for name, addr in sorted(self.raw.symbols.items()):     # of several labels, the last by name
            if not name.startswith(("__", "$", ".L")):
                names[addr] = name
        return [(t.cause, names.get(t.epc, hex(t.epc)), t.tval, {3: "M", 1: "HS", 2: "VS"}[t.mode], t.origin)
                for t in self.traps]


def _extend(result):
    traps = []
    for i, t in enumerate(result.traps):
        if i < H_LOG_TRAPS:
            tval2, tinst, hstatus = result.sig[3 * i: 3 * i + 3]
        else:
            tval2 = tinst = hstatus = 0
        if t.mode == MODE_VS:
            tval2 = tinst = hstatus = 0
        traps.append(HTrap(t.cause, t.epc, t.tval, t.status, t.mode, tval2, tinst, hstatus))
    return HResult(result, traps)


def build(body, data="", assembler="pyvmm"):
    return harness.build(program_source(body, data), assembler)


def run_image(image, backend):
    if backend == "core":
        return _extend(harness.run_core(image))
    if backend == "qemu":
        return _extend(harness.run_qemu(image))
    raise ValueError(f"unknown backend {backend!r}")


def run(body, data="", *, backend=None, assembler=None):
    """Assemble `body` into the H harness program, run it, return an HResult."""
    backend = backend or harness.default_backend()
    assembler = assembler or harness.default_assembler(backend)
    return run_image(build(body, data, assembler), backend)


# ------------------------------------------------------------------ assembly helpers

_PRIV = {"M": (3, 0), "HS": (1, 0), "U": (0, 0), "VS": (1, 1), "VU": (0, 1)}


def enter(mode, label):
    """From M-mode, continue at `label` in mode M/HS/U/VS/VU through mret (MPP, MPV)."""
    priv, virt = _PRIV[mode]
    return (f"    li t0, 0x1800 | {MSTATUS_MPV}\n    csrc mstatus, t0\n"
            f"    li t0, {priv << 11 | virt * MSTATUS_MPV}\n    csrs mstatus, t0\n"
            f"    la t0, {label}\n    csrw mepc, t0\n    mret\n")


def to_m():
    """Assembly: from any mode, continue in M-mode (V=0) after this point (a7 = -2, ecall,
    then a7 = 0); not logged as a trap."""
    return "    li a7, -2\n    ecall\n    li a7, 0\n"


def leave():
    """Assembly: end the snippet from any mode (ecall with a7 = -1)."""
    return "    li a7, -1\n    ecall\n"


def gpool(i):
    return f"__h_gpool + {i * 4096}"


def gpte(table, index, target, flags):
    """Store a G-stage (or any) PTE: table and target are assembly addresses or ints."""
    load_table = f"    li t0, {table}\n" if isinstance(table, int) else f"    la t0, {table}\n"
    load_target = f"    li t1, {target}\n" if isinstance(target, int) else f"    la t1, {target}\n"
    return (load_table + load_target
            + f"    srli t1, t1, 12\n    slli t1, t1, 10\n    li t2, {flags}\n    or t1, t1, t2\n"
            f"    li t2, {index * 8}\n    add t0, t0, t2\n    sd t1, 0(t0)\n")


def gstage_on(mode=SV39X4, vmid=0):
    return (f"    la t0, __h_groot\n    srli t0, t0, 12\n    li t1, ({mode} << 60) | ({vmid} << 44)\n"
            "    or t0, t0, t1\n    csrw hgatp, t0\n    hfence.gvma zero, zero\n")


def gstage_identity_ram(flags=GSTAGE_RWX):
    """Sv39x4: GPA 0x8000_0000.. (1 GiB) -> the same host address, so the harness handlers
    and the snippet's code keep working at V=1."""
    return gpte("__h_groot", 2, 0x8000_0000, flags)
