"""Typed views of BTF types: `Struct` with `Member`s (name, byte offset, size, type), `FuncProto` with `Param`s,
`Int` with its signedness, and so on — what a compiler or a verifier asks of a type, without the raw words.

A view is built on demand from one record of a parsed `Btf` (`btf.type(id)`) and refers to other types by id,
resolving them through that `Btf` when asked (`member.type`, `ptr.target`): kernel BTF is a graph with cycles
(`task_struct` points to itself), so nothing is resolved eagerly. Kinds follow uapi linux/btf.h, names follow
cilium/ebpf's `btf` package (Int, Pointer, Array, Struct, Union, Enum, Fwd, Typedef, Const, Volatile, Restrict,
TypeTag, Func, FuncProto, Var, Datasec, Float, DeclTag).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from pyebpf.abi.btf import BtfFuncLinkage, BtfKind

if TYPE_CHECKING:
    from pyebpf.btf.spec import Btf


@dataclass(frozen=True, eq=False)
class Type:
    """One BTF type: its id in `btf`, its name ('' when anonymous) and kind."""

    btf: "Btf" = field(repr=False)
    id: int
    name: str
    kind: ClassVar[BtfKind] = BtfKind.UNKN

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Type) and other.btf is self.btf and other.id == self.id

    def __hash__(self) -> int:
        return hash((id(self.btf), self.id))

    @property
    def size(self) -> int:
        """Byte size (pointers are 8); BtfError for types without one (void, functions, forward declarations)."""
        return self.btf.size_of(self.id)

    def resolve(self) -> "Type":
        """The type under typedefs and qualifiers (const, volatile, restrict, type tags)."""
        return self.btf.type(self.btf.skip_modifiers(self.id))

    def c_type(self) -> str:
        """How C spells this type (`struct task_struct *`, `char [16]`, `int (*)(void *)`)."""
        from pyebpf.btf.c import c_type_name

        return c_type_name(self.btf, self.id)


class Void(Type):
    kind = BtfKind.UNKN


@dataclass(frozen=True, eq=False)
class Int(Type):
    """An integer; `bits` and `bit_offset` differ from size*8 and 0 only for the rare bitfield INT."""

    byte_size: int
    signed: bool
    char: bool
    bool_: bool
    bits: int
    bit_offset: int
    kind: ClassVar[BtfKind] = BtfKind.INT


@dataclass(frozen=True, eq=False)
class Float(Type):
    byte_size: int
    kind: ClassVar[BtfKind] = BtfKind.FLOAT


@dataclass(frozen=True, eq=False)
class _Ref(Type):
    """A type that names one other type (pointer, typedef, qualifiers, tags)."""

    target_id: int

    @property
    def target(self) -> Type:
        return self.btf.type(self.target_id)


class Pointer(_Ref):
    kind = BtfKind.PTR


class Typedef(_Ref):
    kind = BtfKind.TYPEDEF


class Const(_Ref):
    kind = BtfKind.CONST


class Volatile(_Ref):
    kind = BtfKind.VOLATILE


class Restrict(_Ref):
    kind = BtfKind.RESTRICT


class TypeTag(_Ref):
    """`__attribute__((btf_type_tag("...")))` on a pointee (`__user`, `__rcu`, `__percpu`)."""

    kind = BtfKind.TYPE_TAG


@dataclass(frozen=True, eq=False)
class Array(Type):
    elem_id: int
    index_id: int
    nelems: int
    kind: ClassVar[BtfKind] = BtfKind.ARRAY

    @property
    def elem(self) -> Type:
        return self.btf.type(self.elem_id)


@dataclass(frozen=True, eq=False)
class Member:
    """A struct/union member: `offset` in bytes (of the containing storage unit for a bitfield)."""

    btf: "Btf" = field(repr=False, compare=False)
    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int = 0

    @property
    def type(self) -> Type:
        return self.btf.type(self.type_id)

    @property
    def offset(self) -> int:
        return self.bit_offset // 8

    @property
    def size(self) -> int:
        """Byte size of the member's type (for a bitfield: of the integer it is carved from)."""
        return self.btf.size_of(self.type_id)


@dataclass(frozen=True, eq=False)
class Composite(Type):
    """Struct or Union: `byte_size` and `members` in declaration order."""

    byte_size: int
    members: tuple[Member, ...]

    def member(self, name: str) -> Member:
        """The member called `name` (looking into anonymous struct/union members too, as C does), offset from the
        start of this type; BtfError when there is none."""
        found = self.find_member(name)
        if found is None:
            from pyebpf.errors import BtfError

            raise BtfError(f"{self.kind.name.lower()} {self.name or '(anon)'} has no member {name!r}")
        return found

    def find_member(self, name: str) -> Member | None:
        for m in self.members:
            if m.name == name:
                return m
        for m in self.members:
            if not m.name:
                inner = m.type.resolve()
                if isinstance(inner, Composite):
                    found = inner.find_member(name)
                    if found is not None:
                        return Member(self.btf, found.name, found.type_id, m.bit_offset + found.bit_offset,
                                      found.bitfield_size)
        return None


class Struct(Composite):
    kind = BtfKind.STRUCT


class Union(Composite):
    kind = BtfKind.UNION


@dataclass(frozen=True, eq=False)
class Enum(Type):
    """`values` are (name, value), the value signed when `signed` (the record's kind_flag)."""

    byte_size: int
    signed: bool
    values: tuple[tuple[str, int], ...]
    kind: ClassVar[BtfKind] = BtfKind.ENUM


class Enum64(Enum):
    """An enum with 64-bit values (BTF_KIND_ENUM64); read like Enum."""

    kind = BtfKind.ENUM64


@dataclass(frozen=True, eq=False)
class Fwd(Type):
    """`struct x;` / `union x;` declared, never defined in this BTF."""

    is_union: bool
    kind: ClassVar[BtfKind] = BtfKind.FWD


@dataclass(frozen=True, eq=False)
class Param:
    btf: "Btf" = field(repr=False, compare=False)
    name: str
    type_id: int

    @property
    def type(self) -> Type:
        return self.btf.type(self.type_id)

    @property
    def size(self) -> int:
        return self.btf.size_of(self.type_id)


@dataclass(frozen=True, eq=False)
class FuncProto(Type):
    """`return_id (*)(params...)`; a trailing `...` is `variadic`, not a Param."""

    return_id: int
    params: tuple[Param, ...]
    variadic: bool
    kind: ClassVar[BtfKind] = BtfKind.FUNC_PROTO

    @property
    def return_type(self) -> Type:
        return self.btf.type(self.return_id)


@dataclass(frozen=True, eq=False)
class Func(Type):
    proto_id: int
    linkage: BtfFuncLinkage
    kind: ClassVar[BtfKind] = BtfKind.FUNC

    @property
    def proto(self) -> FuncProto:
        proto = self.btf.type(self.proto_id)
        if not isinstance(proto, FuncProto):
            from pyebpf.errors import BtfError

            raise BtfError(f"BTF func {self.name!r} [{self.id}] has a {proto.kind.name} where a FUNC_PROTO goes")
        return proto


@dataclass(frozen=True, eq=False)
class Var(Type):
    type_id: int
    linkage: int
    kind: ClassVar[BtfKind] = BtfKind.VAR

    @property
    def type(self) -> Type:
        return self.btf.type(self.type_id)


@dataclass(frozen=True, eq=False)
class VarSecinfo:
    type_id: int
    offset: int
    size: int


@dataclass(frozen=True, eq=False)
class Datasec(Type):
    byte_size: int
    vars: tuple[VarSecinfo, ...]
    kind: ClassVar[BtfKind] = BtfKind.DATASEC


@dataclass(frozen=True, eq=False)
class DeclTag(Type):
    """`btf_decl_tag("name")` on `target_id` (component_idx -1: the type itself, else a member/parameter index)."""

    target_id: int
    component_idx: int
    kind: ClassVar[BtfKind] = BtfKind.DECL_TAG


#: BtfKind -> view class, for lookups by kind (`btf.type_by_name("x", Struct)` and `..., BtfKind.STRUCT)` alike)
VIEW_BY_KIND: dict[BtfKind, type[Type]] = {
    BtfKind.UNKN: Void, BtfKind.INT: Int, BtfKind.PTR: Pointer, BtfKind.ARRAY: Array, BtfKind.STRUCT: Struct,
    BtfKind.UNION: Union, BtfKind.ENUM: Enum, BtfKind.FWD: Fwd, BtfKind.TYPEDEF: Typedef,
    BtfKind.VOLATILE: Volatile, BtfKind.CONST: Const, BtfKind.RESTRICT: Restrict, BtfKind.FUNC: Func,
    BtfKind.FUNC_PROTO: FuncProto, BtfKind.VAR: Var, BtfKind.DATASEC: Datasec, BtfKind.FLOAT: Float,
    BtfKind.DECL_TAG: DeclTag, BtfKind.TYPE_TAG: TypeTag, BtfKind.ENUM64: Enum64,
}

__all__ = ["Type", "Void", "Int", "Float", "Pointer", "Typedef", "Const", "Volatile", "Restrict", "TypeTag", "Array",
           "Member", "Composite", "Struct", "Union", "Enum", "Enum64", "Fwd", "Param", "FuncProto", "Func", "Var",
           "VarSecinfo", "Datasec", "DeclTag", "VIEW_BY_KIND"]
