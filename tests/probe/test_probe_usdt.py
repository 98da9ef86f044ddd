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


# ---- an argument in different places at different sites (one spec per location, chosen by the attach cookie) -----
MULTI_C = DEMO_C.parent / "usdt_multi.c"
MULTI_MODULE = '''
from pyebpf.probe import HashMap, probe, s64

multi_seen = HashMap(s64, s64, max_entries=256, name="usdt_multi")


@probe("usdt/{binary}:demo:multi")
def multi(ctx):
    multi_seen[ctx.arg0 * 10 + ctx.arg1] += 1
'''


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    d = tmp_path_factory.mktemp("usdt_multi")
    binary = d / "usdt_multi"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(MULTI_C)], check=True)
    src = d / "usdt_multi_mod.py"
    src.write_text(MULTI_MODULE.format(binary=binary))
    spec = importlib.util.spec_from_file_location(src.stem, src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(binary), mod


def _multi_expected(n: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for i in range(n):
        for a0, a1 in ((10 * i, 1), (77, 2), (3 * i, 3)):
            out[a0 * 10 + a1] = out.get(a0 * 10 + a1, 0) + 1
    return out


def test_usdt_sites_keep_the_argument_in_different_places(multi):
    binary, _ = multi
    sites = find_probes(binary, "demo", "multi")
    kinds = {s.args[0].kind for s in sites}
    assert len(sites) == 3 and kinds == {ArgKind.REG, ArgKind.CONST, ArgKind.REG_DEREF}


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_usdt_multi_location_vm(multi, engine):
    """Each site's spec id as the cookie, pt_regs and stack memory laid out as that site's note says."""
    from pyebpf.compiler.context import usdt_spec_ids

    binary, mod = multi
    sites = find_probes(binary, "demo", "multi")
    specs, ids = usdt_spec_ids([s.args for s in sites])
    assert len(specs) == 3
    mod.multi_seen.clear()
    for i in range(3):
        for site, spec_id in zip(sites, ids):
            value = {ArgKind.REG: 10 * i, ArgKind.CONST: 77, ArgKind.REG_DEREF: 3 * i}[site.args[0].kind]
            regs, memory = {}, {}
            arg = site.args[0]
            if arg.kind == ArgKind.REG:
                regs[arg.register] = value
            elif arg.kind == ArgKind.REG_DEREF:
                regs[arg.register] = 0x7FFD_0000_1000
                blob = bytearray(64)
                blob[32 + arg.offset:32 + arg.offset + 8] = value.to_bytes(8, "little", signed=True)
                memory = {0x7FFD_0000_1000 - 32: bytes(blob)}
            mod.multi.run(engine=engine, env=Environment(user_memory=memory, attach_cookie=spec_id), **regs)
    assert dict(mod.multi_seen.items()) == _multi_expected(3)


@pytest.mark.kernel
def test_usdt_multi_location_kernel(multi):
    binary, mod = multi
    mod.multi_seen.clear()
    with mod.multi.load():
        out = subprocess.run([binary, "6"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "6"
    assert dict(mod.multi_seen.items()) == _multi_expected(6)
