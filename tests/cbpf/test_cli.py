"""The CLI takes classic programs: tcpdump output on its own, anything classic with --classic."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from pyebpf.cbpf import assemble, disassemble
from pyebpf.cli import main

TCP80 = """\
(000) ldh      [12]
(001) jeq      #0x800           jt 2\tjf 10
(002) ldb      [23]
(003) jeq      #0x6             jt 4\tjf 10
(004) ldh      [20]
(005) jset     #0x1fff          jt 10\tjf 6
(006) ldxb     4*([14]&0xf)
(007) ldh      [x + 16]
(008) jeq      #0x50            jt 9\tjf 10
(009) ret      #262144
(010) ret      #0
"""


def _frame(dport: int) -> bytes:
    f = bytes(12) + b"\x08\x00" + bytes.fromhex("450000280001000040060000c0a80001c0a80002") + \
        struct.pack(">HH", 1234, dport) + bytes(16)
    return f[:14] + f  # BPF_PROG_TEST_RUN's layout: the first 14 bytes are pulled off


def test_asm_takes_tcpdump_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = tmp_path / "f.txt"
    src.write_text(TCP80)
    out = tmp_path / "f.bin"
    assert main(["asm", str(src), "-o", str(out)]) == 0
    assert out.read_bytes() == assemble(TCP80).to_bytes()
    assert main(["disasm", str(out), "--classic"]) == 0
    assert capsys.readouterr().out == TCP80
    assert main(["disasm", str(src), "--classic-format", "bpf_asm"]) == 0
    asm_text = capsys.readouterr().out
    assert assemble(asm_text, "bpf_asm") == assemble(TCP80)


def test_run_and_verify_take_tcpdump_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = tmp_path / "f.txt"
    src.write_text(disassemble(assemble(TCP80), "c"))
    assert main(["run", str(src), "--packet", _frame(80).hex(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["r0"] == 262144
    assert main(["run", str(src), "--packet", _frame(81).hex(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["r0"] == 0
    assert main(["verify", str(src)]) == 0
    assert capsys.readouterr().out.startswith("accepted")


def test_bpf_asm_needs_classic_and_seccomp_runs_on_seccomp_data(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]):
    src = tmp_path / "s.bpf"
    src.write_text("ld [0]\njeq #39, ok\nret #0\nok: ret #0x7fff0000\n")
    assert main(["run", str(src), "--seccomp", "--ctx", '{"nr": 39}', "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["r0"] == 0x7FFF0000
    assert main(["run", str(src), "--seccomp", "--ctx", '{"nr": 40}', "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["r0"] == 0
    assert main(["run", str(src), "--seccomp", "--ctx", '{"nr": 40, "bogus": 1}']) == 1
    assert "bogus" in capsys.readouterr().err


def test_classic_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = tmp_path / "bad.txt"
    src.write_text("ldh [12]\njeq #1, nowhere\nret #0\n")
    assert main(["asm", str(src), "--classic"]) == 1
    assert "no such label" in capsys.readouterr().err
    src.write_text("{ 0x6, 0, 0, 0x0 },\n{ 0x28, 0, 0, 0xc },\n")  # last instruction is not a ret
    assert main(["verify", str(src)]) == 1
    assert "not a ret" in capsys.readouterr().err


@pytest.mark.kernel
def test_load_takes_tcpdump_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = tmp_path / "tcp-80.txt"
    src.write_text(TCP80)
    assert main(["load", str(src), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["type"] == "socket_filter" and out["id"] > 0
