# hello.S -- the smallest complete guest.
#
# Shows: the boot contract of the `virt` board (entered in M-mode at
# 0x8000_0000), polled output on the 16550 UART at 0x1000_0000, and powering
# off through the SiFive test finisher at 0x10_0000.
#
# Expected output:  "Hello from pyvmm!" and exit status 0.
# Run:              pyvmm run guests/hello.S
#                   qemu-system-riscv64 -machine virt -bios none -nographic -kernel hello.elf

    .equ UART_BASE,     0x10000000
    .equ UART_THR,      0           # transmit holding register (write)
    .equ UART_LSR,      5           # line status register
    .equ LSR_THRE,      0x20        # transmitter can take another byte
    .equ FINISHER,      0x100000
    .equ FINISHER_PASS, 0x5555

    .section .text
    .globl _start
_start:
    la      a0, greeting
    call    puts
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
halt:                               # the finisher never returns; be safe anyway
    wfi
    j       halt

# puts(a0 = NUL-terminated string); clobbers a0, t0-t2
puts:
    li      t0, UART_BASE
1:  lbu     t1, 0(a0)
    beqz    t1, 3f
2:  lbu     t2, UART_LSR(t0)        # wait until the UART can take a byte
    andi    t2, t2, LSR_THRE
    beqz    t2, 2b
    sb      t1, UART_THR(t0)
    addi    a0, a0, 1
    j       1b
3:  ret

    .section .rodata
greeting:
    .asciz  "Hello from pyvmm!\n"
