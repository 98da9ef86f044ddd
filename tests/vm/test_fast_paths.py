"""The VM's per-run shortcuts change no result: each run sees a fresh machine, results built lazily read the same
as eager ones, a direct call of a compiled program faults as run_main does, and pyebpf.run's reused VMs behave as
fresh ones."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyebpf
from pyebpf.abi.uapi import XdpAction
from pyebpf.errors import VmError
from pyebpf.isa.program import Program
from pyebpf.vm import VM, RunResult, run

ENGINES = ("interp", "compiled")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def test_stack_is_fresh_after_a_writing_run(engine: str) -> None:
    # reads the slot before writing it: every run must see zero, however many runs wrote it before
    vm = VM(pyebpf.assemble("r0 = *(u64 *)(r10 - 8)\nr1 = 7\n*(u64 *)(r10 - 8) = r1\nexit"), engine=engine)
    assert [vm.run().r0 for _ in range(3)] == [0, 0, 0]


def test_register_only_program_repeats_and_faults_with_its_instruction(engine: str) -> None:
    vm = VM(pyebpf.assemble("r0 = 5\nr1 = 16\nr0 = *(u32 *)(r1 + 0)\nexit"), engine=engine)
    for _ in range(2):  # the second run takes whatever shortcut the first one set up
        with pytest.raises(VmError) as ei:
            vm.run()
        assert ei.value.pc == 2 and "r1" in ei.value.insn_text and ei.value.address == 16
    ok = VM(pyebpf.assemble("r0 = 5\nr0 *= 3\nexit"), engine=engine)
    assert [(r.r0, r.insns) for r in (ok.run(), ok.run())] == [(15, 3), (15, 3)]


def test_budget_error_on_the_direct_path(engine: str) -> None:
    vm = VM(pyebpf.assemble("l:\nr0 += 1\ngoto l"), engine=engine, max_insns=1000)
    for _ in range(2):
        with pytest.raises(VmError, match="budget of 1000"):
            vm.run()


def test_lazy_results_read_as_eager_ones(engine: str) -> None:
    # rewrites the first packet byte with its length; results are read only after later runs
    prog = pyebpf.assemble("""
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 1
        if r4 > r3 goto out
        r5 = r3
        r5 -= r2
        *(u8 *)(r2 + 0) = r5
    out:
        r0 = 2
        exit
    """)
    vm = VM(prog, engine=engine)
    results = [vm.run(packet=bytes(n)) for n in (3, 5, 9)]
    fresh = VM(prog, engine=engine).run(packet=bytes(5), trace=True)  # the full path, built eagerly
    assert [r.packet for r in results] == [b"\x03" + bytes(2), b"\x05" + bytes(4), b"\x09" + bytes(8)]
    assert results[1].packet == fresh.packet and results[1].ctx == fresh.ctx
    assert all(r.action is XdpAction.PASS and r.printk == [] and r.trace is None and r.mem is None
               for r in results)
    assert isinstance(results[0], RunResult) and results[0] == results[0] and "packet=b'\\x03" in repr(results[0])
    with pytest.raises(AttributeError):
        results[0].no_such_field


def test_printk_belongs_to_the_run_that_printed(engine: str) -> None:
    prog = pyebpf.assemble("""
        if r1 == 0 goto out
        r1 = 0x0a6968
        *(u32 *)(r10 - 4) = r1
        r1 = r10
        r1 += -4
        r2 = 4
        call bpf_trace_printk
    out:
        r0 = 0
        exit
    """)
    vm = VM(prog, engine=engine)
    loud = vm.run(mem=b"x")
    quiet = vm.run()
    again = vm.run(mem=b"y")
    assert loud.printk == ["hi\n"] and quiet.printk == [] and again.printk == ["hi\n"]


def test_run_reuses_vms_only_where_a_fresh_one_gives_the_same_answer() -> None:
    pure = pyebpf.assemble("r0 = *(u8 *)(r1 + 0)\nr0 += 1\nexit")
    assert [run(pure, mem=b"\x05"), run(pure, mem=b"\x09"), run(pure, mem=b"\x05")] == [6, 10, 6]
    pure.instructions[1] = pyebpf.assemble("r0 += 2").instructions[0]  # same object, new content: new answer
    assert run(pure, mem=b"\x05") == 7
    # helpers see the environment: each call starts from a fresh one (same first random number, same clock)
    rand = pyebpf.assemble("call bpf_get_prandom_u32\nexit")
    clock = pyebpf.assemble("call bpf_ktime_get_ns\nexit")
    assert run(rand) == run(rand) == VM(rand).run().r0
    assert run(clock) == run(clock)
    assert run("r0 = 3\nr0 <<= 2\nexit", engine="compiled") == run("r0 = 3\nr0 <<= 2\nexit") == 12
    assert run(Program(list(pure.instructions)), mem=b"\x01") == 3
    with pytest.raises(VmError, match="budget of 2"):
        run(pure, max_insns=2, mem=b"\x01")


def test_run_with_no_packet_on_a_fresh_vm_keeps_output_working() -> None:
    prog = pyebpf.assemble("""
        r1 = 0x0a6968
        *(u32 *)(r10 - 4) = r1
        r1 = r10
        r1 += -4
        r2 = 4
        call bpf_trace_printk
        exit
    """)
    assert VM(prog).run().printk == ["hi\n"]


def test_auto_engine_tiers_up_without_changing_results() -> None:
    from pyebpf.vm.compiler import Tiered

    loop = pyebpf.assemble("r0 = 0\nr1 = 300\nl:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto l\nexit")
    short = pyebpf.assemble("r0 = *(u8 *)(r1 + 0)\nr0 *= 3\nexit")
    vm, ref = VM(loop, engine="auto"), VM(loop)
    engine = vm.machine.engine_for(vm.program) if vm.run() else None
    assert isinstance(engine, Tiered) and engine.compiled is None  # one run of a hot loop: interpreted
    assert [(r.r0, r.insns) for r in (vm.run(), vm.run())] == [(ref.run().r0, ref.run().insns)] * 2
    assert engine.compiled is not None  # ... and compiled from the second run on
    vm2 = VM(short, engine="auto")
    results = [vm2.run(mem=bytes([i])).r0 for i in range(Tiered.HOT_RUNS + 5)]
    assert results == [3 * i for i in range(Tiered.HOT_RUNS + 5)]
    assert vm2.machine.engine_for(vm2.program).compiled is not None and vm2.machine.direct is not None
    with pytest.raises(VmError) as ei:
        vm2.run()  # r1 = 0: the compiled direct path faults as the interpreter does
    assert ei.value.pc == 0 and ei.value.address == 0


def test_kept_run_regions_leave_earlier_results_and_fault_stale_pointers(engine: str) -> None:
    """run(mem=) and the XDP context rebind regions the machine keeps from the last run: an earlier result still
    reads its own memory, and a pointer kept (in a map) from an earlier run faults in a run that maps none."""
    from pyebpf.abi.maps import MapSpec

    spec = MapSpec.of("keep", "array", 4, 8, 1)
    prog = pyebpf.assemble("""
        r6 = r1
        *(u32 *)(r10 - 4) = 0
        r1 = map[keep]
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        if r6 == 0 goto stale
        *(u64 *)(r0 + 0) = r6
        r1 = *(u8 *)(r6 + 0)
        r1 += 1
        *(u8 *)(r6 + 0) = r1
        r0 = 1
        exit
    stale:
        r1 = *(u64 *)(r0 + 0)
        r0 = *(u8 *)(r1 + 0)
        exit
    out:
        r0 = 0
        exit
    """, maps={"keep": spec})
    vm = VM(prog, engine=engine)
    first, second = vm.run(mem=b"\x07\x00"), vm.run(mem=b"\x10\x20\x30")
    assert (first.mem, second.mem) == (b"\x08\x00", b"\x11\x20\x30")
    with pytest.raises(VmError, match="invalid memory access"):
        vm.run()


def _stack_program() -> Program:
    """Stores and loads of every size at aligned and unaligned fixed frame offsets, signed loads, in the main frame
    and in a subprogram's frame (depth 1), folded into r0."""
    body = []
    for off, size, value in ((8, "u64", "r6"), (12, "u32", "r6"), (13, "u8", "r6"), (18, "u16", "r6"),
                             (23, "u32", "r6"), (30, "u16", "r6"), (40, "u64", "0x7fffffff"), (44, "u32", "-2"),
                             (46, "u16", "-3"), (47, "u8", "-4")):
        body.append(f"*({size} *)(r10 - {off}) = {value}")
    for off, size in ((8, "u64"), (12, "u32"), (13, "u8"), (18, "u16"), (23, "u32"), (30, "u16"), (40, "u64"),
                      (44, "s32"), (46, "s16"), (47, "s8"), (16, "u64"), (24, "s32")):
        body += [f"r1 = *({size} *)(r10 - {off})", "r0 *= 31", "r0 ^= r1"]
    text = "\n".join(["r6 = 0x1122334455667788 ll", "r0 = 7", *body, "call sub", "r0 += r7", "exit",
                      "sub:", "r6 = 0x0102030405060708 ll", "r0 = 3", *body, "r7 = r0", "exit"])
    return pyebpf.assemble(text)


@pytest.mark.parametrize("strict", [False, True])
def test_fixed_frame_stack_views_read_as_the_interpreter(strict: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled engine's stack accesses through the frame's u16/u32/u64 views (aligned offsets) and struct
    calls (unaligned, or a big-endian host: views None) give the interpreter's results."""
    from pyebpf.vm import compiler
    from pyebpf.vm.compiler import clear_code_cache
    from pyebpf.vm.runtime import Machine

    program = _stack_program()
    want = VM(program, engine="interp", strict_alignment=strict)
    try:
        expected = want.run().r0
    except VmError as e:
        expected = ("fault", e.pc)
    got = []
    for views in (True, False):
        clear_code_cache()
        if not views:
            monkeypatch.setattr(Machine, "stack_views", property(lambda self: None))
        vm = VM(program, engine="compiled", strict_alignment=strict)
        try:
            got.append(vm.run().r0)
        except VmError as e:
            got.append(("fault", e.pc))
        sources = [code.source for code in compiler._CODE_CACHE.values()]
        assert sources and all(("S8[" in src) == views for src in sources)
    clear_code_cache()
    assert got == [expected, expected]


@settings(max_examples=300, deadline=None)
@given(opcode=st.integers(0, 255), dst=st.integers(0, 9), src=st.integers(0, 9),
       off=st.sampled_from([0, 1, 8, 16, 32, -1, 7]), imm=st.sampled_from([0, 1, 16, 32, 64, -1, 31, 63, 0x7FFFFFFF]),
       regs=st.lists(st.integers(0, (1 << 64) - 1), min_size=10, max_size=10))
def test_interpreter_plans_build_what_a_cold_plan_builds(opcode: int, dst: int, src: int, off: int, imm: int,
                                                          regs: list[int]) -> None:
    """The interpreter looks each ALU/jump opcode's closure factory up in a memo (interp._ALU_PLANS/_JMP_PLANS):
    a closure made from a remembered plan computes as one made from a plan built afresh (values, next pc, fault)."""
    from pyebpf.isa.instruction import Instruction
    from pyebpf.vm import interp

    insn = Instruction(opcode, dst, src, off, imm)
    if opcode & 0x07 in (0x04, 0x07):
        make = lambda: interp._alu_op(insn, 5)  # noqa: E731
    elif opcode & 0x07 in (0x05, 0x06) and opcode & 0xF0 in interp._COND_OPS:
        make = lambda: interp._jmp_op(insn, 5, 9)  # noqa: E731
    else:
        return

    def outcome(op: object) -> tuple:
        r = [*regs, 0, [], 0]
        try:
            return ("ok", op(r), r[:10])  # type: ignore[operator]
        except VmError as e:
            return ("fault", e.message)

    interp._ALU_PLANS.clear()
    interp._JMP_PLANS.clear()
    cold = outcome(make())
    assert outcome(make()) == cold  # now from the memo
