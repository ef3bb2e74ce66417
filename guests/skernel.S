# skernel.S -- an S-mode kernel skeleton with Sv39 paging and one U-mode task.
#
# Shows, in one image:
#  * an M-mode stub that opens PMP for S/U, delegates the U-mode ecall and the
#    page faults to S (medeleg), and drops to S-mode with mret;
#  * an S-mode kernel that builds Sv39 page tables: 1 GiB gigapage identity
#    maps for the devices (0x0000_0000, no execute) and for RAM (0x8000_0000),
#    plus a 3-level 4 KiB mapping for a user task at 0x4000_0000 (code page
#    R-X-U, data/stack page RW-U), turns on satp and enters U-mode with sret;
#  * a U-mode task that asks the kernel to print (ecall, a7 = system call
#    number), writes to a page that is not mapped yet, and exits;
#  * the kernel's trap handler: services the system calls (reading the user
#    string with sstatus.SUM=1), and on the store page fault maps a fresh page
#    at the faulting address, flushes it with sfence.vma and lets the store
#    retry; finally prints a summary and powers off through the finisher.
# Expected output: deterministic text ending in the summary; exit status 0.
# Run: pyvmm run guests/skernel.S

    .equ UART_BASE,     0x10000000
    .equ UART_LSR,      5
    .equ LSR_THRE,      0x20
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555
    .equ FINISHER_FAIL, 0x3333

    .equ PTE_V, 0x01
    .equ PTE_R, 0x02
    .equ PTE_W, 0x04
    .equ PTE_X, 0x08
    .equ PTE_U, 0x10
    .equ PTE_A, 0x40
    .equ PTE_D, 0x80
    .equ SATP_SV39, 0x8000000000000000
    .equ SSTATUS_SUM, 0x40000
    .equ SSTATUS_SPP, 0x100
    .equ MSTATUS_MPP_MASK, 0x1800
    .equ MSTATUS_MPP_S, 0x800

    .equ CAUSE_USER_ECALL, 8
    .equ CAUSE_LOAD_PAGE_FAULT, 13
    .equ CAUSE_STORE_PAGE_FAULT, 15

    .equ USER_BASE,     0x40000000  # the task's code page; data page follows
    .equ USER_LAZY,     0x40003000  # mapped on first touch by the fault handler
    .equ SYS_PRINT,     1           # a0 = user address of a NUL-terminated string
    .equ SYS_PUTHEX,    2           # a0 = value
    .equ SYS_EXIT,      3           # a0 = status

    .section .text
    .globl _start
# ---------------------------------------------------------------- M-mode stub
_start:
    li      t0, -1                  # PMP entry 0: NAPOT over all memory, RWX
    csrw    pmpaddr0, t0
    li      t0, 0x1f
    csrw    pmpcfg0, t0
    li      t0, (1 << CAUSE_USER_ECALL) | (1 << 12) | (1 << CAUSE_LOAD_PAGE_FAULT) | (1 << CAUSE_STORE_PAGE_FAULT)
    csrw    medeleg, t0
    la      t0, m_trap
    csrw    mtvec, t0
    li      t0, MSTATUS_MPP_MASK
    csrc    mstatus, t0
    li      t0, MSTATUS_MPP_S
    csrs    mstatus, t0
    la      t0, kernel_entry
    csrw    mepc, t0
    mret

# Nothing should reach M-mode after the hand-off: report and fail.
    .balign 4
m_trap:
    la      sp, k_stack_top
    la      a0, s_m_trap
    call    puts
    csrr    a0, mcause
    call    puthex
    li      a0, '\n'
    call    putc
    li      a0, 1
    j       power_off

# ---------------------------------------------------------------- S-mode kernel
kernel_entry:
    la      sp, k_stack_top
    la      t0, s_trap
    csrw    stvec, t0
    li      t0, SSTATUS_SUM         # the kernel reads user strings directly
    csrs    sstatus, t0
    la      a0, s_banner
    call    puts

    # root[0]: devices, 1 GiB at 0, read/write only
    la      s0, pt_root
    li      t0, (0 << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd      t0, 0(s0)
    # root[2]: RAM, 1 GiB at 0x8000_0000, kernel RWX
    li      t0, (0x80000 << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    sd      t0, 16(s0)
    # root[1] -> pt_user_l1 -> pt_user_l0: the user task's 4 KiB pages
    la      a0, pt_user_l1
    call    pte_table
    sd      a0, 8(s0)
    la      s1, pt_user_l1
    la      a0, pt_user_l0
    call    pte_table
    sd      a0, 0(s1)
    la      s1, pt_user_l0
    la      a0, user_text
    li      a1, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
    call    pte_leaf
    sd      a0, 0(s1)
    la      a0, user_data
    li      a1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    call    pte_leaf
    sd      a0, 8(s1)

    srli    t0, s0, 12
    li      t1, SATP_SV39
    or      t0, t0, t1
    csrw    satp, t0
    sfence.vma
    la      a0, s_paging
    call    puts

    # Enter the task: SPP=0 (U), sepc = its entry, kernel stack in sscratch.
    csrw    sscratch, sp
    li      t0, SSTATUS_SPP
    csrc    sstatus, t0
    li      t0, USER_BASE
    csrw    sepc, t0
    li      sp, 0
    sret

# pte_table(a0 = table address) -> a0 = non-leaf PTE pointing at it
pte_table:
    srli    a0, a0, 12
    slli    a0, a0, 10
    ori     a0, a0, PTE_V
    ret

# pte_leaf(a0 = page address, a1 = flags) -> a0 = leaf PTE
pte_leaf:
    srli    a0, a0, 12
    slli    a0, a0, 10
    or      a0, a0, a1
    ret

# ---------------------------------------------------------------- S-mode traps
    .balign 4
s_trap:
    csrrw   sp, sscratch, sp        # kernel stack; the user sp is in sscratch
    addi    sp, sp, -128
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      a1, 16(sp)
    sd      a7, 24(sp)
    sd      t0, 32(sp)
    sd      t1, 40(sp)
    sd      t2, 48(sp)
    sd      s0, 56(sp)
    sd      s1, 64(sp)
    csrr    t0, sstatus
    andi    t0, t0, SSTATUS_SPP
    bnez    t0, kernel_panic        # the kernel itself never traps

    csrr    t0, scause
    li      t1, CAUSE_USER_ECALL
    beq     t0, t1, syscall
    li      t1, CAUSE_STORE_PAGE_FAULT
    beq     t0, t1, page_fault
    li      t1, CAUSE_LOAD_PAGE_FAULT
    beq     t0, t1, page_fault
    j       kernel_panic

syscall:
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
    la      t0, syscall_count
    ld      t1, 0(t0)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    li      t0, SYS_PRINT
    beq     a7, t0, sys_print
    li      t0, SYS_PUTHEX
    beq     a7, t0, sys_puthex
    li      t0, SYS_EXIT
    beq     a7, t0, sys_exit
    li      a0, -1                  # unknown system call
    sd      a0, 8(sp)
    j       s_trap_return
sys_print:
    call    puts                    # a0 is a user pointer: SUM lets us read it
    j       s_trap_return
sys_puthex:
    call    puthex
    li      a0, '\n'
    call    putc
    j       s_trap_return
sys_exit:
    mv      s0, a0
    la      a0, s_exit
    call    puts
    mv      a0, s0
    call    puthex
    la      a0, s_syscalls
    call    puts
    la      t0, syscall_count
    ld      a0, 0(t0)
    call    puthex
    la      a0, s_faults
    call    puts
    la      t0, fault_count
    ld      a0, 0(t0)
    call    puthex
    li      a0, '\n'
    call    putc
    mv      a0, s0
    j       power_off

page_fault:
    csrr    s0, stval
    srli    t0, s0, 12              # only the lazy page is demand-mapped
    li      t1, USER_LAZY >> 12
    bne     t0, t1, kernel_panic
    la      a0, s_fault
    call    puts
    mv      a0, s0
    call    puthex
    la      a0, s_fault_cause
    call    puts
    csrr    a0, scause
    call    puthex
    li      a0, '\n'
    call    putc
    la      a0, lazy_page
    li      a1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    call    pte_leaf
    la      t0, pt_user_l0
    sd      a0, 3 * 8(t0)
    sfence.vma s0, zero
    la      t0, fault_count
    ld      t1, 0(t0)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    # sepc is unchanged: the faulting store runs again and now succeeds

s_trap_return:
    ld      ra, 0(sp)
    ld      a0, 8(sp)
    ld      a1, 16(sp)
    ld      a7, 24(sp)
    ld      t0, 32(sp)
    ld      t1, 40(sp)
    ld      t2, 48(sp)
    ld      s0, 56(sp)
    ld      s1, 64(sp)
    addi    sp, sp, 128
    csrrw   sp, sscratch, sp
    sret

kernel_panic:
    la      a0, s_panic
    call    puts
    csrr    a0, scause
    call    puthex
    la      a0, s_fault_cause       # reuse " ": print stval too
    call    puts
    csrr    a0, stval
    call    puthex
    li      a0, '\n'
    call    putc
    li      a0, 1

# power_off(a0 = status): pass if 0, else fail with that code
power_off:
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    beqz    a0, 1f
    slli    t1, a0, 16
    li      t2, FINISHER_FAIL
    or      t1, t1, t2
1:  sw      t1, 0(t0)
2:  j       2b

# ---------------------------------------------------------------- console
    .include "include/uart.inc"   # putc, puts, puthex

# ---------------------------------------------------------------- the U-mode task
# Runs at USER_BASE; position independent, so it can be linked here and run
# there. Its data page follows at USER_BASE + 0x1000 (user_data).
    .balign 4096
user_text:
    li      sp, USER_BASE + 0x2000  # top of the data page
    la      a0, u_hello
    li      a7, SYS_PRINT
    ecall
    li      s0, USER_LAZY
    li      t0, 0x1234
    sd      t0, 0(s0)               # page fault: the kernel maps the page
    ld      t1, 0(s0)
    sd      t1, 8(s0)               # the page is mapped now: no fault
    la      a0, u_stored
    li      a7, SYS_PRINT
    ecall
    ld      a0, 8(s0)
    li      a7, SYS_PUTHEX
    ecall
    li      a0, 0                   # sum of 1..100 on the user stack
    li      t0, 100
    addi    sp, sp, -8
    sd      zero, 0(sp)
1:  ld      t1, 0(sp)
    add     t1, t1, t0
    sd      t1, 0(sp)
    addi    t0, t0, -1
    bnez    t0, 1b
    la      a0, u_sum
    li      a7, SYS_PRINT
    ecall
    ld      a0, 0(sp)
    li      a7, SYS_PUTHEX
    ecall
    li      a0, 0
    li      a7, SYS_EXIT
    ecall
2:  j       2b
u_hello:    .asciz "user: hello from U-mode via ecall\n"
u_stored:   .asciz "user: value read back from the demand-mapped page: "
u_sum:      .asciz "user: sum 1..100 = "
    .balign 4096
user_data:
    .space  4096

    .section .rodata
s_banner:   .asciz "skernel: S-mode kernel up, building Sv39 page tables\n"
s_paging:   .asciz "skernel: paging on, entering the user task\n"
s_fault:    .asciz "skernel: page fault at "
s_fault_cause: .asciz " cause "
s_exit:     .asciz "skernel: task exited with status "
s_syscalls: .asciz ", system calls: "
s_faults:   .asciz ", page faults fixed: "
s_panic:    .asciz "skernel: unexpected trap, scause "
s_m_trap:   .asciz "skernel: unexpected trap into M-mode, mcause "

    .section .data
    .balign 8
syscall_count:  .dword 0
fault_count:    .dword 0

    .section .bss
    .balign 4096
pt_root:    .space 4096
pt_user_l1: .space 4096
pt_user_l0: .space 4096
lazy_page:  .space 4096
k_stack:    .space 4096
k_stack_top:
