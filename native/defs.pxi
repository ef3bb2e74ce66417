# Constants shared by the core's parts: op ids, causes, CSR numbers and bits,
# status codes, plus the few C helpers Cython cannot express (128-bit
# products, unaligned little-endian loads and stores).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int8_t, int16_t, int32_t, int64_t, uintptr_t
from libc.string cimport memset, memcpy
from libc.stdlib cimport calloc, free, abort

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <time.h>
    static inline uint64_t pyvmm_ld(const uint8_t *p, int size) {
        switch (size) {
        case 1: return p[0];
        case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
        case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
        default: { uint64_t v; memcpy(&v, p, 8); return v; }
        }
    }
    static inline void pyvmm_st(uint8_t *p, int size, uint64_t v) {
        switch (size) {
        case 1: p[0] = (uint8_t)v; break;
        case 2: { uint16_t w = (uint16_t)v; memcpy(p, &w, 2); break; }
        case 4: { uint32_t w = (uint32_t)v; memcpy(p, &w, 4); break; }
        default: memcpy(p, &v, 8); break;
        }
    }
    static inline uint16_t pyvmm_ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
    static inline uint64_t pyvmm_mulh(int64_t a, int64_t b) {
        return (uint64_t)(((__int128)a * (__int128)b) >> 64);
    }
    static inline uint64_t pyvmm_mulhu(uint64_t a, uint64_t b) {
        return (uint64_t)(((unsigned __int128)a * (unsigned __int128)b) >> 64);
    }
    static inline uint64_t pyvmm_mulhsu(int64_t a, uint64_t b) {
        return (uint64_t)(((__int128)a * (__int128)(unsigned __int128)b) >> 64);
    }
    static inline uint64_t pyvmm_host_ticks(void) {
        /* 10 MHz like QEMU's virt timebase */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100u;
    }
    static inline void pyvmm_sleep_ticks(uint64_t ticks) {
        struct timespec ts;
        ts.tv_sec = (time_t)(ticks / 10000000ull);
        ts.tv_nsec = (long)((ticks % 10000000ull) * 100u);
        nanosleep(&ts, NULL);
    }
    """
    uint64_t pyvmm_ld(const uint8_t* p, int size) nogil
    void pyvmm_st(uint8_t* p, int size, uint64_t v) nogil
    uint16_t pyvmm_ld16(const uint8_t* p) nogil
    uint64_t pyvmm_mulh(int64_t a, int64_t b) nogil
    uint64_t pyvmm_mulhu(uint64_t a, uint64_t b) nogil
    uint64_t pyvmm_mulhsu(int64_t a, uint64_t b) nogil
    uint64_t pyvmm_host_ticks() nogil
    void pyvmm_sleep_ticks(uint64_t ticks) nogil

# Exit reasons (docs/architecture.md section 2).
cdef enum:
    EXIT_NONE = 0
    EXIT_BUDGET_C = 1
    EXIT_MMIO_C = 2
    EXIT_TRAP_C = 3
    EXIT_WFI_C = 4
    EXIT_WATCH_C = 5
    EXIT_DEBUG_C = 6    # a debugger breakpoint or watchpoint

# Outcome of executing one instruction / one memory access.
cdef enum:
    ST_OK = 0           # retired
    ST_EXC = 1          # synchronous exception in h.exc_cause / h.exc_tval
    ST_EXIT_BEFORE = 2  # leave the loop without retiring (MMIO load, idle WFI)
    ST_EXIT_AFTER = 3   # retire, then leave the loop (MMIO store, watched store)
    ST_RETRY = 4        # neither retired nor trapped: execute the same instruction again

cdef enum:
    MMIO_IDLE = 0
    MMIO_LOAD_WAITING = 1
    MMIO_LOAD_COMPLETED = 2
    MMIO_LOAD_FAULTED = 3
    MMIO_STORE_DONE = 4
    MMIO_STORE_FAULTED = 5

cdef enum:
    CAUSE_FETCH_MISALIGNED = 0
    CAUSE_FETCH_ACCESS = 1
    CAUSE_ILLEGAL_INSN = 2
    CAUSE_BREAKPOINT = 3
    CAUSE_LOAD_MISALIGNED = 4
    CAUSE_LOAD_ACCESS = 5
    CAUSE_STORE_MISALIGNED = 6
    CAUSE_STORE_ACCESS = 7
    CAUSE_ECALL_U = 8
    CAUSE_ECALL_S = 9
    CAUSE_ECALL_VS = 10
    CAUSE_ECALL_M = 11
    CAUSE_FETCH_PAGE_FAULT = 12
    CAUSE_LOAD_PAGE_FAULT = 13
    CAUSE_STORE_PAGE_FAULT = 15
    CAUSE_FETCH_GUEST_PAGE_FAULT = 20
    CAUSE_LOAD_GUEST_PAGE_FAULT = 21
    CAUSE_VIRTUAL_INSN = 22
    CAUSE_STORE_GUEST_PAGE_FAULT = 23

# causes whose tval is an address (mstatus/hstatus.GVA says whether a guest virtual one)
cdef uint64_t ADDRESS_CAUSES = ((1ULL << 0) | (1ULL << 1) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6)
                                | (1ULL << 7) | (1ULL << 12) | (1ULL << 13) | (1ULL << 15)
                                | (1ULL << 20) | (1ULL << 21) | (1ULL << 23))

cdef enum:
    IRQ_SSI = 1
    IRQ_VSSI = 2
    IRQ_MSI = 3
    IRQ_STI = 5
    IRQ_VSTI = 6
    IRQ_MTI = 7
    IRQ_SEI = 9
    IRQ_VSEI = 10
    IRQ_MEI = 11
    IRQ_SGEI = 12

cdef uint64_t INTERRUPT_BIT = 1ULL << 63
cdef uint64_t NO_VPN = 0xFFFFFFFFFFFFFFFFULL
cdef uint64_t TLB_SLOW = 1ULL << 63
cdef uint64_t TLB_EMPTY = 0xFFFFFFFFFFFFFFFFULL
cdef uint64_t U64_MAX = 0xFFFFFFFFFFFFFFFFULL

# mstatus fields
cdef uint64_t MSTATUS_SIE = 1ULL << 1
cdef uint64_t MSTATUS_MIE = 1ULL << 3
cdef uint64_t MSTATUS_SPIE = 1ULL << 5
cdef uint64_t MSTATUS_MPIE = 1ULL << 7
cdef uint64_t MSTATUS_SPP = 1ULL << 8
cdef uint64_t MSTATUS_MPP = 3ULL << 11
cdef uint64_t MSTATUS_FS = 3ULL << 13     # the F/D state: Off, Initial, Clean, Dirty
cdef uint64_t MSTATUS_MPRV = 1ULL << 17
cdef uint64_t MSTATUS_SUM = 1ULL << 18
cdef uint64_t MSTATUS_MXR = 1ULL << 19
cdef uint64_t MSTATUS_TVM = 1ULL << 20
cdef uint64_t MSTATUS_TW = 1ULL << 21
cdef uint64_t MSTATUS_TSR = 1ULL << 22
cdef uint64_t MSTATUS_UXL = 3ULL << 32
cdef uint64_t MSTATUS_SXL = 3ULL << 34
cdef uint64_t MSTATUS_GVA = 1ULL << 38
cdef uint64_t MSTATUS_MPV = 1ULL << 39
cdef uint64_t MSTATUS_WRITABLE = ((1ULL << 1) | (1ULL << 3) | (1ULL << 5) | (1ULL << 7) | (1ULL << 8)
                                  | (3ULL << 11) | (3ULL << 13) | (1ULL << 17) | (1ULL << 18) | (1ULL << 19)
                                  | (1ULL << 20) | (1ULL << 21) | (1ULL << 22)
                                  | (1ULL << 38) | (1ULL << 39))
cdef uint64_t SSTATUS_WRITABLE = (1ULL << 1) | (1ULL << 5) | (1ULL << 8) | (3ULL << 13) | (1ULL << 18) | (1ULL << 19)
cdef uint64_t SSTATUS_READABLE = SSTATUS_WRITABLE | (3ULL << 13) | (3ULL << 15) | (3ULL << 32) | (1ULL << 63)

# interrupt-pending/enable bits
cdef uint64_t MIP_SSIP = 1ULL << 1
cdef uint64_t MIP_MSIP = 1ULL << 3
cdef uint64_t MIP_STIP = 1ULL << 5
cdef uint64_t MIP_MTIP = 1ULL << 7
cdef uint64_t MIP_SEIP = 1ULL << 9
cdef uint64_t MIP_MEIP = 1ULL << 11
cdef uint64_t MIP_VSSIP = 1ULL << 2
cdef uint64_t MIP_VSTIP = 1ULL << 6
cdef uint64_t MIP_VSEIP = 1ULL << 10
cdef uint64_t MIP_SGEIP = 1ULL << 12
cdef uint64_t S_INTERRUPTS = (1ULL << 1) | (1ULL << 5) | (1ULL << 9)
cdef uint64_t VS_INTERRUPTS = (1ULL << 2) | (1ULL << 6) | (1ULL << 10)
# mideleg bits the H extension makes read-only one (as QEMU 7.2: VS and SGEI)
cdef uint64_t HS_FORCED_DELEG = VS_INTERRUPTS | MIP_SGEIP
cdef uint64_t ALL_INTERRUPTS = 0xAAAULL | VS_INTERRUPTS | MIP_SGEIP
# exceptions medeleg can hand to S: all but ecall-from-M and the reserved codes
cdef uint64_t DELEGABLE_EXCEPTIONS = 0xB3FFULL | (1ULL << 10) | (0xFULL << 20)
# exceptions hedeleg can hand on to VS: not ecalls from HS/VS/M nor guest-page faults / virtual instruction
cdef uint64_t VS_DELEGABLE_EXCEPTIONS = 0xB1FFULL

# hstatus fields
cdef uint64_t HSTATUS_GVA = 1ULL << 6
cdef uint64_t HSTATUS_SPV = 1ULL << 7
cdef uint64_t HSTATUS_SPVP = 1ULL << 8
cdef uint64_t HSTATUS_HU = 1ULL << 9
cdef uint64_t HSTATUS_VTVM = 1ULL << 20
cdef uint64_t HSTATUS_VTW = 1ULL << 21
cdef uint64_t HSTATUS_VTSR = 1ULL << 22
cdef uint64_t HSTATUS_VSXL = 3ULL << 32
cdef uint64_t HSTATUS_WRITABLE = ((1ULL << 6) | (1ULL << 7) | (1ULL << 8) | (1ULL << 9)
                                  | (1ULL << 20) | (1ULL << 21) | (1ULL << 22))
cdef uint64_t HGATP_VMID_SHIFT = 44
cdef uint64_t HGATP_VMID_MASK = (1ULL << 14) - 1
# htinst for a guest-page fault during the VS-stage walk (implicit access): a
# pseudo-instruction, 64-bit read (0x3000) or write (0x3020) of the PTE
cdef uint64_t HTINST_PTE_READ = 0x3000
cdef uint64_t HTINST_PTE_WRITE = 0x3020

cdef uint64_t MENVCFG_STCE = 1ULL << 63
# STCE, FIOM and the Zicbom/Zicboz enables CBZE, CBCFE, CBIE (bits 7:4)
cdef uint64_t MENVCFG_WRITABLE = (1ULL << 63) | 0xF1ULL
cdef uint64_t HENVCFG_WRITABLE = (1ULL << 63) | 0xF1ULL
cdef uint64_t SENVCFG_WRITABLE = 0xF1ULL

# misa: RV64 (MXL=2) A C D F H I M S U
cdef uint64_t MISA_VALUE = ((2ULL << 62) | (1ULL << 0) | (1ULL << 2) | (1ULL << 3) | (1ULL << 5)
                            | (1ULL << 7) | (1ULL << 8) | (1ULL << 12) | (1ULL << 18) | (1ULL << 20))

# page-table entry bits
cdef uint64_t PTE_V = 1
cdef uint64_t PTE_R = 2
cdef uint64_t PTE_W = 4
cdef uint64_t PTE_X = 8
cdef uint64_t PTE_U = 16
cdef uint64_t PTE_G = 32
cdef uint64_t PTE_A = 64
cdef uint64_t PTE_D = 128
cdef uint64_t PTE_HIGH_BITS = 0xFFC0000000000000ULL   # N, PBMT and reserved: must be zero
cdef uint64_t PPN_MASK = (1ULL << 44) - 1

cdef enum:
    SATP_MODE_BARE = 0
    SATP_MODE_SV39 = 8
    SATP_MODE_SV48 = 9
    SATP_MODE_SV57 = 10
    HGATP_MODE_SV39X4 = 8
    HGATP_MODE_SV48X4 = 9
    HGATP_MODE_SV57X4 = 10

cdef enum:
    CLINT_BASE = 0x2000000
    CLINT_SIZE = 0x10000
    CLINT_MTIMECMP = 0x4000
    CLINT_MTIME = 0xBFF8

# mcountinhibit bits we honour
cdef enum:
    NUM_PMP = 16

# Decoded operations. Compressed instructions decode to the same ids.
cdef enum:
    OP_NONE = 0
    OP_ILLEGAL
    OP_LUI
    OP_AUIPC
    OP_JAL
    OP_JALR
    OP_BEQ
    OP_BNE
    OP_BLT
    OP_BGE
    OP_BLTU
    OP_BGEU
    OP_LB
    OP_LH
    OP_LW
    OP_LD
    OP_LBU
    OP_LHU
    OP_LWU
    OP_SB
    OP_SH
    OP_SW
    OP_SD
    OP_ADDI
    OP_SLTI
    OP_SLTIU
    OP_XORI
    OP_ORI
    OP_ANDI
    OP_SLLI
    OP_SRLI
    OP_SRAI
    OP_ADD
    OP_SUB
    OP_SLL
    OP_SLT
    OP_SLTU
    OP_XOR
    OP_SRL
    OP_SRA
    OP_OR
    OP_AND
    OP_ADDIW
    OP_SLLIW
    OP_SRLIW
    OP_SRAIW
    OP_ADDW
    OP_SUBW
    OP_SLLW
    OP_SRLW
    OP_SRAW
    OP_MUL
    OP_MULH
    OP_MULHSU
    OP_MULHU
    OP_DIV
    OP_DIVU
    OP_REM
    OP_REMU
    OP_MULW
    OP_DIVW
    OP_DIVUW
    OP_REMW
    OP_REMUW
    OP_LR_W
    OP_LR_D
    OP_SC_W
    OP_SC_D
    OP_AMO_W            # imm = funct5
    OP_AMO_D
    OP_FENCE            # fence and fence.i
    OP_ECALL
    OP_EBREAK
    OP_MRET
    OP_SRET
    OP_WFI
    OP_SFENCE_VMA
    OP_CSRRW
    OP_CSRRS
    OP_CSRRC
    OP_CSRRWI
    OP_CSRRSI
    OP_CSRRCI
    OP_HLV              # imm = log2(size) | 4 if sign-extended | 8 if HLVX
    OP_HSV              # imm = log2(size)
    OP_HFENCE_VVMA
    OP_HFENCE_GVMA
    OP_FLW
    OP_FLD
    OP_FSW
    OP_FSD
    OP_FP               # every other F/D instruction: imm = (FK_* << 1) | is_double; the fused multiply-adds take rs3 from raw bits 31:27
    OP_COUNT

# What an OP_FP instruction does (imm >> 1). The first nine are the rounded
# arithmetic operations in the order of fpu.pxi's PYVMM_FADD..PYVMM_FNMADD;
# up to FK_LAST_ROUNDED the instruction has an rm field.
cdef enum:
    FK_FADD = 0
    FK_FSUB = 1
    FK_FMUL = 2
    FK_FDIV = 3
    FK_FSQRT = 4
    FK_FMADD = 5
    FK_FMSUB = 6
    FK_FNMSUB = 7
    FK_FNMADD = 8
    FK_FCVT_INT_FROM_FP = 9     # fcvt.{w,wu,l,lu}.{s,d}: rs2 is the integer kind
    FK_FCVT_FP_FROM_INT = 10    # fcvt.{s,d}.{w,wu,l,lu}
    FK_FCVT_FP_FROM_FP = 11     # fcvt.s.d, fcvt.d.s (the precision bit is the result's)
    FK_LAST_ROUNDED = 11
    FK_FSGNJ = 12               # funct3: 0 fsgnj, 1 fsgnjn, 2 fsgnjx
    FK_FMINMAX = 13             # funct3: 0 fmin, 1 fmax
    FK_FCMP = 14                # funct3: 0 fle, 1 flt, 2 feq
    FK_FCLASS = 15
    FK_FMV_X_F = 16             # fmv.x.w, fmv.x.d
    FK_FMV_F_X = 17             # fmv.w.x, fmv.d.x

# AMO funct5 values
cdef enum:
    AMO_ADD = 0x00
    AMO_SWAP = 0x01
    AMO_XOR = 0x04
    AMO_OR = 0x08
    AMO_AND = 0x0C
    AMO_MIN = 0x10
    AMO_MAX = 0x14
    AMO_MINU = 0x18
    AMO_MAXU = 0x1C
