"""Where the translator's pieces live in the guest kernel's (shadow) address space.

Both regions are mapped only in the shadow tree the guest kernel (virtual
S) runs on, never in the guest user tree, and never in guest memory:

* the translation cache at TC_BASE: the top GiB of the lower half of Sv39
  (slot 255). The guest kernel (guests/kernel) uses slots 0-3; a guest that
  maps this GiB itself would not see its own pages there while in S.
* the VCPU-state page at GVA 0, so that `ld rd, OFF(x0)` / `sd rs, OFF(x0)`
  reach the virtual CSRs without a free register: an S-mode load from
  address 0..0xFFF reads it instead of faulting (a kernel that maps page 0
  would see its own page only from user mode).
"""

PAGE_SIZE = 4096

TC_BASE = 0x3F_C000_0000
TC_SIZE = 1 << 20           # jal reaches +-1 MiB: every chained jump fits

STATE_GVA = 0

# Virtual supervisor CSRs in the state page: byte offsets of 8-byte slots.
STATE_SLOTS = ("sstatus", "sie", "sip", "stvec", "sscratch", "sepc", "scause", "stval",
               "satp", "scounteren", "senvcfg")
STATE_OFFSET = {name: 8 * i for i, name in enumerate(STATE_SLOTS)}
# Spill slots for the rewrites that need a scratch register.
SPILL_TEMP = 0x100          # the borrowed register's value
SPILL_OLD = 0x108           # the CSR's old value on its way to rd
SPILL_SECOND = 0x110        # a second borrowed register (indirect jumps)
SPILL_TARGET = 0x118        # an indirect jump's guest target, for the runtime on a miss
