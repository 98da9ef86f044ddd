"""BTF format constants (uapi linux/btf.h), shared by the BTF parser, the BTF generator and the vmlinux lookup."""
from __future__ import annotations

from enum import IntEnum

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
BTF_HEADER_SIZE = 24
BTF_INT_SIGNED = 1 << 0
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
