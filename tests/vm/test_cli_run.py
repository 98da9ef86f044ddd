"""`pyebpf run`: assembly/hex/raw input, contexts, engines, --trace, --json, and errors as one line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pyebpf
from pyebpf.cli import main

SUM = "r0 = 0\nr1 = 4\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"
XDP_DROP_UDP = """
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 14
    if r4 > r3 goto pass
    r5 = *(u8 *)(r2 + 12)
    *(u8 *)(r2 + 0) = 0xaa
    if r5 == 0x08 goto drop
pass:
    r0 = 2
    exit
drop:
    r0 = 1
    exit
"""


@pytest.fixture
def sum_file(tmp_path: Path) -> Path:
    p = tmp_path / "sum.s"
    p.write_text(SUM)
    return p


def test_run_assembly_both_engines(sum_file: Path, capsys: pytest.CaptureFixture) -> None:
    for engine in ("interp", "compiled"):
        assert main(["run", str(sum_file), "--engine", engine]) == 0
        out = capsys.readouterr().out
        assert "r0 = 0xa (10)" in out and "instructions executed: 15" in out


def test_run_raw_and_hex(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prog = pyebpf.assemble(SUM)
    raw = tmp_path / "sum.bin"
    raw.write_bytes(prog.to_bytes())
    hx = tmp_path / "sum.hex"
    hx.write_text(prog.to_bytes().hex())
    for f in (raw, hx):
        assert main(["run", str(f), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["r0"] == 10


def test_run_json_trace(sum_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", str(sum_file), "--json", "--trace"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["insns"] == 15 and len(data["trace"]) == 15
    assert data["trace"][1] == {"pc": 1, "insn": data["trace"][1]["insn"], "changed": {"r1": 4}}


def test_run_text_trace(sum_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", str(sum_file), "--trace"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "r1=0x4" in lines[1] and lines[1].strip().startswith("1:")


def test_run_packet_and_ctx(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "xdp.s"
    f.write_text(XDP_DROP_UDP)
    ipv4 = "00" * 12 + "0800" + "45" + "00" * 19
    assert main(["run", str(f), "--type", "xdp", "--packet", ipv4, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["r0"] == 1 and data["packet"].startswith("aa")
    assert main(["run", str(f), "--type", "xdp", "--ctx", json.dumps({"packet": "00" * 12 + "86dd" + "00" * 40}),
                 "--engine", "compiled"]) == 0
    assert "r0 = 0x2" in capsys.readouterr().out


def test_run_mem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "m.s"
    f.write_text("r0 = *(u16 *)(r1 + 1)\n*(u8 *)(r1 + 0) = 7\nexit\n")
    assert main(["run", str(f), "--mem", "01020304"]) == 0
    out = capsys.readouterr().out
    assert "r0 = 0x302" in out and "mem: 07020304" in out


@pytest.mark.parametrize("args,message", [
    (["--packet", "zz"], "--packet: not hex"),
    (["--ctx", "{nope"], "--ctx: not JSON"),
    (["--max-insns", "3"], "budget of 3 exhausted"),
])
def test_run_errors_are_one_line(sum_file: Path, capsys: pytest.CaptureFixture, args: list[str],
                                 message: str) -> None:
    assert main(["run", str(sum_file), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_run_fault_names_pc(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "bad.s"
    f.write_text("r1 = 0\nr0 = *(u64 *)(r1 + 8)\nexit\n")
    assert main(["run", str(f)]) == 1
    err = capsys.readouterr().err
    assert "pc 1" in err and "address 0x8" in err
    assert main(["run", str(f), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["pc"] == 1


def test_run_console_script(sum_file: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pyebpf", "run", str(sum_file)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "r0 = 0xa" in out.stdout


ELF_SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); }
    hits SEC(".maps");
volatile const __u32 answer = 40;
SEC("xdp")
int prog(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&hits, &k);
    if (v) __sync_fetch_and_add(v, 1);
    if (data + 1 > end) return XDP_ABORTED;
    return answer + *(__u8 *)data;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_run_elf_object(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import shutil

    from pyebpf.testing.plugin import require_or_skip

    clang = shutil.which("clang-14") or shutil.which("clang")
    if clang is None:
        require_or_skip("clang is not installed")
    src = tmp_path / "x.c"
    src.write_text(ELF_SOURCE)
    obj = tmp_path / "x.o"
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", str(src), "-o",
                    str(obj)], check=True, timeout=120)
    assert main(["run", str(obj), "--packet", "05" + "00" * 15, "--json", "--engine", "compiled"]) == 0
    assert json.loads(capsys.readouterr().out)["r0"] == 45  # .rodata's answer (40) + the first packet byte
    assert main(["run", str(obj), "--prog", "nope"]) == 1
    assert "no program 'nope'" in capsys.readouterr().err
