"""exec: map a static executable into a fresh address space and build the
initial stack a Linux kernel hands to a new program.

The stack, from the top down, as Linux's `execve` leaves it: an 8-byte zero
word, the program's path (AT_EXECFN), the environment strings, the argument
strings (argv[0] lowest), then, 16-byte aligned, the 16 AT_RANDOM bytes, and
below them argc, the argv pointers and a NULL, the envp pointers and a NULL,
and the auxiliary vector, with sp (16-byte aligned) pointing at argc.
RISC-V Linux writes no AT_PLATFORM (its ELF_PLATFORM is NULL); the cache
entries of its ARCH_DLINFO are written as 0 ("not known"), as on a machine
whose device tree describes no caches; there is no vDSO, so no
AT_SYSINFO_EHDR, and the C library makes real system calls for the clock.
"""

import struct

from pyvmm.user.elf import PF_R, PF_W, PF_X
from pyvmm.user.memory import (ET_DYN_BASE, PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_SIZE, STACK_TOP,
                               TASK_SIZE, MMAP_MIN_ADDR, Vma, page_down, page_up)
from pyvmm.user.elf import ExecError

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 16, 17
AT_SECURE, AT_RANDOM, AT_EXECFN = 23, 25, 31
AT_L1I_CACHESIZE, AT_L1I_CACHEGEOMETRY, AT_L1D_CACHESIZE, AT_L1D_CACHEGEOMETRY = 40, 41, 42, 43
AT_L2_CACHESIZE, AT_L2_CACHEGEOMETRY, AT_L3_CACHESIZE, AT_L3_CACHEGEOMETRY = 44, 45, 46, 47

AUX_NAMES = {AT_NULL: "AT_NULL", AT_PHDR: "AT_PHDR", AT_PHENT: "AT_PHENT", AT_PHNUM: "AT_PHNUM",
             AT_PAGESZ: "AT_PAGESZ", AT_BASE: "AT_BASE", AT_FLAGS: "AT_FLAGS", AT_ENTRY: "AT_ENTRY",
             AT_UID: "AT_UID", AT_EUID: "AT_EUID", AT_GID: "AT_GID", AT_EGID: "AT_EGID",
             AT_HWCAP: "AT_HWCAP", AT_CLKTCK: "AT_CLKTCK", AT_SECURE: "AT_SECURE",
             AT_RANDOM: "AT_RANDOM", AT_EXECFN: "AT_EXECFN"}

CLK_TCK = 100
# The ISA letters Linux reports in AT_HWCAP on RISC-V (its isa2hwcap table).
HWCAP_LETTERS = "imafdcv"


def hwcap_from_misa(misa):
    """AT_HWCAP: bit (letter - 'a') for each of Linux's reported letters that misa has."""
    cap = 0
    for letter in HWCAP_LETTERS:
        bit = 1 << (ord(letter) - ord("a"))
        if misa & bit:
            cap |= bit
    return cap


def _prot(flags):
    return (PROT_READ if flags & PF_R else 0) | (PROT_WRITE if flags & PF_W else 0) | \
        (PROT_EXEC if flags & PF_X else 0)


class Loaded:
    """Where an image went: `entry`, `phdr`, `phnum`, `bias` (load offset of a
    static-pie), `brk` (the first page past the image)."""

    def __init__(self, entry, phdr, phnum, bias, brk):
        self.entry, self.phdr, self.phnum, self.bias, self.brk = entry, phdr, phnum, bias, brk


def load_image(aspace, image, name):
    """Map `image` (an ElfImage) into the empty address space `aspace`."""
    lo, hi = image.span()
    bias = ET_DYN_BASE - lo if image.is_pie else 0
    if lo + bias < MMAP_MIN_ADDR or hi + bias > STACK_TOP - STACK_SIZE:
        raise ExecError(f"{name}: segments at {lo:#x}-{hi:#x} lie outside the user address space")
    for seg in sorted(image.segments, key=lambda s: s.vaddr):
        start = page_down(seg.vaddr + bias)
        end = page_up(seg.vaddr + bias + seg.memsz)
        prot = _prot(seg.flags)
        prev = aspace.find_vma(start)
        if prev is not None:
            # the segment begins in the last page of the previous one: that page
            # keeps both segments' bytes and takes both permissions
            aspace.protect(start, start + PAGE, prev.prot | prot)
            start += PAGE
        if start < end:
            aspace.map(Vma(start, end, prot, name=name))
        aspace.poke(seg.vaddr + bias, image.data[seg.offset:seg.offset + seg.filesz])
    phdr = image.phdr_vaddr
    if phdr is None:
        first = min(image.segments, key=lambda s: s.vaddr)
        phdr = first.vaddr - first.offset + image.phoff
    brk = page_up(hi + bias)
    aspace.brk_start = aspace.brk = brk
    stack_prot = PROT_READ | PROT_WRITE | (PROT_EXEC if image.exec_stack else 0)
    aspace.map(Vma(STACK_TOP - STACK_SIZE, STACK_TOP, stack_prot, name="[stack]"))
    return Loaded(image.entry + bias, phdr + bias, image.phnum, bias, brk)


def build_stack(aspace, loaded, argv, envp, execfn, random16, hwcap, ids):
    """Write argc/argv/envp/auxv onto the new stack; returns (sp, auxv list of (type, value))."""
    assert len(random16) == 16
    p = STACK_TOP - 8
    aspace.write(p, b"\0" * 8)

    def push_str(s):
        nonlocal p
        p -= len(s) + 1
        aspace.write(p, s + b"\0")
        return p

    execfn_addr = push_str(execfn)
    env_addrs = [push_str(s) for s in reversed(envp)][::-1]
    arg_addrs = [push_str(s) for s in reversed(argv)][::-1]
    p &= ~0xF
    p -= 16
    random_addr = p
    aspace.write(random_addr, random16)
    uid, euid, gid, egid = ids
    auxv = [
        (AT_L1I_CACHESIZE, 0), (AT_L1I_CACHEGEOMETRY, 0), (AT_L1D_CACHESIZE, 0), (AT_L1D_CACHEGEOMETRY, 0),
        (AT_L2_CACHESIZE, 0), (AT_L2_CACHEGEOMETRY, 0), (AT_L3_CACHESIZE, 0), (AT_L3_CACHEGEOMETRY, 0),
        (AT_HWCAP, hwcap), (AT_PAGESZ, PAGE), (AT_CLKTCK, CLK_TCK),
        (AT_PHDR, loaded.phdr), (AT_PHENT, 56), (AT_PHNUM, loaded.phnum),
        (AT_BASE, 0), (AT_FLAGS, 0), (AT_ENTRY, loaded.entry),
        (AT_UID, uid), (AT_EUID, euid), (AT_GID, gid), (AT_EGID, egid),
        (AT_SECURE, 0), (AT_RANDOM, random_addr), (AT_EXECFN, execfn_addr),
        (AT_NULL, 0),
    ]
    words = [len(argv)] + arg_addrs + [0] + env_addrs + [0]
    for key, value in auxv:
        words += [key, value]
    sp = (p - 8 * len(words)) & ~0xF
    if sp < STACK_TOP - STACK_SIZE + PAGE:
        raise ExecError("argument list too long", "E2BIG")
    aspace.write(sp, struct.pack("<%dQ" % len(words), *words))
    assert sp < TASK_SIZE
    return sp, auxv
