"""Control flow, calls, tail calls, budgets, faults, maps, helpers and contexts on both engines, and a
hypothesis check that the two engines agree on random programs (r0, memory, instruction count, fault position)."""
from __future__ import annotations

import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.abi.opcodes import MAX_CALL_FRAMES
from pyebpf.errors import VmError
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.vm import VM, RunResult, run
from pyebpf.vm.memory import KIND_CTX, KIND_PACKET
from pyebpf.vm.runtime import MAX_TAIL_CALL_CNT

ENGINES = ("interp", "compiled")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def asm(text: str, **kw) -> Program:
    return pyebpf.assemble(text, **kw)


def run_both(program: Program, **kw) -> RunResult:
    """Run on both engines, check they agree on everything, return the interpreter's result."""
    results = []
    for e in ENGINES:
        run_kw = {k: v for k, v in kw.items() if k in ("mem", "packet", "ctx")}
        vm_kw = {k: v for k, v in kw.items() if k not in run_kw}
        results.append(VM(program, engine=e, **vm_kw).run(**run_kw))
    a, b = results
    assert (a.r0, a.insns, a.mem, a.packet) == (b.r0, b.insns, b.mem, b.packet)
    return a


# ---- public API ---------------------------------------------------------------------------------------------------

def test_facade_names() -> None:
    assert pyebpf.VM is VM and pyebpf.RunResult is RunResult and pyebpf.run is run
    assert run(asm("r0 = *(u32 *)(r1 + 0)\nexit"), mem=struct.pack("<I", 77)) == 77


def test_program_from_bytes_and_text(engine: str) -> None:
    prog = asm("r0 = 42\nexit")
    assert VM(prog.to_bytes(), engine=engine).run().r0 == 42
    assert VM("r0 = 43\nexit", engine=engine).run().r0 == 43


def test_unknown_engine() -> None:
    with pytest.raises(VmError, match="unknown engine"):
        VM(asm("exit"), engine="jit")


def test_mem_is_a_private_copy(engine: str) -> None:
    mem = bytearray(b"\x01\x02\x03\x04")
    res = VM(asm("*(u8 *)(r1 + 0) = 9\nr0 = r2\nexit"), engine=engine).run(mem=bytes(mem))
    assert res.r0 == 4 and res.mem == b"\x09\x02\x03\x04" and mem[0] == 1


# ---- control flow -------------------------------------------------------------------------------------------------

def test_gotol_and_ja(engine: str) -> None:
    prog = Program([I(0x06, 0, 0, 0, 2), I(0xB7, 0, 0, 0, 1), I(0x95), I(0xB7, 0, 0, 0, 7), I(0x05, 0, 0, -3, 0)])
    res = VM(prog, engine=engine).run()
    assert res.r0 == 7 and res.insns == 4


def test_budget_stops_runaway(engine: str) -> None:
    prog = asm("r0 = 0\nloop:\nr0 += 1\ngoto loop\nexit")
    with pytest.raises(VmError, match="budget of 1000 exhausted") as ei:
        VM(prog, engine=engine, max_insns=1000).run()
    assert ei.value.pc in (1, 2)
    with pytest.raises(VmError, match="budget of 1000000"):
        VM(prog, engine=engine).run()


def test_budget_counts_exactly(engine: str) -> None:
    prog = asm("r0 = 3\nloop:\nr0 -= 1\nif r0 != 0 goto loop\nexit")  # 1 + 3*2 + 1 = 8 instructions
    assert VM(prog, engine=engine, max_insns=8).run().insns == 8
    with pytest.raises(VmError, match="budget"):
        VM(prog, engine=engine, max_insns=7).run()


def test_may_goto_budget(engine: str) -> None:
    # loop: may_goto out; r0 += 1; goto loop; out: exit  -- counts how many times may_goto let the loop continue
    prog = Program([I(0xB7, 0, 0, 0, 0), I(0xE5, 0, 0, 2, 0), I(0x07, 0, 0, 0, 1), I(0x05, 0, 0, -3, 0), I(0x95)])
    assert VM(prog, engine=engine, may_goto_budget=100).run().r0 == 100
    assert VM(prog, engine=engine, may_goto_budget=0).run().r0 == 0


def test_jump_out_of_program_faults_when_taken(engine: str) -> None:
    prog = Program([I(0xB7, 0, 0, 0, 1), I(0x15, 0, 0, 100, 0), I(0x95), I(0x05, 0, 0, 50, 0)])
    assert VM(prog, engine=engine).run().r0 == 1  # branch not taken
    prog2 = Program([I(0xB7, 0, 0, 0, 0), I(0x15, 0, 0, 100, 0), I(0x95)])
    with pytest.raises(VmError, match="outside the program") as ei:
        VM(prog2, engine=engine).run()
    assert ei.value.pc == 1


def test_fall_off_the_end(engine: str) -> None:
    with pytest.raises(VmError, match="fell off the end"):
        VM(Program([I(0xB7, 0, 0, 0, 1)]), engine=engine).run()


def test_jump_into_lddw_faults(engine: str) -> None:
    prog = Program([I(0x05, 0, 0, 1, 0), I(0x18, 0, 0, 0, 5), I(0x95)])
    with pytest.raises(VmError, match="lddw|not an instruction start"):
        VM(prog, engine=engine).run()


# ---- bpf-to-bpf calls ---------------------------------------------------------------------------------------------

CALLS = """
    r6 = 6
    r7 = 7
    r8 = 8
    r9 = 9
    *(u64 *)(r10 - 8) = r6
    r1 = 10
    call add_one
    r0 += r6
    r0 += r7
    r0 += r8
    r0 += r9
    r1 = *(u64 *)(r10 - 8)
    r0 += r1
    exit
add_one:
    r6 = 100
    r7 = 100
    r8 = 100
    r9 = 100
    *(u64 *)(r10 - 8) = r6
    r0 = r1
    r0 += 1
    exit
"""


def test_pseudo_call_saves_r6_r9_and_has_own_stack(engine: str) -> None:
    res = run_both(asm(CALLS))
    assert res.r0 == 11 + 6 + 7 + 8 + 9 + 6


def test_call_depth_limit(engine: str) -> None:
    def chain(depth: int) -> str:
        lines = ["r0 = 0", "call f1", "exit"]
        for i in range(1, depth):
            lines += [f"f{i}:", f"call f{i + 1}", "r0 += 1", "exit"]
        lines += [f"f{depth}:", "r0 = 1", "exit"]
        return "\n".join(lines)

    assert VM(asm(chain(MAX_CALL_FRAMES - 1)), engine=engine).run().r0 == MAX_CALL_FRAMES - 1  # 8 frames in all
    with pytest.raises(VmError, match="call stack too deep"):
        VM(asm(chain(MAX_CALL_FRAMES)), engine=engine).run()


def test_stack_frames_are_separate_regions(engine: str) -> None:
    # the callee reads above its own frame (into the caller's): the kernel forbids it, the VM faults
    prog = asm("call f\nexit\nf:\nr0 = *(u64 *)(r10 + 0)\nexit")
    with pytest.raises(VmError, match="outside stack frame 1|not mapped"):
        VM(prog, engine=engine).run()


# ---- helpers ------------------------------------------------------------------------------------------------------

def test_helper_by_id_and_by_name(engine: str) -> None:
    seen = []

    def fake_time(m, r1, r2, r3, r4, r5):
        seen.append((m.pc, r1))
        return -1  # masked to u64

    prog = asm("r1 = 5\ncall 5\nexit")
    assert VM(prog, engine=engine, helpers={5: fake_time}).run().r0 == (1 << 64) - 1
    assert VM(prog, engine=engine, helpers={"bpf_ktime_get_ns": fake_time}).run().r0 == (1 << 64) - 1
    assert seen == [(1, 5), (1, 5)]


def test_unknown_helper_is_a_clear_error(engine: str) -> None:
    with pytest.raises(VmError, match="unknown helper 9999") as ei:
        VM(Program([I(0xB7, 0, 0, 0, 0), I(0x85, 0, 0, 0, 9999), I(0x95)]), engine=engine).run()
    assert ei.value.pc == 1
    with pytest.raises(VmError, match="unknown helper name"):
        VM(asm("exit"), helpers={"no_such_helper": lambda *a: 0})


@pytest.mark.parametrize("encoding", ["dst", "imm"])
def test_callx_register_in_dst_or_imm(engine: str, encoding: str) -> None:
    callx = I(0x8D, 2, 0, 0, 0) if encoding == "dst" else I(0x8D, 0, 0, 0, 2)
    prog = Program([I(0xB7, 1, 0, 0, 41), I(0xB7, 2, 0, 0, 5), callx, I(0x07, 0, 0, 0, 1), I(0x95)])
    assert VM(prog, engine=engine, helpers={5: lambda m, r1, *_: r1}).run().r0 == 42


def test_helper_runs_a_callback(engine: str) -> None:
    # a helper that calls the function pointer in r1 for i in 0..r2-1, summing the results (like bpf_loop)
    def loop(m, r1, r2, r3, r4, r5):
        return sum(m.call_function(r1, i, r3) for i in range(r2))

    prog = asm("r1 = cb ll\nr2 = 5\nr3 = 10\ncall 181\nexit\ncb:\nr0 = r1\nr0 *= r2\nexit")
    res = VM(prog, engine=engine, helpers={181: loop}).run()
    assert res.r0 == 10 * (0 + 1 + 2 + 3 + 4)


def test_default_bpf_loop_and_map_helpers(engine: str) -> None:
    spec = MapSpec.of("counts", "array", 4, 8, 4)
    prog = asm("""
        r1 = 3
        r2 = cb ll
        r3 = 0
        r4 = 0
        call bpf_loop
        r6 = r0
        *(u32 *)(r10 - 4) = 2
        r1 = map[counts] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = *(u64 *)(r0 + 0)
        r6 += r1
    out:
        r0 = r6
        exit
    cb:
        *(u32 *)(r10 - 4) = 2
        r1 = map[counts] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto cbout
        r1 = 5
        lock *(u64 *)(r0 + 0) += r1
    cbout:
        r0 = 0
        exit
    """, maps=[spec])
    vm = VM(prog, engine=engine)
    assert vm.run().r0 == 3 + 15
    assert vm.maps["counts"][2] == 15
    assert vm.run().r0 == 3 + 30  # maps persist across runs of one VM


def test_lddw_map_value_stores_change_the_map(engine: str) -> None:
    spec = MapSpec.of("cfg", "array", 4, 16, 1)
    prog = Program([I(0x18, 1, 2, 0, 8 << 32, ref="cfg"), I(0x7A, 1, 0, 0, 0x77), I(0x79, 0, 1, -8, 0), I(0x95)],
                   maps={"cfg": spec})
    vm = VM(prog, engine=engine)
    vm.maps["cfg"][0] = b"\x05" + bytes(15)
    res = vm.run()
    assert res.r0 == 5
    assert vm.maps["cfg"][0] == b"\x05" + bytes(7) + b"\x77" + bytes(7)


def test_map_handle_is_not_dereferenceable(engine: str) -> None:
    spec = MapSpec.of("m", "hash", 4, 8, 4)
    prog = asm("r1 = map[m] ll\nr0 = *(u64 *)(r1 + 0)\nexit", maps=[spec])
    with pytest.raises(VmError, match="invalid memory access") as ei:
        VM(prog, engine=engine).run()
    assert ei.value.pc == 2


# ---- tail calls ---------------------------------------------------------------------------------------------------

def test_tail_calls_and_limit(engine: str) -> None:
    jt = MapSpec.of("jt", "prog_array", 4, 4, 4)
    counter = MapSpec.of("cnt", "array", 4, 8, 1)
    # the program tail-calls itself through slot 0 and counts how often it ran
    prog = asm("""
        r6 = r1
        *(u32 *)(r10 - 4) = 0
        r1 = map[cnt] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r1 = r6
        r2 = map[jt] ll
        r3 = 0
        call bpf_tail_call
    out:
        r0 = 7
        exit
    """, maps=[jt, counter])
    vm = VM(prog, engine=engine)
    vm.maps["jt"][0] = vm.prog_fd(prog)
    res = vm.run(mem=b"\0" * 8)
    assert res.r0 == 7
    assert vm.maps["cnt"][0] == MAX_TAIL_CALL_CNT + 1  # the first run plus 33 tail calls
    del vm.maps["jt"][0]
    vm.maps["cnt"][0] = 0
    vm.run(mem=b"\0" * 8)
    assert vm.maps["cnt"][0] == 1  # empty slot: the call falls through


def test_tail_call_switches_program(engine: str) -> None:
    jt = MapSpec.of("jt", "prog_array", 4, 4, 2)
    target = asm("r0 = *(u32 *)(r1 + 0)\nr0 += 1000\nexit")
    main = asm("r2 = map[jt] ll\nr3 = 1\ncall bpf_tail_call\nr0 = 1\nexit", maps=[jt])
    vm = VM(main, engine=engine)
    vm.maps["jt"][1] = vm.prog_fd(target)
    res = vm.run(mem=struct.pack("<I", 5))
    assert res.r0 == 1005 and res.insns == 3 + 3


# ---- faults -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,where", [
    ("r1 = 0\nr0 = *(u64 *)(r1 + 0)\nexit", "not mapped"),
    ("r0 = *(u64 *)(r1 + 1)\nexit", "outside mem"),
    ("r0 = *(u8 *)(r1 - 1)\nexit", "not mapped|outside"),
    ("r1 = 12345\n*(u32 *)(r1 + 0) = 1\nexit", "not mapped"),
    ("r0 = *(u64 *)(r10 + 0)\nexit", "outside stack"),
    ("r0 = *(u64 *)(r10 - 520)\nexit", "not mapped|outside"),
])
def test_memory_faults(engine: str, text: str, where: str) -> None:
    with pytest.raises(VmError, match=where) as ei:
        VM(asm(text), engine=engine).run(mem=bytes(8))
    assert ei.value.pc is not None and ei.value.insn_text and ei.value.address is not None


def test_strict_alignment_option(engine: str) -> None:
    prog = asm("r0 = *(u32 *)(r1 + 2)\nexit")
    assert VM(prog, engine=engine).run(mem=bytes(8)).r0 == 0
    with pytest.raises(VmError, match="misaligned"):
        VM(prog, engine=engine, strict_alignment=True).run(mem=bytes(8))


class ReadOnlyCtx:
    """A context builder: read-only 8-byte context; the packet region for LD_ABS."""

    def __init__(self, packet: bytes):
        self.packet = packet

    def materialize(self, m) -> int:
        m.packet = m.map_run_region(bytearray(self.packet), "packet", True, KIND_PACKET)
        m.ctx_region = m.map_run_region(bytearray(8), "ctx", False, KIND_CTX)
        return m.ctx_region.base

    def collect(self, m) -> dict:
        return {"packet": bytes(m.packet.data)}


def test_write_to_read_only_ctx(engine: str) -> None:
    with pytest.raises(VmError, match="read-only"):
        VM(asm("*(u32 *)(r1 + 0) = 1\nexit"), engine=engine).run(ctx=ReadOnlyCtx(b""))


# ---- legacy packet loads ------------------------------------------------------------------------------------------

def test_ld_abs_ind_big_endian_and_out_of_bounds(engine: str) -> None:
    pkt = bytes(range(1, 41))
    prog = asm("""
        r6 = r1
        r0 = *(u8 *)skb[0]
        r9 = r0
        r0 = *(u16 *)skb[2]
        r9 <<= 16
        r9 |= r0
        r7 = 4
        r0 = *(u32 *)skb[r7 + 2]
        r9 <<= 32
        r9 |= r0
        r0 = r9
        exit
    """)
    res = VM(prog, engine=engine).run(ctx=ReadOnlyCtx(pkt))
    assert res.r0 == (((0x01 << 16) | 0x0304) << 32) | 0x0708090A
    oob = asm("r6 = r1\nr0 = *(u32 *)skb[38]\nr0 = 5\nexit")
    res = VM(oob, engine=engine).run(ctx=ReadOnlyCtx(pkt))
    assert res.r0 == 0 and res.insns == 2  # ends the program with r0 = 0
    net = asm("r6 = r1\nr0 = *(u8 *)skb[-1048576]\nexit")  # SKF_NET_OFF + 0: first byte after Ethernet
    assert VM(net, engine=engine).run(ctx=ReadOnlyCtx(pkt)).r0 == pkt[14]


# ---- trace and CLI-facing result ----------------------------------------------------------------------------------

def test_trace_lists_changed_registers(engine: str) -> None:
    res = VM(asm("r0 = 1\nr1 = r0\nr1 += 2\nexit"), engine=engine).run(trace=True)
    assert [(s.pc, s.changed) for s in res.trace] == [(0, {0: 1}), (1, {1: 1}), (2, {1: 3}), (3, {})]
    assert res.insns == 4


# ---- the two engines agree on random programs ---------------------------------------------------------------------

def _programs() -> st.SearchStrategy:
    from pyebpf.testing.strategies import instructions

    body = st.lists(instructions(kernel=False, calls=False), min_size=1, max_size=20)
    return body.map(lambda b: Program([I(0xBF, 6, 1, 0, 0)] + [i for i in b if not i.is_exit] + [I(0x95)]))


@settings(max_examples=300, deadline=None)
@given(program=_programs(), mem=st.binary(min_size=64, max_size=64))
def test_engines_agree_on_random_programs(program: Program, mem: bytes) -> None:
    outcomes = []
    for e in ENGINES:
        try:
            r = VM(program, engine=e, max_insns=5000).run(mem=mem)
            outcomes.append(("ok", r.r0, r.insns, r.mem))
        except VmError as err:
            outcomes.append(("fault", err.message.split(" at ")[0], err.pc))
    if outcomes[0][0] == "fault" and "budget" in outcomes[0][1]:
        assert outcomes[1][0] == "fault" and "budget" in outcomes[1][1]
        return
    assert outcomes[0] == outcomes[1]


def test_a_crashing_helper_becomes_a_vm_error(engine: str) -> None:
    def broken(m, *regs):
        return {}["missing"]

    with pytest.raises(VmError, match="KeyError") as ei:
        VM(asm("r0 = 1\ncall 7\nexit"), engine=engine, helpers={7: broken}).run()
    assert ei.value.pc == 1


@settings(max_examples=200, deadline=None)
@given(program=st.deferred(lambda: _control_programs()), mem=st.binary(min_size=64, max_size=64))
# a callee reading r0 before writing it: both engines give it a fresh register file
@example(program=Program([I(0x04, 0, 0, 0, 1), I(0x85, 0, 1, 0, 0), I(0x95)]),
         mem=bytes(64))
def test_engines_agree_on_random_control_flow(program: Program, mem: bytes) -> None:
    """Loops, calls, may_goto and every branch form: same r0, count, memory and fault position on both engines."""
    outcomes = []
    for e in ENGINES:
        try:
            r = VM(program, engine=e, max_insns=3000, may_goto_budget=50,
                   helpers={i: (lambda m, r1, r2, r3, r4, r5: (r1 * 31 + r2) & 0xFFFF) for i in range(1, 220)}
                   ).run(mem=mem)
            outcomes.append(("ok", r.r0, r.insns, r.mem))
        except VmError as err:
            outcomes.append(("fault", err.message.split(" at ")[0], err.pc))
    if outcomes[0][0] == "fault" and "budget" in outcomes[0][1]:
        assert outcomes[1][0] == "fault" and "budget" in outcomes[1][1]
        return
    assert outcomes[0] == outcomes[1]


def _control_programs() -> st.SearchStrategy:
    from pyebpf.testing.strategies import programs

    return programs(kernel=True, max_size=25)


def test_speed_benchmark_runs() -> None:
    """Smoke test of benchmarks/vm_speed.py (its figures are not checked here: speed is measured, not tested)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "vm_speed.py"
    out = subprocess.run([sys.executable, str(script), "--seconds", "0.05", "--no-kernel"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("ALU/branch loop", "packet parser", "map-heavy loop"):
        assert name in out.stdout
    assert out.stdout.count("engines agree") == 3
