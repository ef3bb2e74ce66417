"""Loads and stores of every width: sign/zero extension, offsets, misaligned addresses."""

import pytest

from . import harness, spec
from .cases import expect_no_traps, expect_regs

PATTERN = bytes([0x81, 0x92, 0xA3, 0xB4, 0xC5, 0xD6, 0xE7, 0xF8,
                 0x09, 0x1A, 0x2B, 0x3C, 0x4D, 0x5E, 0x6F, 0x70])
DATA = "    .balign 16\npattern:\n    .byte " + ", ".join(f"{b:#x}" for b in PATTERN) + "\n"

LOADS = {"lb": (1, True), "lbu": (1, False), "lh": (2, True), "lhu": (2, False),
         "lw": (4, True), "lwu": (4, False), "ld": (8, True)}
STORES = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}


def loaded(op, offset):
    size, signed = LOADS[op]
    value = int.from_bytes(PATTERN[offset:offset + size], "little")
    return spec.sext(value, size * 8) if signed else value


LOAD_CASES = [pytest.param(op, off, id=f"{op}-off{off}")
              for op, (size, _) in LOADS.items() for off in range(0, 9, size) if off + size <= 16]


@pytest.mark.parametrize("op,offset", LOAD_CASES)
def test_load_aligned(op, offset):
    r = harness.run(f"    la a0, pattern\n    {op} a1, {offset}(a0)\n", DATA)
    expect_no_traps(r)
    expect_regs(r, a1=loaded(op, offset))


@pytest.mark.parametrize("op", sorted(LOADS))
def test_load_negative_offset(op):
    size = LOADS[op][0]
    r = harness.run(f"    la a0, pattern + 8\n    {op} a1, -{size}(a0)\n", DATA)
    expect_regs(r, a1=loaded(op, 8 - size))


MISALIGNED_LOADS = [pytest.param(op, off, id=f"{op}-off{off}")
                    for op, (size, _) in LOADS.items() if size > 1 for off in (1, size - 1, 7)
                    if off % size and off + size <= 16]


@pytest.mark.parametrize("op,offset", MISALIGNED_LOADS)
def test_load_misaligned(op, offset):
    """The virt board (like QEMU) performs misaligned RAM loads in hardware."""
    r = harness.run(f"    la a0, pattern\n    {op} a1, {offset}(a0)\n", DATA)
    expect_no_traps(r)
    expect_regs(r, a1=loaded(op, offset))


STORE_CASES = [pytest.param(op, off, id=f"{op}-off{off}")
               for op, size in STORES.items() for off in sorted({0, size, size - 1, 3}) if off + size <= 16]


@pytest.mark.parametrize("op,offset", STORE_CASES)
def test_store(op, offset):
    """Store a value into a copy of the pattern; only `size` bytes change (misaligned ones too)."""
    size = STORES[op]
    value = 0x1122_3344_5566_7788
    body = ("    la a0, __sig\n    la a1, pattern\n"
            "    ld t0, 0(a1)\n    sd t0, 0(a0)\n    ld t0, 8(a1)\n    sd t0, 8(a0)\n"
            f"    li a2, {value}\n    {op} a2, {offset}(a0)\n")
    r = harness.run(body, DATA)
    expect_no_traps(r)
    expected = bytearray(PATTERN)
    expected[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    got = r.sig[0].to_bytes(8, "little") + r.sig[1].to_bytes(8, "little")
    assert got == bytes(expected)


def test_store_then_load_all_widths():
    body = ("    la a0, __sig\n    li a1, -2\n"
            "    sd a1, 0(a0)\n    sw a1, 8(a0)\n    sh a1, 16(a0)\n    sb a1, 24(a0)\n"
            "    ld s2, 0(a0)\n    lw s3, 8(a0)\n    lwu s4, 8(a0)\n    lh s5, 16(a0)\n"
            "    lhu s6, 16(a0)\n    lb s7, 24(a0)\n    lbu s8, 24(a0)\n")
    r = harness.run(body)
    expect_regs(r, s2=spec.u64(-2), s3=spec.u64(-2), s4=0xFFFF_FFFE, s5=spec.u64(-2),
                s6=0xFFFE, s7=spec.u64(-2), s8=0xFE)


def test_load_into_x0_still_accesses_memory():
    """lw x0 from a hole still raises the access fault (the load is performed, the value discarded)."""
    r = harness.run("    li a0, 0x08000000\nload_at:\n    lw zero, 0(a0)\n")
    assert [(t.cause, t.epc, t.tval) for t in r.traps] == [(5, r.symbols["load_at"], 0x0800_0000)]


def test_fence_and_fence_i_execute():
    r = harness.run("    li a0, 1\n    fence\n    fence rw, rw\n    fence.i\n    fence.tso\n    li a1, 2\n")
    expect_no_traps(r)
    expect_regs(r, a0=1, a1=2)


def test_fence_i_makes_stores_visible_to_fetch():
    """Patch an instruction that already ran once, fence.i, run it again."""
    body = ("    li s2, 0\n"
            "1:  call patched\n    add s2, s2, a0\n"
            "    la t0, patched\n    li t1, 0x00500513\n"      # addi a0, zero, 5
            "    sw t1, 0(t0)\n    fence.i\n"
            "    addi s3, s3, 1\n    li t2, 2\n    bltu s3, t2, 1b\n"
            "    j 9f\n    .balign 4\npatched:\n    .word 0x00100513\n    ret\n9:\n")   # addi a0, zero, 1
    r = harness.run(body)
    expect_regs(r, s2=1 + 5)
