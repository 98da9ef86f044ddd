"""bpf_conformance: all 313 programs on both engines, the group table, and the plugin protocol."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.corpus import CONFORMANCE_DIR

from pyebpf.vm.conformance import assemble_case, group_of, load_case, parse_data, run_case

DIR = CONFORMANCE_DIR
FILES = sorted(DIR.glob("*.data")) if DIR.is_dir() else []


def _need_suite() -> None:
    if not FILES:
        pytest.skip(f"bpf_conformance tests not found in {DIR}")


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_all_conformance_programs_pass(engine: str) -> None:
    _need_suite()
    failures = [(o.case.name, o.error) for o in (run_case(load_case(f), engine) for f in FILES) if not o.ok]
    assert len(FILES) == 313
    assert failures == []


def test_groups_cover_the_suite() -> None:
    _need_suite()
    groups = {f.stem: group_of(assemble_case(load_case(f))) for f in FILES}
    assert groups["callx"] == "callx"
    assert groups["lock_add32"] == "atomic32" and groups["lock_cmpxchg"] == "atomic64"
    assert groups["div32-imm"] == "divmul32" and groups["mul64-reg"] == "divmul64"
    assert groups["add"] == "base32" and groups["lddw"] == "base64"
    assert set(groups.values()) == {"base32", "base64", "atomic32", "atomic64", "divmul32", "divmul64", "callx"}


def test_parse_data_sections() -> None:
    case = parse_data("# c\n-- asm\nmov %r0, %r2\nexit\n-- mem\n00 01\n02 03\n-- result\n0x4\n", "x")
    assert case.mem == b"\x00\x01\x02\x03" and case.expected == 4 and "exit" in case.asm


def test_a_wrong_expectation_is_reported() -> None:
    case = parse_data("-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n", "wrong")
    out = run_case(case, "interp")
    assert not out.ok and out.got == 1 and "expected 0x2" in out.error


def _plugin(hex_program: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyebpf.commands.conformance_plugin", *args], input=hex_program,
                          capture_output=True, text=True, timeout=60)


def test_plugin_protocol() -> None:
    # mov r0, r2 (memory length); exit  -- with 8 bytes of memory the plugin prints 8
    prog = "bf20000000000000\n9500000000000000\n"
    out = _plugin(prog, "0001020304050607")
    assert out.returncode == 0 and out.stdout.strip() == "8"
    out = _plugin(prog)
    assert out.returncode == 0 and out.stdout.strip() == "0"
    # callx through helper 5, which returns r1 (as in the suite's callx test)
    callx = "b701000029000000\nb702000005000000\n8d02000000000000\n9500000000000000\n"
    assert _plugin(callx).stdout.strip() == "29"
    bad = _plugin("ff")
    assert bad.returncode != 0 and "error" in bad.stdout
    fault = _plugin("7910000000000000\n9500000000000000\n")  # r0 = *(u64 *)(r1 + 0) with no memory: NULL
    assert fault.returncode != 0 and "not mapped" in fault.stdout


def test_benchmark_script_prints_the_table() -> None:
    _need_suite()
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "conformance.py"
    out = subprocess.run([sys.executable, str(script), str(DIR)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "313 passed, 0 failed" in out.stdout
    for group in ("base32", "base64", "atomic32", "atomic64", "divmul32", "divmul64", "callx"):
        assert group in out.stdout
