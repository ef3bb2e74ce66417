# tohost.S -- the HTIF mailboxes as riscv-tests define them: `tohost` and
# `fromhost`, 8-byte words in their own .tohost section, which link.ld gives a
# page of its own. compute-htif.elf links them in but never writes them: the
# workload measures what watching `tohost` (pyvmm --htif on) costs a run that
# stores everywhere else. On QEMU virt they are plain memory.
    .section .tohost, "aw", @progbits
    .balign 64
    .globl tohost
tohost:
    .dword 0
    .balign 64
    .globl fromhost
fromhost:
    .dword 0
