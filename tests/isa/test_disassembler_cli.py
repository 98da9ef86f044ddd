"""`pyebpf disasm`: clang-built objects print exactly as llvm-objdump -d prints them; raw and hex input; errors.

The C program below is compiled at test time for cpu v1, v2 and v3, little and big endian, so the objects carry
everything clang emits for real programs: several code sections, local `LBB` labels, bpf-to-bpf calls, map loads
(`r1 = 0 ll` with a relocation), atomics and 32-bit subregisters.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pyebpf.cli import main
from pyebpf.isa.instruction import Instruction as I, encode

CLANG = shutil.which("clang") or shutil.which("clang-14")
LLVM_OBJDUMP = shutil.which("llvm-objdump") or shutil.which("llvm-objdump-14")

SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); }
    counts SEC(".maps");
static __attribute__((noinline)) int mix(unsigned x) { return x * 3 + (x >> 2) - (x / 5) + (x % 11); }
SEC("xdp") int xdp_count(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 key = 0;
    if (data + 14 > end) return XDP_PASS;
    key = ((unsigned char *)data)[12];
    __u64 *v = bpf_map_lookup_elem(&counts, &key);
    if (v) __sync_fetch_and_add(v, 1);
    else { __u64 one = 1; bpf_map_update_elem(&counts, &key, &one, BPF_ANY); }
    return mix(key) & 1 ? XDP_PASS : XDP_DROP;
}
SEC("tracepoint/syscalls/sys_enter_openat") int on_openat(void *ctx) {
    __u64 t = bpf_ktime_get_ns();
    __s32 s = (__s32)t;
    if (t % 7 == 3) return 1;
    return (int)(t / 13) + (s >> 3) + (__u16)(t >> 17);
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> dict[str, Path]:
    if CLANG is None or LLVM_OBJDUMP is None:
        pytest.skip("clang and llvm-objdump are needed")
    tmp = tmp_path_factory.mktemp("clang")
    src = tmp / "prog.c"
    src.write_text(SOURCE)
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("gcc") else "x86_64-linux-gnu"
    out = {}
    for target in ("bpfel", "bpfeb"):
        for cpu in ("v1", "v2", "v3"):
            obj = tmp / f"prog-{target}-{cpu}.o"
            subprocess.run([CLANG, "-O2", "-g", "-target", target, f"-mcpu={cpu}", f"-I/usr/include/{multiarch}",
                            "-c", str(src), "-o", str(obj)], check=True, capture_output=True)
            out[f"{target}-{cpu}"] = obj
    return out


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["disasm", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def llvm_objdump(*argv: str) -> str:
    return subprocess.run([LLVM_OBJDUMP, "-d", *argv], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("which", ["bpfel-v1", "bpfel-v2", "bpfel-v3", "bpfeb-v3"])
def test_elf_output_is_llvm_objdumps(objects, capsys, which):
    status, out, err = run_cli(capsys, str(objects[which]))
    assert (status, err) == (0, "")
    assert out == llvm_objdump(str(objects[which]))


def test_alu32_and_section_options_match_llvm_objdump(objects, capsys):
    obj = str(objects["bpfel-v3"])
    assert run_cli(capsys, "--alu32", obj)[1] == llvm_objdump("--mattr=+alu32", obj)
    status, out, _ = run_cli(capsys, "--section", "xdp", obj)
    assert status == 0
    assert out == llvm_objdump("--section=xdp", obj)


def test_elf_in_kernel_and_ubpf_styles(objects, capsys):
    obj = str(objects["bpfel-v3"])
    status, out, _ = run_cli(capsys, "--style", "kernel", "--section", "xdp", obj)
    assert status == 0
    lines = out.splitlines()
    assert lines[:3] == ["; section xdp", "xdp_count:", "0: (b4) w0 = 2"]
    assert any("(85) call bpf_map_lookup_elem#1" in line for line in lines)
    assert any(line.endswith("(85) call pc+") or "call pc" in line for line in lines)
    status, out, _ = run_cli(capsys, "--style", "ubpf", "--symbolic", obj)
    assert status == 0 and "mix:" in out and "call local mix" in out and "# section .text" in out


def test_raw_and_hex_input(tmp_path, capsys):
    code = encode([I(0xB7, 0, 0, 0, 42), I(0x18, 1, 0, 0, 1 << 40), I(0x95)])
    (tmp_path / "p.bin").write_bytes(code)
    (tmp_path / "p.hex").write_text("\n".join(code[i:i + 8].hex() for i in range(0, len(code), 8)) + "\n")
    (tmp_path / "p.be").write_bytes(encode([I(0xB7, 0, 0, 0, 42), I(0x95)], "big"))
    expected = "r0 = 42\nr1 = 1099511627776 ll\nexit\n"
    assert run_cli(capsys, str(tmp_path / "p.bin"))[1] == expected
    assert run_cli(capsys, str(tmp_path / "p.hex"))[1] == expected
    assert run_cli(capsys, "--big-endian", str(tmp_path / "p.be"))[1] == "r0 = 42\nexit\n"
    status, out, _ = run_cli(capsys, "--style", "kernel", str(tmp_path / "p.bin"))
    assert out == "0: (b7) r0 = 42\n1: (18) r1 = 0x10000000000\n3: (95) exit\n"
    status, out, _ = run_cli(capsys, "--objdump", str(tmp_path / "p.bin"))
    assert out.splitlines()[3] == "       0:\tb7 00 00 00 2a 00 00 00\tr0 = 42"


@pytest.mark.parametrize("content,message", [
    (b"hello world, not code\n", "neither an ELF object, nor hex text"),
    (b"", "empty input"),
    (bytes([0xFF, 0, 0, 0, 0, 0, 0, 0]), "slot 0 (byte offset 0): unknown opcode ff"),
    (encode([I(0xB7, 0, 0, 0, 1)]) + bytes([0x18, 1, 0, 0, 0, 0, 0, 0]),
     "slot 1 (byte offset 8): invalid bpf_ld_imm64"),
    (b"b7000000 2a00", "trailing 6 bytes"),
    (b"zz11", "neither an ELF object"),
    (b"\x7fELF\x02\x01\x01" + b"\0" * 20, "bad ELF object"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys, content, message):
    path = tmp_path / "bad"
    path.write_bytes(content)
    status, out, err = run_cli(capsys, str(path))
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_unknown_section_names_the_sections(objects, capsys):
    status, _, err = run_cli(capsys, "--section", "nope", str(objects["bpfel-v3"]))
    assert status == 1 and "no executable section 'nope'" in err and "xdp" in err


ONLY_SECTIONS = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int pass(struct xdp_md *ctx) { return XDP_PASS; }
SEC("tc") int tc_len(struct __sk_buff *skb) { return skb->len > 60; }
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.parametrize("debug", [[], ["-g"]])
def test_object_with_an_empty_text_section_diffs_clean(tmp_path, capsys, debug):
    """clang always emits a .text section; with every function in its own SEC() it is empty and llvm-objdump 14
    prints no `Disassembly of section .text:` header for it (a size-0 section is skipped), so neither do we."""
    if CLANG is None or LLVM_OBJDUMP is None:
        pytest.skip("clang and llvm-objdump are needed")
    src, obj = tmp_path / "only.c", tmp_path / "only.o"
    src.write_text(ONLY_SECTIONS)
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("gcc") else "x86_64-linux-gnu"
    subprocess.run([CLANG, "-O2", *debug, "-target", "bpf", f"-I/usr/include/{multiarch}", "-c", str(src), "-o",
                    str(obj)], check=True, capture_output=True)
    status, out, err = run_cli(capsys, str(obj))
    assert (status, err) == (0, "")
    assert out == llvm_objdump(str(obj))
    assert "section .text" not in out and "Disassembly of section xdp:" in out
    status, out, _ = run_cli(capsys, "--section", ".text", str(obj))
    assert (status, out) == (0, llvm_objdump("--section=.text", str(obj)))
