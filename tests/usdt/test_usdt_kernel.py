"""USDT for real: a C program built here with <sys/sdt.h> (-O0: memory operands, -O2: registers, both with a
constant and a semaphore) and Debian's /usr/bin/python3.11 (function__entry): notes as readelf -n prints them,
arguments read from pt_regs by the instructions arg_insns generates, semaphores raised by the kernel's uprobe
ref_ctr_offset or through /proc/PID/mem."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.opcodes import AluOp, InsnClass, Mode, Reg, Size, Source
from pyebpf.abi.prog_types import ProgType
from pyebpf.isa.assembler import assemble
from pyebpf.isa.instruction import Instruction
from pyebpf.isa.program import Program
from pyebpf.loader.program import load
from pyebpf.loader.usdt import arg_insns, attach_usdt, bump_semaphore, find_probes, read_probes

HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3.11"


def _have_sdt() -> bool:
    return any(Path(p).is_file() for p in ("/usr/include/sys/sdt.h", "/usr/include/x86_64-linux-gnu/sys/sdt.h"))


needs_build = pytest.mark.skipif(not (shutil.which("gcc") and _have_sdt()),
                                 reason="needs gcc and <sys/sdt.h> (systemtap-sdt-dev; scripts/setup.sh)")


@pytest.fixture(scope="module", params=["O0", "O2"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if not (shutil.which("gcc") and _have_sdt()):
        pytest.skip("needs gcc and <sys/sdt.h> (systemtap-sdt-dev; scripts/setup.sh)")
    out = tmp_path_factory.mktemp("usdt") / f"usdt_demo_{request.param}"
    subprocess.run(["gcc", f"-{request.param}", "-g", "-o", str(out), str(HERE / "usdt_demo.c")], check=True)
    return str(out)


def _readelf_notes(path: str) -> list[dict[str, str]]:
    """`readelf -n`'s view of the stapsdt notes: provider, name, location, base, semaphore, arguments."""
    text = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    notes = []
    for block in text.split("NT_STAPSDT")[1:]:
        fields = dict(re.findall(r"^\s+(Provider|Name|Arguments): ?(.*)$", block, re.M))
        loc = re.search(r"Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)", block)
        assert loc is not None
        notes.append({**fields, "Location": int(loc.group(1), 16), "Base": int(loc.group(2), 16),
                      "Semaphore": int(loc.group(3), 16)})
    return notes


def _ours(path: str) -> list[dict[str, object]]:
    return [{"Provider": p.provider, "Name": p.name, "Arguments": p.args_text, "Location": p.address,
             "Base": p.note_base, "Semaphore": p.semaphore} for p in read_probes(path)]


@pytest.mark.skipif(not shutil.which("readelf"), reason="readelf (binutils) is not installed")
def test_notes_read_as_readelf_prints_them(demo: str):
    assert _ours(demo) == [{**n, "Arguments": n.get("Arguments", "")} for n in _readelf_notes(demo)]
    if Path(PYTHON).is_file():
        theirs = _readelf_notes(PYTHON)
        assert _ours(PYTHON) == [{**n, "Arguments": n.get("Arguments", "")} for n in theirs]
        assert any(n["Name"] == "function__entry" for n in theirs)


def _args_program(args: tuple, key_args: int = 1) -> Program:
    """r6 = ctx; argument i -> r7 -> fp-48+8i; hash map `seen`: key = argument 0, value = arguments 1..3."""
    insns = [Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, Reg.R6, Reg.R1)]
    for i, arg in enumerate(args):
        insns += arg_insns(arg, Reg.R7, Reg.R6, stack_off=-8)
        insns.append(Instruction(InsnClass.STX | Mode.MEM | Size.DW, Reg.R10, Reg.R7, -48 + 8 * i))
    for i in range(len(args), 4):
        insns.append(Instruction(InsnClass.ST | Mode.MEM | Size.DW, Reg.R10, 0, -48 + 8 * i, 0))
    tail = assemble("""
        r1 = map[seen] ll
        r2 = r10
        r2 += -48
        r3 = r10
        r3 += -40
        r4 = 0
        call bpf_map_update_elem
        r0 = 0
        exit
    """, maps=[MapSpec("seen", MapType.HASH, 8, 24, 1024)])
    return Program(insns + tail.instructions, maps=tail.maps, prog_type=ProgType.KPROBE, name="usdt_args")


def _s64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


@pytest.mark.kernel
def test_tick_arguments_and_semaphore_through_ref_ctr_offset(demo: str):
    sites = find_probes(demo, "demo", "tick")
    assert len(sites) == 1 and sites[0].semaphore and len(sites[0].args) == 4
    with load(_args_program(sites[0].args)) as kp:
        attachments = attach_usdt(kp, demo, "demo", "tick")
        try:
            out = subprocess.run([demo, "5"], capture_output=True, text=True, check=True).stdout
        finally:
            for a in attachments:
                a.detach()
        assert out.strip() == "5"  # the kernel raised the semaphore for the whole run
        seen = {int.from_bytes(k, "little"): v for k, v in ((k, kp.maps["seen"].lookup_raw(k))
                                                            for k in kp.maps["seen"].keys_raw())}
        assert sorted(seen) == [0, 1, 2, 3, 4]
        for i, value in seen.items():
            big, small, const = (_s64(int.from_bytes(value[j:j + 8], "little")) for j in (0, 8, 16))
            assert (big, small, const) == (-1000 * i, -i, 42)
    # detached: the semaphore is back to 0
    assert subprocess.run([demo, "3"], capture_output=True, text=True, check=True).stdout.strip() == "0"


@pytest.mark.kernel
def test_semaphore_through_proc_pid_mem(demo: str):
    site = find_probes(demo, "demo", "tick")[0]
    child = subprocess.Popen([demo, "4", "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        # wait until the process has mapped its data (it blocks in fgets then)
        for _ in range(200):
            try:
                assert bump_semaphore(child.pid, site, +1) == 1
                break
            except Exception:
                import time
                time.sleep(0.01)
        else:
            pytest.fail("the demo process never mapped its semaphore")
        out, _ = child.communicate("go\n", timeout=10)
    finally:
        child.kill() if child.poll() is None else None
    assert out.strip() == "4"


_NOTHING = Program(assemble("r0 = 0\nexit").instructions, prog_type=ProgType.KPROBE, name="nothing")


@pytest.mark.kernel
@pytest.mark.skipif(not Path(PYTHON).is_file(), reason=f"{PYTHON} is not installed")
def test_python_function_entry(tmp_path: Path):
    """Debian's python3.11 fires function__entry(filename, funcname, lineno) for Python calls when its semaphore is
    raised as it starts: the probe, limited to one pid, reads funcname and lineno of a function this test
    defines."""
    sites = find_probes(PYTHON, "python", "function__entry")
    if not sites:
        pytest.skip(f"{PYTHON} has no python:function__entry probe")
    funcname_arg, lineno_arg = sites[0].args[1], sites[0].args[2]
    insns = [Instruction(InsnClass.ALU64 | AluOp.MOV | Source.X, Reg.R6, Reg.R1)]
    insns += [Instruction(InsnClass.ST | Mode.MEM | Size.DW, Reg.R10, 0, -64 + 8 * i, 0) for i in range(4)]
    insns += arg_insns(funcname_arg, Reg.R3, Reg.R6, stack_off=-8)  # char *funcname -> r3
    tail_read = assemble("""
        r1 = r10
        r1 += -64
        r2 = 32
        call bpf_probe_read_user_str
    """)
    insns += tail_read.instructions
    insns += arg_insns(lineno_arg, Reg.R7, Reg.R6, stack_off=-8)
    insns.append(Instruction(InsnClass.STX | Mode.MEM | Size.DW, Reg.R10, Reg.R7, -72))
    tail = assemble("""
        r1 = map[calls] ll
        r2 = r10
        r2 += -64
        r3 = r10
        r3 += -72
        r4 = 0
        call bpf_map_update_elem
        r0 = 0
        exit
    """, maps=[MapSpec("calls", MapType.HASH, 32, 8, 4096)])
    prog = Program(insns + tail.instructions, maps=tail.maps, prog_type=ProgType.KPROBE, name="py_entry")
    script = tmp_path / "probe_me.py"
    script.write_text("import sys\n\n\n\ndef pyebpf_usdt_probe_fn():\n    return 7\n\n\npyebpf_usdt_probe_fn()\n")
    # Python reads its semaphores when it starts: attach to a shell that then execs python3.11 (same pid), so the
    # kernel raises the semaphore as the new program is mapped
    child = subprocess.Popen(["/bin/sh", "-c", 'read go; exec "$0" -S "$1"', PYTHON, str(script)],
                             stdin=subprocess.PIPE, text=True)
    try:
        with load(prog) as kp, load(_NOTHING) as nothing:
            attachments = attach_usdt(kp, PYTHON, "python", "function__entry", pid=child.pid)
            # CPython 3.11 reports Python-to-Python calls only on its tracing path, which it takes while the `line`
            # probe's semaphore is raised too: a program that does nothing raises it
            attachments += attach_usdt(nothing, PYTHON, "python", "line", pid=child.pid)
            try:
                child.communicate("go\n", timeout=30)
            finally:
                for a in attachments:
                    a.detach()
            calls = {k.rstrip(b"\0"): int.from_bytes(v, "little", signed=True)
                     for k, v in ((k, kp.maps["calls"].lookup_raw(k)) for k in kp.maps["calls"].keys_raw())}
    finally:
        if child.poll() is None:
            child.kill()
    assert calls.get(b"pyebpf_usdt_probe_fn") == 5, sorted(calls)[:20]
