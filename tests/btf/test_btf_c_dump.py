"""The vmlinux.h-style C dump: clang accepts it and lays every struct out as BTF says, and it names the same types
as bpftool's dump of the running kernel; small built BTF shows padding, packing and ordering."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.btf import VMLINUX_BTF_PATH, BtfKind
from pyebpf.btf import Btf, BtfBuilder, BtfType, kernel_btf
from pyebpf.btf.c_dump import CDumper, c_dump
from pyebpf.btf.dump import raw_dump
from pyebpf.errors import BtfError
from pyebpf.testing.plugin import require_or_skip


def _clang_checks(header: str, btf: Btf, dumper: CDumper, tmp_path, target: str = "bpf") -> str:
    """Compile `header` plus one _Static_assert per struct/union size and per named member offset; '' when clang
    agrees with BTF everywhere, else its errors."""
    if shutil.which("clang") is None:
        require_or_skip("clang is not installed")
    lines = ['#include "vmlinux.h"']
    for i, t in enumerate(btf.types):
        if t.kind in (BtfKind.STRUCT, BtfKind.UNION) and dumper.name(i):
            ty = f"{'struct' if t.kind == BtfKind.STRUCT else 'union'} {dumper.name(i)}"
            lines.append(f'_Static_assert(sizeof({ty}) == {t.size_type}, "[{i}] size");')
            for m in t.members:
                name = btf.str_at(m.name_off)
                if name and not m.bitfield_size:
                    lines.append(f'_Static_assert(__builtin_offsetof({ty}, {name}) == {m.bits_offset // 8}, '
                                 f'"[{i}] {name}");')
    (tmp_path / "vmlinux.h").write_text(header)
    (tmp_path / "check.c").write_text("\n".join(lines) + "\n")
    proc = subprocess.run(["clang", "-target", target, "-fsyntax-only", "-ferror-limit=20", "check.c"],
                          cwd=tmp_path, capture_output=True, text=True)
    return "" if proc.returncode == 0 else proc.stderr


def _built() -> Btf:
    b = BtfBuilder()
    char = b.add_int("char", 1, signed=True)
    i32 = b.add_int("int", 4, signed=True)
    u64 = b.add_int("long long unsigned int", 8)
    # a member placed later than its natural alignment (a hole BTF records): padding
    b.add_struct("holey", 24, [("a", char, 0), ("b", u64, 128)])
    # a member below its natural alignment: packed
    b.add_struct("tight", 9, [("a", char, 0), ("b", u64, 8)])
    # needs `inner` complete (by value) and `later` only by pointer, both defined after it in id order
    outer = b.add_struct("outer", 16, [("in", 0, 0), ("p", 0, 64)])
    inner = b.add_struct("inner", 8, [("x", i32, 0), ("y", i32, 32)])
    later = b.add_struct("later", 4, [("z", i32, 0)])
    td = b._add(BtfType(BtfKind.TYPEDEF, b.string("inner_t"), 0, 0, inner))
    b.types[outer].members[0].type = td
    b.types[outer].members[1].type = b.add_ptr(later)
    b.add_struct("bits", 8, [("lo", i32, 0), ("hi", i32, 40)])
    b.types[-1].kind_flag = 1
    b.types[-1].members[0].bitfield_size = 3
    b.types[-1].members[1].bitfield_size = 5
    b.add_struct("tailpad", 16, [("a", i32, 0)])
    return Btf.parse(b.encode())


def test_built_types_layout_exactly(tmp_path):
    btf = _built()
    dumper = CDumper(btf)
    header = dumper.dump()
    assert "\tlong: 64;\n\tlong long unsigned int b;" in header  # the hole of `holey`
    assert re.search(r"struct tight \{[^}]*\} __attribute__\(\(packed\)\);", header)
    assert header.index("typedef struct inner inner_t;") < header.index("struct outer {")
    assert header.index("struct inner {") < header.index("struct outer {") < header.index("struct later {")
    assert "\tint lo: 3;\n\tchar: 5;\n\tchar: 8;\n\tshort: 16;\n\tchar: 8;\n\tint hi: 5;" in header
    assert _clang_checks(header, btf, dumper, tmp_path) == ""


def test_name_clashes_get_libbpf_suffixes():
    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    b.add_struct("dup", 4, [("a", i32, 0)])
    b.add_struct("dup", 8, [("a", i32, 0), ("b", i32, 32)])
    header = c_dump(Btf.parse(b.encode()))
    assert "struct dup {" in header and "struct dup___2 {" in header


kernel_only = pytest.mark.skipif(not os.path.exists(VMLINUX_BTF_PATH), reason="kernel without CONFIG_DEBUG_INFO_BTF")


@kernel_only
def test_vmlinux_header_compiles_with_every_layout_as_btf_says(tmp_path):
    btf = kernel_btf()
    dumper = CDumper(btf)
    errors = _clang_checks(dumper.dump(), btf, dumper, tmp_path)
    assert errors == "", errors[:3000]


@kernel_only
def test_vmlinux_header_names_what_bpftool_names():
    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    theirs = subprocess.run(["bpftool", "btf", "dump", "file", VMLINUX_BTF_PATH, "format", "c"], capture_output=True,
                            text=True, check=True).stdout
    ours = c_dump(kernel_btf())

    def defined(text: str, pattern: str) -> set[str]:
        return set(re.findall(pattern, text, re.M))

    for pattern in (r"^(struct \w+) \{", r"^(union \w+) \{", r"^(enum \w+) \{", r"^\t(\w+) = "):
        assert defined(ours, pattern) == defined(theirs, pattern), pattern
    # typedefs, spelled alike but for the space bpftool leaves after a '*' (and va_list, written as what it is)
    typedefs = [{re.sub(r"\* ", "*", line) for line in defined(text, r"^(typedef .*;)$") if "va_list" not in line}
                for text in (ours, theirs)]
    assert typedefs[0] == typedefs[1]


def _valid_blob() -> bytes:
    return _built().encode()


@settings(max_examples=100)
@given(st.data())
def test_mutated_btf_prints_or_is_a_btf_error(data):
    """Any bytes: parse, C dump and raw dump finish with text or a BtfError, never another exception or a hang."""
    blob = bytearray(_valid_blob())
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(24, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    try:
        btf = Btf.parse(bytes(blob))
        c_dump(btf)
        list(raw_dump(btf))
    except BtfError:
        pass


def test_self_sharing_types_are_bounded():
    """A prototype whose parameters point back at itself would print exponentially: refused instead."""
    b = BtfBuilder()
    proto = b.add_func_proto(0, [])
    ptr = b.add_ptr(proto)
    b.types[proto].members = [(0, ptr)] * 8
    b.types[proto].vlen = 8
    b._add(BtfType(BtfKind.TYPEDEF, b.string("loop_t"), 0, 0, ptr))
    btf = Btf.parse(b.encode())
    with pytest.raises(BtfError):
        c_dump(btf)
