# fp_corners.S -- every F and D instruction over tables of IEEE corner cases
# (signed zeros, infinities, quiet and signalling NaNs, subnormals, the ends
# of the normal range, halfway cases, conversion bounds, an unboxed single),
# in each rounding mode RNE RTZ RDN RUP RMM (the dynamic mode, frm). Per
# instruction and mode it prints one line: the name, the mode and a hash of
# every result (all 64 bits of an f register) and the fflags it raised.
# Binary operations take every pair of values, the fused multiply-adds every
# triple of the first eight, unary ones every value (integer sources: a
# table of integers). QEMU 7.2 and pyvmm must print the same text.
    .attribute arch, "rv64imafdc_zicsr_zifencei"
    .equ UART, 0x10000000
    .text
    .globl _start
_start:
    li t0, 1 << 13
    csrs mstatus, t0          # FS = Initial
    la sp, stack_top
    la s0, op_table
next_op:
    ld s1, 0(s0)                 # the operation (a routine)
    beqz s1, finish
    ld s2, 8(s0)                 # kind | precision << 8
    li s3, 0                     # rounding mode
next_mode:
    li s4, 0                     # the hash
    andi t0, s2, 0xff
    li t1, 2
    li s7, 26                    # values in a table
    bne t0, t1, 1f
    li s7, 8                     # fused multiply-adds: the first eight, three deep
1:  li t1, 3
    bne t0, t1, 1f
    li s7, 16                    # integer sources
1:  srli t0, s2, 8
    la s8, svals
    beqz t0, 1f
    la s8, dvals
1:  li s5, 0                     # i
loop_i:
    li s6, 0                     # j (and k)
loop_j:
    li s9, 0
loop_k:
    slli t0, s5, 3
    add t0, t0, s8
    fld fa1, 0(t0)
    slli t0, s6, 3
    add t0, t0, s8
    fld fa2, 0(t0)
    slli t0, s9, 3
    add t0, t0, s8
    fld fa3, 0(t0)
    la t0, ivals
    slli t1, s5, 3
    add t0, t0, t1
    ld a1, 0(t0)
    csrw frm, s3
    csrwi fflags, 0
    jalr s1
    frflags t1
    slli t0, s4, 7
    srli s4, s4, 57
    or s4, s4, t0
    xor s4, s4, a0
    slli t1, t1, 59
    xor s4, s4, t1
    andi t0, s2, 0xff
    li t1, 2
    bne t0, t1, 1f
    addi s9, s9, 1
    blt s9, s7, loop_k
1:  andi t0, s2, 0xff
    bnez t0, 2f                  # binary and ternary: all j
    j 3f
2:  li t1, 2
    bne t0, t1, 4f
3:  addi s6, s6, 1
    blt s6, s7, loop_j
4:  addi s5, s5, 1
    blt s5, s7, loop_i
    ld a0, 16(s0)
    call puts
    li a0, 32
    call putc
    addi a0, s3, 48
    call putc
    li a0, 32
    call putc
    mv a0, s4
    call puthex
    li a0, 10
    call putc
    addi s3, s3, 1
    li t0, 5
    blt s3, t0, next_mode
    addi s0, s0, 24
    j next_op
finish:
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
9:  j 9b
putc:
    li t0, UART
1:  lbu t1, 5(t0)
    andi t1, t1, 0x20
    beqz t1, 1b
    sb a0, 0(t0)
    ret
puts:
    addi sp, sp, -16
    sd ra, 0(sp)
    sd s10, 8(sp)
    mv s10, a0
1:  lbu a0, 0(s10)
    beqz a0, 2f
    call putc
    addi s10, s10, 1
    j 1b
2:  ld ra, 0(sp)
    ld s10, 8(sp)
    addi sp, sp, 16
    ret
puthex:
    addi sp, sp, -32
    sd ra, 0(sp)
    sd s10, 8(sp)
    sd s11, 16(sp)
    mv s10, a0
    li s11, 60
1:  srl a0, s10, s11
    andi a0, a0, 15
    addi a0, a0, 48
    li t0, 57
    ble a0, t0, 2f
    addi a0, a0, 39
2:  call putc
    addi s11, s11, -4
    bgez s11, 1b
    ld ra, 0(sp)
    ld s10, 8(sp)
    ld s11, 16(sp)
    addi sp, sp, 32
    ret

# the operations: each leaves its result in a0 (an f result moved whole)
op_0:  # fadd.s
    fadd.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_1:  # fsub.s
    fsub.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_2:  # fmul.s
    fmul.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_3:  # fdiv.s
    fdiv.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_4:  # fsgnj.s
    fsgnj.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_5:  # fsgnjn.s
    fsgnjn.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_6:  # fsgnjx.s
    fsgnjx.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_7:  # fmin.s
    fmin.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_8:  # fmax.s
    fmax.s fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_9:  # feq.s
    feq.s a0, fa1, fa2
    ret
op_10:  # flt.s
    flt.s a0, fa1, fa2
    ret
op_11:  # fle.s
    fle.s a0, fa1, fa2
    ret
op_12:  # fsqrt.s
    fsqrt.s fa0, fa1
    fmv.x.d a0, fa0
    ret
op_13:  # fclass.s
    fclass.s a0, fa1
    ret
op_14:  # fmv.x.w
    fmv.x.w a0, fa1
    ret
op_15:  # fcvt.w.s
    fcvt.w.s a0, fa1
    ret
op_16:  # fcvt.s.w
    fcvt.s.w fa0, a1
    fmv.x.d a0, fa0
    ret
op_17:  # fcvt.wu.s
    fcvt.wu.s a0, fa1
    ret
op_18:  # fcvt.s.wu
    fcvt.s.wu fa0, a1
    fmv.x.d a0, fa0
    ret
op_19:  # fcvt.l.s
    fcvt.l.s a0, fa1
    ret
op_20:  # fcvt.s.l
    fcvt.s.l fa0, a1
    fmv.x.d a0, fa0
    ret
op_21:  # fcvt.lu.s
    fcvt.lu.s a0, fa1
    ret
op_22:  # fcvt.s.lu
    fcvt.s.lu fa0, a1
    fmv.x.d a0, fa0
    ret
op_23:  # fmadd.s
    fmadd.s fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_24:  # fmsub.s
    fmsub.s fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_25:  # fnmsub.s
    fnmsub.s fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_26:  # fnmadd.s
    fnmadd.s fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_27:  # fadd.d
    fadd.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_28:  # fsub.d
    fsub.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_29:  # fmul.d
    fmul.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_30:  # fdiv.d
    fdiv.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_31:  # fsgnj.d
    fsgnj.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_32:  # fsgnjn.d
    fsgnjn.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_33:  # fsgnjx.d
    fsgnjx.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_34:  # fmin.d
    fmin.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_35:  # fmax.d
    fmax.d fa0, fa1, fa2
    fmv.x.d a0, fa0
    ret
op_36:  # feq.d
    feq.d a0, fa1, fa2
    ret
op_37:  # flt.d
    flt.d a0, fa1, fa2
    ret
op_38:  # fle.d
    fle.d a0, fa1, fa2
    ret
op_39:  # fsqrt.d
    fsqrt.d fa0, fa1
    fmv.x.d a0, fa0
    ret
op_40:  # fclass.d
    fclass.d a0, fa1
    ret
op_41:  # fmv.x.d
    fmv.x.d a0, fa1
    ret
op_42:  # fcvt.w.d
    fcvt.w.d a0, fa1
    ret
op_43:  # fcvt.d.w
    fcvt.d.w fa0, a1
    fmv.x.d a0, fa0
    ret
op_44:  # fcvt.wu.d
    fcvt.wu.d a0, fa1
    ret
op_45:  # fcvt.d.wu
    fcvt.d.wu fa0, a1
    fmv.x.d a0, fa0
    ret
op_46:  # fcvt.l.d
    fcvt.l.d a0, fa1
    ret
op_47:  # fcvt.d.l
    fcvt.d.l fa0, a1
    fmv.x.d a0, fa0
    ret
op_48:  # fcvt.lu.d
    fcvt.lu.d a0, fa1
    ret
op_49:  # fcvt.d.lu
    fcvt.d.lu fa0, a1
    fmv.x.d a0, fa0
    ret
op_50:  # fmadd.d
    fmadd.d fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_51:  # fmsub.d
    fmsub.d fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_52:  # fnmsub.d
    fnmsub.d fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_53:  # fnmadd.d
    fnmadd.d fa0, fa1, fa2, fa3
    fmv.x.d a0, fa0
    ret
op_54:  # fcvt.s.d
    fcvt.s.d fa0, fa1
    fmv.x.d a0, fa0
    ret
op_55:  # fcvt.d.s
    fcvt.d.s fa0, fa1
    fmv.x.d a0, fa0
    ret
op_56:  # fmv.w.x
    fmv.w.x fa0, a1
    fmv.x.d a0, fa0
    ret
op_57:  # fmv.d.x
    fmv.d.x fa0, a1
    fmv.x.d a0, fa0
    ret

    .section .rodata
    .balign 8
op_table:
    .dword op_0, 0, name_0
    .dword op_1, 0, name_1
    .dword op_2, 0, name_2
    .dword op_3, 0, name_3
    .dword op_4, 0, name_4
    .dword op_5, 0, name_5
    .dword op_6, 0, name_6
    .dword op_7, 0, name_7
    .dword op_8, 0, name_8
    .dword op_9, 0, name_9
    .dword op_10, 0, name_10
    .dword op_11, 0, name_11
    .dword op_12, 1, name_12
    .dword op_13, 1, name_13
    .dword op_14, 1, name_14
    .dword op_15, 1, name_15
    .dword op_16, 3, name_16
    .dword op_17, 1, name_17
    .dword op_18, 3, name_18
    .dword op_19, 1, name_19
    .dword op_20, 3, name_20
    .dword op_21, 1, name_21
    .dword op_22, 3, name_22
    .dword op_23, 2, name_23
    .dword op_24, 2, name_24
    .dword op_25, 2, name_25
    .dword op_26, 2, name_26
    .dword op_27, 256, name_27
    .dword op_28, 256, name_28
    .dword op_29, 256, name_29
    .dword op_30, 256, name_30
    .dword op_31, 256, name_31
    .dword op_32, 256, name_32
    .dword op_33, 256, name_33
    .dword op_34, 256, name_34
    .dword op_35, 256, name_35
    .dword op_36, 256, name_36
    .dword op_37, 256, name_37
    .dword op_38, 256, name_38
    .dword op_39, 257, name_39
    .dword op_40, 257, name_40
    .dword op_41, 257, name_41
    .dword op_42, 257, name_42
    .dword op_43, 259, name_43
    .dword op_44, 257, name_44
    .dword op_45, 259, name_45
    .dword op_46, 257, name_46
    .dword op_47, 259, name_47
    .dword op_48, 257, name_48
    .dword op_49, 259, name_49
    .dword op_50, 258, name_50
    .dword op_51, 258, name_51
    .dword op_52, 258, name_52
    .dword op_53, 258, name_53
    .dword op_54, 257, name_54
    .dword op_55, 1, name_55
    .dword op_56, 3, name_56
    .dword op_57, 259, name_57
    .dword 0, 0, 0
dvals:
    .dword 0x0000000000000000
    .dword 0x8000000000000000
    .dword 0x7ff0000000000000
    .dword 0xfff0000000000000
    .dword 0x7ff8000000000000
    .dword 0x7ff0000000000001
    .dword 0x0000000000000001
    .dword 0x800fffffffffffff
    .dword 0x0010000000000000
    .dword 0x7fefffffffffffff
    .dword 0x3ff0000000000000
    .dword 0xbff0000000000000
    .dword 0x3ff8000000000000
    .dword 0x4004000000000000
    .dword 0xc004000000000000
    .dword 0x3fd5555555555555
    .dword 0x3ff0000000000001
    .dword 0x3ca0000000000000
    .dword 0x3ca8000000000000
    .dword 0x41dfffffffe00000
    .dword 0xc1e0000000100000
    .dword 0x43e0000000000000
    .dword 0x43efffffffffffff
    .dword 0x7e37e43c8800759c
    .dword 0x000012688b70e62b
    .dword 0x4170000010000000
svals:
    .dword 0xffffffff00000000
    .dword 0xffffffff80000000
    .dword 0xffffffff7f800000
    .dword 0xffffffffff800000
    .dword 0xffffffff7fc00000
    .dword 0xffffffff7f800001
    .dword 0xffffffff00000001
    .dword 0xffffffff807fffff
    .dword 0xffffffff00800000
    .dword 0xffffffff7f7fffff
    .dword 0xffffffff3f800000
    .dword 0xffffffffbf800000
    .dword 0xffffffff3fc00000
    .dword 0xffffffff40200000
    .dword 0xffffffffc0200000
    .dword 0xffffffff3eaaaaab
    .dword 0xffffffff3f800001
    .dword 0xffffffff33800000
    .dword 0xffffffff33c00000
    .dword 0xffffffff4f000000
    .dword 0xffffffffcf000000
    .dword 0xffffffff5f000000
    .dword 0xffffffff5f800000
    .dword 0xffffffff7e967699
    .dword 0xffffffff000116c2
    .dword 0x000000003f800000
ivals:
    .dword 0x0000000000000000
    .dword 0x0000000000000001
    .dword 0x0000000000000003
    .dword 0x000000007fffffff
    .dword 0x0000000080000000
    .dword 0x00000000ffffffff
    .dword 0x8000000000000000
    .dword 0x7fffffffffffffff
    .dword 0xffffffffffffffff
    .dword 0x0000000001000001
    .dword 0x0020000000000001
    .dword 0x7ffffffffffffc00
    .dword 0xffffffffffffcfc7
    .dword 0x1234567890abcdef
    .dword 0x0000000001000001
    .dword 0xffffffff80000000
    .dword 0
    .dword 0
    .dword 0
    .dword 0
    .dword 0
    .dword 0
    .dword 0
    .dword 0
    .dword 0
    .dword 0
name_0: .asciz "fadd.s"
name_1: .asciz "fsub.s"
name_2: .asciz "fmul.s"
name_3: .asciz "fdiv.s"
name_4: .asciz "fsgnj.s"
name_5: .asciz "fsgnjn.s"
name_6: .asciz "fsgnjx.s"
name_7: .asciz "fmin.s"
name_8: .asciz "fmax.s"
name_9: .asciz "feq.s"
name_10: .asciz "flt.s"
name_11: .asciz "fle.s"
name_12: .asciz "fsqrt.s"
name_13: .asciz "fclass.s"
name_14: .asciz "fmv.x.w"
name_15: .asciz "fcvt.w.s"
name_16: .asciz "fcvt.s.w"
name_17: .asciz "fcvt.wu.s"
name_18: .asciz "fcvt.s.wu"
name_19: .asciz "fcvt.l.s"
name_20: .asciz "fcvt.s.l"
name_21: .asciz "fcvt.lu.s"
name_22: .asciz "fcvt.s.lu"
name_23: .asciz "fmadd.s"
name_24: .asciz "fmsub.s"
name_25: .asciz "fnmsub.s"
name_26: .asciz "fnmadd.s"
name_27: .asciz "fadd.d"
name_28: .asciz "fsub.d"
name_29: .asciz "fmul.d"
name_30: .asciz "fdiv.d"
name_31: .asciz "fsgnj.d"
name_32: .asciz "fsgnjn.d"
name_33: .asciz "fsgnjx.d"
name_34: .asciz "fmin.d"
name_35: .asciz "fmax.d"
name_36: .asciz "feq.d"
name_37: .asciz "flt.d"
name_38: .asciz "fle.d"
name_39: .asciz "fsqrt.d"
name_40: .asciz "fclass.d"
name_41: .asciz "fmv.x.d"
name_42: .asciz "fcvt.w.d"
name_43: .asciz "fcvt.d.w"
name_44: .asciz "fcvt.wu.d"
name_45: .asciz "fcvt.d.wu"
name_46: .asciz "fcvt.l.d"
name_47: .asciz "fcvt.d.l"
name_48: .asciz "fcvt.lu.d"
name_49: .asciz "fcvt.d.lu"
name_50: .asciz "fmadd.d"
name_51: .asciz "fmsub.d"
name_52: .asciz "fnmsub.d"
name_53: .asciz "fnmadd.d"
name_54: .asciz "fcvt.s.d"
name_55: .asciz "fcvt.d.s"
name_56: .asciz "fmv.w.x"
name_57: .asciz "fmv.d.x"
    .bss
    .balign 16
    .space 4096
stack_top:
