"""`pyebpf verify`: verdicts, exit status, messages naming the slot, logs, and --kernel side by side."""
from __future__ import annotations

import pytest

from pyebpf.cli import main

BAD = """.map m hash key=4 value=8 entries=16
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map[m] ll
call bpf_map_lookup_elem
r0 = *(u64 *)(r0 + 0)
exit
"""
GOOD = "r0 = 2\nexit\n"


def _write(tmp_path, text, name="p.s"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_accepts(tmp_path, capsys):
    assert main(["verify", _write(tmp_path, GOOD), "--type", "xdp"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accepted: processed 2 insns (limit 1000000)")


def test_rejects_with_slot_and_message(tmp_path, capsys):
    assert main(["verify", _write(tmp_path, BAD)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "pyebpf verify: error: insn 6: R0 invalid mem access 'map_value_or_null' (EACCES)"


def test_log_level_2(tmp_path, capsys):
    assert main(["verify", _write(tmp_path, GOOD), "--type", "xdp", "--log-level", "2"]) == 0
    out = capsys.readouterr().out
    assert "0: (b7) r0 = 2                        ; R0=2" in out
    assert "func#0 @0" in out


def test_unprivileged_back_edge(tmp_path, capsys):
    loop = "r0 = 0\nl:\nr0 += 1\nif r0 < 10 goto l\nexit\n"
    assert main(["verify", _write(tmp_path, loop)]) == 0
    assert main(["verify", _write(tmp_path, loop), "--unprivileged"]) == 1
    assert "back-edge from insn 2 to 1 (EINVAL)" in capsys.readouterr().err


def test_raw_bytes_and_bad_file(tmp_path, capsys):
    raw = tmp_path / "p.bin"
    raw.write_bytes(bytes.fromhex("b700000000000000" + "9500000000000000"))
    assert main(["verify", str(raw)]) == 0
    bad = tmp_path / "odd.bin"
    bad.write_bytes(b"\x01\x02\x03")
    assert main(["verify", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.kernel
def test_kernel_side_by_side(tmp_path, capsys):
    assert main(["verify", _write(tmp_path, BAD), "--kernel"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "pyebpf: rejected: insn 6: R0 invalid mem access 'map_value_or_null' (EACCES)"
    assert out[1] == "kernel: rejected: insn 6: R0 invalid mem access 'map_value_or_null' (EACCES)"
    assert out[2].startswith("verdicts agree: verdict, insn, message, errno, processed")
    assert main(["verify", _write(tmp_path, GOOD), "--type", "xdp", "--kernel"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pyebpf: accepted") and out[1].startswith("kernel: accepted")
