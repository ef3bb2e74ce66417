"""SBI numbers and the machine facts the built-in SBI and the hypervisor's
SBI share: error codes, extension and function ids, HSM states, SRST types
(the SBI v2.0 specification), and the CSR fields OpenSBI sets up."""

from pyvmm.isa import causes
from pyvmm.isa.csrs import CSRS

MASK64 = (1 << 64) - 1

# SBI error codes (struct sbiret.error).
SBI_SUCCESS = 0
SBI_ERR_FAILED = -1
SBI_ERR_NOT_SUPPORTED = -2
SBI_ERR_INVALID_PARAM = -3
SBI_ERR_DENIED = -4
SBI_ERR_INVALID_ADDRESS = -5
SBI_ERR_ALREADY_AVAILABLE = -6
SBI_ERR_ALREADY_STARTED = -7
SBI_ERR_ALREADY_STOPPED = -8

SPEC_VERSION = (2, 0)
IMPL_ID = 0x7079766D

# Extension ids.
EID_LEGACY_SET_TIMER = 0x00
EID_LEGACY_CONSOLE_PUTCHAR = 0x01
EID_LEGACY_CONSOLE_GETCHAR = 0x02
EID_LEGACY_CLEAR_IPI = 0x03
EID_LEGACY_SEND_IPI = 0x04
EID_LEGACY_REMOTE_FENCE_I = 0x05
EID_LEGACY_REMOTE_SFENCE_VMA = 0x06
EID_LEGACY_REMOTE_SFENCE_VMA_ASID = 0x07
EID_LEGACY_SHUTDOWN = 0x08
EID_LEGACY_LAST = 0x0F
EID_BASE = 0x10
EID_TIME = 0x54494D45
EID_IPI = 0x735049
EID_RFENCE = 0x52464E43
EID_HSM = 0x48534D
EID_SRST = 0x53525354
EID_DBCN = 0x4442434E

EXTENSION_NAMES = {EID_BASE: "base", EID_TIME: "time", EID_IPI: "ipi", EID_RFENCE: "rfence",
                   EID_HSM: "hsm", EID_SRST: "srst", EID_DBCN: "dbcn"}

# HSM hart states and suspend types.
HSM_STARTED = 0
HSM_STOPPED = 1
HSM_SUSPENDED = 4
HSM_SUSPEND_RETENTIVE = 0x0000_0000
HSM_SUSPEND_NON_RETENTIVE = 0x8000_0000

# SRST types and reasons.
SRST_SHUTDOWN, SRST_COLD_REBOOT, SRST_WARM_REBOOT = 0, 1, 2
SRST_REASON_NONE, SRST_REASON_FAILURE = 0, 1

# CSRs and their fields.
CSR_MSTATUS = CSRS["mstatus"]
CSR_MISA = CSRS["misa"]
CSR_MEDELEG = CSRS["medeleg"]
CSR_MIDELEG = CSRS["mideleg"]
CSR_MIE = CSRS["mie"]
CSR_MIP = CSRS["mip"]
CSR_MCOUNTEREN = CSRS["mcounteren"]
CSR_MENVCFG = CSRS["menvcfg"]
CSR_PMPCFG0 = CSRS["pmpcfg0"]
CSR_PMPADDR0 = CSRS["pmpaddr0"]
CSR_STVEC = CSRS["stvec"]
CSR_SEPC = CSRS["sepc"]
CSR_SCAUSE = CSRS["scause"]
CSR_STVAL = CSRS["stval"]
CSR_SATP = CSRS["satp"]
CSR_STIMECMP = CSRS["stimecmp"]
CSR_MVENDORID = CSRS["mvendorid"]
CSR_MARCHID = CSRS["marchid"]
CSR_MIMPID = CSRS["mimpid"]

MSTATUS_SIE = 1 << 1
MSTATUS_MIE = 1 << 3
MSTATUS_SPIE = 1 << 5
MSTATUS_MPIE = 1 << 7
MSTATUS_SPP = 1 << 8
MSTATUS_MPP_SHIFT = 11
MSTATUS_MPP = 3 << MSTATUS_MPP_SHIFT
MSTATUS_MPRV = 1 << 17
MSTATUS_SUM = 1 << 18
MSTATUS_MXR = 1 << 19
MENVCFG_STCE = 1 << 63
MENVCFG_CBO = 0xF0          # CBZE, CBCFE and CBIE = 11 (cbo.inval invalidates)
MIP_SSIP = 1 << causes.IRQ_S_SOFT
MIP_STIP = 1 << causes.IRQ_S_TIMER
MIP_SEIP = 1 << causes.IRQ_S_EXT
MISA_H = 1 << (ord("h") - ord("a"))

PRIV_U, PRIV_S, PRIV_M = 0, 1, 3

# What OpenSBI (lib/sbi/sbi_hart.c, delegate_traps) hands straight to S-mode.
DELEGATED_EXCEPTIONS = ((1 << causes.EXC_INST_MISALIGNED) | (1 << causes.EXC_BREAKPOINT)
                        | (1 << causes.EXC_ECALL_U) | (1 << causes.EXC_INST_PAGE_FAULT)
                        | (1 << causes.EXC_LOAD_PAGE_FAULT) | (1 << causes.EXC_STORE_PAGE_FAULT))
DELEGATED_EXCEPTIONS_H = ((1 << causes.EXC_ECALL_VS) | (1 << causes.EXC_INST_GUEST_PAGE_FAULT)
                          | (1 << causes.EXC_LOAD_GUEST_PAGE_FAULT) | (1 << causes.EXC_VIRTUAL_INST)
                          | (1 << causes.EXC_STORE_GUEST_PAGE_FAULT))
DELEGATED_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP
EXCEPTION_CAUSES = (1 << 24) - 1          # causes 0..23, the standard ones with H

PMP_NAPOT_RWX = 0x1F                      # A = NAPOT, X, W, R
PMPADDR_ALL = (1 << 54) - 1               # NAPOT over the whole 56-bit physical space

# Page-table walk (for legacy calls that pass pointers in S-mode virtual memory).
SATP_MODE_SHIFT = 60
SATP_MODE_BARE, SATP_MODE_SV39, SATP_MODE_SV48 = 0, 8, 9
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U = 1, 2, 4, 8, 16
PAGE_SHIFT = 12
