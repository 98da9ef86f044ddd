"""Stack symbolisation: kernel addresses via kallsyms (BPF programs included), user addresses via /proc/PID/maps
and ELF symbol tables (stripped binaries through .gnu_debuglink), checked against the tools that own the facts."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyebpf.system.kallsyms import kallsyms, parse_kallsyms
from pyebpf.system.symbolize import Frame, KernelSymbolizer, ProcessSymbolizer, parse_maps

C_PROGRAM = r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((noinline)) int target_alpha(int x) { return x * 3 + 1; }
__attribute__((noinline)) int target_beta(int x) { return target_alpha(x) - 2; }
int main(void) {
    printf("%p %p %p\n", (void *)target_alpha, (void *)target_beta, (void *)getpid);
    fflush(stdout);
    char buf[1];
    return (int)read(0, buf, 1) + target_beta(1);
}
"""


def test_kallsyms_text_containing_symbol_and_module():
    table = parse_kallsyms(["ffffffff81000000 T _stext", "ffffffff81000100 T start_kernel",
                            "ffffffffc0001000 t ext4_fill_super\t[ext4]"])
    assert table.containing(0xFFFFFFFF81000105) == ("start_kernel", 5, "")
    assert table.containing(0xFFFFFFFFC0001010) == ("ext4_fill_super", 0x10, "ext4")
    assert table.containing(0xFFFFFFFF80000000) is None
    assert KernelSymbolizer(table, None).resolve(0x10).format() == "0x10"


def test_kernel_function_with_offset():
    syms = kallsyms()
    if syms is None:
        pytest.skip("kallsyms addresses are hidden (kptr_restrict)")
    addr = syms.address("do_sys_openat2") or syms.address("do_sys_open")
    frame = KernelSymbolizer().resolve(addr + 5)
    assert frame.name in ("do_sys_openat2", "do_sys_open") and frame.offset == 5
    assert frame.format() == f"{frame.name}+5"


@pytest.mark.kernel
def test_bpf_program_frames_resolve_to_the_program_symbol():
    """A JIT-ed program's address resolves to `bpf_prog_<tag>_<name>` from kallsyms' [bpf] part, not to the
    kernel symbol below it."""
    from pyebpf import assemble
    from pyebpf.loader import load
    from pyebpf.loader.info import prog_info

    with load(assemble("r0 = 0\nexit\n"), "socket_filter", name="symtest") as kp:
        info = prog_info(kp.fd, jited=True)
        if not info.jited_ksyms or not info.jited_ksyms[0]:
            pytest.skip("the kernel hides JIT addresses (kptr_restrict / bpf_jit_kallsyms)")
        frame = KernelSymbolizer().resolve(info.jited_ksyms[0] + 4)
    assert frame.name == f"bpf_prog_{info.tag.hex() if isinstance(info.tag, bytes) else info.tag}_symtest"
    assert frame.offset == 4 and frame.module == "bpf"


def _build(tmp_path: Path, *extra: str) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    src = tmp_path / "t.c"
    src.write_text(C_PROGRAM)
    exe = tmp_path / "t"
    subprocess.run(["gcc", "-O1", "-g", "-fPIE", "-pie", *extra, "-o", str(exe), str(src)], check=True)
    return exe


def _run_and_symbolize(exe: Path) -> tuple[list[Frame], int]:
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        alpha, beta, getpid = (int(x, 16) for x in proc.stdout.readline().split())
        sym = ProcessSymbolizer(proc.pid)
        return [sym.resolve(alpha + 3), sym.resolve(beta), sym.resolve(getpid)], getpid
    finally:
        proc.communicate("x")


def test_user_frames_of_a_pie_binary(tmp_path):
    frames, _ = _run_and_symbolize(_build(tmp_path))
    assert (frames[0].name, frames[0].offset, frames[0].module) == ("target_alpha", 3, "t")
    assert (frames[1].name, frames[1].offset) == ("target_beta", 0)
    assert frames[2].offset == 0 and "getpid" in frames[2].name and frames[2].module.startswith("libc")


def test_stripped_binary_resolves_through_gnu_debuglink(tmp_path):
    exe = _build(tmp_path)
    debug = tmp_path / "t.debug"
    subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(debug)], check=True)
    subprocess.run(["objcopy", "--strip-all", f"--add-gnu-debuglink={debug}", str(exe)], check=True, cwd=tmp_path)
    frames, _ = _run_and_symbolize(exe)
    assert (frames[0].name, frames[0].offset) == ("target_alpha", 3)


def test_unknown_addresses_print_as_hex():
    sym = ProcessSymbolizer(0, maps_text="")
    assert sym.resolve(0x7F0012345678).format() == "0x7f0012345678"


def test_maps_parsing_keeps_executable_file_mappings_only():
    text = ("55d0c0000000-55d0c0001000 r--p 00000000 08:01 12 /usr/bin/x\n"
            "55d0c0001000-55d0c0002000 r-xp 00001000 08:01 12 /usr/bin/x\n"
            "7ffd1000-7ffd2000 r-xp 00000000 00:00 0 [vdso]\n"
            "7f0000000000-7f0000001000 r-xp 00000000 08:01 13 /lib/libgone.so (deleted)\n")
    maps = parse_maps(text)
    assert [(m.start, m.offset, m.path) for m in maps] == [(0x55D0C0001000, 0x1000, "/usr/bin/x"),
                                                             (0x7F0000000000, 0, "/lib/libgone.so")]
