# pci_blk.S -- PCI enumeration and a virtio-pci block read, bare metal.
#
# Shows: the virt board's PCIe host through its ECAM window (0x3000_0000):
# a scan of bus 0, devices 0..31, function 0; BAR sizing (all ones written,
# 32- and 64-bit memory BARs, I/O BARs) and assignment from the 32-bit MMIO
# window at 0x4000_0000 (I/O BARs from port 0x1000 of the PIO window at
# 0x0300_0000) in scan order, each BAR aligned to its size; the command
# register (memory and I/O decode, bus master); the INTx pin and the PLIC
# source the board's interrupt-map routes it to. Then, on the first virtio
# block device (modern 1af4:1042, or transitional 1af4:1001 with subsystem
# 2, driven through its modern interface): its virtio capabilities, the driver
# initialisation through COMMON_CFG (VERSION_1 only), queue 0 with 8
# descriptors, one read of sector 0 notified through NOTIFY_CFG and polled
# in the used ring, an FNV-1a 32 checksum of the sector, the capacity from
# DEVICE_CFG and the ISR status byte read twice (the first read clears it).
#
# Run:   pyvmm run --drive file=disk.img,format=raw,if=none,id=d0 \
#                  --device virtio-blk-pci,drive=d0 guests/pci/pci_blk.S
#        qemu-system-riscv64 -machine virt -nographic -bios none -m 128M \
#            -drive file=disk.img,format=raw,if=none,id=d0 \
#            -device virtio-blk-pci,drive=d0,disable-legacy=on,vectors=0 -kernel pci_blk.elf
#        (pyvmm's virtio-blk-pci is QEMU's modern device without MSI-X)
# Exit:  0 when the scan (and the read, if a block device is present)
#        succeeded; otherwise the finisher's failure code, after a line that
#        says why (3..11), or 12 after an unexpected trap (mcause, mepc, mtval).
#
# Registers kept across the whole program:
#   s0 ECAM base of the function at hand   s1 device number
#   s2 next free MMIO address              s3 next free I/O port
#   s4 ECAM base of the virtio block function (0: none yet)
# s5..s11 are scratch for one phase at a time.

    .include "pci.inc"         # board addresses, config registers, HEX, SAY

    .equ PIO_WINDOW,    0x03000000  # CPU address of I/O port 0
    .equ PIO_FIRST,     0x1000      # first port handed out
    .equ PIO_END,       0x10000
    .equ MMIO_END,      0x80000000
    .equ PLIC_PCI_IRQ,  32          # INTA..INTD of slot 0 are sources 32..35

    # configuration header
    .equ CFG_VENDOR,    0x00
    .equ CFG_DEVICE,    0x02
    .equ CFG_HEADER,    0x0e
    .equ CFG_SUBSYSTEM, 0x2e
    .equ CFG_CAP_PTR,   0x34
    .equ CMD_IO,        1
    .equ CMD_MEMORY,    2
    .equ CMD_MASTER,    4
    .equ STATUS_CAPS,   0x10

    # virtio over PCI
    .equ VIRTIO_VENDOR, 0x1af4
    .equ VIRTIO_BLK,    0x1042      # 0x1040 + device type 2
    .equ VIRTIO_BLK_TRANS, 0x1001   # transitional block device (subsystem 2)
    .equ CAP_VENDOR,    0x09
    .equ CAP_TYPES,     5           # COMMON, NOTIFY, ISR, DEVICE, PCI
    # struct virtio_pci_common_cfg
    .equ VC_DFSELECT,   0x00
    .equ VC_DF,         0x04
    .equ VC_GFSELECT,   0x08
    .equ VC_GF,         0x0c
    .equ VC_NUMQ,       0x12
    .equ VC_STATUS,     0x14
    .equ VC_GENERATION, 0x15
    .equ VC_QSELECT,    0x16
    .equ VC_QSIZE,      0x18
    .equ VC_QENABLE,    0x1c
    .equ VC_QNOTIFYOFF, 0x1e
    .equ VC_QDESC,      0x20
    .equ VC_QDRIVER,    0x28
    .equ VC_QDEVICE,    0x30
    .equ ST_ACK,        1
    .equ ST_DRIVER,     2
    .equ ST_DRIVER_OK,  4
    .equ ST_FEATURES_OK, 8
    .equ QSIZE,         8
    .equ DESC_NEXT,     1
    .equ DESC_WRITE,    2
    .equ BLK_T_IN,      0
    .equ POLL_LIMIT,    200000000   # reads of used.idx before giving up

# Strings are printed by `call say` with the text right after the call:
#     call    say
#     .asciz  "text\n"
#     .balign 4

# DEC reg: print reg in decimal (clobbers a0-a3, t0-t1)
.macro DEC reg
    mv      a0, \reg
    call    putdec
.endm

    .section .text
    .globl _start
_start:
    la      sp, stack_top
    la      t0, trap
    csrw    mtvec, t0
    call    say
    .asciz  "pci: ECAM 0x30000000, bus 0\n"
    .balign 4
    li      s2, MMIO_WINDOW
    li      s3, PIO_FIRST
    li      s4, 0
    li      s1, 0
scan:
    li      s0, ECAM
    slli    t0, s1, 15
    add     s0, s0, t0
    lhu     t0, CFG_VENDOR(s0)
    li      t1, 0xffff
    beq     t0, t1, scan_next       # nobody answers: all ones
    call    show_function
    call    assign_bars
    lhu     t0, CFG_VENDOR(s0)
    li      t1, VIRTIO_VENDOR
    bne     t0, t1, scan_next
    lhu     t0, CFG_DEVICE(s0)
    li      t1, VIRTIO_BLK
    beq     t0, t1, 2f
    li      t1, VIRTIO_BLK_TRANS    # transitional: block if the subsystem says so
    bne     t0, t1, scan_next
    lhu     t0, CFG_SUBSYSTEM(s0)
    li      t1, 2
    bne     t0, t1, scan_next
2:    bnez    s4, scan_next           # the first block device is the one used
    mv      s4, s0
scan_next:
    addi    s1, s1, 1
    li      t0, 32
    blt     s1, t0, scan

    bnez    s4, 1f
    call    say
    .asciz  "virtio-blk: none\n"
    .balign 4
    j       pass
1:  call    virtio_blk
pass:
    call    say
    .asciz  "done\n"
    .balign 4
    li      t0, FINISHER
    li      t1, FINISHER_PASS
    sw      t1, 0(t0)
halt:
    wfi
    j       halt

# trap: no trap is expected (a configuration access nobody decodes, a BAR
# that does not decode...): report it and fail with code 12
    .balign 4
trap:
    call    say
    .asciz  "trap: mcause "
    .balign 4
    csrr    a0, mcause
    li      a1, 16
    call    puthexn
    call    say
    .asciz  " mepc "
    .balign 4
    csrr    a0, mepc
    li      a1, 16
    call    puthexn
    call    say
    .asciz  " mtval "
    .balign 4
    csrr    a0, mtval
    li      a1, 16
    call    puthexn
    li      a0, 12
    call    say_fail
    .asciz  "\n"

# say: print the NUL-terminated string placed right after the call, then
# return past it, to the next 4-byte boundary (where `.balign 4` puts the
# code that follows); clobbers a0, t0-t2
say:
    mv      t2, ra
1:  lbu     a0, 0(t2)
    addi    t2, t2, 1
    beqz    a0, 2f
    call    putc
    j       1b
2:  addi    t2, t2, 3
    andi    ra, t2, -4
    ret

# say_fail(a0 = code): print the string after the call, then fail with the code
say_fail:
    mv      s11, a0
    mv      t2, ra
1:  lbu     a0, 0(t2)
    beqz    a0, 2f
    call    putc
    addi    t2, t2, 1
    j       1b
2:  mv      a0, s11
# fail(a0 = code): finisher status 0x3333 | code << 16
fail:
    slli    a0, a0, 16
    li      t1, FINISHER_FAIL
    or      t1, t1, a0
    li      t0, FINISHER
    sw      t1, 0(t0)
    j       halt

# ------------------------------------------------------------------ one function
# show_function: "00:DD.0 vvvv:dddd class cccccc rev rr", the interrupt pin
# and its PLIC source. Uses s0, s1; clobbers a0-a3, t0-t2, s5.
show_function:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    say
    .asciz  "00:"
    .balign 4
    mv      a0, s1
    li      a1, 2
    call    hexn
    call    say
    .asciz  ".0 "
    .balign 4
    lhu     a0, CFG_VENDOR(s0)
    li      a1, 4
    call    hexn
    call    say
    .asciz  ":"
    .balign 4
    lhu     a0, CFG_DEVICE(s0)
    li      a1, 4
    call    hexn
    call    say
    .asciz  " class "
    .balign 4
    lwu     a0, CFG_REVISION(s0)
    srli    a0, a0, 8
    li      a1, 6
    call    hexn
    call    say
    .asciz  " rev "
    .balign 4
    lbu     a0, CFG_REVISION(s0)
    li      a1, 2
    call    hexn
    call    say
    .asciz  "\n"
    .balign 4
    lbu     s5, CFG_INT_PIN(s0)
    beqz    s5, 1f
    call    say
    .asciz  "  interrupt pin "
    .balign 4
    DEC     s5
    call    say
    .asciz  " (INT"
    .balign 4
    addi    a0, s5, 'A' - 1
    call    putc
    call    say
    .asciz  ") -> PLIC source "
    .balign 4
    # the virt board's interrupt-map: slot s1, pin s5 (1 = INTA) -> 32 + (slot + pin - 1) % 4
    add     a0, s1, s5
    addi    a0, a0, -1
    andi    a0, a0, 3
    addi    a0, a0, PLIC_PCI_IRQ
    call    putdec
    call    say
    .asciz  "\n"
    .balign 4
1:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# assign_bars: size each BAR of the function at s0 (decode off meanwhile),
# give it the next size-aligned range of its window, print it, then turn on
# the decoders it needs and bus mastering.
# s5 BAR index, s6 BAR count, s7 address of the BAR register, s8 command
# bits, s9 size, s10 assigned address, s11 the BAR's low dword as sized.
assign_bars:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    lbu     t0, CFG_HEADER(s0)
    andi    t0, t0, 0x7f
    li      s6, 6                   # type 0: an endpoint, six BARs
    beqz    t0, 1f
    li      s6, 2                   # type 1: a bridge, two
    li      t1, 1
    beq     t0, t1, 1f
    li      s6, 0
1:  sh      zero, CFG_COMMAND(s0)   # no decoding while BARs hold all ones
    li      s8, CMD_MASTER
    li      s5, 0
bar_loop:
    bge     s5, s6, bars_done
    slli    s7, s5, 2
    add     s7, s7, s0
    addi    s7, s7, CFG_BAR0
    li      t0, -1
    sw      t0, 0(s7)
    lwu     s11, 0(s7)
    bnez    s11, 2f
    addi    s5, s5, 1               # reads as zero: not implemented
    j       bar_loop
2:  andi    t0, s11, 1
    beqz    t0, bar_memory

    # I/O BAR: port address bits above bit 1
    andi    t0, s11, -4
    neg     s9, t0
    and     s9, s9, t0              # size = lowest writable address bit
    addi    t0, s9, -1
    add     s10, s3, t0
    not     t0, t0
    and     s10, s10, t0            # align up to the size
    add     s3, s10, s9
    li      t0, PIO_END
    bgtu    s3, t0, no_room
    sw      s10, 0(s7)
    ori     s8, s8, CMD_IO
    call    say
    .asciz  "  bar"
    .balign 4
    DEC     s5
    call    say
    .asciz  " io    size "
    .balign 4
    HEX     s9, 8
    call    say
    .asciz  " port "
    .balign 4
    lwu     a0, 0(s7)
    andi    a0, a0, -4
    li      a1, 4
    call    puthexn
    call    say
    .asciz  " cpu "
    .balign 4
    lwu     a0, 0(s7)
    andi    a0, a0, -4
    li      t0, PIO_WINDOW
    add     a0, a0, t0
    li      a1, 8
    call    puthexn
    call    say
    .asciz  "\n"
    .balign 4
    addi    s5, s5, 1
    j       bar_loop

bar_memory:
    srli    t0, s11, 1
    andi    t0, t0, 3
    li      t1, 2
    beq     t0, t1, bar_memory64
    andi    t0, s11, -16
    neg     s9, t0
    and     s9, s9, t0
    call    place_memory
    sw      s10, 0(s7)
    call    say
    .asciz  "  bar"
    .balign 4
    DEC     s5
    call    say
    .asciz  " mem32"
    .balign 4
    call    say_prefetchable
    call    say
    .asciz  " size "
    .balign 4
    HEX     s9, 8
    call    say
    .asciz  " at "
    .balign 4
    lwu     a0, 0(s7)
    andi    a0, a0, -16
    li      a1, 8
    call    puthexn
    call    say
    .asciz  "\n"
    .balign 4
    addi    s5, s5, 1
    j       bar_loop

bar_memory64:
    li      t0, -1
    sw      t0, 4(s7)
    lwu     t0, 4(s7)
    slli    t0, t0, 32
    andi    t1, s11, -16
    or      t0, t0, t1
    neg     s9, t0
    and     s9, s9, t0
    call    place_memory
    sw      s10, 0(s7)
    srli    t0, s10, 32
    sw      t0, 4(s7)
    call    say
    .asciz  "  bar"
    .balign 4
    DEC     s5
    call    say
    .asciz  " mem64"
    .balign 4
    call    say_prefetchable
    call    say
    .asciz  " size "
    .balign 4
    HEX     s9, 8
    call    say
    .asciz  " at "
    .balign 4
    lwu     a0, 4(s7)
    slli    a0, a0, 32
    lwu     t0, 0(s7)
    andi    t0, t0, -16
    or      a0, a0, t0
    li      a1, 16
    call    puthexn
    call    say
    .asciz  "\n"
    .balign 4
    addi    s5, s5, 2               # the next BAR holds the upper half
    j       bar_loop

bars_done:
    beqz    s6, 3f                  # a header without BARs keeps its command
    ori     s8, s8, CMD_MEMORY
    sh      s8, CFG_COMMAND(s0)
    call    say
    .asciz  "  command "
    .balign 4
    lhu     a0, CFG_COMMAND(s0)
    li      a1, 4
    call    puthexn
    call    say
    .asciz  "\n"
    .balign 4
3:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

no_room:
    li      a0, 3
    call    say_fail
    .asciz  "pci: a BAR does not fit its window\n"
    .balign 4

# place_memory: s10 = s2 aligned up to s9, s2 = s10 + s9 (fails past the window)
place_memory:
    addi    t0, s9, -1
    add     s10, s2, t0
    not     t0, t0
    and     s10, s10, t0
    add     s2, s10, s9
    li      t0, MMIO_END
    bgtu    s2, t0, no_room
    ret

# say_prefetchable: " pref" when bit 3 of s11 is set
say_prefetchable:
    andi    t0, s11, 8
    beqz    t0, 1f
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    say
    .asciz  " pref"
    .balign 4
    ld      ra, 0(sp)
    addi    sp, sp, 16
1:  ret

# bar_address(a0 = BAR index) -> a0 = the CPU address the memory BAR of the
# function at s4 decodes (0 for an I/O BAR); clobbers t0-t2
bar_address:
    slli    t0, a0, 2
    add     t0, t0, s4
    addi    t0, t0, CFG_BAR0
    lwu     a0, 0(t0)
    andi    t1, a0, 1
    bnez    t1, 1f
    srli    t1, a0, 1
    andi    t1, t1, 3
    andi    a0, a0, -16
    li      t2, 2
    bne     t1, t2, 2f
    lwu     t1, 4(t0)               # a 64-bit BAR: the upper half follows
    slli    t1, t1, 32
    or      a0, a0, t1
2:  ret
1:  li      a0, 0
    ret

# ------------------------------------------------------------------ virtio block
# virtio_blk: the device at s4. s5 COMMON_CFG, s6 notify base, s7 ISR,
# s8 DEVICE_CFG, s9 notify_off_multiplier; s10, s11 scratch.
virtio_blk:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    say
    .asciz  "virtio-blk at 00:"
    .balign 4
    li      t0, ECAM
    sub     a0, s4, t0
    srli    a0, a0, 15
    li      a1, 2
    call    hexn
    call    say
    .asciz  ".0\n"
    .balign 4
    lhu     t0, CFG_STATUS(s4)
    andi    t0, t0, STATUS_CAPS
    bnez    t0, 1f
    li      a0, 4
    call    say_fail
    .asciz  "virtio-blk: no capability list\n"
    .balign 4

    # walk the list; keep the first vendor capability of each cfg_type
1:  lbu     s5, CFG_CAP_PTR(s4)
    li      s6, 48                  # the most that fit in 192 bytes: stops a loop
cap_loop:
    andi    s5, s5, 0xfc
    beqz    s5, caps_done
    addi    s6, s6, -1
    bltz    s6, caps_done
    add     s7, s4, s5
    lbu     t0, 0(s7)
    li      t1, CAP_VENDOR
    bne     t0, t1, cap_next
    lbu     s8, 3(s7)               # cfg_type
    addi    t1, s8, -1
    li      t2, CAP_TYPES
    bgeu    t1, t2, cap_next        # types past PCI_CFG are not used here
    la      s9, caps
    slli    t0, s8, 4
    add     s9, s9, t0
    lwu     t0, 0(s9)
    bnez    t0, cap_next
    lbu     t0, 4(s7)               # bar
    addi    t0, t0, 1
    sw      t0, 0(s9)
    lw      t0, 8(s7)               # offset
    sw      t0, 4(s9)
    lw      t0, 12(s7)              # length
    sw      t0, 8(s9)
    li      t1, 2
    bne     s8, t1, cap_next
    lw      t0, 16(s7)              # NOTIFY_CFG: notify_off_multiplier
    sw      t0, 12(s9)
cap_next:
    lbu     s5, 1(s7)
    j       cap_loop

caps_done:
    li      s5, 1
print_caps:
    la      s7, caps
    slli    t0, s5, 4
    add     s7, s7, t0
    lwu     t0, 0(s7)
    beqz    t0, 2f
    call    say
    .asciz  "  cap "
    .balign 4
    DEC     s5
    call    say
    .asciz  " "
    .balign 4
    la      t0, cap_names
    addi    t1, s5, -1
    slli    t1, t1, 3
    add     t0, t0, t1
    ld      a0, 0(t0)
    call    puts
    call    say
    .asciz  " bar "
    .balign 4
    lwu     a0, 0(s7)
    addi    a0, a0, -1
    call    putdec
    call    say
    .asciz  " offset "
    .balign 4
    lwu     a0, 4(s7)
    li      a1, 8
    call    puthexn
    call    say
    .asciz  " length "
    .balign 4
    lwu     a0, 8(s7)
    li      a1, 8
    call    puthexn
    li      t0, 2
    bne     s5, t0, 3f
    call    say
    .asciz  " multiplier "
    .balign 4
    lwu     a0, 12(s7)
    call    putdec
3:  call    say
    .asciz  "\n"
    .balign 4
2:  addi    s5, s5, 1
    li      t0, CAP_TYPES
    ble     s5, t0, print_caps

    li      a0, 1
    call    cap_address
    mv      s5, a0
    li      a0, 2
    call    cap_address
    mv      s6, a0
    li      a0, 3
    call    cap_address
    mv      s7, a0
    li      a0, 4
    call    cap_address
    mv      s8, a0
    la      t0, caps + 2 * 16
    lwu     s9, 12(t0)

    # 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK
    sb      zero, VC_STATUS(s5)
    li      s10, POLL_LIMIT
4:  lbu     t0, VC_STATUS(s5)
    beqz    t0, 5f
    addi    s10, s10, -1
    bnez    s10, 4b
    li      a0, 6
    call    say_fail
    .asciz  "virtio-blk: reset does not complete\n"
    .balign 4
5:  li      t0, ST_ACK
    sb      t0, VC_STATUS(s5)
    li      t0, ST_ACK | ST_DRIVER
    sb      t0, VC_STATUS(s5)
    li      t0, 1
    sw      t0, VC_DFSELECT(s5)
    lwu     t0, VC_DF(s5)           # feature bits 32..63
    andi    t0, t0, 1               # VIRTIO_F_VERSION_1 (bit 32)
    bnez    t0, 6f
    li      a0, 7
    call    say_fail
    .asciz  "virtio-blk: VERSION_1 is not offered\n"
    .balign 4
6:  call    say
    .asciz  "  VERSION_1 offered\n"
    .balign 4
    sw      zero, VC_GFSELECT(s5)
    sw      zero, VC_GF(s5)
    li      t0, 1
    sw      t0, VC_GFSELECT(s5)
    sw      t0, VC_GF(s5)
    li      t0, ST_ACK | ST_DRIVER | ST_FEATURES_OK
    sb      t0, VC_STATUS(s5)
    call    say
    .asciz  "  status "
    .balign 4
    lbu     s10, VC_STATUS(s5)
    HEX     s10, 2
    call    say
    .asciz  "\n"
    .balign 4
    andi    t0, s10, ST_FEATURES_OK
    bnez    t0, 7f
    li      a0, 8
    call    say_fail
    .asciz  "virtio-blk: FEATURES_OK not accepted\n"
    .balign 4

    # queue 0: QSIZE descriptors, then DRIVER_OK
7:  call    say
    .asciz  "  num_queues "
    .balign 4
    lhu     a0, VC_NUMQ(s5)
    call    putdec
    sh      zero, VC_QSELECT(s5)
    call    say
    .asciz  ", queue 0 size "
    .balign 4
    lhu     s10, VC_QSIZE(s5)
    DEC     s10
    li      t0, QSIZE
    bgeu    s10, t0, 8f
    li      a0, 9
    call    say_fail
    .asciz  "\nvirtio-blk: queue 0 is too small\n"
    .balign 4
8:  li      t0, QSIZE
    sh      t0, VC_QSIZE(s5)
    la      a0, vq
    la      a1, vq_end
    sub     a1, a1, a0
    call    zero_range
    la      t0, vq_desc
    sw      t0, VC_QDESC(s5)
    srli    t0, t0, 32
    sw      t0, VC_QDESC + 4(s5)
    la      t0, vq_avail
    sw      t0, VC_QDRIVER(s5)
    srli    t0, t0, 32
    sw      t0, VC_QDRIVER + 4(s5)
    la      t0, vq_used
    sw      t0, VC_QDEVICE(s5)
    srli    t0, t0, 32
    sw      t0, VC_QDEVICE + 4(s5)
    call    say
    .asciz  ", notify_off "
    .balign 4
    lhu     s11, VC_QNOTIFYOFF(s5)
    DEC     s11
    call    say
    .asciz  "\n"
    .balign 4
    li      t0, 1
    sh      t0, VC_QENABLE(s5)
    li      t0, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK
    sb      t0, VC_STATUS(s5)
    call    say
    .asciz  "  status "
    .balign 4
    lbu     a0, VC_STATUS(s5)
    li      a1, 2
    call    puthexn
    call    say
    .asciz  "\n"
    .balign 4

    # one request: header (device reads), sector 0 and status (device writes)
    la      t1, vq_header
    li      t0, BLK_T_IN
    sw      t0, 0(t1)               # type
    sw      zero, 4(t1)             # reserved
    sd      zero, 8(t1)             # sector
    la      t0, vq_status
    li      t1, 0xff
    sb      t1, 0(t0)
    la      t2, vq_desc
    la      t0, vq_header
    sd      t0, 0(t2)
    li      t0, 16
    sw      t0, 8(t2)
    li      t0, DESC_NEXT
    sh      t0, 12(t2)
    li      t0, 1
    sh      t0, 14(t2)
    la      t0, sector
    sd      t0, 16(t2)
    li      t0, 512
    sw      t0, 24(t2)
    li      t0, DESC_NEXT | DESC_WRITE
    sh      t0, 28(t2)
    li      t0, 2
    sh      t0, 30(t2)
    la      t0, vq_status
    sd      t0, 32(t2)
    li      t0, 1
    sw      t0, 40(t2)
    li      t0, DESC_WRITE
    sh      t0, 44(t2)
    la      t2, vq_avail
    sh      zero, 4(t2)             # ring[0] = descriptor 0
    fence   w, w
    li      t0, 1
    sh      t0, 2(t2)               # idx = 1
    fence   w, o                    # the ring before the doorbell
    mul     t0, s11, s9
    add     t0, t0, s6
    sh      zero, 0(t0)             # notify: queue index 0

    la      t2, vq_used
    li      s10, POLL_LIMIT
9:  lhu     t0, 2(t2)
    bnez    t0, 10f
    addi    s10, s10, -1
    bnez    s10, 9b
    li      a0, 10
    call    say_fail
    .asciz  "virtio-blk: no used buffer\n"
    .balign 4
10: fence   r, r
    lhu     s10, 2(t2)              # used idx, then ring[0]: id and len
    lwu     s11, 4(t2)
    lwu     s9, 8(t2)
    call    say
    .asciz  "  used idx "
    .balign 4
    DEC     s10
    call    say
    .asciz  " id "
    .balign 4
    DEC     s11
    call    say
    .asciz  " len "
    .balign 4
    DEC     s9
    call    say
    .asciz  ", request status "
    .balign 4
    la      t0, vq_status
    lbu     s10, 0(t0)
    DEC     s10
    call    say
    .asciz  "\n"
    .balign 4
    beqz    s10, 11f
    li      a0, 11
    call    say_fail
    .asciz  "virtio-blk: the read failed\n"
    .balign 4

11: call    say
    .asciz  "  sector 0 fnv1a "
    .balign 4
    li      a0, 0x811c9dc5          # FNV-1a 32: offset basis
    li      t2, 0x01000193          # FNV prime
    la      t0, sector
    addi    t1, t0, 512
12: lbu     a1, 0(t0)
    xor     a0, a0, a1
    mulw    a0, a0, t2
    addi    t0, t0, 1
    bne     t0, t1, 12b
    slli    a0, a0, 32
    srli    a0, a0, 32
    li      a1, 8
    call    puthexn
    call    say
    .asciz  "\n"
    .balign 4

    # capacity (le64, 512-byte sectors), read as two dwords in one generation
13: lbu     t2, VC_GENERATION(s5)
    lwu     s10, 0(s8)
    lwu     t0, 4(s8)
    slli    t0, t0, 32
    or      s10, s10, t0
    lbu     t1, VC_GENERATION(s5)
    bne     t1, t2, 13b
    call    say
    .asciz  "  capacity "
    .balign 4
    DEC     s10
    call    say
    .asciz  " sectors\n"
    .balign 4

    lbu     s10, 0(s7)              # ISR: the read clears it
    lbu     s11, 0(s7)
    call    say
    .asciz  "  isr "
    .balign 4
    HEX     s10, 2
    call    say
    .asciz  " then "
    .balign 4
    HEX     s11, 2
    call    say
    .asciz  "\n"
    .balign 4
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# cap_address(a0 = cfg_type) -> a0 = CPU address of that structure; clobbers t0-t2
cap_address:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      t0, caps
    slli    a0, a0, 4
    add     t0, t0, a0
    sd      t0, 8(sp)
    lwu     a0, 0(t0)
    beqz    a0, 1f
    addi    a0, a0, -1
    call    bar_address
    beqz    a0, 1f
    ld      t0, 8(sp)
    lwu     t1, 4(t0)
    add     a0, a0, t1
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret
1:  li      a0, 5
    call    say_fail
    .asciz  "virtio-blk: a capability or its BAR is missing\n"
    .balign 4

# zero_range(a0 = address, a1 = bytes, a multiple of 8); clobbers a0-a1
zero_range:
    beqz    a1, 1f
    sd      zero, 0(a0)
    addi    a0, a0, 8
    addi    a1, a1, -8
    j       zero_range
1:  ret

# ------------------------------------------------------------------ output
    .include "../include/uart.inc"

    .include "hexn.inc"        # hexn, puthexn

# putdec(a0 = unsigned value): decimal digits; clobbers a0-a3, t0-t1
putdec:
    addi    sp, sp, -48
    sd      ra, 40(sp)
    addi    a2, sp, 32              # digits are written backwards from here
    li      a3, 10
1:  remu    t0, a0, a3
    divu    a0, a0, a3
    addi    t0, t0, '0'
    addi    a2, a2, -1
    sb      t0, 0(a2)
    bnez    a0, 1b
2:  lbu     a0, 0(a2)
    call    putc
    addi    a2, a2, 1
    addi    t0, sp, 32
    bne     a2, t0, 2b
    ld      ra, 40(sp)
    addi    sp, sp, 48
    ret

    .section .rodata
    .balign 8
cap_names:                          # by cfg_type - 1
    .dword  name_common, name_notify, name_isr, name_device, name_pci
name_common: .asciz "common_cfg"
name_notify: .asciz "notify_cfg"
name_isr:    .asciz "isr_cfg"
name_device: .asciz "device_cfg"
name_pci:    .asciz "pci_cfg"

    .bss
    .balign 16
caps:                               # by cfg_type: bar + 1 (0: absent), offset, length, multiplier
    .space  16 * (CAP_TYPES + 1)
    .balign 4096
vq:                                 # split virtqueue 0 and the request
vq_desc:    .space 256              # 16-byte descriptors
vq_avail:   .space 256              # flags, idx, ring[QSIZE], used_event
vq_used:    .space 512              # flags, idx, ring[QSIZE] of (id, len), avail_event
vq_header:  .space 16               # struct virtio_blk_req: type, reserved, sector
vq_status:  .space 16
    .balign 512
sector:     .space 512
vq_end:
    .balign 16
            .space 4096
stack_top:
