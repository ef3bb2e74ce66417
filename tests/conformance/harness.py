"""Run a snippet of RV64 assembly as a bare-metal M-mode program and report what it did.

The snippet is wrapped into a small program (`program_source`): a prologue that
installs an M-mode and an S-mode trap handler, opens PMP for S/U and clears
every register; then the snippet; then an exit point. The handlers log every
trap (cause, epc, tval, the status register at entry and which handler took
it) and resume: exceptions skip the trapping instruction (2 or 4 bytes, read
back from memory), fetch faults return to the address in `ra`, interrupts
disable their own enable bit in mie/sie and return. Reaching the exit point
(an `ecall` at `__exit_point`, from any privilege) snapshots x0..x31 as they
were there, then M-mode prints the snapshot, the trap log and the 32-doubleword
signature area `__sig` over the UART in hex and powers off through the finisher.

Backends:
  core  pyvmm._core.Core driven directly: MMIO exits emulate the UART's LSR and
        the finisher, every other MMIO address is an access fault (like an
        unassigned address on QEMU's virt board). The result is read from
        memory, so the printing code is skipped.
  qemu  qemu-system-riscv64 -machine virt -bios none; the result is parsed
        from the UART text. Used to check the tests themselves against an
        independent implementation.
Assemblers: pyvmm (`pyvmm.asm`) or gnu (riscv64-unknown-elf-as/ld).
Defaults come from PYVMM_CONFORMANCE_BACKEND (core) and PYVMM_CONFORMANCE_ASM
(pyvmm for core, gnu for qemu).

Conventions for snippets: registers start at 0 except sp, which points at
the top of a 4 KiB stack; `__sig` is a writable 256-byte area; `__data` is a
4 KiB page-aligned scratch page; `__page_pool` holds 16 page-aligned zero
pages for page tables; mscratch/sscratch belong to the handlers (use other
CSRs, or restore them); do not delegate ecall from S (cause 9). Code that
cannot jump to `__exit_point` (U-mode code under an alias mapping) exits with
`li a7, -1; ecall`. Under paging the handlers need RAM identity-mapped for
S-mode. The snippet may define labels and use numeric local labels.
"""

import dataclasses
import os
import re
import subprocess
import tempfile

from support import oracles
from support.oracles import GNU_AS, GNU_LD, QEMU

RAM_BASE = 0x8000_0000
RAM_SIZE = 8 << 20
UART_BASE = 0x1000_0000
UART_SIZE = 0x100
UART_LSR = 5
FINISHER = 0x10_0000
FINISHER_PASS = 0x5555
MAX_TRAPS = 16
SIG_DWORDS = 32
DEFAULT_BUDGET = 2_000_000

ABI_NAMES = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
             "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
REGISTER_NUMBER = {name: i for i, name in enumerate(ABI_NAMES)}
REGISTER_NUMBER.update({f"x{i}": i for i in range(32)})
REGISTER_NUMBER["fp"] = 8

MSTATUS_MPRV = 1 << 17
SSTATUS_SUM_MXR = (1 << 18) | (1 << 19)


class HarnessError(Exception):
    """The program did not reach its exit point (hang, crash in the harness, tool failure)."""


@dataclasses.dataclass(frozen=True)
class Trap:
    cause: int
    epc: int
    tval: int
    status: int      # mstatus (M handler) or sstatus (S handler) at trap entry
    mode: int        # 3 = taken by the M-mode handler, 1 = by the S-mode handler

    @property
    def interrupt(self):
        return bool(self.cause >> 63)

    @property
    def code(self):
        return self.cause & ~(1 << 63)

    @property
    def previous_priv(self):
        """The privilege the trap came from (mstatus.MPP or sstatus.SPP)."""
        if self.mode == 3:
            return (self.status >> 11) & 3
        return (self.status >> 8) & 1


@dataclasses.dataclass
class Result:
    x: tuple                 # 32 register values at the exit point
    traps: list              # Trap records, in order
    sig: tuple               # the 32 doublewords of __sig
    symbols: dict            # label -> address
    uart: str = ""

    def __getitem__(self, reg):
        if isinstance(reg, int):
            return self.x[reg]
        return self.x[REGISTER_NUMBER[reg]]

    def signed(self, reg):
        value = self[reg]
        return value - (1 << 64) if value >> 63 else value


# ----------------------------------------------------------------------------------- source

_PROLOGUE = """\
    .equ __UART, 0x10000000
    .equ __FINISHER, 0x100000
    .equ __MAX_TRAPS, {max_traps}
    .section .text
    .globl _start
_start:
    la      t0, __m_trap
    csrw    mtvec, t0
    la      t0, __m_save
    csrw    mscratch, t0
    la      t0, __s_trap
    csrw    stvec, t0
    la      t0, __s_save
    csrw    sscratch, t0
    li      t0, -1
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0
{clear_regs}
    la      sp, __stack_top
# ---- snippet
{body}
# ---- end of snippet
    .balign 4
__exit_point:
    ecall
1:  j       1b
"""

# Both handlers save all registers through their scratch CSR, log the trap,
# then either finish (the exit point was reached) or resume.
_HANDLERS = """\
    .balign 4
__m_trap:
    csrrw   t6, mscratch, t6
{save_m}
    csrr    t5, mscratch
    sd      t5, 31*8(t6)
    csrw    mscratch, t6
    mv      s0, t6                  # s0 = save area
    la      t0, __in_handler
    ld      t1, 0(t0)
    bnez    t1, __handler_fault
    li      t1, 1
    sd      t1, 0(t0)
    csrr    a0, mepc
    la      t0, __exit_point
    beq     a0, t0, __exit_from_m
    la      t0, __s_exit_ecall
    beq     a0, t0, __finish
    csrr    a0, mcause
    addi    a0, a0, -8              # an ecall (causes 8..11) with a7 = -1 exits
    li      t0, 4
    bgeu    a0, t0, 1f
    ld      t0, 17*8(s0)
    addi    t0, t0, 1
    beqz    t0, __exit_from_m
1:  csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    csrr    a3, mstatus
    li      a4, 3
    call    __log_trap
    csrr    a0, mcause
    bltz    a0, __m_interrupt
    li      t0, 12                  # fetch faults: return to ra
    beq     a0, t0, __m_to_ra
    li      t0, 2
    bgeu    a0, t0, __m_skip
__m_to_ra:
    ld      t0, 1*8(s0)
    csrw    mepc, t0
    j       __m_return
__m_skip:
    csrr    t0, mepc                # read the instruction as the trapping mode saw it
    csrr    t3, mstatus
    li      t1, {mprv}
    csrs    mstatus, t1
    lhu     t2, 0(t0)
    csrw    mstatus, t3
    andi    t2, t2, 3
    li      t1, 3
    addi    t0, t0, 2
    bne     t2, t1, 1f
    addi    t0, t0, 2
1:  csrw    mepc, t0
    j       __m_return
__m_interrupt:
    slli    a0, a0, 1
    srli    a0, a0, 1
    li      t0, 1
    sll     t0, t0, a0
    csrc    mie, t0
__m_return:
    la      t0, __in_handler
    sd      zero, 0(t0)
    mv      t6, s0
{restore_m}
    ld      t6, 31*8(t6)
    mret

__exit_from_m:
    mv      a0, s0
    call    __snapshot
    j       __finish

    .balign 4
__s_trap:
    csrrw   t6, sscratch, t6
{save_s}
    csrr    t5, sscratch
    sd      t5, 31*8(t6)
    csrw    sscratch, t6
    mv      s0, t6
    csrr    s1, sstatus
    li      t1, {sum_mxr}               # the handler reads user and execute-only pages
    csrs    sstatus, t1
    la      t0, __in_handler
    ld      t1, 0(t0)
    bnez    t1, __handler_fault_s
    li      t1, 1
    sd      t1, 0(t0)
    csrr    a0, sepc
    la      t0, __exit_point
    beq     a0, t0, __exit_from_s
    csrr    a0, scause
    addi    a0, a0, -8
    li      t0, 4
    bgeu    a0, t0, 1f
    ld      t0, 17*8(s0)
    addi    t0, t0, 1
    beqz    t0, __exit_from_s
1:  csrr    a0, scause
    csrr    a1, sepc
    csrr    a2, stval
    csrr    a3, sstatus
    li      a4, 1
    call    __log_trap
    csrr    a0, scause
    bltz    a0, __s_interrupt
    li      t0, 12
    beq     a0, t0, __s_to_ra
    li      t0, 2
    bgeu    a0, t0, __s_skip
__s_to_ra:
    ld      t0, 1*8(s0)
    csrw    sepc, t0
    j       __s_return
__s_skip:
    csrr    t0, sepc
    lhu     t2, 0(t0)
    andi    t2, t2, 3
    li      t1, 3
    addi    t0, t0, 2
    bne     t2, t1, 1f
    addi    t0, t0, 2
1:  csrw    sepc, t0
    j       __s_return
__s_interrupt:
    slli    a0, a0, 1
    srli    a0, a0, 1
    li      t0, 1
    sll     t0, t0, a0
    csrc    sie, t0
__s_return:
    la      t0, __in_handler
    sd      zero, 0(t0)
    csrw    sstatus, s1
    mv      t6, s0
{restore_s}
    ld      t6, 31*8(t6)
    sret

__exit_from_s:
    mv      a0, s0
    call    __snapshot
    la      t0, __in_handler
    sd      zero, 0(t0)
__s_exit_ecall:
    ecall                           # to M-mode, which finishes

__handler_fault_s:
__handler_fault:                    # a trap inside a handler: give up loudly
    li      t0, __FINISHER
    li      t1, 0x3333 | (0x7e << 16)
    sw      t1, 0(t0)
1:  j       1b

# __log_trap(a0 cause, a1 epc, a2 tval, a3 status, a4 mode)
__log_trap:
    la      t0, __trap_count
    ld      t1, 0(t0)
    li      t2, __MAX_TRAPS
    bgeu    t1, t2, 1f              # a trap storm: keep counting, stop logging
    slli    t2, t1, 5               # 40-byte records
    slli    t3, t1, 3
    add     t2, t2, t3
    la      t3, __trap_log
    add     t2, t2, t3
    sd      a0, 0(t2)
    sd      a1, 8(t2)
    sd      a2, 16(t2)
    sd      a3, 24(t2)
    sd      a4, 32(t2)
1:  addi    t1, t1, 1
    sd      t1, 0(t0)
    li      t2, 64                  # a runaway: stop
    bgeu    t1, t2, __handler_fault
    ret

# __snapshot(a0 = save area): copy the registers at the exit point to __regs
__snapshot:
    la      t0, __regs
    li      t1, 32
1:  ld      t2, 0(a0)
    sd      t2, 0(t0)
    addi    a0, a0, 8
    addi    t0, t0, 8
    addi    t1, t1, -1
    bnez    t1, 1b
    la      t0, __regs
    sd      zero, 0(t0)
    ret

# M-mode: print the result (unless the harness reads memory) and power off.
__finish:
    li      t0, {mprv}
    csrc    mstatus, t0
    csrw    satp, zero
    la      t0, __print_enable
    ld      t0, 0(t0)
    beqz    t0, __power_off
    la      sp, __stack_top
    la      a0, __s_regs
    call    __puts
    la      s1, __regs
    li      s2, 32
    call    __put_block
    la      a0, __s_traps
    call    __puts
    la      s1, __trap_count
    li      s2, 1 + 5 * __MAX_TRAPS
    call    __put_block
    la      a0, __s_sig
    call    __puts
    la      s1, __sig
    li      s2, {sig_dwords}
    call    __put_block
    la      a0, __s_end
    call    __puts
__power_off:
    li      t0, __FINISHER
    li      t1, 0x5555
    sw      t1, 0(t0)
1:  j       1b

# __put_block(s1 = address, s2 = count): one hex doubleword per line
__put_block:
    addi    sp, sp, -16
    sd      ra, 0(sp)
1:  ld      a0, 0(s1)
    call    __puthex
    li      a0, 10
    call    __putc
    addi    s1, s1, 8
    addi    s2, s2, -1
    bnez    s2, 1b
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

__putc:
    li      t0, __UART
1:  lbu     t1, 5(t0)
    andi    t1, t1, 0x20
    beqz    t1, 1b
    sb      a0, 0(t0)
    ret

__puts:
    mv      t2, a0
    addi    sp, sp, -16
    sd      ra, 0(sp)
1:  lbu     a0, 0(t2)
    beqz    a0, 2f
    call    __putc
    addi    t2, t2, 1
    j       1b
2:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

__puthex:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s3, 8(sp)
    mv      s3, a0
    li      t2, 60
1:  srl     a0, s3, t2
    andi    a0, a0, 15
    addi    a0, a0, 48
    li      t0, 57
    ble     a0, t0, 2f
    addi    a0, a0, 39
2:  call    __putc
    addi    t2, t2, -4
    bgez    t2, 1b
    ld      ra, 0(sp)
    ld      s3, 8(sp)
    addi    sp, sp, 16
    ret

    .section .rodata
__s_regs:   .asciz "REGS\\n"
__s_traps:  .asciz "TRAPS\\n"
__s_sig:    .asciz "SIG\\n"
__s_end:    .asciz "END\\n"

    .section .data
    .balign 8
__print_enable: .dword 1
__in_handler:   .dword 0
__trap_count:   .dword 0
__trap_log:     .space 40 * __MAX_TRAPS
__regs:         .space 32 * 8
__sig:          .space {sig_dwords} * 8
{data}
    .section .bss
    .balign 4096
__data:         .space 4096
__page_pool:    .space 16 * 4096
__m_save:       .space 32 * 8
__s_save:       .space 32 * 8
__stack:        .space 4096
__stack_top:
"""


def _save(reg):
    return "\n".join(f"    sd      x{i}, {i}*8({reg})" for i in range(1, 31))


def _restore(reg):
    return "\n".join(f"    ld      x{i}, {i}*8({reg})" for i in range(1, 31))


def program_source(body, data=""):
    """The complete assembly program for `body` (M-mode code) and extra `data` (in .data)."""
    clear = "\n".join(f"    li      x{i}, 0" for i in range(1, 32))
    return (_PROLOGUE.format(max_traps=MAX_TRAPS, clear_regs=clear, body=body)
            + _HANDLERS.format(save_m=_save("t6"), restore_m=_restore("t6"),
                               save_s=_save("t6"), restore_s=_restore("t6"),
                               mprv=MSTATUS_MPRV | SSTATUS_SUM_MXR, sum_mxr=SSTATUS_SUM_MXR,
                               sig_dwords=SIG_DWORDS, data=data))


# ---------------------------------------------------------------------------------- build


@dataclasses.dataclass
class Image:
    segments: list           # [(addr, bytes)]
    symbols: dict
    entry: int
    elf: bytes


def gnu_tools_missing():
    """A reason string if GNU binutils are not installed, else None."""
    tool = oracles.first_missing(GNU_AS, GNU_LD)
    return f"{tool} not installed" if tool else None


def qemu_missing():
    return f"{QEMU} not installed" if oracles.first_missing(QEMU) else None


def build_gnu(source):
    """Assemble and link with GNU binutils; return an Image."""
    from elftools.elf.elffile import ELFFile
    import io
    with tempfile.TemporaryDirectory(prefix="pyvmm-conf-") as tmp:
        try:
            elf = oracles.build_text_with_gnu(source, tmp, name="t", text_addr=RAM_BASE)
        except oracles.GnuBuildError as exc:
            raise HarnessError(str(exc)) from exc
        with open(elf, "rb") as f:
            elf_bytes = f.read()
    reader = ELFFile(io.BytesIO(elf_bytes))
    # Load sections, not segments: GNU ld's first PT_LOAD also covers the ELF
    # header just below .text, outside RAM.
    segments = []
    for section in reader.iter_sections():
        if not section["sh_flags"] & 0x2 or section["sh_size"] == 0:     # SHF_ALLOC
            continue
        data = bytes(section["sh_size"]) if section["sh_type"] == "SHT_NOBITS" else section.data()
        segments.append((section["sh_addr"], data))
    symbols = {}
    symtab = reader.get_section_by_name(".symtab")
    for sym in symtab.iter_symbols():
        if sym.name and sym["st_info"]["type"] in ("STT_NOTYPE", "STT_FUNC", "STT_OBJECT"):
            symbols[sym.name] = sym["st_value"]
    return Image(segments, symbols, reader.header["e_entry"], elf_bytes)


def build_pyvmm(source):
    """Assemble with pyvmm's own assembler; return an Image."""
    from pyvmm.asm import assemble, AsmError
    try:
        prog = assemble(source, filename="<conformance>")
    except AsmError as exc:
        raise HarnessError(f"pyvmm.asm rejected the program:\n{exc}") from exc
    return Image(list(prog.segments()), dict(prog.symbols), prog.entry, prog.to_elf())


def build(source, assembler):
    if assembler == "gnu":
        return build_gnu(source)
    if assembler == "pyvmm":
        return build_pyvmm(source)
    raise ValueError(f"unknown assembler {assembler!r}")


# ---------------------------------------------------------------------------------- run


def _u64(data, index):
    return int.from_bytes(data[8 * index: 8 * index + 8], "little")


def _result_from_words(regs, trap_words, sig, symbols, uart=""):
    count = trap_words[0]
    traps = []
    for i in range(min(count, MAX_TRAPS)):
        cause, epc, tval, status, mode = trap_words[1 + 5 * i: 6 + 5 * i]
        traps.append(Trap(cause, epc, tval, status, mode))
    if count > MAX_TRAPS:
        raise HarnessError(f"{count} traps: more than the {MAX_TRAPS} the log holds")
    return Result(tuple(regs), traps, tuple(sig), symbols, uart)


def run_core(image, budget=DEFAULT_BUDGET):
    """Run on pyvmm._core.Core with a minimal board around it."""
    from pyvmm import _core
    exit_budget = getattr(_core, "EXIT_BUDGET", 1)
    exit_mmio = getattr(_core, "EXIT_MMIO", 2)
    exit_wfi = getattr(_core, "EXIT_WFI", 4)

    core = _core.Core(ram_size=RAM_SIZE, ram_base=RAM_BASE, hartid=0)
    for addr, data in image.segments:
        core.write_mem(addr, bytes(data))
    core.write_mem(image.symbols["__print_enable"], bytes(8))
    core.pc = image.entry
    core.priv = 3
    uart = bytearray()
    retired = 0
    while True:
        before = core.stats()["instret"]
        reason = core.run(budget - retired)
        retired += core.stats()["instret"] - before
        if reason == exit_mmio:
            addr, size = core.exit_addr, core.exit_size
            if core.exit_is_write:
                if addr == FINISHER:
                    status = core.exit_data & 0xFFFF
                    if status != FINISHER_PASS:
                        raise HarnessError(
                            f"finisher failure 0x{core.exit_data:x} at pc 0x{core.exit_pc:x}"
                            + (" (a trap inside a harness handler)"
                               if core.exit_data >> 16 == 0x7e else ""))
                    break
                if addr == UART_BASE:
                    uart.append(core.exit_data & 0xFF)
                elif not UART_BASE <= addr < UART_BASE + UART_SIZE:
                    core.complete_mmio_fault()
            else:
                if addr == UART_BASE + UART_LSR:
                    core.complete_mmio(0x60)
                elif UART_BASE <= addr < UART_BASE + UART_SIZE or FINISHER <= addr < FINISHER + 0x1000:
                    core.complete_mmio(0)
                else:
                    core.complete_mmio_fault()
        elif reason == exit_budget or retired >= budget:
            raise HarnessError(f"no exit after {budget} instructions (pc 0x{core.pc:x}, priv {core.priv})")
        elif reason == exit_wfi:
            raise HarnessError(f"hart idles in WFI forever at pc 0x{core.exit_pc:x}")
        else:
            raise HarnessError(f"unexpected exit reason {reason} at pc 0x{core.pc:x}")
    mem = core.read_mem
    sym = image.symbols
    regs = [_u64(mem(sym["__regs"], 256), i) for i in range(32)]
    trap_bytes = mem(sym["__trap_count"], 8 * (1 + 5 * MAX_TRAPS))
    trap_words = [_u64(trap_bytes, i) for i in range(1 + 5 * MAX_TRAPS)]
    sig_bytes = mem(sym["__sig"], 8 * SIG_DWORDS)
    sig = [_u64(sig_bytes, i) for i in range(SIG_DWORDS)]
    result = _result_from_words(regs, trap_words, sig, sym, uart.decode("latin-1"))
    result.core = core
    return result


def run_qemu_elf(elf_bytes, timeout=20):
    """Run an ELF on QEMU's virt board with -icount; return (exit status, UART text)."""
    with tempfile.TemporaryDirectory(prefix="pyvmm-conf-") as tmp:
        path = os.path.join(tmp, "t.elf")
        with open(path, "wb") as f:
            f.write(elf_bytes)
        try:
            status, output = oracles.run_qemu(path, icount=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(f"QEMU did not finish in {timeout} s") from exc
    return status, output.decode("latin-1")


def parse_dump(text, symbols):
    """Parse the REGS/TRAPS/SIG hex dump the program prints."""
    match = re.search(r"REGS\r?\n(.*?)TRAPS\r?\n(.*?)SIG\r?\n(.*?)END", text, re.S)
    if not match:
        raise HarnessError(f"no register dump in the output:\n{text[-2000:]}")
    blocks = [[int(v, 16) for v in part.split()] for part in match.groups()]
    return _result_from_words(blocks[0], blocks[1], blocks[2], symbols, text)


def run_qemu(image):
    status, text = run_qemu_elf(image.elf)
    if status != 0:
        raise HarnessError(f"QEMU exit status {status}; output:\n{text[-2000:]}")
    return parse_dump(text, image.symbols)


def default_backend():
    return os.environ.get("PYVMM_CONFORMANCE_BACKEND", "core")


def default_assembler(backend):
    return os.environ.get("PYVMM_CONFORMANCE_ASM", "gnu" if backend == "qemu" else "pyvmm")


def run(body, data="", *, backend=None, assembler=None, budget=DEFAULT_BUDGET):
    """Assemble `body` into the harness program, run it, return a Result."""
    backend = backend or default_backend()
    assembler = assembler or default_assembler(backend)
    image = build(program_source(body, data), assembler)
    if backend == "core":
        return run_core(image, budget)
    if backend == "qemu":
        return run_qemu(image)
    raise ValueError(f"unknown backend {backend!r}")
