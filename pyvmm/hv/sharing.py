"""Content-based page sharing: identical guest pages of any VMs on a host
mapped to one read-only frame (as VMware ESX's page sharing and Linux KSM do).

A scan hashes every frame that backs guest RAM (each distinct frame once),
compares the frames whose hashes collide byte for byte, and remaps every
guest page of a duplicate frame to the first frame with the same bytes
(pyvmm.hv.pagemap.PageMap.merge): the duplicate's last reference goes and
the host's allocator gets it back. Every page of a merged frame is mapped
read-only, so the first write to it breaks the share for the writing VM
alone (a fresh copy, as for clones); the guest never sees any of it.

The host runs a scan on demand (`host.share_pages()`, `PageSharing.scan`)
or every N scheduler slices (`SharingRoundRobin`). Scans run between
slices, when no guest runs, so a page cannot change between its comparison
and its remapping. The order (VMs in host order, pages in guest order) makes
every scan deterministic.
"""

import hashlib

from pyvmm.hv.host import HvError
from pyvmm.hv.pagemap import PAGE_SIZE, frame_refs
from pyvmm.hv.scheduler import RoundRobin


class PageSharing:
    """The page-sharing scanner of one host and its counters:
    scans, pages_scanned (guest pages looked at), frames_hashed,
    pages_merged (guest pages remapped onto another frame), frames_saved
    (frames given back to the host), and shares_broken (copy-on-write breaks
    in the VMs since, from their page maps)."""

    def __init__(self, host):
        self.host = host
        self.refs = frame_refs(host)
        self.counters = {"scans": 0, "pages_scanned": 0, "frames_hashed": 0, "pages_merged": 0,
                         "frames_saved": 0}

    def scan(self, vms=None):
        """One pass over the RAM of `vms` (every VM of the host by default);
        returns the number of frames it gave back."""
        vms = [vm for vm in (self.host.vms if vms is None else vms)
               if vm.pagemap.hpa and getattr(vm, "shareable", True) is not False]
        ram = memoryview(self.host.core.ram_buffer).cast("B")
        base = self.host.ram_base
        users = {}                    # frame HPA -> [(vm, page index)] in scan order
        for vm in vms:
            for index, hpa in enumerate(vm.pagemap.hpa):
                users.setdefault(hpa, []).append((vm, index))
            self.counters["pages_scanned"] += len(vm.pagemap.hpa)
        by_hash = {}                  # digest -> [frame HPA], first seen first
        for hpa in users:
            offset = hpa - base
            digest = hashlib.blake2b(ram[offset:offset + PAGE_SIZE], digest_size=16).digest()
            by_hash.setdefault(digest, []).append(hpa)
        self.counters["frames_hashed"] += len(users)
        saved = 0
        for frames in by_hash.values():
            if len(frames) < 2:
                continue
            # Equal hashes are candidates only: group by the bytes themselves.
            groups = []
            for hpa in frames:
                content = ram[hpa - base:hpa - base + PAGE_SIZE]
                for group in groups:
                    first = group[0]
                    if ram[first - base:first - base + PAGE_SIZE] == content:
                        group.append(hpa)
                        break
                else:
                    groups.append([hpa])
            for group in groups:
                if len(group) > 1:
                    saved += self._merge(group, users)
        self.counters["scans"] += 1
        self.counters["frames_saved"] += saved
        return saved

    def _merge(self, group, users):
        keep = group[0]
        for vm, index in users[keep]:
            vm.pagemap.protect([index])
        for hpa in group[1:]:
            for vm, index in users[hpa]:
                vm.pagemap.merge(index, keep)
                self.counters["pages_merged"] += 1
        return len(group) - 1

    def stats(self):
        stats = dict(self.counters)
        stats["shares_broken"] = sum(vm.pagemap.counters["shares_broken"] for vm in self.host.vms)
        stats["host"] = self.refs.stats()
        return stats


def page_sharing(host):
    """The host's PageSharing (made on first use)."""
    sharing = getattr(host, "page_sharing", None)
    if sharing is None:
        sharing = host.page_sharing = PageSharing(host)
    return sharing


class SharingRoundRobin(RoundRobin):
    """Round robin that runs a page-sharing scan every `every` slices."""

    def __init__(self, host, vms=None, slice_insns=None, every=16):
        if every < 1:
            raise HvError(f"a page-sharing scan every {every} slices: must be at least 1")
        super().__init__(host, vms=vms, slice_insns=slice_insns)
        self.every = every
        self.sharing = page_sharing(host)

    def run_slice(self, vcpu, budget):
        used = super().run_slice(vcpu, budget)
        if self.slices % self.every == 0:
            self.sharing.scan([vm for vm in self.vms if not vm.stopped])
        return used
