"""BTF itself: parse a blob (`.BTF` of an object, /sys/kernel/btf/vmlinux) into type records, name lookups, sizes,
typed views, and encode it back.

`Btf.parse(blob)` gives `types[id]` (0 is void) as raw `BtfType` records — the numbers the kernel reads (name_off,
info, size/type and the kind-specific records) — so that `Btf.encode()` writes back exactly what was parsed after a
loader's fixups. `btf.type(id)` / `btf.type_by_name(name, Struct)` give typed views (pyebpf.btf.types) for readers
that want names, offsets and signedness rather than words. This is the one BTF parser of the package.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, TypeVar

from pyebpf.abi.btf import BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, BTF_MAGIC, BTF_TYPE_HEADER_SIZE, BtfFuncLinkage, BtfKind, type_record_size
from pyebpf.btf import types as T
from pyebpf.errors import BtfError

BTF_HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len type_off type_len str_off str_len


_KIND_BY_NUMBER = {int(k): k for k in BtfKind}
#: deeper than any real C type; past it a chain of BTF references is a loop in a hostile object
MAX_TYPE_NESTING = 64
#: Kinds that only qualify another type (skipped when resolving what a type really is).
MODIFIER_KINDS = frozenset({BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG})
#: Kinds whose third word is a size rather than a type id.
SIZED_KINDS = frozenset({BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM, BtfKind.DATASEC, BtfKind.FLOAT,
                         BtfKind.ENUM64})

_TRIPLES = struct.Struct("<III")
_PAIRS = struct.Struct("<Ii")
_U32_PAIRS = struct.Struct("<II")


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

    def __init__(self, types: list[BtfType], strings: bytes, header_flags: int = 0, source: str = ".BTF"):
        self.types = types
        self.strings = strings
        self.header_flags = header_flags
        self.source = source
        self._by_name: dict[str, list[int]] | None = None
        self._views: dict[int, T.Type] = {}

    # ---- parsing ---------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, blob: bytes, what: str = ".BTF", validate: bool = True) -> "Btf":
        """Parse raw BTF; BtfError naming `what` and the byte offset on malformed input.

        With `validate`, every type id a type refers to must exist (the kernel's BTF is trusted and not checked).
        """
        if len(blob) < BTF_HEADER.size:
            raise BtfError(f"{what}: {len(blob)} bytes is too short for a BTF header")
        magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = BTF_HEADER.unpack_from(blob)
        if magic != BTF_MAGIC:
            raise BtfError(f"{what}: bad BTF magic {magic:#x} (expected {BTF_MAGIC:#x})")
        if version != 1:
            raise BtfError(f"{what}: unsupported BTF version {version}")
        t0, s0 = hdr_len + type_off, hdr_len + str_off
        if t0 + type_len > len(blob) or s0 + str_len > len(blob):
            raise BtfError(f"{what}: type or string section runs past the end ({len(blob)} bytes)")
        strings = bytes(blob[s0:s0 + str_len])
        types = [BtfType(BtfKind.UNKN)]
        data = memoryview(blob)[t0:t0 + type_len]
        pos, end = 0, type_len
        unpack3 = _TRIPLES.unpack_from
        while pos < end:
            if pos + 12 > end:
                raise BtfError(f"{what}: truncated type record at offset {t0 + pos}")
            name_off, info, size_type = unpack3(data, pos)
            kind_no = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            kflag = info >> 31
            kind = _KIND_BY_NUMBER.get(kind_no) if kind_no else None  # UNKN is only ever type 0 (void)
            if kind is None:
                raise BtfError(f"{what}: unknown BTF kind {kind_no} at offset {t0 + pos}")
            t = BtfType(kind, name_off, vlen, kflag, size_type)
            p = pos + 12
            need = p + type_record_size(kind, vlen) - BTF_TYPE_HEADER_SIZE
            if need > end:
                raise BtfError(f"{what}: truncated {kind.name} record at offset {t0 + pos}")
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
        btf = cls(types, strings, flags, what)
        if validate:
            btf.check_references(what)
        return btf

    def check_references(self, what: str = ".BTF") -> None:
        """BtfError for a type that refers to a type id past the end, or a name past the string table."""
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
                raise BtfError(f"{what}: type [{i}] {t.kind.name} refers to type id {bad}, past the last ({n - 1})")
            if t.name_off >= max(nstr, 1):
                raise BtfError(f"{what}: type [{i}] {t.kind.name} has name offset {t.name_off} past the string table")

    # ---- encoding --------------------------------------------------------------------------------------------
    def encode(self) -> bytes:
        parts = []
        for i, t in enumerate(self.types[1:], 1):
            try:
                parts.append(t.encode())
            except struct.error as e:  # a value past its field's width (e.g. a DATASEC offset fixed up from a
                # hostile symbol value): refused here rather than as a struct.error traceback
                raise BtfError(f"type [{i}] {t.kind.name}: a value does not fit its BTF field ({e})") from None
        body = b"".join(parts)
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
            raise BtfError(f"BTF type id {type_id} out of range (have {len(self.types)})")
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
        while type_id and self[type_id].kind in MODIFIER_KINDS:  # self[]: BtfError for an id out of range
            type_id = self.types[type_id].size_type
            seen += 1
            if seen > 64:
                raise BtfError(f"BTF type {type_id}: modifier loop")
        return type_id

    def size_of(self, type_id: int, _nesting: int = 0) -> int:
        """Byte size of a type (pointers are 8); BtfError for types without a size, ids out of range and arrays
        nested past any C type (an array that contains itself)."""
        if _nesting > MAX_TYPE_NESTING:
            raise BtfError(f"BTF type {type_id}: arrays nested more than {MAX_TYPE_NESTING} deep (a reference loop)")
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
                    raise BtfError(f"BTF type {type_id}: modifier loop")
                continue
            raise BtfError(f"BTF type {type_id} ({t.kind.name} {self.name(type_id)!r}) has no size")

    def describe(self, type_id: int) -> str:
        t = self[type_id]
        return f"[{type_id}] {t.kind.name} {self.name(type_id)!r}"

    def datasecs(self) -> Iterator[tuple[int, BtfType]]:
        for i, t in enumerate(self.types):
            if t.kind == BtfKind.DATASEC:
                yield i, t

    def kind(self, type_id: int) -> BtfKind | None:
        """Kind of `type_id`, or None where there is no such type (btf_type_by_id() returning NULL)."""
        return self.types[type_id].kind if 0 < type_id < len(self.types) else None

    @cached_property
    def kfunc_ids(self) -> frozenset[int]:
        """FUNC ids tagged `bpf_kfunc` (pahole's decl_tag_kfuncs): the functions the kernel registers as kfuncs."""
        return frozenset(t.size_type for t in self.types
                         if t.kind == BtfKind.DECL_TAG and self.str_at(t.name_off) == "bpf_kfunc")

    # ---- typed views -----------------------------------------------------------------------------------------
    def type(self, type_id: int) -> T.Type:
        """The typed view of `type_id` (built once, then cached); BtfError for an id past the end."""
        view = self._views.get(type_id)
        if view is None:
            view = self._views[type_id] = _view(self, type_id, self[type_id])
        return view

    def type_by_name(self, name: str, kind: type[V] | BtfKind | None = None) -> V:
        """The first type called `name` of that kind (a view class such as `Struct`, or a BtfKind; None: any);
        BtfError naming what is missing."""
        want = kind.kind if isinstance(kind, type) else kind
        type_id = self.find(name, want)
        if type_id is None:
            what = want.name.lower() if want is not None else "type"
            raise BtfError(f"no BTF {what} {name!r} in {self.source}")
        return self.type(type_id)  # type: ignore[return-value]

    def struct(self, name: str) -> T.Struct:
        return self.type_by_name(name, T.Struct)

    def union(self, name: str) -> T.Union:
        return self.type_by_name(name, T.Union)

    def func(self, name: str) -> T.Func:
        return self.type_by_name(name, T.Func)

    def typedef(self, name: str) -> T.Typedef:
        return self.type_by_name(name, T.Typedef)

    def enum(self, name: str) -> T.Enum:
        found = self.find(name, BtfKind.ENUM)
        return self.type(found) if found is not None else self.type_by_name(name, T.Enum64)  # type: ignore

    def enum_value(self, name: str) -> int:
        """Value of the enumerator `name` in any enum (e.g. 'TASK_COMM_LEN'); BtfError when none has it."""
        off = self.strings.find(b"\0" + name.encode() + b"\0")
        if off >= 0:
            for t in self.types:
                if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
                    for n, v in t.members:
                        if n == off + 1:
                            return v
        raise BtfError(f"no BTF enumerator {name!r} in {self.source}")


V = TypeVar("V", bound=T.Type)


def _int_view(btf: Btf, i: int, name: str, t: BtfType) -> T.Int:
    enc = t.int_encoding
    return T.Int(btf, i, name, t.size_type, bool(enc & BTF_INT_SIGNED), bool(enc & BTF_INT_CHAR),
                 bool(enc & BTF_INT_BOOL), t.int_bits, t.int_offset)


def _composite_view(btf: Btf, i: int, name: str, t: BtfType) -> T.Composite:
    cls = T.Struct if t.kind == BtfKind.STRUCT else T.Union
    members = tuple(T.Member(btf, btf.str_at(m.name_off), m.type, m.bits_offset, m.bitfield_size) for m in t.members)
    return cls(btf, i, name, t.size_type, members)


def _enum_view(btf: Btf, i: int, name: str, t: BtfType) -> T.Enum:
    cls = T.Enum64 if t.kind == BtfKind.ENUM64 else T.Enum
    return cls(btf, i, name, t.size_type, bool(t.kind_flag), tuple((btf.str_at(n), v) for n, v in t.members))


def _proto_view(btf: Btf, i: int, name: str, t: BtfType) -> T.FuncProto:
    params = [T.Param(btf, btf.str_at(n), ty) for n, ty in t.members]
    variadic = bool(params) and params[-1].type_id == 0 and not params[-1].name
    return T.FuncProto(btf, i, name, t.size_type, tuple(params[:-1] if variadic else params), variadic)


_REF_VIEWS = {BtfKind.PTR: T.Pointer, BtfKind.TYPEDEF: T.Typedef, BtfKind.CONST: T.Const,
              BtfKind.VOLATILE: T.Volatile, BtfKind.RESTRICT: T.Restrict, BtfKind.TYPE_TAG: T.TypeTag}

#: kind -> builder of its typed view from the raw record
_VIEW_BUILDERS = {
    BtfKind.INT: _int_view,
    BtfKind.STRUCT: _composite_view, BtfKind.UNION: _composite_view,
    BtfKind.ENUM: _enum_view, BtfKind.ENUM64: _enum_view,
    BtfKind.FUNC_PROTO: _proto_view,
    BtfKind.FLOAT: lambda b, i, n, t: T.Float(b, i, n, t.size_type),
    BtfKind.ARRAY: lambda b, i, n, t: T.Array(b, i, n, *t.array),
    BtfKind.FWD: lambda b, i, n, t: T.Fwd(b, i, n, bool(t.kind_flag)),
    BtfKind.FUNC: lambda b, i, n, t: T.Func(b, i, n, t.size_type, BtfFuncLinkage(t.vlen) if t.vlen < 3 else t.vlen),
    BtfKind.VAR: lambda b, i, n, t: T.Var(b, i, n, t.size_type, t.linkage),
    BtfKind.DATASEC: lambda b, i, n, t: T.Datasec(b, i, n, t.size_type, tuple(T.VarSecinfo(*v) for v in t.members)),
    BtfKind.DECL_TAG: lambda b, i, n, t: T.DeclTag(b, i, n, t.size_type, t.component_idx),
    **{k: (lambda cls: lambda b, i, n, t: cls(b, i, n, t.size_type))(cls) for k, cls in _REF_VIEWS.items()},
}


def _view(btf: Btf, type_id: int, t: BtfType) -> T.Type:
    if type_id == 0:
        return T.Void(btf, 0, "void")
    return _VIEW_BUILDERS[t.kind](btf, type_id, btf.str_at(t.name_off), t)


def essential_name(name: str) -> str:
    """libbpf's 'flavor' rule: `task_struct___old` matches kernel `task_struct` (text before the last '___')."""
    i = name.rfind("___")
    return name[:i] if i > 0 else name


