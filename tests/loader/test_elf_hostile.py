"""Hostile ELF objects (issue 8 part 3): every malformed field is an ElfError from the one ELF reader, whether the
object goes to the loader (load_elf) or the disassembler, with bounded time and memory.

Each reproduction from the issue has its own test; a hypothesis test then mutates header, section-header, symbol
and relocation fields of real clang objects to extreme values."""
from __future__ import annotations

import errno
import os
import struct
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyebpf.errors import ElfError, PyebpfError
from pyebpf.isa.disasm_elf import disassemble_input
from pyebpf.isa.elf_reader import SHDR_SIZE, SYM_SIZE, ElfFile, ShType
from pyebpf.btf import Btf, BtfKind, BtfType
from pyebpf.loader.elf import load_elf
from pyebpf.testing.plugin import require_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "c"))
from bpf_objects import ToolMissing, object_path  # noqa: E402

# section header field offsets (Elf64_Shdr)
SH_TYPE, SH_OFFSET, SH_SIZE, SH_LINK, SH_INFO, SH_ENTSIZE = 4, 24, 32, 40, 44, 56
# symbol field offsets (Elf64_Sym)
ST_NAME, ST_SHNDX, ST_VALUE, ST_SIZE = 0, 6, 8, 16


def obj(name: str) -> str:
    try:
        return object_path(name, ("-g",))
    except ToolMissing as e:
        require_or_skip(str(e))
        raise AssertionError("unreachable")


def raw_of(name: str) -> tuple[bytearray, ElfFile]:
    path = obj(name)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    return data, ElfFile(bytes(data), path)


def shdr_at(data: bytearray, index: int) -> int:
    return int.from_bytes(data[40:48], "little") + index * SHDR_SIZE


def patch_section(name: str, section: str, field: int, fmt: str, value: int) -> bytes:
    data, elf = raw_of(name)
    struct.pack_into(fmt, data, shdr_at(data, elf.by_name[section].index) + field, value)
    return bytes(data)


def both_refuse(data: bytes, match: str) -> None:
    """The loader and the disassembler read through the same reader: both give the same typed error."""
    with pytest.raises(ElfError, match=match):
        load_elf(data)
    with pytest.raises(ElfError, match=match):
        disassemble_input(data)


def test_symbol_table_turned_null_is_a_typed_error():
    data = patch_section("calls_globals", ".symtab", SH_TYPE, "<I", ShType.NULL)
    with pytest.raises(ElfError, match="no .symtab section"):
        load_elf(data)
    # the disassembler reads objects without symbols, but the relocations then name symbols that do not exist
    with pytest.raises(ElfError, match="bad symbol index"):
        disassemble_input(data)


@pytest.mark.parametrize("value", [1 << 63, (1 << 64) - 1, (1 << 63) + 8])
@pytest.mark.parametrize("section,field", [(".rodata", SH_OFFSET), ("xdp", SH_OFFSET), ("xdp", SH_SIZE),
                                           (".BTF", SH_OFFSET), (".symtab", SH_SIZE)])
def test_offsets_and_sizes_past_2_63_are_typed_errors(section, field, value):
    data = patch_section("calls_globals", section, field, "<Q", value)
    both_refuse(data, "runs past the end of the file")


def test_section_header_table_past_2_63():
    data, _ = raw_of("calls_globals")
    struct.pack_into("<Q", data, 40, 1 << 63)  # e_shoff
    both_refuse(bytes(data), "section header table .* is out of the file")


@pytest.mark.parametrize("field", [ST_VALUE, ST_SIZE])
def test_function_symbol_past_2_63(field):
    data, elf = raw_of("calls_globals")
    symtab = elf.by_name[".symtab"]
    sym = next(s for s in elf.symbols if s.name == "xdp_globals")
    struct.pack_into("<Q", data, symtab.offset + sym.index * SYM_SIZE + field, 1 << 63)
    with pytest.raises(ElfError, match="function 'xdp_globals' at offset"):
        load_elf(bytes(data))
    disassemble_input(bytes(data))  # a label past the code is no label: still disassembles


def test_btf_type_ids_out_of_range():
    btf = Btf([BtfType(BtfKind.UNKN), BtfType(BtfKind.CONST, 0, 0, 0, 0)], b"\0")
    for call in (btf.skip_modifiers, btf.size_of, btf.describe):
        with pytest.raises(ElfError, match="out of range"):
            call(7)
    # an array that contains itself passes the reference check (id 1 exists) but has no size
    loop = Btf([BtfType(BtfKind.UNKN), BtfType(BtfKind.ARRAY)], b"\0")
    loop.types[1].array = (1, 1, 4)
    loop.check_references()
    with pytest.raises(ElfError, match="nested more than"):
        loop.size_of(1)


def test_btf_type_id_out_of_range_in_the_object():
    data, elf = raw_of("openat_counter")
    btf_sec = elf.by_name[".BTF"]
    btf = Btf.parse(elf.by_name[".BTF"].data)
    # the map's key pointer (`__type(key, __u32)`) now points past the last type
    ds = btf[btf.find(".maps", BtfKind.DATASEC)]
    struct_id = btf.skip_modifiers(btf[ds.members[0][0]].size_type)
    key = next(m for m in btf[struct_id].members if btf.str_at(m.name_off) == "key")
    blob = btf_sec.data
    hdr_len, type_off = struct.unpack_from("<I", blob, 4)[0], struct.unpack_from("<I", blob, 8)[0]
    # find the PTR record of the key member and point it at an id past the end
    at = blob.find(btf[key.type].encode(), hdr_len + type_off)
    assert at >= 0
    patched = bytearray(blob)
    struct.pack_into("<I", patched, at + 8, len(btf) + 1000)
    data[btf_sec.offset:btf_sec.offset + btf_sec.size] = patched
    with pytest.raises(ElfError, match="refers to type id"):
        load_elf(bytes(data))


def test_huge_bss_is_not_allocated():
    data = patch_section("calls_globals", ".bss", SH_SIZE, "<Q", 2 << 30)
    tracemalloc.start()
    try:
        o = load_elf(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"parsing allocated {peak} bytes"
    assert o.maps[".bss"].value_size == 2 << 30 and o.maps[".bss"].initial is None
    assert o.bss["calls"] == 0  # reading a variable allocates only the variable


def test_bss_written_before_load_is_materialised_once():
    o = load_elf(obj("calls_globals"))
    assert o.data_sections[".bss"].init is None and o.maps[".bss"].initial is None
    o.bss["calls"] = 7
    assert o.bss["calls"] == 7
    assert o.maps[".bss"].initial[:8] == (7).to_bytes(8, "little")


def test_section_larger_than_a_map_value_can_be():
    data = patch_section("calls_globals", ".bss", SH_SIZE, "<Q", 1 << 40)
    with pytest.raises(ElfError, match="more than a map value can be"):
        load_elf(data)


@pytest.mark.kernel
def test_huge_bss_is_refused_by_the_kernel_not_allocated():
    data = patch_section("calls_globals", ".bss", SH_SIZE, "<Q", 2 << 30)
    o = load_elf(data)
    with pytest.raises(ElfError) as info:
        o.load()
    assert info.value.errno == errno.E2BIG and "'.bss'" in str(info.value)
    assert not o.loaded


# ---- fuzzing --------------------------------------------------------------------------------------------------

OBJECTS = ["calls_globals", "map_in_map", "legacy_maps", "loop_callback", "xdp_count", "openat_counter"]
EXTREMES = st.sampled_from([0, 1, 7, 8, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, 1 << 63, (1 << 64) - 1])


@st.composite
def mutated_objects(draw) -> bytes:
    data, elf = raw_of(draw(st.sampled_from(OBJECTS)))
    symtab = elf.by_name[".symtab"]
    shoff = shdr_at(data, 0)  # before any header field changes
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["shdr", "sym", "rel", "ehdr", "bytes"]))
        value = draw(EXTREMES)
        if where == "shdr":
            sec = draw(st.sampled_from(elf.sections))
            field, fmt = draw(st.sampled_from([(SH_TYPE, "<I"), (SH_OFFSET, "<Q"), (SH_SIZE, "<Q"), (SH_LINK, "<I"),
                                               (SH_INFO, "<I"), (SH_ENTSIZE, "<Q")]))
            mask = 2 ** (8 * struct.calcsize(fmt)) - 1
            struct.pack_into(fmt, data, shoff + sec.index * SHDR_SIZE + field, value & mask)
        elif where == "sym":
            i = draw(st.integers(0, len(elf.symbols) - 1))
            field, fmt = draw(st.sampled_from([(ST_NAME, "<I"), (ST_SHNDX, "<H"), (ST_VALUE, "<Q"), (ST_SIZE, "<Q")]))
            struct.pack_into(fmt, data, symtab.offset + i * SYM_SIZE + field,
                             value & (2 ** (8 * struct.calcsize(fmt)) - 1))
        elif where == "rel":
            rels = [s for s in elf.sections if s.type == ShType.REL and s.size]
            sec = draw(st.sampled_from(rels))
            i = draw(st.integers(0, sec.size // 16 - 1))
            struct.pack_into("<Q", data, sec.offset + i * 16 + draw(st.sampled_from([0, 8])), value)
        elif where == "ehdr":
            field, fmt = draw(st.sampled_from([(40, "<Q"), (58, "<H"), (60, "<H"), (62, "<H"), (16, "<H")]))
            struct.pack_into(fmt, data, field, value & (2 ** (8 * struct.calcsize(fmt)) - 1))
        else:
            sec = draw(st.sampled_from([s for s in elf.sections if s.size >= 4 and s.type != ShType.NOBITS]))
            off = sec.offset + draw(st.integers(0, sec.size - 4))
            struct.pack_into("<I", data, off, value & 0xFFFFFFFF)
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_objects())
def test_mutated_objects_give_typed_errors_only(data):
    """Through the reader, the loader's parser and the disassembler: parsed, or a PyebpfError; never another
    exception, and never a large allocation (a run of 150 examples stays in seconds)."""
    for read in (lambda d: ElfFile(d), lambda d: load_elf(d), lambda d: disassemble_input(d)):
        try:
            read(data)
        except PyebpfError:
            pass


def test_big_endian_objects_are_read_by_the_disassembler_and_refused_by_the_loader(tmp_path):
    import subprocess

    from bpf_objects import clang, multiarch_include

    try:
        cc = clang()
    except ToolMissing as e:
        require_or_skip(str(e))
    out = tmp_path / "be.o"
    subprocess.run([cc, "-O2", "-target", "bpfeb", *multiarch_include(), "-c",
                    os.path.join(os.path.dirname(__file__), "c", "xdp_count.bpf.c"), "-o", str(out)], check=True)
    data = out.read_bytes()
    assert ElfFile(data).byteorder == "big"
    assert "exit" in disassemble_input(data)
    with pytest.raises(ElfError, match="big-endian"):
        load_elf(data)


def test_endless_inputs_are_refused_without_reading_them(tmp_path):
    with pytest.raises(ElfError, match="not an ELF file"):
        load_elf("/dev/zero")
    big = tmp_path / "big.o"
    with open(big, "wb") as f:
        f.write(b"\x7fELF" + b"\0" * 60)
        f.truncate(300 << 20)  # sparse: nothing written
    with pytest.raises(ElfError, match="larger than"):
        load_elf(str(big))


def test_btf_encoding_a_value_past_its_field_is_a_btf_error():
    """A DATASEC offset fixed up from a hostile symbol value (≥ 2^32) was a struct.error traceback from
    `pyebpf load` (found by benchmarks/fuzz.py's CLI surface); encoding refuses it as a typed BtfError, and the
    collection loads without BTF as it does for any BTF the kernel refuses."""
    from pyebpf.btf.builder import BtfBuilder
    from pyebpf.errors import BtfError

    b = BtfBuilder()
    i = b.add_int("int", 4, signed=True)
    v = b.add_var("x", i)
    b.add_datasec(".data", 8, [(v, 1 << 32, 4)])
    with pytest.raises(BtfError, match=r"DATASEC: a value does not fit"):
        b.build().encode()
