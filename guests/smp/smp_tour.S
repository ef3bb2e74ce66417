# An S-mode payload for several harts on SBI firmware (OpenSBI's fw_jump with
# QEMU or pyvmm, or pyvmm's built-in SBI), linked at 0x80200000. The hart the
# firmware enters (the boot hart, whichever it is) counts the harts through
# HSM hart_get_status, starts every other one with hart_start, and then
# drives them by IPIs: a ping-pong of IPIs with each, a shared counter that
# every hart increments with LR/SC at the same time, code the boot hart
# patches that the others must see after an SBI remote fence.i, and finally
# hart_stop. Nothing printed depends on which hart boots or on timing, so
# the output is the same on every platform; exit status 0 through SRST.
        .include "../firmware/sbi_defs.inc"

        .equ    MAX_HARTS, 8
        .equ    STACK_SIZE, 4096
        .equ    PINGS, 3                # IPI round trips per secondary
        .equ    ADDS, 5000              # LR/SC increments per hart
        .equ    CMD_PING, 1
        .equ    CMD_CALL, 2
        .equ    CMD_ADD, 3
        .equ    CMD_STOP, 4
        .equ    SIP_SSIP, 2
        .equ    HSM_STOPPED, 1

        .text
        .globl _start
_start:
        mv      s0, a0                  # boot hart id
        la      t0, stacks + STACK_SIZE
        slli    t1, a0, 12
        add     sp, t0, t1
        la      t0, trap
        csrw    stvec, t0
        la      t0, boot_hart
        sd      s0, 0(t0)

        # harts that exist answer hart_get_status; the others are invalid ids
        li      s1, 0                   # harts
        li      s2, 0                   # of them STOPPED (all but the boot hart)
1:      mv      a0, s1
        SBI_CALL EID_HSM, 2
        bnez    a0, 2f
        addi    t0, a1, -HSM_STOPPED
        seqz    t0, t0
        add     s2, s2, t0
        addi    s1, s1, 1
        li      t0, MAX_HARTS
        blt     s1, t0, 1b
2:      la      t0, nharts
        sd      s1, 0(t0)
        la      a0, msg_harts
        call    puts
        mv      a0, s1
        call    putdec
        la      a0, msg_stopped
        call    puts
        mv      a0, s2
        call    putdec
        la      a0, msg_nl
        call    puts

        # hart_start on the boot hart itself: it is already available
        mv      a0, s0
        la      a1, secondary
        li      a2, 0
        SBI_CALL EID_HSM, 0
        mv      s3, a0
        la      a0, msg_self_start
        call    puts
        mv      a0, s3
        call    putdec
        la      a0, msg_nl
        call    puts

        # start the others one by one; each reports in with its opaque value
        li      s3, 0                   # hart id
        li      s4, 0                   # started
3:      beq     s3, s1, 5f
        beq     s3, s0, 4f
        mv      a0, s3
        la      a1, secondary
        addi    a2, s3, 0x100           # opaque
        SBI_CALL EID_HSM, 0
        bnez    a0, fail
        la      t0, up
        slli    t1, s3, 3
        add     t0, t0, t1
41:     ld      t1, 0(t0)
        beqz    t1, 41b
        addi    t2, s3, 0x100
        bne     t1, t2, fail            # the opaque value came through in a1
        addi    s4, s4, 1
4:      addi    s3, s3, 1
        j       3b
5:      la      a0, msg_started
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_nl
        call    puts

        csrs    sie, SIP_SSIP           # IPIs wake this hart's WFI (sstatus.SIE stays 0)

        # IPI ping-pong with every secondary
        li      s3, 0
        li      s4, 0                   # round trips completed
6:      beq     s3, s1, 8f
        beq     s3, s0, 7f
        li      s5, PINGS
61:     li      a0, CMD_PING
        mv      a1, s3
        call    command
        addi    s4, s4, 1
        addi    s5, s5, -1
        bnez    s5, 61b
7:      addi    s3, s3, 1
        j       6b
8:      la      t0, pings               # what the secondaries counted
        li      t1, 0
        li      t2, 0
81:     ld      t3, 0(t0)
        add     t2, t2, t3
        addi    t0, t0, 8
        addi    t1, t1, 1
        li      t3, MAX_HARTS
        blt     t1, t3, 81b
        bne     t2, s4, fail
        la      a0, msg_pings
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_nl
        call    puts

        # code: every secondary runs patchme (and so may hold it decoded) ...
        li      a0, CMD_CALL
        call    command_all
        li      a0, 1
        call    check_results
        # ... the boot hart rewrites it, fence.i here, SBI remote fence.i there
        la      t0, patchme
        la      t1, patched
        lw      t1, 0(t1)
        sw      t1, 0(t0)
        fence.i
        li      a0, 0
        li      a1, -1                  # every hart
        SBI_CALL EID_RFENCE, 0
        bnez    a0, fail
        li      a0, CMD_CALL
        call    command_all
        li      a0, 2
        call    check_results
        la      a0, msg_fence
        call    puts
        call    patchme
        call    putdec
        la      a0, msg_nl
        call    puts

        # LR/SC: all harts increment one counter at the same time
        li      a0, CMD_ADD
        call    send_all                # no reply: they report through `done`
        call    add_loop
        li      s3, 0
9:      beq     s3, s1, 10f
        beq     s3, s0, 91f
        la      t0, done
        slli    t1, s3, 3
        add     t0, t0, t1
92:     ld      t1, 0(t0)
        beqz    t1, 92b
91:     addi    s3, s3, 1
        j       9b
10:     la      a0, msg_counter
        call    puts
        la      t0, counter
        lw      a0, 0(t0)
        call    putdec
        la      a0, msg_of
        call    puts
        li      t0, ADDS
        mul     a0, s1, t0
        call    putdec
        la      a0, msg_nl
        call    puts

        # stop the secondaries; wait until HSM reports each STOPPED
        li      a0, CMD_STOP
        call    send_all
        li      s3, 0
        li      s4, 0
11:     beq     s3, s1, 12f
        beq     s3, s0, 111f
112:    mv      a0, s3
        SBI_CALL EID_HSM, 2
        bnez    a0, fail
        li      t0, HSM_STOPPED
        bne     a1, t0, 112b
        addi    s4, s4, 1
111:    addi    s3, s3, 1
        j       11b
12:     la      a0, msg_stopped_end
        call    puts
        mv      a0, s4
        call    putdec
        la      a0, msg_nl
        call    puts
        call    shutdown

fail:   la      a0, msg_fail
        call    puts
        li      a0, 0
        li      a1, 1                   # shutdown, system failure
        SBI_CALL EID_SRST, 0
        j       fail

# command(a0 = command, a1 = hart): post it, IPI the hart, wait for its IPI back
command:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, cmd
        slli    t1, a1, 3
        add     t0, t0, t1
        fence   rw, rw
        sd      a0, 0(t0)
        fence   rw, rw
        li      a0, 1
        sll     a0, a0, a1
        li      a1, 0
        SBI_CALL EID_IPI, 0
        bnez    a0, fail
        call    wait_ipi
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# command_all(a0 = command): command() to every secondary in turn
command_all:
        addi    sp, sp, -32
        sd      ra, 24(sp)
        sd      s3, 16(sp)
        sd      s4, 8(sp)
        mv      s4, a0
        li      s3, 0
1:      la      t0, nharts
        ld      t0, 0(t0)
        beq     s3, t0, 3f
        la      t0, boot_hart
        ld      t0, 0(t0)
        beq     s3, t0, 2f
        mv      a0, s4
        mv      a1, s3
        call    command
2:      addi    s3, s3, 1
        j       1b
3:      ld      s4, 8(sp)
        ld      s3, 16(sp)
        ld      ra, 24(sp)
        addi    sp, sp, 32
        ret

# send_all(a0 = command): post it to every secondary, one IPI to all of them
send_all:
        addi    sp, sp, -16
        sd      ra, 8(sp)
        la      t0, nharts
        ld      t1, 0(t0)
        la      t2, boot_hart
        ld      t2, 0(t2)
        la      t0, cmd
        li      t3, 0
        li      a1, 0                   # the mask
        fence   rw, rw
1:      beq     t3, t1, 3f
        beq     t3, t2, 2f
        sd      a0, 0(t0)
        li      t4, 1
        sll     t4, t4, t3
        or      a1, a1, t4
2:      addi    t0, t0, 8
        addi    t3, t3, 1
        j       1b
3:      fence   rw, rw
        mv      a0, a1
        li      a1, 0
        SBI_CALL EID_IPI, 0
        bnez    a0, fail
        ld      ra, 8(sp)
        addi    sp, sp, 16
        ret

# check_results(a0 = expected): every secondary's last patchme() value
check_results:
        la      t0, nharts
        ld      t1, 0(t0)
        la      t2, boot_hart
        ld      t2, 0(t2)
        la      t0, result
        li      t3, 0
1:      beq     t3, t1, 3f
        beq     t3, t2, 2f
        ld      t4, 0(t0)
        bne     t4, a0, fail
2:      addi    t0, t0, 8
        addi    t3, t3, 1
        j       1b
3:      ret

# wait_ipi: sleep until sip.SSIP, then clear it
wait_ipi:
1:      csrr    t0, sip
        andi    t0, t0, SIP_SSIP
        bnez    t0, 2f
        wfi
        j       1b
2:      csrc    sip, SIP_SSIP
        ret

# add_loop: ADDS increments of `counter` by LR/SC
add_loop:
        la      t0, counter
        li      t1, ADDS
1:      lr.w    t2, (t0)
        addi    t2, t2, 1
        sc.w    t3, t2, (t0)
        bnez    t3, 1b
        addi    t1, t1, -1
        bnez    t1, 1b
        ret

# patchme() returns 1; the boot hart rewrites its first instruction to return 2
        .balign 4
patchme:
        .option push
        .option norvc
        li      a0, 1
        .option pop
        ret
patched:
        .option push
        .option norvc
        li      a0, 2
        .option pop

# a secondary hart: a0 = its id, a1 = opaque
secondary:
        mv      s0, a0
        la      t0, stacks + STACK_SIZE
        slli    t1, a0, 12
        add     sp, t0, t1
        la      t0, trap
        csrw    stvec, t0
        csrs    sie, SIP_SSIP
        la      t0, up
        slli    t1, s0, 3
        add     t0, t0, t1
        fence   rw, rw
        sd      a1, 0(t0)
        la      s1, cmd
        slli    t1, s0, 3
        add     s1, s1, t1
1:      call    wait_ipi
        fence   rw, rw
        ld      t0, 0(s1)
        li      t1, CMD_PING
        beq     t0, t1, 2f
        li      t1, CMD_CALL
        beq     t0, t1, 3f
        li      t1, CMD_ADD
        beq     t0, t1, 4f
        li      t1, CMD_STOP
        beq     t0, t1, 5f
        j       fail
2:      la      t0, pings
        slli    t1, s0, 3
        add     t0, t0, t1
        ld      t1, 0(t0)
        addi    t1, t1, 1
        sd      t1, 0(t0)
        j       reply
3:      call    patchme
        la      t0, result
        slli    t1, s0, 3
        add     t0, t0, t1
        sd      a0, 0(t0)
        j       reply
4:      call    add_loop
        la      t0, done
        slli    t1, s0, 3
        add     t0, t0, t1
        li      t1, 1
        fence   rw, rw
        sd      t1, 0(t0)
        j       1b
5:      SBI_CALL EID_HSM, 1             # hart_stop does not return
        j       fail
reply:  fence   rw, rw
        la      t0, boot_hart
        ld      t0, 0(t0)
        li      a0, 1
        sll     a0, a0, t0
        li      a1, 0
        SBI_CALL EID_IPI, 0
        j       1b

        .balign 4
trap:   la      a0, msg_trap
        call    puts
        csrr    a0, scause
        call    puthex
        la      a0, msg_nl
        call    puts
        j       fail

        .include "../firmware/sbi_lib.inc"

        .section .rodata
msg_harts:      .asciz "smp_tour: "
msg_stopped:    .asciz " harts, stopped at entry: "
msg_self_start: .asciz "hart_start of the boot hart: "
msg_started:    .asciz "started through HSM: "
msg_pings:      .asciz "IPI round trips: "
msg_fence:      .asciz "patched code seen by every hart after remote fence.i: "
msg_counter:    .asciz "LR/SC counter: "
msg_of:         .asciz " of "
msg_stopped_end: .asciz "stopped through HSM: "
msg_trap:       .asciz "unexpected trap, scause "
msg_fail:       .asciz "smp_tour: FAIL\n"
msg_nl:         .asciz "\n"

        .data
        .balign 8
boot_hart:      .dword 0
nharts:         .dword 0
counter:        .dword 0
up:             .zero 8 * MAX_HARTS
cmd:            .zero 8 * MAX_HARTS
pings:          .zero 8 * MAX_HARTS
result:         .zero 8 * MAX_HARTS
done:           .zero 8 * MAX_HARTS

        .bss
        .balign 4096
stacks:         .zero STACK_SIZE * MAX_HARTS
