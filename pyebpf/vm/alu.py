"""The semantics of every ALU, jump-condition and load instruction as Python expression templates.

One table, two consumers: the interpreter turns each template into a closure factory (one per opcode variant, built
once with `exec`), the compiler pastes the template into straight-line Python with registers as locals. Both engines
therefore compute with the same expressions, and the kernel-differential tests check those expressions.

Registers hold unsigned 64-bit Python ints. In a template `{D}` is the destination's value and `{S}` the operand:
for 64-bit operations the source register or the immediate sign-extended to 64 bits (as u64); for 32-bit operations
the source register's low half or the immediate's low 32 bits (always already reduced to u32). Semantics follow
RFC 9669 and the kernel (kernel/bpf/core.c and the verifier's rewrites):
  - 32-bit results are zero-extended into the 64-bit register;
  - div by zero gives 0; mod by zero leaves dst unchanged (for 32-bit mod: its low half, zero-extended);
  - sdiv/smod (off = 1) truncate towards zero, smod takes the dividend's sign, INT_MIN / -1 = INT_MIN and
    INT_MIN % -1 = 0;
  - shift amounts are masked to the operand width (63 or 31);
  - signed comparisons and arsh use the sign-bit flip trick: a <s b  <=>  (a ^ 2**63) < (b ^ 2**63).
Templates are whole right-hand sides (`x = <template>`, `tgt if <condition> else nxt`) written with as few
parentheses as Python's precedence allows: the compiler pastes them into source that `compile()` parses, and each
parenthesised group costs that parser about as much as a whole simple statement. An ALU operand is a name, a literal
or a parenthesised group.
"""
from __future__ import annotations

from pyebpf.abi.opcodes import AluOp, JmpOp, SIGNED_DIVMOD_OFF

M64 = 0xFFFFFFFFFFFFFFFF
M32 = 0xFFFFFFFF
B63 = 1 << 63
B31 = 1 << 31


def sdiv64(a: int, b: int) -> int:
    if b == 0:
        return 0
    a = (a ^ B63) - B63
    b = (b ^ B63) - B63
    q = abs(a) // abs(b)
    return (-q if (a < 0) != (b < 0) else q) & M64


def smod64(a: int, b: int) -> int:
    if b == 0:
        return a
    sa = (a ^ B63) - B63
    sb = (b ^ B63) - B63
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & M64


def sdiv32(a: int, b: int) -> int:
    b &= M32
    if b == 0:
        return 0
    a = ((a & M32) ^ B31) - B31
    b = (b ^ B31) - B31
    q = abs(a) // abs(b)
    return (-q if (a < 0) != (b < 0) else q) & M32


def smod32(a: int, b: int) -> int:
    a &= M32
    b &= M32
    if b == 0:
        return a
    sa = (a ^ B31) - B31
    sb = (b ^ B31) - B31
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & M32


def bswap16(x: int) -> int:
    return ((x & 0xFF) << 8) | ((x >> 8) & 0xFF)


def bswap32(x: int) -> int:
    return int.from_bytes((x & M32).to_bytes(4, "little"), "big")


def bswap64(x: int) -> int:
    return int.from_bytes((x & M64).to_bytes(8, "little"), "big")


#: Names the templates may use; both engines put these in the namespace of generated code.
NAMESPACE = {"M64": M64, "M32": M32, "B63": B63, "B31": B31, "sdiv64": sdiv64, "smod64": smod64,
             "sdiv32": sdiv32, "smod32": smod32, "bswap16": bswap16, "bswap32": bswap32, "bswap64": bswap64}

# (op, off) -> template; off distinguishes sdiv/smod (off 1) and movsx (off 8/16/32).
ALU64: dict[tuple[int, int], str] = {
    (AluOp.ADD, 0): "{D} + {S} & M64",
    (AluOp.SUB, 0): "{D} - {S} & M64",
    (AluOp.MUL, 0): "{D} * {S} & M64",
    (AluOp.DIV, 0): "{D} // {S} if {S} else 0",
    (AluOp.DIV, SIGNED_DIVMOD_OFF): "sdiv64({D}, {S})",
    (AluOp.MOD, 0): "{D} % {S} if {S} else {D}",
    (AluOp.MOD, SIGNED_DIVMOD_OFF): "smod64({D}, {S})",
    (AluOp.OR, 0): "{D} | {S}",
    (AluOp.AND, 0): "{D} & {S}",
    (AluOp.XOR, 0): "{D} ^ {S}",
    (AluOp.LSH, 0): "{D} << ({S} & 63) & M64",
    (AluOp.RSH, 0): "{D} >> ({S} & 63)",
    (AluOp.ARSH, 0): "({D} ^ B63) - B63 >> ({S} & 63) & M64",
    (AluOp.NEG, 0): "-{D} & M64",
    (AluOp.MOV, 0): "{S}",
    (AluOp.MOV, 1): "{S}",  # addr_space_cast: arena pointers are plain addresses in the VM
    (AluOp.MOV, 8): "({S} & 0xFF ^ 0x80) - 0x80 & M64",
    (AluOp.MOV, 16): "({S} & 0xFFFF ^ 0x8000) - 0x8000 & M64",
    (AluOp.MOV, 32): "({S} & M32 ^ B31) - B31 & M64",
}

ALU32: dict[tuple[int, int], str] = {
    (AluOp.ADD, 0): "{D} + {S} & M32",
    (AluOp.SUB, 0): "{D} - {S} & M32",
    (AluOp.MUL, 0): "{D} * {S} & M32",
    (AluOp.DIV, 0): "({D} & M32) // {S} if {S} else 0",
    (AluOp.DIV, SIGNED_DIVMOD_OFF): "sdiv32({D}, {S})",
    (AluOp.MOD, 0): "({D} & M32) % {S} if {S} else {D} & M32",
    (AluOp.MOD, SIGNED_DIVMOD_OFF): "smod32({D}, {S})",
    (AluOp.OR, 0): "({D} | {S}) & M32",
    (AluOp.AND, 0): "{D} & {S}",
    (AluOp.XOR, 0): "({D} ^ {S}) & M32",
    (AluOp.LSH, 0): "{D} << ({S} & 31) & M32",
    (AluOp.RSH, 0): "({D} & M32) >> ({S} & 31)",
    (AluOp.ARSH, 0): "({D} & M32 ^ B31) - B31 >> ({S} & 31) & M32",
    (AluOp.NEG, 0): "-{D} & M32",
    (AluOp.MOV, 0): "{S}",
    (AluOp.MOV, 8): "({S} & 0xFF ^ 0x80) - 0x80 & M32",
    (AluOp.MOV, 16): "({S} & 0xFFFF ^ 0x8000) - 0x8000 & M32",
}

#: 32-bit operations whose result depends only on the low half of a register source and is masked by the template
#: itself: the compiler may substitute the register unmasked for {S} (one operation and one parenthesis fewer to
#: compile per instruction; the interpreter passes it masked, as every template accepts).
SRC_LOW32_ONLY = frozenset((AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.OR, AluOp.XOR, AluOp.LSH, AluOp.RSH, AluOp.ARSH))

#: BPF_END: (class is ALU64, source bit, imm width) -> template on {D}.
END: dict[tuple[bool, int, int], str] = {
    (False, 0, 16): "{D} & 0xFFFF",  # le16 on a little-endian machine: truncate
    (False, 0, 32): "{D} & M32",
    (False, 0, 64): "{D}",
    (False, 8, 16): "bswap16({D})",  # be16: swap
    (False, 8, 32): "bswap32({D})",
    (False, 8, 64): "bswap64({D})",
    (True, 0, 16): "bswap16({D})",  # bswap16/32/64 (ALU64 class): unconditional
    (True, 0, 32): "bswap32({D})",
    (True, 0, 64): "bswap64({D})",
}

#: Jump conditions on ({D}, {S}); JMP32 compares the low halves (the caller writes `rN & M32` for {D} and {S}: `&`
#: binds tighter than `^` and the comparisons, so no parentheses are needed).
JMP64: dict[int, str] = {
    JmpOp.JEQ: "{D} == {S}",
    JmpOp.JNE: "{D} != {S}",
    JmpOp.JGT: "{D} > {S}",
    JmpOp.JGE: "{D} >= {S}",
    JmpOp.JLT: "{D} < {S}",
    JmpOp.JLE: "{D} <= {S}",
    JmpOp.JSET: "{D} & {S}",
    JmpOp.JSGT: "{D} ^ B63 > {S} ^ B63",
    JmpOp.JSGE: "{D} ^ B63 >= {S} ^ B63",
    JmpOp.JSLT: "{D} ^ B63 < {S} ^ B63",
    JmpOp.JSLE: "{D} ^ B63 <= {S} ^ B63",
}
JMP32: dict[int, str] = {op: t.replace("B63", "B31") for op, t in JMP64.items()}

#: Sign extension of a loaded value of 1/2/4 bytes (LDX MEMSX) to 64 bits.
SIGN_EXTEND_LOAD = {1: "((({V}) ^ 0x80) - 0x80) & M64", 2: "((({V}) ^ 0x8000) - 0x8000) & M64",
                    4: "((({V}) ^ B31) - B31) & M64"}


def alu_template(is64: bool, op: int, off: int) -> str | None:
    """Template for an ALU op, or None when (op, off) is not an instruction."""
    table = ALU64 if is64 else ALU32
    return table.get((op, off))


def imm_operand(is64: bool, imm: int) -> int:
    """The immediate as the operand {S}: sign-extended to u64 for 64-bit ops, its low 32 bits for 32-bit ops."""
    return imm & (M64 if is64 else M32)


def render(template: str, d: str, s: str) -> str:
    return template.replace("{D}", d).replace("{S}", s)


__all__ = ["ALU64", "ALU32", "END", "SRC_LOW32_ONLY", "JMP64", "JMP32", "SIGN_EXTEND_LOAD", "NAMESPACE", "alu_template",
           "imm_operand", "render", "sdiv64", "smod64", "sdiv32", "smod32", "bswap16", "bswap32", "bswap64",
           "M64", "M32", "B63", "B31"]
