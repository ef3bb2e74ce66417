"""A supervisor-mode torture guest for trap-and-emulate: WARL reads of every
S CSR, illegal instructions at S and U, system calls, breakpoints, a
software and a masked timer interrupt (taken the instruction after they are
unmasked), vectored entry, SUM and MXR under Sv39 and user code kept out of
kernel memory. Everything it prints is defined by the hart, so the board
(`--bios builtin`) is the oracle, byte for byte."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from hv_support import ROOT

pytest.importorskip("pyvmm._core")

FIRMWARE = os.path.join(ROOT, "guests", "firmware")

SOURCE = '''        .include "sbi_defs.inc"
# A supervisor-mode torture test of what trap-and-emulate must emulate:
# every line it prints is a value the hart defines (WARL reads, trap CSRs,
# interrupt entry points), so the board and trap-emulate must agree byte
# for byte.
        .equ    SSTATUS_SIE, 1 << 1
        .equ    SSTATUS_SPP, 1 << 8
        .equ    SSTATUS_SUM, 1 << 18
        .equ    SSTATUS_MXR, 1 << 19
        .equ    SIP_SSIP, 1 << 1
        .equ    SIE_STIE, 1 << 5

        .macro  SHOW_CSR csr
        csrr    a0, \\csr
        call    show
        .endm

        # the next trap resumes at 1f, in S (priv 1) or U (priv 0)
        .macro  RESUME_AT priv
        la      t0, 1f
        la      t1, resume
        sd      t0, 0(t1)
        li      t0, \\priv
        sd      t0, 8(t1)
        .endm

        .text
        .globl  _start
_start:
        la      sp, stack_top
        la      t0, trap
        csrw    stvec, t0
        la      a0, msg_hello
        call    puts
        # reset values and WARL masks
        SHOW_CSR sstatus
        SHOW_CSR sie
        SHOW_CSR sip
        SHOW_CSR satp
        li      t0, -1
        csrrw   a0, sscratch, t0
        call    show
        SHOW_CSR sscratch
        li      t0, -1
        csrw    sstatus, t0
        SHOW_CSR sstatus
        csrw    sstatus, zero
        li      t0, -1
        csrw    sie, t0
        SHOW_CSR sie
        csrw    sie, zero
        li      t0, -1
        csrw    sip, t0
        SHOW_CSR sip
        csrw    sip, zero
        li      t0, 0x80200002          # MODE 2 is reserved: ignored
        csrw    stvec, t0
        SHOW_CSR stvec
        li      t0, -1
        csrw    sepc, t0
        SHOW_CSR sepc
        li      t0, -1
        csrw    scause, t0
        SHOW_CSR scause
        li      t0, 0x123456789
        csrw    stval, t0
        SHOW_CSR stval
        li      t0, -1
        csrw    scounteren, t0
        SHOW_CSR scounteren
        csrw    scounteren, zero
        li      t0, -1
        csrw    senvcfg, t0
        SHOW_CSR senvcfg
        li      t0, 11 << 60            # a reserved MODE: satp keeps 0
        csrw    satp, t0
        SHOW_CSR satp
        csrrsi  a0, sscratch, 0
        call    show
        csrrci  a0, sscratch, 31
        call    show
        csrrwi  a0, sscratch, 21
        call    show
        csrrsi  a0, sscratch, 10
        call    show
        SHOW_CSR sscratch

        # illegal at S
        RESUME_AT 1
        csrr    a0, mstatus
1:      RESUME_AT 1
        csrw    time, zero
1:      RESUME_AT 1
        mret
1:      RESUME_AT 1
        ebreak
1:
        # to U (paging off)
        la      t0, user_bare
        csrw    sepc, t0
        li      t0, SSTATUS_SPP
        csrc    sstatus, t0
        sret
back_from_user:
        la      a0, msg_back
        call    puts
        SHOW_CSR sstatus

        # a software interrupt is taken right after the csrs that raises it
        li      t0, SIP_SSIP
        csrw    sie, t0
        csrsi   sstatus, SSTATUS_SIE
        csrs    sip, t0
after_ssip:
        csrci   sstatus, SSTATUS_SIE
        # a timer masked by SIE wakes wfi, stays pending, is taken once SIE is set
        li      t0, SIE_STIE
        csrw    sie, t0
        rdtime  a0
        addi    a0, a0, 200
        SBI_CALL EID_TIME, 0
2:      wfi
        csrr    t0, sip
        andi    t0, t0, SIE_STIE
        beqz    t0, 2b
        SHOW_CSR sip
        csrsi   sstatus, SSTATUS_SIE
after_stip:
        csrci   sstatus, SSTATUS_SIE
        # vectored: interrupts enter at base + 4 * cause
        la      t0, vectors + 1
        csrw    stvec, t0
        li      t0, SIP_SSIP
        csrw    sie, t0
        csrs    sip, t0
        csrsi   sstatus, SSTATUS_SIE
after_vectored:
        csrci   sstatus, SSTATUS_SIE
        la      t0, trap
        csrw    stvec, t0
        csrw    sie, zero

        # Sv39: kernel gigapage at 0x80000000 (no U), a U alias at 0x40000000,
        # an execute-only alias at 0xC0000000
        la      t0, root
        srli    t0, t0, 12
        li      t1, 8 << 60
        or      t0, t0, t1
        csrw    satp, t0
        sfence.vma
        SHOW_CSR satp
        li      s1, 0x40000000 - 0x80000000
        la      s2, probe_word
        add     s3, s2, s1              # the U alias of probe_word
        RESUME_AT 1
        ld      a0, 0(s3)               # SUM = 0: page fault
        call    show
1:      li      t0, SSTATUS_SUM
        csrs    sstatus, t0
        ld      a0, 0(s3)               # SUM = 1: readable
        call    show
        li      t0, SSTATUS_SUM
        csrc    sstatus, t0
        RESUME_AT 1
        ld      a0, 0(s3)               # SUM cleared again: faults again
        call    show
1:      li      s4, 0xC0000000 - 0x80000000
        add     s4, s2, s4              # execute-only alias
        RESUME_AT 1
        ld      a0, 0(s4)
        call    show
1:      li      t0, SSTATUS_MXR
        csrs    sstatus, t0
        ld      a0, 0(s4)
        call    show
        li      t0, SSTATUS_MXR
        csrc    sstatus, t0
        # user code through the U alias: kernel memory is out of its reach
        la      t0, back_from_paged_user
        la      t1, resume
        sd      t0, 0(t1)
        li      t0, 1
        sd      t0, 8(t1)
        la      t0, user_paged
        add     t0, t0, s1
        csrw    sepc, t0
        li      t0, SSTATUS_SPP
        csrc    sstatus, t0
        sret
back_from_paged_user:
        la      a0, msg_back
        call    puts
        csrw    satp, zero
        sfence.vma
        la      a0, msg_done
        call    puts
        call    shutdown

# --- user mode, paging off ---------------------------------------------------
user_bare:
        RESUME_AT 0
        csrr    a0, sstatus
1:      RESUME_AT 0
        rdtime  a0                      # scounteren = 0
1:      RESUME_AT 0
        sret
1:      RESUME_AT 0
        wfi
1:      RESUME_AT 0
        sfence.vma
1:      RESUME_AT 0
        ebreak
1:      la      t0, back_from_user
        la      t1, resume
        sd      t0, 0(t1)
        li      t0, 1
        sd      t0, 8(t1)
        li      a7, 0x999               # not an SBI call: the kernel's system call
        ecall

# --- user mode through the U alias (no stack, no kernel data) -----------------
user_paged:
        ld      a0, 0(s3)               # a U page: fine
        li      t0, 0x80200000
        ld      a0, 0(t0)               # kernel memory: page fault, resumes in S

# --- traps -----------------------------------------------------------------------
        .balign 4
trap:
        addi    sp, sp, -112
        sd      ra, 0(sp)
        sd      a0, 8(sp)
        sd      a1, 16(sp)
        sd      a2, 24(sp)
        sd      a3, 32(sp)
        sd      a4, 40(sp)
        sd      a5, 48(sp)
        sd      a6, 56(sp)
        sd      a7, 64(sp)
        sd      t0, 72(sp)
        sd      t1, 80(sp)
        sd      t2, 88(sp)
        la      a0, msg_trap
        call    puts
        csrr    a0, scause
        call    puthex
        li      a0, ' '
        call    putc
        csrr    a0, stval
        call    puthex
        li      a0, ' '
        call    putc
        csrr    a0, sepc
        call    puthex
        li      a0, ' '
        call    putc
        csrr    a0, sstatus
        li      t0, 0x122               # SPP, SPIE, SIE
        and     a0, a0, t0
        call    show
        csrr    t0, scause
        bltz    t0, interrupt
        la      t1, resume
        ld      t0, 0(t1)
        csrw    sepc, t0
        ld      t0, 8(t1)
        li      t1, SSTATUS_SPP
        csrc    sstatus, t1
        beqz    t0, 1f
        csrs    sstatus, t1
1:      j       trap_return
interrupt:
        slli    t0, t0, 1
        srli    t0, t0, 1
        li      t1, 5
        bne     t0, t1, 1f
        li      a0, -1
        SBI_CALL EID_TIME, 0
        j       trap_return
1:      li      t1, SIP_SSIP
        csrc    sip, t1
trap_return:
        ld      ra, 0(sp)
        ld      a0, 8(sp)
        ld      a1, 16(sp)
        ld      a2, 24(sp)
        ld      a3, 32(sp)
        ld      a4, 40(sp)
        ld      a5, 48(sp)
        ld      a6, 56(sp)
        ld      a7, 64(sp)
        ld      t0, 72(sp)
        ld      t1, 80(sp)
        ld      t2, 88(sp)
        addi    sp, sp, 112
        sret

        .option push
        .option norvc
        .balign 64
vectors:
        j       trap                    # exceptions
        j       vector_ssi              # 1: supervisor software
        j       trap
        j       trap
        j       trap
        j       trap                    # 5: supervisor timer
        .option pop
vector_ssi:
        addi    sp, sp, -16
        sd      a0, 0(sp)
        sd      ra, 8(sp)
        la      a0, msg_vector
        call    puts
        ld      a0, 0(sp)
        ld      ra, 8(sp)
        addi    sp, sp, 16
        j       trap

# show(a0): puthex and a newline
show:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        call    puthex
        li      a0, '\\n'
        call    putc
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

        .include "sbi_lib.inc"

        .section .rodata
msg_hello:  .asciz "te-torture\\n"
msg_trap:   .asciz "trap "
msg_back:   .asciz "back in S\\n"
msg_vector: .asciz "vector 1\\n"
msg_done:   .asciz "te-torture done\\n"

        .data
        .balign 4096
root:
        .dword  0
        .dword  (0x80000 << 10) | 0xDF  # 0x40000000: V R W X U A D -> 0x80000000
        .dword  (0x80000 << 10) | 0xCF  # 0x80000000: V R W X A D
        .dword  (0x80000 << 10) | 0x49  # 0xC0000000: V X A (execute-only)
        .fill   508, 8, 0
        .balign 8
probe_word: .dword 0x5eed5eed5eed
resume:     .dword 0, 0
        .balign 16
        .space  4096
stack_top:
'''


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("te_torture")
    for name in ("sbi_defs.inc", "sbi_lib.inc"):
        shutil.copy(os.path.join(FIRMWARE, name), folder / name)
    path = folder / "te_torture.S"
    path.write_text(SOURCE)
    return str(path)


def run(*argv):
    proc = subprocess.run([sys.executable, "-m", "pyvmm", "run", *argv], cwd=ROOT,
                          capture_output=True, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.fixture(scope="module")
def native(guest):
    status, out, err = run("--bios", "builtin", guest)
    assert status == 0, err
    return out


def test_the_board_runs_it_to_the_end(native):
    lines = native.splitlines()
    assert lines[0] == "te-torture" and lines[-1] == "te-torture done"
    # The facts the comparison rests on, so that a shared mistake cannot pass.
    assert "trap 0x2 0x30002573" in native                      # csrr mstatus at S
    assert "trap 0x8 0x0" in native                             # ecall from U
    assert native.count("trap 0x8000000000000001") == 2         # SSI, plain and vectored
    assert "vector 1" in native and "trap 0x8000000000000005" in native
    assert "trap 0xd 0x80200000" in native                      # U load of kernel memory
    assert native.count("0x5eed5eed5eed") == 2                  # SUM=1, MXR=1


def test_trap_emulate_prints_the_same(guest, native, tmp_path):
    stats_file = tmp_path / "stats.json"
    status, out, err = run("--technique", "trap-emulate", "--stats-file", str(stats_file), guest)
    assert status == 0, err
    assert out == native

    te = json.loads(stats_file.read_text())["trap_emulate"]
    assert te["reflected"]["interrupt 1"] == 2 and te["reflected"]["interrupt 5"] == 1
    assert te["reflected"]["2"] == 8 and te["reflected"]["3"] == 2 and te["reflected"]["8"] == 1
    assert te["reflected"]["13"] == 4
