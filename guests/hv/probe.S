# probe.S -- an S-mode kernel that probes guest-physical memory outside its
# own RAM: from PROBE_START to PROBE_END every PROBE_STEP bytes it stores a
# marker and loads it back. Each access that faults is counted by the trap
# handler (which steps over it); each that succeeds is counted as a leak.
# `probe_faults` / `probe_leaks` hold the counts; the kernel then prints one
# line and powers off through SBI SRST. With 8 MiB of guest RAM every probe
# must fault, twice (store and load): 2 x 3968 access faults, on the board
# (pyvmm run --bios builtin --ram 8M) as in a VM (the isolation test in
# tests/hv, with another VM's memory somewhere in the probed range of HPAs).
    .equ PROBE_START, 0x80800000    # just past an 8 MiB VM's RAM
    .equ PROBE_END,   0x90000000
    .equ PROBE_STEP,  0x10000
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ EID_SRST, 0x53525354

    .option norvc                   # the trap handler steps over 4-byte instructions
    .section .text
    .globl _start
_start:
    la      t0, trap
    csrw    stvec, t0
    li      s0, PROBE_START
    li      s1, PROBE_END
    li      s2, PROBE_STEP
    li      s3, 0x0BAD0BAD
1:  bgeu    s0, s1, 3f
    li      s4, 0                   # set to 1 by the trap handler
    sd      s3, 0(s0)
    ld      t1, 0(s0)
    bnez    s4, 2f
    la      t0, probe_leaks
    ld      t2, 0(t0)
    addi    t2, t2, 1
    sd      t2, 0(t0)
2:  add     s0, s0, s2
    j       1b
3:  la      t1, done_text
4:  lbu     a0, 0(t1)
    beqz    a0, 5f
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    addi    t1, t1, 1
    j       4b
5:  li      a7, EID_SRST
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
6:  j       6b

    .align 2
trap:
    csrr    t5, scause
    la      t6, probe_faults
    ld      t4, 0(t6)
    addi    t4, t4, 1
    sd      t4, 0(t6)
    la      t6, probe_last_cause
    sd      t5, 0(t6)
    li      s4, 1
    csrr    t5, sepc
    addi    t5, t5, 4
    csrw    sepc, t5
    sret

    .section .data
    .align 3
    .globl probe_faults, probe_leaks, probe_last_cause
probe_faults:
    .dword  0
probe_leaks:
    .dword  0
probe_last_cause:
    .dword  0
done_text:
    .asciz  "probe: done\n"
