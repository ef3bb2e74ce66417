# Instruction decode: 32-bit words and compressed (RV64C) parcels into DecodedInsn.
# Compressed forms expand to the op of their 32-bit equivalent; reserved
# encodings decode to OP_ILLEGAL, as QEMU 7.2's decoder does.

cdef inline uint8_t reg_dest(uint32_t r) noexcept nogil:
    # writes to x0 land in the sink register 32
    return <uint8_t>(r if r != 0 else 32)


cdef inline bint fp_writes_f(int kind) noexcept nogil:
    # OP-FP instructions whose rd is an f register (the rest write an x register)
    return not (kind == FK_FCVT_INT_FROM_FP or kind == FK_FCMP or kind == FK_FCLASS or kind == FK_FMV_X_F)


cdef int32_t decode_op_fp(uint32_t f7, uint32_t f3, uint32_t rs2) noexcept nogil:
    # the OP-FP major opcode: (FK_* << 1) | is_double, or -1 when reserved.
    # funct7's low two bits are the format (S = 0, D = 1); funct3 is the rm
    # field of the rounded operations, checked when they execute.
    cdef int dbl = <int>(f7 & 1)
    cdef uint32_t g = f7 >> 2
    cdef int kind = -1
    if (f7 & 3) >= 2:
        return -1
    if g <= 3:
        kind = FK_FADD + <int>g             # fadd fsub fmul fdiv
    elif g == 0x0B:
        if rs2 == 0:
            kind = FK_FSQRT
    elif g == 0x04:
        if f3 <= 2:
            kind = FK_FSGNJ
    elif g == 0x05:
        if f3 <= 1:
            kind = FK_FMINMAX
    elif g == 0x08:
        # fcvt.s.d (f7 0x20, rs2 1) and fcvt.d.s (f7 0x21, rs2 0)
        if rs2 == (1 - <uint32_t>dbl):
            kind = FK_FCVT_FP_FROM_FP
    elif g == 0x14:
        if f3 <= 2:
            kind = FK_FCMP
    elif g == 0x18:
        if rs2 <= 3:
            kind = FK_FCVT_INT_FROM_FP
    elif g == 0x1A:
        if rs2 <= 3:
            kind = FK_FCVT_FP_FROM_INT
    elif g == 0x1C:
        if rs2 == 0 and f3 == 0:
            kind = FK_FMV_X_F
        elif rs2 == 0 and f3 == 1:
            kind = FK_FCLASS
    elif g == 0x1E:
        if rs2 == 0 and f3 == 0:
            kind = FK_FMV_F_X
    if kind < 0:
        return -1
    return <int32_t>((kind << 1) | dbl)


cdef void decode32(uint32_t w, DecodedInsn* d) noexcept nogil:
    cdef uint32_t opcode = w & 0x7F
    cdef uint32_t rd = (w >> 7) & 31
    cdef uint32_t f3 = (w >> 12) & 7
    cdef uint32_t rs1 = (w >> 15) & 31
    cdef uint32_t rs2 = (w >> 20) & 31
    cdef uint32_t f7 = w >> 25
    cdef int32_t sw = <int32_t>w
    cdef int32_t i_imm = sw >> 20
    cdef int32_t s_imm = <int32_t>(((sw >> 25) << 5) | <int32_t>((w >> 7) & 31))
    cdef int32_t b_imm = <int32_t>(((sw >> 31) << 12) | <int32_t>(((w >> 7) & 1) << 11)
                                   | <int32_t>(((w >> 25) & 0x3F) << 5) | <int32_t>(((w >> 8) & 0xF) << 1))
    cdef int32_t u_imm = <int32_t>(w & 0xFFFFF000U)
    cdef int32_t j_imm = <int32_t>(((sw >> 31) << 20) | <int32_t>(((w >> 12) & 0xFF) << 12)
                                   | <int32_t>(((w >> 20) & 1) << 11) | <int32_t>(((w >> 21) & 0x3FF) << 1))
    cdef int op = OP_ILLEGAL
    cdef int32_t imm = 0
    cdef uint32_t shamt
    cdef bint frd = False          # rd names an f register (f0 is a register, not a sink)

    if opcode == 0x37:
        op = OP_LUI
        imm = u_imm
    elif opcode == 0x17:
        op = OP_AUIPC
        imm = u_imm
    elif opcode == 0x6F:
        op = OP_JAL
        imm = j_imm
    elif opcode == 0x67:
        if f3 == 0:
            op = OP_JALR
            imm = i_imm
    elif opcode == 0x63:
        imm = b_imm
        if f3 == 0:
            op = OP_BEQ
        elif f3 == 1:
            op = OP_BNE
        elif f3 == 4:
            op = OP_BLT
        elif f3 == 5:
            op = OP_BGE
        elif f3 == 6:
            op = OP_BLTU
        elif f3 == 7:
            op = OP_BGEU
    elif opcode == 0x03:
        imm = i_imm
        if f3 == 0:
            op = OP_LB
        elif f3 == 1:
            op = OP_LH
        elif f3 == 2:
            op = OP_LW
        elif f3 == 3:
            op = OP_LD
        elif f3 == 4:
            op = OP_LBU
        elif f3 == 5:
            op = OP_LHU
        elif f3 == 6:
            op = OP_LWU
    elif opcode == 0x23:
        imm = s_imm
        if f3 == 0:
            op = OP_SB
        elif f3 == 1:
            op = OP_SH
        elif f3 == 2:
            op = OP_SW
        elif f3 == 3:
            op = OP_SD
    elif opcode == 0x13:
        imm = i_imm
        if f3 == 0:
            op = OP_ADDI
        elif f3 == 2:
            op = OP_SLTI
        elif f3 == 3:
            op = OP_SLTIU
        elif f3 == 4:
            op = OP_XORI
        elif f3 == 6:
            op = OP_ORI
        elif f3 == 7:
            op = OP_ANDI
        else:
            shamt = (w >> 20) & 0x3F
            imm = <int32_t>shamt
            if f3 == 1:
                if (w >> 26) == 0:
                    op = OP_SLLI
            elif (w >> 26) == 0:
                op = OP_SRLI
            elif (w >> 26) == 0x10:
                op = OP_SRAI
    elif opcode == 0x1B:
        if f3 == 0:
            op = OP_ADDIW
            imm = i_imm
        else:
            imm = <int32_t>rs2
            if f3 == 1:
                if f7 == 0:
                    op = OP_SLLIW
            elif f3 == 5:
                if f7 == 0:
                    op = OP_SRLIW
                elif f7 == 0x20:
                    op = OP_SRAIW
    elif opcode == 0x33:
        if f7 == 0:
            if f3 == 0:
                op = OP_ADD
            elif f3 == 1:
                op = OP_SLL
            elif f3 == 2:
                op = OP_SLT
            elif f3 == 3:
                op = OP_SLTU
            elif f3 == 4:
                op = OP_XOR
            elif f3 == 5:
                op = OP_SRL
            elif f3 == 6:
                op = OP_OR
            else:
                op = OP_AND
        elif f7 == 0x20:
            if f3 == 0:
                op = OP_SUB
            elif f3 == 5:
                op = OP_SRA
        elif f7 == 1:
            if f3 == 0:
                op = OP_MUL
            elif f3 == 1:
                op = OP_MULH
            elif f3 == 2:
                op = OP_MULHSU
            elif f3 == 3:
                op = OP_MULHU
            elif f3 == 4:
                op = OP_DIV
            elif f3 == 5:
                op = OP_DIVU
            elif f3 == 6:
                op = OP_REM
            else:
                op = OP_REMU
    elif opcode == 0x3B:
        if f7 == 0:
            if f3 == 0:
                op = OP_ADDW
            elif f3 == 1:
                op = OP_SLLW
            elif f3 == 5:
                op = OP_SRLW
        elif f7 == 0x20:
            if f3 == 0:
                op = OP_SUBW
            elif f3 == 5:
                op = OP_SRAW
        elif f7 == 1:
            if f3 == 0:
                op = OP_MULW
            elif f3 == 4:
                op = OP_DIVW
            elif f3 == 5:
                op = OP_DIVUW
            elif f3 == 6:
                op = OP_REMW
            elif f3 == 7:
                op = OP_REMUW
    elif opcode == 0x2F:
        if f3 == 2 or f3 == 3:
            imm = <int32_t>(w >> 27)
            if imm == 0x02:
                if rs2 == 0:
                    op = OP_LR_W if f3 == 2 else OP_LR_D
            elif imm == 0x03:
                op = OP_SC_W if f3 == 2 else OP_SC_D
            elif (imm == AMO_ADD or imm == AMO_SWAP or imm == AMO_XOR or imm == AMO_OR
                  or imm == AMO_AND or imm == AMO_MIN or imm == AMO_MAX or imm == AMO_MINU
                  or imm == AMO_MAXU):
                op = OP_AMO_W if f3 == 2 else OP_AMO_D
    elif opcode == 0x07 or opcode == 0x27:
        # flw/fld (I-type) and fsw/fsd (S-type); rd is an f register, f0 included
        if f3 == 2 or f3 == 3:
            if opcode == 0x07:
                op = OP_FLW if f3 == 2 else OP_FLD
                imm = i_imm
                frd = True
            else:
                op = OP_FSW if f3 == 2 else OP_FSD
                imm = s_imm
    elif opcode == 0x43 or opcode == 0x47 or opcode == 0x4B or opcode == 0x4F:
        # fmadd fmsub fnmsub fnmadd: fmt (bits 26:25) S or D, rs3 in bits 31:27
        if (f7 & 3) < 2:
            op = OP_FP
            imm = <int32_t>(((FK_FMADD + <int>((opcode - 0x43) >> 2)) << 1) | <int>(f7 & 1))
            frd = True
    elif opcode == 0x53:
        imm = decode_op_fp(f7, f3, rs2)
        if imm >= 0:
            op = OP_FP
            frd = fp_writes_f(imm >> 1)
    elif opcode == 0x0F:
        # fence.i orders nothing the core has not already made coherent: every
        # store, by any hart, drops the decoded instructions it overwrites
        # (invalidate_code_all), as QEMU drops translated blocks on a write to
        # their page. So it runs as a fence, inside the fast run.
        if f3 == 0 or f3 == 1:
            op = OP_FENCE
    elif opcode == 0x73:
        if f3 == 0:
            if w == 0x00000073:
                op = OP_ECALL
            elif w == 0x00100073:
                op = OP_EBREAK
            elif w == 0x30200073:
                op = OP_MRET
            elif w == 0x10200073:
                op = OP_SRET
            elif w == 0x10500073:
                op = OP_WFI
            elif f7 == 0x09 and rd == 0:
                op = OP_SFENCE_VMA
            elif f7 == 0x11 and rd == 0:
                op = OP_HFENCE_VVMA
            elif f7 == 0x31 and rd == 0:
                op = OP_HFENCE_GVMA
        elif f3 == 4:
            # HLV/HLVX (even funct7) and HSV (odd): funct7 bits 2:1 give the size
            if f7 >= 0x30 and f7 <= 0x37:
                shamt = (f7 >> 1) & 3           # log2 of the size
                if f7 & 1:
                    if rd == 0:
                        op = OP_HSV
                        imm = <int32_t>shamt
                elif rs2 == 0:
                    op = OP_HLV
                    imm = <int32_t>(shamt | (4 if shamt < 3 else 0))
                elif rs2 == 1 and shamt < 3:
                    op = OP_HLV
                    imm = <int32_t>shamt
                elif rs2 == 3 and (shamt == 1 or shamt == 2):
                    op = OP_HLV
                    imm = <int32_t>(shamt | 8)
        else:
            imm = <int32_t>(w >> 20)
            if f3 == 1:
                op = OP_CSRRW
            elif f3 == 2:
                op = OP_CSRRS
            elif f3 == 3:
                op = OP_CSRRC
            elif f3 == 5:
                op = OP_CSRRWI
            elif f3 == 6:
                op = OP_CSRRSI
            else:
                op = OP_CSRRCI

    if op == OP_ILLEGAL:
        op = decode_bitmanip(w, &imm)

    d.op = <uint8_t>op
    d.rd = <uint8_t>rd if frd else reg_dest(rd)
    d.rs1 = <uint8_t>rs1
    d.rs2 = <uint8_t>rs2
    d.dispatch = <uint16_t>(op | 256)
    d.raw = w
    d.imm = imm


cdef inline int32_t sext(uint32_t value, int bits) noexcept nogil:
    return (<int32_t>(value << (32 - bits))) >> (32 - bits)


cdef void decode16(uint32_t w, DecodedInsn* d) noexcept nogil:
    cdef uint32_t quadrant = w & 3
    cdef uint32_t f3 = (w >> 13) & 7
    cdef uint32_t rd = (w >> 7) & 31          # also rs1 in most forms
    cdef uint32_t rs2 = (w >> 2) & 31
    cdef uint32_t rdp = 8 + ((w >> 2) & 7)    # rd' / rs2'
    cdef uint32_t rs1p = 8 + ((w >> 7) & 7)   # rs1' / rd'
    cdef int op = OP_ILLEGAL
    cdef uint32_t o_rd = 0
    cdef uint32_t o_rs1 = 0
    cdef uint32_t o_rs2 = 0
    cdef int32_t imm = 0
    cdef uint32_t u
    cdef uint32_t b12 = (w >> 12) & 1
    cdef uint32_t f2
    cdef bint frd = False

    if quadrant == 0:
        if f3 == 0:
            u = (((w >> 11) & 3) << 4) | (((w >> 7) & 0xF) << 6) | (((w >> 6) & 1) << 2) | (((w >> 5) & 1) << 3)
            if u != 0:
                op = OP_ADDI
                o_rd = rdp
                o_rs1 = 2
                imm = <int32_t>u
        elif f3 == 1 or f3 == 5:
            # c.fld / c.fsd: c.ld's layout with an f register
            imm = <int32_t>((((w >> 10) & 7) << 3) | (((w >> 5) & 3) << 6))
            o_rs1 = rs1p
            if f3 == 1:
                op = OP_FLD
                o_rd = rdp
                frd = True
            else:
                op = OP_FSD
                o_rs2 = rdp
        elif f3 == 2 or f3 == 6:
            u = (((w >> 10) & 7) << 3) | (((w >> 6) & 1) << 2) | (((w >> 5) & 1) << 6)
            imm = <int32_t>u
            o_rs1 = rs1p
            if f3 == 2:
                op = OP_LW
                o_rd = rdp
            else:
                op = OP_SW
                o_rs2 = rdp
        elif f3 == 3 or f3 == 7:
            u = (((w >> 10) & 7) << 3) | (((w >> 5) & 3) << 6)
            imm = <int32_t>u
            o_rs1 = rs1p
            if f3 == 3:
                op = OP_LD
                o_rd = rdp
            else:
                op = OP_SD
                o_rs2 = rdp
    elif quadrant == 1:
        if f3 == 0 or f3 == 1 or f3 == 2:
            imm = sext((b12 << 5) | rs2, 6)
            o_rd = rd
            o_rs1 = rd
            if f3 == 0:
                op = OP_ADDI
            elif f3 == 1:
                if rd != 0:
                    op = OP_ADDIW
            else:
                op = OP_ADDI
                o_rs1 = 0
        elif f3 == 3:
            if rd == 2:
                u = ((b12 << 9) | (((w >> 6) & 1) << 4) | (((w >> 5) & 1) << 6)
                     | (((w >> 3) & 3) << 7) | (((w >> 2) & 1) << 5))
                if u != 0:
                    op = OP_ADDI
                    o_rd = 2
                    o_rs1 = 2
                    imm = sext(u, 10)
            else:
                u = (b12 << 17) | (rs2 << 12)
                if u != 0:
                    op = OP_LUI
                    o_rd = rd
                    imm = sext(u, 18)
        elif f3 == 4:
            f2 = (w >> 10) & 3
            o_rd = rs1p
            o_rs1 = rs1p
            if f2 == 0 or f2 == 1:
                imm = <int32_t>((b12 << 5) | rs2)
                op = OP_SRLI if f2 == 0 else OP_SRAI
            elif f2 == 2:
                imm = sext((b12 << 5) | rs2, 6)
                op = OP_ANDI
            else:
                o_rs2 = rdp
                f2 = (w >> 5) & 3
                if b12 == 0:
                    if f2 == 0:
                        op = OP_SUB
                    elif f2 == 1:
                        op = OP_XOR
                    elif f2 == 2:
                        op = OP_OR
                    else:
                        op = OP_AND
                else:
                    if f2 == 0:
                        op = OP_SUBW
                    elif f2 == 1:
                        op = OP_ADDW
        elif f3 == 5:
            u = ((b12 << 11) | (((w >> 11) & 1) << 4) | (((w >> 9) & 3) << 8) | (((w >> 8) & 1) << 10)
                 | (((w >> 7) & 1) << 6) | (((w >> 6) & 1) << 7) | (((w >> 3) & 7) << 1) | (((w >> 2) & 1) << 5))
            op = OP_JAL
            o_rd = 0
            imm = sext(u, 12)
        else:
            u = ((b12 << 8) | (((w >> 10) & 3) << 3) | (((w >> 5) & 3) << 6) | (((w >> 3) & 3) << 1)
                 | (((w >> 2) & 1) << 5))
            op = OP_BEQ if f3 == 6 else OP_BNE
            o_rs1 = rs1p
            o_rs2 = 0
            imm = sext(u, 9)
    elif quadrant == 2:
        if f3 == 0:
            op = OP_SLLI
            o_rd = rd
            o_rs1 = rd
            imm = <int32_t>((b12 << 5) | rs2)
        elif f3 == 1:
            # c.fldsp: any f register, f0 included
            op = OP_FLD
            o_rd = rd
            o_rs1 = 2
            frd = True
            imm = <int32_t>((b12 << 5) | (((w >> 5) & 3) << 3) | (((w >> 2) & 7) << 6))
        elif f3 == 5:
            # c.fsdsp
            op = OP_FSD
            o_rs1 = 2
            o_rs2 = rs2
            imm = <int32_t>((((w >> 10) & 7) << 3) | (((w >> 7) & 7) << 6))
        elif f3 == 2:
            if rd != 0:
                op = OP_LW
                o_rd = rd
                o_rs1 = 2
                imm = <int32_t>((b12 << 5) | (((w >> 4) & 7) << 2) | (((w >> 2) & 3) << 6))
        elif f3 == 3:
            if rd != 0:
                op = OP_LD
                o_rd = rd
                o_rs1 = 2
                imm = <int32_t>((b12 << 5) | (((w >> 5) & 3) << 3) | (((w >> 2) & 7) << 6))
        elif f3 == 4:
            if b12 == 0:
                if rs2 == 0:
                    if rd != 0:
                        op = OP_JALR
                        o_rd = 0
                        o_rs1 = rd
                else:
                    op = OP_ADD
                    o_rd = rd
                    o_rs1 = 0
                    o_rs2 = rs2
            else:
                if rs2 == 0:
                    if rd == 0:
                        op = OP_EBREAK
                    else:
                        op = OP_JALR
                        o_rd = 1
                        o_rs1 = rd
                else:
                    op = OP_ADD
                    o_rd = rd
                    o_rs1 = rd
                    o_rs2 = rs2
        elif f3 == 6:
            op = OP_SW
            o_rs1 = 2
            o_rs2 = rs2
            imm = <int32_t>((((w >> 9) & 0xF) << 2) | (((w >> 7) & 3) << 6))
        elif f3 == 7:
            op = OP_SD
            o_rs1 = 2
            o_rs2 = rs2
            imm = <int32_t>((((w >> 10) & 7) << 3) | (((w >> 7) & 7) << 6))

    d.op = <uint8_t>op
    d.rd = <uint8_t>o_rd if frd else reg_dest(o_rd)
    d.rs1 = <uint8_t>o_rs1
    d.rs2 = <uint8_t>o_rs2
    d.dispatch = <uint16_t>op
    d.raw = w & 0xFFFF
    d.imm = imm


# Dispatch-only ops: decode_run gives a slot one of these as its dispatch
# (never as its op) when the fast run can take a cheaper path for it. A
# branch or jal whose target is on its own page moves straight to the
# target's slot, with no page check.
cdef enum:
    OP_JAL_NEAR = OP_DECODED_COUNT
    OP_BEQ_NEAR             # BEQ .. BGEU in their order
    OP_BNE_NEAR
    OP_BLT_NEAR
    OP_BGE_NEAR
    OP_BLTU_NEAR
    OP_BGEU_NEAR
    OP_ADDI_F             # rs1 is the result of the instruction before, in the fast run's register
    OP_ADDIW_F
    OP_ADD_F
    OP_ADDW_F
    OP_XOR_F
    OP_SLLI_F
    OP_SRLI_F
    OP_ANDI_F
    OP_SLLIW_F
    OP_MUL_F
    OP_LD_F
    OP_LW_F
    OP_LBU_F
    OP_BNE_NEAR_F
    OP_BEQ_NEAR_F
    OP_BLTU_NEAR_F
    OP_BGEU_NEAR_F
    OP_SB_F
    OP_SW_F
    OP_SD_F
    OP_BLT_NEAR_R           # rs1 and rs2 trade places in the slot, so rs1 is the forwarded one
    OP_BGE_NEAR_R
    OP_BLTU_NEAR_R
    OP_BGEU_NEAR_R
    OP_SLLI_SRLI            # fused pairs: the slot's instruction and the next one, whose rs1 is its result
    OP_AUIPC_ADDI
    OP_LUI_ADDI
    OP_LUI_ADDIW
    OP_ADD_SRLI
    OP_SRLI_ADD
    OP_ADDI_BNE             # the second a near bne whose rs1 is the first's result
    OP_ADDIW_BNE
    OP_ADD_LW               # the second a load whose base is the first's result
    OP_ADD_LD
    OP_ADDI_ADD
    OP_MUL_ADD
    OP_XOR_ADD
    OP_ADDW_BLTU
    OP_ADDI_BEQ
    OP_LBU_BEQ
    OP_ADD_SB               # the second a store whose base is the first's result
    OP_ADD_SD
    OP_DISPATCH_END         # at most 256: a dispatch index is op + 256 for a 4-byte instruction


cdef inline bint sets_forward(int op) noexcept nogil:
    # the fast run's handler for op leaves its result in the forwarding register
    return (op == OP_ADDI or op == OP_ADDIW or op == OP_ADD or op == OP_XOR or op == OP_SLLI
            or op == OP_SRLI or op == OP_ANDI or op == OP_LD or op == OP_LW or op == OP_LBU
            or op == OP_SUB or op == OP_OR or op == OP_AND or op == OP_ADDW or op == OP_SUBW
            or op == OP_SLLIW or op == OP_SRLIW or op == OP_SRAI or op == OP_MUL or op == OP_LUI
            or op == OP_AUIPC or op == OP_XORI or op == OP_ORI or op == OP_LWU or op == OP_LB
            or op == OP_LH or op == OP_LHU or op == OP_SLTU or op == OP_SLT)


cdef inline int forwarded_op(int op) noexcept nogil:
    # the dispatch-only op taking rs1 from the forwarding register (0: none)
    if op == OP_ADDI:
        return OP_ADDI_F
    if op == OP_ADDIW:
        return OP_ADDIW_F
    if op == OP_ADD:
        return OP_ADD_F
    if op == OP_ADDW:
        return OP_ADDW_F
    if op == OP_XOR:
        return OP_XOR_F
    if op == OP_SLLI:
        return OP_SLLI_F
    if op == OP_SRLI:
        return OP_SRLI_F
    if op == OP_ANDI:
        return OP_ANDI_F
    if op == OP_SLLIW:
        return OP_SLLIW_F
    if op == OP_MUL:
        return OP_MUL_F
    if op == OP_LD:
        return OP_LD_F
    if op == OP_LW:
        return OP_LW_F
    if op == OP_LBU:
        return OP_LBU_F
    if op == OP_BNE_NEAR:
        return OP_BNE_NEAR_F
    if op == OP_BEQ_NEAR:
        return OP_BEQ_NEAR_F
    if op == OP_BLTU_NEAR:
        return OP_BLTU_NEAR_F
    if op == OP_BGEU_NEAR:
        return OP_BGEU_NEAR_F
    if op == OP_SB:
        return OP_SB_F
    if op == OP_SW:
        return OP_SW_F
    if op == OP_SD:
        return OP_SD_F
    return 0


cdef inline bint commutes(int op) noexcept nogil:
    # rs1 and rs2 may trade places
    return (op == OP_ADD or op == OP_ADDW or op == OP_XOR or op == OP_MUL or op == OP_BEQ
            or op == OP_BNE)


cdef inline bint forwards_to(DecodedInsn* prev, DecodedInsn* d) noexcept nogil:
    # d, run right after prev, reads prev's result as its rs1
    return prev != NULL and prev.rd != 32 and sets_forward(prev.op) and prev.rd == d.rs1


cdef void choose_dispatch(DecodedInsn* d, uint64_t slot, DecodedInsn* prev) noexcept nogil:
    # the dispatch for the instruction in slot `slot` of its page, run right
    # after prev (NULL: only ever entered by a jump): a near branch when its
    # target is on the page, a forwarded op when it reads prev's result
    cdef int64_t target
    cdef int base = d.op
    cdef int fop
    cdef uint8_t r
    if (d.dispatch & 255) >= OP_BLT_NEAR_R and (d.dispatch & 255) <= OP_BGEU_NEAR_R:
        # back to the branch's own order of sources
        r = d.rs1
        d.rs1 = d.rs2
        d.rs2 = r
    if d.op == OP_JAL or (d.op >= OP_BEQ and d.op <= OP_BGEU):
        target = <int64_t>(slot * 2) + d.imm
        if target >= 0 and target < 4096:
            base = OP_JAL_NEAR if d.op == OP_JAL else OP_BEQ_NEAR + (d.op - OP_BEQ)
    fop = forwarded_op(base)
    if fop and prev != NULL and not forwards_to(prev, d) and commutes(d.op) and d.rs2 != d.rs1:
        r = d.rs1
        d.rs1 = d.rs2
        d.rs2 = r
    if fop and forwards_to(prev, d):
        base = fop
    elif (base >= OP_BLT_NEAR and base <= OP_BGEU_NEAR and prev != NULL and prev.rd != 32
          and sets_forward(prev.op) and prev.rd == d.rs2 and d.rs1 != d.rs2):
        # the result of the instruction before is the second operand
        r = d.rs1
        d.rs1 = d.rs2
        d.rs2 = r
        base = OP_BLT_NEAR_R + (base - OP_BLT_NEAR)
    d.dispatch = <uint16_t>((d.dispatch & 256) | base)


cdef inline bint is_forwarded(DecodedInsn* d) noexcept nogil:
    return (d.dispatch & 255) >= OP_ADDI_F and (d.dispatch & 255) < OP_SLLI_SRLI


cdef int fused_op(DecodedInsn* d, DecodedInsn* second) noexcept nogil:
    # the dispatch-only op running d and the instruction after it (second,
    # in d's straight-line run) in one handler, with the result of d handed
    # over in a register (0: none). The fused handler reads d's sources from
    # x[], so it is right whichever instruction came before d.
    cdef int sop = second.dispatch & 255
    if d.rd == 32 or second.rs1 != d.rd:
        return 0
    if d.op == OP_SLLI and sop == OP_SRLI_F:
        return OP_SLLI_SRLI
    if d.op == OP_AUIPC and sop == OP_ADDI_F:
        return OP_AUIPC_ADDI
    if d.op == OP_LUI and sop == OP_ADDI_F:
        return OP_LUI_ADDI
    if d.op == OP_LUI and sop == OP_ADDIW_F:
        return OP_LUI_ADDIW
    if d.op == OP_ADD and sop == OP_SRLI_F:
        return OP_ADD_SRLI
    if d.op == OP_SRLI and sop == OP_ADD_F:
        return OP_SRLI_ADD
    if d.op == OP_ADDI and sop == OP_BNE_NEAR_F:
        return OP_ADDI_BNE
    if d.op == OP_ADDIW and sop == OP_BNE_NEAR_F:
        return OP_ADDIW_BNE
    if d.op == OP_ADD and sop == OP_LW_F:
        return OP_ADD_LW
    if d.op == OP_ADD and sop == OP_LD_F:
        return OP_ADD_LD
    if d.op == OP_ADDI and sop == OP_ADD_F:
        return OP_ADDI_ADD
    if d.op == OP_MUL and sop == OP_ADD_F:
        return OP_MUL_ADD
    if d.op == OP_XOR and sop == OP_ADD_F:
        return OP_XOR_ADD
    if d.op == OP_ADDW and sop == OP_BLTU_NEAR_F:
        return OP_ADDW_BLTU
    if d.op == OP_ADDI and sop == OP_BEQ_NEAR_F:
        return OP_ADDI_BEQ
    if d.op == OP_LBU and sop == OP_BEQ_NEAR_F:
        return OP_LBU_BEQ
    if d.op == OP_ADD and sop == OP_SB_F:
        return OP_ADD_SB
    if d.op == OP_ADD and sop == OP_SD_F:
        return OP_ADD_SD
    return 0


cdef inline int insn_len(DecodedInsn* d) noexcept nogil:
    # 4 for a 32-bit instruction, 2 for a compressed one
    return 4 if (d.raw & 3) == 3 else 2


cdef uint64_t decode_run(uint8_t* page, DecodedInsn* slots, uint64_t first) noexcept nogil:
    # Decode the straight-line run starting at slot `first` of a page (host
    # bytes `page`, decoded slots `slots`), up to its first instruction that
    # does not step to the next one in the fast run (a branch, a jump, an
    # instruction for the general path), the first slot already decoded, or
    # the page's end; then give each new slot its blen, the instructions from
    # it to the run's end. Returns the instructions decoded. An instruction
    # straddling the page is left to fill_slot: the run stops before it.
    cdef uint64_t i = first
    cdef uint64_t n = 0
    cdef uint64_t k
    cdef uint64_t tail = 0          # blen of the decoded slot the run joins
    cdef uint32_t lo
    cdef DecodedInsn* d
    cdef DecodedInsn* prev = NULL
    cdef int fop
    while True:
        d = &slots[i]
        if d.op != OP_NONE:
            tail = d.blen
            if is_forwarded(d) and not forwards_to(prev, d):
                # another run already flows into it from an instruction
                # with another result: it reads rs1 from x[] again
                choose_dispatch(d, i, NULL)
            break
        lo = pyvmm_ld16(page + i * 2)
        if (lo & 3) != 3:
            decode16(lo, d)
        elif i == SLOTS_PER_PAGE - 1:
            break
        else:
            decode32(lo | (<uint32_t>pyvmm_ld16(page + i * 2 + 2) << 16), d)
        choose_dispatch(d, i, prev)
        prev = d
        n += 1
        i += <uint64_t>(insn_len(d) >> 1)
        if not fast_op_continues(d.op) or i >= SLOTS_PER_PAGE:
            break
    # the new slots, first to last, count down to the run's end
    i = first
    tail += n
    for k in range(n):
        slots[i].blen = <uint16_t>(tail - k)
        i += <uint64_t>(insn_len(&slots[i]) >> 1)
    # then fuse pairs inside the run: the second of a pair may be the slot
    # the run joined, which a rewrite clears together with this run
    i = first
    for k in range(n):
        d = &slots[i]
        i += <uint64_t>(insn_len(d) >> 1)
        if d.blen >= 2:
            fop = fused_op(d, &slots[i])
            if fop:
                d.dispatch = <uint16_t>((d.dispatch & 256) | fop)
    return n


cdef uint64_t forget_runs_into(DecodedInsn* slots, uint64_t lo, uint64_t hi) noexcept nogil:
    # Slots [lo, hi) were just cleared: clear too every slot before them
    # whose straight-line run reaches into them, since its blen counted
    # instructions that may now decode differently. A run is contiguous, so
    # the walk back stops at the first two slots in a row that do not reach.
    # Returns the lowest slot cleared.
    cdef bint reach1 = True             # slot j + 1 reaches (or is cleared)
    cdef bint reach2 = lo + 1 < hi      # slot j + 2
    cdef bint reach
    cdef uint64_t j = lo
    cdef uint64_t lowest = lo
    cdef DecodedInsn* d
    while j > 0:
        j -= 1
        d = &slots[j]
        reach = False
        if d.op != OP_NONE and d.blen >= 2:
            reach = reach1 if insn_len(d) == 2 else reach2
        if reach:
            memset(d, 0, sizeof(DecodedInsn))
            lowest = j
        elif not reach1:
            break
        reach2 = reach1
        reach1 = reach
    return lowest


cdef inline DecodedInsn* cross_slot(Hart* h) noexcept nogil:
    # where an instruction straddling two pages is decoded, each time it runs
    return &h.cross_page.slots[SLOTS_PER_PAGE - 1]
