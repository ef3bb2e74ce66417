# spin.S -- an S-mode CPU hog for the scheduler: prints one line, then
# counts in a loop for ever, on every hart the firmware or hypervisor starts
# (a0 is the hart id; the boot hart starts the others through SBI HSM), so
# all of a VM's VCPUs want a host hart all the time. Run with a budget:
#   pyvmm host --harts 2 --scheduler credit --max-insns 20000000 \
#       --vm guests/sched/spin.S,weight=256 --vm guests/sched/spin.S,weight=512
    .equ EID_HSM, 0x48534D
    .equ EID_LEGACY_PUTCHAR, 0x01
    .equ MAX_HARTS, 8

    .section .text
    .globl _start
_start:
    mv      s0, a0                  # this hart's id
    la      a0, banner
    call    puts
    # start every other hart that exists (hart_start answers an error for the others)
    li      s1, 0
1:  beq     s1, s0, 2f
    mv      a0, s1
    la      a1, secondary
    li      a2, 0
    li      a7, EID_HSM
    li      a6, 0                   # hart_start
    ecall
2:  addi    s1, s1, 1
    li      t0, MAX_HARTS
    bltu    s1, t0, 1b
secondary:
    li      t0, 0
3:  addi    t0, t0, 1
    j       3b

puts:                               # a0: NUL-terminated string, via legacy putchar
    mv      t1, a0
1:  lbu     a0, 0(t1)
    beqz    a0, 2f
    li      a7, EID_LEGACY_PUTCHAR
    ecall
    addi    t1, t1, 1
    j       1b
2:  ret

    .section .data
banner:
    .asciz  "spin: counting\n"
