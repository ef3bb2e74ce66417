"""Trap cause numbers (mcause/scause codes) and their names.

Exceptions and interrupts share code numbers; an interrupt's mcause has bit
XLEN-1 set (`INTERRUPT_BIT` for RV64). Names follow the privileged spec,
including the H extension's causes (10, 20-23; interrupts 2, 6, 10, 12).
"""

INTERRUPT_BIT = 1 << 63

EXC_INST_MISALIGNED = 0
EXC_INST_ACCESS = 1
EXC_ILLEGAL_INST = 2
EXC_BREAKPOINT = 3
EXC_LOAD_MISALIGNED = 4
EXC_LOAD_ACCESS = 5
EXC_STORE_MISALIGNED = 6
EXC_STORE_ACCESS = 7
EXC_ECALL_U = 8
EXC_ECALL_S = 9          # from HS (or S without H)
EXC_ECALL_VS = 10
EXC_ECALL_M = 11
EXC_INST_PAGE_FAULT = 12
EXC_LOAD_PAGE_FAULT = 13
EXC_STORE_PAGE_FAULT = 15
EXC_INST_GUEST_PAGE_FAULT = 20
EXC_LOAD_GUEST_PAGE_FAULT = 21
EXC_VIRTUAL_INST = 22
EXC_STORE_GUEST_PAGE_FAULT = 23

IRQ_S_SOFT = 1
IRQ_VS_SOFT = 2
IRQ_M_SOFT = 3
IRQ_S_TIMER = 5
IRQ_VS_TIMER = 6
IRQ_M_TIMER = 7
IRQ_S_EXT = 9
IRQ_VS_EXT = 10
IRQ_M_EXT = 11
IRQ_S_GUEST_EXT = 12
IRQ_LCOF = 13

EXCEPTION_NAMES = {
    EXC_INST_MISALIGNED: "instruction address misaligned",
    EXC_INST_ACCESS: "instruction access fault",
    EXC_ILLEGAL_INST: "illegal instruction",
    EXC_BREAKPOINT: "breakpoint",
    EXC_LOAD_MISALIGNED: "load address misaligned",
    EXC_LOAD_ACCESS: "load access fault",
    EXC_STORE_MISALIGNED: "store/AMO address misaligned",
    EXC_STORE_ACCESS: "store/AMO access fault",
    EXC_ECALL_U: "environment call from U-mode",
    EXC_ECALL_S: "environment call from S-mode",
    EXC_ECALL_VS: "environment call from VS-mode",
    EXC_ECALL_M: "environment call from M-mode",
    EXC_INST_PAGE_FAULT: "instruction page fault",
    EXC_LOAD_PAGE_FAULT: "load page fault",
    EXC_STORE_PAGE_FAULT: "store/AMO page fault",
    EXC_INST_GUEST_PAGE_FAULT: "instruction guest-page fault",
    EXC_LOAD_GUEST_PAGE_FAULT: "load guest-page fault",
    EXC_VIRTUAL_INST: "virtual instruction",
    EXC_STORE_GUEST_PAGE_FAULT: "store/AMO guest-page fault",
}

INTERRUPT_NAMES = {
    IRQ_S_SOFT: "supervisor software interrupt",
    IRQ_VS_SOFT: "virtual supervisor software interrupt",
    IRQ_M_SOFT: "machine software interrupt",
    IRQ_S_TIMER: "supervisor timer interrupt",
    IRQ_VS_TIMER: "virtual supervisor timer interrupt",
    IRQ_M_TIMER: "machine timer interrupt",
    IRQ_S_EXT: "supervisor external interrupt",
    IRQ_VS_EXT: "virtual supervisor external interrupt",
    IRQ_M_EXT: "machine external interrupt",
    IRQ_S_GUEST_EXT: "supervisor guest external interrupt",
    IRQ_LCOF: "counter-overflow interrupt",
}


def cause_name(mcause):
    """Readable name of an mcause/scause value (interrupt bit honoured)."""
    if mcause & INTERRUPT_BIT:
        code = mcause & ~INTERRUPT_BIT
        return INTERRUPT_NAMES.get(code, "interrupt %d" % code)
    return EXCEPTION_NAMES.get(mcause, "exception %d" % mcause)
