"""Global data of an ELF object (`.rodata` constants, `.data`, `.bss`) runs in the VM and the kernel from
`load_elf(path).programs[name]` alone: each data section's MapSpec carries its starting bytes (MapSpec.initial),
which both sides write when they create the map, so nobody copies values by hand."""
from __future__ import annotations

import errno
import functools
import os
import platform
import shutil
import subprocess
import tempfile

import pytest

from backends import open_program
from pyebpf.abi.uapi import XdpAction
from pyebpf.errors import MapError
from pyebpf.loader import load_elf
from pyebpf.testing.plugin import require_or_skip

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "c", "globals.bpf.c")
PACKET = bytes(60)


@functools.lru_cache(maxsize=None)
def object_path() -> str:
    clang = next((p for p in map(shutil.which, ("clang", "clang-14")) if p), None)
    if clang is None:
        require_or_skip("clang is not installed (needed to build tests/integration/c/globals.bpf.c)")
    out = os.path.join(tempfile.mkdtemp(prefix="pyebpf-integration-"), "globals.o")
    arch_inc = f"/usr/include/{platform.machine()}-linux-gnu"
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-I", arch_inc, "-c", SOURCE, "-o", out], check=True)
    return out


def variable(obj, section: str, name: str, raw: bytes) -> int:
    off, size, _ = obj.data_sections[section].variables[name]
    return int.from_bytes(raw[off:off + size], "little")


@pytest.mark.parametrize("how", ["default", "edited-before", "edited-after", "constants="])
def test_global_data_runs_the_same(backend: str, how: str) -> None:
    obj = load_elf(object_path(), constants={"factor": 5} if how == "constants=" else None)
    if how == "edited-before":
        obj.rodata["factor"] = 3
    program = obj.programs["globals"]
    if how == "edited-after":  # a program taken before the edit sees it too
        obj.rodata["factor"] = 4
    factor = {"default": 2, "edited-before": 3, "edited-after": 4, "constants=": 5}[how]
    with open_program(backend, program) as prog:
        res = prog.run(packet=PACKET)
        assert res.retval == (XdpAction.TX if factor > 2 else XdpAction.PASS)
        prog.run(packet=PACKET)
        bss = prog.maps[".bss"][0]
        assert variable(obj, ".bss", "result", bss) == 1000 + factor * len(PACKET)
        assert variable(obj, ".bss", "hits", bss) == 2
        assert variable(obj, ".rodata", "factor", prog.maps[".rodata"][0]) == factor
        data = bytearray(prog.maps[".data"][0])
        off, size, _ = obj.data_sections[".data"].variables["base"]
        data[off:off + size] = (7).to_bytes(size, "little")  # .data is writable from Python on both sides
        prog.maps[".data"][0] = bytes(data)
        prog.run(packet=PACKET)
        assert variable(obj, ".bss", "result", prog.maps[".bss"][0]) == 7 + factor * len(PACKET)
    obj.close()


def test_rodata_is_frozen(backend: str) -> None:
    """A program's constant global data cannot change under it: the kernel map is frozen (EPERM on update)."""
    obj = load_elf(object_path())
    with open_program(backend, obj.programs["globals"]) as prog:
        rodata = prog.maps[".rodata"]
        with pytest.raises(MapError) as ei:
            rodata[0] = bytes(len(rodata[0]))
        assert ei.value.errno == errno.EPERM
        assert prog.run(packet=PACKET).retval == XdpAction.PASS
    obj.close()
