"""Branch relaxation, replaying GNU as's relax_segment so sizes match byte for byte.

gas keeps a section as a chain of frags: fixed bytes followed by at most one
variable part (a relaxable branch, an alignment, an .org). Relaxation is
path-dependent, so pyvmm replays it step by step (gas/write.c relax_segment,
tc-riscv.c relaxed_branch_length):

* every frag address starts at 0; a call to relax_segment first lays frags
  out in order, estimating each branch from the addresses known *at that
  moment* (earlier frags already placed, later ones still at their old
  address), then runs passes in which each frag moves by the growth so far
  and each branch is re-measured, until a pass changes nothing;
* relax_segment is called again as long as some frag address differs from
  the previous call.

A branch's length: 2 if RVC-able and the offset fits c.beqz/c.j, else 4 if it
fits a branch (+-4 KiB, also used for jumps), else 6 (inverted c.b* over jal)
or 8 (inverted b* over jal) for conditional branches; jumps stay 4. A target
outside the section counts as far (8 for conditionals, 4 for jumps).
"""

from pyvmm.asm.items import Align, Branch, Org

RVC_BRANCH_REACH = 1 << 9
RVC_JUMP_REACH = 1 << 12
BRANCH_REACH = 1 << 13
MAX_PASSES = 1000


class Frag:
    __slots__ = ("fix", "var", "first_item", "address", "last_address", "size")

    def __init__(self, first_item):
        self.fix = 0
        self.var = None
        self.first_item = first_item
        self.address = 0
        self.last_address = 0
        self.size = 0


def branch_length(branch, val):
    """relaxed_branch_length for a same-section target at offset `val` (None: elsewhere)."""
    jump = branch.cond is None
    length = 4 if jump else 8
    if val is not None:
        rvc_reach = RVC_JUMP_REACH if jump else RVC_BRANCH_REACH
        if branch.rvc and -rvc_reach // 2 <= val < rvc_reach // 2:
            length = 2
        elif -BRANCH_REACH // 2 <= val < BRANCH_REACH // 2:
            length = 4
        elif not jump and branch.rvc:
            length = 6
    return length


def _is_variable(item):
    return isinstance(item, (Align, Org)) or (isinstance(item, Branch) and not item.explicit)


def relax_section(section, target_of):
    """Fix every Branch.length in `section` and fill section.offsets.

    target_of(node, label_offset) -> section-relative target or None, where
    label_offset(index) gives the current offset of a label at item `index`.
    """
    items = section.items
    frags = [Frag(0)]
    position = []                       # item index -> (frag, offset inside its fixed part)
    for index, item in enumerate(items):
        frag = frags[-1]
        position.append((frag, frag.fix))
        if _is_variable(item):
            frag.var = item
            frags.append(Frag(index + 1))
        else:
            frag.fix += item.size(0)
    position.append((frags[-1], frags[-1].fix))

    def label_offset(index):
        frag, offset = position[index]
        return frag.address + offset

    def measure(frag):
        item = frag.var
        if isinstance(item, Branch):
            target = target_of(item.node, label_offset)
            here = frag.address + frag.fix
            return branch_length(item, None if target is None else target - here)
        return item.size(frag.address + frag.fix)

    def layout_and_relax():
        address = 0
        for frag in frags:                              # the first loop of relax_segment
            frag.address = address
            address += frag.fix
            if isinstance(frag.var, Org):
                frag.size = 0                           # "assume .org is nugatory"
            elif frag.var is not None:
                frag.size = measure(frag)
            address += frag.size
        for _ in range(MAX_PASSES):                     # the relax passes
            stretch = 0
            stretched = False
            for frag in frags:
                frag.address += stretch
                if frag.var is None:
                    continue
                new_size = measure(frag)
                growth = new_size - frag.size
                if growth:
                    frag.size = new_size
                    stretch += growth
                    stretched = True
            if not stretched:
                break
        moved = False
        for frag in frags:
            if frag.address != frag.last_address:
                frag.last_address = frag.address
                moved = True
        return moved

    for _ in range(MAX_PASSES):
        if not layout_and_relax():
            break

    for frag in frags:
        if isinstance(frag.var, Branch):
            frag.var.length = frag.size
    offsets = []
    offset = 0
    for item in items:
        offsets.append(offset)
        offset += item.size(offset)
    offsets.append(offset)
    section.offsets = offsets
