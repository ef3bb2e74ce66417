/* pv/trap.S -- trap.S for the paravirtual kernel: the upcall entry and the
 * return to user mode through the iret hypercall.
 *
 * The hypervisor enters trap_vector in kernel mode with the interrupted
 * context in pv_vcpu_info (pc, cause, tval) and sp swapped with the info
 * page's scratch word, as csrrw sp, sscratch, sp does natively: scratch holds
 * the current process's trapframe while user code runs and 0 while the
 * kernel runs, so sp = 0 here means the kernel itself trapped. */
#include "pv/pv.h"
    .option norelax
    .equ    TF_EPC, 256
    .equ    TF_KSP, 264

    .text
    .balign 4
    .globl trap_vector
trap_vector:
    beqz    sp, trap_from_kernel    /* sp = trapframe, scratch = user sp */
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
    la      t0, pv_vcpu_info
    ld      t1, PV_INFO_SCRATCH(t0)
    sd      t1, 2*8(sp)             /* the user sp */
    ld      t1, PV_INFO_PC(t0)
    sd      t1, TF_EPC(sp)
    sd      zero, PV_INFO_SCRATCH(t0)   /* now in the kernel */
    mv      a0, sp
    ld      sp, TF_KSP(a0)
    call    trap_from_user          /* returns the trapframe to resume */
    /* fall through */

/* return_to_user(tf): the next upcall finds tf in scratch; the hypervisor
 * loads x1..x31 and pc from tf (x0..x31 then pc: the frame iret takes) and
 * runs it in user mode. */
    .globl return_to_user
return_to_user:
    la      t0, pv_vcpu_info
    sd      a0, PV_INFO_SCRATCH(t0)
    li      a6, PV_IRET
    li      a7, PV_EID
    ecall
1:  j       1b                      /* iret does not return */

trap_from_kernel:
    la      t0, pv_vcpu_info
    ld      sp, PV_INFO_SCRATCH(t0) /* back to the kernel sp; scratch = 0 again */
    sd      zero, PV_INFO_SCRATCH(t0)
    ld      a0, PV_INFO_CAUSE(t0)
    ld      a1, PV_INFO_PC(t0)
    ld      a2, PV_INFO_TVAL(t0)
    call    kernel_trap             /* panics */
2:  j       2b
