"""Where the translator's pieces live in the guest kernel's (shadow) address
space, and the register translated code reaches its state through.

Both regions are mapped only in the shadow trees binary translation runs the
guest on, never in guest memory, and at virtual addresses no guest mapping
can produce: the BT shadow trees are Sv57 (`SHADOW_LEVELS`), while a guest's
own translation is Bare (addresses below 2^38, the pager's Bare window), Sv39
or Sv48 (addresses below 2^47 or in the top 2^47 bytes). RUNTIME_BASE = 2^55
is canonical in Sv57 and in none of those:

* the VCPU-state page at STATE_GVA (RUNTIME_BASE): the virtual CSRs, the
  guest's own gp, spill slots;
* the indirect-jump table at IBL_GVA: guest pc -> translated entry, which
  translated code probes itself on an indirect jump (read-only to it);
* the translation cache at TC_BASE, 1 MiB above it (TC_SIZE; a chained
  jump is a `jal` within +-1 MiB, auipc+jalr beyond).

Translated code reaches the state page through gp (x3, `BASE_REG`), which
holds STATE_GVA while the core runs translated code: `ld rd, OFF(gp)`. The
guest's own gp lives in the GUEST_GP slot meanwhile; the translator renames
every guest use of gp to a borrowed register loaded from that slot, and the
runtime puts the guest's value back into the register file on every exit.
"""

PAGE_SIZE = 4096

SHADOW_LEVELS = 5            # Sv57: room above every guest address space
RUNTIME_BASE = 1 << 55
STATE_GVA = RUNTIME_BASE
TC_BASE = RUNTIME_BASE + 0x10_0000
TC_SIZE = 16 << 20          # a booting Linux's code (about 7 MB of TC) with room; frames taken as it fills

# The indirect-jump lookup table: IBL_ENTRIES direct-mapped 16-byte entries
# (guest pc tag, TC address of the block's indirect entry), indexed by guest
# pc bits 1.. (IBL_INDEX_BITS of them), at IBL_OFFSET from the state page.
IBL_OFFSET = 0x1_0000
IBL_GVA = STATE_GVA + IBL_OFFSET
IBL_INDEX_BITS = 15
IBL_ENTRIES = 1 << IBL_INDEX_BITS
IBL_BYTES = 16 * IBL_ENTRIES
IBL_REG = 31                 # t6: carries the entry's address; a block's indirect entry restores it

BASE_REG = 3                 # gp: holds STATE_GVA in translated code

# Virtual supervisor CSRs in the state page: byte offsets of 8-byte slots.
STATE_SLOTS = ("sstatus", "sie", "sip", "stvec", "sscratch", "sepc", "scause", "stval",
               "satp", "scounteren", "senvcfg")
STATE_OFFSET = {name: 8 * i for i, name in enumerate(STATE_SLOTS)}
# Spill slots for the rewrites that need a scratch register.
SPILL_TEMP = 0x100          # the borrowed register's value
SPILL_OLD = 0x108           # the CSR's old value on its way to rd
SPILL_SECOND = 0x110        # a second borrowed register (indirect jumps)
SPILL_TARGET = 0x118        # an indirect jump's guest target, for the runtime on a miss
SPILL_RENAME = 0x120        # the register standing in for the guest's gp
GUEST_GP = 0x128            # the guest's gp while translated code runs
SPILL_IBL = 0x130           # IBL_REG's value across a table jump (an indirect entry reloads it)
SFENCE_WORK = 0x138         # nonzero: the runtime has work at the guest's next sfence.vma
STATE_BYTES = 0x140         # the slots in use (the rest of the page stays zero)
