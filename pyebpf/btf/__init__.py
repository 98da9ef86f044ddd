"""BTF, the kernel's type format, as a layer of its own (between `abi` and `isa`, as cilium/ebpf's `btf` package
sits under its loader): the one parser (`spec`), typed views (`types`), .BTF.ext records (`ext`), the writer
(`builder`), the loader's fixups (`fixups`), the running kernel's BTF read once (`kernel`), ctypes conversion
(`ctypes_conv`) and C printing (`c`). The verifier, the loader and the compilers read kernel types from here.
"""
from __future__ import annotations

from pyebpf.abi.btf import VMLINUX_BTF_PATH, BtfFuncLinkage, BtfKind, BtfVarLinkage
from pyebpf.btf.builder import BtfBuilder
from pyebpf.btf.c import c_decl, c_type_name
from pyebpf.btf.ext import BtfExt, CoreRelo, CoreReloKind, FuncInfo, LineInfo
from pyebpf.btf.kernel import (attach_btf_id, attach_btf_name, func_proto, func_type_id, kernel_btf,
                               kernel_btf_or_none, raw_tracepoint_args, raw_tracepoint_params, tp_btf_type_id,
                               tracepoint_proto)
from pyebpf.btf.spec import MODIFIER_KINDS, Btf, BtfMember, BtfType, essential_name
from pyebpf.btf.types import (Array, Composite, Const, Datasec, DeclTag, Enum, Enum64, Float, Func, FuncProto, Fwd,
                              Int, Member, Param, Pointer, Restrict, Struct, Type, Typedef, TypeTag, Union, Var,
                              Void, Volatile)

__all__ = [
    "Btf", "BtfType", "BtfMember", "BtfKind", "BtfFuncLinkage", "BtfVarLinkage", "MODIFIER_KINDS", "VMLINUX_BTF_PATH",
    "essential_name", "BtfBuilder", "BtfExt", "FuncInfo", "LineInfo", "CoreRelo", "CoreReloKind",
    "kernel_btf", "kernel_btf_or_none", "attach_btf_name", "attach_btf_id", "tp_btf_type_id", "func_type_id",
    "tracepoint_proto", "raw_tracepoint_args", "raw_tracepoint_params", "func_proto", "c_type_name", "c_decl",
    "Type", "Void", "Int", "Float", "Pointer", "Typedef", "Const", "Volatile", "Restrict", "TypeTag", "Array",
    "Member", "Composite", "Struct", "Union", "Enum", "Enum64", "Fwd", "Param", "FuncProto", "Func", "Var",
    "Datasec", "DeclTag",
]
