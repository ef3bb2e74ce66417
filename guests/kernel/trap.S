/* trap.S -- the only way into the kernel after boot, and the way back out.
 *
 * sscratch holds the current process's trapframe while user code runs and 0
 * while the kernel runs, so the first instruction can tell where the trap
 * came from without touching memory.  The kernel keeps sstatus.SIE = 0, so
 * traps from S-mode are kernel bugs and end in panic. */
    .option norelax
    .equ    TF_EPC, 256
    .equ    TF_KSP, 264

    .text
    .balign 4
    .globl trap_vector
trap_vector:
    csrrw   sp, sscratch, sp        /* sp = trapframe, sscratch = user sp */
    beqz    sp, trap_from_kernel
    sd      x1, 1*8(sp)
    sd      x3, 3*8(sp)
    sd      x4, 4*8(sp)
    sd      x5, 5*8(sp)
    sd      x6, 6*8(sp)
    sd      x7, 7*8(sp)
    sd      x8, 8*8(sp)
    sd      x9, 9*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    sd      x12, 12*8(sp)
    sd      x13, 13*8(sp)
    sd      x14, 14*8(sp)
    sd      x15, 15*8(sp)
    sd      x16, 16*8(sp)
    sd      x17, 17*8(sp)
    sd      x18, 18*8(sp)
    sd      x19, 19*8(sp)
    sd      x20, 20*8(sp)
    sd      x21, 21*8(sp)
    sd      x22, 22*8(sp)
    sd      x23, 23*8(sp)
    sd      x24, 24*8(sp)
    sd      x25, 25*8(sp)
    sd      x26, 26*8(sp)
    sd      x27, 27*8(sp)
    sd      x28, 28*8(sp)
    sd      x29, 29*8(sp)
    sd      x30, 30*8(sp)
    sd      x31, 31*8(sp)
    csrr    t0, sscratch
    sd      t0, 2*8(sp)             /* the user sp */
    csrr    t0, sepc
    sd      t0, TF_EPC(sp)
    csrw    sscratch, zero          /* now in the kernel */
    mv      a0, sp
    ld      sp, TF_KSP(a0)
    call    trap_from_user          /* returns the trapframe to resume */
    /* fall through */

/* return_to_user(tf): sstatus.SPP is 0 (set at boot, and every trap comes
 * from U), so sret lands in U-mode, where S interrupts are always enabled. */
    .globl return_to_user
return_to_user:
    ld      t0, TF_EPC(a0)
    csrw    sepc, t0
    csrw    sscratch, a0
    ld      x1, 1*8(a0)
    ld      x2, 2*8(a0)
    ld      x3, 3*8(a0)
    ld      x4, 4*8(a0)
    ld      x5, 5*8(a0)
    ld      x6, 6*8(a0)
    ld      x7, 7*8(a0)
    ld      x8, 8*8(a0)
    ld      x9, 9*8(a0)
    ld      x11, 11*8(a0)
    ld      x12, 12*8(a0)
    ld      x13, 13*8(a0)
    ld      x14, 14*8(a0)
    ld      x15, 15*8(a0)
    ld      x16, 16*8(a0)
    ld      x17, 17*8(a0)
    ld      x18, 18*8(a0)
    ld      x19, 19*8(a0)
    ld      x20, 20*8(a0)
    ld      x21, 21*8(a0)
    ld      x22, 22*8(a0)
    ld      x23, 23*8(a0)
    ld      x24, 24*8(a0)
    ld      x25, 25*8(a0)
    ld      x26, 26*8(a0)
    ld      x27, 27*8(a0)
    ld      x28, 28*8(a0)
    ld      x29, 29*8(a0)
    ld      x30, 30*8(a0)
    ld      x31, 31*8(a0)
    ld      x10, 10*8(a0)
    sret

trap_from_kernel:
    csrrw   sp, sscratch, sp        /* back to the kernel sp; sscratch = 0 again */
    csrr    a0, scause
    csrr    a1, sepc
    csrr    a2, stval
    call    kernel_trap             /* panics */
1:  j       1b
