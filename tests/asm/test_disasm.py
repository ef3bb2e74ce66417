"""Unit tests of pyvmm.asm.disasm: spellings checked once against objdump 2.40.

These run without binutils; test_disasm_objdump.py compares against the
installed objdump wholesale.
"""

import pytest

from pyvmm import isa
from pyvmm.asm.disasm import (CSR_DISPLAY_NAMES, Disassembler, Symbol, SymbolTable,
                              disassemble, disassemble_bytes, extensions_from_march,
                              insn_length, unknown_text)

PC = 0x8000_0000
SYMS = {"_start": PC}

# (word, expected text) as riscv64-unknown-elf-objdump 2.40 prints them at PC
# with the single symbol _start = PC.
SPELLINGS = [
    (0x0505, "add\ta0,a0,1"),                 # c.addi: objdump uses the 32-bit alias name
    (0x0501, "add\ta0,a0,0"),                 # c.addi HINT with a zero immediate
    (0x4505, "li\ta0,1"),
    (0x4001, "c.li\tzero,0"),                 # HINTs with rd=x0 keep their c.* names
    (0x0005, "c.nop\t1"),
    (0x0001, "nop"),
    (0x0000, "unimp"),
    (0x6549, "lui\ta0,0x12"),
    (0x757D, "lui\ta0,0xfffff"),
    (0x852E, "mv\ta0,a1"),
    (0x8082, "ret"),
    (0x9502, "jalr\ta0"),
    (0x8502, "jr\ta0"),
    (0x9002, "ebreak"),
    (0x2501, "sext.w\ta0,a0"),
    (0x2085, "addw\tra,ra,1"),
    (0x1141, "add\tsp,sp,-16"),
    (0x0040, "add\ts0,sp,4"),
    (0x6101, "add\tsp,sp,0"),                 # reserved, but binutils prints it
    (0x0002, "c.slli64\tzero"),
    (0x8001, "c.srli64\ts0"),
    (0x8401, "c.srai64\ts0"),
    (0x0086, "sll\tra,ra,0x1"),
    (0x8805, "and\ts0,s0,1"),
    (0x8C05, "sub\ts0,s0,s1"),
    (0x9C05, "subw\ts0,s0,s1"),
    (0x9006, "c.add\tzero,ra"),
    (0x8006, "c.mv\tzero,ra"),
    (0x6005, "c.lui\tzero,0x1"),
    (0x4000, "lw\ts0,0(s0)"),
    (0x7FFE, "ld\tt6,504(sp)"),
    (0xC002, "sw\tzero,0(sp)"),
    (0xFFFE, "sd\tt6,504(sp)"),
    (0xBFCD, "j\t7ffffff2 <_start-0xe>"),
    (0xD965, "beqz\ta0,7ffffff0 <_start-0x10>"),
    (0x8002, ".2byte\t0x8002"),               # c.jr x0: reserved
    (0x2001, ".2byte\t0x2001"),               # c.addiw x0: reserved
    (0x00000013, "nop"),
    (0x00100513, "li\ta0,1"),
    (0x00058513, "mv\ta0,a1"),
    (0x00150513, "add\ta0,a0,1"),             # addi: objdump 2.40 prints "add"
    (0x3455051B, "addw\ta0,a0,837"),          # addiw
    (0x0005851B, "sext.w\ta0,a1"),
    (0xFFF5C513, "not\ta0,a1"),
    (0x0015B513, "seqz\ta0,a1"),
    (0x00B03533, "snez\ta0,a1"),
    (0x0005A533, "sltz\ta0,a1"),
    (0x00B02533, "sgtz\ta0,a1"),
    (0x40B00533, "neg\ta0,a1"),
    (0x40B0053B, "negw\ta0,a1"),
    (0x00C79E1B, "sllw\tt3,a5,0xc"),           # slliw
    (0x43765013, "sra\tzero,a2,0x37"),         # srai
    (0x0EB5FC93, "and\ts9,a1,235"),            # andi
    (0x0FF5F593, "zext.b\ta1,a1"),             # andi 255
    (0x00C06E93, "or\tt4,zero,12"),            # ori
    (0x00A52913, "slti\ts2,a0,10"),
    (0x5FDDB013, "sltiu\tzero,s11,1533"),
    (0x00008067, "ret"),
    (0x00050067, "jr\ta0"),
    (0x000500E7, "jalr\ta0"),
    (0x004500E7, "jalr\t4(a0)"),
    (0x00038367, "jalr\tt1,t2"),
    (0xFEE40967, "jalr\ts2,-18(s0)"),
    (0xF75FF0EF, "jal\t7fffff74 <_start-0x8c>"),
    (0x000483EF, "jal\tt2,80048000 <_start+0x48000>"),
    (0x0000006F, "j\t80000000 <_start>"),
    (0xFEB507E3, "beq\ta0,a1,7fffffee <_start-0x12>"),
    (0x00050463, "beqz\ta0,80000008 <_start+0x8>"),
    (0x00A05463, "blez\ta0,80000008 <_start+0x8>"),
    (0x00055463, "bgez\ta0,80000008 <_start+0x8>"),
    (0x00054463, "bltz\ta0,80000008 <_start+0x8>"),
    (0x00A04463, "bgtz\ta0,80000008 <_start+0x8>"),
    (0x00B56463, "bltu\ta0,a1,80000008 <_start+0x8>"),
    (0x00000517, "auipc\ta0,0x0"),
    (0x80A13023, "sd\ta0,-2048(sp)"),
    (0xFF813503, "ld\ta0,-8(sp)"),
    (0x30002573, "csrr\ta0,mstatus"),
    (0x30051073, "csrw\tmstatus,a0"),
    (0x30059573, "csrrw\ta0,mstatus,a1"),
    (0x7C05A573, "csrrs\ta0,0x7c0,a1"),
    (0x3402D573, "csrrw\ta0,mscratch,5"),      # csrrwi keeps the csrrw name
    (0x3402D073, "csrw\tmscratch,5"),
    (0xF1697073, "csrc\t0xf16,18"),            # csrrci rd=x0
    (0x463062F3, "csrrs\tt0,0x463,0"),         # csrrsi
    (0xC0002573, "rdcycle\ta0"),
    (0xC0102573, "rdtime\ta0"),
    (0xC0202573, "rdinstret\ta0"),
    (0xC0001073, "unimp"),                     # csrrw x0, cycle, x0
    (0x0FF0000F, "fence"),
    (0x0330000F, "fence\trw,rw"),
    (0x0100000F, "pause"),
    (0x8330000F, "fence.tso"),
    (0x0000100F, "fence.i"),
    (0x1330000F, ".4byte\t0x1330000f"),        # fence with a reserved fm
    (0x0000108F, ".4byte\t0x108f"),            # fence.i with rd != 0
    (0x00000073, "ecall"),
    (0x00100073, "ebreak"),
    (0x10200073, "sret"),
    (0x30200073, "mret"),
    (0x10500073, "wfi"),
    (0x12000073, "sfence.vma"),
    (0x12050073, "sfence.vma\ta0"),
    (0x12100073, "sfence.vma\tzero,ra"),
    (0x22B50073, "hfence.vvma\ta0,a1"),
    (0x62000073, "hfence.gvma"),
    (0x6005C573, "hlv.b\ta0,(a1)"),
    (0x6435C573, "hlvx.hu\ta0,(a1)"),
    (0x6EA5C073, "hsv.d\ta0,(a1)"),
    (0x6EA5C573, ".4byte\t0x6ea5c573"),        # hsv with rd != 0
    (0x00200073, "uret"),                      # binutils still names these
    (0x20200073, "hret"),
    (0x7B200073, "dret"),
    (0x10400073, "sfence.vm"),
    (0x1005A52F, "lr.w\ta0,(a1)"),
    (0x1EB6352F, "sc.d.aqrl\ta0,a1,(a2)"),
    (0x04B6252F, "amoadd.w.aq\ta0,a1,(a2)"),
    (0x02B50533, "mul\ta0,a0,a1"),
    (0x02B5453B, "divw\ta0,a0,a1"),
    (0x00000007, ".4byte\t0x7"),               # flw: not in rv64imac
    (0xFFFFFFFF, ".2byte\t0xffff"),            # >= 192-bit prefix: binutils reads 2 bytes
]


@pytest.mark.parametrize("word,expected", SPELLINGS, ids=["%08x" % w for w, _ in SPELLINGS])
def test_objdump_spelling(word, expected):
    length, text = disassemble(word, PC, SYMS)
    assert text == expected
    assert length == insn_length(word & 0xFFFF)


def test_targets_without_symbols_are_0x_addresses():
    assert disassemble(0x0000006F, 0x80000010) == (4, "j\t0x80000010")
    assert disassemble(0xBFCD, 0x10) == (2, "j\t0x2")


def test_zero_and_tp_based_accesses_get_an_address_comment():
    assert disassemble(0x63C00283, PC)[1] == "lb\tt0,1596(zero) # 0x63c"
    assert disassemble(0x00823503, PC)[1] == "ld\ta0,8(tp) # 0x8"
    assert disassemble(0xFE000C23, PC)[1] == "sb\tzero,-8(zero) # 0xfffffffffffffff8"


def test_lui_then_addi_comment_uses_the_remembered_value():
    dis = Disassembler({"msg": 0x80000010, "_start": PC})
    assert dis.disassemble(0x800005B7, PC)[1] == "lui\ta1,0x80000"
    # c.addi a1,16 after lui a1,0x80000: sign-extended like objdump
    assert dis.disassemble(0x05C1, PC + 4)[1] == \
        "add\ta1,a1,16 # ffffffff80000010 <msg+0xffffffff00000000>"
    # the value is consumed: the next use of a1 prints no comment
    assert dis.disassemble(0x05C1, PC + 6)[1] == "add\ta1,a1,16"


def test_auipc_then_jalr_and_gp_relative():
    dis = Disassembler({"_start": PC, "f": PC + 0x20, "__global_pointer$": PC + 0x800})
    assert dis.disassemble(0x00000297, PC)[1] == "auipc\tt0,0x0"
    assert dis.disassemble(0x020280E7, PC + 4)[1] == "jalr\t32(t0) # 80000020 <f>"
    assert dis.disassemble(0x0101B503, PC + 8)[1] == \
        "ld\ta0,16(gp) # 80000810 <__global_pointer$+0x10>"


def test_addiw_comment_is_sign_extended_from_32_bits():
    dis = Disassembler()
    dis.disassemble(0x7FFFF7B7, PC)                 # lui a5,0x7ffff
    assert dis.disassemble(0xFFF7879B, PC + 4)[1] == "addw\ta5,a5,-1 # 0x7fffefff"


def test_unknown_lengths():
    assert insn_length(0x0001) == 2
    assert insn_length(0x0013) == 4
    assert insn_length(0x001F) == 6
    assert insn_length(0x003F) == 8
    assert insn_length(0x007F) == 10
    assert insn_length(0x107F) == 12
    assert insn_length(0x707F) == 2
    assert unknown_text(0x3F, 8) == ".8byte\t0x3f"
    assert unknown_text(0x0000_0000_c01b_2002_0000_007F, 10) == \
        ".byte\t0x7f, 0x00, 0x00, 0x00, 0x02, 0x20, 0x1b, 0xc0, 0x00, 0x00"
    assert disassemble(0x1F, 0)[0] == 6
    assert disassemble(0x1F, 0)[1] == ".byte\t0x1f, 0x00, 0x00, 0x00, 0x00, 0x00"


def test_disassemble_bytes_walks_mixed_lengths_and_keeps_state():
    code = bytes.fromhex("b7050080") + bytes.fromhex("c105") + bytes.fromhex("13050000") + b"\x05"
    lines = list(disassemble_bytes(code, PC, {"_start": PC}))
    assert [(a, n) for a, n, _ in lines] == [(PC, 4), (PC + 4, 2), (PC + 6, 4), (PC + 10, 1)]
    assert lines[0][2] == "lui\ta1,0x80000"
    assert lines[1][2].startswith("add\ta1,a1,16 # ffffffff80000010 <")
    assert lines[2][2] == "li\ta0,0"
    assert lines[3][2] == ".byte\t0x05"            # fragment too short for an instruction


def test_symbol_table_prefers_objdump_order():
    table = SymbolTable([
        Symbol("local_b", 0x100, ".text", bind="local"),
        Symbol("glob", 0x100, ".text"),
        Symbol("func", 0x100, ".text", kind="func", bind="local"),
        Symbol(".hidden", 0x200, ".text"),
        Symbol("after", 0x200, ".text"),
        Symbol("$x", 0x300, ".text", bind="local"),
        Symbol("file.o", 0x300, "*ABS*", kind="file", bind="local"),
    ])
    assert table.nearest(0x100).name == "func"
    assert table.nearest(0x180).name == "func"
    assert table.nearest(0x200).name == "after"
    assert table.format_address(0x310) == "310 <after+0x110>"       # mapping/file symbols skipped
    assert table.format_address(0x10) == "10 <func-0xf0>"
    assert SymbolTable().format_address(0x10) == "0x10"


def test_csr_names_follow_the_privileged_spec():
    assert disassemble(0x34B02573, 0)[1] == "csrr\ta0,mtval2"                      # 1.12
    assert disassemble(0x34B02573, 0, priv_spec="1.11")[1] == "csrr\ta0,0x34b"
    assert disassemble(0x00002573, 0, priv_spec="1.11")[1] == "csrr\ta0,ustatus"
    assert disassemble(0x32002573, 0, priv_spec="1.11")[1] == "csrr\ta0,mcountinhibit"
    assert disassemble(0x32002573, 0, priv_spec="1.10")[1] == "csrr\ta0,0x320"
    assert disassemble(0x32002573, 0, priv_spec="1.9.1")[1] == "csrr\ta0,mucounteren"
    assert disassemble(0x18002573, 0, priv_spec="1.9.1")[1] == "csrr\ta0,sptbr"
    assert disassemble(0x3A002573, 0, priv_spec="1.9.1")[1] == "csrr\ta0,0x3a0"
    with pytest.raises(ValueError):
        disassemble(0x18002573, 0, priv_spec="2.0")


def test_csr_display_names_extend_isa():
    for number, name in isa.CSR_NAMES.items():
        assert CSR_DISPLAY_NAMES[number] == name
    assert CSR_DISPLAY_NAMES[0x001] == "fflags"
    assert disassemble(0x00102573, 0)[1] == "frflags\ta0"          # F's alias, as objdump with F
    assert disassemble(0x00102573, 0, march="rv64imac_zicsr")[1] == "csrr\ta0,fflags"
    assert disassemble(0x00002573, 0)[1] == "csrr\ta0,0x0"


def test_every_isa_instruction_has_an_objdump_rule():
    from pyvmm.asm.disasm import uncovered_instructions
    assert uncovered_instructions() == []


def test_every_isa_instruction_has_a_spelling():
    # an instruction isa decodes is never shown as raw data (fence variants aside)
    for ins in isa.INSTRUCTIONS:
        text = disassemble(ins.match, PC, SYMS)[1]
        assert not text.startswith("."), (ins.name, text)
    for cins in isa.COMPRESSED:
        word = cins.match
        decoded = isa.decode(word)
        if decoded is None:
            # a constraint rejects the all-zero operands: use operands of 1
            word = cins.match | sum(f.insert(f.range()[0] or f.align) for f in cins.fields)
            decoded = isa.decode(word)
        assert decoded is not None, cins.name
        text = disassemble(word, PC, SYMS)[1]
        assert not text.startswith("."), (cins.name, text)


@pytest.mark.parametrize("march,expected", [
    ("rv64i2p1_m2p0_a2p1_c2p0_h1p0_zicsr2p0_zifencei2p0_zmmul1p0",
     {"I", "priv", "M", "Zmmul", "A", "C", "H", "Zicsr", "Zifencei"}),
    ("rv64gc", {"I", "priv", "M", "Zmmul", "A", "F", "D", "C", "Zicsr", "Zifencei"}),
    ("rv64imac", {"I", "priv", "M", "Zmmul", "A", "C"}),
    ("rv64i2p0", {"I", "priv", "Zicsr", "Zifencei"}),      # i before 2.1 implied Zicsr/Zifencei
    ("rv64i_zmmul", {"I", "priv", "Zmmul"}),
    ("RV64IH", {"I", "priv", "H", "Zicsr"}),
    ("rv64imafdc_zicsr_zba_svinval", {"I", "priv", "M", "Zmmul", "A", "F", "D", "C", "Zicsr", "Zba"}),
    ("rv64imfc", {"I", "priv", "M", "Zmmul", "F", "C", "Zicsr"}),
    ("rv64i_zicbom_zicbop_zihintpause_zbs", {"I", "priv", "Zicbom", "Zicbop", "Zihintpause", "Zbs"}),
])
def test_extensions_from_march(march, expected):
    assert extensions_from_march(march) == frozenset(expected)


@pytest.mark.parametrize("bad", ["", "x86_64", "rv64", "imac"])
def test_extensions_from_bad_march(bad):
    with pytest.raises(ValueError):
        extensions_from_march(bad)


def test_march_limits_decoding():
    # hints without their extension are the base instruction they are encoded in
    assert disassemble(0x0100000F, PC, march="rv64i")[1] == "fence\tw,unknown"
    assert disassemble(0x02156013, PC, march="rv64i")[1] == "or\tzero,a0,33"
    assert disassemble(0x02156013, PC, march="rv64i_zicbop")[1] == "prefetch.r\t32(a0)"
    assert disassemble(0x0805853B, PC, march="rv64i_zbb")[1] == ".4byte\t0x805853b"
    assert disassemble(0x0805853B, PC, march="rv64i_zba")[1] == "zext.w\ta0,a1"
    assert disassemble(0x4505, PC, march="rv64im")[1] == ".2byte\t0x4505"
    assert disassemble(0x02B50533, PC, march="rv64i_zmmul")[1] == "mul\ta0,a0,a1"
    assert disassemble(0x02B54533, PC, march="rv64i_zmmul")[1] == ".4byte\t0x2b54533"
    assert disassemble(0x6005C573, PC, march="rv64gc")[1] == ".4byte\t0x6005c573"
    assert disassemble(0x30002573, PC, march="rv64i")[1] == ".4byte\t0x30002573"
    assert disassemble(0x10500073, PC, march="rv64i")[1] == "wfi"           # privileged: always
    assert disassemble(0x6005C573, PC)[1] == "hlv.b\ta0,(a1)"               # default: all of pyvmm


@pytest.mark.parametrize("word,expected", [
    (0x0505, "c.addi\ta0,1"),
    (0x0001, "c.addi\tzero,0"),
    (0x0000, "c.unimp"),
    (0x0502, "c.slli64\ta0"),
    (0x7179, "c.addi16sp\tsp,-48"),
    (0x0040, "c.addi4spn\ts0,sp,4"),
    (0x7FFE, "c.ldsp\tt6,504(sp)"),
    (0x8082, "c.jr\tra"),
    (0x00008067, "jalr\tzero,0(ra)"),
    (0x00000013, "addi\tzero,zero,0"),
    (0x30002573, "csrrs\ta0,mstatus,zero"),
    (0x3402D573, "csrrwi\ta0,mscratch,5"),
    (0x0FF0000F, "fence\tiorw,iorw"),
    (0x12000073, "sfence.vma\tzero,zero"),
    (0xC0001073, "unimp"),
    (0x0000006F, "jal\tzero,80000000 <_start>"),
])
def test_no_aliases(word, expected):
    assert disassemble(word, PC, SYMS, aliases=False)[1] == expected


def test_numeric_register_names():
    assert disassemble(0x1141, PC, numeric=True)[1] == "add\tx2,x2,-16"
    assert disassemble(0x4001, PC, numeric=True)[1] == "c.li\tx0,0"
    assert disassemble(0x0040, PC, numeric=True, aliases=False)[1] == "c.addi4spn\tx8,x2,4"
