"""The IOMMU's translation caches: an IOTLB of G-stage leaves tagged by
GSCID, and a cache of device contexts by device id.

Like hardware, both keep what they hold until an invalidation command says
otherwise: a change to a page table or a device directory in memory is not
seen for a cached entry until IOTINVAL.GVMA or IODIR.INVAL_DDT. Capacity
is finite and replacement is first-in first-out, so what is cached depends
only on the sequence of translations (deterministic).
"""

from collections import OrderedDict

# Leaf sizes a G-stage walk can produce: 4 KiB, 2 MiB, 1 GiB, 512 GiB.
LEAF_SIZES = (1 << 12, 1 << 21, 1 << 30, 1 << 39)


class Iotlb:
    def __init__(self, capacity=64):
        self.capacity = capacity
        self.entries = OrderedDict()      # (gscid, gpa_base, size) -> Translation
        self.evictions = 0

    def lookup(self, gscid, gpa):
        for size in LEAF_SIZES:
            entry = self.entries.get((gscid, gpa & ~(size - 1), size))
            if entry is not None:
                return entry
        return None

    def insert(self, gscid, translation):
        key = (gscid, translation.gpa_base, translation.size)
        if key not in self.entries and len(self.entries) >= self.capacity:
            self.entries.popitem(last=False)
            self.evictions += 1
        self.entries[key] = translation

    def invalidate(self, gscid=None, gpa=None):
        """IOTINVAL.GVMA: every entry (gscid None), every entry of one GSCID
        (gpa None), or the entries of one GSCID that cover `gpa`. Returns
        how many entries went."""
        doomed = [key for key in self.entries
                  if (gscid is None or key[0] == gscid)
                  and (gpa is None or key[1] <= gpa < key[1] + key[2])]
        for key in doomed:
            del self.entries[key]
        return len(doomed)

    def state(self):
        return [[g, base, size, t.spa_base, t.readable, t.writable]
                for (g, base, size), t in self.entries.items()]

    def restore(self, state, translation_type):
        self.entries.clear()
        for gscid, base, size, spa, readable, writable in state:
            self.entries[(gscid, base, size)] = translation_type(base, spa, size, readable, writable)


class ContextCache:
    """Device contexts by device id, dropped by IODIR.INVAL_DDT."""

    def __init__(self, capacity=32):
        self.capacity = capacity
        self.entries = OrderedDict()
        self.evictions = 0

    def lookup(self, device_id):
        return self.entries.get(device_id)

    def insert(self, device_id, context):
        if device_id not in self.entries and len(self.entries) >= self.capacity:
            self.entries.popitem(last=False)
            self.evictions += 1
        self.entries[device_id] = context

    def invalidate(self, device_id=None):
        if device_id is None:
            count = len(self.entries)
            self.entries.clear()
            return count
        return 1 if self.entries.pop(device_id, None) is not None else 0

    def state(self):
        return [[did, c.tc, c.iohgatp, c.ta, c.fsc] for did, c in self.entries.items()]

    def restore(self, state, context_type):
        self.entries.clear()
        for did, tc, iohgatp, ta, fsc in state:
            self.entries[did] = context_type(tc, iohgatp, ta, fsc)
