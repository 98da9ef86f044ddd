"""Instruction encoding constants of RFC 9669 and linux/bpf.h / linux/bpf_common.h.

The opcode byte is split three ways depending on its class: ALU/JMP use `op | source | class`, loads and stores use
`mode | size | class`. Every constant is an enum member so that code never spells a raw number.
"""
from __future__ import annotations

from enum import IntEnum

from pyebpf.abi.fast_enum import kernel_enum


@kernel_enum(IntEnum)
class InsnClass:
    """Low 3 bits of the opcode."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


CLASS_MASK = 0x07
SOURCE_MASK = 0x08
OP_MASK = 0xF0
SIZE_MASK = 0x18
MODE_MASK = 0xE0


@kernel_enum(IntEnum)
class Source:
    """Bit 3 of ALU/JMP opcodes: operand is the immediate (K) or the src register (X)."""

    K = 0x00
    X = 0x08


@kernel_enum(IntEnum)
class EndSource:
    """Bit 3 of BPF_END: convert to little- or big-endian (ALU class); ALU64 with TO_LE is unconditional bswap."""

    TO_LE = 0x00
    TO_BE = 0x08


@kernel_enum(IntEnum)
class AluOp:
    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


@kernel_enum(IntEnum)
class JmpOp:
    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0  # may_goto (src_reg = BPF_MAY_GOTO)


#: The conditional jumps (those that take two operands), in kernel order.
COND_JMP_OPS = (JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE,
                JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE)


@kernel_enum(IntEnum)
class Size:
    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18


SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
BYTES_SIZE = {v: k for k, v in SIZE_BYTES.items()}


@kernel_enum(IntEnum)
class Mode:
    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


@kernel_enum(IntEnum)
class AtomicOp:
    """The imm field of BPF_STX | BPF_ATOMIC."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH_ADD = 0x01
    FETCH_OR = 0x41
    FETCH_AND = 0x51
    FETCH_XOR = 0xA1
    XCHG = 0xE1
    CMPXCHG = 0xF1
    LOAD_ACQ = 0x100
    STORE_REL = 0x110


ATOMIC_FETCH = 0x01


@kernel_enum(IntEnum)
class PseudoSrc:
    """src_reg of BPF_LD | BPF_IMM | BPF_DW: what the 64-bit immediate means."""

    IMM = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


@kernel_enum(IntEnum)
class CallSrc:
    """src_reg of BPF_JMP | BPF_CALL."""

    HELPER = 0
    PSEUDO_CALL = 1  # bpf-to-bpf call, imm = relative slot offset
    KFUNC = 2  # imm = BTF id of the kernel function


@kernel_enum(IntEnum)
class JcondSrc:
    MAY_GOTO = 0


@kernel_enum(IntEnum)
class Reg:
    R0 = 0
    R1 = 1
    R2 = 2
    R3 = 3
    R4 = 4
    R5 = 5
    R6 = 6
    R7 = 7
    R8 = 8
    R9 = 9
    R10 = 10


MAX_REG = 11  # r0..r10
FRAME_POINTER = Reg.R10
INSN_SIZE = 8
MAX_BPF_STACK = 512
MAX_CALL_FRAMES = 8
BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
BPF_MAXINSNS = 4096  # unprivileged program size limit
BPF_ADDR_SPACE_CAST = 1  # off of ALU64 MOV X that marks addr_space_cast
BPF_ADDR_PERCPU = -1  # off of ALU64 MOV X: the verifier's internal per-CPU address move (xlated dumps)

# Sign-extension widths allowed in `off` of MOVSX (ALU64: 8/16/32, ALU: 8/16) and the sdiv/smod marker.
MOVSX_WIDTHS_ALU64 = (8, 16, 32)
MOVSX_WIDTHS_ALU = (8, 16)
SIGNED_DIVMOD_OFF = 1

# Opcodes that appear often enough to deserve names.
OP_LD_IMM64 = InsnClass.LD | Mode.IMM | Size.DW  # 0x18
OP_CALL = InsnClass.JMP | JmpOp.CALL  # 0x85
OP_CALLX = InsnClass.JMP | JmpOp.CALL | Source.X  # 0x8d (RFC 9669 conformance, not accepted by Linux)
OP_EXIT = InsnClass.JMP | JmpOp.EXIT  # 0x95
OP_JA = InsnClass.JMP | JmpOp.JA  # 0x05
OP_JA32 = InsnClass.JMP32 | JmpOp.JA  # 0x06 (gotol)
OP_MAY_GOTO = InsnClass.JMP | JmpOp.JCOND  # 0xe5
