"""Random S-mode kernels for comparing a technique with the board.

`random_kernel(seed)` is the source of a kernel (for `--bios builtin` or a
VM) that runs a few hundred random instructions over every register but sp
and tp: ALU operations, loads and stores at addresses drawn from guest-physical
page 0 (below RAM: access faults), the first page of RAM, the kernel's own
data, the old BT translation-cache address and, with paging on, virtual page
0; accesses of the scratch CSRs; forward branches; indirect calls through
random registers. About a third of the kernels run with Sv39 and a third
with Sv48 (virtual page 0 mapped to the first page of RAM). A trap handler
(tp-based, so it clobbers nothing the program uses) counts faults and folds
scause/stval and steps over the instruction. The kernel prints a fold of
every register and of the memory it may have written, then shuts down: the
same text natively and under a faithful technique.
"""

import random

RAM_BASE = 0x8000_0000
OLD_TC = 0x3F_C000_0000
# Registers the program draws from: all but zero, sp (x2) and tp (x4: the handler's).
REGS = [1, 3] + list(range(5, 32))
ALU_R = ["add", "sub", "xor", "or", "and", "slt", "sltu", "sll", "srl", "sra", "addw", "subw",
         "mul", "mulhu", "divu", "remw"]
ALU_I = ["addi", "xori", "ori", "andi", "slti", "addiw"]
LOADS = ["ld", "lw", "lwu", "lh", "lbu"]
STORES = ["sd", "sw", "sh", "sb"]
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
SCRATCH_CSRS = ["sscratch", "sepc", "scause", "stval"]

HEADER = """
    .option norvc                   # the trap handler steps over 4-byte instructions
    .equ RAM_BASE, 0x80000000
    .section .text
    .globl _start
_start:
    la      tp, handler_area
    la      t0, trap
    csrw    stvec, t0
"""

PAGING = """
    la      t0, l1
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, root
    sd      t0, 0(t1)
    li      t2, (RAM_BASE >> 12) << 10 | 0xCF
    sd      t2, 16(t1)              # gigapage identity for the kernel
    la      t0, l0
    srli    t0, t0, 12
    slli    t0, t0, 10
    ori     t0, t0, 1
    la      t1, l1
    sd      t0, 0(t1)
    li      t2, (RAM_BASE >> 12) << 10 | 0xC7
    la      t1, l0
    sd      t2, 0(t1)               # VA 0 -> the first page of RAM
    la      t0, root4
    la      t1, root
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, 1
    sd      t1, 0(t0)
    la      t0, {root}
    srli    t0, t0, 12
    li      t1, {mode} << 60
    or      t0, t0, t1
    csrw    satp, t0
    sfence.vma
"""

FOOTER = """
    # fold every register the program used, then the memory it may have written
    la      sp, fold_area
{saves}
    csrw    satp, zero
    sfence.vma
    li      a0, 0
    la      s0, fold_area
    li      s1, {nsaved}
    call    fold
    li      s0, RAM_BASE
    li      s1, 512
    call    fold
    la      s0, data
    li      s1, 512
    call    fold
    csrr    t0, sscratch
    xor     a0, a0, t0
    mv      s2, a0
    la      s3, handler_area
    ld      a0, 16(s3)
    call    print_hex
    ld      a0, 24(s3)
    call    print_hex
    mv      a0, s2
    call    print_hex
    li      a0, '\\n'
    li      a7, 1
    ecall
    li      a7, 8
    ecall
1:  j       1b

fold:                               # a0 = fold(a0, s1 doublewords at s0)
    ld      t1, 0(s0)
    slli    t2, a0, 7
    srli    a0, a0, 57
    or      a0, a0, t2
    xor     a0, a0, t1
    addi    s0, s0, 8
    addi    s1, s1, -1
    bnez    s1, fold
    ret

print_hex:                          # a0: " " then 16 hex digits
    mv      s4, a0
    mv      s6, ra
    li      a0, ' '
    li      a7, 1
    ecall
    li      s5, 60
1:  srl     a0, s4, s5
    andi    a0, a0, 15
    li      t0, 10
    blt     a0, t0, 2f
    addi    a0, a0, 'a' - 10 - '0'
2:  addi    a0, a0, '0'
    li      a7, 1
    ecall
    addi    s5, s5, -4
    bgez    s5, 1b
    mv      ra, s6
    ret

    .balign 4
trap:                               # count, fold scause and stval, step over
    sd      t5, 0(tp)
    sd      t6, 8(tp)
    ld      t5, 16(tp)
    addi    t5, t5, 1
    sd      t5, 16(tp)
    ld      t6, 24(tp)
    slli    t5, t6, 5
    sub     t6, t5, t6
    csrr    t5, scause
    add     t6, t6, t5
    csrr    t5, stval
    xor     t6, t6, t5
    sd      t6, 24(tp)
    csrr    t5, sepc
    addi    t5, t5, 4
    csrw    sepc, t5
    ld      t5, 0(tp)
    ld      t6, 8(tp)
    sret
{functions}
    .section .data
    .balign 4096
data:
{data}
    .section .bss
    .balign 4096
root:   .space 4096
l1:     .space 4096
l0:     .space 4096
root4:  .space 4096
handler_area: .space 64
fold_area: .space 512
"""


def _addresses(rng, paging):
    choices = [("page0", lambda: rng.randrange(0, 4096, 8)),
               ("ram0", lambda: RAM_BASE + rng.randrange(0, 4096, 8)),
               ("data", None),
               ("oldtc", lambda: OLD_TC + rng.randrange(0, 4096, 8))]
    if paging:
        choices.append(("va0", lambda: rng.randrange(0, 4096, 8)))
    return choices


def random_kernel(seed, length=300):
    """(source, paging mode name) of the random kernel for `seed`."""
    rng = random.Random(seed)
    paging = rng.choice(["bare", "sv39", "sv48"])
    lines = [HEADER]
    if paging != "bare":
        lines.append(PAGING.format(root="root" if paging == "sv39" else "root4",
                                   mode=8 if paging == "sv39" else 9))
    for reg in REGS:
        lines.append(f"    li      x{reg}, {rng.choice([0, 1, -1, rng.getrandbits(64), RAM_BASE])}")
    functions = []
    addresses = _addresses(rng, paging != "bare")
    for i in range(length):
        kind = rng.random()
        r = lambda: f"x{rng.choice(REGS)}"
        if kind < 0.3:
            lines.append(f"    {rng.choice(ALU_R)} {r()}, {r()}, {r()}")
        elif kind < 0.45:
            lines.append(f"    {rng.choice(ALU_I)} {r()}, {r()}, {rng.randrange(-2048, 2048)}")
        elif kind < 0.7:
            base = r()
            where, offset = rng.choice(addresses)
            if where == "data":
                lines.append(f"    la      {base}, data + {rng.randrange(0, 4096 - 8, 8)}")
            else:
                lines.append(f"    li      {base}, {offset()}")
            op = rng.choice(LOADS + STORES)
            value = r()
            if value == base and op in STORES:
                value = "x0" if rng.random() < 0.2 else value
            lines.append(f"    {op} {value}, 0({base})")
        elif kind < 0.8:
            op = rng.choice(["csrrw", "csrrs", "csrrc", "csrr", "csrw"])
            csr = rng.choice(SCRATCH_CSRS)
            if op == "csrr":
                lines.append(f"    csrr    {r()}, {csr}")
            elif op == "csrw":
                lines.append(f"    csrw    {csr}, {r()}")
            else:
                lines.append(f"    {op} {r()}, {csr}, {r()}")
        elif kind < 0.92:
            lines.append(f"    {rng.choice(BRANCHES)} {r()}, {r()}, 1f")
            lines.append(f"    {rng.choice(ALU_I)} {r()}, {r()}, {rng.randrange(-2048, 2048)}")
            lines.append("1:")
        else:
            target, link = rng.choice(REGS), rng.choice(REGS)
            while link == target:
                link = rng.choice(REGS)
            lines.append(f"    la      x{target}, function_{i}")
            lines.append(f"    jalr    x{link}, 0(x{target})")
            functions.append(f"function_{i}:\n    addi    x{target}, x{target}, 1\n"
                             f"    jalr    x0, 0(x{link})")
    saved = [reg for reg in REGS]
    saves = "\n".join(f"    sd      x{reg}, {8 * i}(sp)" for i, reg in enumerate(saved))
    data = "\n".join(f"    .dword {rng.getrandbits(64)}" for _ in range(512))
    lines.append(FOOTER.format(saves=saves, nsaved=len(saved), functions="\n".join(functions),
                               data=data))
    return "\n".join(lines), paging
