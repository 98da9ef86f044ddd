"""CO-RE relocations: offline against hand-built local/target BTF (offsets moved, fields missing, flavors, anonymous
members, arrays, bitfields, enums, poisoning), and in the kernel against vmlinux with a clang-built object."""
from __future__ import annotations

import os
import sys

import pytest

from pyebpf.abi.opcodes import InsnClass, Mode, Size
from pyebpf.isa.instruction import Instruction
from pyebpf.btf import Btf, BtfBuilder, BtfKind, BtfMember, BtfType, CoreRelo, CoreReloKind as K
from pyebpf.loader.core import POISON_HELPER_ID, CoreError, apply_relocations, resolve

LDX_W = InsnClass.LDX | Mode.MEM | Size.W
LDX_DW = InsnClass.LDX | Mode.MEM | Size.DW
MOV64_K = InsnClass.ALU64 | 0xB0


def _local() -> tuple[Btf, dict[str, int]]:
    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    arr = b.add_array(i32, i32, 4)
    task = b.add_struct("task___mine", 24, [("pid", i32, 0), ("tgid", i32, 32), ("gone", i32, 64),
                                            ("slots", arr, 96)])
    ghost = b.add_struct("ghost", 4, [("x", i32, 0)])
    enum = b._add(BtfType(BtfKind.ENUM, b.string("color"), 2, 0, 4,
                          members=[(b.string("RED"), 1), (b.string("BLUE"), 2)]))
    u32 = b.add_int("unsigned int", 4)
    bits = b._add(BtfType(BtfKind.STRUCT, b.string("flags"), 2, 1, 4,
                          members=[BtfMember(b.string("a"), u32, 0, 3), BtfMember(b.string("b"), u32, 3, 5)]))
    for s in ("0", "0:0", "0:1", "0:2", "0:3:2", "1", "0:1"):
        b.string(s)
    return b.build(), dict(i32=i32, task=task, ghost=ghost, enum=enum, bits=bits)


def _target() -> Btf:
    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    i64 = b.add_int("long", 8, signed=True)
    arr = b.add_array(i32, i32, 8)
    inner = b._add(BtfType(BtfKind.UNION, 0, 2, 0, 8, members=[BtfMember(b.string("tgid"), i32, 0),
                                                               BtfMember(b.string("tgid64"), i64, 0)]))
    b.add_struct("task", 64, [("x", i64, 0), ("pid", i64, 64), ("", inner, 128), ("slots", arr, 256)])
    b._add(BtfType(BtfKind.ENUM, b.string("color"), 3, 0, 4,
                   members=[(b.string("GREEN"), 0), (b.string("BLUE"), 7), (b.string("RED"), 3)]))
    u32 = b.add_int("unsigned int", 4)
    b._add(BtfType(BtfKind.STRUCT, b.string("flags"), 2, 1, 4,
                   members=[BtfMember(b.string("b"), u32, 0, 5), BtfMember(b.string("a"), u32, 9, 3)]))
    return b.build()


def relo(local: Btf, type_id: int, access: str, kind: K, slot: int = 0) -> CoreRelo:
    off = local.strings.index(access.encode() + b"\0")
    assert local.str_at(off) == access
    return CoreRelo(slot * 8, type_id, off, kind)


def value(local: Btf, type_id: int, access: str, kind: K) -> tuple[int, int | None]:
    lv, tv, _ = resolve(relo(local, type_id, access, kind), local, _target(), "test")
    return lv, tv


def test_field_offset_moves_with_the_target_layout():
    local, ids = _local()
    assert value(local, ids["task"], "0:1", K.FIELD_BYTE_OFFSET) == (4, 16)  # tgid inside an anonymous union
    assert value(local, ids["task"], "0:0", K.FIELD_BYTE_OFFSET) == (0, 8)
    assert value(local, ids["task"], "0:3:2", K.FIELD_BYTE_OFFSET) == (12 + 8, 32 + 8)  # slots[2]


def test_field_size_existence_and_signedness():
    local, ids = _local()
    assert value(local, ids["task"], "0:0", K.FIELD_BYTE_SIZE) == (4, 8)  # pid is a long in the target
    assert value(local, ids["task"], "0:1", K.FIELD_EXISTS) == (1, 1)
    assert value(local, ids["task"], "0:2", K.FIELD_EXISTS) == (1, None)  # 'gone' is not in the target
    assert value(local, ids["task"], "0:0", K.FIELD_SIGNED) == (1, 1)


def test_type_relocations():
    local, ids = _local()
    assert value(local, ids["task"], "0", K.TYPE_EXISTS) == (1, 1)
    assert value(local, ids["task"], "0", K.TYPE_SIZE) == (24, 64)
    assert value(local, ids["ghost"], "0", K.TYPE_EXISTS) == (1, None)
    lv, tv = value(local, ids["task"], "0", K.TYPE_ID_TARGET)
    assert lv == ids["task"] and _target().name(tv) == "task"


def test_enum_values_follow_the_target():
    local, ids = _local()
    assert value(local, ids["enum"], "1", K.ENUMVAL_VALUE) == (2, 7)
    assert value(local, ids["enum"], "0", K.ENUMVAL_VALUE) == (1, 3)
    assert value(local, ids["enum"], "1", K.ENUMVAL_EXISTS) == (1, 1)


def test_bitfield_shifts():
    local, ids = _local()
    # local: a = bits 0..2, b = bits 3..7; target: b = bits 0..4, a = bits 9..11
    assert value(local, ids["bits"], "0:1", K.FIELD_LSHIFT_U64) == (64 - 8, 64 - 5)
    assert value(local, ids["bits"], "0:1", K.FIELD_RSHIFT_U64) == (64 - 5, 64 - 5)
    assert value(local, ids["bits"], "0:0", K.FIELD_LSHIFT_U64) == (64 - 3, 64 - 12)
    assert value(local, ids["bits"], "0:0", K.FIELD_BYTE_OFFSET) == (0, 0)
    assert value(local, ids["bits"], "0:0", K.FIELD_BYTE_SIZE) == (4, 4)


def test_patching_instructions():
    local, ids = _local()
    insns = {
        0: Instruction(LDX_W, 1, 2, 0, 0),  # r1 = *(u32 *)(r2 + pid)    -> off 8, and 8 bytes wide
        1: Instruction(MOV64_K, 3, 0, 0, 4),  # r3 = offsetof(tgid)     -> 16
        2: Instruction(MOV64_K, 4, 0, 0, 1),  # r4 = exists(gone)       -> 0
        3: Instruction(LDX_W, 5, 2, 8, 0),  # r5 = *(u32 *)(r2 + gone)  -> poisoned
    }
    relos = [relo(local, ids["task"], "0:0", K.FIELD_BYTE_OFFSET, 0),
             relo(local, ids["task"], "0:1", K.FIELD_BYTE_OFFSET, 1),
             relo(local, ids["task"], "0:2", K.FIELD_EXISTS, 2),
             relo(local, ids["task"], "0:2", K.FIELD_BYTE_OFFSET, 3)]
    results = apply_relocations("sec", insns, relos, local, _target())
    assert insns[0] == Instruction(LDX_DW, 1, 2, 8, 0)
    assert insns[1].imm == 16
    assert insns[2].imm == 0
    assert insns[3].is_helper_call and insns[3].imm == POISON_HELPER_ID
    assert [r.poisoned for r in results] == [False, False, False, True]


def test_instruction_that_does_not_hold_the_local_value_is_rejected():
    local, ids = _local()
    insns = {0: Instruction(MOV64_K, 3, 0, 0, 99)}
    with pytest.raises(CoreError, match="holds 99.*expects 4"):
        apply_relocations("sec", insns, [relo(local, ids["task"], "0:1", K.FIELD_BYTE_OFFSET)], local, _target())


def test_relocation_off_the_instructions_is_rejected():
    local, ids = _local()
    with pytest.raises(CoreError, match="does not point at an instruction"):
        apply_relocations("sec", {0: Instruction(MOV64_K, 3, 0, 0, 4)},
                          [relo(local, ids["task"], "0:1", K.FIELD_BYTE_OFFSET, slot=5)], local, _target())


def test_bad_access_string():
    local, ids = _local()
    bad = Btf(local.types, local.strings + b"0:9\0x:1\0")
    with pytest.raises(CoreError, match="member index 9 out of range"):
        resolve(CoreRelo(0, ids["task"], len(local.strings), K.FIELD_BYTE_OFFSET), bad, _target(), "t")
    with pytest.raises(CoreError, match="bad CO-RE access string 'x:1'"):
        resolve(CoreRelo(0, ids["task"], len(local.strings) + 4, K.FIELD_BYTE_OFFSET), bad, _target(), "t")


# ---- kernel: clang-built object, vmlinux BTF -------------------------------------------------------------------

def _core_obj():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "c"))
    from bpf_objects import ToolMissing, object_path

    from pyebpf.testing.plugin import require_or_skip

    try:
        return object_path("core_task")
    except ToolMissing as e:
        require_or_skip(str(e))


@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="no kernel BTF")
def test_core_relocations_of_compiled_object_resolve():
    from pyebpf.btf import kernel_btf
    from pyebpf.loader.elf import load_elf

    o = load_elf(_core_obj())
    by_spec = {(r.kind, r.spec): r for r in o.core_results}
    vml = kernel_btf()
    task = vml.find("task_struct", BtfKind.STRUCT)
    members = {vml.str_at(m.name_off): m.bits_offset // 8 for m in vml[task].members}
    # task_struct___mini's tgid (local offset 4) and real_parent (8) moved to the kernel's offsets
    mini = [r for r in o.core_results if r.kind == K.FIELD_BYTE_OFFSET and r.local_value in (4, 8)]
    assert {r.new_value for r in mini} == {members["tgid"], members["real_parent"]}
    assert any(r.kind == K.FIELD_EXISTS and r.new_value == 0 for r in o.core_results)  # the fake field
    assert any(r.kind == K.TYPE_SIZE and r.new_value == vml.size_of(task) for r in o.core_results)
    assert not any(r.poisoned for r in o.core_results)
    assert by_spec  # every record was resolved


@pytest.mark.kernel
def test_core_program_reads_task_fields_in_the_kernel():
    from pyebpf.abi.maps import MapType
    from pyebpf.btf import kernel_btf
    from pyebpf.loader.elf import load_elf

    with load_elf(_core_obj()) as o:
        o.bss["target_tgid"] = os.getpid()
        o.load()
        o.loaded["core_probe"].attach()
        os.getppid()
        os.stat("/")
        r = o.bss["result"]  # a ctypes Structure built from the object's BTF (struct core_result)
    (pid, ppid, tgid_exists, bogus_exists, pid_size, type_exists, task_size, enum_value, enum_exists, comm_off,
     mini_tgid, mini_ppid) = (r.pid, r.ppid, r.tgid_exists, r.bogus_exists, r.pid_size, r.task_type_exists,
                              r.task_size, r.enum_value, r.enum_exists, r.comm_off, r.mini_tgid, r.mini_ppid)
    vml = kernel_btf()
    task = vml.find("task_struct", BtfKind.STRUCT)
    comm = next(m for m in vml[task].members if vml.str_at(m.name_off) == "comm")
    assert (pid, ppid) == (os.getpid(), os.getppid())
    assert (mini_tgid, mini_ppid) == (os.getpid(), os.getppid())
    assert (tgid_exists, bogus_exists, pid_size, type_exists) == (1, 0, 4, 1)
    assert task_size == vml.size_of(task)
    assert (enum_value, enum_exists) == (MapType.RINGBUF, 1)
    assert comm_off == comm.bits_offset // 8


def test_custom_target_btf(tmp_path):
    """btf_custom_path: relocate against another kernel's BTF (here a tiny one with a different task_struct)."""
    from pyebpf.loader.elf import load_elf

    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    task = b.add_struct("task_struct", 64, [("pid", i32, 32 * 8), ("tgid", i32, 40 * 8)])
    b.add_struct("task_struct", 0, [])  # a second candidate without members must not make it ambiguous
    del task
    path = tmp_path / "tiny.btf"
    path.write_bytes(b.encode())
    o = load_elf(_core_obj(), btf_custom_path=str(path))
    mini = {r.local_value: r for r in o.core_results if r.kind == K.FIELD_BYTE_OFFSET and r.local_value in (4, 8)}
    assert mini[4].new_value == 40  # tgid moved to 40 in the custom BTF
    assert mini[8].poisoned  # real_parent does not exist there: the load is poisoned, not silently wrong
    enum = next(r for r in o.core_results if r.kind == K.ENUMVAL_VALUE)
    assert enum.poisoned  # no enum bpf_map_type in the tiny BTF: a lddw, both halves poisoned
    prog = o.programs["core_probe"]
    poisoned = [s for s, i in prog.by_slot() if i.is_helper_call and i.imm == POISON_HELPER_ID]
    assert len(poisoned) >= 3
