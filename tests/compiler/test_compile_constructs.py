"""Every construct compiled, run on both VM engines and in the kernel (BPF_PROG_TEST_RUN), with the same results."""
from __future__ import annotations

import pytest

import compile_cases as cases
from compile_cases import CASES, out

ALL_MAPS = [out, cases.counts, cases.signed_vals, cases.lru, cases.pcpu, cases.pch, cases.by_key, cases.stats]


def _snapshot(names) -> dict[str, list]:
    """Map contents, per-CPU values summed (the VM runs on CPU 0 of 1, the kernel's test run on any CPU)."""
    return {m.name: sorted((k, sum(v) if isinstance(v, list) else v) for k, v in m.items())
            for m in ALL_MAPS if m.name in names}


def _reset() -> None:
    for m in ALL_MAPS:
        m.clear()


def _out_items() -> dict[int, int]:
    return {k: v for k, v in out.items() if v}


def _expected(expected: dict[int, int]) -> dict[int, int]:
    return {k: v for k, v in expected.items() if v}


def _ids(case) -> str:
    return f"{case[0].name}-{'-'.join(str(a) for a in case[1])}"[:60]


@pytest.mark.parametrize("engine", ["interp", "compiled"])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_vm(case, engine):
    probe, args, expected, r0 = case
    _reset()
    res = probe.run(args=args, engine=engine)
    assert _out_items() == _expected(expected)
    assert res.r0 == r0


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_our_verifier_accepts(case):
    assert case[0].verify()


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_kernel_same_result(case):
    probe, args, expected, r0 = case
    _reset()
    vm_res = probe.run(args=args)
    vm_maps = _snapshot(probe.maps)
    _reset()
    with probe.load(attach=False) as lp:
        res = lp.run(args=args)
        assert res.retval == r0 & 0xFFFFFFFF == vm_res.r0 & 0xFFFFFFFF
        assert _out_items() == _expected(expected)
        kernel_maps = _snapshot(probe.maps)
    assert kernel_maps == vm_maps
    after = _snapshot(probe.maps)
    assert after == kernel_maps  # the kernel's contents were kept when the probe was unloaded


def test_map_contents_after_map_ops():
    _reset()
    cases.map_ops.run(args=[10])
    assert dict(cases.counts.items()) == {10: 6, 11: 38}
    assert cases.lru[10000] == 2
    assert sum(cases.pcpu[1]) == 4 and sum(cases.pcpu[3]) == 0  # pcpu[7] is past the end: nothing happens
    assert sum(cases.pch[10]) == 3
    assert dict(cases.by_key.items()) == {(10, 2, 3): 1, (10, 0, 9): 2}
    assert cases.stats[10] == (15, -1) and cases.stats[11] == (0, -3)
