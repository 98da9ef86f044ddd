"""`pyebpf asm`: bytes or hex out, stdin in, every diagnostic and exit status 1 on bad input."""
from __future__ import annotations

import io
import sys

from pyebpf.cli import main

SOURCE = "r0 = 42\nexit\n"
BYTES = bytes.fromhex("b70000002a000000" "9500000000000000")


def test_writes_raw_bytes_to_a_file(tmp_path):
    src, out = tmp_path / "p.s", tmp_path / "p.bin"
    src.write_text(SOURCE)
    assert main(["asm", str(src), "-o", str(out)]) == 0
    assert out.read_bytes() == BYTES


def test_hex_output_is_one_slot_per_line(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text("lddw %r0, 0x1122334455667788\nexit\n")
    assert main(["asm", str(src), "--hex", "--dialect", "ubpf"]) == 0
    assert capsys.readouterr().out.splitlines() == ["1800000088776655", "0000000044332211", "9500000000000000"]


def test_reads_stdin_and_writes_binary_stdout(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(SOURCE))
    buffer = io.BytesIO()

    class FakeStdout(io.TextIOWrapper):
        def isatty(self) -> bool:
            return False

    fake = FakeStdout(buffer, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", fake)
    assert main(["asm", "-"]) == 0
    fake.flush()
    assert buffer.getvalue() == BYTES


def test_errors_print_every_diagnostic_and_exit_1(tmp_path, capsys):
    src = tmp_path / "bad.s"
    src.write_text("r11 = 1\nr0 = 0\ngoto nowhere\n")
    assert main(["asm", str(src)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:1:1: error: invalid register r11" in err
    assert f"{src}:3:6: error: undefined label 'nowhere'" in err
    assert "Traceback" not in err


def test_missing_file_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["asm", str(tmp_path / "absent.s")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such file" in err
