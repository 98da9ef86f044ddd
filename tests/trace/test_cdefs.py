"""C struct/union definitions in scripts (pyebpf.trace.cdefs): parsed, laid out as C lays them out (ctypes, which
follows the platform's C ABI, is the oracle), and answered through pyebpf.trace.btfaccess like kernel types."""
from __future__ import annotations

import ctypes

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.trace import btfaccess
from pyebpf.trace.cdefs import CDefinitionError
from pyebpf.trace.errors import Source, TraceError
from pyebpf.trace.parser import Parser

SCALARS = {"char": ctypes.c_char, "unsigned char": ctypes.c_ubyte, "short": ctypes.c_short,
           "unsigned short": ctypes.c_ushort, "int": ctypes.c_int, "unsigned int": ctypes.c_uint,
           "long": ctypes.c_long, "unsigned long": ctypes.c_ulong, "long long": ctypes.c_longlong,
           "u8": ctypes.c_uint8, "u16": ctypes.c_uint16, "u32": ctypes.c_uint32, "u64": ctypes.c_uint64,
           "int32_t": ctypes.c_int32, "__s16": ctypes.c_int16}


def register(text: str) -> None:
    from pyebpf.trace import cdefs

    p = Parser(text + "\nBEGIN { exit(); }", "stdin")
    prog = p.parse()
    btfaccess.use_local(None)
    cdefs.register(p.src, prog.structs)


@pytest.fixture(autouse=True)
def _clear_local_types():
    yield
    btfaccess.use_local(None)


member = st.tuples(st.sampled_from(sorted(SCALARS)), st.lists(st.integers(1, 5), max_size=2), st.booleans())


@settings(max_examples=80, deadline=None)
@given(st.lists(member, min_size=1, max_size=8), st.lists(member, min_size=1, max_size=4), st.booleans())
def test_layout_is_cs(outer, inner, union):
    """Offsets and sizes of random definitions (scalars, arrays, pointers, a nested struct or union) equal
    ctypes' layout of the same declaration."""
    def fields(members):
        decl, ctf = [], []
        for i, (name, dims, ptr) in enumerate(members):
            t = ctypes.c_void_p if ptr else SCALARS[name]
            for n in reversed(dims):
                t = t * n
            ctf.append((f"m{i}", t))
            decl.append(f"{name} {'*' if ptr else ''}m{i}{''.join(f'[{n}]' for n in dims)};")
        return decl, ctf
    idecl, ictf = fields(inner)
    odecl, octf = fields(outer)
    kind = "union" if union else "struct"
    base = ctypes.Union if union else ctypes.Structure
    Inner = type("Inner", (base,), {"_fields_": ictf})
    Outer = type("Outer", (ctypes.Structure,), {"_fields_": octf + [("nested", Inner), ("last", ctypes.c_char)]})
    register(f"{kind} inner {{ {' '.join(idecl)} }};\nstruct outer {{ {' '.join(odecl)} {kind} inner nested; "
             f"char last; }};")
    sid = btfaccess.struct_id("struct outer")
    assert btfaccess.size_of(sid) == ctypes.sizeof(Outer)
    assert btfaccess.size_of(btfaccess.struct_id(f"{kind} inner")) == ctypes.sizeof(Inner)
    for name, _ in octf + [("nested", None), ("last", None)]:
        off, tid = btfaccess.member(sid, name)
        assert off == getattr(Outer, name).offset, name
    inner_id = btfaccess.member(sid, "nested")[1]
    for name, _ in ictf:
        assert btfaccess.member(inner_id, name)[0] == getattr(Inner, name).offset


def test_shapes_and_names():
    register("struct node { struct node *next; char name[16]; int vals[3]; struct task_struct *task; pid_t pid; }")
    sid = btfaccess.struct_id("struct node")
    assert btfaccess.type_name(sid) == "struct node" and btfaccess.shape(sid).kind == "struct"
    nxt = btfaccess.shape(btfaccess.member(sid, "next")[1])
    assert nxt.kind == "ptr" and nxt.target == sid  # a pointer to itself: C allows it
    name = btfaccess.shape(btfaccess.member(sid, "name")[1])
    assert (name.kind, name.count) == ("chars", 16)
    vals = btfaccess.shape(btfaccess.member(sid, "vals")[1])
    assert (vals.kind, vals.count, vals.size) == ("array", 3, 12)
    assert btfaccess.member(sid, "nope") is None
    task = btfaccess.shape(btfaccess.member(sid, "task")[1])
    assert task.kind == "ptr" and task.target == btfaccess.struct_id("struct task_struct", local=False)
    assert btfaccess.member(sid, "pid")[0] == 48 and btfaccess.size_of(sid) == 56


@pytest.mark.parametrize("text, first", [
    ("struct a { foo_t x; };", "definitions.h:2:12: error: unknown type name 'foo_t'"),
    ("struct a { int x; };\nstruct a { int y; };", "definitions.h:3:8: error: redefinition of 'a'"),
    ("struct a { struct nope n; };", "definitions.h:2:24: error: field has incomplete type 'struct nope'"),
    ("struct a { struct a self; };", "definitions.h:2:21: error: field has incomplete type 'struct a'"),
])
def test_clang_errors_as_bpftrace_prints_them(text, first):
    with pytest.raises(CDefinitionError) as e:
        register(text)
    assert str(e.value).split("\n")[0] == first


@pytest.mark.parametrize("text", ["struct a { int }", "struct a { int x: 3; }", "struct a { int x[y]; }",
                                  "struct a { struct { int z; } inner; }", "struct a { int x;", "struct a {"])
def test_unsupported_or_bad_definitions_are_trace_errors(text):
    with pytest.raises(TraceError) as e:
        register(text)
    assert str(e.value).startswith("stdin:") and "Traceback" not in str(e.value)
