import pytest
from hypothesis import given, strategies as st

from pyvmm import isa


def test_every_valid_parcel_reencodes_and_expands_consistently():
    valid = 0
    for half in range(65536):
        if half & 3 == 3:
            continue
        decoded = isa.decode(half)
        word = isa.expand_compressed(half)
        assert (decoded is None) == (word is None), hex(half)
        if decoded is None:
            continue
        valid += 1
        cins, operands = decoded
        assert isa.encode(cins.name, **operands) == half
        ins, operands32 = isa.decode(word)
        assert ins.name == cins.expands_to[0]
        halves = {isa.encode(c.name, **ops) for c, ops in isa.compress_candidates(ins.name, operands32)}
        assert half in halves, (hex(half), cins.name)
    # 3 quadrants x 2^14 less reserved parcels (counted in the objdump test); the
    # four double-precision loads/stores (c.fld c.fsd c.fldsp c.fsdsp, 2^11 each) included
    assert valid == 38551 + 4 * 2 ** 11


def test_reserved_parcels_are_illegal():
    for half in (0x0000, 0x6101, 0x6001, 0x4002, 0x6002, 0x8002, 0x2001):
        assert isa.expand_compressed(half) is None, hex(half)


def test_encode_reports_the_range():
    with pytest.raises(isa.EncodingError, match=r"imm 2048 out of range \[-2048, 2047\]"):
        isa.encode("addi", rd=1, rs1=1, imm=2048)
    with pytest.raises(isa.EncodingError, match="multiple of 2"):
        isa.encode("beq", rs1=1, rs2=2, imm=3)
    with pytest.raises(isa.EncodingError, match="x5 not allowed"):
        isa.encode("c.lw", rd=5, rs1=8, imm=0)
    with pytest.raises(isa.EncodingError, match="missing operand"):
        isa.encode("add", rd=1, rs1=2)
    with pytest.raises(isa.EncodingError, match="unknown instruction"):
        isa.encode("frobnicate")


@pytest.mark.parametrize("name,operands,word", [
    ("addi", dict(rd=10, rs1=10, imm=-1), 0xFFF50513),
    ("jal", dict(rd=1, imm=-2048), 0x801FF0EF),
    ("lui", dict(rd=10, imm=0xFFFFF), 0xFFFFF537),
    ("sd", dict(rs2=1, rs1=2, imm=8), 0x00113423),
    ("csrrw", dict(rd=0, csr=0x305, rs1=10), 0x30551073),
    ("hlv.d", dict(rd=10, rs1=11), 0x6C05C573),
    ("hsv.w", dict(rs2=10, rs1=11), 0x6AA5C073),
    ("hfence.gvma", dict(rs1=0, rs2=0), 0x62000073),
    ("mret", {}, 0x30200073),
    ("fence", dict(pred=15, succ=15), 0x0FF0000F),
    ("c.addi16sp", dict(imm=-48), 0x7179),
    ("c.lui", dict(rd=10, imm=0xFFFFF), 0x757D),
    ("c.j", dict(imm=20), 0xA811),
])
def test_known_encodings(name, operands, word):
    assert isa.encode(name, **operands) == word
    entry, decoded = isa.decode(word)
    assert entry.name == name and decoded == operands


@given(st.integers(0, 2**32 - 1))
def test_decode_encode_round_trip_32(word):
    word |= 3
    decoded = isa.decode(word)
    if decoded is None:
        return
    entry, operands = decoded
    reencoded = isa.encode(entry.name, **operands)
    # fields a decoder ignores (fence fm/rs1/rd) re-encode as zero
    assert reencoded == word & (entry.mask | sum(f.instr_mask for f in entry.fields))


def test_csr_numbers_and_names():
    assert isa.CSRS["hstatus"] == 0x600 and isa.CSRS["hgatp"] == 0x680 and isa.CSRS["vsatp"] == 0x280
    assert isa.CSRS["stimecmp"] == 0x14D and isa.CSRS["vstimecmp"] == 0x24D
    assert isa.CSRS["pmpcfg15"] == 0x3AF and isa.CSRS["pmpaddr63"] == 0x3EF
    assert isa.CSRS["mhpmcounter31"] == 0xB1F and isa.CSRS["mhpmevent3"] == 0x323
    assert isa.csr_name(0x300) == "mstatus" and isa.csr_number("fp") is None
    assert isa.csr_number("sbadaddr") == 0x143


def test_registers_and_causes():
    assert isa.reg_number("fp") == 8 == isa.reg_number("s0") == isa.reg_number("x8")
    assert isa.reg_name(2) == "sp" and isa.reg_number("x32") is None
    assert isa.cause_name(22) == "virtual instruction"
    assert isa.cause_name(isa.INTERRUPT_BIT | 7) == "machine timer interrupt"
    assert isa.EXC_STORE_GUEST_PAGE_FAULT == 23


@given(st.integers(0, 2**32 - 1))
def test_decode_entry_is_the_entry_decode_finds(word):
    from pyvmm.isa import codec
    word |= 3
    decoded = codec.decode(word)
    assert codec.decode_entry(word) is (None if decoded is None else decoded[0])
