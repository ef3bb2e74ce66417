"""CopyScan, the core's table of the guest instructions the bt translator
emits without a decision (words copied unchanged, superblock branches) and
its scan of a run of them from a code page: what it holds, what a run
emits, where it stops, and that it reads nothing outside the buffer."""

import array
import random

import pytest

core = pytest.importorskip("pyvmm._core")
CopyScan = core.CopyScan

PAGE = 4096
BASE = 0x8020_0000
ADD = 0x00C5_8533                      # add a0, a1, a2
SUB = 0x40C5_8533                      # sub a0, a1, a2
C_LI = 0x4501                          # c.li a0, 0
C_LI_WORD = 0x0000_0513                # addi a0, zero, 0
BNE = 0xFEB5_1CE3                      # bne a0, a1, -8
C_BEQZ = 0xDD75                        # c.beqz a0, -4
STUB = (0x73, 0x13, 0x13)              # an exit stub: ecall, two nops
HOP = 0x00B5_0863                      # beq a0, a1, 16: over the stub


def parcels_of(*words, fill=0x0001):
    """A page of 16-bit parcels: `words` (16-bit parcels or 32-bit words) from its start, c.nop after."""
    out = array.array("H")
    for w in words:
        out.append(w & 0xFFFF)
        if w & 3 == 3:
            out.append(w >> 16)
    out.extend([fill] * (PAGE // 2 - len(out)))
    return out


def table(*pairs, limit=1 << 10):
    scan = CopyScan(limit, STUB, "exit")
    for raw, word in pairs:
        scan.add(raw, word)
    return scan


def run(scan, parcels, pc, limit=64, ptstores=(), first=0, tc_addr=0x1000, words=None,
        callouts=None):
    words = [] if words is None else words
    starts, pcs = [], []
    callouts = [] if callouts is None else callouts
    end = scan.scan(memoryview(parcels), first, pc, limit, ptstores, tc_addr, words, starts, pcs,
                    callouts)
    stubs = sum(record[0] == "exit" for _, record in callouts)
    assert scan.emitted == len(pcs) - stubs              # a pc each, and one each stub
    return end, words, starts, pcs


def test_the_table_holds_what_was_added():
    scan = table((ADD, ADD), (C_LI, C_LI_WORD))
    assert len(scan) == 2 and scan.get(ADD) == (ADD, None) and scan.get(C_LI) == (C_LI_WORD, None)
    assert scan.get(SUB) is None and scan.get(0x0001) is None and scan.get(0) is None
    scan.add(ADD, SUB)                                 # a second add replaces the word
    assert len(scan) == 2 and scan.get(ADD) == (SUB, None)
    scan.add_branch(BNE, HOP, -8)
    assert len(scan) == 3 and scan.get(BNE) == (HOP, -8)
    scan.clear()
    assert len(scan) == 0 and scan.get(ADD) is None


def test_many_words_collide_and_are_all_found():
    rng = random.Random(7)
    raws = {rng.getrandbits(32) | 3 for _ in range(3000)} | {rng.getrandbits(16) & ~3 | 1
                                                             for _ in range(300)}
    scan = CopyScan(4096)
    for raw in raws:
        scan.add(raw, raw ^ 0xFFFF_0000)
    assert len(scan) == len(raws)
    assert all(scan.get(raw) == (raw ^ 0xFFFF_0000, None) for raw in raws)
    assert sum(scan.get(rng.getrandbits(32) | 3) is not None for _ in range(1000)) <= 5


def test_a_full_table_starts_again():
    scan = CopyScan(2)
    scan.add(ADD, ADD)
    scan.add(SUB, SUB)
    scan.add(C_LI, C_LI_WORD)
    assert len(scan) == 1 and scan.get(ADD) is None and scan.get(C_LI) == (C_LI_WORD, None)


@pytest.mark.parametrize("raw", [0, 0x1_0001, 0x2_0000])
def test_what_is_no_instruction_is_refused(raw):
    with pytest.raises(ValueError):
        CopyScan().add(raw, 0x13)


@pytest.mark.parametrize("offset", [1, -4098, 4096])
def test_a_branch_offset_out_of_range_is_refused(offset):
    with pytest.raises(ValueError):
        table().add_branch(BNE, HOP, offset)


def test_branches_need_a_stub():
    with pytest.raises(ValueError):
        CopyScan().add_branch(BNE, HOP, -8)


@pytest.mark.parametrize("limit", [0, -1, 1 << 27])
def test_a_table_size_out_of_range_is_refused(limit):
    with pytest.raises(ValueError):
        CopyScan(limit)


def test_a_run_copies_until_a_word_not_held():
    scan = table((ADD, ADD), (C_LI, C_LI_WORD))
    end, words, starts, pcs = run(scan, parcels_of(ADD, C_LI, ADD, SUB, ADD), BASE)
    assert end == BASE + 10
    assert words == [ADD, C_LI_WORD, ADD]
    assert starts == [0x1000, 0x1004, 0x1008]
    assert pcs == [BASE, BASE + 4, BASE + 6]


def test_a_run_goes_on_from_the_lists_it_is_given():
    scan = table((ADD, ADD))
    end, words, starts, _ = run(scan, parcels_of(ADD, ADD), BASE, words=[7, 8, 9])
    assert end == BASE + 8 and words == [7, 8, 9, ADD, ADD] and starts == [0x100C, 0x1010]


def test_a_run_stops_at_a_ptstore_pc_and_at_its_limit():
    scan = table((ADD, ADD))
    page = parcels_of(*[ADD] * 10)
    assert run(scan, page, BASE, ptstores={BASE + 12})[0] == BASE + 12
    assert run(scan, page, BASE, ptstores=frozenset({BASE}))[1:] == ([], [], [])
    end, words, _, _ = run(scan, page, BASE, limit=3)
    assert end == BASE + 12 and len(words) == 3
    assert run(scan, page, BASE, limit=0)[1] == []


def test_a_run_ends_with_its_page():
    scan = table((ADD, ADD), (0x0001, 0x13))
    page = parcels_of()
    end, words, _, _ = run(scan, page, BASE + PAGE - 8)
    assert end == BASE + PAGE and len(words) == 4
    # A 4-byte instruction straddling the page's end is left to the translator.
    page[PAGE // 2 - 1] = ADD & 0xFFFF
    end, words, _, pcs = run(scan, page, BASE + PAGE - 8)
    assert end == BASE + PAGE - 2 and pcs[-1] == BASE + PAGE - 4


def test_a_run_reads_nothing_outside_the_buffer():
    scan = table((ADD, ADD), (0x0001, 0x13))
    two = parcels_of() + parcels_of()
    # the page's index beyond the buffer, or before it: nothing read
    assert run(scan, two, BASE, first=len(two))[1] == []
    assert run(scan, two, BASE, first=-1)[1] == []
    # a buffer that ends inside the page: the run ends with the buffer
    short = parcels_of()[:10]
    short[9] = ADD & 0xFFFF
    end, words, _, _ = run(scan, short, BASE)
    assert end == BASE + 18 and len(words) == 9


@pytest.mark.parametrize("parcels", [bytes(PAGE), memoryview(bytes(PAGE)).cast("I"), [1] * 2048])
def test_only_16_bit_parcels_are_scanned(parcels):
    scan = table((0x0001, 0x13))
    with pytest.raises(TypeError):
        scan.scan(parcels, 0, BASE, 4, (), 0, [], [], [], [])


def test_a_branch_hops_over_an_exit_stub_and_the_run_goes_on():
    scan = table((ADD, ADD))
    scan.add_branch(BNE, HOP, -8)
    scan.add_branch(C_BEQZ, HOP, -4)
    callouts = []
    end, words, starts, pcs = run(scan, parcels_of(ADD, BNE, C_BEQZ, ADD, SUB), BASE,
                                  callouts=callouts)
    assert end == BASE + 14
    assert words == [ADD, HOP, *STUB, HOP, *STUB, ADD]
    assert starts == [0x1000, 0x1004, 0x1008, 0x1014, 0x1018, 0x1024]
    assert pcs == [BASE, BASE + 4, BASE - 4, BASE + 8, BASE + 4, BASE + 10]
    assert callouts == [(0x1008, ("exit", BASE - 4, 0, 4, BASE - 4, 0, 0)),
                        (0x1018, ("exit", BASE + 4, 0, 4, BASE + 4, 0, 0))]
    assert scan.emitted == 4


def test_a_branch_target_wraps_around_the_address_space():
    scan = table()
    scan.add_branch(BNE, HOP, -8)
    callouts = []
    run(scan, parcels_of(BNE), 0, callouts=callouts)
    assert callouts[0][1][1] == (1 << 64) - 8


# --- words the scan decides by itself (set_rewrites) ------------------------------------

GP = 3                                  # the runtime's base register in translated code
MASKS = [0x707F] * 1024                 # shapes by opcode and funct3 alone, for these tests
HOP_BITS = 0x800                        # beq's imm 16: over a 3-word stub
JAL_RA = 0x0080_00EF                    # jal ra, +8
J_BACK = 0xFF9F_F06F                    # jal x0, -8
AUIPC_RA = 0x0000_1097                  # auipc ra, 0x1
JALR_RA = 0x0100_80E7                   # jalr ra, 16(ra)
JALR_T0 = 0x0002_80E7                   # jalr ra, 0(t0)
CSRR = 0x1000_2573                      # csrr a0, sstatus
HIGH = 0xFFFF_FFFF_8020_0000            # a kernel's code: its constants are 32-bit ones


def deciding(*pairs):
    scan = table(*pairs)
    scan.set_rewrites(MASKS, GP, HOP_BITS)
    return scan


def test_a_shape_s_answer_decides_its_words():
    scan = deciding()
    assert scan.shape_answer(ADD) is None
    scan.add_shape(ADD, (7, 15, 20))
    scan.add_shape(CSRR, None)
    # SUB differs from ADD only outside these masks (funct7): the same shape
    assert scan.shape_answer(SUB) == (7, 15, 20) and scan.shape_answer(CSRR) is False
    end, words, _, pcs = run(scan, parcels_of(ADD, SUB, CSRR), HIGH)
    assert end == HIGH + 8 and words == [ADD, SUB] and pcs == [HIGH, HIGH + 4]
    # a word decided is held, as the translator's add would hold it
    assert scan.get(SUB) == (SUB, None)


@pytest.mark.parametrize("field", [7, 15, 20])
def test_a_copyable_word_naming_the_base_register_is_the_translator_s(field):
    scan = deciding()
    scan.add_shape(ADD, (7, 15, 20))
    on_gp = ADD & ~(31 << field) | GP << field
    assert run(scan, parcels_of(on_gp), HIGH)[1] == []
    # a field the shape does not name may hold any register
    scan.add_shape(ADD, tuple(lo for lo in (7, 15, 20) if lo != field))
    assert run(scan, parcels_of(on_gp), HIGH)[1] == [on_gp]


def test_shapes_need_rewrites_32_bit_words_and_register_fields():
    with pytest.raises(ValueError):
        table().add_shape(ADD, (7,))
    with pytest.raises(ValueError):
        deciding().add_shape(C_LI, (7,))
    with pytest.raises(ValueError):
        deciding().add_shape(ADD, (8,))
    with pytest.raises(ValueError):
        table().set_rewrites(MASKS[:-1], GP, HOP_BITS)
    with pytest.raises(ValueError):
        CopyScan().set_rewrites(MASKS, GP, HOP_BITS)          # no stub
    with pytest.raises(ValueError):
        table().set_rewrites(MASKS, 0, HOP_BITS)


def test_a_branch_not_held_is_decided_and_held():
    scan = deciding()
    callouts = []
    end, words, _, pcs = run(scan, parcels_of(BNE), HIGH, callouts=callouts)
    assert words == [HOP, *STUB] and pcs == [HIGH, HIGH - 8]
    assert callouts == [(0x1004, ("exit", HIGH - 8, 0, 4, HIGH - 8, 0, 0))]
    assert scan.get(BNE) == (HOP, -8) and not scan.ended


def test_a_jal_links_then_ends_the_block_in_its_stub():
    scan = deciding((ADD, ADD))
    callouts = []
    end, words, starts, pcs = run(scan, parcels_of(ADD, JAL_RA, ADD), HIGH, callouts=callouts)
    link = HIGH + 8 - (1 << 64)               # lui ra, then addiw ra, ra: the sign-extended value
    upper = (link + 0x800) >> 12
    assert words == [ADD, 0x37 | 1 << 7 | (upper & 0xFFFFF) << 12,
                     0x1B | 1 << 7 | 1 << 15 | ((link - (upper << 12)) & 0xFFF) << 20, *STUB]
    assert end == HIGH + 8 and scan.ended and scan.emitted == 2
    assert starts == [0x1000, 0x1004, 0x100C] and pcs == [HIGH, HIGH + 4, HIGH + 12]
    assert callouts == [(0x100C, ("exit", HIGH + 12, 0, 4, HIGH + 12, 0, 0))]
    # without a link register: the stub alone
    end, words, _, pcs = run(deciding(), parcels_of(J_BACK), HIGH)
    assert words == list(STUB) and pcs == [HIGH, HIGH - 8]


def test_auipc_then_its_jalr_is_a_direct_jump():
    scan = deciding()
    callouts = []
    end, words, _, pcs = run(scan, parcels_of(AUIPC_RA, JALR_RA), HIGH, callouts=callouts)
    target = (HIGH + 0x1000 + 16) & ~1
    assert scan.ended and end == HIGH + 8 and pcs == [HIGH, HIGH + 4, target]
    assert callouts[0][1][1] == target
    # auipc's value in ra (lui alone: its low 12 bits are 0), jalr's link
    # in ra (lui and addiw), then the stub
    assert words == [0x8020_10B7, 0x8020_00B7, 0x0080_809B, *STUB]


def test_the_last_auipc_is_carried_between_scans():
    scan = deciding()
    run(scan, parcels_of(AUIPC_RA, CSRR), HIGH)
    assert scan.auipc == (1, HIGH + 0x1000, HIGH + 4) and not scan.ended
    # the translator gives it back for the next scan: a jalr of another base
    # register, or not right after it, is the translator's
    assert run(scan, parcels_of(JALR_T0), HIGH + 4, limit=1)[1] == []
    end, _, _, pcs = run(scan, parcels_of(JALR_RA), HIGH + 4, limit=1)
    assert pcs == [] and end == HIGH + 4                  # no auipc given: not a pair
    words = []
    scan.scan(memoryview(parcels_of(*[0x0001] * 2, JALR_RA)), 0, HIGH + 4, 1, (), 0, words, [],
              [], [], (1, HIGH + 0x1000, HIGH + 4))
    assert scan.ended and scan.emitted == 1


def test_a_ptstore_cut_leaves_the_auipc_state_of_what_was_emitted():
    scan = deciding((ADD, ADD))
    end, words, _, _ = run(scan, parcels_of(ADD, AUIPC_RA, ADD), HIGH, ptstores={HIGH + 4})
    assert end == HIGH + 4 and words == [ADD] and scan.auipc is None


@pytest.mark.parametrize("word", [
    0x0000_01EF,                    # jal gp, 0
    0x0000_1197,                    # auipc gp, 0x1
    0x0031_8463,                    # beq gp, gp, 8
    0x0000_2063,                    # funct3 2: no branch
])
def test_a_word_on_the_base_register_or_no_branch_is_the_translator_s(word):
    assert run(deciding(), parcels_of(word), HIGH)[1] == []


def test_a_64_bit_constant_is_the_translator_s():
    # at 0x80200000 the link value is neither sign-extended 32-bit nor small
    assert run(deciding(), parcels_of(JAL_RA), 0x8020_0000)[1] == []
    assert run(deciding(), parcels_of(AUIPC_RA), 0x8020_0000)[1] == []
    # at a low address it is a 32-bit one: ra = 0x1004 is lui ra, 1; addiw ra, ra, 4
    end, words, _, _ = run(deciding(), parcels_of(JAL_RA), 0x1000)
    assert words == [0x0000_10B7, 0x0040_809B, *STUB]
    # and 4, which fits addi's immediate, is addi ra, x0, 4 alone
    assert run(deciding(), parcels_of(JAL_RA), 0)[1] == [0x0040_0093, *STUB]


def test_a_compressed_parcel_is_decided_by_its_expansion():
    c_j, c_mv = 0xBFF5, 0x852E                 # c.j -4; c.mv a0, a1 (add a0, x0, a1)
    scan = deciding()
    end, words, _, pcs = run(scan, parcels_of(c_j), HIGH)
    assert scan.ended and words == list(STUB) and pcs == [HIGH, HIGH - 4]
    # a copied one needs its instruction's answer, then is held expanded
    assert run(scan, parcels_of(c_mv), HIGH)[1] == []
    scan.add_shape(ADD, (7, 15, 20))
    assert run(scan, parcels_of(c_mv), HIGH)[1] == [0x00B0_0533]
    assert scan.get(c_mv) == (0x00B0_0533, None)
    # reserved (the all-zero parcel): the translator's illegal callout
    assert run(scan, parcels_of(0x0000), HIGH)[1] == []


def test_rvc_expansion_is_the_isa_s_on_every_parcel():
    from pyvmm.isa import codec
    expand = core.expand_rvc
    for parcel in range(1 << 16):
        want = codec.expand_compressed(parcel) if parcel & 3 != 3 else None
        assert expand(parcel) == want, hex(parcel)
    assert expand(1 << 16) is None


# --- indirect jumps (set_indirect) ----------------------------------------------------------

RET = 0x8082                            # c.jr ra: jalr x0, 0(ra)
JALR_A0 = 0x0085_00E7                   # jalr ra, 8(a0)
SPILL_T, SPILL_U = 0x100, 0x110


def tail(t, u, padded):
    # a stand-in tail: 4 words (hit site at 1, callout at 2), a pad, a literal
    words = [0x13 | t << 7, 0x73, 0x73, 0x13 | u << 7] + [0x13] * padded + [1, 0]
    return tuple(words), 1, 2


def jumping():
    scan = deciding()
    pairs = [(5, 6), (5, 7), (6, 7), (5, 28), (6, 28), (7, 28)]
    scan.set_indirect("jalr", SPILL_T, SPILL_U,
                      {(t, u, p): tail(t, u, p) for t, u in pairs for p in (False, True)})
    return scan


def sd(rs2, offset):
    return 0x23 | (offset & 31) << 7 | 3 << 12 | GP << 15 | rs2 << 20 | (offset >> 5) << 25


@pytest.mark.parametrize("tc_addr, padded", [(0x1000, False), (0x1004, True)])
def test_a_return_is_emitted_with_its_borrowed_registers_and_tail(tc_addr, padded):
    scan = jumping()
    callouts = []
    end, words, starts, pcs = run(scan, parcels_of(RET), HIGH, callouts=callouts, tc_addr=tc_addr)
    # t = x5, u = x6 (neither is rd or rs1): spilled, t = ra + 0, bit 0 cleared
    head = [sd(5, SPILL_T), sd(6, SPILL_U), 0x0000_8293, 0xFFE2_F293]
    tail_words, site, callout = tail(5, 6, padded)
    assert words == head + list(tail_words)
    assert scan.ended and end == HIGH + 2 and pcs == [HIGH] and starts == [tc_addr]
    auipc_at = tc_addr + 16
    assert callouts == [(auipc_at + 4 * callout,
                         ("jalr", HIGH, 0x0000_8067, 2, 0, auipc_at + 4 * site,
                          auipc_at + 4 * (len(tail_words) - 2)))]
    assert (auipc_at + 4 * (len(tail_words) - 2)) % 8 == 0


def test_an_indirect_call_links_then_borrows_two_other_registers():
    scan = jumping()
    end, words, _, _ = run(scan, parcels_of(JALR_A0), HIGH)
    # rd ra, rs1 a0: t = x5, u = x6; the link value HIGH + 4 in ra (lui, addiw)
    assert words[:6] == [sd(5, SPILL_T), sd(6, SPILL_U), 0x0085_0293, 0xFFE2_F293,
                         0x8020_00B7, 0x0040_809B]
    assert scan.ended


@pytest.mark.parametrize("word", [0x0001_8067,      # jr 0(gp)
                                  0x0000_81E7])     # jalr gp, 0(ra)
def test_an_indirect_jump_on_the_base_register_is_the_translator_s(word):
    assert run(jumping(), parcels_of(word), HIGH)[1] == []


def test_without_its_tails_an_indirect_jump_is_the_translator_s():
    assert run(deciding(), parcels_of(RET), HIGH)[1] == []
    scan = deciding()
    scan.set_indirect("jalr", SPILL_T, SPILL_U, {(6, 7, False): tail(6, 7, False)})
    assert run(scan, parcels_of(RET), HIGH)[1] == []          # (5, 6) not given


@pytest.mark.parametrize("tails", [{(5, 8, False): tail(5, 8, False)},
                                   {(5, 6, 2): tail(5, 6, False)},
                                   {(5, 6, False): ((1 << 32,), 0, 0)},
                                   {(5, 6, False): ((), 0, 0)},
                                   {(5, 6, False): ((0x13,), 0, 3)}])
def test_a_bad_tail_is_refused(tails):
    with pytest.raises(ValueError):
        deciding().set_indirect("jalr", SPILL_T, SPILL_U, tails)


@pytest.mark.parametrize("spill_t, spill_u", [(2048, SPILL_U), (SPILL_T, -2049)])
def test_a_spill_slot_out_of_reach_is_refused(spill_t, spill_u):
    with pytest.raises(ValueError):
        deciding().set_indirect("jalr", spill_t, spill_u, {(5, 6, False): tail(5, 6, False)})
    with pytest.raises(ValueError):
        table().set_indirect("jalr", SPILL_T, SPILL_U, {})          # no rewrites set
