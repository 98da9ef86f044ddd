"""lhist and per-key histograms: the buckets follow bpftrace's lhist()/hist() rules, the same in the VM (both
engines) and the kernel (BPF_PROG_TEST_RUN over the same arguments), and print as bpftrace prints them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyebpf.probe import LinearHistogram
from pyebpf.testing.plugin import require_or_skip
from pyebpf.vm.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hist_probes as hp  # noqa: E402

VALUES = [(0, 1), (5, 1), (9, 2), (10, 2), (55, 1), (99, 3), (100, 3), (12345, 1), (-3 % 2 ** 64, 1), (1, 2)]


def _lin_bucket(v: int, lo: int, hi: int, step: int) -> int:
    v = v - 2 ** 64 if v >= 2 ** 63 else v  # the value as s64, as bpftrace's lhist takes it
    if v < lo:
        return 0
    if v >= hi:
        return (hi - lo + step - 1) // step + 1
    return 1 + (v - lo) // step


def _log2_bucket(v: int) -> int:
    return max(v.bit_length() - 1, 0)


def _expected() -> tuple[dict, dict, dict]:
    lin, by_key, by_comm = {}, {}, {}
    for v, k in VALUES:
        b = _lin_bucket(v, 0, 100, 10)
        lin[b] = lin.get(b, 0) + 1
        d = by_key.setdefault(k, {})
        d[_log2_bucket(v)] = d.get(_log2_bucket(v), 0) + 1
        b2 = _lin_bucket(v, 10, 50, 20)
        by_comm[b2] = by_comm.get(b2, 0) + 1
    return lin, by_key, by_comm


def _clear() -> None:
    for m in (hp.lin, hp.by_key, hp.lin_by_comm):
        m.clear()


def _check(comm: bytes) -> None:
    lin, by_key, by_comm = _expected()
    assert hp.lin.buckets() == lin
    assert hp.by_key.histograms() == by_key
    assert hp.lin_by_comm.histograms() == {comm.ljust(16, b"\0"): by_comm}


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_vm(engine):
    _clear()
    env = Environment(comm=b"histtest")
    for v, k in VALUES:
        hp.record.run(args=[v, k], engine=engine, env=env)
    _check(b"histtest")


@pytest.mark.kernel
def test_kernel_same_buckets():
    from pathlib import Path as P

    _clear()
    with hp.record.load(attach=False) as lp:
        for v, k in VALUES:
            lp.run(args=[v, k])
    _check(P("/proc/self/comm").read_bytes().strip()[:15])


def _bpftrace_lhist(values: list[int], lo: int, hi: int, step: int) -> list[str]:
    """The rows bpftrace prints for @a = lhist(v, lo, hi, step) over `values` (bpftrace 0.17, BEGIN only)."""
    body = " ".join(f"@a = lhist({v}, {lo}, {hi}, {step});" for v in values)
    try:
        res = subprocess.run(["bpftrace", "-e", f"BEGIN {{ {body} exit(); }}"], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        require_or_skip(f"bpftrace did not run: {e}")
    if res.returncode != 0:
        require_or_skip(f"bpftrace failed: {res.stderr.strip()[-200:]}")
    lines = res.stdout.splitlines()
    start = lines.index("@a: ") + 1
    return [line for line in lines[start:] if line.strip()]


@pytest.mark.kernel
def test_lhist_prints_as_bpftrace():
    _clear()
    for v, k in VALUES:
        hp.record.run(args=[v, k], env=Environment(comm=b"histtest"))
    signed = [v - 2 ** 64 if v >= 2 ** 63 else v for v, _ in VALUES]
    assert str(hp.lin).splitlines() == _bpftrace_lhist(signed, 0, 100, 10)
    per_key = str(hp.by_key).split("\n\n")
    assert [p.splitlines()[0] for p in per_key] == ["[3]:", "[2]:", "[1]:"]  # fewest counts first, as bpftrace
    assert str(hp.lin_by_comm).startswith("[histtest]:\n")


def test_bad_linear_histogram():
    with pytest.raises(ValueError):
        LinearHistogram(10, 5, 1)
    with pytest.raises(ValueError):
        LinearHistogram(0, 10, 0)


@pytest.mark.kernel
def test_pyebpf_probe_prints_histograms_as_bpftrace(capsys):
    from pyebpf.cli import main

    assert main(["probe", str(Path(hp.__file__)), "--duration", "0.5"]) == 0
    out = capsys.readouterr().out
    for name in ("lin", "by_key", "lin_by_comm"):  # the module's global names
        assert f"\n{name}:\n" in out
    assert "|@" in out
    per_comm = out.split("\nlin_by_comm:\n")[1]
    assert per_comm.startswith("[") and "]:\n" in per_comm  # one lhist per command name, bpftrace's @[key]: form
