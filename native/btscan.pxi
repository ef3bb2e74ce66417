# The bt translator's run over the guest instructions of a block it needs no
# decision for (pyvmm/hv/bt/translator.py, translate_block).
#
# Most of a kernel's instructions reach the translation cache as they are
# (after RVC expansion), and most of the rest are conditional branches, each
# rewritten the same way inside a superblock. The translator's Python loop
# classifies every instruction; here its answers for those two kinds are a
# table it fills (raw parcel(s) -> the word the TC gets, and a branch's
# offset), so this side never decodes and cannot disagree with pyvmm.isa,
# and `scan` emits a run of known instructions straight from a code page,
# handing every other one back to the translator.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_FORMAT, PyBUF_C_CONTIGUOUS
from cpython.list cimport PyList_Append, PyList_GET_SIZE
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.sequence cimport PySequence_Contains

cdef enum:
    # The longest run one scan emits: a page of 2-byte instructions (the
    # translator asks again after a full run).
    SCAN_RUN = 2048
    SCAN_PAGE_MASK = 0xFFF
    # What a held word is.
    SCAN_COPIED = 1
    SCAN_BRANCH = 2


cdef struct ScanEntry:
    uint32_t raw                  # the parcel(s) as fetched; 0: an empty slot
    uint32_t word                 # copied: the word; branch: the word that hops over its stub
    int32_t offset                # branch: its target, from its pc
    uint32_t kind                 # SCAN_COPIED or SCAN_BRANCH


cdef inline bint parcel_format(const char *fmt) noexcept:
    # a buffer format of native-order or little-endian unsigned shorts
    if fmt == NULL:
        return False
    if fmt[0] == b'<' or fmt[0] == b'=' or fmt[0] == b'@':
        fmt += 1
    return fmt[0] == b'H' and fmt[1] == 0


cdef class CopyScan:
    """The guest instructions the bt translator emits without a decision,
    keyed by their raw parcel(s) (a 16-bit compressed parcel, or a 32-bit
    word whose low two bits are 11): the ones it copies unchanged, with the
    word the translation cache gets (a compressed one expanded), and the
    conditional branches it rewrites inside a superblock, with the inverted
    branch that hops over an exit stub and the offset of the taken target;
    and the scan of a run of them from a code page.

    `stub` is an exit stub's words (the callout first) and `exit_kind` its
    callout records' kind: a branch emits its hop, then the stub, whose
    callout record is (exit_kind, target, 0, 4, target, 0, 0).

    At most `limit` words are held: the table empties when an add finds it
    full (a kernel has some 100 K distinct words; the translator adds them
    back as it meets them). Open addressing over twice that many slots;
    raw 0 marks an empty one (a reserved parcel, never held)."""

    cdef ScanEntry *slots
    cdef uint64_t mask
    cdef Py_ssize_t count
    cdef readonly Py_ssize_t limit
    cdef readonly tuple stub
    cdef readonly object exit_kind
    cdef readonly Py_ssize_t emitted      # guest instructions the last scan emitted
    cdef uint32_t run_kinds[SCAN_RUN]
    cdef uint32_t run_words[SCAN_RUN]
    cdef uint64_t run_pcs[SCAN_RUN]
    cdef uint64_t run_targets[SCAN_RUN]

    def __cinit__(self, Py_ssize_t limit=1 << 18, tuple stub=(), exit_kind="exit"):
        cdef uint64_t size = 16
        if limit < 1 or limit > (1 << 26):
            raise ValueError(f"CopyScan of {limit} words: 1 to {1 << 26}")
        while size < <uint64_t>(2 * limit):
            size <<= 1
        self.slots = <ScanEntry *>calloc(size, sizeof(ScanEntry))
        if self.slots == NULL:
            raise MemoryError()
        self.mask = size - 1
        self.limit = limit
        self.stub = stub
        self.exit_kind = exit_kind

    def __dealloc__(self):
        free(self.slots)

    def __len__(self):
        return self.count

    cdef inline ScanEntry *_slot(self, uint32_t raw) noexcept:
        # raw's slot, or the empty one where it would go
        cdef uint64_t i = ((<uint64_t>raw * 0x9E3779B97F4A7C15ULL) >> 32) & self.mask
        while self.slots[i].raw != 0 and self.slots[i].raw != raw:
            i = (i + 1) & self.mask
        return &self.slots[i]

    def clear(self):
        """Forget every word."""
        memset(self.slots, 0, (self.mask + 1) * sizeof(ScanEntry))
        self.count = 0

    cdef _hold(self, uint32_t raw, uint32_t word, int32_t offset, uint32_t kind):
        cdef ScanEntry *slot
        if raw & 3 != 3 and raw > 0xFFFF or raw == 0:
            raise ValueError(f"{raw:#x} is not an instruction's parcel(s)")
        if self.count >= self.limit:
            self.clear()
        slot = self._slot(raw)
        if slot.raw == 0:
            self.count += 1
        slot.raw = raw
        slot.word = word
        slot.offset = offset
        slot.kind = kind

    def add(self, uint32_t raw, uint32_t word):
        """Hold `raw` (the parcel(s) as fetched) as copied, the translation
        cache getting `word`."""
        self._hold(raw, word, 0, SCAN_COPIED)

    def add_branch(self, uint32_t raw, uint32_t hop, int32_t offset):
        """Hold `raw` as a branch rewritten to `hop` (over an exit stub to
        the taken target, pc + offset), the block going on after the stub
        at the fall-through."""
        if not self.stub:
            raise ValueError("CopyScan: branches need the exit stub's words")
        if offset & 1 or not -(1 << 12) <= offset < (1 << 12):
            raise ValueError(f"a branch's offset is even and 13-bit signed, not {offset}")
        self._hold(raw, hop, offset, SCAN_BRANCH)

    def get(self, uint32_t raw):
        """What is held for `raw`: (the copied word, None), (a branch's hop,
        its offset), or None."""
        cdef ScanEntry *slot = self._slot(raw)
        if raw == 0 or slot.raw == 0:
            return None
        return (slot.word, slot.offset if slot.kind == SCAN_BRANCH else None)

    def scan(self, parcels, Py_ssize_t first, uint64_t pc, Py_ssize_t limit, ptstores,
             uint64_t tc_addr, list words, list starts, list pcs, list callouts):
        """Emit the guest instructions from `pc` on while they are held
        here: `parcels` is a code page's host memory as 16-bit parcels (a
        contiguous buffer of format H), its parcel `first` the page's first
        (pc's page). Each instruction appends its TC words to `words` (the
        TC address of words[i] is tc_addr + 4 * i), where it starts to
        `starts` and its guest pc to `pcs`; a branch's stub appends its
        start and target there too, and (its TC address, its callout
        record) to `callouts`. Stops before the first instruction that is
        not held, whose pc is in `ptstores`, that lies outside `parcels`, or
        that straddles the page's end; after the page's last instruction;
        or after `limit` instructions. Returns the pc it stopped at; how
        many instructions it emitted is `emitted`."""
        cdef Py_buffer view
        cdef Py_ssize_t n = 0, i, total, at
        cdef const uint16_t *page
        cdef uint32_t raw
        cdef uint64_t here = pc, offset, tc, target
        cdef ScanEntry *slot
        cdef object pc_obj, target_obj, stub_at, word
        cdef bint check_ptstores
        self.emitted = 0
        if limit <= 0:
            return pc
        PyObject_GetBuffer(parcels, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS)
        try:
            if view.itemsize != 2 or not parcel_format(view.format):
                raise TypeError("CopyScan.scan reads a buffer of 16-bit parcels (format H)")
            page = <const uint16_t *>view.buf
            total = view.len >> 1
            if limit > SCAN_RUN:
                limit = SCAN_RUN
            while n < limit:
                offset = here & SCAN_PAGE_MASK
                at = first + <Py_ssize_t>(offset >> 1)
                if at < 0 or at >= total:
                    break
                raw = page[at]
                if raw & 3 == 3:
                    if offset == SCAN_PAGE_MASK - 1 or at + 1 >= total:
                        break
                    raw |= <uint32_t>page[at + 1] << 16
                slot = self._slot(raw)
                if slot.raw == 0:
                    break
                self.run_kinds[n] = slot.kind
                self.run_words[n] = slot.word
                self.run_pcs[n] = here
                self.run_targets[n] = here + <uint64_t><int64_t>slot.offset
                n += 1
                here += 4 if raw & 3 == 3 else 2
                if here & SCAN_PAGE_MASK == 0:
                    break
        finally:
            PyBuffer_Release(&view)
        # The run as the translator's lists, cut before a pc in ptstores.
        check_ptstores = n and len(ptstores)
        tc = tc_addr + 4 * <uint64_t>PyList_GET_SIZE(words)
        for i in range(n):
            pc_obj = PyLong_FromUnsignedLongLong(self.run_pcs[i])
            if check_ptstores and PySequence_Contains(ptstores, pc_obj):
                return self.run_pcs[i]
            self.emitted = i + 1
            PyList_Append(words, PyLong_FromUnsignedLongLong(self.run_words[i]))
            PyList_Append(starts, PyLong_FromUnsignedLongLong(tc))
            PyList_Append(pcs, pc_obj)
            tc += 4
            if self.run_kinds[i] == SCAN_BRANCH:
                stub_at = PyLong_FromUnsignedLongLong(tc)
                target_obj = PyLong_FromUnsignedLongLong(self.run_targets[i])
                PyList_Append(starts, stub_at)
                PyList_Append(pcs, target_obj)
                PyList_Append(callouts, (stub_at, (self.exit_kind, target_obj, 0, 4, target_obj,
                                                   0, 0)))
                for word in self.stub:
                    PyList_Append(words, word)
                tc += 4 * <uint64_t>len(self.stub)
        return here
