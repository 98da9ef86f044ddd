"""Generated programs: our verdict must be the running kernel's on every one.

Programs are strung together from blocks that sit near the verifier's edges — ALU with odd shifts and divisions,
branches on scalars, stack spills and fills (aligned, misaligned, out of range, pointers), map lookups with and
without null checks, ctx reads and writes at valid and invalid offsets, packet reads with and without a data_end
check, bounded loops, pointer returns and comparisons — for socket filters (privileged and not), XDP and tc.
An accept where the kernel rejects is a soundness bug; a reject where it accepts is a precision bug: both fail.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import Case
from cases.known import known_disagreement
from cases.oracle import kernel_verdicts, ours

MAP = ".map m hash key=4 value=8 max_entries=16\n"
REGS = ("r7", "r8", "r9")
ALU_OPS = ("+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=")
JMP_OPS = ("==", "!=", ">", ">=", "<", "<=", "s>", "s<")
#: ctx offsets (size, offset, write?) near each type's valid/invalid boundary
CTX = {
    "socket_filter": [(4, 0, False), (4, 8, False), (4, 8, True), (4, 48, True), (2, 2, False), (4, 76, False),
                      (8, 0, False), (4, 190, False), (4, 68, False), (1, 16, False)],
    "xdp": [(4, 12, False), (4, 16, False), (4, 20, False), (4, 24, False), (2, 12, False), (4, 12, True)],
    "sched_cls": [(4, 0, False), (4, 8, True), (4, 44, True), (4, 72, True), (4, 140, False), (8, 152, False),
                  (4, 2, False), (4, 192, False)],
}
PKT = {"xdp": (0, 4), "sched_cls": (76, 80)}
SIZE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


class Labels:
    def __init__(self):
        self.n = 0

    def new(self) -> str:
        self.n += 1
        return f"L{self.n}"


@st.composite
def alu_block(draw, labels, ptype):
    dst, src = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS))
    op = draw(st.sampled_from(ALU_OPS))
    wide = draw(st.booleans())
    d, s = (dst, src) if wide else ("w" + dst[1:], "w" + src[1:])
    if draw(st.booleans()):
        imm = draw(st.sampled_from([0, 1, 3, 7, 31, 32, 63, 64, -1, 0xff, 0x7fffffff]))
        if op in ("<<=", ">>=", "s>>=") and draw(st.integers(0, 3)):
            imm = draw(st.integers(0, 31))  # mostly valid shifts; sometimes one past the width
        if op in ("/=", "%=") and imm == 0 and draw(st.integers(0, 3)):
            imm = 1  # division by an immediate 0 is refused at once: keep it rare
        return [f"{d} {op} {imm}"]
    return [f"{d} {op} {s}"]


@st.composite
def branch_block(draw, labels, ptype):
    reg = draw(st.sampled_from(REGS))
    op = draw(st.sampled_from(JMP_OPS))
    rhs = draw(st.one_of(st.sampled_from(REGS), st.integers(-4, 300).map(str)))
    skip = labels.new()
    body = draw(st.one_of(alu_block(labels, ptype), stack_block(labels, ptype), ctx_block(labels, ptype)))
    return [f"if {reg} {op} {rhs} goto {skip}", *body, f"{skip}:"]


@st.composite
def stack_block(draw, labels, ptype):
    size = draw(st.sampled_from([1, 2, 4, 8]))
    off = draw(st.sampled_from([8, 16, 24, 40, 64, 8, 16, 4, 12, 512, 520]))
    reg = draw(st.sampled_from(REGS + ("r6", "r10")))
    if draw(st.booleans()):
        return [f"*({SIZE[size]} *)(r10 - {off}) = {reg}"]
    dst = draw(st.sampled_from(REGS + ("r6",)))
    return [f"{dst} = *({SIZE[size]} *)(r10 - {off})"]


@st.composite
def map_block(draw, labels, ptype):
    lines = ["r1 = 0", "*(u32 *)(r10 - 4) = r1", "r2 = r10", "r2 += -4", "r1 = map[m] ll",
             "call bpf_map_lookup_elem"]
    off = draw(st.sampled_from([0, 4, 8, -1]))
    size = draw(st.sampled_from([1, 4, 8]))
    access = [f"r7 = *({SIZE[size]} *)(r0 + {off})"] if draw(st.booleans()) else [f"*({SIZE[size]} *)(r0 + {off}) = r8"]
    if draw(st.integers(0, 3)):  # mostly with the null check
        skip = labels.new()
        op = draw(st.sampled_from(["==", "==", "!="]))
        return lines + [f"if r0 {op} 0 goto {skip}", *access, f"{skip}:"]
    return lines + access


@st.composite
def ctx_block(draw, labels, ptype):
    size, off, write = draw(st.sampled_from(CTX[ptype]))
    if write:
        return [f"*({SIZE[size]} *)(r6 + {off}) = r8"]
    return [f"{draw(st.sampled_from(REGS))} = *({SIZE[size]} *)(r6 + {off})"]


@st.composite
def packet_block(draw, labels, ptype):
    if ptype not in PKT:
        return draw(ctx_block(labels, ptype))
    data, end = PKT[ptype]
    k = draw(st.integers(0, 16))
    size = draw(st.sampled_from([1, 2, 4, 8]))
    off = draw(st.integers(-1, 16))
    lines = [f"r2 = *(u32 *)(r6 + {data})", f"r3 = *(u32 *)(r6 + {end})"]
    access = f"r7 = *({SIZE[size]} *)(r2 + {off})"
    if draw(st.integers(0, 3)):
        skip = labels.new()
        return lines + ["r4 = r2", f"r4 += {k}", f"if r4 > r3 goto {skip}", access, f"{skip}:"]
    return lines + [access]


@st.composite
def loop_block(draw, labels, ptype):
    top = labels.new()
    n = draw(st.integers(1, 12))
    step = draw(st.sampled_from([1, 2, 3]))
    return ["r9 = 0", f"{top}:", f"r9 += {step}", "r8 += r9", f"if r9 < {n} goto {top}"]


@st.composite
def pointer_block(draw, labels, ptype):
    skip = labels.new()
    return draw(st.sampled_from([
        ["r7 = r6"], ["r7 = r10", "r7 += -8"], [f"if r6 == 0 goto {skip}", f"{skip}:"],
        [f"if r6 > r7 goto {skip}", f"{skip}:"], ["r7 = r6", "r7 -= r6"], ["w7 = w6"],
    ]))


BLOCKS = (alu_block, branch_block, stack_block, map_block, ctx_block, packet_block, loop_block, pointer_block)


@st.composite
def generated(draw):
    ptype, privileged = draw(st.sampled_from([("socket_filter", True), ("socket_filter", False), ("xdp", True),
                                              ("sched_cls", True)]))
    labels = Labels()
    lines = ["r6 = r1", "r7 = 0", "r8 = 1"]
    if draw(st.integers(0, 4)):
        lines.append("r9 = 2")
    for _ in range(draw(st.integers(1, 6))):
        block = draw(st.sampled_from(BLOCKS))
        lines += draw(block(labels, ptype))
    ret = draw(st.sampled_from(["r0 = 0", "r0 = 0", "r0 = r7", "r0 = r6", ""]))
    lines += [ret, "exit"] if ret else ["exit"]
    src = MAP + "\n".join(ln if ln.endswith(":") else "  " + ln for ln in lines) + "\n"
    return Case("generated", src, prog_type=ptype, privileged=privileged)


@pytest.mark.kernel
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(generated())
def test_generated_programs_agree_with_kernel(case):
    kern, why = kernel_verdicts([case])
    if case.id not in kern:
        pytest.skip(f"no kernel verdict: {why}")
    k = kern[case.id]
    mine = ours(case)
    if mine.accepted != k.accepted:
        known = known_disagreement(case.program(), mine, k)
        if known:
            pytest.xfail(known)
    if mine.accepted and not k.accepted:
        pytest.fail(f"SOUNDNESS: we accept, the kernel rejects ({k.message!r})\n{case.source}")
    assert mine.accepted == k.accepted, (
        f"precision: we reject with {mine.message!r}, the kernel accepts\n{case.source}")


def test_generator_reaches_both_verdicts():
    """The generator is worth running only if it makes both accepted and rejected programs (our verdicts)."""
    seen = set()

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(generated())
    def collect(case):
        seen.add(ours(case).accepted)

    collect()
    assert seen == {True, False}
