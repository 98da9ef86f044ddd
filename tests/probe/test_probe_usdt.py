"""USDT arguments in Python probes (`usdt/PATH:provider:name`, ctx.arg0..): tests/usdt/usdt_demo.c built here
at -O0 (arguments in memory at %rbp offsets) and -O2 (in registers), read where the note says; in the VM with
pt_regs and user memory laid out from the same note, and in the kernel attached to the demo's sites."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from pyebpf.errors import CompileError
from pyebpf.loader.usdt import ArgKind, find_probes
from pyebpf.vm.env import Environment

DEMO_C = Path(__file__).resolve().parents[1] / "usdt" / "usdt_demo.c"
HAVE_SDT = any(Path(p).is_file() for p in ("/usr/include/sys/sdt.h", "/usr/include/x86_64-linux-gnu/sys/sdt.h"))
pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and HAVE_SDT),
                                reason="needs gcc and <sys/sdt.h> (systemtap-sdt-dev; scripts/setup.sh)")

MODULE = '''
import ctypes
from pyebpf.probe import HashMap, probe, s64


class Vals(ctypes.Structure):
    _fields_ = [("big", ctypes.c_int64), ("small", ctypes.c_int64), ("const", ctypes.c_int64)]


seen = HashMap(s64, Vals, max_entries=64, name="usdt_seen")


@probe("usdt/{binary}:demo:tick")
def tick(ctx):
    seen[ctx.arg0] = Vals(big=ctx.arg1, small=ctx.arg2, const=ctx.arg3)


@probe("usdt/{binary}:demo:tick")
def too_far(ctx):
    seen[0] = Vals(big=ctx.arg4)


@probe("usdt/{binary}:demo:nope")
def missing(ctx):
    seen[0] = Vals()
'''


@pytest.fixture(scope="module", params=["O0", "O2"])
def demo(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"usdt_probe_{request.param}")
    binary = d / f"usdt_demo_{request.param}"
    subprocess.run(["gcc", f"-{request.param}", "-o", str(binary), str(DEMO_C)], check=True)
    src = d / f"usdt_mod_{request.param}.py"
    src.write_text(MODULE.format(binary=binary))
    spec = importlib.util.spec_from_file_location(src.stem, src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(binary), mod


def _context(binary: str, values: list[int]) -> tuple[dict[str, int], dict[int, bytes]]:
    """pt_regs registers and user memory holding `values` where the tick site's note says its arguments are."""
    (site,) = find_probes(binary, "demo", "tick")
    regs: dict[str, int] = {}
    mem: dict[str, bytearray] = {}
    base = {}
    for arg, value in zip(site.args, values):
        raw = (value & ((1 << (8 * arg.size)) - 1)).to_bytes(arg.size, "little")
        if arg.kind == ArgKind.REG:
            regs[arg.register] = value & (2 ** 64 - 1)
        elif arg.kind == ArgKind.REG_DEREF:
            b = base.setdefault(arg.register, 0x7FFD_0000_0000 + 0x10000 * len(base))
            regs[arg.register] = b
            blob = mem.setdefault(arg.register, bytearray(1024))
            at = 512 + arg.offset
            blob[at:at + arg.size] = raw
        else:
            assert arg.value == value
    return regs, {base[r] - 512: bytes(blob) for r, blob in mem.items()}


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_usdt_arguments_vm(demo, engine):
    binary, mod = demo
    mod.seen.clear()
    for i in (0, 3, 7):
        regs, memory = _context(binary, [i, -1000 * i, -i, 42])
        mod.tick.run(engine=engine, env=Environment(user_memory=memory), **regs)
    assert {k: tuple(v) for k, v in mod.seen.items()} == {i: (-1000 * i, -i, 42) for i in (0, 3, 7)}


@pytest.mark.kernel
def test_usdt_arguments_kernel(demo):
    binary, mod = demo
    mod.seen.clear()
    with mod.tick.load():
        out = subprocess.run([binary, "5"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "5"  # the kernel raised the probe's semaphore while attached
    assert {k: tuple(v) for k, v in mod.seen.items()} == {i: (-1000 * i, -i, 42) for i in range(5)}


def test_usdt_errors(demo):
    _, mod = demo
    with pytest.raises(CompileError) as e:
        mod.too_far.compile()
    assert "has no field 'arg4'" in str(e.value) and "arg0, arg1, arg2, arg3" in str(e.value)
    with pytest.raises(CompileError) as e:
        mod.missing.compile()
    assert "demo:nope" in str(e.value)
