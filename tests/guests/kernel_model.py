"""What guests/kernel/kernel.elf must print, computed independently in Python.

Each nanobenchmark's checksum follows from what its loop does (see
guests/kernel/README.md); the macro workloads are recomputed here step by
step, so a test fails if the guest, or the machine running it, computes
anything differently.
"""

import zlib

MASK64 = (1 << 64) - 1

KERNEL_MODES = ("demo", "syscall", "mmio", "csrwr", "callret", "pgfault", "trap", "ptemod",
                "ctxsw", "compute", "forkwait", "console")
NANO_MODES = KERNEL_MODES[1:9]
MACRO_MODES = KERNEL_MODES[9:]


def _alternating(n, even, odd):
    return ((n + 1) // 2) * even + (n // 2) * odd


def _count_primes(flags, limit):
    flags[:limit] = bytes(limit)
    count = 0
    for i in range(2, limit):
        if flags[i]:
            continue
        count += 1
        for j in range(i * i, limit, i):
            flags[j] = 1
    return count


def _matmul_trace(seed, size=12):
    a = [[(seed + i * 7 + j) & MASK64 for j in range(size)] for i in range(size)]
    b = [[seed ^ (i + j * 3) for j in range(size)] for i in range(size)]
    trace = 0
    for i in range(size):
        for j in range(size):
            s = sum(a[i][k] * b[k][j] for k in range(size)) & MASK64
            trace = (trace + (s if i == j else s >> 7)) & MASK64
    return trace


def compute_checksum(rounds):
    limit = 8192
    heap = bytearray(limit)
    total = 0
    for r in range(rounds):
        primes = _count_primes(heap, limit - r)
        crc = zlib.crc32(bytes(heap), r)
        total = (total * 31 + primes + crc + _matmul_trace(r)) & MASK64
    return total


def checksum(mode, n):
    """The checksum `bench MODE: iterations N checksum 0x...` must show."""
    if mode in ("syscall", "callret", "pgfault"):
        return n * (n + 1) // 2          # 1 + 2 + ... + n
    if mode == "mmio":
        return n * 0xA5                  # the scratch register's pattern
    if mode == "csrwr":
        return (n // 2) * 0x20           # the old sie: STIE after every even write
    if mode == "trap":
        return 3 * n
    if mode == "ptemod":
        return _alternating(n, 0x1001, 0x2002)
    if mode == "ctxsw":
        return _alternating(n, 0x10001, 0x20002)
    if mode == "compute":
        return compute_checksum(n)
    if mode == "forkwait":
        return sum(i % 7 + (i & 0xFF) for i in range(n))
    if mode == "console":
        return sum(len("console %d\n" % i) for i in range(n))
    raise ValueError(mode)


def stack_child_status():
    value = 0
    for depth in range(49):
        value = (value * 3 + ((depth + depth % 9 * 64) & 0xFF)) & MASK64
    return value % 1000003


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def demo_output():
    children = [("primes", 6542), ("stack", stack_child_status()), ("sleeper", 3),
                ("yielder", fib(50)), ("breakpoints", 4), ("intruder", 128 + 13),
                ("hostile", 6)]
    lines = ["kernel: Sv39 demo, user processes with system calls, demand paging and timer preemption",
             "init: pid 1, running in user mode",
             "init: started %d children" % len(children)]
    for pid, (name, status) in enumerate(children, start=2):
        lines.append("init: child %d (%s) exited with status %d" % (pid, name, status))
    lines += ["init: wait with no children left returns -1",
              "init: sleep with nothing else to run returns 0",
              "kernel: init exited with status 0",
              "kernel: syscalls 54 (exit 7, write 13, getpid 1, yield 10, sbrk 3, fork 7, wait 9, sleep 4)",
              "kernel: page faults 23, fatal faults 1, demand pages 23, breakpoints 4",
              "kernel: processes 8, pages leaked 0",
              "kernel: shutdown"]
    return "\n".join(lines) + "\n"


def bench_summary(mode, n):
    """The lines after the banner for a bench mode: result, counters, shutdown."""
    syscalls = {"syscall": "kernel: syscalls %d (null %d, exit 1)" % (n + 1, n),
                "pgfault": "kernel: syscalls %d (exit 1, sbrk %d)" % (pgfault_sbrks(n) + 1,
                                                                      pgfault_sbrks(n)),
                "trap": "kernel: syscalls 1 (exit 1)",
                "compute": "kernel: syscalls 2 (exit 1, sbrk 1)",
                "forkwait": "kernel: syscalls %d (exit %d, sbrk %d, fork %d, wait %d)"
                            % (4 * n + 1, n + 1, n, n, n),
                "console": "kernel: syscalls %d (exit 1, write %d)" % (n + 1, n)}
    faults = {"pgfault": n, "compute": 2, "forkwait": n}.get(mode, 0)
    processes = {"forkwait": n + 1}.get(mode, 0 if mode in KERNEL_LOOPS else 1)
    return ["bench %s: iterations %d checksum 0x%x" % (mode, n, checksum(mode, n)),
            syscalls.get(mode, "kernel: syscalls 0"),
            "kernel: page faults %d, fatal faults 0, demand pages %d, breakpoints %d"
            % (faults, faults, n if mode == "trap" else 0),
            "kernel: processes %d, pages leaked 0" % processes,
            "kernel: shutdown"]


KERNEL_LOOPS = ("mmio", "csrwr", "callret", "ptemod", "ctxsw")


def pgfault_sbrks(n, window=16):
    """One sbrk to reserve the window, two per refill, one to release it."""
    refills = max(0, (n - 1) // window)
    return 2 + 2 * refills
