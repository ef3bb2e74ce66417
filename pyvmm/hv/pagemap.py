"""A VM's guest-physical RAM as host frames that several VMs can share.

Each guest page is backed by one host frame; the host counts how many guest
pages (of any VM) map each frame (`FrameRefs`). A frame mapped more than
once is shared and must never change: every VM maps it read-only, and the
first write through any path breaks the share for that VM alone:

* the guest's own store or AMO: under nested paging the G-stage leaf lacks W,
  the hart raises a store/AMO guest-page fault (cause 23) that the VCPU
  completes here without the guest seeing it (`write_fault`); under shadow
  paging the shadow pager leaves W out of shadow leaves of such pages and
  breaks the share on the store page fault it takes anyway;
* a device's DMA (GuestMemory asks `prepare_write` first), and the
  hypervisor's own writes (vm.write: loaders, device tree, hypercalls; the
  shadow pager's A/D updates and emulated stores; the PV info page).

Breaking a share copies the frame into a fresh one mapped writable in that
VM only (or, when this VM holds the last reference, maps the same frame
writable again without a copy), then drops that VM's stale translations:
its G-stage TLB entries (HFENCE.GVMA for its VMID) or its shadow entries.

Three things share frames: clones (VM.clone maps every page of the template
copy-on-write), content-based page sharing (pyvmm.hv.sharing merges
identical pages of any VMs into one frame), and discarded pages
(`discard_page`, for a balloon): the page reads as zero from the host's one
zero frame until its first write gives it a fresh private frame.
"""

from pyvmm.hv.gstage import LEAF_RWX, PTE_W
from pyvmm.hv.host import HvError
from pyvmm.isa import causes

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
LEAF_READ_EXECUTE = LEAF_RWX & ~PTE_W


class FrameRefs:
    """Reference counts of the host frames that back guest pages, and the
    host's zero frame. A frame is allocated with one reference and goes back
    to the host's allocator when its last reference is dropped."""

    def __init__(self, host):
        self.frames = host.frames
        self.core = host.core
        self.ram_base = host.ram_base
        # Freed frames leave the host process where the RAM buffer can drop pages.
        self._discard_range = getattr(host.core.ram_buffer, "discard_range", None)
        self.refs = {}                # frame HPA -> guest pages mapping it
        self.zero_frame = None        # HPA of the all-zero frame, while mapped

    def adopt(self, hpa):
        """A frame already allocated becomes a guest page's (one reference)."""
        self.refs[hpa] = 1

    def new_frame(self):
        hpa = self.frames.alloc(1)
        self.refs[hpa] = 1
        return hpa

    def take(self, hpa):
        self.refs[hpa] += 1

    def drop(self, hpa):
        count = self.refs[hpa] - 1
        if count:
            self.refs[hpa] = count
            return
        del self.refs[hpa]
        self.frames.free(hpa, 1)
        if self._discard_range is not None:
            self._discard_range(hpa - self.ram_base, PAGE_SIZE)
        if hpa == self.zero_frame:
            self.zero_frame = None

    def count(self, hpa):
        return self.refs.get(hpa, 0)

    def take_zero_frame(self):
        """One more reference to the zero frame (allocated and cleared on first use)."""
        if self.zero_frame is None:
            hpa = self.frames.alloc(1)
            self.core.write_mem(hpa, bytes(PAGE_SIZE))
            self.refs[hpa] = 1
            self.zero_frame = hpa
        else:
            self.take(self.zero_frame)
        return self.zero_frame

    def is_shared(self, hpa):
        return self.refs.get(hpa, 0) > 1 or hpa == self.zero_frame

    def stats(self):
        """Host-wide: frames backing guest RAM, how many of them are shared,
        the guest pages they back, and the allocator's own count."""
        shared = sum(1 for n in self.refs.values() if n > 1)
        pages = sum(self.refs.values())
        return {
            "guest_frames": len(self.refs),
            "shared_frames": shared,
            "guest_pages": pages,
            "pages_saved": pages - len(self.refs),
            "allocated_frames": self.frames.allocated,
            "free_frames": self.frames.free_frames,
            "total_frames": self.frames.nframes,
        }


def frame_refs(host):
    """The host's FrameRefs (made on first use)."""
    refs = getattr(host, "frame_refs", None)
    if refs is None:
        refs = host.frame_refs = FrameRefs(host)
    return refs


class PageMap:
    """Guest page i -> host frame `hpa[i]` (`offsets[i]` into the host's RAM
    buffer, the list GuestMemory reads), and whether page i is mapped
    read-only because its frame is shared (`readonly[i]`). The lists are
    edited in place: vm._page_hpa and GuestMemory.page_offsets are these."""

    def __init__(self, vm, hpas, adopt=True):
        self.vm = vm
        self.host = vm.host
        self.core = vm.host.core
        self.refs = frame_refs(vm.host)
        self.ram_base = vm.ram_base
        self.hpa = list(hpas)
        self.offsets = [hpa - self.host.ram_base for hpa in self.hpa]
        self.readonly = bytearray(len(self.hpa))
        if adopt:
            for hpa in self.hpa:
                self.refs.adopt(hpa)
        self.counters = {"cow_faults": 0, "cow_copies": 0, "cow_reuses": 0, "shares_broken": 0,
                         "dma_breaks": 0, "discarded": 0}

    def __len__(self):
        return len(self.hpa)

    def index(self, gpa):
        index = (gpa - self.ram_base) >> PAGE_SHIFT
        if gpa < self.ram_base or index >= len(self.hpa):
            raise HvError(f"{gpa:#x} is not guest RAM of {self.vm.name}")
        return index

    def gpa(self, index):
        return self.ram_base + (index << PAGE_SHIFT)

    def perms(self, index):
        """The G-stage leaf permissions of page `index`."""
        return LEAF_READ_EXECUTE if self.readonly[index] else LEAF_RWX

    def is_shared(self, gpa):
        return bool(self.readonly[self.index(gpa)])

    # -- sharing ----------------------------------------------------------------------------

    def share_with(self, template):
        """Map every page to the template's frame, read-only here and there
        (a clone's RAM). The clone's tables are built afterwards from perms()."""
        if getattr(template.vm, "shareable", True) is False:
            raise HvError(f"cannot clone {template.vm.name}: it shares nothing (a partition)")
        if self.hpa or len(template.hpa) != self.vm.ram_size >> PAGE_SHIFT:
            raise HvError(f"{self.vm.name}: cannot share RAM of another size or over RAM it has")
        for hpa in template.hpa:
            self.refs.take(hpa)
        self.hpa[:] = template.hpa
        self.offsets[:] = template.offsets
        self.readonly[:] = b"\x01" * len(self.hpa)
        template.protect(range(len(template.hpa)))

    def protect(self, indices):
        """Map these pages read-only (their frames are now shared)."""
        changed = [i for i in indices if not self.readonly[i]]
        for i in changed:
            self.readonly[i] = 1
        self._remapped(changed)

    def merge(self, index, hpa):
        """Page `index` holds the same bytes as frame `hpa`: map that frame
        read-only instead and drop a reference to its own."""
        old = self.hpa[index]
        if old == hpa:
            return
        self.refs.take(hpa)
        self._set(index, hpa, readonly=True)
        self.refs.drop(old)
        self._remapped([index])

    def discard_page(self, gpa):
        """Give a page's frame back to the host (a balloon's inflated page):
        it reads as zero from the host's zero frame from now on, and its
        first write maps a fresh zero-filled frame, private to this VM."""
        if gpa % PAGE_SIZE:
            raise HvError(f"discard_page needs a page address, not {gpa:#x}")
        if getattr(self.vm, "shareable", True) is False:
            raise HvError(f"{self.vm.name} shares nothing: its RAM is a reserved range")
        index = self.index(gpa)
        old = self.hpa[index]
        if old == self.refs.zero_frame:
            return
        zero = self.refs.take_zero_frame()
        self._set(index, zero, readonly=True)
        self.refs.drop(old)
        self.counters["discarded"] += 1
        self._remapped([index])

    # -- breaking shares ----------------------------------------------------------------------

    def write_fault(self, cause, gpa):
        """A guest-page fault under nested paging: if it is a store/AMO to a
        page mapped read-only for sharing, break the share and say True (the
        instruction re-runs; the guest never sees the fault)."""
        if cause != causes.EXC_STORE_GUEST_PAGE_FAULT or gpa is None:
            return False
        index = (gpa - self.ram_base) >> PAGE_SHIFT
        if gpa < self.ram_base or index >= len(self.hpa) or not self.readonly[index]:
            return False
        self.counters["cow_faults"] += 1
        self.break_share(index)
        return True

    def prepare_write(self, gpa, n, dma=False):
        """Guest RAM gpa..gpa+n is about to be written by the hypervisor or a
        device: break every share in the range first."""
        if n <= 0:
            return
        first = self.index(gpa)
        last = self.index(gpa + n - 1)
        for index in range(first, last + 1):
            if self.readonly[index]:
                if dma:
                    self.counters["dma_breaks"] += 1
                self.break_share(index)

    def writable_hpa(self, gpa):
        """The host address of guest RAM byte gpa, its page made private."""
        self.prepare_write(gpa, 1)
        return self.hpa[self.index(gpa)] | (gpa & (PAGE_SIZE - 1))

    def break_share(self, index):
        """Make page `index` writable in this VM alone: a copy of its frame,
        or the same frame if no one else maps it any more."""
        old = self.hpa[index]
        if self.refs.count(old) > 1 or old == self.refs.zero_frame:
            new = self.refs.new_frame()
            # write_mem also drops decoded instructions a former use of the frame left.
            self.core.write_mem(new, self.core.read_mem(old, PAGE_SIZE))
            self._set(index, new, readonly=False)
            self.refs.drop(old)
            self.counters["cow_copies"] += 1
        else:
            self.readonly[index] = 0
            self.counters["cow_reuses"] += 1
        self.counters["shares_broken"] += 1
        self._remapped([index])

    # -- mapping -----------------------------------------------------------------------------

    def _set(self, index, hpa, readonly):
        self.hpa[index] = hpa
        self.offsets[index] = hpa - self.host.ram_base
        self.readonly[index] = 1 if readonly else 0

    def _remapped(self, indices):
        """Pages changed frame or rights: fix the tables the hart walks and
        drop what it cached of the old ones."""
        if not indices:
            return
        vm = self.vm
        if vm.gstage is not None:
            for index in indices:
                vm.gstage.map_page(self.gpa(index), self.hpa[index], self.perms(index))
            # Every hart of the host may hold this VM's translations (HFENCE.GVMA on each).
            for core in getattr(self.host, "cores", None) or [self.core]:
                core.hfence_gvma(vm.vmid)
        if vm.pager is not None:
            vm.pager.remap_pages([self.gpa(index) for index in indices])

    def release(self):
        """Drop this VM's reference to every frame it maps; a VM that may not
        share (a partition, whose RAM is a reserved range it gives back
        itself) only forgets its frames."""
        shareable = getattr(self.vm, "shareable", True)
        for hpa in self.hpa:
            if shareable:
                self.refs.drop(hpa)
            else:
                self.refs.refs.pop(hpa, None)
        self.hpa[:] = []
        self.offsets[:] = []
        self.readonly = bytearray()

    # -- reports -----------------------------------------------------------------------------

    def stats(self):
        """Pages backed by frames of this VM alone, pages backed by shared
        frames, and the host's totals (from its frame allocator)."""
        refs = self.refs
        shared = sum(1 for hpa in self.hpa if refs.is_shared(hpa))
        stats = {
            "pages": len(self.hpa),
            "private_frames": len(self.hpa) - shared,
            "shared_pages": shared,
            "private_bytes": (len(self.hpa) - shared) * PAGE_SIZE,
        }
        stats.update(self.counters)
        stats["host"] = refs.stats()
        return stats
