"""Helpers for the H-extension tests: a guest program run straight in VS/VU
(set by core pokes), trap handlers that end in ebreak, and page tables built
in RAM from Python (VS-stage Sv39/Sv48/Sv57 and G-stage Sv39x4/Sv48x4/Sv57x4).

RAM (4 MiB at 0x8000_0000): code at the base, page tables from TABLES,
data pages from DATA. The G-stage maps guest-physical pages onto those host
pages; `identity_gstage` maps all of RAM at GPA = HPA with 4 KiB pages.
"""

from .helpers import RAM_BASE, assemble, core_mod, open_pmp, reg  # noqa: F401

RAM_SIZE = 4 << 20
TABLES = RAM_BASE + 0x10_0000
DATA = RAM_BASE + 0x20_0000

CSR = {
    "sstatus": 0x100, "sie": 0x104, "stvec": 0x105, "sscratch": 0x140, "sepc": 0x141,
    "scause": 0x142, "stval": 0x143, "sip": 0x144, "stimecmp": 0x14D, "satp": 0x180,
    "vsstatus": 0x200, "vsie": 0x204, "vstvec": 0x205, "vsscratch": 0x240, "vsepc": 0x241,
    "vscause": 0x242, "vstval": 0x243, "vsip": 0x244, "vstimecmp": 0x24D, "vsatp": 0x280,
    "hstatus": 0x600, "hedeleg": 0x602, "hideleg": 0x603, "hie": 0x604, "htimedelta": 0x605,
    "hcounteren": 0x606, "hgeie": 0x607, "henvcfg": 0x60A, "htval": 0x643, "hip": 0x644,
    "hvip": 0x645, "htinst": 0x64A, "hgatp": 0x680, "hgeip": 0xE12,
    "mstatus": 0x300, "misa": 0x301, "medeleg": 0x302, "mideleg": 0x303, "mie": 0x304,
    "mtvec": 0x305, "mcounteren": 0x306, "menvcfg": 0x30A, "mepc": 0x341, "mcause": 0x342,
    "mtval": 0x343, "mip": 0x344, "mtinst": 0x34A, "mtval2": 0x34B,
}

V, R, W, X, U, G, A, D = 1, 2, 4, 8, 16, 32, 64, 128
MPV = 1 << 39
GVA_M = 1 << 38
SPV, SPVP, HU, GVA = 1 << 7, 1 << 8, 1 << 9, 1 << 6
VTVM, VTW, VTSR = 1 << 20, 1 << 21, 1 << 22

EBREAK = 3
# a trap handler per target mode; each ends in ebreak, which (from HS or VS,
# not delegated) goes to M and exits to the test
HANDLERS = """
.align 2
m_handler:
    ebreak
.align 2
hs_handler:
    ebreak
.align 2
vs_handler:
    ebreak
"""


class Guest:
    """A program whose `guest:` label runs at (virt, priv) with stvec/vstvec/mtvec
    pointing at the handlers above."""

    def __init__(self, body, virt=1, priv=1, ram_size=RAM_SIZE):
        src = (".globl _start\n_start:\n    j guest\n" + HANDLERS
               + ".align 12\nguest:\n" + body + "\n    ebreak\n")
        self.prog = assemble(src, RAM_BASE)
        self.core = core = core_mod.Core(ram_size=ram_size, ram_base=RAM_BASE)
        core.write_mem(RAM_BASE, self.prog.image)
        open_pmp(core)
        core.exit_on_exception = 1 << EBREAK
        core.write_csr(CSR["mtvec"], self.prog["m_handler"])
        core.write_csr(CSR["stvec"], self.prog["hs_handler"])
        core.write_csr(CSR["vstvec"], self.prog["vs_handler"])
        core.pc = self.prog["guest"]
        self.virt, self.priv = virt, priv
        self.next_table = TABLES

    def __getitem__(self, name):
        return self.prog[name]

    def csr(self, name):
        return self.core.read_csr(CSR[name])

    def set(self, name, value):
        self.core.write_csr(CSR[name], value)

    def start_mode(self):
        self.core.priv = self.priv
        self.core.virt = self.virt

    def run(self, budget=100_000):
        """Run from `guest` until an exit; returns the core."""
        if self.core.pc == self.prog["guest"]:
            self.start_mode()
        self.reason = self.core.run(budget)
        return self.core

    def stopped_at(self):
        """Which handler's ebreak (or 'guest') the run ended at."""
        assert self.reason == core_mod.EXIT_TRAP and self.core.exit_cause == EBREAK, \
            (self.reason, hex(self.core.exit_cause), hex(self.core.exit_pc))
        pc = self.core.exit_pc
        for name in ("m_handler", "hs_handler", "vs_handler"):
            if pc == self.prog[name]:
                return name
        return "guest"

    # ------------------------------------------------------------ page tables

    def alloc(self, pages=1):
        addr = self.next_table
        self.next_table += 4096 * pages
        assert self.next_table <= DATA
        return addr

    def write64(self, paddr, value):
        self.core.write_mem(paddr, int(value).to_bytes(8, "little"))

    def read64(self, paddr):
        return int.from_bytes(self.core.read_mem(paddr, 8), "little")

    def map(self, root, va, pa, flags, levels=3, gstage=False, leaf_level=0, table_hpa=lambda a: a):
        """Map va -> pa in the table at root (an address the walker sees;
        table_hpa turns it into the host address to write). Next-level tables
        come from alloc() and are addressed as table_hpa's inverse of
        themselves, i.e. VS tables must live where GPA == HPA or table_hpa says."""
        table = root
        for level in range(levels - 1, leaf_level, -1):
            bits = 11 if (gstage and level == levels - 1) else 9
            idx = (va >> (12 + 9 * level)) & ((1 << bits) - 1)
            pte_addr = table_hpa(table) + 8 * idx
            pte = self.read64(pte_addr)
            if not pte & V:
                new = self.alloc()
                self.write64(pte_addr, ((new >> 12) << 10) | V)
                pte = self.read64(pte_addr)
            table = (pte >> 10) << 12
        bits = 11 if (gstage and leaf_level == levels - 1) else 9
        idx = (va >> (12 + 9 * leaf_level)) & ((1 << bits) - 1)
        self.write64(table_hpa(table) + 8 * idx, ((pa >> 12) << 10) | flags | V)

    def gstage_root(self, levels=3):
        """A 16 KiB-aligned Sv39x4/Sv48x4 root."""
        while self.next_table % 0x4000:
            self.next_table += 4096
        return self.alloc(4)

    def identity_gstage(self, root, levels=3, flags=R | W | X | U | A | D, skip=()):
        """GPA = HPA for every RAM page (4 KiB leaves) except those in skip."""
        for off in range(0, RAM_SIZE, 4096):
            page = RAM_BASE + off
            if page not in skip:
                self.map(root, page, page, flags, levels, gstage=True)

    def set_hgatp(self, root, levels=3, vmid=0):
        # MODE 8, 9, 10: Sv39x4, Sv48x4, Sv57x4
        self.set("hgatp", ((levels + 5) << 60) | (vmid << 44) | (root >> 12))

    def set_vsatp(self, root, levels=3, asid=0):
        self.set("vsatp", ((levels + 5) << 60) | (asid << 44) | (root >> 12))
