"""ALU transfer functions against the running kernel: one op on known / partly-known scalars, then a branch on the
result into an invalid access. The kernel refuses the program iff its bounds for the result do not rule the
invalid path out, so the verdicts compare the precision of one transfer function (and is_branch_taken) at a time.

Values are built from unknown ctx fields (socket filter: skb->len, mark, priority, ...): `(u & mask) | known`, or a
constant loaded with lddw. A concrete sample of the inputs gives the reachable result, and the branch constant is
drawn near it, where imprecision shows.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
#: socket-filter __sk_buff u32 fields readable by any program (len, mark, queue_mapping, priority)
CTX_FIELDS = (0, 8, 12, 32)

ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR, MOV, ARSH, END = range(0x00, 0xE0, 0x10)
FAMILIES = {
    "addsub": (ADD, SUB),
    "mul": (MUL,),
    "divmod": (DIV, MOD),
    "bitwise": (AND, OR, XOR),
    "shift": (LSH, RSH, ARSH),
    "neg_mov": (NEG, MOV),
    "end": (END,),
}
JMPS = (0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0)  # jeq jgt jge jset jne jsgt jsge jlt ...


@dataclass(frozen=True)
class Operand:
    """A 64-bit scalar: constant if mask == 0, else unknown bits `mask` over known bits `value`."""

    value: int
    mask: int

    def sample(self, u: int) -> int:
        return (u & self.mask) | (self.value & ~self.mask & U64)


@dataclass(frozen=True)
class AluCase:
    dst: Operand
    src: Operand | None  # None: BPF_K with `imm`
    imm: int
    op: int
    alu64: bool
    off: int  # sdiv/smod (1), movsx (8/16/32)
    end_src: int  # BPF_END: 0 to_le, 8 to_be (ALU) / bswap (ALU64, 0)
    jmp: int
    jmp32: bool
    k: int  # the branch constant (64-bit in r9 or imm)
    k_in_reg: bool
    bad_on_taken: bool

    def describe(self) -> str:
        return (f"op={self.op:#x} alu64={self.alu64} off={self.off} end_src={self.end_src} dst={self.dst} "
                f"src={self.src} imm={self.imm:#x} jmp={self.jmp:#x} jmp32={self.jmp32} k={self.k:#x} "
                f"k_in_reg={self.k_in_reg} bad_on_taken={self.bad_on_taken}")


def _s64(x: int) -> int:
    x &= U64
    return x - (1 << 64) if x >> 63 else x


def _s32(x: int) -> int:
    x &= U32
    return x - (1 << 32) if x >> 31 else x


def _swap(x: int, nbytes: int) -> int:
    return int.from_bytes((x & ((1 << (8 * nbytes)) - 1)).to_bytes(nbytes, "little"), "big")


def evaluate(c: AluCase, x: int, y: int) -> int:
    """The BPF runtime semantics of the case's ALU op on concrete inputs (dst x, src y)."""
    bits = 64 if c.alu64 else 32
    m = U64 if c.alu64 else U32
    op = c.op
    if op == END:
        size = c.imm
        if c.alu64 or c.end_src == 8:  # bswap / to_be on little endian
            return _swap(x, size // 8)
        return x & ((1 << size) - 1)  # to_le on little endian: truncation
    a, b = x & m, y & m
    sa, sb = (_s64(a), _s64(b)) if bits == 64 else (_s32(a), _s32(b))
    if op == ADD:
        r = a + b
    elif op == SUB:
        r = a - b
    elif op == MUL:
        r = a * b
    elif op == DIV:
        if c.off:
            r = 0 if sb == 0 else (-(abs(sa) // abs(sb)) if (sa < 0) != (sb < 0) else abs(sa) // abs(sb))
        else:
            r = 0 if b == 0 else a // b
    elif op == MOD:
        if c.off:
            r = sa if sb == 0 else (abs(sa) % abs(sb)) * (-1 if sa < 0 else 1)
        else:
            r = a if b == 0 else a % b
    elif op == OR:
        r = a | b
    elif op == AND:
        r = a & b
    elif op == XOR:
        r = a ^ b
    elif op == LSH:
        r = a << (b & (bits - 1))
    elif op == RSH:
        r = a >> (b & (bits - 1))
    elif op == ARSH:
        r = sa >> (b & (bits - 1))
    elif op == NEG:
        r = -a
    elif op == MOV:
        if c.off:
            v = y & ((1 << c.off) - 1)
            r = v - (1 << c.off) if v >> (c.off - 1) else v
        else:
            r = b
    else:  # pragma: no cover - families list every op
        raise ValueError(op)
    return r & m


def _build_operand(out: list, reg: int, opnd: Operand, field_base: int) -> None:
    """reg = (64-bit unknown from two ctx fields) & mask | value, or the constant."""
    if not opnd.mask:
        out += [I(0x18, reg, 0, 0, opnd.value)]
        return
    f1, f2 = CTX_FIELDS[field_base % 4], CTX_FIELDS[(field_base + 1) % 4]
    out += [I(0x61, reg, 1, f1, 0)]
    if opnd.mask >> 32:
        out += [I(0x61, 0, 1, f2, 0), I(0x67, reg, 0, 0, 32), I(0x4F, reg, 0, 0, 0)]  # reg = reg << 32 | r0
    out += [I(0x18, 0, 0, 0, opnd.mask), I(0x5F, reg, 0, 0, 0)]
    if opnd.value:
        out += [I(0x18, 0, 0, 0, opnd.value & ~opnd.mask & U64), I(0x4F, reg, 0, 0, 0)]


def build(c: AluCase) -> Program:
    out: list = []
    _build_operand(out, 6, c.dst, 0)
    if c.src is not None:
        _build_operand(out, 7, c.src, 2)
    cls = 0x07 if c.alu64 else 0x04
    if c.op == END:
        code = (0xD7 if c.alu64 else 0xD4 | c.end_src)
        out.append(I(code, 6, 0, 0, c.imm))
    elif c.op == NEG:
        out.append(I(cls | NEG, 6, 0, 0, 0))
    elif c.src is None:
        out.append(I(cls | c.op, 6, 0, c.off, c.imm))
    else:
        out.append(I(cls | 0x08 | c.op, 6, 7, c.off, 0))
    jcls = 0x06 if c.jmp32 else 0x05
    if c.k_in_reg:
        out += [I(0x18, 9, 0, 0, c.k), I(jcls | 0x08 | c.jmp, 6, 9, 2, 0)]
    else:
        out.append(I(jcls | c.jmp, 6, 0, 2, _s32(c.k)))
    bad = I(0x79, 0, 6, 0, 0)  # r0 = *(u64 *)(r6 + 0): a scalar is no pointer
    if c.bad_on_taken:
        out += [I(0xB7, 0, 0, 0, 0), I(0x95), bad, I(0x95)]
    else:
        out += [bad, I(0x95), I(0xB7, 0, 0, 0, 0), I(0x95)]
    return Program(out)


def verdicts(c: AluCase) -> tuple[tuple[bool, str], tuple[bool, str]]:
    """(ours, kernel): accepted and the error line."""
    from kernel_oracle import kernel_load
    from pyebpf.verifier import verify
    prog = build(c)
    res = verify(prog, "socket_filter", raise_on_reject=False)
    k = kernel_load(prog, 1)
    return ((res.accepted, res.error.message if res.error else ""), (k.accepted, "" if k.accepted else k.last_error))
