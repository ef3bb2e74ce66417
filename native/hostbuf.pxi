# Host memory the core owns (guest RAM, the register file), shared with
# Python through the buffer protocol: memoryview() and numpy.frombuffer() of
# a HostBuffer are zero-copy and keep it alive, so the C pointers the harts
# hold can never dangle. The core itself never imports NumPy: a machine that
# no device asks for a NumPy view starts without loading it.

from cpython.buffer cimport PyBUF_FORMAT
from libc.stdlib cimport calloc

cdef extern from "<sys/mman.h>" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void* addr, size_t length)
    int madvise(void* addr, size_t length, int advice)
    int PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE, MADV_DONTNEED
    void* MAP_FAILED

cdef extern from "<unistd.h>" nogil:
    long sysconf(int name)
    int _SC_PAGESIZE


cdef class HostBuffer:
    """`size` bytes of zeroed host memory, seen as 1-D items of `itemsize`
    bytes ('B' or 'Q'). Large buffers are anonymous mappings, so untouched
    guest RAM costs no host memory and `discard()` gives pages back at once."""

    cdef char* ptr
    cdef Py_ssize_t size
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]
    cdef Py_ssize_t itemsize
    cdef bytes format
    cdef bint mapped
    cdef object _numpy        # the one NumPy view, made on first use

    def __cinit__(self, Py_ssize_t size, Py_ssize_t itemsize=1):
        cdef void* p
        if size <= 0 or itemsize not in (1, 8) or size % itemsize:
            raise ValueError(f"a host buffer of {size} bytes in items of {itemsize}")
        self.itemsize = itemsize
        self.format = b"B" if itemsize == 1 else b"Q"
        self.size = size
        self.shape[0] = size // itemsize
        self.strides[0] = itemsize
        if size >= 1 << 16:
            p = mmap(NULL, <size_t>size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            if p == MAP_FAILED:
                raise MemoryError(f"cannot map {size} bytes of host memory")
            self.mapped = True
        else:
            p = calloc(1, <size_t>size)
            if p == NULL:
                raise MemoryError(f"cannot allocate {size} bytes of host memory")
        self.ptr = <char*>p

    def __dealloc__(self):
        if self.ptr != NULL:
            if self.mapped:
                munmap(self.ptr, <size_t>self.size)
            else:
                free(self.ptr)
            self.ptr = NULL

    def __len__(self):
        return self.shape[0]

    def __getbuffer__(self, Py_buffer* view, int flags):
        view.buf = self.ptr
        view.obj = self
        view.len = self.size
        view.readonly = 0
        view.itemsize = self.itemsize
        if flags & PyBUF_FORMAT:
            view.format = <char*>self.format
        else:
            view.format = NULL
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL

    def numpy_view(self):
        """The buffer as a NumPy array (uint8 or uint64), zero-copy; the same
        array every time, so the harts of one machine share one view."""
        if self._numpy is None:
            import numpy
            self._numpy = numpy.frombuffer(self, dtype=numpy.uint8 if self.itemsize == 1 else numpy.uint64)
        return self._numpy

    def discard(self):
        """Give the pages back to the host now; the buffer reads as zeros
        afterwards (views stay valid, so nothing can touch freed memory)."""
        if self.mapped:
            madvise(self.ptr, <size_t>self.size, MADV_DONTNEED)
        else:
            memset(self.ptr, 0, <size_t>self.size)

    def discard_range(self, Py_ssize_t offset, Py_ssize_t length):
        """Give bytes [offset, offset + length) back to the host: they read
        as zeros afterwards. Whole host pages of a mapped buffer are dropped
        with MADV_DONTNEED (the host frees them); anything else is zeroed."""
        cdef Py_ssize_t page, start, end
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(f"discard of {offset:#x}+{length:#x} outside a {self.size:#x}-byte buffer")
        if length == 0:
            return
        start = end = offset + length     # [start, end): the part dropped, none yet
        if self.mapped:
            page = sysconf(_SC_PAGESIZE)
            start = (offset + page - 1) // page * page
            end = (offset + length) // page * page
            if start >= end or madvise(self.ptr + start, <size_t>(end - start), MADV_DONTNEED) != 0:
                start = end = offset + length     # nothing dropped: all zeroed below
        memset(self.ptr + offset, 0, <size_t>(start - offset))
        memset(self.ptr + end, 0, <size_t>(offset + length - end))
