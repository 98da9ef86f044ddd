"""BTF: parse `.BTF` / `.BTF.ext` / /sys/kernel/btf/vmlinux, fix up what clang leaves open, and encode BTF back.

`Btf.parse(blob)` gives a list of `BtfType` (index = type id, 0 is void) plus the string table; names, sizes and
members are resolved on demand. Types keep the raw numbers the kernel reads (name_off, info, size/type, the
kind-specific records) so that `Btf.encode()` writes back exactly what was parsed, after edits such as the DATASEC
fixups a loader must make (`fixup_datasecs`). `BtfBuilder` writes new BTF (the ELF writer's map definitions).
`BtfExt.parse` reads func_info / line_info / core_relo records per ELF section. `vmlinux_btf()` parses the running
kernel's BTF once per process.
"""
from __future__ import annotations

import copy
import functools
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Iterator

from pyebpf.abi.btf import (BTF_INT_SIGNED, BTF_MAGIC, BTF_TYPE_HEADER_SIZE, VMLINUX_BTF_PATH, BtfFuncLinkage,
                            BtfKind, BtfVarLinkage, type_record_size)
from pyebpf.errors import ElfError

BTF_HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len type_off type_len str_off str_len
BTF_EXT_HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len func_off func_len line_off line_len


_KIND_BY_NUMBER = {int(k): k for k in BtfKind}
#: Kinds that only qualify another type (skipped when resolving what a type really is).
MODIFIER_KINDS = frozenset({BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG})
#: Kinds whose third word is a size rather than a type id.
SIZED_KINDS = frozenset({BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.DATASEC, BtfKind.FLOAT,
                         BtfKind.ENUM64})

_TRIPLES = struct.Struct("<III")
_PAIRS = struct.Struct("<Ii")
_U32_PAIRS = struct.Struct("<II")


#: deeper than any real C type; past it a chain of BTF references is a loop in a hostile object
MAX_TYPE_NESTING = 64


@dataclass
class BtfMember:
    """A struct/union member: name, type id, and offset in bits (bitfield size 0 unless kind_flag)."""

    name_off: int
    type: int
    bits_offset: int
    bitfield_size: int = 0


@dataclass
class BtfType:
    """One BTF type record. `size_type` is the size (SIZED_KINDS) or the referenced type id (the rest).

    kind-specific data: `members` (struct/union: BtfMember; enum/enum64: (name_off, value); func_proto params:
    (name_off, type); datasec: [type, offset, size] lists), `array` (elem type, index type, nelems), `int_data`
    (INT encoding word), `linkage` (VAR), `component_idx` (DECL_TAG).
    """

    kind: BtfKind
    name_off: int = 0
    vlen: int = 0
    kind_flag: int = 0
    size_type: int = 0
    members: list = field(default_factory=list)
    array: tuple[int, int, int] | None = None
    int_data: int = 0
    linkage: int = 0
    component_idx: int = 0

    @property
    def info(self) -> int:
        return (self.kind_flag << 31) | (int(self.kind) << 24) | (self.vlen & 0xFFFF)

    @property
    def int_bits(self) -> int:
        return self.int_data & 0xFF

    @property
    def int_offset(self) -> int:
        return (self.int_data >> 16) & 0xFF

    @property
    def int_encoding(self) -> int:
        return (self.int_data >> 24) & 0x0F

    def encode(self) -> bytes:
        head = _TRIPLES.pack(self.name_off, self.info, self.size_type & 0xFFFFFFFF)
        k = self.kind
        if k == BtfKind.INT:
            return head + struct.pack("<I", self.int_data)
        if k == BtfKind.ARRAY:
            return head + struct.pack("<III", *self.array)  # type: ignore[misc]
        if k in (BtfKind.STRUCT, BtfKind.UNION):
            out = [head]
            for m in self.members:
                off = ((m.bitfield_size << 24) | m.bits_offset) if self.kind_flag else m.bits_offset
                out.append(_TRIPLES.pack(m.name_off, m.type, off))
            return b"".join(out)
        if k == BtfKind.ENUM:
            if self.kind_flag:
                return head + b"".join(struct.pack("<Ii", n, v) for n, v in self.members)
            return head + b"".join(struct.pack("<II", n, v & 0xFFFFFFFF) for n, v in self.members)
        if k == BtfKind.ENUM64:
            return head + b"".join(struct.pack("<III", n, v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF)
                                   for n, v in self.members)
        if k == BtfKind.FUNC_PROTO:
            return head + b"".join(struct.pack("<II", n, t) for n, t in self.members)
        if k == BtfKind.VAR:
            return head + struct.pack("<I", self.linkage)
        if k == BtfKind.DATASEC:
            return head + b"".join(_TRIPLES.pack(*v) for v in self.members)
        if k == BtfKind.DECL_TAG:
            return head + struct.pack("<i", self.component_idx)
        return head


class Btf:
    """Parsed BTF: `types[id]` (types[0] is void) and the string table."""

    def __init__(self, types: list[BtfType], strings: bytes, header_flags: int = 0):
        self.types = types
        self.strings = strings
        self.header_flags = header_flags
        self._by_name: dict[str, list[int]] | None = None

    # ---- parsing ---------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, blob: bytes, what: str = ".BTF", validate: bool = True) -> "Btf":
        """Parse raw BTF; ElfError naming `what` and the byte offset on malformed input.

        With `validate`, every type id a type refers to must exist (the kernel's BTF is trusted and not checked).
        """
        if len(blob) < BTF_HEADER.size:
            raise ElfError(f"{what}: {len(blob)} bytes is too short for a BTF header")
        magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = BTF_HEADER.unpack_from(blob)
        if magic != BTF_MAGIC:
            raise ElfError(f"{what}: bad BTF magic {magic:#x} (expected {BTF_MAGIC:#x})")
        if version != 1:
            raise ElfError(f"{what}: unsupported BTF version {version}")
        t0, s0 = hdr_len + type_off, hdr_len + str_off
        if t0 + type_len > len(blob) or s0 + str_len > len(blob):
            raise ElfError(f"{what}: type or string section runs past the end ({len(blob)} bytes)")
        strings = bytes(blob[s0:s0 + str_len])
        types = [BtfType(BtfKind.UNKN)]
        data = memoryview(blob)[t0:t0 + type_len]
        pos, end = 0, type_len
        unpack3 = _TRIPLES.unpack_from
        while pos < end:
            if pos + 12 > end:
                raise ElfError(f"{what}: truncated type record at offset {t0 + pos}")
            name_off, info, size_type = unpack3(data, pos)
            kind_no = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            kflag = info >> 31
            kind = _KIND_BY_NUMBER.get(kind_no)
            if kind is None:
                raise ElfError(f"{what}: unknown BTF kind {kind_no} at offset {t0 + pos}")
            t = BtfType(kind, name_off, vlen, kflag, size_type)
            p = pos + 12
            need = p + type_record_size(kind, vlen) - BTF_TYPE_HEADER_SIZE
            if need > end:
                raise ElfError(f"{what}: truncated {kind.name} record at offset {t0 + pos}")
            if kind == BtfKind.INT:
                t.int_data = struct.unpack_from("<I", data, p)[0]
            elif kind == BtfKind.ARRAY:
                t.array = unpack3(data, p)
            elif kind in (BtfKind.STRUCT, BtfKind.UNION):
                records = _TRIPLES.iter_unpack(data[p:need])
                if kflag:
                    t.members = [BtfMember(n, ty, off & 0xFFFFFF, off >> 24) for n, ty, off in records]
                else:
                    t.members = [BtfMember(n, ty, off) for n, ty, off in records]
            elif kind == BtfKind.ENUM:
                t.members = list((_PAIRS if kflag else _U32_PAIRS).iter_unpack(data[p:need]))
            elif kind == BtfKind.ENUM64:
                vals = []
                for i in range(vlen):
                    n, lo, hi = unpack3(data, p + 12 * i)
                    v = (hi << 32) | lo
                    if kflag and v >= 1 << 63:
                        v -= 1 << 64
                    vals.append((n, v))
                t.members = vals
            elif kind == BtfKind.FUNC_PROTO:
                t.members = list(_U32_PAIRS.iter_unpack(data[p:need]))
            elif kind == BtfKind.VAR:
                t.linkage = struct.unpack_from("<I", data, p)[0]
            elif kind == BtfKind.DATASEC:
                t.members = [list(unpack3(data, p + 12 * i)) for i in range(vlen)]
            elif kind == BtfKind.DECL_TAG:
                t.component_idx = struct.unpack_from("<i", data, p)[0]
            types.append(t)
            pos = need
        btf = cls(types, strings, flags)
        if validate:
            btf.check_references(what)
        return btf

    def check_references(self, what: str = ".BTF") -> None:
        """ElfError for a type that refers to a type id past the end, or a name past the string table."""
        n = len(self.types)
        nstr = len(self.strings)
        for i, t in enumerate(self.types[1:], 1):
            refs: list[int] = []
            if t.kind not in SIZED_KINDS and t.kind not in (BtfKind.FWD, BtfKind.UNKN):
                refs.append(t.size_type)
            if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
                refs.extend(m.type for m in t.members)
            elif t.kind == BtfKind.FUNC_PROTO:
                refs.extend(ty for _, ty in t.members)
            elif t.kind == BtfKind.DATASEC:
                refs.extend(v[0] for v in t.members)
            elif t.kind == BtfKind.ARRAY:
                refs.extend(t.array[:2])  # type: ignore[index]
            bad = next((r for r in refs if r >= n), None)
            if bad is not None:
                raise ElfError(f"{what}: type [{i}] {t.kind.name} refers to type id {bad}, past the last ({n - 1})")
            if t.name_off >= max(nstr, 1):
                raise ElfError(f"{what}: type [{i}] {t.kind.name} has name offset {t.name_off} past the string table")

    # ---- encoding --------------------------------------------------------------------------------------------
    def encode(self) -> bytes:
        body = b"".join(t.encode() for t in self.types[1:])
        header = BTF_HEADER.pack(BTF_MAGIC, 1, self.header_flags, BTF_HEADER.size, 0, len(body), len(body),
                                 len(self.strings))
        return header + body + self.strings

    # ---- names -----------------------------------------------------------------------------------------------
    def str_at(self, off: int) -> str:
        end = self.strings.find(b"\0", off)
        if end < 0:
            end = len(self.strings)
        return self.strings[off:end].decode(errors="replace")

    def name(self, type_id: int) -> str:
        return self.str_at(self.types[type_id].name_off) if 0 < type_id < len(self.types) else ""

    def __len__(self) -> int:
        return len(self.types)

    def __getitem__(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise ElfError(f"BTF type id {type_id} out of range (have {len(self.types)})")
        return self.types[type_id]

    def ids_by_name(self, name: str) -> list[int]:
        if self._by_name is None:
            index: dict[str, list[int]] = {}
            for i, t in enumerate(self.types):
                if i and t.name_off:
                    index.setdefault(self.str_at(t.name_off), []).append(i)
            self._by_name = index
        return self._by_name.get(name, [])

    def find(self, name: str, kind: BtfKind | None = None) -> int | None:
        """First type id with this name (and kind); None if absent."""
        for i in self.ids_by_name(name):
            if kind is None or self.types[i].kind == kind:
                return i
        return None

    # ---- type arithmetic -------------------------------------------------------------------------------------
    def skip_modifiers(self, type_id: int) -> int:
        """Follow typedef/const/volatile/restrict/type_tag to the underlying type id."""
        seen = 0
        while type_id and self[type_id].kind in MODIFIER_KINDS:  # self[]: ElfError for an id out of range
            type_id = self.types[type_id].size_type
            seen += 1
            if seen > 64:
                raise ElfError(f"BTF type {type_id}: modifier loop")
        return type_id

    def size_of(self, type_id: int, _nesting: int = 0) -> int:
        """Byte size of a type (pointers are 8); ElfError for types without a size, ids out of range and arrays
        nested past any C type (an array that contains itself)."""
        if _nesting > MAX_TYPE_NESTING:
            raise ElfError(f"BTF type {type_id}: arrays nested more than {MAX_TYPE_NESTING} deep (a reference loop)")
        depth = 0
        while True:
            t = self[type_id]
            if t.kind in SIZED_KINDS:
                return t.size_type
            if t.kind == BtfKind.PTR:
                return 8
            if t.kind == BtfKind.ARRAY:
                elem, _, nelems = t.array  # type: ignore[misc]
                return nelems * self.size_of(elem, _nesting + 1)
            if t.kind in MODIFIER_KINDS or t.kind == BtfKind.VAR:
                type_id = t.size_type
                depth += 1
                if depth > 64:
                    raise ElfError(f"BTF type {type_id}: modifier loop")
                continue
            raise ElfError(f"BTF type {type_id} ({t.kind.name} {self.name(type_id)!r}) has no size")

    def describe(self, type_id: int) -> str:
        t = self[type_id]
        return f"[{type_id}] {t.kind.name} {self.name(type_id)!r}"

    def datasecs(self) -> Iterator[tuple[int, BtfType]]:
        for i, t in enumerate(self.types):
            if t.kind == BtfKind.DATASEC:
                yield i, t


def essential_name(name: str) -> str:
    """libbpf's 'flavor' rule: `task_struct___old` matches kernel `task_struct` (text before the last '___')."""
    i = name.rfind("___")
    return name[:i] if i > 0 else name


# ---- fixups a loader makes before BPF_BTF_LOAD ------------------------------------------------------------------

def fixup_datasecs(btf: Btf, section_sizes: dict[str, int], symbol_offsets: dict[tuple[str, str], int],
                   globals_by_name: dict[str, int] | None = None, skip: frozenset[str] = frozenset()) -> None:
    """Fill in what clang leaves zero in raw .BTF: DATASEC sizes (the ELF section's size) and VAR offsets.

    `symbol_offsets[(section, symbol)]` is the symbol's st_value; `globals_by_name` resolves a VAR name to its offset
    when the section-qualified lookup fails (static variables named like the function-scoped symbol). DATASECs of
    sections the object does not have (e.g. extern `.kconfig`) raise ElfError: they need a kernel-side source we do
    not provide.
    """
    for _, t in btf.datasecs():
        sec = btf.str_at(t.name_off)
        if sec in skip:
            continue
        if sec not in section_sizes:
            raise ElfError(f".BTF: DATASEC {sec!r} names no ELF section")
        if t.size_type == 0:
            t.size_type = section_sizes[sec]
        for v in t.members:
            var = btf.types[v[0]]
            if var.kind != BtfKind.VAR:
                continue  # FUNC entries of .ksyms
            vname = btf.str_at(var.name_off)
            off = symbol_offsets.get((sec, vname))
            if off is None and globals_by_name:
                off = globals_by_name.get(vname)
            if off is None:
                raise ElfError(f".BTF: DATASEC {sec!r}: no ELF symbol for variable {vname!r}")
            v[1] = off
        t.members.sort(key=lambda v: v[1])


def sanitize_for_kernel(btf: Btf) -> None:
    """Make object BTF loadable: the kernel refuses FUNC linkage `extern` (what clang writes for __ksym kfunc
    declarations), so those become static, as libbpf does. (.kconfig/.ksyms DATASECs: see elf_externs.)"""
    for t in btf.types:
        if t.kind == BtfKind.FUNC and t.vlen == BtfFuncLinkage.EXTERN:
            t.vlen = BtfFuncLinkage.STATIC


# ---- .BTF.ext --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FuncInfo:
    insn_off: int  # byte offset in the ELF section (as in .BTF.ext); loaders divide by 8
    type_id: int


@dataclass(frozen=True)
class LineInfo:
    insn_off: int
    file_name_off: int
    line_off: int
    line_col: int

    @property
    def line(self) -> int:
        return self.line_col >> 10

    @property
    def column(self) -> int:
        return self.line_col & 0x3FF


class CoreReloKind(IntEnum):
    """enum bpf_core_relo_kind."""

    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


@dataclass(frozen=True)
class CoreRelo:
    insn_off: int  # byte offset in the ELF section
    type_id: int
    access_str_off: int
    kind: CoreReloKind


@dataclass
class BtfExt:
    """Records of .BTF.ext grouped by ELF section name."""

    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)
    func_info_rec_size: int = 8
    line_info_rec_size: int = 16

    @classmethod
    def parse(cls, blob: bytes, btf: Btf) -> "BtfExt":
        if len(blob) < BTF_EXT_HEADER.size:
            raise ElfError(f".BTF.ext: {len(blob)} bytes is too short for a header")
        magic, version, _flags, hdr_len, f_off, f_len, l_off, l_len = BTF_EXT_HEADER.unpack_from(blob)
        if magic != BTF_MAGIC:
            raise ElfError(f".BTF.ext: bad magic {magic:#x}")
        ext = cls()
        if f_len:
            ext.func_info_rec_size, recs = _ext_section(blob, hdr_len + f_off, f_len, btf, "func_info", 8)
            ext.func_info = {s: [FuncInfo(*struct.unpack_from("<II", r)) for r in rs] for s, rs in recs.items()}
        if l_len:
            ext.line_info_rec_size, recs = _ext_section(blob, hdr_len + l_off, l_len, btf, "line_info", 16)
            ext.line_info = {s: [LineInfo(*struct.unpack_from("<IIII", r)) for r in rs] for s, rs in recs.items()}
        if hdr_len >= 32:
            c_off, c_len = struct.unpack_from("<II", blob, 24)
            if c_len:
                _, recs = _ext_section(blob, hdr_len + c_off, c_len, btf, "core_relo", 16)
                out: dict[str, list[CoreRelo]] = {}
                for s, rs in recs.items():
                    lst = []
                    for r in rs:
                        off, tid, acc, kind = struct.unpack_from("<IIII", r)
                        try:
                            lst.append(CoreRelo(off, tid, acc, CoreReloKind(kind)))
                        except ValueError:
                            raise ElfError(f".BTF.ext: section {s!r}: unknown CO-RE relocation kind {kind} at "
                                           f"insn byte offset {off}") from None
                    out[s] = lst
                ext.core_relos = out
        return ext


def _ext_section(blob: bytes, start: int, length: int, btf: Btf, what: str, min_rec: int
                 ) -> tuple[int, dict[str, list[bytes]]]:
    end = start + length
    if end > len(blob) or length < 4:
        raise ElfError(f".BTF.ext: {what} runs past the end")
    rec_size = struct.unpack_from("<I", blob, start)[0]
    if rec_size < min_rec:
        raise ElfError(f".BTF.ext: {what} record size {rec_size} < {min_rec}")
    pos = start + 4
    out: dict[str, list[bytes]] = {}
    while pos < end:
        if pos + 8 > end:
            raise ElfError(f".BTF.ext: {what} truncated at byte {pos}")
        sec_off, n = struct.unpack_from("<II", blob, pos)
        pos += 8
        if pos + n * rec_size > end:
            raise ElfError(f".BTF.ext: {what} of section {btf.str_at(sec_off)!r} runs past the end")
        out.setdefault(btf.str_at(sec_off), []).extend(blob[pos + i * rec_size:pos + (i + 1) * rec_size]
                                                       for i in range(n))
        pos += n * rec_size
    return rec_size, out


# ---- vmlinux ---------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def vmlinux_btf(path: str = VMLINUX_BTF_PATH) -> Btf:
    """The running kernel's BTF (parsed once per process and path)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise ElfError(f"cannot read kernel BTF {path}: {e.strerror}", e.errno) from None
    return Btf.parse(blob, path, validate=False)


# ---- writing new BTF -------------------------------------------------------------------------------------------

class BtfBuilder:
    """Append-only BTF writer: `add_*` return the new type id; `encode()` gives the blob."""

    def __init__(self) -> None:
        self.types: list[BtfType] = [BtfType(BtfKind.UNKN)]
        self._strings = bytearray(b"\0")
        self._str_index: dict[str, int] = {"": 0}

    def string(self, s: str) -> int:
        if s not in self._str_index:
            self._str_index[s] = len(self._strings)
            self._strings += s.encode() + b"\0"
        return self._str_index[s]

    def _add(self, t: BtfType) -> int:
        self.types.append(t)
        return len(self.types) - 1

    def add_int(self, name: str, size: int, signed: bool = False) -> int:
        enc = BTF_INT_SIGNED if signed else 0
        return self._add(BtfType(BtfKind.INT, self.string(name), 0, 0, size, int_data=(enc << 24) | (size * 8)))

    def _add_int_encoded(self, name: str, size: int, encoding: int) -> int:
        return self._add(BtfType(BtfKind.INT, self.string(name), 0, 0, size, int_data=(encoding << 24) | (size * 8)))

    def add_ptr(self, target: int) -> int:
        return self._add(BtfType(BtfKind.PTR, 0, 0, 0, target))

    def add_array(self, elem: int, index_type: int, nelems: int) -> int:
        return self._add(BtfType(BtfKind.ARRAY, 0, 0, 0, 0, array=(elem, index_type, nelems)))

    def add_struct(self, name: str, size: int, members: list[tuple[str, int, int]]) -> int:
        """members: (name, type id, bit offset)."""
        ms = [BtfMember(self.string(n), t, off) for n, t, off in members]
        return self._add(BtfType(BtfKind.STRUCT, self.string(name), len(ms), 0, size, members=ms))

    def add_func_proto(self, ret: int, params: list[tuple[str, int]]) -> int:
        return self._add(BtfType(BtfKind.FUNC_PROTO, 0, len(params), 0, ret,
                                 members=[(self.string(n), t) for n, t in params]))

    def add_func(self, name: str, proto: int, linkage: BtfFuncLinkage = BtfFuncLinkage.GLOBAL) -> int:
        return self._add(BtfType(BtfKind.FUNC, self.string(name), int(linkage), 0, proto))

    def add_var(self, name: str, type_id: int, linkage: BtfVarLinkage = BtfVarLinkage.GLOBAL_ALLOCATED) -> int:
        return self._add(BtfType(BtfKind.VAR, self.string(name), 0, 0, type_id, linkage=int(linkage)))

    def add_datasec(self, name: str, size: int, vars: list[tuple[int, int, int]]) -> int:
        """vars: (var type id, offset, size)."""
        return self._add(BtfType(BtfKind.DATASEC, self.string(name), len(vars), 0, size,
                                 members=[list(v) for v in vars]))

    def build(self) -> Btf:
        """A Btf of the types so far (a deep copy: fixups on it do not change the builder)."""
        return Btf(copy.deepcopy(self.types), bytes(self._strings))

    def encode(self) -> bytes:
        return self.build().encode()


__all__ = [
    "Btf", "BtfType", "BtfMember", "BtfKind", "BtfVarLinkage", "BtfFuncLinkage", "BtfExt", "FuncInfo", "LineInfo",
    "CoreRelo", "CoreReloKind", "BtfBuilder", "vmlinux_btf", "fixup_datasecs", "sanitize_for_kernel",
    "essential_name", "MODIFIER_KINDS", "VMLINUX_BTF_PATH",
]
