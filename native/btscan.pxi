# The bt translator's run over guest instructions it copies unchanged
# (pyvmm/hv/bt/translator.py, translate_block).
#
# Most of a kernel's instructions reach the translation cache as they are
# (after RVC expansion). The translator's Python loop classifies each one;
# here the classification of the copied words is a table the translator
# fills (raw parcel(s) -> expanded word, from its own _classify, so this side
# never decodes and cannot disagree with pyvmm.isa), and `scan` copies a run
# of known copied words straight from a code page, handing every other
# instruction back to the translator.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_FORMAT, PyBUF_C_CONTIGUOUS
from cpython.list cimport PyList_Append, PyList_GET_SIZE
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.sequence cimport PySequence_Contains

# The longest run one scan copies: a page of 2-byte instructions (the
# translator asks again after a full run).
cdef enum:
    SCAN_RUN = 2048
    SCAN_PAGE_MASK = 0xFFF


cdef inline bint parcel_format(const char *fmt) noexcept:
    # a buffer format of native-order or little-endian unsigned shorts
    if fmt == NULL:
        return False
    if fmt[0] == b'<' or fmt[0] == b'=' or fmt[0] == b'@':
        fmt += 1
    return fmt[0] == b'H' and fmt[1] == 0


cdef class CopyScan:
    """The guest instruction words the bt translator copies unchanged, keyed
    by their raw parcel(s) (a 16-bit compressed parcel, or a 32-bit word
    whose low two bits are 11) with the word the translation cache gets (a
    compressed one expanded), and the scan of a run of them from a code page.

    At most `limit` words are held: the table empties when an add finds it
    full (a kernel has some 100 K distinct words; the translator adds them
    back as it meets them). Open addressing over twice that many slots;
    slot 0 means empty (raw 0 is a reserved parcel, never copied)."""

    cdef uint64_t *slots          # expanded word << 32 | raw, or 0
    cdef uint64_t mask
    cdef Py_ssize_t count
    cdef readonly Py_ssize_t limit
    cdef uint32_t run_words[SCAN_RUN]
    cdef uint64_t run_pcs[SCAN_RUN]

    def __cinit__(self, Py_ssize_t limit=1 << 18):
        cdef uint64_t size = 16
        if limit < 1 or limit > (1 << 26):
            raise ValueError(f"CopyScan of {limit} words: 1 to {1 << 26}")
        while size < <uint64_t>(2 * limit):
            size <<= 1
        self.slots = <uint64_t *>calloc(size, sizeof(uint64_t))
        if self.slots == NULL:
            raise MemoryError()
        self.mask = size - 1
        self.limit = limit

    def __dealloc__(self):
        free(self.slots)

    def __len__(self):
        return self.count

    cdef inline uint64_t _home(self, uint32_t raw) noexcept:
        return ((<uint64_t>raw * 0x9E3779B97F4A7C15ULL) >> 32) & self.mask

    cdef inline int _find(self, uint32_t raw, uint32_t *word) noexcept:
        # 1 with *word set when raw is held, else 0
        cdef uint64_t i = self._home(raw), entry
        while True:
            entry = self.slots[i]
            if entry == 0:
                return 0
            if <uint32_t>entry == raw:
                word[0] = <uint32_t>(entry >> 32)
                return 1
            i = (i + 1) & self.mask

    def clear(self):
        """Forget every word."""
        memset(self.slots, 0, (self.mask + 1) * sizeof(uint64_t))
        self.count = 0

    def add(self, uint32_t raw, uint32_t word):
        """Hold `raw` (the parcel(s) as fetched) as copied, the translation
        cache getting `word`."""
        cdef uint64_t i
        cdef uint64_t entry = (<uint64_t>word << 32) | raw
        if raw & 3 != 3 and raw > 0xFFFF or raw == 0:
            raise ValueError(f"{raw:#x} is not an instruction's parcel(s)")
        if self.count >= self.limit:
            self.clear()
        i = self._home(raw)
        while self.slots[i] != 0 and <uint32_t>self.slots[i] != raw:
            i = (i + 1) & self.mask
        if self.slots[i] == 0:
            self.count += 1
        self.slots[i] = entry

    def get(self, uint32_t raw):
        """The word held for `raw`, or None."""
        cdef uint32_t word
        return word if self._find(raw, &word) else None

    def scan(self, parcels, Py_ssize_t first, uint64_t pc, Py_ssize_t limit, ptstores,
             uint64_t tc_addr, list words, list starts, list pcs):
        """Copy the guest instructions from `pc` on while they are held
        here: `parcels` is a code page's host memory as 16-bit parcels (a
        contiguous buffer of format H), its parcel `first` the page's first
        (pc's page). Each copied instruction appends its word to `words`,
        its TC address (tc_addr + 4 * its index in words) to `starts` and
        its guest pc to `pcs`. Stops before the first instruction that is
        not held, whose pc is in `ptstores`, that lies outside `parcels`, or
        that straddles the page's end; after the page's last instruction;
        or after `limit` instructions. Returns the pc it stopped at."""
        cdef Py_buffer view
        cdef Py_ssize_t n = 0, i, total, at, base
        cdef const uint16_t *page
        cdef uint32_t raw, word
        cdef uint64_t here = pc, offset
        cdef object pc_obj
        cdef bint check_ptstores
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
                if not self._find(raw, &word):
                    break
                self.run_words[n] = word
                self.run_pcs[n] = here
                n += 1
                here += 4 if raw & 3 == 3 else 2
                if here & SCAN_PAGE_MASK == 0:
                    break
        finally:
            PyBuffer_Release(&view)
        # The run as the translator's lists, cut before a pc in ptstores.
        check_ptstores = n and len(ptstores)
        base = PyList_GET_SIZE(words)
        for i in range(n):
            pc_obj = PyLong_FromUnsignedLongLong(self.run_pcs[i])
            if check_ptstores and PySequence_Contains(ptstores, pc_obj):
                return self.run_pcs[i]
            PyList_Append(words, PyLong_FromUnsignedLongLong(self.run_words[i]))
            PyList_Append(starts, PyLong_FromUnsignedLongLong(tc_addr + 4 * <uint64_t>(base + i)))
            PyList_Append(pcs, pc_obj)
        return here
