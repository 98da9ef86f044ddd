"""The VM against the running kernel, 64 bits at a time.

BPF_PROG_TEST_RUN reports only the low 32 bits of r0, so every case here writes its full 64-bit result into an XDP
packet, which the kernel returns as data_out. Many cases share one program load: the packet starts with a table of
input values (loaded with ldxdw, so the verifier sees unknown scalars and cannot fold or prune anything), followed by
one 8-byte result slot per case. The same program runs in the kernel and on both VM engines; the packets must be
identical byte for byte.

A hypothesis test builds random programs the kernel accepts (ALU, ALU32, JMP/JMP32 forward branches, sign-extending
moves and loads, byte swaps, atomics on the stack, packet reads after the bounds check) and compares all registers.
"""
from __future__ import annotations

import struct
from typing import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyebpf
from pyebpf.abi.opcodes import AluOp, AtomicOp, EndSource, InsnClass, JmpOp, Mode, Size, Source, OP_EXIT
from pyebpf.isa.features import kernel_takes
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.system.kernel import kernel_major_minor
from pyebpf.vm import VM

pytestmark = pytest.mark.kernel

ENGINES = ("interp", "compiled")
M64 = (1 << 64) - 1
XDP_PASS = 2
#: XDP test runs take at most PAGE_SIZE - XDP_PACKET_HEADROOM - sizeof(skb_shared_info) bytes of packet.
MAX_PACKET = 3520

VALUES = [0, 1, 2, 3, 5, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000,
          0x7FFFFFFFFFFFFFFF, 0x8000000000000000, M64, M64 - 1, (-7) & M64, 31, 32, 63, 64, 65, 0x123456789ABCDEF0,
          0xFEDCBA9876543210]
IMMS = [0, 1, -1, 2, -2, 7, 31, 32, 63, 0x7FFFFFFF, -0x80000000, 0x1234, -0x1234]
TABLE = 8 * len(VALUES)

ALU = InsnClass.ALU
ALU64 = InsnClass.ALU64


def ld_value(reg: int, index: int) -> I:
    """reg = VALUES[index], read from the packet's input table (r6 = packet start)."""
    return I(InsnClass.LDX | Mode.MEM | Size.DW, reg, 6, 8 * index)


def vi(value: int) -> int:
    return VALUES.index(value)


def build(cases: Sequence[Sequence[I]], result_reg: int = 3) -> tuple[Program, bytes]:
    """An XDP program running `cases` (each leaves its result in result_reg) and its input packet."""
    size = TABLE + 8 * len(cases)
    assert size <= MAX_PACKET
    insns = [
        I(InsnClass.LDX | Mode.MEM | Size.W, 2, 1, 0),  # r2 = ctx->data
        I(InsnClass.LDX | Mode.MEM | Size.W, 3, 1, 4),  # r3 = ctx->data_end
        I(ALU64 | AluOp.MOV | Source.X, 6, 2),
        I(ALU64 | AluOp.ADD | Source.K, 2, 0, 0, size),
    ]
    body: list[I] = []
    for k, case in enumerate(cases):
        body += case
        body.append(I(InsnClass.STX | Mode.MEM | Size.DW, 6, result_reg, TABLE + 8 * k))
    body_slots = sum(i.slots for i in body)
    insns.append(I(InsnClass.JMP | JmpOp.JGT | Source.X, 2, 3, body_slots, 0))  # if data + size > end: out
    insns += body
    insns += [I(ALU64 | AluOp.MOV, 0, 0, 0, XDP_PASS), I(OP_EXIT)]
    packet = b"".join(v.to_bytes(8, "little") for v in VALUES) + bytes(8 * len(cases))
    return Program(insns, prog_type=_xdp()), packet


def _xdp():
    from pyebpf.abi.prog_types import ProgType

    return ProgType.XDP


def kernel_run(program: Program, packet: bytes) -> tuple[int, bytes]:
    from pyebpf.loader import load

    with load(program) as kp:
        res = kp.test_run(data=packet)
        return res.retval, res.data


def vm_run(program: Program, packet: bytes, engine: str) -> tuple[int, bytes]:
    res = VM(program, engine=engine).run(packet=packet)
    return res.r0 & 0xFFFFFFFF, res.packet


def _decodable(cases: list[list[I]], labels: list[str]) -> tuple[list[list[I]], list[str]]:
    """The cases the kernel under test can decode: the kernel matrix runs these tests on 6.1 and 6.12 too, which
    predate cpu v4 (6.6) and load-acquire (6.15). Dropping every case is a missing feature, not a pass."""
    from pyebpf.isa.features import kernel_takes, program_features
    from pyebpf.system.kernel import kernel_major_minor
    from pyebpf.testing.plugin import skip_missing_feature

    release = kernel_major_minor()
    keep = [i for i, case in enumerate(cases) if kernel_takes(case, release)]
    if not keep:
        needs = sorted({f.name for case in cases for f in program_features(case)})
        skip_missing_feature(f"Linux {release[0]}.{release[1]} predates {', '.join(needs)}")
    return [cases[i] for i in keep], [labels[i] for i in keep]


def check(cases: list[list[I]], labels: list[str], result_reg: int = 3) -> None:
    cases, labels = _decodable(cases, labels)
    per = (MAX_PACKET - TABLE) // 8
    for start in range(0, len(cases), per):
        chunk = cases[start:start + per]
        program, packet = build(chunk, result_reg)
        k_ret, k_pkt = kernel_run(program, packet)
        assert k_ret == XDP_PASS
        for engine in ENGINES:
            v_ret, v_pkt = vm_run(program, packet, engine)
            assert v_ret == k_ret
            if v_pkt != k_pkt:
                k_res = struct.unpack_from(f"<{len(chunk)}Q", k_pkt, TABLE)
                v_res = struct.unpack_from(f"<{len(chunk)}Q", v_pkt, TABLE)
                bad = [(labels[start + i], hex(k), hex(v)) for i, (k, v) in enumerate(zip(k_res, v_res)) if k != v]
                pytest.fail(f"{engine}: {len(bad)} results differ from the kernel, e.g. (case, kernel, vm) {bad[:5]}")


# ---- ALU --------------------------------------------------------------------------------------------------------

ALU_OPS = [(AluOp.ADD, 0), (AluOp.SUB, 0), (AluOp.MUL, 0), (AluOp.DIV, 0), (AluOp.DIV, 1), (AluOp.MOD, 0),
           (AluOp.MOD, 1), (AluOp.OR, 0), (AluOp.AND, 0), (AluOp.XOR, 0), (AluOp.LSH, 0), (AluOp.RSH, 0),
           (AluOp.ARSH, 0), (AluOp.MOV, 0)]


@pytest.mark.parametrize("cls", [ALU64, ALU], ids=["alu64", "alu32"])
def test_alu_register_operands(cls: int) -> None:
    cases, labels = [], []
    for op, off in ALU_OPS:
        for a in range(len(VALUES)):
            for b in range(len(VALUES)):
                cases.append([ld_value(3, a), ld_value(4, b), I(cls | op | Source.X, 3, 4, off, 0)])
                labels.append(f"{op.name}{'s' if off else ''} {VALUES[a]:#x}, {VALUES[b]:#x}")
    check(cases, labels)


@pytest.mark.parametrize("cls", [ALU64, ALU], ids=["alu64", "alu32"])
def test_alu_immediate_operands(cls: int) -> None:
    width = 64 if cls == ALU64 else 32
    cases, labels = [], []
    for op, off in ALU_OPS + [(AluOp.NEG, 0)]:
        for a in range(len(VALUES)):
            for imm in IMMS:
                if op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH) and not 0 <= imm < width:
                    continue  # the verifier rejects out-of-range immediate shifts
                if op == AluOp.NEG and imm:
                    continue
                if op in (AluOp.DIV, AluOp.MOD) and imm == 0:
                    continue  # the verifier rejects division by an immediate zero ("div by zero")
                cases.append([ld_value(3, a), I(cls | op | Source.K, 3, 0, off, imm)])
                labels.append(f"{op.name}{'s' if off else ''} {VALUES[a]:#x}, imm {imm}")
    check(cases, labels)


def test_movsx_and_byte_swaps() -> None:
    cases, labels = [], []
    for a in range(len(VALUES)):
        for cls, widths in ((ALU64, (8, 16, 32)), (ALU, (8, 16))):
            for w in widths:
                cases.append([ld_value(4, a), I(cls | AluOp.MOV | Source.X, 3, 4, w)])
                labels.append(f"movsx{w} cls {cls} {VALUES[a]:#x}")
        for cls, src in ((ALU, EndSource.TO_LE), (ALU, EndSource.TO_BE), (ALU64, EndSource.TO_LE)):
            for w in (16, 32, 64):
                cases.append([ld_value(3, a), I(cls | AluOp.END | src, 3, 0, 0, w)])
                labels.append(f"end cls {cls} src {src} {w} {VALUES[a]:#x}")
    check(cases, labels)


# ---- jumps ------------------------------------------------------------------------------------------------------

JMP_OPS = [JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSET, JmpOp.JSGT, JmpOp.JSGE,
           JmpOp.JSLT, JmpOp.JSLE]


@pytest.mark.parametrize("cls", [InsnClass.JMP, InsnClass.JMP32], ids=["jmp", "jmp32"])
def test_conditional_jumps(cls: int) -> None:
    cases, labels = [], []
    taken = [I(InsnClass.JMP | JmpOp.JA, 0, 0, 1, 0), I(ALU64 | AluOp.MOV, 3, 0, 0, 1)]
    for op in JMP_OPS:
        for a in range(0, len(VALUES)):
            for b in range(0, len(VALUES), 2):
                cases.append([I(ALU64 | AluOp.MOV, 3, 0, 0, 0), ld_value(4, a), ld_value(5, b),
                              I(cls | op | Source.X, 4, 5, 1, 0), *taken])
                labels.append(f"{op.name} {VALUES[a]:#x}, {VALUES[b]:#x}")
            for imm in IMMS[::2]:
                cases.append([I(ALU64 | AluOp.MOV, 3, 0, 0, 0), ld_value(4, a), I(cls | op | Source.K, 4, 0, 1, imm),
                              *taken])
                labels.append(f"{op.name} {VALUES[a]:#x}, imm {imm}")
    check(cases, labels)


# ---- memory -----------------------------------------------------------------------------------------------------

def test_loads_sign_extending_loads_and_stores() -> None:
    cases, labels = [], []
    for a in range(len(VALUES)):
        for size in (Size.B, Size.H, Size.W, Size.DW):
            for off in (0, 1, 3):
                cases.append([I(InsnClass.LDX | Mode.MEM | size, 3, 6, 8 * a + off)])
                labels.append(f"ldx {size.name} +{off} of {VALUES[a]:#x}")
                if size != Size.DW:
                    cases.append([I(InsnClass.LDX | Mode.MEMSX | size, 3, 6, 8 * a + off)])
                    labels.append(f"ldxs {size.name} +{off} of {VALUES[a]:#x}")
            cases.append([ld_value(3, vi(M64)), I(InsnClass.STX | Mode.MEM | Size.DW, 10, 3, -8),
                          ld_value(4, a), I(InsnClass.STX | Mode.MEM | size, 10, 4, -8),
                          I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
            labels.append(f"stx {size.name} {VALUES[a]:#x}")
        for imm in IMMS:
            for size in (Size.B, Size.H, Size.W, Size.DW):
                cases.append([ld_value(3, a), I(InsnClass.STX | Mode.MEM | Size.DW, 10, 3, -16),
                              I(InsnClass.ST | Mode.MEM | size, 10, 0, -16, imm),
                              I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -16)])
                labels.append(f"st {size.name} imm {imm} over {VALUES[a]:#x}")
    check(cases, labels)


ATOMICS = [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.FETCH_ADD, AtomicOp.FETCH_OR,
           AtomicOp.FETCH_AND, AtomicOp.FETCH_XOR, AtomicOp.XCHG]


@pytest.mark.parametrize("size", [Size.W, Size.DW], ids=["atomic32", "atomic64"])
def test_atomics_on_the_stack(size: Size) -> None:
    atomic = InsnClass.STX | Mode.ATOMIC | size
    cases, labels = [], []
    for a in range(0, len(VALUES), 2):
        for b in range(1, len(VALUES), 2):
            init = [ld_value(3, a), I(InsnClass.STX | Mode.MEM | Size.DW, 10, 3, -8), ld_value(4, b)]
            for op in ATOMICS:
                cases.append(init + [I(atomic, 10, 4, -8, op), I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
                labels.append(f"{op.name} mem {VALUES[a]:#x} src {VALUES[b]:#x}")
                if op & 1:
                    cases.append(init + [I(atomic, 10, 4, -8, op), I(ALU64 | AluOp.MOV | Source.X, 3, 4)])
                    labels.append(f"{op.name} fetched {VALUES[a]:#x} src {VALUES[b]:#x}")
            for expect in (a, b):  # cmpxchg that matches (r0 == mem) and one that does not
                body = init + [ld_value(0, expect), I(atomic, 10, 4, -8, AtomicOp.CMPXCHG)]
                cases.append(body + [I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
                labels.append(f"cmpxchg mem {VALUES[a]:#x} r0 {VALUES[expect]:#x}")
                cases.append(body + [I(ALU64 | AluOp.MOV | Source.X, 3, 0)])
                labels.append(f"cmpxchg r0 after, mem {VALUES[a]:#x} r0 {VALUES[expect]:#x}")
    check(cases, labels)


def test_load_acquire_store_release() -> None:
    cases, labels = [], []
    for a in range(len(VALUES)):
        for size in (Size.B, Size.H, Size.W, Size.DW):
            atomic = InsnClass.STX | Mode.ATOMIC | size
            cases.append([ld_value(4, a), I(InsnClass.STX | Mode.MEM | Size.DW, 10, 4, -8),
                          I(atomic, 3, 10, -8, AtomicOp.LOAD_ACQ)])
            labels.append(f"load_acquire {size.name} {VALUES[a]:#x}")
            cases.append([ld_value(3, vi(M64)), I(InsnClass.STX | Mode.MEM | Size.DW, 10, 3, -8), ld_value(4, a),
                          I(atomic, 10, 4, -8, AtomicOp.STORE_REL), I(InsnClass.LDX | Mode.MEM | Size.DW, 3, 10, -8)])
            labels.append(f"store_release {size.name} {VALUES[a]:#x}")
    check(cases, labels)


def test_lddw_and_bpf_to_bpf_calls() -> None:
    cases, labels = [], []
    for v in VALUES:
        cases.append([I(0x18, 3, 0, 0, v - (1 << 64) if v >> 63 else v)])
        labels.append(f"lddw {v:#x}")
    program, packet = build(cases)
    # append a subprogram and a case calling it: r0 = r1 * 3 with r6..r9 preserved across the call
    k_ret, k_pkt = kernel_run(program, packet)
    for engine in ENGINES:
        assert vm_run(program, packet, engine) == (k_ret, k_pkt)
    calls = pyebpf.assemble("""
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r6 = r2
        r2 += 64
        if r2 > r3 goto out
        r1 = *(u64 *)(r6 + 8)
        r7 = 77
        r8 = *(u64 *)(r6 + 16)
        r9 = 99
        *(u64 *)(r10 - 8) = r9
        call sub
        *(u64 *)(r6 + 32) = r0
        *(u64 *)(r6 + 40) = r7
        *(u64 *)(r6 + 48) = r8
        *(u64 *)(r6 + 56) = r9
        r1 = *(u64 *)(r10 - 8)
        *(u64 *)(r6 + 24) = r1
    out:
        r0 = 2
        exit
    sub:
        r6 = 1
        r7 = 2
        r8 = 3
        r9 = 4
        *(u64 *)(r10 - 8) = r9
        r0 = r1
        r0 *= 3
        exit
    """)
    calls.prog_type = _xdp()
    pkt = struct.pack("<8Q", 0, 0x1111111111111111, 0x2222, 0, 0, 0, 0, 0)
    k = kernel_run(calls, pkt)
    assert struct.unpack_from("<Q", k[1], 32)[0] == 0x3333333333333333
    for engine in ENGINES:
        assert vm_run(calls, pkt, engine) == k


# ---- random programs --------------------------------------------------------------------------------------------

WORK_REGS = [0, 1, 2, 3, 4, 5, 7, 8, 9]
NINPUT = 12  # u64 inputs at the start of the packet; results follow


@st.composite
def straight_line_insn(draw) -> list[I]:
    kind = draw(st.sampled_from(["alu", "alu", "alu", "alu32", "alu32", "movsx", "end", "neg", "ldx", "ldxsx",
                                 "stack", "atomic", "jmp"]))
    d = draw(st.sampled_from(WORK_REGS))
    s = draw(st.sampled_from(WORK_REGS))
    if kind in ("alu", "alu32"):
        cls = ALU64 if kind == "alu" else ALU
        op, off = draw(st.sampled_from(ALU_OPS))
        if draw(st.booleans()):
            return [I(cls | op | Source.X, d, s, off, 0)]
        width = 64 if cls == ALU64 else 32
        imm = draw(st.integers(0, width - 1)) if op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH) else draw(
            st.one_of(st.sampled_from(IMMS), st.integers(-(1 << 31), (1 << 31) - 1)))
        if op in (AluOp.DIV, AluOp.MOD) and imm == 0:
            imm = 3  # the verifier rejects division by an immediate zero
        return [I(cls | op | Source.K, d, 0, off, imm)]
    if kind == "neg":
        return [I(draw(st.sampled_from([ALU64, ALU])) | AluOp.NEG, d)]
    if kind == "movsx":
        cls = draw(st.sampled_from([ALU64, ALU]))
        return [I(cls | AluOp.MOV | Source.X, d, s, draw(st.sampled_from((8, 16, 32) if cls == ALU64 else (8, 16))))]
    if kind == "end":
        cls, src = draw(st.sampled_from([(ALU, EndSource.TO_LE), (ALU, EndSource.TO_BE), (ALU64, EndSource.TO_LE)]))
        return [I(cls | AluOp.END | src, d, 0, 0, draw(st.sampled_from([16, 32, 64])))]
    if kind in ("ldx", "ldxsx"):
        size = draw(st.sampled_from([Size.B, Size.H, Size.W] + ([Size.DW] if kind == "ldx" else [])))
        mode = Mode.MEM if kind == "ldx" else Mode.MEMSX
        return [I(InsnClass.LDX | mode | size, d, 6, draw(st.integers(0, 8 * NINPUT - 8)))]
    if kind == "stack":
        size = draw(st.sampled_from(list(Size)))
        n = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}[size]
        off = -8 * draw(st.integers(1, 4)) + n * draw(st.integers(0, 8 // n - 1))
        if draw(st.booleans()):
            return [I(InsnClass.STX | Mode.MEM | size, 10, s, off)]
        mode = draw(st.sampled_from([Mode.MEM, Mode.MEMSX])) if size != Size.DW else Mode.MEM
        return [I(InsnClass.LDX | mode | size, d, 10, off)]
    if kind == "atomic":
        size = draw(st.sampled_from([Size.W, Size.DW]))
        off = -8 * draw(st.integers(1, 4)) + (4 * draw(st.integers(0, 1)) if size == Size.W else 0)
        op = draw(st.sampled_from(ATOMICS + [AtomicOp.CMPXCHG]))
        return [I(InsnClass.STX | Mode.ATOMIC | size, 10, s, off, op)]
    cls = draw(st.sampled_from([InsnClass.JMP, InsnClass.JMP32]))
    op = draw(st.sampled_from(JMP_OPS))
    skip = draw(st.integers(0, 3))  # forward only; the skipped instructions are drawn below
    form = draw(st.sampled_from(["x", "x", "k", "k", "ja", "gotol"]))
    if form in ("ja", "gotol"):
        # `if d op s goto +1; ja/gotol +skip; <skip insns>`: the skipped code stays reachable (the CFG check)
        ja = I(InsnClass.JMP | JmpOp.JA, 0, 0, skip, 0) if form == "ja" else I(InsnClass.JMP32 | JmpOp.JA, 0, 0, 0,
                                                                                 skip)
        head = [I(cls | op | Source.X, d, s, 1, 0), ja]
        return head + [draw(straight_line_insn().filter(lambda x: len(x) == 1))[0] for _ in range(skip)]
    if form == "x":
        head = I(cls | op | Source.X, d, s, skip, 0)
    else:
        head = I(cls | op | Source.K, d, 0, skip, draw(st.sampled_from(IMMS)))
    return [head] + [draw(straight_line_insn().filter(lambda x: len(x) == 1))[0] for _ in range(skip)]


RELEASE = kernel_major_minor()


@st.composite
def random_programs(draw) -> Program:
    # only instructions the kernel under test decodes: the matrix runs this on 6.1, which predates cpu v4 (6.6)
    decodable = straight_line_insn().filter(lambda chunk: kernel_takes(chunk, RELEASE))
    body = [i for chunk in draw(st.lists(decodable, min_size=1, max_size=30)) for i in chunk]
    size = 8 * NINPUT + 8 * len(WORK_REGS)
    prologue = [
        I(InsnClass.LDX | Mode.MEM | Size.W, 2, 1, 0), I(InsnClass.LDX | Mode.MEM | Size.W, 3, 1, 4),
        I(ALU64 | AluOp.MOV | Source.X, 6, 2), I(ALU64 | AluOp.ADD, 2, 0, 0, size),
    ]
    init = [I(InsnClass.LDX | Mode.MEM | Size.DW, r, 6, 8 * k) for k, r in enumerate(WORK_REGS)]
    init += [I(InsnClass.STX | Mode.MEM | Size.DW, 10, r, -8 * (k + 1)) for k, r in enumerate(WORK_REGS[:4])]
    out = [I(InsnClass.STX | Mode.MEM | Size.DW, 6, r, 8 * NINPUT + 8 * k) for k, r in enumerate(WORK_REGS)]
    rest = init + body + out
    guard = I(InsnClass.JMP | JmpOp.JGT | Source.X, 2, 3, len(rest), 0)
    return Program(prologue + [guard] + rest + [I(ALU64 | AluOp.MOV, 0, 0, 0, XDP_PASS), I(OP_EXIT)],
                   prog_type=_xdp())


interesting_u64 = st.one_of(st.sampled_from(VALUES), st.integers(0, M64))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=random_programs(), inputs=st.lists(interesting_u64, min_size=NINPUT, max_size=NINPUT))
def test_random_programs_match_the_kernel(program: Program, inputs: list[int]) -> None:
    packet = struct.pack(f"<{NINPUT}Q", *inputs) + bytes(8 * len(WORK_REGS))
    k_ret, k_pkt = kernel_run(program, packet)
    for engine in ENGINES:
        assert vm_run(program, packet, engine) == (k_ret, k_pkt), engine
