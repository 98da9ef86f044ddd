"""Typed views and C spelling of BTF built here (no kernel): what a compiler reads from a type."""
from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.btf import BTF_INT_BOOL, BtfKind
from pyebpf.abi.prog_types import AttachType
from pyebpf.btf import (Array, Btf, BtfBuilder, Enum, FuncProto, Int, Pointer, Struct, Union, attach_btf_name,
                        c_decl, c_type_name, kernel_btf)
from pyebpf.btf.spec import BtfType
from pyebpf.errors import BtfError, ElfError


def _sample() -> tuple[Btf, dict[str, int]]:
    b = BtfBuilder()
    ids: dict[str, int] = {}
    ids["int"] = i32 = b.add_int("int", 4, signed=True)
    ids["u8"] = u8 = b.add_int("unsigned char", 1)
    ids["bool"] = b.add_int_encoded("_Bool", 1, BTF_INT_BOOL)
    ids["arr"] = arr = b.add_array(u8, i32, 16)
    ids["ptr_arr"] = b.add_ptr(arr)
    ids["inner"] = inner = b.add_union("", 8, [("x", i32, 0), ("y", u8, 0)])
    ids["proto"] = proto = b.add_func_proto(i32, [("a", i32), ("b", b.add_ptr(u8))])
    ids["fnptr"] = fnptr = b.add_ptr(proto)
    ids["rec"] = b.add_struct("rec", 40, [("id", i32, 0), ("name", arr, 32), ("", inner, 192), ("cb", fnptr, 256)])
    ids["func"] = b.add_func("handler", proto)
    return Btf.parse(b.encode()), ids


def test_struct_members_offsets_sizes_and_types():
    btf, ids = _sample()
    rec = btf.struct("rec")
    assert isinstance(rec, Struct) and rec.size == 40 and rec.id == ids["rec"]
    assert [(m.name, m.offset, m.size) for m in rec.members] == [("id", 0, 4), ("name", 4, 16), ("", 24, 8),
                                                                 ("cb", 32, 8)]
    name = rec.member("name")
    assert isinstance(name.type, Array) and name.type.nelems == 16 and name.type.elem.name == "unsigned char"
    y = rec.member("y")  # through the anonymous union, offset from the start of rec
    assert (y.offset, y.size, y.type.name) == (24, 1, "unsigned char")
    assert isinstance(btf.type(ids["inner"]), Union)
    i = btf.type(ids["int"])
    assert isinstance(i, Int) and i.signed and i.bits == 32 and not i.bool_
    assert btf.type(ids["bool"]).bool_  # type: ignore[attr-defined]
    with pytest.raises(BtfError):
        rec.member("nope")


def test_views_are_cached_and_compare_by_btf_and_id():
    btf, ids = _sample()
    assert btf.type(ids["rec"]) is btf.type(ids["rec"])
    other, _ = _sample()
    assert btf.type(ids["rec"]) != other.type(ids["rec"])
    with pytest.raises(BtfError):
        btf.type(len(btf))


def test_function_prototypes():
    btf, ids = _sample()
    fn = btf.func("handler")
    proto = fn.proto
    assert isinstance(proto, FuncProto) and not proto.variadic
    assert [(p.name, p.type.c_type()) for p in proto.params] == [("a", "int"), ("b", "unsigned char *")]
    assert proto.return_type.name == "int"


@pytest.mark.parametrize("key,name,expected", [
    ("arr", "buf", "unsigned char buf[16]"),
    ("ptr_arr", "p", "unsigned char (*p)[16]"),
    ("fnptr", "cb", "int (*cb)(int a, unsigned char *b)"),
    ("func", "", "int handler(int a, unsigned char *b)"),
    ("rec", "r", "struct rec r"),
    ("inner", "", "union {...}"),
])
def test_c_declarations(key, name, expected):
    btf, ids = _sample()
    assert c_decl(btf, ids[key], name) == expected


def test_const_pointer_and_variadic():
    b = BtfBuilder()
    char = b.add_int("char", 1, signed=True)
    cchar = b._add(BtfType(BtfKind.CONST, 0, 0, 0, char))
    ptr = b.add_ptr(cchar)
    cptr = b._add(BtfType(BtfKind.CONST, 0, 0, 0, ptr))
    proto = b.add_func_proto(0, [("fmt", ptr), ("", 0)])
    btf = Btf.parse(b.encode())
    assert c_type_name(btf, ptr) == "const char *"
    assert c_decl(btf, cptr, "s") == "const char *const s"
    view = btf.type(proto)
    assert isinstance(view, FuncProto) and view.variadic and len(view.params) == 1
    assert c_decl(btf, proto, "") == "void (const char *fmt, ...)"


def test_enum_views():
    b = BtfBuilder()
    e = b._add(BtfType(BtfKind.ENUM, b.string("color"), 2, 1, 4, members=[(b.string("RED"), -1),
                                                                          (b.string("BLUE"), 7)]))
    btf = Btf.parse(b.encode())
    view = btf.enum("color")
    assert isinstance(view, Enum) and view.id == e and view.signed
    assert view.values == (("RED", -1), ("BLUE", 7))
    assert btf.enum_value("BLUE") == 7
    with pytest.raises(BtfError):
        btf.enum_value("GREEN")


def test_attach_names_follow_libbpf():
    assert attach_btf_name(AttachType.TRACE_RAW_TP, "sched_switch") == ("btf_trace_sched_switch", BtfKind.TYPEDEF)
    assert attach_btf_name(AttachType.LSM_MAC, "file_open") == ("bpf_lsm_file_open", BtfKind.FUNC)
    assert attach_btf_name(AttachType.TRACE_ITER, "task") == ("bpf_iter_task", BtfKind.FUNC)
    assert attach_btf_name(AttachType.TRACE_FEXIT, "do_unlinkat") == ("do_unlinkat", BtfKind.FUNC)


def test_missing_kernel_btf_is_a_typed_error(tmp_path):
    with pytest.raises(BtfError) as e:
        kernel_btf(str(tmp_path / "vmlinux"))
    assert e.value.errno == errno.ENOENT and isinstance(e.value, ElfError)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.sampled_from([1, 2, 4, 8]), st.booleans(), st.integers(0, 4)), min_size=1,
                max_size=12))
def test_built_structs_read_back_member_for_member(fields):
    b = BtfBuilder()
    members, off = [], 0
    for n, (size, signed, pad) in enumerate(fields):
        tid = b.add_int(f"i{size}{'s' if signed else 'u'}", size, signed=signed)
        off += pad
        members.append((f"f{n}", tid, off * 8, size, signed))
        off += size
    b.add_struct("s", off, [(name, tid, bits) for name, tid, bits, _, _ in members])
    s = Btf.parse(b.encode()).struct("s")
    assert s.size == off
    got = [(m.name, m.offset, m.size, m.type.signed) for m in s.members]  # type: ignore[attr-defined]
    assert got == [(name, bits // 8, size, signed) for name, _, bits, size, signed in members]


def test_pointer_view_resolves_its_target():
    btf, ids = _sample()
    p = btf.type(ids["ptr_arr"])
    assert isinstance(p, Pointer) and p.target.id == ids["arr"] and p.size == 8 and p.resolve() is p
