# The remaining directives: includes, symbol binding and visibility, every
# .if flavour, .purgem, LEB128, debug/metadata directives, .warning/.print and
# .end (nothing after it is assembled).
    .include "include/defs.inc"
    .file 1 "more_directives.c"
    .text
    .global _start
    .type _start, %function
    .variant_cc _start
_start:
    .loc 1 10
    li a0, INCLUDED_CONSTANT
    store_pair ra, s0, 16
    .purgem store_pair
    .macro store_pair
        ebreak
    .endm
    store_pair
    scall
    sbreak
    .ifeq INCLUDED_CONSTANT - 42
        addi a0, a0, 1
    .endif
    .ifne 0
        ebreak
    .endif
    .ifgt 1
        addi a0, a0, 2
    .endif
    .ifge -1
        ebreak
    .else
        addi a0, a0, 3
    .endif
    .iflt -1
        addi a0, a0, 4
    .endif
    .ifle 1
        ebreak
    .endif
    .ifnotdef NEVER_DEFINED
        addi a0, a0, 5
    .endif
    .warning "a warning does not stop assembly"
    .print "printed at assembly time"
    ret
    .data
    .local local_data
local_data:
    .hword 0x1234
    .uleb128 624485
    .sleb128 -123456
    .uleb128 0
    .sleb128 63
    .sleb128 64
    .weak weak_data
weak_data:
    .byte 1
    .hidden hidden_data
hidden_data:
    .byte 2
    .protected protected_data
protected_data:
    .byte 3
    .internal internal_data
internal_data:
    .byte 4
    .incbin "include/blob.bin"
    .incbin "include/blob.bin", 2
    .incbin "include/blob.bin", 3, 4
    .end
    this line is not assembled
    frob a0
