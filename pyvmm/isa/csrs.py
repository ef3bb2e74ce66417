"""CSR numbers and names (F/D, Zicsr counters, S, H/VS, M, PMP, debug).

`CSRS` maps name -> number for the CSRs an RV64 hart with S, U and H has;
`CSR_NAMES` is the inverse (number -> the canonical name objdump prints).
`CSR_ALIASES` are older spellings GNU as still accepts. Bits 11:10 of a CSR
number give its access (0b11 = read-only), bits 9:8 the lowest privilege that
may access it (0 U, 1 S, 2 HS/hypervisor, 3 M).
"""

CSRS = {}


def _csr(name, number):
    assert name not in CSRS
    CSRS[name] = number


# F and D: accrued exceptions, rounding mode, both
_csr("fflags", 0x001)
_csr("frm", 0x002)
_csr("fcsr", 0x003)

# unprivileged counters and timers
_csr("cycle", 0xC00)
_csr("time", 0xC01)
_csr("instret", 0xC02)
for _i in range(3, 32):
    _csr("hpmcounter%d" % _i, 0xC00 + _i)

# supervisor
for _name, _num in (("sstatus", 0x100), ("sie", 0x104), ("stvec", 0x105), ("scounteren", 0x106),
                    ("senvcfg", 0x10A), ("sscratch", 0x140), ("sepc", 0x141), ("scause", 0x142),
                    ("stval", 0x143), ("sip", 0x144), ("stimecmp", 0x14D), ("satp", 0x180),
                    ("scontext", 0x5A8)):
    _csr(_name, _num)

# hypervisor and virtual supervisor
for _name, _num in (("hstatus", 0x600), ("hedeleg", 0x602), ("hideleg", 0x603), ("hie", 0x604),
                    ("htimedelta", 0x605), ("hcounteren", 0x606), ("hgeie", 0x607),
                    ("hvien", 0x608), ("hvictl", 0x609), ("henvcfg", 0x60A),
                    ("htval", 0x643), ("hip", 0x644), ("hvip", 0x645), ("htinst", 0x64A),
                    ("hgatp", 0x680), ("hcontext", 0x6A8), ("hgeip", 0xE12),
                    ("vsstatus", 0x200), ("vsie", 0x204), ("vstvec", 0x205), ("vsscratch", 0x240),
                    ("vsepc", 0x241), ("vscause", 0x242), ("vstval", 0x243), ("vsip", 0x244),
                    ("vstimecmp", 0x24D), ("vsatp", 0x280)):
    _csr(_name, _num)

# machine
for _name, _num in (("mvendorid", 0xF11), ("marchid", 0xF12), ("mimpid", 0xF13), ("mhartid", 0xF14),
                    ("mconfigptr", 0xF15), ("mstatus", 0x300), ("misa", 0x301), ("medeleg", 0x302),
                    ("mideleg", 0x303), ("mie", 0x304), ("mtvec", 0x305), ("mcounteren", 0x306),
                    ("menvcfg", 0x30A), ("mcountinhibit", 0x320), ("mscratch", 0x340), ("mepc", 0x341),
                    ("mcause", 0x342), ("mtval", 0x343), ("mip", 0x344), ("mtinst", 0x34A),
                    ("mtval2", 0x34B), ("mseccfg", 0x747), ("mcycle", 0xB00), ("minstret", 0xB02)):
    _csr(_name, _num)
for _i in range(3, 32):
    _csr("mhpmevent%d" % _i, 0x320 + _i)
    _csr("mhpmcounter%d" % _i, 0xB00 + _i)
for _i in range(16):
    _csr("pmpcfg%d" % _i, 0x3A0 + _i)
for _i in range(64):
    _csr("pmpaddr%d" % _i, 0x3B0 + _i)

# debug/trace (the names exist so code that touches them assembles)
for _name, _num in (("tselect", 0x7A0), ("tdata1", 0x7A1), ("tdata2", 0x7A2), ("tdata3", 0x7A3),
                    ("tinfo", 0x7A4), ("tcontrol", 0x7A5), ("mcontext", 0x7A8),
                    ("dcsr", 0x7B0), ("dpc", 0x7B1), ("dscratch0", 0x7B2), ("dscratch1", 0x7B3)):
    _csr(_name, _num)

# Names objdump also prints that an RV64IMAC+H hart does not have: the RV32-only
# high halves, and CSRs of extensions outside pyvmm (F, V, Zkr, Smstateen, AIA,
# Sscofpmf). Kept so disassembly and assembly spell them as binutils does.
RV32_ONLY_CSRS = {}
for _name, _num in (("cycleh", 0xC80), ("timeh", 0xC81), ("instreth", 0xC82), ("mcycleh", 0xB80),
                    ("minstreth", 0xB82), ("mstatush", 0x310), ("menvcfgh", 0x31A), ("mseccfgh", 0x757),
                    ("henvcfgh", 0x61A), ("htimedeltah", 0x615), ("stimecmph", 0x15D),
                    ("vstimecmph", 0x25D), ("midelegh", 0x313), ("mieh", 0x314), ("mvienh", 0x318),
                    ("mviph", 0x319), ("miph", 0x354), ("sieh", 0x114), ("siph", 0x154),
                    ("vsieh", 0x214), ("vsiph", 0x254), ("hidelegh", 0x613), ("hvienh", 0x618),
                    ("hviph", 0x655), ("hviprio1h", 0x656), ("hviprio2h", 0x657),
                    ("mstateen0h", 0x31C), ("mstateen1h", 0x31D), ("mstateen2h", 0x31E),
                    ("mstateen3h", 0x31F), ("hstateen0h", 0x61C), ("hstateen1h", 0x61D),
                    ("hstateen2h", 0x61E), ("hstateen3h", 0x61F)):
    RV32_ONLY_CSRS[_name] = _num
for _i in range(3, 32):
    RV32_ONLY_CSRS["hpmcounter%dh" % _i] = 0xC80 + _i
    RV32_ONLY_CSRS["mhpmcounter%dh" % _i] = 0xB80 + _i
    RV32_ONLY_CSRS["mhpmevent%dh" % _i] = 0x720 + _i

OTHER_EXTENSION_CSRS = {
    "vstart": 0x008, "vxsat": 0x009, "vxrm": 0x00A, "vcsr": 0x00F,
    "vl": 0xC20, "vtype": 0xC21, "vlenb": 0xC22,
    "seed": 0x015, "mscontext": 0x7AA, "scountovf": 0xDA0,
    "sstateen0": 0x10C, "sstateen1": 0x10D, "sstateen2": 0x10E, "sstateen3": 0x10F,
    "mstateen0": 0x30C, "mstateen1": 0x30D, "mstateen2": 0x30E, "mstateen3": 0x30F,
    "hstateen0": 0x60C, "hstateen1": 0x60D, "hstateen2": 0x60E, "hstateen3": 0x60F,
    "siselect": 0x150, "sireg": 0x151, "stopei": 0x15C, "stopi": 0xDB0,
    "vsiselect": 0x250, "vsireg": 0x251, "vstopei": 0x25C, "vstopi": 0xEB0,
    "mvien": 0x308, "mvip": 0x309, "miselect": 0x350, "mireg": 0x351, "mtopei": 0x35C,
    "mtopi": 0xFB0, "hviprio1": 0x646, "hviprio2": 0x647,
}

CSR_NAMES = {number: name for name, number in CSRS.items()}
for _table in (RV32_ONLY_CSRS, OTHER_EXTENSION_CSRS):
    for _name, _num in _table.items():
        assert _num not in CSR_NAMES, _name
        CSR_NAMES[_num] = _name

CSR_ALIASES = {
    "sbadaddr": 0x143, "mbadaddr": 0x343, "sptbr": 0x180, "mucounteren": 0x320,
    "dscratch": 0x7B2, "mscounteren": 0x321, "mhcounteren": 0x322,
}


def csr_number(name):
    """Number for a CSR name or accepted alias, or None."""
    for table in (CSRS, CSR_ALIASES, RV32_ONLY_CSRS, OTHER_EXTENSION_CSRS):
        number = table.get(name)
        if number is not None:
            return number
    return None


def csr_name(number):
    """The canonical name of CSR `number`, or None when it has none."""
    return CSR_NAMES.get(number)


def csr_read_only(number):
    return (number >> 10) & 3 == 3


def csr_min_priv(number):
    return (number >> 8) & 3
