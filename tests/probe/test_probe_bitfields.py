"""Bitfield members of kernel structs, read as clang's BPF_CORE_READ_BITFIELD_PROBED reads them (covering load,
shift left, shift right): against Python's extraction of the same bits from random memory in the VM (both engines),
against the raw word holding them in the kernel, and through CO-RE relocations from a made-up layout to the
running kernel's."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings, strategies as st

import bitfield_probes as bp
from pyebpf.btf import CoreReloKind, kernel_btf_or_none
from pyebpf.loader.elf_spec import ElfSpec
from pyebpf.vm.env import Environment

TASK = 0xFFFF888000100000
M64 = (1 << 64) - 1


def _extract(raw: bytes, signed: bool, off: int, size: int) -> int:
    v = (int.from_bytes(raw, "little") >> off) & ((1 << size) - 1)
    if signed and v >> (size - 1):
        v -= 1 << size
    return v & M64


@settings(max_examples=30)
@given(raw=st.binary(min_size=bp.FAKE_SIZE, max_size=bp.FAKE_SIZE), engine=st.sampled_from(["interp", "compiled"]))
def test_bitfields_agree_with_python_extraction(raw, engine):
    bp.bits.clear()
    env = Environment(current_task=TASK, kernel_memory={TASK: raw})
    bp.fake_bits.run(engine=engine, env=env)
    want = [_extract(raw, signed, off, size) for _, signed, _, off, size in bp.FIELDS]
    assert [bp.bits[i] for i in range(6)] == want


def test_bitfield_reads_carry_all_four_relocations():
    kinds = sorted(a.kind for a in bp.moved_bits.program.core_relos)
    assert kinds == sorted([CoreReloKind.FIELD_BYTE_OFFSET, CoreReloKind.FIELD_BYTE_SIZE,
                            CoreReloKind.FIELD_LSHIFT_U64, CoreReloKind.FIELD_RSHIFT_U64] * 3)


def test_bitfield_relocations_resolve_to_the_running_kernels_layout():
    if not bp.REAL:
        pytest.skip("the running kernel has no BTF or not these task_struct bitfields in one word")
    from pyebpf.btf.core_local import bitfield_load, bitfield_shifts

    spec = ElfSpec(bp.moved_bits.write_object())
    assert spec.core_results and not any(r.poisoned for r in spec.core_results)
    by_field: dict[str, dict] = {}
    local = spec.btf
    for relo, res in zip(spec.btf_ext.core_relos["tracepoint/syscalls/sys_enter_getppid"], spec.core_results):
        struct = local.struct("task_struct")
        name = struct.members[int(res.spec.split(":")[1])].name
        by_field.setdefault(name, {})[res.kind] = res.new_value
    assert set(by_field) == set(bp.REAL_NAMES)
    for name, got in by_field.items():
        real = bp.REAL[name]
        off, size = bitfield_load(real.bit_offset, 1, real.size)
        assert got[CoreReloKind.FIELD_BYTE_OFFSET] == off and got[CoreReloKind.FIELD_BYTE_SIZE] == size
        assert (got[CoreReloKind.FIELD_LSHIFT_U64], got[CoreReloKind.FIELD_RSHIFT_U64]) == \
            bitfield_shifts(real.bit_offset, 1, off)


@pytest.mark.kernel
def test_kernel_bitfields_match_the_raw_word():
    if not bp.REAL:
        pytest.skip("the running kernel has no BTF or not these task_struct bitfields in one word")
    bp.bits.clear()
    with bp.real_bits.load(attach=False) as lp:
        lp.run(args=[0] * 6)
        got = [bp.bits[i] for i in range(4)]
    word = got[3].to_bytes(8, "little")
    assert got[:3] == [_extract(word, False, bp.REAL[n].bit_offset - bp.WORD * 8, 1) for n in bp.REAL_NAMES]


@pytest.mark.kernel
def test_relocated_bitfields_read_the_real_bits_in_the_kernel():
    """moved_bits reads bits 3, 17 and 130 of a made-up task_struct; loaded as an object, relocated, it reads the
    real bits of this process's task, as the raw word read in the same run shows."""
    from pyebpf.loader.collection import load_collection

    if not bp.REAL:
        pytest.skip("the running kernel has no BTF or not these task_struct bitfields in one word")
    with load_collection(ElfSpec(bp.moved_bits.write_object())) as coll:
        coll.attach()
        os.getppid()
        packed, raw = coll.maps["bits"][4], coll.maps["bits"][5]
    word = raw.to_bytes(8, "little")
    want = [_extract(word, False, bp.REAL[n].bit_offset - bp.WORD * 8, 1) for n in bp.REAL_NAMES]
    assert packed == want[0] | want[1] << 1 | want[2] << 2 | 8
