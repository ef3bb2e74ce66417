"""The translation cache: host frames holding translated blocks at TC_BASE..,
blocks by guest pc, chaining of exit stubs, invalidation.

Space is a bump allocator over TC_SIZE bytes of GVA, backed by host frames
taken as the cursor reaches each page. When a block does not fit, the whole
cache is flushed (every block, every chain) and translation starts again at
TC_BASE, as VMware's TC did.

Chaining: an exit stub is a callout naming its guest target; once the target
is translated the stub's word becomes `jal x0, target_block`, so the next
time control passes without leaving the core. Patched stubs are remembered
by target, so invalidating a block turns the jumps into it back into
callouts.

Invalidation is per guest code page (GPA): a store to a page any block was
read from (self-modifying code, or the kernel loading code) drops those
blocks. Their TC bytes stay until the next flush, so code already running
in them finishes its block.

Every block is preceded by its indirect entry, one word that reloads the
register a lookup-table jump went through (translator._table_probe). The
IndirectTable maps guest pcs to those entries; the runtime fills an entry
when an indirect jump's probe missed, and dropping a block (invalidation,
flush) empties its entry, so a probe never reaches a stale block.
"""

import array
import bisect
import collections

import numpy as np

from pyvmm.hv.bt import emit
from pyvmm.hv.bt.layout import IBL_ENTRIES, IBL_REG, PAGE_SIZE, SPILL_IBL, TC_BASE, TC_SIZE
from pyvmm.hv.bt.translator import (INDIRECT_ENTRY, KIND, MAX_BLOCK_INSNS, NO_TARGET, TARGET,
                                    ibl_index, translate_block)

INDIRECT_SPILL = emit.state_store(IBL_REG, SPILL_IBL)

# The most TC bytes one block can need: every guest instruction rewritten into
# the longest sequence (an sstatus write with its checks and slow path: 21
# words), the last one an indirect jump (40 words with its 64-bit link
# constant, table probe and literal) or a branch's two stubs, and the
# indirect entry before it.
MAX_BLOCK_BYTES = MAX_BLOCK_INSNS * 4 * 24
ENTRY_BYTES = 4                            # a block's indirect entry, right before it


class IndirectTable:
    """The lookup table translated indirect jumps probe (layout.IBL_GVA):
    IBL_ENTRIES direct-mapped entries of (guest pc, TC address of its block's
    indirect entry) in host frames at `hpa`. An empty entry's tag is
    NO_TARGET, which no jump target equals (jalr clears bit 0)."""

    def __init__(self, core, hpa):
        self.hpa = hpa
        self._words = memoryview(core.ram).cast("B").cast("Q")
        self._ram64 = core.ram.view(np.uint64)
        self._first = (hpa - core.ram_base) >> 3
        self.targets = {}                  # entry index -> the guest pc it holds
        self.clear()

    def clear(self):
        first, end = self._first, self._first + 2 * IBL_ENTRIES
        self._ram64[first:end:2] = NO_TARGET
        self._ram64[first + 1:end:2] = 0
        self.targets.clear()

    def fill(self, guest_pc, entry_addr):
        index = ibl_index(guest_pc)
        at = self._first + 2 * index
        self._words[at + 1] = entry_addr
        self._words[at] = guest_pc
        self.targets[index] = guest_pc

    def drop(self, guest_pc):
        """Empty guest_pc's entry if it holds guest_pc."""
        index = ibl_index(guest_pc)
        if self.targets.get(index) == guest_pc:
            del self.targets[index]
            self._words[self._first + 2 * index] = NO_TARGET
            self._words[self._first + 2 * index + 1] = 0


class Boundaries:
    """The TC addresses where a guest instruction's rewrite (or an exit
    stub) starts, in every block since the flush, with the guest pc each
    stands for: the places translated code can be stopped at as the guest
    would be (interrupts, snapshots). A mapping found through the block
    holding the address (two bisections), not a dictionary of every
    instruction translated: asked some 100 K times in a Linux boot, it
    would take a million entries, most never looked up."""
    __slots__ = ("_tc",)

    def __init__(self, tc):
        self._tc = tc

    def get(self, tc_addr, default=None):
        block = self._tc.block_containing(tc_addr)
        if block is None:
            return default
        # The last at an address: a jump without a link is its exit stub.
        i = bisect.bisect_right(block.starts, tc_addr) - 1
        return block.pcs[i] if i >= 0 and block.starts[i] == tc_addr else default

    def __contains__(self, tc_addr):
        return self.get(tc_addr, _ABSENT) is not _ABSENT

    def __getitem__(self, tc_addr):
        pc = self.get(tc_addr, _ABSENT)
        if pc is _ABSENT:
            raise KeyError(tc_addr)
        return pc

    def items(self):
        tc = self._tc
        for addr in tc.block_starts:
            block = tc.block_at[addr]
            yield from dict(zip(block.starts, block.pcs)).items()


_ABSENT = object()


class TranslationCache:
    def __init__(self, core, frames, table, base=TC_BASE, size=TC_SIZE):
        if size < MAX_BLOCK_BYTES or size % PAGE_SIZE or base % PAGE_SIZE:
            raise ValueError(f"TC of {size} bytes at {base:#x}: page aligned, at least "
                             f"{MAX_BLOCK_BYTES} bytes")
        self.core = core
        self.frames = frames
        self.base = base
        self.size = size
        self.page_hpa = {}                 # TC page GVA -> host frame (kept across flushes)
        self.table = table                 # the IndirectTable translated code probes
        self.ptstores = set()              # guest pcs of stores translated as "ptstore" callouts
        self.counters = collections.Counter()
        self.on_change = None              # called with the new Block, or None after a flush
        self._reset()

    def _reset(self):
        self.cursor = self.base
        self.blocks = {}                   # guest pc -> Block (valid ones)
        self.block_starts = []             # TC addresses of every block since the flush, sorted
        self.block_at = {}                 # TC address -> Block
        self.callouts = {}                 # TC address -> callout record (translator.KIND, ...)
        self.boundaries = Boundaries(self)  # TC address -> guest pc (each rewrite's first word)
        self.renamed = {}                  # TC address -> register standing in for the guest's gp
        # guest pc -> the patched stubs' TC addresses: one stub as an int, more
        # as an array of 64-bit ints growing in place (a kernel function
        # called from thousands of sites has as many stubs). Neither is an
        # object the garbage collector tracks in the common case: a booting
        # Linux chains some 40 K targets, most from one stub.
        self.incoming = {}
        self.patched = {}                  # stub TC address -> guest target
        self.literals = {}                 # indirect-jump hit site -> its cache literal's TC address
        self.code_pages = collections.defaultdict(set)  # guest code page (GPA) -> block guest pcs
        self.code_gvas = collections.defaultdict(set)   # guest code page (GVA) -> block guest pcs
        self.generation = getattr(self, "generation", -1) + 1

    # -- space ---------------------------------------------------------------------------------

    def contains(self, addr):
        return self.base <= addr < self.base + self.size

    def hpa_of(self, addr):
        """Host frame behind a TC address (allocated on first use)."""
        page = addr & ~(PAGE_SIZE - 1)
        hpa = self.page_hpa.get(page)
        if hpa is None:
            hpa = self.frames.alloc(1)
            self.page_hpa[page] = hpa
        return hpa | (addr & (PAGE_SIZE - 1))

    def _write_words(self, addr, words):
        """Store 32-bit words at TC address addr: one call into the core per
        run of TC pages whose host frames are adjacent (they usually are),
        which also does what Core.write_mem does after a write (decoded
        copies, dirty log)."""
        count = len(words)
        if (addr & (PAGE_SIZE - 1)) + 4 * count <= PAGE_SIZE:
            # on one TC page (most blocks, every stub)
            self.core.write_words(self.hpa_of(addr), words)
            return
        done = 0
        while done < count:
            at = addr + 4 * done
            start = self.hpa_of(at)
            # the words that fit on at's TC page, then on each following one
            # whose frame comes right after
            length = min(count - done, (PAGE_SIZE - (at & (PAGE_SIZE - 1))) >> 2)
            while done + length < count and self.hpa_of(at + 4 * length) == start + 4 * length:
                length += min(count - done - length, PAGE_SIZE >> 2)
            self.core.write_words(start, words[done:done + length])
            done += length

    def flush(self):
        self.counters["flushes"] += 1
        self._reset()
        self.table.clear()
        if self.on_change is not None:
            self.on_change(None)

    @property
    def bytes_used(self):
        return self.cursor - self.base

    # -- blocks --------------------------------------------------------------------------------

    def lookup(self, guest_pc):
        return self.blocks.get(guest_pc)

    def translate(self, fetch, guest_pc, code_gpa_pages=(), code_page=None):
        """Translate the block at guest_pc into the TC (flushing it when
        full). `code_gpa_pages(block)` names the guest pages its code came
        from; `code_page` is translate_block's. Its exit stubs to blocks
        already translated are chained before its words reach the TC (their
        first pass needs no callout, at no extra write). Raises
        translator.FetchFault when the guest cannot fetch there."""
        if self.cursor + ENTRY_BYTES + MAX_BLOCK_BYTES > self.base + self.size:
            self.flush()
        block = translate_block(fetch, guest_pc, self.cursor + ENTRY_BYTES, ptstores=self.ptstores,
                                code_page=code_page)
        self._install(block, code_gpa_pages)
        self.cursor += ENTRY_BYTES + block.size
        self.counters["blocks_translated"] += 1
        self.counters["guest_insns_translated"] += block.guest_insns
        if self.on_change is not None:
            self.on_change(block)
        return block

    def _install(self, block, code_gpa_pages):
        guest_pc = block.guest_pc
        tc_addr = block.tc_addr
        blocks = self.blocks
        blocks[guest_pc] = block
        words = None
        callouts = block.callouts
        for stub, callout in callouts:
            if callout[KIND] == "exit":
                target = blocks.get(callout[TARGET])
                if target is not None:
                    if words is None:
                        words = [INDIRECT_ENTRY, *block.words]
                    patch = self._stub_words(stub, target)
                    at = ((stub - tc_addr) >> 2) + 1
                    words[at:at + len(patch)] = patch
                    self._note_chain(stub, target)
        if words is None:
            words = (INDIRECT_ENTRY,) + block.words
        self._write_words(tc_addr - ENTRY_BYTES, words)
        self.block_starts.append(tc_addr)
        self.block_at[tc_addr] = block
        self.callouts.update(callouts)
        if block.renamed:
            self.renamed.update(block.renamed)
        pages = code_gpa_pages(block) if callable(code_gpa_pages) else code_gpa_pages
        if len(pages) == 1:
            pages = tuple(pages)
            self.code_pages[pages[0]].add(guest_pc)
        else:
            pages = tuple(sorted(set(pages)))
            for page in pages:
                self.code_pages[page].add(guest_pc)
        block.gpa_pages = pages
        gvas = block.pages
        if len(gvas) == 1:
            self.code_gvas[gvas[0]].add(guest_pc)
        else:
            for page in gvas:
                self.code_gvas[page].add(guest_pc)

    def addresses_of(self, guest_pcs, block=None):
        """The TC addresses where the guest instructions at `guest_pcs` begin
        (in `block`, or in every block since the flush): where a debugger's
        breakpoint on guest code has to stop the translated code."""
        wanted = set(guest_pcs)
        pairs = zip(block.starts, block.pcs) if block is not None else self.boundaries.items()
        return {tc for tc, pc in pairs if pc in wanted}

    def block_containing(self, tc_addr):
        i = bisect.bisect_right(self.block_starts, tc_addr) - 1
        if i < 0:
            return None
        block = self.block_at[self.block_starts[i]]
        return block if tc_addr < block.tc_addr + block.size else None

    def guest_pc_at(self, tc_addr):
        """The guest pc a TC address stands for: exact at a rewrite's first
        word; inside a rewrite, the guest instruction it belongs to."""
        block = self.block_containing(tc_addr)
        if block is None:
            # A block's indirect entry: the jump into it is done but for
            # restoring the register it went through.
            block = self.block_at.get(tc_addr + ENTRY_BYTES)
            return None if block is None else block.guest_pc
        i = bisect.bisect_right(block.starts, tc_addr) - 1
        return block.pcs[i] if i >= 0 else None

    # -- chaining ------------------------------------------------------------------------------

    def chain(self, stub, target_block):
        """Patch exit stub `stub` into a direct jump to target_block: a jal
        when in its range, else a far jump through t6 to the block's indirect
        entry (the stub's spare words). Returns True."""
        self._write_words(stub, self._stub_words(stub, target_block))
        self._note_chain(stub, target_block)
        return True

    def _stub_words(self, stub, target_block):
        """The words of exit stub `stub` chained to target_block."""
        offset = target_block.tc_addr - stub
        if emit.jump_fits(offset):
            return [emit.jal(0, offset)]
        # through the target's indirect entry, which reloads t6
        self.counters["chained_far"] += 1
        entry = target_block.tc_addr - ENTRY_BYTES
        return [INDIRECT_SPILL] + emit.far_jump(IBL_REG, entry - (stub + 4))

    def _note_chain(self, stub, target_block):
        target = target_block.guest_pc
        if self.patched.get(stub) != target:   # (a rebuild chains again what its installs chained)
            self._add_incoming(target, stub)
        self.patched[stub] = target
        self.counters["chained"] += 1

    def link_indirect(self, site, literal, target_block):
        """Point an indirect jump's inline cache at target_block; False when
        out of jal range."""
        offset = target_block.tc_addr - site
        if not emit.jump_fits(offset):
            return False
        old = self.patched.get(site)
        if old is not None:
            self._remove_incoming(old, site)
        self._write_words(site, [emit.jal(0, offset)])
        target = target_block.guest_pc
        self._write_words(literal, [target & 0xFFFF_FFFF, target >> 32])
        self.patched[site] = target
        self.literals[site] = literal
        self._add_incoming(target, site)
        self.counters["indirect_links"] += 1
        return True

    def _add_incoming(self, guest_pc, stub):
        # Callers add a stub only as it starts to jump to guest_pc (patched
        # holds its one target), so never twice: no search of the hundreds
        # of stubs a kernel's common functions collect.
        stubs = self.incoming.get(guest_pc)
        if stubs is None:
            self.incoming[guest_pc] = stub
        elif stubs.__class__ is int:
            self.incoming[guest_pc] = array.array("Q", (stubs, stub))
        else:
            stubs.append(stub)

    def _remove_incoming(self, guest_pc, stub):
        stubs = self.incoming.get(guest_pc)
        if stubs is None:
            return
        if stubs.__class__ is int:
            if stubs == stub:
                del self.incoming[guest_pc]
        elif stub in stubs:
            stubs.remove(stub)
            if not stubs:
                del self.incoming[guest_pc]

    def incoming_stubs(self, guest_pc):
        """The TC addresses of the stubs patched to jump to guest_pc."""
        stubs = self.incoming.get(guest_pc, ())
        return (stubs,) if stubs.__class__ is int else tuple(stubs)

    def _incoming_of(self, guest_pc):
        """The stubs patched to jump to guest_pc, no longer remembered."""
        stubs = self.incoming_stubs(guest_pc)
        self.incoming.pop(guest_pc, None)
        return stubs

    def remember_target(self, block):
        """Fill block's lookup-table entry: indirect jumps to it that miss
        their inline cache reach it without leaving translated code."""
        self.table.fill(block.guest_pc, block.tc_addr - ENTRY_BYTES)
        self.counters["table_fills"] += 1

    def _unchain(self, guest_pc):
        self.table.drop(guest_pc)
        for stub in self._incoming_of(guest_pc):
            literal = self.literals.pop(stub, None)
            if literal is None:
                self._write_words(stub, [emit.ECALL])
            else:                          # the cache can no longer hit
                self._write_words(literal, [NO_TARGET, 0])
            del self.patched[stub]
            self.counters["unchained"] += 1

    # -- invalidation --------------------------------------------------------------------------

    def _drop(self, guest_pc):
        """Drop the valid block at guest_pc (if any); True if there was one."""
        block = self.blocks.pop(guest_pc, None)
        if block is None:
            return False
        for page in block.gpa_pages:
            self.code_pages[page].discard(guest_pc)
        for page in block.pages:
            self.code_gvas[page].discard(guest_pc)
        self._unchain(guest_pc)
        return True

    def retranslate_store(self, store_pc, ptstore):
        """Adaptive BT: from now on translate the store at guest pc store_pc
        as a "ptstore" callout (or, ptstore False, copied again), dropping
        the valid blocks holding it (their TC bytes stay, so code running in
        one finishes it). Returns how many blocks were dropped."""
        if ptstore:
            self.ptstores.add(store_pc)
            self.counters["adaptive_retranslations"] += 1
        else:
            self.ptstores.discard(store_pc)
        # Every block holding the store read the page the store starts on.
        holding = [guest_pc for guest_pc in self.code_gvas.get(store_pc & ~(PAGE_SIZE - 1), ())
                   if guest_pc in self.blocks
                   and guest_pc <= store_pc < self.blocks[guest_pc].guest_end]
        for guest_pc in holding:
            self._drop(guest_pc)
        self.counters["invalidations"] += len(holding)
        return len(holding)

    def invalidate_page(self, gpa_page):
        """Drop every block read from guest page gpa_page; returns how many."""
        dropped = sum(self._drop(guest_pc) for guest_pc in list(self.code_pages.pop(gpa_page, ())))
        self.counters["invalidations"] += dropped
        return dropped

    def invalidate_gva_page(self, gva_page):
        """Drop every block read through guest virtual page gva_page (its
        translation changed); returns how many."""
        dropped = sum(self._drop(guest_pc) for guest_pc in list(self.code_gvas.pop(gva_page, ())))
        self.counters["invalidations"] += dropped
        self.counters["remapped_code_pages"] += 1
        return dropped

    # -- snapshots: the cache's layout, rebuilt from guest code -----------------------------------

    def layout(self):
        """What rebuild() needs to lay the cache out again exactly: every
        block since the last flush (TC offset, guest pc, size, still valid),
        the chained stubs and inline caches, the cursor, the counters. No
        translated words: they are translated again from guest code, so
        the same blocks run the same instructions after a restore."""
        return {
            "cursor": self.cursor - self.base,
            "blocks": [(addr - self.base, self.block_at[addr].guest_pc, self.block_at[addr].size,
                        self.blocks.get(self.block_at[addr].guest_pc) is self.block_at[addr])
                       for addr in self.block_starts],
            "chains": sorted((stub - self.base, target, self.literals[stub] - self.base
                              if stub in self.literals else None)
                             for stub, target in self.patched.items()),
            "ptstores": sorted(self.ptstores),
            "table": sorted(self.table.targets.values()),
            "generation": self.generation,
            "counters": dict(self.counters),
        }

    def rebuild(self, layout, fetch, code_gpa_pages, on_block=None):
        """Translate the blocks `layout` names again, each at its own TC
        address, and chain them as they were. A dropped block's space stays
        taken, as it was. A valid block whose code cannot be fetched now, or
        translates to another size, raises ValueError; nothing is chained then."""
        self._reset()
        self.table.clear()
        self.ptstores = set(layout["ptstores"])
        rebuilt = []
        for offset, guest_pc, size, valid in layout["blocks"]:
            if not valid:
                continue
            block = translate_block(fetch, guest_pc, self.base + offset, ptstores=self.ptstores)
            if block.size != size:
                raise ValueError(f"the block at guest pc {guest_pc:#x} translates to "
                                 f"{block.size} bytes, not {size}")
            rebuilt.append(block)
        for block in rebuilt:
            self._install(block, code_gpa_pages)
            if on_block is not None:
                on_block(block)
        self.block_starts.sort()
        self.cursor = self.base + layout["cursor"]
        for stub, target, literal in layout["chains"]:
            block = self.blocks.get(target)
            if block is None or self.block_containing(self.base + stub) is None:
                continue                   # a stub of a dropped block: nothing runs there
            if literal is None:
                self.chain(self.base + stub, block)
            else:
                self.link_indirect(self.base + stub, self.base + literal, block)
        for guest_pc in layout.get("table", ()):
            block = self.blocks.get(guest_pc)
            if block is not None:
                self.table.fill(guest_pc, block.tc_addr - ENTRY_BYTES)
        self.generation = layout["generation"]
        self.counters = collections.Counter(layout["counters"])

    def stats(self):
        counters = dict(self.counters)
        counters["tc_bytes_used"] = self.bytes_used
        counters["tc_pages"] = len(self.page_hpa)
        counters["blocks_valid"] = len(self.blocks)
        counters["chains_live"] = len(self.patched)
        return dict(sorted(counters.items()))
