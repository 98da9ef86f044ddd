"""BTF printed the way `bpftool btf dump ... format raw` prints it: one `[id] KIND 'name' ...` line per type and a
tab-indented line per member, parameter, enumerator or section variable. Built from the typed views, so comparing
it with bpftool on the running kernel checks the parser and every view at once.
"""
from __future__ import annotations

from typing import Iterator

from pyebpf.abi.btf import BtfFuncLinkage, BtfVarLinkage
from pyebpf.btf import types as T
from pyebpf.btf.spec import Btf

_INT_ENCODINGS = {(False, False, False): "(none)", (True, False, False): "SIGNED", (False, True, False): "CHAR",
                  (False, False, True): "BOOL"}
_FUNC_LINKAGE = {BtfFuncLinkage.STATIC: "static", BtfFuncLinkage.GLOBAL: "global", BtfFuncLinkage.EXTERN: "extern"}
_VAR_LINKAGE = {BtfVarLinkage.STATIC: "static", BtfVarLinkage.GLOBAL_ALLOCATED: "global",
                BtfVarLinkage.GLOBAL_EXTERN: "extern"}


def _name(t: T.Type | T.Member | T.Param) -> str:
    return f"'{t.name or '(anon)'}'"


def raw_type(t: T.Type) -> str:
    """One type in bpftool's raw format (several lines for a struct, enum, prototype or section)."""
    head = f"[{t.id}] {t.kind.name} {_name(t)}"
    if isinstance(t, T.Int):
        enc = _INT_ENCODINGS.get((t.signed, t.char, t.bool_), "UNKN")
        return f"{head} size={t.byte_size} bits_offset={t.bit_offset} nr_bits={t.bits} encoding={enc}"
    if isinstance(t, T.Array):
        return f"{head} type_id={t.elem_id} index_type_id={t.index_id} nr_elems={t.nelems}"
    if isinstance(t, T._Ref):
        return f"{head} type_id={t.target_id}"
    if isinstance(t, T.Composite):
        lines = [f"{head} size={t.byte_size} vlen={len(t.members)}"]
        for m in t.members:
            bits = f" bitfield_size={m.bitfield_size}" if m.bitfield_size else ""
            lines.append(f"\t{_name(m)} type_id={m.type_id} bits_offset={m.bit_offset}{bits}")
        return "\n".join(lines)
    if isinstance(t, T.Enum):
        lines = [f"{head} encoding={'SIGNED' if t.signed else 'UNSIGNED'} size={t.byte_size} vlen={len(t.values)}"]
        suffix = ("LL" if t.signed else "ULL") if isinstance(t, T.Enum64) else ""
        lines.extend(f"\t'{n}' val={v}{suffix}" for n, v in t.values)
        return "\n".join(lines)
    if isinstance(t, T.Fwd):
        return f"{head} fwd_kind={'union' if t.is_union else 'struct'}"
    if isinstance(t, T.Func):
        return f"{head} type_id={t.proto_id} linkage={_FUNC_LINKAGE.get(t.linkage, 'UNKN')}"  # type: ignore
    if isinstance(t, T.FuncProto):
        params = [*t.params, *((T.Param(t.btf, "", 0),) if t.variadic else ())]
        lines = [f"{head} ret_type_id={t.return_id} vlen={len(params)}"]
        lines.extend(f"\t{_name(p)} type_id={p.type_id}" for p in params)
        return "\n".join(lines)
    if isinstance(t, T.Var):
        return f"{head} type_id={t.type_id}, linkage={_VAR_LINKAGE.get(t.linkage, 'UNKN')}"  # type: ignore
    if isinstance(t, T.Datasec):
        lines = [f"{head} size={t.byte_size} vlen={len(t.vars)}"]
        for v in t.vars:
            var = t.btf.type(v.type_id)
            lines.append(f"\ttype_id={v.type_id} offset={v.offset} size={v.size} ({var.kind.name} {_name(var)})")
        return "\n".join(lines)
    if isinstance(t, T.Float):
        return f"{head} size={t.byte_size}"
    if isinstance(t, T.DeclTag):
        return f"{head} type_id={t.target_id} component_idx={t.component_idx}"
    return head


def raw_dump(btf: Btf) -> Iterator[str]:
    """Every type of `btf` in id order, as `bpftool btf dump file <f> format raw` prints them."""
    for type_id in range(1, len(btf)):
        yield raw_type(btf.type(type_id))


__all__ = ["raw_type", "raw_dump"]
