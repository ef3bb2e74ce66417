# A binary-translated block's record (pyvmm.hv.bt.translator.Block).
#
# A booting Linux keeps tens of thousands of them, each holding only ints
# and tuples of ints (and interned kind strings), which can never reach
# back to a block: so the type stays out of the cyclic garbage collector,
# whose every collection would otherwise walk them all (as it did while
# they were Python objects, a few percent of a bt boot).

cimport cython

cdef extern from "Python.h":
    int PyObject_GC_IsTracked(object obj)
    void PyObject_GC_UnTrack(void *obj)


cdef bint untrack_atoms(tuple items):
    # A tuple of ints and strings (or of such tuples) can be in no reference
    # cycle: taken out of the collector's lists now, as its first collection
    # would take it, so that no young collection walks the tens of
    # thousands a booting kernel's blocks hold. True if it was.
    cdef object item
    for item in items:
        if type(item) is tuple:
            untrack_atoms(<tuple>item)
        if PyObject_GC_IsTracked(item):
            return False
    if PyObject_GC_IsTracked(items):
        PyObject_GC_UnTrack(<void *>items)
    return True


@cython.no_gc
@cython.final
cdef class BTBlock:
    """One translated block, built once its translation is done:
      guest_pc     the guest pc it starts at
      tc_addr      the TC address of its first word
      words        the TC words (a tuple of ints)
      starts       TC address where each rewrite (and exit stub) starts, ascending
      pcs          the guest pc each of those stands for (a stub: its target)
      callouts     (TC address, callout record) pairs
      guest_end    first guest byte past the block
      guest_insns  guest instructions it holds
      pages        guest code pages (GVA) read
      renamed      (TC address of a renamed guest instruction, the register
                   standing in for gp there) pairs
      gpa_pages    guest pages (GPA) its code came from, set as it is installed
    Every field holds ints, strings or tuples of them (a block can never be
    part of a reference cycle)."""
    cdef readonly object guest_pc, tc_addr, words, starts, pcs, callouts, guest_end
    cdef readonly object guest_insns, pages, renamed
    cdef object _gpa_pages

    def __init__(self, guest_pc, tc_addr, tuple words, tuple starts, tuple pcs, tuple callouts,
                 guest_end, guest_insns, tuple pages, tuple renamed=(), tuple gpa_pages=()):
        self.guest_pc = guest_pc
        self.tc_addr = tc_addr
        self.words = words
        self.starts = starts
        self.pcs = pcs
        self.callouts = callouts
        self.guest_end = guest_end
        self.guest_insns = guest_insns
        self.pages = pages
        self.renamed = renamed
        self._gpa_pages = gpa_pages
        for fields in (words, starts, pcs, callouts, pages, renamed):
            untrack_atoms(fields)

    @property
    def gpa_pages(self):
        return self._gpa_pages

    @gpa_pages.setter
    def gpa_pages(self, tuple pages):
        self._gpa_pages = pages

    @property
    def size(self):
        """Its bytes in the TC."""
        return 4 * len(self.words)

    @property
    def pcmap(self):
        """(TC address, guest pc) of each rewrite's start."""
        return tuple(zip(self.starts, self.pcs))

    def exits(self):
        """TC addresses of this block's exit stubs with their guest targets."""
        # a callout record's kind and target (translator.KIND, translator.TARGET)
        return [(addr, c[4]) for addr, c in self.callouts if c[0] == "exit"]

    def _fields(self):
        return (self.guest_pc, self.tc_addr, self.words, self.starts, self.pcs, self.callouts,
                self.guest_end, self.guest_insns, self.pages, self.renamed, self._gpa_pages)

    def __eq__(self, other):
        if not isinstance(other, BTBlock):
            return NotImplemented
        return self._fields() == (<BTBlock>other)._fields()

    def __ne__(self, other):
        if not isinstance(other, BTBlock):
            return NotImplemented
        return self._fields() != (<BTBlock>other)._fields()

    __hash__ = None

    def __repr__(self):
        return (f"Block(guest_pc={self.guest_pc:#x}, tc_addr={self.tc_addr:#x}, "
                f"{len(self.words)} words, {self.guest_insns} guest instructions)")
