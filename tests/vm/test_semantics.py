"""Instruction semantics, family by family, with edge values, on both engines.

Expected values come from a reference written independently of pyebpf.vm.alu (ctypes fixed-width integers and
C-style truncating division), plus the specific edge cases RFC 9669 and the kernel spell out (INT_MIN / -1,
division and modulo by zero, masked shift amounts, zero-extension of 32-bit results). The kernel-differential tests
(test_kernel_diff.py) check the same families against the running kernel.
"""
from __future__ import annotations

import ctypes
import struct

import pytest

from pyebpf.abi.opcodes import (
    AluOp, AtomicOp, EndSource, InsnClass, JmpOp, Mode, Size, Source, OP_EXIT, OP_LD_IMM64,
)
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.vm import VM

ENGINES = ("interp", "compiled")
M64, M32 = (1 << 64) - 1, (1 << 32) - 1

EDGE64 = [0, 1, 2, 3, 5, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF,
          0x8000000000000000, M64, M64 - 1, (-7) & M64, 31, 32, 63, 64, 65, 0x123456789ABCDEF0]
EDGE_IMM = [0, 1, -1, 2, -2, 7, 31, 32, 63, 64, 0x7FFFFFFF, -0x80000000, 0x1234, -0x1234]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


# ---- a reference model written with ctypes (independent of pyebpf.vm.alu) -----------------------------------------

def s64(x: int) -> int:
    return ctypes.c_int64(x).value


def s32(x: int) -> int:
    return ctypes.c_int32(x).value


def u64(x: int) -> int:
    return ctypes.c_uint64(x).value


def u32(x: int) -> int:
    return ctypes.c_uint32(x).value


def c_div(a: int, b: int) -> int:
    """C99 division: truncates towards zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_mod(a: int, b: int) -> int:
    return a - b * c_div(a, b)


def ref_alu(is64: bool, op: AluOp, a: int, b: int, signed: bool = False) -> int:
    """dst after `op dst, src` with dst = a, src operand = b (both already as the instruction sees them)."""
    if is64:
        ua, ub = u64(a), u64(b)
        width, U, S = 64, u64, s64
    else:
        ua, ub = u32(a), u32(b)
        width, U, S = 32, u32, s32
    if op == AluOp.ADD:
        return U(ua + ub)
    if op == AluOp.SUB:
        return U(ua - ub)
    if op == AluOp.MUL:
        return U(ua * ub)
    if op == AluOp.DIV:
        if ub == 0:
            return 0
        return U(c_div(S(ua), S(ub))) if signed else ua // ub
    if op == AluOp.MOD:
        if ub == 0:
            return ua  # dst unchanged; for 32-bit its low half, upper zeroed
        return U(c_mod(S(ua), S(ub))) if signed else ua % ub
    if op == AluOp.OR:
        return ua | ub
    if op == AluOp.AND:
        return ua & ub
    if op == AluOp.XOR:
        return ua ^ ub
    if op == AluOp.LSH:
        return U(ua << (ub % width))
    if op == AluOp.RSH:
        return ua >> (ub % width)
    if op == AluOp.ARSH:
        return U(S(ua) >> (ub % width))
    if op == AluOp.NEG:
        return U(-ua)
    if op == AluOp.MOV:
        return ub
    raise AssertionError(op)


# ---- program construction ---------------------------------------------------------------------------------------

def lddw(reg: int, value: int) -> I:
    return I(OP_LD_IMM64, reg, 0, 0, s64(value))


def stxdw(base: int, off: int, reg: int) -> I:
    return I(InsnClass.STX | Mode.MEM | Size.DW, base, reg, off, 0)


EXIT = I(OP_EXIT)
MOV_R6_R1 = I(InsnClass.ALU64 | AluOp.MOV | Source.X, 6, 1)


def run_cases(engine: str, cases: list[list[I]], result_reg: int = 3) -> list[int]:
    """Run each case's instructions in one program; returns the value of `result_reg` after each case."""
    insns = [MOV_R6_R1]
    for k, body in enumerate(cases):
        insns += body
        insns.append(stxdw(6, 8 * k, result_reg))
    insns += [I(InsnClass.ALU64 | AluOp.MOV, 0, 0, 0, 0), EXIT]
    res = VM(Program(insns), engine=engine).run(mem=bytes(8 * len(cases)))
    return list(struct.unpack(f"<{len(cases)}Q", res.mem))


ALU_OPS = [(AluOp.ADD, 0), (AluOp.SUB, 0), (AluOp.MUL, 0), (AluOp.DIV, 0), (AluOp.DIV, 1), (AluOp.MOD, 0),
           (AluOp.MOD, 1), (AluOp.OR, 0), (AluOp.AND, 0), (AluOp.XOR, 0), (AluOp.LSH, 0), (AluOp.RSH, 0),
           (AluOp.ARSH, 0), (AluOp.MOV, 0)]


@pytest.mark.parametrize("is64", [True, False], ids=["alu64", "alu32"])
@pytest.mark.parametrize("op,off", ALU_OPS, ids=[f"{o.name}{'_s' if f else ''}" for o, f in ALU_OPS])
def test_alu_reg(engine: str, is64: bool, op: AluOp, off: int) -> None:
    cls = InsnClass.ALU64 if is64 else InsnClass.ALU
    pairs = [(a, b) for a in EDGE64 for b in EDGE64[::2]]
    cases = [[lddw(3, a), lddw(4, b), I(cls | op | Source.X, 3, 4, off, 0)] for a, b in pairs]
    got = run_cases(engine, cases)
    want = [ref_alu(is64, op, a, b, bool(off)) for a, b in pairs]
    assert got == want


@pytest.mark.parametrize("is64", [True, False], ids=["alu64", "alu32"])
@pytest.mark.parametrize("op,off", ALU_OPS, ids=[f"{o.name}{'_s' if f else ''}" for o, f in ALU_OPS])
def test_alu_imm(engine: str, is64: bool, op: AluOp, off: int) -> None:
    cls = InsnClass.ALU64 if is64 else InsnClass.ALU
    imms = [i for i in EDGE_IMM if not (op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH) and not 0 <= i < (64 if is64 else
                                                                                                    32))]
    pairs = [(a, i) for a in EDGE64 for i in imms]
    cases = [[lddw(3, a), I(cls | op | Source.K, 3, 0, off, i)] for a, i in pairs]
    got = run_cases(engine, cases)
    # The immediate is sign-extended to 64 bits for ALU64 (also for unsigned div/mod), truncated to 32 for ALU.
    want = [ref_alu(is64, op, a, u64(i) if is64 else u32(i), bool(off)) for a, i in pairs]
    assert got == want


def test_division_edge_cases_named(engine: str) -> None:
    """The RFC's spelled-out cases, as literals."""
    int_min64, int_min32 = 1 << 63, 1 << 31
    cases = {
        "sdiv64 INT_MIN/-1": ([lddw(3, int_min64), lddw(4, M64), I(InsnClass.ALU64 | AluOp.DIV | Source.X, 3, 4, 1)],
                              int_min64),
        "smod64 INT_MIN%-1": ([lddw(3, int_min64), lddw(4, M64), I(InsnClass.ALU64 | AluOp.MOD | Source.X, 3, 4, 1)],
                              0),
        "sdiv32 INT_MIN/-1": ([lddw(3, int_min32), I(InsnClass.ALU | AluOp.DIV | Source.K, 3, 0, 1, -1)], int_min32),
        "div64 by 0": ([lddw(3, 1234), lddw(4, 0), I(InsnClass.ALU64 | AluOp.DIV | Source.X, 3, 4)], 0),
        "mod64 by 0 keeps dst": ([lddw(3, 0xFFFF_0000_1234), lddw(4, 0),
                                  I(InsnClass.ALU64 | AluOp.MOD | Source.X, 3, 4)], 0xFFFF_0000_1234),
        "mod32 by 0 zeroes upper half": ([lddw(3, 0xFFFF_0000_1234), lddw(4, 0),
                                          I(InsnClass.ALU | AluOp.MOD | Source.X, 3, 4)], 0x1234),
        "smod32 by 0 zeroes upper half": ([lddw(3, 0xFFFF_8000_0001), lddw(4, 0),
                                           I(InsnClass.ALU | AluOp.MOD | Source.X, 3, 4, 1)], 0x8000_0001),
        "smod takes dividend sign": ([lddw(3, (-7) & M64), lddw(4, 2),
                                      I(InsnClass.ALU64 | AluOp.MOD | Source.X, 3, 4, 1)], (-1) & M64),
        "div64 imm sign-extended": ([lddw(3, M64), I(InsnClass.ALU64 | AluOp.DIV | Source.K, 3, 0, 0, -1)], 1),
        "add32 zero-extends": ([lddw(3, M64), I(InsnClass.ALU | AluOp.ADD | Source.K, 3, 0, 0, 1)], 0),
        "lsh64 reg masked": ([lddw(3, 1), lddw(4, 65), I(InsnClass.ALU64 | AluOp.LSH | Source.X, 3, 4)], 2),
        "arsh32 sign": ([lddw(3, 0x80000000), I(InsnClass.ALU | AluOp.ARSH | Source.K, 3, 0, 0, 31)], M32),
        "neg32": ([lddw(3, 0x1_0000_0001), I(InsnClass.ALU | AluOp.NEG, 3)], M32),
        "neg64 INT_MIN": ([lddw(3, int_min64), I(InsnClass.ALU64 | AluOp.NEG, 3)], int_min64),
        "mov32 imm -1": ([lddw(3, 5), I(InsnClass.ALU | AluOp.MOV, 3, 0, 0, -1)], M32),
        "mov64 imm -1": ([lddw(3, 5), I(InsnClass.ALU64 | AluOp.MOV, 3, 0, 0, -1)], M64),
    }
    got = run_cases(engine, [c for c, _ in cases.values()])
    assert dict(zip(cases, got)) == {k: v for k, (_, v) in cases.items()}


@pytest.mark.parametrize("is64", [True, False], ids=["alu64", "alu32"])
def test_neg(engine: str, is64: bool) -> None:
    cls = InsnClass.ALU64 if is64 else InsnClass.ALU
    got = run_cases(engine, [[lddw(3, a), I(cls | AluOp.NEG, 3)] for a in EDGE64])
    assert got == [ref_alu(is64, AluOp.NEG, a, 0) for a in EDGE64]


def test_movsx(engine: str) -> None:
    cases, want = [], []
    for a in EDGE64:
        for width in (8, 16, 32):
            cases.append([lddw(4, a), lddw(3, 0xDEAD), I(InsnClass.ALU64 | AluOp.MOV | Source.X, 3, 4, width)])
            sx = {8: ctypes.c_int8, 16: ctypes.c_int16, 32: ctypes.c_int32}[width](a).value
            want.append(u64(sx))
        for width in (8, 16):
            cases.append([lddw(4, a), lddw(3, 0xDEAD), I(InsnClass.ALU | AluOp.MOV | Source.X, 3, 4, width)])
            sx = {8: ctypes.c_int8, 16: ctypes.c_int16}[width](a).value
            want.append(u32(sx))
    assert run_cases(engine, cases) == want


def test_byte_swaps(engine: str) -> None:
    cases, want = [], []
    for a in EDGE64:
        raw = a.to_bytes(8, "little")
        for width in (16, 32, 64):
            n = width // 8
            swapped = int.from_bytes(raw[:n], "big")
            truncated = int.from_bytes(raw[:n], "little")
            cases.append([lddw(3, a), I(InsnClass.ALU | AluOp.END | EndSource.TO_BE, 3, 0, 0, width)])
            want.append(swapped)
            cases.append([lddw(3, a), I(InsnClass.ALU | AluOp.END | EndSource.TO_LE, 3, 0, 0, width)])
            want.append(truncated)
            cases.append([lddw(3, a), I(InsnClass.ALU64 | AluOp.END | EndSource.TO_LE, 3, 0, 0, width)])
            want.append(swapped)
    assert run_cases(engine, cases) == want


JMP_OPS = [JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSET, JmpOp.JSGT, JmpOp.JSGE,
           JmpOp.JSLT, JmpOp.JSLE]


def ref_cond(is64: bool, op: JmpOp, a: int, b: int) -> bool:
    U, S = (u64, s64) if is64 else (u32, s32)
    ua, ub, sa, sb = U(a), U(b), S(a), S(b)
    return {JmpOp.JEQ: ua == ub, JmpOp.JNE: ua != ub, JmpOp.JGT: ua > ub, JmpOp.JGE: ua >= ub, JmpOp.JLT: ua < ub,
            JmpOp.JLE: ua <= ub, JmpOp.JSET: bool(ua & ub), JmpOp.JSGT: sa > sb, JmpOp.JSGE: sa >= sb,
            JmpOp.JSLT: sa < sb, JmpOp.JSLE: sa <= sb}[op]


@pytest.mark.parametrize("is64", [True, False], ids=["jmp", "jmp32"])
@pytest.mark.parametrize("op", JMP_OPS, ids=[o.name for o in JMP_OPS])
def test_conditional_jumps(engine: str, is64: bool, op: JmpOp) -> None:
    cls = InsnClass.JMP if is64 else InsnClass.JMP32
    vals = EDGE64[::2]
    cases, want = [], []
    for a in vals:
        for b in vals:  # register form
            cases.append([lddw(3, 0), lddw(4, a), lddw(5, b), I(cls | op | Source.X, 4, 5, 1, 0),
                          I(InsnClass.JMP | JmpOp.JA, 0, 0, 1, 0), I(InsnClass.ALU64 | AluOp.MOV, 3, 0, 0, 1)])
            want.append(int(ref_cond(is64, op, a, b)))
        for imm in EDGE_IMM:  # immediate form: sign-extended to 64 bits for JMP, low half for JMP32
            cases.append([lddw(3, 0), lddw(4, a), I(cls | op | Source.K, 4, 0, 1, imm),
                          I(InsnClass.JMP | JmpOp.JA, 0, 0, 1, 0), I(InsnClass.ALU64 | AluOp.MOV, 3, 0, 0, 1)])
            want.append(int(ref_cond(is64, op, a, u64(imm))))
    assert run_cases(engine, cases) == want


def test_loads_stores_all_sizes(engine: str) -> None:
    data = bytes(range(0x80, 0x80 + 32))
    cases, want = [], []
    for size, n in ((Size.B, 1), (Size.H, 2), (Size.W, 4), (Size.DW, 8)):
        for off in (0, 1, 3, 8):
            cases.append([I(InsnClass.LDX | Mode.MEM | size, 3, 7, off)])
            want.append(int.from_bytes(data[off:off + n], "little"))
            if size != Size.DW:
                cases.append([I(InsnClass.LDX | Mode.MEMSX | size, 3, 7, off)])
                want.append(u64({1: ctypes.c_int8, 2: ctypes.c_int16, 4: ctypes.c_int32}[n](
                    int.from_bytes(data[off:off + n], "little")).value))
    # stores: ST imm (sign-extended then truncated), STX truncates; read back as DW
    for size, n in ((Size.B, 1), (Size.H, 2), (Size.W, 4), (Size.DW, 8)):
        cases.append([lddw(3, 0), stxdw(10, -8, 3), I(InsnClass.ST | Mode.MEM | size, 10, 0, -8, -2),
                      I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
        want.append((1 << (8 * n)) - 2)
        cases.append([lddw(3, M64), stxdw(10, -16, 3), lddw(4, 0x0102030405060708),
                      I(InsnClass.STX | Mode.MEM | size, 10, 4, -16), I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -16)])
        want.append((M64 >> (8 * n) << (8 * n) if n < 8 else 0) | (0x0102030405060708 & ((1 << (8 * n)) - 1)))
    insns = [MOV_R6_R1, I(InsnClass.ALU64 | AluOp.MOV | Source.X, 7, 1), I(InsnClass.ALU64 | AluOp.ADD, 7, 0, 0,
                                                                         8 * len(cases))]
    for k, body in enumerate(cases):
        insns += body + [stxdw(6, 8 * k, 3)]
    insns += [I(InsnClass.ALU64 | AluOp.MOV, 0, 0, 0, 0), EXIT]
    res = VM(Program(insns), engine=engine).run(mem=bytes(8 * len(cases)) + data)
    assert list(struct.unpack(f"<{len(cases)}Q", res.mem[:8 * len(cases)])) == want


ATOMIC_RMW = [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR]


@pytest.mark.parametrize("size", [Size.W, Size.DW], ids=["32", "64"])
def test_atomics(engine: str, size: Size) -> None:
    n = 4 if size == Size.W else 8
    mask = (1 << (8 * n)) - 1
    atomic = InsnClass.STX | Mode.ATOMIC | size
    init, operand = 0xF0F0_F0F0_F0F0_F0F0, 0x1234_5678_9ABC_DEF1
    cases, want = [], []
    for op in ATOMIC_RMW:
        fn = {AtomicOp.ADD: lambda a, b: (a + b) & mask, AtomicOp.OR: lambda a, b: a | b,
              AtomicOp.AND: lambda a, b: a & b, AtomicOp.XOR: lambda a, b: a ^ b}[op]
        new = fn(init & mask, operand & mask)
        for fetch in (0, AtomicOp.FETCH_ADD & 1):
            body = [lddw(3, init), stxdw(10, -8, 3), lddw(4, operand), I(atomic, 10, 4, -8, op | fetch)]
            # memory: low n bytes updated, the rest of the 8-byte slot untouched
            cases.append(body + [I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
            want.append((init & ~mask & M64) | new)
            cases.append(body + [I(InsnClass.ALU64 | AluOp.MOV | Source.X, 3, 4)])
            want.append((init & mask) if fetch else operand)  # fetch: src gets the old value (zero-extended)
    # xchg
    body = [lddw(3, init), stxdw(10, -8, 3), lddw(4, operand), I(atomic, 10, 4, -8, AtomicOp.XCHG)]
    cases.append(body + [I(InsnClass.ALU64 | AluOp.MOV | Source.X, 3, 4)])
    want.append(init & mask)
    cases.append(body + [I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
    want.append((init & ~mask & M64) | (operand & mask))
    # cmpxchg: match and mismatch; r0 always gets the old value
    for expected, stores in ((init, True), (init ^ 1, False)):
        body = [lddw(3, init), stxdw(10, -8, 3), lddw(4, operand), lddw(0, expected | (0xAB << 56 if n == 4 else 0)),
                I(atomic, 10, 4, -8, AtomicOp.CMPXCHG)]
        cases.append(body + [I(InsnClass.ALU64 | AluOp.MOV | Source.X, 3, 0)])
        want.append(init & mask)
        cases.append(body + [I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
        want.append((init & ~mask & M64) | (operand & mask) if stores else init)
    assert run_cases(engine, cases) == want


@pytest.mark.parametrize("size,n", [(Size.B, 1), (Size.H, 2), (Size.W, 4), (Size.DW, 8)])
def test_load_acquire_store_release(engine: str, size: Size, n: int) -> None:
    atomic = InsnClass.STX | Mode.ATOMIC | size
    value = 0x8877665544332211
    cases = [
        [lddw(3, value), stxdw(10, -8, 3), lddw(3, 0), I(atomic, 3, 10, -8, AtomicOp.LOAD_ACQ)],
        [lddw(3, 0), stxdw(10, -16, 3), lddw(4, value), I(atomic, 10, 4, -16, AtomicOp.STORE_REL),
         I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -16)],
    ]
    assert run_cases(engine, cases) == [value & ((1 << (8 * n)) - 1)] * 2


def test_misaligned_atomic_faults(engine: str) -> None:
    prog = Program([lddw(3, 0), stxdw(10, -16, 3), stxdw(10, -8, 3), I(InsnClass.ALU64 | AluOp.MOV, 4, 0, 0, 1),
                    I(InsnClass.STX | Mode.ATOMIC | Size.DW, 10, 4, -12, AtomicOp.ADD), EXIT])
    from pyebpf.errors import VmError

    with pytest.raises(VmError) as ei:
        VM(prog, engine=engine).run()
    assert "misaligned" in ei.value.message and ei.value.pc == 5


def test_lddw_full_64_bits(engine: str) -> None:
    vals = [0, M64, 1 << 63, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF_00000000, 0x123456789ABCDEF0]
    assert run_cases(engine, [[lddw(3, v)] for v in vals]) == vals
