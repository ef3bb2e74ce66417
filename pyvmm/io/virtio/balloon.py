"""virtio-balloon, the memory balloon (virtio 1.2 section 5.5, device id 5).

The host asks for memory back by raising the target `num_pages` in the
configuration space (and a configuration-change interrupt); the driver
takes that many 4 KiB pages out of its own use and posts their page frame
numbers (32-bit, guest-physical address >> 12) on the inflate queue, then
writes how many it holds to `actual`. The device gives each inflated page's
memory back to the host; when the target drops the driver posts pages on
the deflate queue and may use them again, which reads zeros where the host
dropped them, as under QEMU.

Features are QEMU 7.2's defaults for virtio-balloon-device and
virtio-balloon-pci: VIRTIO_BALLOON_F_STATS_VQ (a third queue on which the
driver leaves a buffer of (tag, value) statistics that the device holds
until the host wants fresh ones) and VIRTIO_BALLOON_F_PAGE_POISON (the
16-byte configuration with `poison_val`), besides the transport's
VERSION_1, INDIRECT_DESC and EVENT_IDX.

What a page goes back to the host through is pluggable: `discard(gpa)` and
`reuse(gpa)`, set by whoever owns guest RAM (pyvmm.machine.devices.DeviceSet
drops the host memory behind the page, on the board and in a VM; a VM can
return the frame to its Host through DeviceSet.set_balloon_hooks). Without
a `discard` the page is zeroed through guest memory. A PFN outside guest RAM is ignored and counted, as QEMU
ignores one that is not RAM; a broken ring is DEVICE_NEEDS_RESET as for
every virtio device. Neither ever touches memory outside guest RAM.
"""

import struct

from pyvmm.io.virtio.device import VirtioDevice
from pyvmm.io.virtio.queue import VirtqueueError

ID_BALLOON = 5

VIRTIO_BALLOON_F_MUST_TELL_HOST = 1 << 0
VIRTIO_BALLOON_F_STATS_VQ = 1 << 1
VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 1 << 2
VIRTIO_BALLOON_F_FREE_PAGE_HINT = 1 << 3
VIRTIO_BALLOON_F_PAGE_POISON = 1 << 4
VIRTIO_BALLOON_F_REPORTING = 1 << 5

INFLATEQ, DEFLATEQ, STATSQ = 0, 1, 2

PFN_SHIFT = 12
BALLOON_PAGE_SIZE = 1 << PFN_SHIFT
PFN_BYTES = 4
# num_pages, actual, free_page_hint_cmd_id, poison_val (all le32).
CONFIG_FORMAT = "<IIII"
CONFIG_SIZE = struct.calcsize(CONFIG_FORMAT)
ACTUAL_OFFSET = 4
POISON_OFFSET = 12

# struct virtio_balloon_stat: le16 tag, le64 val, packed.
STAT_FORMAT = "<HQ"
STAT_SIZE = struct.calcsize(STAT_FORMAT)
STAT_NAMES = ("swap-in", "swap-out", "major-faults", "minor-faults", "free-memory",
              "total-memory", "available-memory", "disk-caches", "htlb-pgalloc", "htlb-pgfail")

_BALLOON_COUNTERS = ("pages_inflated", "pages_deflated", "bad_pfns", "target_changes",
                     "stats_updates", "stats_requests")


class VirtioBalloon(VirtioDevice):
    """`ram_size`: the guest RAM the target is measured against (bytes).
    `discard(gpa)` / `reuse(gpa)`: what inflating / deflating the 4 KiB
    page at `gpa` does on the host (None: zero the page / nothing); a page
    is only ever handed to them when it lies inside guest RAM."""

    device_id = ID_BALLOON
    name = "virtio-balloon"
    num_queues = 3
    queue_num_max = 128
    features = VIRTIO_BALLOON_F_STATS_VQ | VIRTIO_BALLOON_F_PAGE_POISON

    def __init__(self, ram_size, discard=None, reuse=None):
        super().__init__()
        if ram_size <= 0 or ram_size % BALLOON_PAGE_SIZE:
            raise ValueError(f"virtio-balloon: RAM size {ram_size} is not a positive multiple of 4 KiB")
        self.ram_size = ram_size
        self.discard = discard
        self.reuse = reuse
        self.num_pages = 0          # the host's target, in 4 KiB pages
        self.actual = 0             # what the driver says it holds
        self.poison_val = 0
        self.ballooned = set()      # PFNs inflated and not deflated since
        self.stats_head = None      # the statistics chain the device holds
        self.guest_stats = {}       # stat name -> value, from the last statistics buffer
        self.last_bad_pfn = None
        self.counters.update(dict.fromkeys(_BALLOON_COUNTERS, 0))

    @property
    def ram_pages(self):
        return self.ram_size >> PFN_SHIFT

    # -- the host's side ----------------------------------------------------

    def set_target(self, num_pages):
        """Ask the driver to hold `num_pages` pages in the balloon; the
        driver hears of it through a configuration-change interrupt (sent
        even when the value is unchanged, as QEMU does)."""
        if not 0 <= num_pages <= self.ram_pages:
            raise ValueError(f"virtio-balloon: target of {num_pages} pages is outside "
                             f"0..{self.ram_pages} (guest RAM is {self.ram_size >> 20} MiB)")
        self.num_pages = num_pages
        self.counters["target_changes"] += 1
        self.config_changed()

    def set_memory_target(self, target_bytes):
        """QEMU's `balloon` semantics: leave the guest `target_bytes` of its
        RAM (clamped to the RAM size), i.e. a target of RAM - target pages."""
        if target_bytes <= 0:
            raise ValueError("virtio-balloon: the memory target must be a positive size")
        target_bytes = min(target_bytes, self.ram_size)
        self.set_target((self.ram_size - target_bytes) >> PFN_SHIFT)

    def memory_size(self):
        """The guest's memory as the balloon leaves it (QEMU's `info balloon`
        actual): RAM minus the pages the driver reports in `actual`."""
        return self.ram_size - (self.actual << PFN_SHIFT)

    def request_stats(self):
        """Hand the held statistics buffer back so the driver refills it
        (QEMU's stats poll); False when the driver has left none."""
        if self.stats_head is None or not self.live:
            return False
        head, self.stats_head = self.stats_head, None
        self.counters["stats_requests"] += 1
        try:
            self.queues[STATSQ].push(self.memory, head, 0)
            self.signal(STATSQ)
        except VirtqueueError as error:
            self.device_error(str(error))
        return True

    # -- queues -------------------------------------------------------------

    def process_queue(self, index):
        if index == STATSQ:
            self._receive_stats()
            return
        served = False
        while True:
            chain = self.pop(index)
            if chain is None:
                break
            data = chain.read()
            for (pfn,) in struct.iter_unpack("<I", data[:len(data) // PFN_BYTES * PFN_BYTES]):
                self._page(index, pfn)
            # The device writes nothing back (QEMU returns each element with length 0).
            self.push(index, chain, 0)
            served = True
        if served:
            self.signal(index)

    def _page(self, index, pfn):
        gpa = pfn << PFN_SHIFT
        if not self.memory.contains(gpa, BALLOON_PAGE_SIZE):
            # Not RAM: QEMU traces it and goes on with the next PFN.
            self.counters["bad_pfns"] += 1
            self.last_bad_pfn = pfn
            return
        if index == INFLATEQ:
            self.counters["pages_inflated"] += 1
            self.ballooned.add(pfn)
            if self.discard is not None:
                self.discard(gpa)
            else:
                self.memory.fill(gpa, BALLOON_PAGE_SIZE, 0)
        else:
            self.counters["pages_deflated"] += 1
            self.ballooned.discard(pfn)
            if self.reuse is not None:
                self.reuse(gpa)

    def _receive_stats(self):
        while True:
            chain = self.pop(STATSQ)
            if chain is None:
                return
            if self.stats_head is not None:
                # A second buffer while one is held breaks the spec; QEMU hands the old one back.
                self.queues[STATSQ].push(self.memory, self.stats_head, 0)
                self.signal(STATSQ)
            self.stats_head = chain.head
            data = chain.read()
            stats = {}
            for tag, value in struct.iter_unpack(STAT_FORMAT, data[:len(data) // STAT_SIZE * STAT_SIZE]):
                if tag < len(STAT_NAMES):
                    stats[STAT_NAMES[tag]] = value
            self.guest_stats = stats
            self.counters["stats_updates"] += 1

    def reset_device(self):
        # QEMU keeps num_pages and actual across a reset; the held statistics
        # buffer and the poison value go.
        self.stats_head = None
        self.poison_val = 0

    # -- configuration space ------------------------------------------------

    def config_bytes(self):
        return struct.pack(CONFIG_FORMAT, self.num_pages, self.actual, 0, self.poison_val)

    def config_write(self, offset, size, value):
        """The driver writes `actual` (and `poison_val` once PAGE_POISON is
        negotiated); a write to `num_pages` is dropped, as the field is the
        host's."""
        if offset < 0 or offset + size > CONFIG_SIZE:
            return
        config = bytearray(self.config_bytes())
        config[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        self.actual = int.from_bytes(config[ACTUAL_OFFSET:ACTUAL_OFFSET + 4], "little")
        self.poison_val = 0
        if self.negotiated(VIRTIO_BALLOON_F_PAGE_POISON):
            self.poison_val = int.from_bytes(config[POISON_OFFSET:POISON_OFFSET + 4], "little")

    # -- counters and snapshots ---------------------------------------------

    def stats(self):
        stats = dict(self.counters)
        stats.update(num_pages=self.num_pages, actual=self.actual,
                     pages_ballooned=len(self.ballooned))
        if self.guest_stats:
            stats["guest"] = dict(self.guest_stats)
        return stats

    def device_state(self):
        return {
            "ram_size": self.ram_size,
            "num_pages": self.num_pages,
            "actual": self.actual,
            "poison_val": self.poison_val,
            "ballooned": sorted(self.ballooned),
            "stats_head": self.stats_head,
            "guest_stats": dict(self.guest_stats),
            "last_bad_pfn": self.last_bad_pfn,
        }

    def restore_device(self, state):
        if state["ram_size"] != self.ram_size:
            raise ValueError(f"virtio-balloon: saved for {state['ram_size']} bytes of RAM, "
                             f"this machine has {self.ram_size}")
        self.num_pages = state["num_pages"]
        self.actual = state["actual"]
        self.poison_val = state["poison_val"]
        self.ballooned = set(state["ballooned"])
        self.stats_head = state["stats_head"]
        self.guest_stats = dict(state["guest_stats"])
        self.last_bad_pfn = state["last_bad_pfn"]
