"""BTF parsing and encoding: vmlinux round-trips byte for byte, built BTF parses back, bad BTF is an ElfError."""
from __future__ import annotations

import ctypes
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.errors import ElfError
from pyebpf.btf import VMLINUX_BTF_PATH, Btf, BtfBuilder, BtfExt, BtfKind, essential_name, kernel_btf
from pyebpf.btf.fixups import fixup_datasecs


@pytest.mark.skipif(not os.path.exists(VMLINUX_BTF_PATH), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_round_trips_exactly():
    with open(VMLINUX_BTF_PATH, "rb") as f:
        raw = f.read()
    btf = kernel_btf()
    assert btf.encode() == raw
    tid = btf.find("task_struct", BtfKind.STRUCT)
    assert tid is not None and btf.size_of(tid) > 1000
    names = {btf.str_at(m.name_off) for m in btf[tid].members}
    assert {"pid", "tgid", "real_parent", "comm"} <= names
    assert kernel_btf() is btf  # cached


@pytest.mark.skipif(not os.path.exists(VMLINUX_BTF_PATH), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_enum_values_match_uapi():
    from pyebpf.abi.maps import MapType

    btf = kernel_btf()
    enum = btf[btf.find("bpf_map_type", BtfKind.ENUM)]
    values = {btf.str_at(n): v for n, v in enum.members}
    for t in MapType:
        assert values[f"BPF_MAP_TYPE_{t.name}"] == t.value


def test_builder_output_parses_back():
    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    u8 = b.add_int("unsigned char", 1)
    arr = b.add_array(u8, i32, 16)
    ptr = b.add_ptr(arr)
    s = b.add_struct("pair", 24, [("a", i32, 0), ("name", arr, 32), ("p", ptr, 192 - 64)])
    var = b.add_var("g", s)
    b.add_datasec(".data", 24, [(var, 0, 24)])
    proto = b.add_func_proto(i32, [("x", i32)])
    b.add_func("f", proto)
    blob = b.encode()
    btf = Btf.parse(blob)
    assert btf.encode() == blob
    assert btf.name(s) == "pair" and btf.size_of(s) == 24
    assert btf.size_of(arr) == 16 and btf.size_of(ptr) == 8
    assert btf[i32].int_encoding == 1 and btf[i32].int_bits == 32
    assert [btf.str_at(m.name_off) for m in btf[s].members] == ["a", "name", "p"]
    assert btf.find("f", BtfKind.FUNC) is not None
    assert btf[btf.find(".data", BtfKind.DATASEC)].members == [[var, 0, 24]]


@settings(max_examples=60)
@given(st.lists(st.tuples(st.sampled_from(["int", "ptr", "array", "struct", "enum"]), st.integers(0, 3),
                          st.integers(1, 64)), min_size=1, max_size=20))
def test_random_built_btf_round_trips(shapes):
    b = BtfBuilder()
    base = b.add_int("int", 4, signed=True)
    ids = [base]
    for i, (kind, ref, n) in enumerate(shapes):
        target = ids[ref % len(ids)]
        if kind == "int":
            ids.append(b.add_int(f"i{i}", [1, 2, 4, 8][n % 4], signed=bool(n & 1)))
        elif kind == "ptr":
            ids.append(b.add_ptr(target))
        elif kind == "array":
            ids.append(b.add_array(target, base, n))
        elif kind == "struct":
            ids.append(b.add_struct(f"s{i}", 8 * n, [(f"m{j}", target, 64 * j) for j in range(n % 5)]))
        else:
            from pyebpf.btf import BtfType

            ids.append(b._add(BtfType(BtfKind.ENUM, b.string(f"e{i}"), 2, 1, 4,
                                      members=[(b.string("A"), -n), (b.string("B"), n)])))
    blob = b.encode()
    again = Btf.parse(blob)
    assert again.encode() == blob
    assert len(again) == len(ids) + 1  # type 0 is void


def test_bad_magic_and_truncation():
    b = BtfBuilder()
    b.add_int("int", 4)
    blob = b.encode()
    with pytest.raises(ElfError, match="bad BTF magic"):
        Btf.parse(b"\0\0" + blob[2:])
    with pytest.raises(ElfError, match="too short"):
        Btf.parse(blob[:10])
    with pytest.raises(ElfError, match="runs past the end"):
        Btf.parse(blob[:-3])
    hdr = list(struct.unpack_from("<HBBIIIII", blob))
    hdr[5] -= 2  # type_len cuts the INT record
    with pytest.raises(ElfError, match="truncated INT"):
        Btf.parse(struct.pack("<HBBIIIII", *hdr) + blob[24:])


def test_unknown_kind_is_an_error():
    b = BtfBuilder()
    b.add_int("int", 4)
    blob = bytearray(b.encode())
    struct.pack_into("<I", blob, 24 + 4, 31 << 24)  # kind 31
    with pytest.raises(ElfError, match="unknown BTF kind 31"):
        Btf.parse(bytes(blob))


def test_fixup_datasecs_fills_sizes_and_offsets():
    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    v1, v2 = b.add_var("a", i32), b.add_var("b", i32)
    ds = b.add_datasec(".bss", 0, [(v1, 0, 4), (v2, 0, 4)])
    btf = b.build()
    fixup_datasecs(btf, {".bss": 8}, {(".bss", "a"): 4, (".bss", "b"): 0})
    assert btf[ds].size_type == 8
    assert btf[ds].members == [[v2, 0, 4], [v1, 4, 4]]  # sorted by offset, as the kernel wants
    with pytest.raises(ElfError, match="no ELF symbol for variable 'a'"):
        fixup_datasecs(Btf.parse(b.encode()), {".bss": 8}, {})
    with pytest.raises(ElfError, match="names no ELF section"):
        fixup_datasecs(Btf.parse(b.encode()), {}, {})


def test_essential_name():
    assert essential_name("task_struct___old") == "task_struct"
    assert essential_name("task_struct") == "task_struct"
    assert essential_name("a___b___c") == "a___b"


def test_btf_ext_of_compiled_object():
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "loader", "c"))
    from bpf_objects import ToolMissing, object_path

    from pyebpf.isa.elf_reader import ElfFile
    from pyebpf.testing.plugin import require_or_skip

    try:
        path = object_path("calls_globals")
    except ToolMissing as e:
        require_or_skip(str(e))
    elf = ElfFile.open(path)
    btf = Btf.parse(elf.by_name[".BTF"].data)
    ext = BtfExt.parse(elf.by_name[".BTF.ext"].data, btf)
    assert set(ext.func_info) == {".text", "xdp"}
    funcs = {btf.name(fi.type_id) for recs in ext.func_info.values() for fi in recs}
    sizes = {name: elf.by_name[name].size // 8 for name in ext.func_info}  # records count instructions
    assert all(0 <= fi.insn_off < sizes[sec] for sec, recs in ext.func_info.items() for fi in recs)
    assert 0 in {fi.insn_off for fi in ext.func_info["xdp"]}
    assert funcs == {"scaled", "sum_table", "xdp_globals", "xdp_second"}
    lines = ext.line_info["xdp"]
    assert all(li.line > 0 for li in lines)
    assert any("calls++" in btf.str_at(li.line_off) for li in lines)
    with pytest.raises(ElfError, match="bad magic"):
        BtfExt.parse(b"\0" * 32, btf)


class _Inner(ctypes.Union):
    _fields_ = [("word", ctypes.c_uint32), ("half", ctypes.c_int16)]


class _Outer(ctypes.Structure):
    _fields_ = [("flag", ctypes.c_bool), ("count", ctypes.c_uint64), ("delta", ctypes.c_int32),
                ("inner", _Inner), ("name", ctypes.c_char * 5), ("values", ctypes.c_uint16 * 3),
                ("ratio", ctypes.c_double)]


def _layout(ctype) -> list:
    out = []
    for f in ctype._fields_:
        if f[0].startswith("_pad"):
            continue
        out.append((f[0], getattr(ctype, f[0]).offset, ctypes.sizeof(f[1])))
    return out


def test_ctypes_to_btf_and_back_keeps_the_layout():
    from pyebpf.btf.ctypes_conv import from_ctypes, to_ctypes

    b = BtfBuilder()
    tid = from_ctypes(b, _Outer)
    btf = Btf.parse(b.encode())
    assert btf.size_of(tid) == ctypes.sizeof(_Outer)
    back = to_ctypes(btf, tid)
    assert ctypes.sizeof(back) == ctypes.sizeof(_Outer)
    assert _layout(back) == _layout(_Outer)
    raw = bytes(_Outer(True, 2**40, -7, _Inner(0xDEADBEEF), b"abc", (1, 2, 3), 0.5))
    v = back.from_buffer_copy(raw)
    assert (v.flag, v.count, v.delta, v.inner.word, bytes(v.name), list(v.values), v.ratio) == \
           (True, 2**40, -7, 0xDEADBEEF, b"abc\0\0", [1, 2, 3], 0.5)


def test_bitfields_become_opaque_bytes():
    from pyebpf.btf import BtfMember, BtfType
    from pyebpf.btf.ctypes_conv import to_ctypes

    b = BtfBuilder()
    u32 = b.add_int("unsigned int", 4)
    tid = b._add(BtfType(BtfKind.STRUCT, b.string("bits"), 1, 1, 4, members=[BtfMember(b.string("a"), u32, 0, 3)]))
    t = to_ctypes(Btf.parse(b.encode()), tid)
    assert issubclass(t, ctypes.Array) and ctypes.sizeof(t) == 4
