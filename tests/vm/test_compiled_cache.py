"""The compiled engine's code cache: a program compiled before is only bound to the new machine, so every machine
keeps its own maps, helpers and alignment rule, and the cache stays bounded."""
from __future__ import annotations

import pytest

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.errors import VmError
from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program
from pyebpf.vm import VM
from pyebpf.vm import compiler

COUNTER = """
    *(u32 *)(r10 - 4) = 0
    r1 = map[counts] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r0 = *(u64 *)(r0 + 0)
out:
    exit
"""


def _counter() -> Program:
    return pyebpf.assemble(COUNTER, maps={"counts": MapSpec.of("counts", "array", 4, 8, 1)})


def test_two_machines_of_one_program_keep_their_own_maps() -> None:
    a, b = VM(_counter(), engine="compiled"), VM(_counter(), engine="compiled")
    assert [a.run().r0 for _ in range(3)] == [1, 2, 3]
    assert b.run().r0 == 1  # its own map, though the code is the one compiled for `a`
    assert a.machine.engine_for(a.program).code is b.machine.engine_for(b.program).code


def test_helper_availability_is_part_of_the_key() -> None:
    prog = Program([I(0xB7, 0, 0, 0, 0), I(0x85, 0, 0, 0, 9999), I(0x95)])
    assert VM(prog, engine="compiled", helpers={9999: lambda m, *a: 7}).run().r0 == 7
    with pytest.raises(VmError, match="unknown helper 9999") as ei:
        VM(prog, engine="compiled").run()
    assert ei.value.pc == 1
    assert VM(prog, engine="compiled", helpers={9999: lambda m, *a: 8}).run().r0 == 8


def test_alignment_rule_is_part_of_the_key() -> None:
    prog = pyebpf.assemble("r0 = *(u32 *)(r10 - 6)\nexit")
    assert VM(prog, engine="compiled").run().r0 == 0
    with pytest.raises(VmError):
        VM(prog, engine="compiled", strict_alignment=True).run()
    assert VM(prog, engine="compiled").run().r0 == 0


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "_CODE_CACHE_INSNS", 50)
    for i in range(40):
        prog = pyebpf.assemble(f"r0 = {i}\nr0 += 1\nexit")
        assert VM(prog, engine="compiled").run().r0 == i + 1
    assert compiler._cached_insns <= 50
    assert sum(c.size for c in compiler._CODE_CACHE.values()) == compiler._cached_insns


def test_clear_code_cache_compiles_again() -> None:
    prog = pyebpf.assemble("r0 = 41\nr0 += 1\nexit")
    first = VM(prog, engine="compiled")
    assert first.run().r0 == 42
    compiler.clear_code_cache()
    assert compiler._cached_insns == 0 and not compiler._CODE_CACHE
    second = VM(prog, engine="compiled")
    assert second.run().r0 == 42
    assert second.machine.engine_for(second.program).code is not first.machine.engine_for(first.program).code
