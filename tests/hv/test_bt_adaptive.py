"""Adaptive binary translation: a guest-kernel store that keeps taking
write-protect traps on a page table is retranslated as a "ptstore" callout
(after PTSTORE_TRAPS of them), which performs it as the pager's emulated
store would, keeps the shadow coherent, and still performs an ordinary store
or reflects the guest's own fault precisely when the target is no page table."""

import pytest
from hv_support import native_run

pytest.importorskip("pyvmm._core")

from pyvmm.hv import Host  # noqa: E402
from pyvmm.hv.bt.runtime import PTSTORE_PLAIN, PTSTORE_TRAPS  # noqa: E402
from pyvmm.hv.bt.translator import GUEST_PC, INSN, KIND, LENGTH  # noqa: E402

# Sv39 on, from the root table in s0: 0x8000_0000.. identity-mapped by a
# gigapage, 0xC000_0000 through l1 and l0; s1 = the PTE of 0xC000_0000.
SV39_SETUP = """        li      t0, 0x200000CF          # root[2]: the 0x8000_0000 gigapage, RWX A D
        sd      t0, 16(s0)
        la      t0, l1
        srli    t0, t0, 12
        slli    t0, t0, 10
        ori     t0, t0, 1
        sd      t0, 24(s0)              # root[3] -> l1
        la      t0, l0
        srli    t0, t0, 12
        slli    t0, t0, 10
        ori     t0, t0, 1
        la      t1, l1
        sd      t0, 0(t1)               # l1[0] -> l0
        srli    t0, s0, 12
        li      t1, 8
        slli    t1, t1, 60
        or      t0, t0, t1
        csrw    satp, t0
        sfence.vma
        la      s1, l0                  # the PTE of 0xC000_0000
"""

# Sv39: 0x8000_0000.. identity-mapped by one gigapage; 0xC000_0000 through
# l1/l0, its PTE rewritten by `setpte` to alternate between frame_a ('A') and
# frame_b ('B'), each followed by sfence.vma and a load through the new
# mapping. Then the same store writes an ordinary page, then an unmapped
# address (the guest's store page fault: scause letter, stval and sepc checks).
PTE_LOOP_KERNEL = """        .text
        .globl _start
_start: la      t0, handler
        csrw    stvec, t0
        la      s0, root
        li      t0, 0xC7                # root[0]: the devices' gigapage, RW A D
        sd      t0, 0(s0)
""" + SV39_SETUP + """        la      s2, frame_a
        srli    s2, s2, 12
        slli    s2, s2, 10
        ori     s2, s2, 0xC7            # V R W A D
        la      s3, frame_b
        srli    s3, s3, 12
        slli    s3, s3, 10
        ori     s3, s3, 0xC7
        li      s4, 0xC0000000
        li      s5, 8
loop:   mv      a0, s1
        mv      a1, s2
        call    setpte
        sfence.vma s4, zero
        lbu     a0, 0(s4)
        li      a7, 1
        ecall
        mv      t0, s2
        mv      s2, s3
        mv      s3, t0
        addi    s5, s5, -1
        bnez    s5, loop
        li      s5, 4                   # W off and on again, by a byte store
        li      s2, 0xC3
        li      s3, 0xC7
loop2:  mv      a0, s1
        mv      a1, s2
        call    setbyte
        sfence.vma s4, zero
        lbu     t1, 0(s4)
        mv      t0, s2
        mv      s2, s3
        mv      s3, t0
        addi    s5, s5, -1
        bnez    s5, loop2
        la      s2, frame_a             # an AMO swapping the PTE, checking the old one
        srli    s2, s2, 12
        slli    s2, s2, 10
        ori     s2, s2, 0xC7
        la      s3, frame_b
        srli    s3, s3, 12
        slli    s3, s3, 10
        ori     s3, s3, 0xC7
        li      s5, 4
loop3:  mv      a0, s1
        mv      a1, s2
        call    swappte
        li      t0, 'y'
        beq     a0, s3, 1f
        li      t0, 'n'
1:      mv      a0, t0
        li      a7, 1
        ecall
        sfence.vma s4, zero
        lbu     a0, 0(s4)
        ecall
        mv      t0, s2
        mv      s2, s3
        mv      s3, t0
        addi    s5, s5, -1
        bnez    s5, loop3
        li      a0, 0x10000000          # the UART's transmit register: MMIO
        li      a1, 'm'
        call    setbyte
        la      a0, plain
        li      a1, 'p'
        call    setpte
        la      t0, plain
        lbu     a0, 0(t0)
        li      a7, 1
        ecall
        li      a0, 0x40000000
        li      a1, 0
        call    setpte
        li      s5, 8                   # ordinary stores only: copied again
        li      s6, 'q'
loop4:  la      a0, plain
        mv      a1, s6
        call    setpte
        addi    s6, s6, 1
        addi    s5, s5, -1
        bnez    s5, loop4
        la      t0, plain
        lbu     a0, 0(t0)
        li      a7, 1
        ecall
        li      a0, '\\n'
        li      a7, 1
        ecall
        li      a7, 8
        ecall
setpte: sd      a1, 0(a0)
        ret
setbyte: sb     a1, 0(a0)
        ret
swappte: amoswap.d a0, a1, (a0)
        ret
        .balign 4
handler:
        csrr    t0, scause
        csrr    t1, stval
        csrr    t2, sepc
        addi    a0, t0, 'a'             # 15: 'p'
        li      a7, 1
        ecall
        li      t3, 0x40000000
        li      a0, 'y'
        beq     t1, t3, 1f
        li      a0, 'n'
1:      ecall
        la      t3, setpte
        li      a0, 'y'
        beq     t2, t3, 2f
        li      a0, 'n'
2:      ecall
        csrw    sepc, ra                # skip the store: back to setpte's caller
        sret
        .data
        .balign 4096
root:   .zero   4096
l1:     .zero   4096
l0:     .zero   4096
frame_a: .byte  'A'
        .balign 4096
frame_b: .byte  'B'
        .balign 4096
plain:  .zero   4096
"""
ITERATIONS = 8
BYTE_ITERATIONS = 4
AMO_ITERATIONS = 4
EXPECTED = b"ABABABAB" + b"yAyByAyB" + b"m" + b"p" + b"pyy" + b"x\n"


def bt_run(image, ram_size=16 << 20):
    host = Host(ram_size=ram_size + (32 << 20))
    vm = host.create_vm(ram_size=ram_size, technique="bt", paging="shadow")
    vm.load(image)
    return vm.run(2_000_000), vm


@pytest.fixture(scope="module")
def pte_loop(tmp_path_factory):
    source = tmp_path_factory.mktemp("adaptive") / "pteloop.S"
    source.write_text(PTE_LOOP_KERNEL)
    status, _, output = native_run(str(source), ram_size=16 << 20)
    result, vm = bt_run(str(source))
    return status, output, result, vm


def test_the_kernel_prints_what_it_prints_on_the_board(pte_loop):
    status, output, result, vm = pte_loop
    assert output == EXPECTED and status == 0
    assert vm.console_output == output and result.status == status


def test_a_page_table_store_becomes_a_callout_after_k_traps(pte_loop):
    *_, vm = pte_loop
    stats = vm.stats()
    bt, exits = stats["bt"], stats["trap_emulate"]["exits"]
    # setpte: iteration 1 writes l0 before anything was derived from it (no
    # trap); 2..K+1 are write-protect traps; the rest, the ordinary store and
    # the faulting one are callouts, then the ordinary stores of loop4 until
    # PTSTORE_PLAIN in a row copy it again. setbyte: K traps, then callouts,
    # the last one to MMIO, which makes it an ordinary store again (a
    # fallback). swappte (an AMO): K traps, then callouts.
    assert exits["page_fault_emulated"] == 3 * PTSTORE_TRAPS
    assert bt["adaptive_retranslations"] == 3
    assert bt["callouts"]["ptstore"] == ITERATIONS - 1 - PTSTORE_TRAPS + 2 + PTSTORE_PLAIN - 1 \
        + BYTE_ITERATIONS - PTSTORE_TRAPS + 1 + AMO_ITERATIONS - PTSTORE_TRAPS
    assert bt["ptstore_fallbacks"] == 1 and bt["ptstore_reverts"] == 1
    assert len(vm.vcpus[0].tc.ptstores) == 1      # swappte's: setbyte fell back, setpte reverted
    assert stats["trap_emulate"]["reflected"] == {"15": 1}


def test_callouts_keep_the_shadow_coherent(pte_loop):
    *_, vm = pte_loop
    pager = vm.pager
    # Each PTE store found the entry the previous load filled and dropped it
    # (the sfence after it had nothing left to drop).
    assert pager.counters["invalidations"] >= ITERATIONS - 1
    walk, _ = pager.guest_walk(0xC0000000, "load", 1)
    shadow = pager.shadow_leaf(0xC0000000)
    assert walk is not None and shadow is not None
    assert shadow[0] == vm.gpa_to_hpa(walk.gpa & ~0xFFF) and shadow[2] == walk.gpa & ~0xFFF
    assert vm.read(walk.gpa, 1) == b"B"


def test_the_translator_makes_only_named_stores_ptstore_callouts():
    from pyvmm.hv.bt.translator import translate_block
    from pyvmm.isa import codec
    words = [codec.encode("sd", rs1=10, rs2=11, imm=8), codec.encode("sw", rs1=10, rs2=11, imm=0),
             codec.encode("addi", rd=10, rs1=10, imm=1), codec.encode("ebreak")]
    code = b"".join(w.to_bytes(4, "little") for w in words)
    base = 0x8020_0000

    def fetch(gva):
        return int.from_bytes(code[gva - base:gva - base + 2], "little")

    plain = translate_block(fetch, base, 0x3F_C000_0000)
    adapted = translate_block(fetch, base, 0x3F_C000_0000, ptstores={base + 4, base + 8})
    assert [c[KIND] for c in dict(plain.callouts).values()] == ["ebreak"]
    kinds = {c[GUEST_PC]: (c[KIND], c[INSN], c[LENGTH]) for c in dict(adapted.callouts).values()}
    # The sw is a callout carrying its instruction; the addi is no store, so
    # it stays copied whatever the set says.
    assert kinds == {base + 4: ("ptstore", words[1], 4), base + 12: ("ebreak", words[3], 4)}
    assert words[0] in adapted.words and words[2] in adapted.words and words[1] not in adapted.words
