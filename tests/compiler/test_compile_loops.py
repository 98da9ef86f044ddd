"""`for` loops over large or unknown counts (pyfront/loops.py): compiled to a bpf_loop callback, a may_goto loop or
a bounded loop by the target's features; each agrees with the same function run as plain Python, on both VM
engines and in the kernel (BPF_PROG_TEST_RUN of the raw tracepoint)."""
from __future__ import annotations

import types

import pytest
from hypothesis import given, settings, strategies as st

import loop_probes as lp
from pyebpf.abi.opcodes import OP_MAY_GOTO
from pyebpf.abi.helpers import HelperId
from pyebpf.errors import CompileError
from pyebpf.probe import Probe, u64

ALL = {"sum": lp.SUM, "stepped": lp.STEPPED, "struct": lp.STRUCT, "small": lp.SMALL, "maps": lp.MAPS}
FNS = {"sum": lp.sum_loop, "stepped": lp.stepped, "struct": lp.struct_local, "small": lp.small_masked,
       "maps": lp.map_in_loop}


def _python(fn, args) -> tuple[int, dict[int, int]]:
    """The probe function run as Python (u32()/s64() wrap as casts do; `res` is the map object)."""
    lp.res.clear()
    lp.cells.clear()
    r = fn(types.SimpleNamespace(args=list(args)))
    return r, {k: v for k, v in lp.res.items() if v}


def _vm(probe, args, engine) -> tuple[int, dict[int, int]]:
    lp.res.clear()
    lp.cells.clear()
    r = probe.run(args=list(args), engine=engine)
    return r.r0, {k: v for k, v in lp.res.items() if v}


def _shape(probe) -> str:
    prog = probe.program
    if any(i.opcode == OP_MAY_GOTO for i in prog.instructions):
        return "may_goto"
    if any(i.is_call and i.imm == HelperId.LOOP for i in prog.instructions):
        return "bpf_loop"
    return "bounded"


def test_strategy_follows_the_features_and_the_body():
    assert {k: _shape(p) for k, p in lp.SUM.items()} == {"bpf_loop": "bpf_loop", "may_goto": "may_goto",
                                                          "bounded": "bounded"}
    # a struct local of the probe cannot go into a callback: may_goto when there, else the bounded loop
    assert {k: _shape(p) for k, p in lp.STRUCT.items()} == {"bpf_loop": "bounded", "may_goto": "may_goto",
                                                             "bounded": "bounded"}
    # n & 1023: the verifier walks at most 1023 iterations, so it stays a bounded loop
    assert {_shape(p) for p in lp.SMALL.values()} == {"bounded"}
    assert [n for n, _ in lp.SUM["bpf_loop"].compiled.functions] == ["sum_loop", "sum_loop_for21"]


args_sum = st.tuples(st.integers(0, 1500), st.integers(0, 1 << 20), st.integers(0, 2000))
args_stepped = st.tuples(st.integers(-2000, 2000), st.integers(-2000, 2000))


@settings(max_examples=15)
@given(args=args_sum, strategy=st.sampled_from(sorted(lp.STRATEGIES)), engine=st.sampled_from(["interp",
                                                                                                 "compiled"]))
def test_sum_loop_agrees_with_python(args, strategy, engine):
    assert _vm(lp.SUM[strategy], args, engine) == _python(lp.sum_loop, args)


@pytest.mark.parametrize("engine", ["interp", "compiled"])
@pytest.mark.parametrize("strategy", sorted(lp.STRATEGIES))
def test_map_changed_in_the_loop_is_read_again(strategy, engine):
    assert _vm(lp.MAPS[strategy], (1500,), engine) == _python(lp.map_in_loop, (1500,)) == (0, {6: 5, 7: 1599})


@settings(max_examples=15)
@given(args=args_stepped, strategy=st.sampled_from(sorted(lp.STRATEGIES)))
def test_stepped_loop_agrees_with_python(args, strategy):
    got = _vm(lp.STEPPED[strategy], args, "interp")
    r, want = _python(lp.stepped, args)
    assert got == (r, {k: v & ((1 << 64) - 1) for k, v in want.items()})


@pytest.mark.parametrize("strategy", ["bpf_loop", "may_goto"])
def test_our_verifier_accepts_loops_over_unknown_counts(strategy):
    from pyebpf.probe.probe import _kernel_loop_features

    if strategy not in _kernel_loop_features():  # pyebpf's verifier models the running kernel's release
        pytest.skip(f"the running kernel has no {strategy}")
    assert lp.SUM[strategy].verify()
    assert lp.STEPPED[strategy].verify()


@pytest.mark.kernel
def test_bounded_loop_over_unknown_count_is_refused_by_the_kernel():
    """Without bpf_loop and may_goto the verifier must walk up to 2**32 iterations: the kernel refuses it, which is
    why the other two strategies exist."""
    from pyebpf.errors import LoaderError, VerifierError

    with pytest.raises((LoaderError, VerifierError)) as e:
        with lp.SUM["bounded"].load(attach=False, verify=False):
            pass
    assert "loop_probes.py:" in str(e.value)


CASES = [("sum", (100, 3, 50)), ("sum", (3000, 1 << 20, 4000)), ("sum", (0, 5, 5)), ("stepped", (10, -5)),
         ("stepped", (-7, 2000)), ("struct", (5000,)), ("small", (70000,)), ("maps", (1500,))]


@pytest.mark.kernel
@pytest.mark.parametrize("strategy", ["bpf_loop", "may_goto"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{'-'.join(map(str, c[1]))}")
def test_kernel_agrees_with_python(case, strategy):
    from pyebpf.probe.probe import _kernel_loop_features

    if strategy not in _kernel_loop_features():
        pytest.skip(f"this kernel has no {strategy}")
    name, args = case
    if name == "maps" and strategy == "may_goto":
        pytest.skip("`if i == 0` makes i precise: the verifier walks every may_goto iteration (bpf_loop verifies it)")
    probe = ALL[name][strategy]
    r, want = _python(FNS[name], args)
    lp.res.clear()
    lp.cells.clear()
    with probe.load(attach=False) as loaded:
        got = loaded.run(args=list(args))
        kernel = {k: v for k, v in lp.res.items() if v}
    assert got.retval == r & 0xFFFFFFFF
    assert kernel == {k: v & ((1 << 64) - 1) for k, v in want.items()}


def test_constant_count_past_bpf_loop_limit_is_a_compile_error():
    def huge(ctx):
        t: u64 = 0  # noqa: F821 - compiled, not run
        for i in range(20000000):
            t += i
        return 0

    p = Probe(huge, "raw_tp/sys_enter", loops={"bpf_loop"})
    with pytest.raises(CompileError) as e:
        p.compile()
    assert "bpf_loop runs at most" in e.value.message and "more than" in e.value.message and e.value.line and e.value.column
