# hyp.S -- an HS-mode hypervisor in assembly and the VS-mode guest it runs.
#
# Proves the H extension works for HS-mode software with no pyvmm exit
# controls: everything below is architectural. Entered in M-mode (bios none):
#   M   opens PMP, delegates every guest-related trap to HS (medeleg/mideleg),
#       lets VS count cycles only through the hypervisor (mcounteren.CY=1,
#       hcounteren.CY=0) and mrets into HS.
#   HS  builds Sv39x4 G-stage tables mapping the guest's RAM at GPA
#       0x8000_0000 onto the host pages of `guest_ram` (HPA != GPA), leaves the
#       page after it unmapped, delegates VU ecalls (hedeleg) and the VS
#       software/timer interrupts (hideleg) to the guest, sets hstatus.VTW and
#       enters the guest with sret (hstatus.SPV=1, sstatus.SPP=1).
#   VS  the guest kernel: its own Sv39 tables, a VU task whose ecalls it
#       serves itself, hypercalls (ecall from VS, cause 10), a guest-page fault
#       the hypervisor fixes by mapping the page lazily, a WFI (VTW=1) and a
#       counter read that raise virtual-instruction exceptions, an H-CSR read
#       the hypervisor reflects back as an illegal instruction, interrupts
#       injected through hvip, and a shared word the hypervisor updates with
#       HLV.D/HSV.D (HLVX.WU reads guest code).
# Ends with a hypercall after which the hypervisor prints a summary of what it
# saw and powers off through the finisher (status 0). The output is the same
# on pyvmm and on QEMU (-cpu rv64,h=true).
# Run: pyvmm run guests/hyp/hyp.S

    .option arch, +h
    .option norvc                   # HLVX.WU fetches trapping instructions: keep them 4-aligned

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ FINISHER_FAIL, 0x3333

    .equ GUEST_GPA,     0x80000000  # where the guest sees its RAM
    .equ USER_VA,       0x40000000  # the VU task's page in the guest's Sv39 space
    .equ VMID,          5
    .equ HGATP_SV39X4,  8
    .equ SATP_SV39,     8

    # PTE bits
    .equ PTE_V, 0x01
    .equ PTE_R, 0x02
    .equ PTE_W, 0x04
    .equ PTE_X, 0x08
    .equ PTE_U, 0x10
    .equ PTE_A, 0x40
    .equ PTE_D, 0x80
    .equ GSTAGE_LEAF,   PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D  # G-stage leaves need U
    .equ KERNEL_LEAF,   PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    .equ USER_LEAF,     PTE_V | PTE_R | PTE_X | PTE_U | PTE_A

    # CSR bits
    .equ HSTATUS_GVA,   1 << 6
    .equ HSTATUS_SPV,   1 << 7
    .equ HSTATUS_SPVP,  1 << 8
    .equ HSTATUS_VTW,   1 << 21
    .equ SSTATUS_SIE,   1 << 1
    .equ SSTATUS_SPIE,  1 << 5
    .equ SSTATUS_SPP,   1 << 8
    .equ SIP_SSIP,      1 << 1
    .equ SIE_SSIE,      1 << 1
    .equ SIE_STIE,      1 << 5
    .equ HVIP_VSSIP,    1 << 2
    .equ HVIP_VSTIP,    1 << 6

    # trap causes
    .equ CAUSE_ILLEGAL,     2
    .equ CAUSE_ECALL_U,     8
    .equ CAUSE_ECALL_VS,    10
    .equ CAUSE_FETCH_GPF,   20
    .equ CAUSE_LOAD_GPF,    21
    .equ CAUSE_VIRT_INSN,   22
    .equ CAUSE_STORE_GPF,   23
    .equ IRQ_S_SOFT,        1
    .equ IRQ_S_TIMER,       5

    # Hypercalls: ecall from VS with the number in a7, argument and result in a0.
    # (A private numbering, not SBI: this hypervisor is its own firmware.)
    .equ HC_PUTC,           1       # print the byte in a0
    .equ HC_GET_VMID,       2       # a0 = this guest's VMID
    .equ HC_RAISE_SOFT,     3       # inject a VS software interrupt (hvip.VSSIP)
    .equ HC_RAISE_TIMER,    4       # inject a VS timer interrupt (hvip.VSTIP)
    .equ HC_ACK_TIMER,      5       # withdraw it
    .equ HC_INCREMENT,      6       # *(u64 *)a0 += 1 through HLV.D/HSV.D; a0 = old value
    .equ HC_PEEK_INSN,      7       # a0 = the instruction word at guest VA a0 (HLVX.WU)
    .equ HC_DONE,           8       # print the summary and power off
    .equ HC_FAIL,           9       # the guest gave up: power off with a failure

    # Guest system calls: ecall from VU with the number in a7.
    .equ SYS_EXIT,          0
    .equ SYS_PUTC,          1

    .equ INSN_WFI,          0x10500073

    .section .text
    .globl _start
# ============================================================== M-mode
_start:
    la      sp, m_stack_top
    la      t0, m_trap
    csrw    mtvec, t0
    li      t0, -1                  # PMP: HS, VS and VU reach all memory
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0
    # Everything a guest can cause goes to HS: misaligned/access faults,
    # illegal instruction, breakpoint, ecall from U/VU and VS, page faults,
    # guest-page faults and virtual instructions.
    li      t0, 0xFF | (1 << 8) | (1 << 10) | (1 << 12) | (1 << 13) | (1 << 15) | (0xF << 20)
    csrw    medeleg, t0
    li      t0, (1 << 1) | (1 << 5) | (1 << 9)      # SSI, STI, SEI (VS ones are forced)
    csrw    mideleg, t0
    li      t0, 1                   # mcounteren.CY: cycle is readable below M ...
    csrw    mcounteren, t0
    li      t0, 0x1800 | (1 << 39)  # ... then MPP = S, MPV = 0: mret enters HS
    csrc    mstatus, t0
    li      t0, 0x0800
    csrs    mstatus, t0
    la      t0, hyp_main
    csrw    mepc, t0
    mret

    .balign 4
m_trap:                             # nothing should reach M: report and fail
    la      sp, m_stack_top
    la      a0, s_m_trap
    call    puts
    csrr    a0, mcause
    call    puthex
    la      a0, s_at
    call    puts
    csrr    a0, mepc
    call    puthex
    la      a0, s_tval
    call    puts
    csrr    a0, mtval
    call    puthex
    li      a0, '\n'
    call    putc
    li      a0, 1
    j       power_off_fail

# ============================================================== HS-mode: the hypervisor
hyp_main:
    la      sp, hyp_stack_top
    la      t0, hs_trap
    csrw    stvec, t0
    la      t0, guest_frame
    csrw    sscratch, t0
    la      a0, s_hello
    call    puts
    li      a0, GUEST_GPA
    call    puthex
    la      a0, s_arrow
    call    puts
    la      a0, guest_ram
    call    puthex
    li      a0, '\n'
    call    putc

    # G-stage, Sv39x4: root (16 KiB) [GPA >> 30] -> L1 [0] -> L0 [i] -> guest_ram + i pages
    la      t0, gstage_root
    li      t1, GUEST_GPA >> 30
    slli    t1, t1, 3
    add     t0, t0, t1
    la      t1, gstage_l1
    call    pte_table
    sd      t1, 0(t0)
    la      t0, gstage_l1
    la      t1, gstage_l0
    call    pte_table
    sd      t1, 0(t0)
    la      t0, gstage_l0
    la      t2, guest_ram
    la      t3, guest_ram_end
1:  srli    t1, t2, 12
    slli    t1, t1, 10
    ori     t1, t1, GSTAGE_LEAF
    sd      t1, 0(t0)
    addi    t0, t0, 8
    li      t1, 4096
    add     t2, t2, t1
    bltu    t2, t3, 1b
    # The next guest page (guest_ram_end's GPA) stays invalid: mapped on first touch.
    la      t0, gstage_root
    srli    t0, t0, 12
    li      t1, (HGATP_SV39X4 << 60) | (VMID << 44)
    or      t0, t0, t1
    csrw    hgatp, t0
    hfence.gvma zero, zero

    li      t0, 1 << CAUSE_ECALL_U  # the guest kernel serves its own system calls
    csrw    hedeleg, t0
    li      t0, HVIP_VSSIP | HVIP_VSTIP
    csrw    hideleg, t0
    csrw    hvip, zero
    csrw    hcounteren, zero        # cycle from VS: virtual instruction, emulated below
    csrw    vsatp, zero
    li      t0, HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_VTW
    csrs    hstatus, t0
    li      t0, SSTATUS_SPP
    csrs    sstatus, t0
    li      t0, GUEST_GPA
    csrw    sepc, t0
    li      a0, 0                   # the guest's hart id
    li      a1, 0
    sret                            # V = SPV = 1, priv = SPP = S: the guest runs in VS

# pte_table(t1 = address of the next-level table) -> t1 = non-leaf PTE
pte_table:
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, PTE_V
    ret

# count(a0 = address of a counter): *a0 += 1; clobbers t0
count:
    ld      t0, 0(a0)
    addi    t0, t0, 1
    sd      t0, 0(a0)
    ret

    .balign 4
hs_trap:
    csrrw   t6, sscratch, t6        # t6 = guest_frame, sscratch = the guest's t6
    sd      x1, 1*8(t6)
    sd      x2, 2*8(t6)
    sd      x3, 3*8(t6)
    sd      x4, 4*8(t6)
    sd      x5, 5*8(t6)
    sd      x6, 6*8(t6)
    sd      x7, 7*8(t6)
    sd      x8, 8*8(t6)
    sd      x9, 9*8(t6)
    sd      x10, 10*8(t6)
    sd      x11, 11*8(t6)
    sd      x12, 12*8(t6)
    sd      x13, 13*8(t6)
    sd      x14, 14*8(t6)
    sd      x15, 15*8(t6)
    sd      x16, 16*8(t6)
    sd      x17, 17*8(t6)
    sd      x18, 18*8(t6)
    sd      x19, 19*8(t6)
    sd      x20, 20*8(t6)
    sd      x21, 21*8(t6)
    sd      x22, 22*8(t6)
    sd      x23, 23*8(t6)
    sd      x24, 24*8(t6)
    sd      x25, 25*8(t6)
    sd      x26, 26*8(t6)
    sd      x27, 27*8(t6)
    sd      x28, 28*8(t6)
    sd      x29, 29*8(t6)
    sd      x30, 30*8(t6)
    csrr    t5, sscratch
    sd      t5, 31*8(t6)
    csrw    sscratch, t6
    mv      s0, t6                  # s0 = the guest's registers
    la      sp, hyp_stack_top
    csrr    t0, hstatus             # a trap from HS itself (SPV = 0) is a hypervisor bug
    andi    t0, t0, HSTATUS_SPV
    beqz    t0, hs_fatal
    la      a0, n_exits
    call    count
    csrr    s1, scause
    bltz    s1, hs_fatal            # no interrupt is left to HS
    li      t0, CAUSE_ECALL_VS
    beq     s1, t0, hs_hypercall
    li      t0, CAUSE_VIRT_INSN
    beq     s1, t0, hs_virtual_instruction
    li      t0, CAUSE_STORE_GPF
    beq     s1, t0, hs_guest_page_fault
    li      t0, CAUSE_LOAD_GPF
    beq     s1, t0, hs_guest_page_fault
    li      t0, CAUSE_FETCH_GPF
    beq     s1, t0, hs_guest_page_fault
    j       hs_fatal

hs_resume_next:                     # past the trapping instruction (all are 4 bytes)
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
hs_resume:
    mv      t6, s0
    ld      x1, 1*8(t6)
    ld      x2, 2*8(t6)
    ld      x3, 3*8(t6)
    ld      x4, 4*8(t6)
    ld      x5, 5*8(t6)
    ld      x6, 6*8(t6)
    ld      x7, 7*8(t6)
    ld      x8, 8*8(t6)
    ld      x9, 9*8(t6)
    ld      x10, 10*8(t6)
    ld      x11, 11*8(t6)
    ld      x12, 12*8(t6)
    ld      x13, 13*8(t6)
    ld      x14, 14*8(t6)
    ld      x15, 15*8(t6)
    ld      x16, 16*8(t6)
    ld      x17, 17*8(t6)
    ld      x18, 18*8(t6)
    ld      x19, 19*8(t6)
    ld      x20, 20*8(t6)
    ld      x21, 21*8(t6)
    ld      x22, 22*8(t6)
    ld      x23, 23*8(t6)
    ld      x24, 24*8(t6)
    ld      x25, 25*8(t6)
    ld      x26, 26*8(t6)
    ld      x27, 27*8(t6)
    ld      x28, 28*8(t6)
    ld      x29, 29*8(t6)
    ld      x30, 30*8(t6)
    ld      x31, 31*8(t6)
    sret

# ---------------------------------------------------------------- hypercalls
hs_hypercall:
    la      a0, n_hypercalls
    call    count
    ld      t1, 17*8(s0)            # a7: the hypercall number
    ld      a0, 10*8(s0)            # a0: its argument
    li      t0, HC_PUTC
    beq     t1, t0, hc_putc
    li      t0, HC_GET_VMID
    beq     t1, t0, hc_get_vmid
    li      t0, HC_RAISE_SOFT
    beq     t1, t0, hc_raise_soft
    li      t0, HC_RAISE_TIMER
    beq     t1, t0, hc_raise_timer
    li      t0, HC_ACK_TIMER
    beq     t1, t0, hc_ack_timer
    li      t0, HC_INCREMENT
    beq     t1, t0, hc_increment
    li      t0, HC_PEEK_INSN
    beq     t1, t0, hc_peek_insn
    li      t0, HC_DONE
    beq     t1, t0, hc_done
    li      t0, HC_FAIL
    beq     t1, t0, hc_fail
    li      t0, -2                  # unknown: "not supported", as SBI answers
    sd      t0, 10*8(s0)
    j       hs_resume_next

hc_putc:
    call    putc
    j       hs_resume_next

hc_get_vmid:
    csrr    t0, hgatp
    srli    t0, t0, 44
    li      t1, 0x3fff
    and     t0, t0, t1
    sd      t0, 10*8(s0)
    j       hs_resume_next

hc_raise_soft:
    li      t0, HVIP_VSSIP
    csrs    hvip, t0
    la      a0, n_injected
    call    count
    j       hs_resume_next

hc_raise_timer:
    li      t0, HVIP_VSTIP
    csrs    hvip, t0
    la      a0, n_injected
    call    count
    j       hs_resume_next

hc_ack_timer:
    li      t0, HVIP_VSTIP
    csrc    hvip, t0
    j       hs_resume_next

hc_increment:                       # a guest virtual address, translated as VS (SPVP = 1)
    hlv.d   t1, (a0)
    addi    t2, t1, 1
    hsv.d   t2, (a0)
    sd      t1, 10*8(s0)
    la      a0, n_hlv_hsv
    call    count
    la      a0, n_hlv_hsv
    call    count
    j       hs_resume_next

hc_peek_insn:
    hlvx.wu t1, (a0)
    sd      t1, 10*8(s0)
    la      a0, n_hlv_hsv
    call    count
    j       hs_resume_next

hc_fail:
    la      a0, s_guest_failed
    call    puts
    li      a0, 3
    j       power_off_fail

# ---------------------------------------------------------------- guest-page faults
hs_guest_page_fault:
    csrr    s2, htval               # GPA >> 2
    csrr    s3, stval               # the guest virtual address
    csrr    s4, hstatus
    la      t0, last_htval
    sd      s2, 0(t0)
    la      t0, last_stval
    sd      s3, 0(t0)
    srli    t0, s4, 6               # hstatus.GVA: stval holds a guest virtual address
    andi    t0, t0, 1
    la      t1, last_gva
    sd      t0, 0(t1)
    la      t0, last_gpf_cause
    sd      s1, 0(t0)
    la      a0, n_guest_page_faults
    call    count
    # Only the page just past the guest's RAM is ours to map, and only once.
    slli    t0, s2, 2
    srli    t0, t0, 12
    li      t1, GUEST_GPA
    la      t2, guest_ram_end
    la      t3, guest_ram
    sub     t2, t2, t3
    add     t1, t1, t2
    srli    t1, t1, 12
    bne     t0, t1, hs_fatal
    la      t0, lazy_mapped
    ld      t1, 0(t0)
    bnez    t1, hs_fatal
    li      t1, 1
    sd      t1, 0(t0)
    la      t1, lazy_frame
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, GSTAGE_LEAF
    la      t0, guest_ram_end       # its L0 slot follows the guest's last page
    la      t2, guest_ram
    sub     t0, t0, t2
    srli    t0, t0, 12 - 3
    la      t2, gstage_l0
    add     t0, t0, t2
    sd      t1, 0(t0)
    slli    a0, s2, 0               # hfence.gvma takes GPA >> 2, like htval
    hfence.gvma a0, zero
    j       hs_resume               # retry the access

# ---------------------------------------------------------------- virtual instructions
hs_virtual_instruction:
    la      a0, n_virtual_insns
    call    count
    csrr    a0, sepc
    hlvx.wu s2, (a0)                # the instruction, fetched as the guest sees its code
    li      t0, INSN_WFI
    beq     s2, t0, vi_wfi
    andi    t0, s2, 0x7f            # SYSTEM opcode with a CSR funct3 (1-3, 5-7)
    li      t1, 0x73
    bne     t0, t1, hs_fatal
    srli    t0, s2, 12
    andi    t0, t0, 7
    beqz    t0, hs_fatal
    li      t1, 4
    beq     t0, t1, hs_fatal
    srli    t0, s2, 20              # the CSR number
    li      t1, 0xc00
    beq     t0, t1, vi_cycle
    j       vi_reflect_illegal      # an H or VS CSR: this guest has no H extension

vi_wfi:                             # VTW: nothing to wait for the guest could get; skip it
    la      a0, n_vi_wfi
    call    count
    j       hs_resume_next

vi_cycle:                           # a virtual cycle counter: the exits so far
    la      a0, n_vi_cycle
    call    count
    srli    t0, s2, 7
    andi    t0, t0, 31              # rd
    beqz    t0, hs_resume_next
    slli    t0, t0, 3
    add     t0, t0, s0
    la      t1, n_exits
    ld      t1, 0(t1)
    sd      t1, 0(t0)
    j       hs_resume_next

vi_reflect_illegal:                 # deliver an illegal-instruction trap to VS, as its hart would
    la      a0, n_vi_reflected
    call    count
    csrr    t0, sepc
    csrw    vsepc, t0
    li      t0, CAUSE_ILLEGAL
    csrw    vscause, t0
    csrw    vstval, s2
    csrr    t0, vsstatus            # SPP = VS (sstatus.SPP says so), SPIE = SIE, SIE = 0
    li      t1, SSTATUS_SPP
    or      t0, t0, t1
    andi    t1, t0, SSTATUS_SIE
    slli    t1, t1, 4
    andi    t0, t0, ~(SSTATUS_SIE | SSTATUS_SPIE)
    or      t0, t0, t1
    csrw    vsstatus, t0
    csrr    t0, vstvec
    andi    t0, t0, ~3
    csrw    sepc, t0
    j       hs_resume

# ---------------------------------------------------------------- the end
hc_done:
    la      a0, s_summary
    call    puts
    la      s2, summary_table
1:  ld      a0, 0(s2)
    beqz    a0, 2f
    call    puts
    ld      a0, 8(s2)
    ld      a0, 0(a0)
    call    puthex
    li      a0, '\n'
    call    putc
    addi    s2, s2, 16
    j       1b
2:  la      a0, s_lazy_word         # what the guest stored, seen in the host frame
    call    puts
    la      a0, lazy_frame
    ld      a0, 8(a0)
    call    puthex
    li      a0, '\n'
    call    putc
    la      a0, s_bye
    call    puts
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
3:  j       3b

hs_fatal:
    la      sp, hyp_stack_top
    la      a0, s_hs_fatal
    call    puts
    csrr    a0, scause
    call    puthex
    la      a0, s_at
    call    puts
    csrr    a0, sepc
    call    puthex
    la      a0, s_tval
    call    puts
    csrr    a0, stval
    call    puthex
    la      a0, s_htval
    call    puts
    csrr    a0, htval
    call    puthex
    li      a0, '\n'
    call    putc
    li      a0, 2
# power_off_fail(a0 = code): finisher FAIL with the code in the upper half
power_off_fail:
    li      t0, FINISHER
    slli    a0, a0, 16
    li      t1, FINISHER_FAIL
    or      t1, t1, a0
    sw      t1, 0(t0)
1:  j       1b

    .include "../include/uart.inc"

# ============================================================== the guest (VS, VU)
# Everything from here to guest_ram_end is the guest's RAM: the hypervisor maps
# it at GUEST_GPA, so this code must be position independent (la/call are
# pc-relative) and must not name host addresses.
    .balign 4096
guest_ram:
guest_entry:
    la      sp, guest_stack_top
    la      t0, guest_trap
    csrw    stvec, t0               # vstvec: V=1 redirects the S CSRs
    la      t0, guest_trap_frame
    csrw    sscratch, t0
    la      a0, s_g_hello
    call    gputs
    li      a7, HC_GET_VMID
    ecall
    mv      s1, a0
    la      a0, s_g_vmid
    call    gputs
    mv      a0, s1
    call    gputhex

    # VS-stage Sv39: VA 0x8000_0000 (1 GiB) -> GPA 0x8000_0000, the kernel;
    # VA USER_VA -> the user page (U), through L1 and L0 tables.
    la      t0, guest_pt_root
    li      t1, GUEST_GPA >> 12
    slli    t1, t1, 10
    ori     t1, t1, KERNEL_LEAF
    sd      t1, (GUEST_GPA >> 30) * 8(t0)
    la      t1, guest_pt_l1
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, PTE_V
    sd      t1, (USER_VA >> 30) * 8(t0)
    la      t0, guest_pt_l1
    la      t1, guest_pt_l0
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, PTE_V
    sd      t1, 0(t0)
    la      t0, guest_pt_l0
    la      t1, user_page
    srli    t1, t1, 12
    slli    t1, t1, 10
    ori     t1, t1, USER_LEAF
    sd      t1, 0(t0)
    la      t0, guest_pt_root
    srli    t0, t0, 12
    li      t1, SATP_SV39 << 60
    or      t0, t0, t1
    csrw    satp, t0                # vsatp
    sfence.vma
    la      a0, s_g_paging
    call    gputs

    # The page past our RAM: the hypervisor maps it on the first store.
    la      s1, guest_ram_end
    li      t0, 0x600dcafe
    sd      t0, 8(s1)
    ld      s2, 8(s1)
    la      a0, s_g_lazy
    call    gputs
    mv      a0, s2
    call    gputhex

    # Instructions the hypervisor has to handle.
    wfi                             # VTW = 1: virtual instruction, skipped
    csrr    s2, cycle               # hcounteren.CY = 0: virtual instruction, emulated
    la      a0, s_g_cycle
    call    gputs
    mv      a0, s2
    call    gputhex
    li      s2, 0x1234
    csrr    s2, hstatus             # no H for the guest: reflected as illegal instruction
    la      a0, s_g_hstatus
    call    gputs
    mv      a0, s2
    call    gputhex

    # Interrupts injected through hvip, taken through vstvec.
    li      t0, SIE_SSIE | SIE_STIE
    csrs    sie, t0
    csrsi   sstatus, SSTATUS_SIE
    li      a7, HC_RAISE_SOFT
    ecall
    li      a7, HC_RAISE_TIMER
    ecall
    csrci   sstatus, SSTATUS_SIE

    # A word the hypervisor reads and writes in our address space.
    la      s1, shared_word
    li      t0, 41
    sd      t0, 0(s1)
    mv      a0, s1
    li      a7, HC_INCREMENT
    ecall
    mv      s2, a0
    la      a0, s_g_shared
    call    gputs
    mv      a0, s2
    call    gputhex
    la      a0, s_g_now
    call    gputs
    ld      a0, 0(s1)
    call    gputhex
    la      a0, peek_target
    li      a7, HC_PEEK_INSN
    ecall
    mv      s2, a0
    la      a0, s_g_peek
    call    gputs
    mv      a0, s2
    call    gputhex

    # The VU task.
    li      t0, SSTATUS_SPP
    csrc    sstatus, t0
    li      t0, USER_VA
    csrw    sepc, t0
    sret
guest_after_user:                   # the exit system call resumes here
    la      sp, guest_stack_top
    la      a0, s_g_user_exit
    call    gputs
    la      a0, user_exit_code
    ld      a0, 0(a0)
    call    gputhex
    la      a0, s_g_counts
    call    gputs
    la      a0, n_syscalls
    ld      a0, 0(a0)
    call    gputhex
    la      a0, s_g_irqs
    call    gputs
    la      a0, n_soft_irqs
    ld      a0, 0(a0)
    call    gputhex
    la      a0, s_g_timer
    call    gputs
    la      a0, n_timer_irqs
    ld      a0, 0(a0)
    call    gputhex
    la      a0, s_g_illegal
    call    gputs
    la      a0, n_illegal
    ld      a0, 0(a0)
    call    gputhex
    li      a7, HC_DONE
    ecall
1:  j       1b

peek_target:
    addi    a0, a0, 42

# gputs(a0 = string) through HC_PUTC; clobbers a0, a7, t2
gputs:
    mv      t2, a0
1:  lbu     a0, 0(t2)
    beqz    a0, 2f
    li      a7, HC_PUTC
    ecall
    addi    t2, t2, 1
    j       1b
2:  ret

# gputhex(a0): "0x", 16 hex digits and a newline; clobbers a0, a7, t0-t2
gputhex:
    mv      t1, a0
    li      a7, HC_PUTC
    li      a0, '0'
    ecall
    li      a0, 'x'
    ecall
    li      t2, 60
1:  srl     a0, t1, t2
    andi    a0, a0, 15
    addi    a0, a0, '0'
    li      t0, '9'
    ble     a0, t0, 2f
    addi    a0, a0, 'a' - '0' - 10
2:  ecall
    addi    t2, t2, -4
    bgez    t2, 1b
    li      a0, '\n'
    ecall
    ret

# gcount(a0 = counter address); clobbers t0
gcount:
    ld      t0, 0(a0)
    addi    t0, t0, 1
    sd      t0, 0(a0)
    ret

    .balign 4
guest_trap:                         # vstvec: VU system calls, illegal instructions, interrupts
    csrrw   t6, sscratch, t6
    sd      ra, 0(t6)
    sd      t0, 8(t6)
    sd      t1, 16(t6)
    sd      t2, 24(t6)
    sd      a0, 32(t6)
    sd      a7, 40(t6)
    csrr    t0, sscratch
    sd      t0, 48(t6)              # the interrupted t6
    csrw    sscratch, t6
    csrr    t0, scause
    bltz    t0, g_interrupt
    li      t1, CAUSE_ECALL_U
    beq     t0, t1, g_syscall
    li      t1, CAUSE_ILLEGAL
    beq     t0, t1, g_illegal
    j       g_fail

g_interrupt:
    slli    t0, t0, 1
    srli    t0, t0, 1
    li      t1, IRQ_S_SOFT
    beq     t0, t1, g_soft
    li      t1, IRQ_S_TIMER
    beq     t0, t1, g_timer
    j       g_fail
g_soft:
    li      t0, SIP_SSIP            # vsip.SSIP is hvip.VSSIP: the guest clears it itself
    csrc    sip, t0
    la      a0, n_soft_irqs
    call    gcount
    j       g_return
g_timer:
    li      a7, HC_ACK_TIMER        # VSTIP is the hypervisor's to withdraw
    ecall
    la      a0, n_timer_irqs
    call    gcount
    j       g_return

g_illegal:
    la      a0, n_illegal
    call    gcount
    j       g_skip

g_syscall:
    la      a0, n_syscalls
    call    gcount
    ld      a7, 40(t6)
    li      t0, SYS_PUTC
    beq     a7, t0, g_sys_putc
    li      t0, SYS_EXIT
    beq     a7, t0, g_sys_exit
    li      t0, -1                  # unknown system call: -1 in a0
    sd      t0, 32(t6)
    j       g_skip
g_sys_putc:
    ld      a0, 32(t6)
    li      a7, HC_PUTC
    ecall
    j       g_skip
g_sys_exit:
    ld      a0, 32(t6)
    la      t0, user_exit_code
    sd      a0, 0(t0)
    la      t0, guest_after_user
    csrw    sepc, t0
    li      t0, SSTATUS_SPP         # back to the kernel (VS)
    csrs    sstatus, t0
    sret

g_skip:
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
g_return:
    ld      ra, 0(t6)
    ld      t0, 8(t6)
    ld      t1, 16(t6)
    ld      t2, 24(t6)
    ld      a0, 32(t6)
    ld      a7, 40(t6)
    ld      t6, 48(t6)
    sret

g_fail:
    la      a0, s_g_fail
    call    gputs
    csrr    a0, scause
    call    gputhex
    li      a7, HC_FAIL
    ecall
1:  j       1b

s_g_hello:      .asciz "guest: hello from VS-mode\n"
s_g_vmid:       .asciz "guest: my VMID is "
s_g_paging:     .asciz "guest: Sv39 on\n"
s_g_lazy:       .asciz "guest: wrote and read back the page past my RAM: "
s_g_cycle:      .asciz "guest: cycle (the hypervisor's exit count) = "
s_g_hstatus:    .asciz "guest: csrr hstatus was an illegal instruction, register kept: "
s_g_shared:     .asciz "guest: hypervisor incremented my word, old value "
s_g_now:        .asciz "guest: word now "
s_g_peek:       .asciz "guest: hypervisor read my code: "
s_g_user_exit:  .asciz "guest: user task exited with "
s_g_counts:     .asciz "guest: system calls "
s_g_irqs:       .asciz "guest: software interrupts "
s_g_timer:      .asciz "guest: timer interrupts "
s_g_illegal:    .asciz "guest: illegal instructions "
s_g_fail:       .asciz "guest: unexpected trap, scause "

    .balign 8
n_syscalls:         .dword 0
n_soft_irqs:        .dword 0
n_timer_irqs:       .dword 0
n_illegal:          .dword 0
user_exit_code:     .dword 0
shared_word:        .dword 0
guest_trap_frame:   .space 7 * 8

    .balign 4096
user_page:                          # VU code, seen at USER_VA
    la      a1, user_message
1:  lbu     a0, 0(a1)
    beqz    a0, 2f
    li      a7, SYS_PUTC
    ecall
    addi    a1, a1, 1
    j       1b
2:  li      a0, 42
    li      a7, SYS_EXIT
    ecall
3:  j       3b
user_message:   .asciz "user: hello from VU-mode\n"

    .balign 4096
guest_pt_root:  .space 4096
guest_pt_l1:    .space 4096
guest_pt_l0:    .space 4096
guest_stack:    .space 4096
guest_stack_top:
guest_ram_end:

# ============================================================== hypervisor data
    .section .rodata
s_m_trap:       .asciz "hyp: unexpected M-mode trap, mcause "
s_hs_fatal:     .asciz "hyp: unexpected trap, scause "
s_at:           .asciz " epc "
s_tval:         .asciz " tval "
s_htval:        .asciz " htval "
s_hello:        .asciz "hyp: HS-mode hypervisor, guest RAM at GPA "
s_arrow:        .asciz " -> HPA "
s_guest_failed: .asciz "hyp: the guest failed\n"
s_summary:      .asciz "hyp: summary\n"
s_exits:        .asciz "hyp:   exits to HS              "
s_hypercalls:   .asciz "hyp:   hypercalls               "
s_injected:     .asciz "hyp:   interrupts injected      "
s_gpfs:         .asciz "hyp:   guest-page faults        "
s_gpf_cause:    .asciz "hyp:   last guest-page fault    "
s_htval_seen:   .asciz "hyp:   htval (GPA >> 2)         "
s_stval_seen:   .asciz "hyp:   stval (guest VA)         "
s_gva_seen:     .asciz "hyp:   hstatus.GVA              "
s_vis:          .asciz "hyp:   virtual instructions     "
s_vi_wfi:       .asciz "hyp:     wfi skipped            "
s_vi_cycle:     .asciz "hyp:     cycle emulated         "
s_vi_reflected: .asciz "hyp:     reflected as illegal   "
s_hlv_hsv:      .asciz "hyp:   HLV/HLVX/HSV accesses    "
s_lazy_word:    .asciz "hyp:   lazily mapped page +8    "
s_bye:          .asciz "hyp: guest done, powering off\n"

    .section .data
    .balign 8
summary_table:
    .dword s_exits, n_exits
    .dword s_hypercalls, n_hypercalls
    .dword s_injected, n_injected
    .dword s_gpfs, n_guest_page_faults
    .dword s_gpf_cause, last_gpf_cause
    .dword s_htval_seen, last_htval
    .dword s_stval_seen, last_stval
    .dword s_gva_seen, last_gva
    .dword s_vis, n_virtual_insns
    .dword s_vi_wfi, n_vi_wfi
    .dword s_vi_cycle, n_vi_cycle
    .dword s_vi_reflected, n_vi_reflected
    .dword s_hlv_hsv, n_hlv_hsv
    .dword 0, 0
n_exits:                .dword 0
n_hypercalls:           .dword 0
n_injected:             .dword 0
n_guest_page_faults:    .dword 0
last_gpf_cause:         .dword 0
last_htval:             .dword 0
last_stval:             .dword 0
last_gva:               .dword 0
n_virtual_insns:        .dword 0
n_vi_wfi:               .dword 0
n_vi_cycle:             .dword 0
n_vi_reflected:         .dword 0
n_hlv_hsv:              .dword 0
lazy_mapped:            .dword 0

    .section .bss
    .balign 16384
gstage_root:    .space 16384        # Sv39x4: 2048 entries, 16 KiB aligned
gstage_l1:      .space 4096
gstage_l0:      .space 4096
lazy_frame:     .space 4096         # backs the guest page mapped on demand
guest_frame:    .space 32 * 8
                .space 4096
hyp_stack_top:
                .space 1024
m_stack_top:
