"""A probe's Python lines reach the kernel (BTF line_info): its verifier log shows them, and a rejection — by
pyebpf's verifier or the kernel's — is reported at the Python line it came from."""
from __future__ import annotations

import inspect

import pytest

from pyebpf.errors import LoaderError, VerifierError
from pyebpf.probe import probe


@probe("cgroup_skb/ingress")
def returns_out_of_range(ctx):
    if ctx.len > 100:
        return 2        # cgroup_skb programs must return 0 or 1: both verifiers refuse this exit
    return 1


def _line_of(text: str) -> int:
    lines, first = inspect.getsourcelines(returns_out_of_range.fn)
    return first + next(i for i, t in enumerate(lines) if text in t)


def test_our_verifier_names_the_python_line():
    with pytest.raises(VerifierError) as info:
        returns_out_of_range.verify()
    assert f"{__file__}:{_line_of('return 2')}:9: " in str(info.value)


@pytest.mark.kernel
def test_kernel_rejection_names_the_python_line():
    with pytest.raises(LoaderError) as info:
        returns_out_of_range.load(attach=False, verify=False)
    assert f"{__file__}:{_line_of('return 2')}:9: " in str(info.value)
    assert "; return 2" in info.value.log  # the kernel's own log quotes the Python source


@pytest.mark.kernel
def test_kernel_log_quotes_python_lines():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "probes"))
    import xdp_udp_drop as x

    with x.drop_udp_port.load(attach=False, log_level=2) as lp:
        quoted = [ln for ln in lp.kernel.log.splitlines() if ln.startswith(";")]
    line = Path(x.__file__).read_text().splitlines().index("    if udp.dport == DROP_PORT:") + 1
    assert f"; if udp.dport == DROP_PORT: @ xdp_udp_drop.py:{line}" in quoted
    assert quoted[0].startswith("; def drop_udp_port(ctx): @ xdp_udp_drop.py:")


def test_explain_names_the_python_line():
    ex = returns_out_of_range.explain()
    assert ex.func == "check_return_code"
    assert ex.source.endswith(f"test_probe_lines.py:{_line_of('return 2')}: return 2        # cgroup_skb programs "
                              "must return 0 or 1: both verifiers refuse this exit")
    assert ex.fix == "return one of the values the program type allows"
    assert any("taken" in step for step in ex.path)
