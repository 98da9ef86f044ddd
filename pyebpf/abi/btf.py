"""BTF format constants (uapi linux/btf.h), shared by the BTF parser, the BTF generator and the vmlinux lookup."""
from __future__ import annotations

from enum import IntEnum

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
BTF_HEADER_SIZE = 24
BTF_INT_SIGNED = 1 << 0
BTF_INT_CHAR = 1 << 1
BTF_INT_BOOL = 1 << 2
VMLINUX_BTF_PATH = "/sys/kernel/btf/vmlinux"


class BtfKind(IntEnum):
    """BTF_KIND_* (uapi linux/btf.h)."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


class BtfVarLinkage(IntEnum):
    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


class BtfFuncLinkage(IntEnum):
    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


#: Bytes of kind-specific data after the 12-byte `struct btf_type`: (fixed part, bytes per vlen record).
#: Kinds not listed have none (PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG).
TYPE_EXTRA_SIZES: dict[int, tuple[int, int]] = {
    BtfKind.INT: (4, 0), BtfKind.ARRAY: (12, 0), BtfKind.STRUCT: (0, 12), BtfKind.UNION: (0, 12),
    BtfKind.ENUM: (0, 8), BtfKind.FUNC_PROTO: (0, 8), BtfKind.VAR: (4, 0), BtfKind.DATASEC: (0, 12),
    BtfKind.DECL_TAG: (4, 0), BtfKind.ENUM64: (0, 12),
}
BTF_TYPE_HEADER_SIZE = 12


def type_record_size(kind: int, vlen: int) -> int:
    """Bytes one type record takes in the type section: header plus its kind's trailing data."""
    fixed, per = TYPE_EXTRA_SIZES.get(kind, (0, 0))
    return BTF_TYPE_HEADER_SIZE + fixed + per * vlen
