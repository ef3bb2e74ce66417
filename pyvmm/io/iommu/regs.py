"""The RISC-V IOMMU's architectural numbers (RISC-V IOMMU Architecture
Specification 1.0): register offsets and fields, device-context and
page-table bits, command opcodes and fault causes."""

# -- memory-mapped registers (offset, width) ---------------------------------
CAPABILITIES = 0x00     # 8, read-only
FCTL = 0x08             # 4
DDTP = 0x10             # 8
CQB = 0x18              # 8
CQH = 0x20              # 4, read-only
CQT = 0x24              # 4
FQB = 0x28              # 8
FQH = 0x30              # 4
FQT = 0x34              # 4, read-only
PQB = 0x38              # 8
PQH = 0x40              # 4
PQT = 0x44              # 4
CQCSR = 0x48            # 4
FQCSR = 0x4C            # 4
PQCSR = 0x50            # 4
IPSR = 0x54             # 4, write-one-to-clear
ICVEC = 0x2F8           # 8
REGISTER_SPACE = 0x1000

REGISTER_WIDTH = {CAPABILITIES: 8, FCTL: 4, DDTP: 8, CQB: 8, CQH: 4, CQT: 4, FQB: 8, FQH: 4,
                  FQT: 4, PQB: 8, PQH: 4, PQT: 4, CQCSR: 4, FQCSR: 4, PQCSR: 4, IPSR: 4, ICVEC: 8}

# -- capabilities ------------------------------------------------------------
CAP_VERSION_1_0 = 0x10
CAP_SV39X4 = 1 << 17
CAP_SV48X4 = 1 << 18
CAP_IGS_WSI = 1 << 28           # IGS = 1: wired interrupts only
CAP_PAS_SHIFT = 32
PAS_BITS = 56

# -- fctl --------------------------------------------------------------------
FCTL_BE = 1 << 0
FCTL_WSI = 1 << 1
FCTL_GXL = 1 << 2

# -- ddtp --------------------------------------------------------------------
MODE_OFF, MODE_BARE, MODE_1LVL, MODE_2LVL, MODE_3LVL = 0, 1, 2, 3, 4
DDTP_MODE_MASK = 0xF
DDTP_BUSY = 1 << 4
DDTP_PPN_SHIFT = 10
PPN_MASK = (1 << 44) - 1        # PPN[53:10] of ddtp, queue bases and PTEs

# -- queue base and control --------------------------------------------------
QB_LOG2SZ_MASK = 0x1F           # LOG2SZ-1
QCSR_EN = 1 << 0
QCSR_IE = 1 << 1
QCSR_MF = 1 << 8                # memory fault
CQCSR_CMD_TO = 1 << 9
CQCSR_CMD_ILL = 1 << 10
CQCSR_FENCE_W_IP = 1 << 11
FQCSR_OF = 1 << 9               # fault queue overflow
QCSR_ON = 1 << 16
QCSR_BUSY = 1 << 17

IPSR_CIP = 1 << 0
IPSR_FIP = 1 << 1
IPSR_PMIP = 1 << 2
IPSR_PIP = 1 << 3

COMMAND_SIZE = 16
FAULT_RECORD_SIZE = 32

# -- device directory --------------------------------------------------------
DDTE_V = 1 << 0                 # non-leaf DDT entry: V, PPN[53:10]
DC_SIZE = 32                    # base-format device context
TC_V = 1 << 0
TC_EN_ATS = 1 << 1
TC_EN_PRI = 1 << 2
TC_T2GPA = 1 << 3
TC_DTF = 1 << 4
TC_PDTV = 1 << 5
TC_PRPR = 1 << 6
TC_GADE = 1 << 7
TC_SADE = 1 << 8
TC_DPE = 1 << 9
TC_SBE = 1 << 10
TC_SXL = 1 << 11
TC_SUPPORTED = TC_V | TC_DTF    # the others need ATS, PRI, process contexts, A/D updates or big-endian

IOHGATP_MODE_SHIFT = 60
IOHGATP_GSCID_SHIFT = 44
GSCID_MASK = 0xFFFF
HGATP_BARE, HGATP_SV39X4, HGATP_SV48X4 = 0, 8, 9

# -- page-table entries (the G-stage's, as the hart's hgatp tables) ---------------
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = 1, 2, 4, 8, 16, 32, 64, 128
PTE_RESERVED = ((1 << 10) - 1) << 54     # N, PBMT and reserved: no Svnapot or Svpbmt here
PTE_PPN_SHIFT = 10

# -- commands ----------------------------------------------------------------
OP_IOTINVAL, OP_IOFENCE, OP_IODIR, OP_ATS = 1, 2, 3, 4
IOTINVAL_VMA, IOTINVAL_GVMA = 0, 1
IOFENCE_C = 0
IODIR_INVAL_DDT, IODIR_INVAL_PDT = 0, 1

# -- transaction types of a fault record ------------------------------------------
TTYP_NONE, TTYP_READ, TTYP_WRITE = 0, 2, 3     # untranslated read / write

# -- fault causes ------------------------------------------------------------
CAUSE_READ_ACCESS = 5
CAUSE_WRITE_ACCESS = 7
CAUSE_READ_GUEST_PAGE = 21
CAUSE_WRITE_GUEST_PAGE = 23
CAUSE_ALL_DISALLOWED = 256
CAUSE_DDT_LOAD_ACCESS = 257
CAUSE_DDT_INVALID = 258
CAUSE_DDT_MISCONFIGURED = 259
CAUSE_TTYPE_DISALLOWED = 260

CAUSE_NAMES = {
    CAUSE_READ_ACCESS: "read access fault",
    CAUSE_WRITE_ACCESS: "write access fault",
    CAUSE_READ_GUEST_PAGE: "read guest-page fault",
    CAUSE_WRITE_GUEST_PAGE: "write guest-page fault",
    CAUSE_ALL_DISALLOWED: "all inbound transactions disallowed",
    CAUSE_DDT_LOAD_ACCESS: "DDT entry load access fault",
    CAUSE_DDT_INVALID: "DDT entry not valid",
    CAUSE_DDT_MISCONFIGURED: "DDT entry misconfigured",
    CAUSE_TTYPE_DISALLOWED: "transaction type disallowed",
}
