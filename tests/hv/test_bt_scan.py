"""translate_block with the core's scan of runs of copied instructions and
superblock branches (CopyScan) builds the same Block as its
instruction-at-a-time loop (scan=False) and as the parcel-at-a-time fetch:
on every block the project kernel runs under bt, and on generated
instruction streams (compressed words, words naming gp, branches, ptstore
pcs, instructions straddling the page end, reserved parcels)."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pytest.importorskip("pyvmm._core")

from hv_support import KERNEL, native_run  # noqa: E402
from test_bt_translator import fetcher  # noqa: E402

from pyvmm.hv import Host  # noqa: E402
from pyvmm.hv.bt import cache, translator  # noqa: E402
from pyvmm.hv.bt.translator import MAX_BLOCK_INSNS, FetchFault, translate_block  # noqa: E402
from pyvmm.isa import codec  # noqa: E402

GUEST = 0x8020_0000
TC = 0x10000
PAGE = 4096


class Compared:
    """cache.translate_block, translating each block both ways and checking
    they agree."""

    def __init__(self):
        self.blocks = 0
        self.scanned = 0            # blocks whose code came through the scan
        self.ptstore_blocks = 0     # blocks holding a ptstore pc

    def __call__(self, fetch, guest_pc, tc_addr, **options):
        by_loop = translate_block(fetch, guest_pc, tc_addr, scan=False, **options)
        by_scan = translate_block(fetch, guest_pc, tc_addr, **options)
        assert by_scan == by_loop, f"the block at {guest_pc:#x}"
        self.blocks += 1
        self.scanned += options.get("code_page") is not None
        ptstores = options.get("ptstores", ())
        self.ptstore_blocks += any(guest_pc <= pc < by_scan.guest_end for pc in ptstores)
        return by_scan


# guests/kernel's modes; ptemod's page-table stores become ptstores.
MODES = {"demo": 30, "syscall": 30, "mmio": 30, "csrwr": 30, "callret": 30, "pgfault": 30,
         "trap": 30, "ptemod": 200, "ctxsw": 30, "compute": 1, "forkwait": 5, "console": 5}


@pytest.mark.parametrize("mode", MODES)
def test_every_block_of_the_kernel_translates_alike(monkeypatch, mode):
    compared = Compared()
    monkeypatch.setattr(cache, "translate_block", compared)
    bootargs = f"mode={mode} iterations={MODES[mode]}"
    host = Host(ram_size=(128 << 20) + (32 << 20))
    vm = host.create_vm(ram_size=128 << 20, technique="bt", paging="shadow", bootargs=bootargs)
    vm.load(KERNEL)
    result = vm.run()
    assert vm.error is None and result.status == 0
    assert vm.console_output == native_run(KERNEL, bootargs)[2]
    bt = vm.stats()["bt"]
    assert compared.blocks == bt["blocks_translated"] > 100
    assert compared.scanned == compared.blocks
    if mode == "ptemod":
        assert bt["adaptive_retranslations"] > 0 and compared.ptstore_blocks > 0


def pages_of(data, base=GUEST):
    """translate_block's code_page over `data` at `base`: one buffer of 16-bit
    parcels, as the runtime hands out host RAM."""
    parcels = memoryview(bytes(data)).cast("H")

    def code_page(gva):
        page = gva & ~(PAGE - 1)
        if not base <= page < base + len(data):
            raise FetchFault(gva)
        return parcels, (page - base) // 2
    return code_page


GP, REGS = 3, (0, 1, 2, 3, 5, 8, 10, 31)
# 32-bit words whose register fields the stream varies: copied ones and each
# kind of rewrite (a field set to gp makes it a renamed copy or a callout).
TEMPLATES = [codec.encode(name, **ops) for name, ops in [
    ("add", dict(rd=10, rs1=11, rs2=12)), ("addi", dict(rd=10, rs1=11, imm=-5)),
    ("ld", dict(rd=10, rs1=2, imm=16)), ("sd", dict(rs1=2, rs2=10, imm=8)),
    ("sw", dict(rs1=10, rs2=11, imm=-4)), ("amoadd.w", dict(rd=10, rs1=11, rs2=12)),
    ("lui", dict(rd=10, imm=0x12345)), ("mul", dict(rd=10, rs1=11, rs2=12)),
    ("beq", dict(rs1=10, rs2=11, imm=-64)), ("bltu", dict(rs1=10, rs2=11, imm=200)),
    ("jal", dict(rd=1, imm=2048)), ("jalr", dict(rd=0, rs1=1, imm=0)),
    ("auipc", dict(rd=1, imm=1)), ("jalr", dict(rd=1, rs1=1, imm=-7)),
    ("auipc", dict(rd=5, imm=0x80000)), ("jal", dict(rd=5, imm=-2)), ("csrrs", dict(rd=10, rs1=0, csr=0x100)),
    ("csrrw", dict(rd=0, rs1=10, csr=0x140)), ("csrrci", dict(rd=0, zimm=2, csr=0x100)),
    ("fence", dict(pred=3, succ=3)), ("sret", {}), ("ecall", {}),
    ("sfence.vma", dict(rs1=0, rs2=0)), ("fadd.d", dict(rd=1, rs1=2, rs2=3, rm=7)),
]]
# The rd, rs1 and rs2 fields.
FIELDS = (7, 15, 20)


def _with_regs(template, regs, mask):
    """template with the register fields `mask` picks set to regs."""
    word = template
    for i, lo in enumerate(FIELDS):
        if mask >> i & 1:
            word = (word & ~(31 << lo)) | regs[i] << lo
    return word


word32 = st.builds(_with_regs, st.sampled_from(TEMPLATES),
                   st.tuples(*[st.sampled_from(REGS)] * 3), st.integers(0, 7))
piece = st.one_of(
    word32.map(lambda w: w.to_bytes(4, "little")),
    # any 16-bit parcel: compressed instructions (gp-naming, reserved, the
    # half of a 32-bit one) alike
    st.integers(0, 0xFFFF).map(lambda p: p.to_bytes(2, "little")),
    st.integers(0, 0xFFFF).filter(lambda p: p & 3 != 3).map(lambda p: p.to_bytes(2, "little")),
    st.just(codec.encode("add", rd=10, rs1=11, rs2=12).to_bytes(4, "little")),
    st.just((0x4501).to_bytes(2, "little")),                   # c.li a0, 0
    # a `call` or `tail`: auipc and the jalr through its register, any offset
    st.builds(lambda t, rd, upper, imm: (codec.encode("auipc", rd=t, imm=upper).to_bytes(4, "little")
                                         + codec.encode("jalr", rd=rd, rs1=t, imm=imm)
                                         .to_bytes(4, "little")),
              st.sampled_from(REGS), st.sampled_from(REGS), st.integers(0, (1 << 20) - 1),
              st.integers(-2048, 2047)),
)


# Where the stream runs: link values and auipc results there are 64-bit
# constants (the translator's), sign-extended 32-bit ones (a kernel in the
# top 2 GiB) and small ones (a program in the bottom), which the scan emits.
BASES = (GUEST, 0xFFFF_FFFF_8020_0000, 0x1_0000)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(piece, min_size=1, max_size=60), pad=st.integers(0, 60),
       starts=st.lists(st.integers(0, 90), min_size=1, max_size=8),
       ptstore_picks=st.lists(st.integers(0, 60), max_size=12),
       max_insns=st.sampled_from([MAX_BLOCK_INSNS, 1, 3, 17]), one_page=st.booleans(),
       base=st.sampled_from(BASES))
def test_generated_streams_translate_alike(pieces, pad, starts, ptstore_picks, max_insns,
                                           one_page, base):
    # The stream ends `pad` parcels past the first page's end, so that its
    # instructions run up to and across the page boundary; c.nop elsewhere.
    stream = b"".join(pieces)
    end = PAGE + 2 * pad
    body = stream[-end:]
    before = end - len(body)
    data = bytearray((0x0001).to_bytes(2, "little") * PAGE)
    data[before:end] = body
    data = bytes(data[:PAGE] if one_page else data)
    # ptstores: pcs where pieces start (stores among them), and odd parcels
    at, piece_pcs = base + end - len(stream), []
    for p in pieces:
        piece_pcs.append(at)
        at += len(p)
    ptstores = frozenset(piece_pcs[i % len(pieces)] for i in ptstore_picks) \
        | {base + before + 2 * i for i in ptstore_picks[:2]}
    for start in starts:
        guest_pc = base + before + 2 * start
        if guest_pc >= base + len(data):
            continue
        ways = []
        # scanned twice: the first teaches the core's table the words it copies
        for options in (dict(code_page=pages_of(data, base)), dict(code_page=pages_of(data, base)),
                        dict(code_page=pages_of(data, base), scan=False), dict()):
            try:
                ways.append(translate_block(fetcher(data, base), guest_pc, TC, max_insns=max_insns,
                                            ptstores=ptstores, **options))
            except FetchFault as fault:
                ways.append(("fault", fault.gva, fault.cause))
        assert ways[0] == ways[1] == ways[2] == ways[3]


def test_the_scan_emits_from_the_core_s_table():
    """A block of known words is the scan's, word for word; the table
    learns the words the loop copies and the branches it rewrites."""
    add = codec.encode("add", rd=10, rs1=11, rs2=12)
    beq = codec.encode("beq", rs1=10, rs2=11, imm=-8)
    data = b"".join(w.to_bytes(4, "little") for w in (add, add, beq, add))
    data += (0x4501).to_bytes(2, "little") * 4
    code_page = pages_of(data + bytes(PAGE - len(data)))
    translator._scan_table.clear()
    first = translate_block(None, GUEST, TC, code_page=code_page)
    assert translator._scan_table.get(add) == (add, None)
    assert translator._scan_table.get(0x4501) == (codec.expand_compressed(0x4501), None)
    hop, offset = translator._scan_table.get(beq)
    assert offset == -8 and first.words[2] == hop
    again = translate_block(None, GUEST, TC, code_page=code_page)
    assert again == first == translate_block(None, GUEST, TC, code_page=code_page, scan=False)
    assert first.exits()[0] == (TC + 12, GUEST)


def test_a_kernel_s_calls_and_jumps_are_the_scan_s():
    """In a kernel's top 2 GiB, auipc, a `call` (auipc + jalr) and jal are
    emitted by the core's scan from their bits: once the loop has told it
    the shapes of the other words, the whole block is one scan."""
    base = 0xFFFF_FFFF_8020_0000
    words = [codec.encode("addi", rd=10, rs1=10, imm=1), codec.encode("auipc", rd=5, imm=3),
             codec.encode("ld", rd=11, rs1=5, imm=-16), codec.encode("bne", rs1=10, rs2=11, imm=8),
             codec.encode("auipc", rd=1, imm=0x12), codec.encode("jalr", rd=1, rs1=1, imm=-20),
             codec.encode("jal", rd=0, imm=-24)]
    data = b"".join(w.to_bytes(4, "little") for w in words)
    code_page = pages_of(data + bytes(PAGE - len(data)), base)
    translator._scan_table.clear()
    first = translate_block(None, base, TC, code_page=code_page)
    assert first == translate_block(None, base, TC, code_page=code_page, scan=False)
    # the call ends the block in a direct exit stub to auipc's value - 20
    assert first.exits()[-1][1] == base + 16 + 0x12000 - 20
    assert first.guest_insns == 6
    scan = translator._scan_table
    again_words = []
    end = scan.scan(code_page(base)[0], 0, base, MAX_BLOCK_INSNS, (), TC, again_words, [], [], [])
    assert scan.ended and scan.emitted == 6 and end == base + 24
    assert tuple(again_words) == first.words


def test_classify_by_shape_is_the_decoder_s_answer():
    """_classify answers a 32-bit word from the words of its shape met
    before: the same as decoding it, in every opcode and funct3, for every
    instruction of the tables (registers gp or not) and for all 65,536
    compressed parcels."""
    import random
    from pyvmm.isa.instructions import INSTRUCTIONS
    rng = random.Random(11)
    words = [(key & 0x7F | (key >> 7) << 12 | rng.getrandbits(32) & ~0x707F) | 3
             for key in range(1024) for _ in range(64)]
    for ins in INSTRUCTIONS:
        for _ in range(64):
            word = ins.match | rng.getrandbits(32) & ~ins.mask
            for f in ins.fields:
                if f.kind == "reg" and rng.random() < 0.3:
                    word = word & ~f.instr_mask | f.insert(translator.BASE_REG)
            words.append(word)
    rng.shuffle(words)
    translator._classified.clear()
    translator._copied_shapes.clear()
    assert [translator._classify(w) for w in words] == [(w, translator._decoded_copied(w)) for w in words]
    # loads and branches that differ only in their offsets: one shape each
    translator._copied_shapes.clear()
    for imm in range(-2048, 2048, 16):
        translator._classify(codec.encode("ld", rd=10, rs1=2, imm=imm))
        translator._classify(codec.encode("bne", rs1=10, rs2=11, imm=2 * imm))
    assert len(translator._copied_shapes) == 2
    for parcel in range(1 << 16):
        if parcel & 3 != 3:
            word = codec.expand_compressed(parcel)
            expected = (None, False) if word is None else (word, translator._decoded_copied(word))
            assert translator._classify(parcel) == expected, hex(parcel)
