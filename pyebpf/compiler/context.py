"""What a program's context pointer (r1) points to, per program type: named fields with offset, size, sign.

Packet programs and pt_regs come from `pyebpf.abi.context`; tracepoint records from their tracefs `format` file
through a `TracepointProvider`: `SYSTEM` asks `pyebpf.system` (the one reader of tracefs), tests inject formats
as text, so the compiler is a pure function of its inputs and testable without root.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pyebpf.abi.context import (BPF_PERF_EVENT_DATA, BPF_RAW_TRACEPOINT_ARGS, PT_REGS, SK_BUFF, XDP_MD,
                                ContextLayout, FieldKind)
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.compiler.ktypes import KPROBE_ARG_REGS, KernelTypes, btf_params
from pyebpf.errors import CompileError, LoaderError


@dataclass(frozen=True)
class Field:
    """One readable context member. `count` > 1 is an array of `size`-byte elements (args[6]); `kind` is 'int',
    'packet', 'packet_end', 'data_loc' (a tracepoint __data_loc string: u32 offset | length << 16) or 'btf' (an
    8-byte slot holding a value of BTF type `btf`: converted to that type's width and sign, pointers typed)."""

    name: str
    offset: int
    size: int
    signed: bool = False
    count: int = 1
    kind: str = "int"
    ctype: str = ""
    btf: Any = field(default=None, compare=False)
    """The kernel's BTF type of the value (BTF-named arguments: raw_tp, tp_btf, fentry, kprobe parameters)."""
    usdt: Any = field(default=None, compare=False)
    """kind 'usdt': where a USDT argument is (an argument spec of the probe's note: constant, register or memory
    at register + offset; duck-typed: `kind.value`, `size`, `signed`, `reg_offset`, `offset`, `value`)."""


class UsdtProvider(Protocol):
    """The argument specs of USDT probe `provider:name` in `binary`, one tuple per probe site (pyebpf.loader.usdt
    reads the notes; the compiler does not read files)."""

    def usdt_args(self, binary: str, provider: str, name: str) -> list[tuple[Any, ...]]: ...


def usdt_spec_ids(sites: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[int]]:
    """(the distinct argument specs of a USDT probe's sites, the spec id of each site): libbpf's spec ids. A site is
    attached with its spec id as the BPF cookie; the program picks each argument's location by it."""
    specs: list[tuple[Any, ...]] = []
    index: dict[tuple[str, ...], int] = {}
    ids = []
    for site in sites:
        key = tuple(a.text for a in site)
        if key not in index:
            index[key] = len(specs)
            specs.append(site)
        ids.append(index[key])
    return specs, ids


@dataclass(frozen=True)
class UsdtLocations:
    """A USDT argument kept in different places at different sites: `by_spec[id]` is where it is at the sites of
    spec id `id` (what bpf_get_attach_cookie returns there)."""

    by_spec: tuple[Any, ...]

    @property
    def size(self) -> int:
        return max(a.size for a in self.by_spec)

    @property
    def signed(self) -> bool:
        return any(a.signed for a in self.by_spec)

    @property
    def text(self) -> str:
        return " | ".join(sorted({a.text for a in self.by_spec}))


def usdt_fields(provider: UsdtProvider | None, target: str) -> dict[str, Field]:
    """ctx.arg0, ctx.arg1, ... of a USDT probe (`usdt/PATH:provider:name`). An argument every site keeps in the same
    place is read from there; one that moves between sites is a `UsdtLocations` (one location per spec id, chosen
    at run time by the attach cookie, as libbpf's usdt.c does). Every site must have the argument."""
    parts = target.rsplit(":", 2)
    if provider is None or len(parts) != 3 or not all(parts):
        raise CompileError(f"USDT target {target!r}: expected usdt/PATH:PROVIDER:NAME",
                           hint="e.g. usdt//usr/bin/python3.11:python:function__entry")
    sites = provider.usdt_args(*parts)
    specs, _ = usdt_spec_ids(sites)
    out: dict[str, Field] = {}
    for i in range(max((len(s) for s in specs), default=0)):
        if any(i >= len(s) for s in specs):
            raise CompileError(f"USDT {parts[1]}:{parts[2]}: argument {i} is missing at some of its "
                               f"{len(sites)} sites", hint="read only the arguments every site passes")
        where = [s[i] for s in specs]
        spec: Any = where[0] if len({a.text for a in where}) == 1 else UsdtLocations(tuple(where))
        out[f"arg{i}"] = Field(f"arg{i}", 0, spec.size, spec.signed, 1, "usdt", spec.text, usdt=spec)
    return out


class TracepointProvider(Protocol):
    """Fields of tracepoint `category:name` as its format file lists them (without the common_* header)."""

    def tracepoint_fields(self, category: str, name: str) -> list[Field]: ...


def fields_of_format(fmt) -> list[Field]:
    """Compiler fields from a parsed `pyebpf.system` TracepointFormat (its own fields, not the common header)."""
    out = []
    for f in fmt.own_fields:
        if f.data_loc or f.rel_loc:
            out.append(Field(f.name, f.offset, f.size, False, 1, "data_loc", f.declaration))
        elif f.array_len:
            elem = f.size // f.array_len
            if elem in (1, 2, 4, 8) and elem * f.array_len == f.size:
                out.append(Field(f.name, f.offset, elem, f.signed, f.array_len, "int", f.declaration))
            else:
                out.append(Field(f.name, f.offset, f.size, False, 1, "bytes", f.declaration))
        elif f.array_len == 0:
            out.append(Field(f.name, f.offset, f.size, False, 1, "bytes", f.declaration))
        else:
            kind = "int" if f.size in (1, 2, 4, 8) else "bytes"
            out.append(Field(f.name, f.offset, f.size, f.signed and "*" not in f.c_type, 1, kind, f.declaration))
    return out


def fields_of_text(text: str, where: str = "format") -> list[Field]:
    """Compiler fields from the text of a `format` file."""
    from pyebpf.system.tracefs_format import parse_format

    return fields_of_format(parse_format(text, where))


class SystemTracepoints:
    """The running system's tracepoints (pyebpf.system reads and caches their format files)."""

    def tracepoint_fields(self, category: str, name: str) -> list[Field]:
        from pyebpf.system.tracefs import tracepoint_format

        try:
            return fields_of_format(tracepoint_format(category, name))
        except LoaderError as e:
            raise CompileError(f"tracepoint {category}:{name}: {e}",
                               hint="tracepoints are listed in /sys/kernel/tracing/events (root and tracefs)") from None


SYSTEM = SystemTracepoints()


@dataclass(frozen=True)
class ContextSpec:
    name: str
    fields: dict[str, Field]
    aliases: dict[str, str]
    btf_pointers: bool = False
    """The 'btf' pointer arguments are PTR_TO_BTF_ID (tp_btf, fentry/fexit), read through with plain loads."""

    def find(self, name: str) -> Field | None:
        return self.fields.get(self.aliases.get(name, name))


_KIND = {FieldKind.PKT: "packet", FieldKind.PKT_END: "packet_end", FieldKind.PKT_META: "packet"}


def _from_layout(layout: ContextLayout) -> dict[str, Field]:
    """Fields of an abi layout; `name[i]` members fold back into one array field `name`."""
    out: dict[str, Field] = {}
    for f in layout.fields:
        if not f.readable or f.kind in (FieldKind.PADDING, FieldKind.FLOW_KEYS, FieldKind.SOCK_COMMON_OR_NULL):
            continue
        base, bracket, _ = f.name.partition("[")
        if bracket:
            prev = out.get(base)
            out[base] = Field(base, prev.offset if prev else f.offset, f.size, False, (prev.count + 1) if prev else 1)
        else:
            out[f.name] = Field(f.name, f.offset, f.size, False, 1, _KIND.get(f.kind, "int"))
    return out


_PT_ALIASES = {"arg1": "di", "arg2": "si", "arg3": "dx", "arg4": "cx", "arg5": "r8", "arg6": "r9", "ret": "ax",
               **{f"r{n}": n for n in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip")}}

_BTF_TRACING = frozenset({AttachType.TRACE_RAW_TP, AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT,
                          AttachType.MODIFY_RETURN})

_SKB_TYPES = frozenset({ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB})


def btf_fields(kernel: KernelTypes | None, attach_type: Any, target: str, offsets: list[int] | None = None
               ) -> dict[str, Field]:
    """Fields named after the BTF arguments of an attach point (`prev`, `next` of sched_switch): at 8-byte slot
    offsets (raw_tp, tp_btf, fentry) or at `offsets` (kprobe registers). {} without kernel BTF or a prototype
    (the program still has `args` / the registers)."""
    btf = kernel.btf() if kernel is not None and target else None
    if btf is None:
        return {}
    from pyebpf.errors import BtfError

    try:
        params = btf_params(btf, attach_type, target)
    except BtfError:
        return {}
    out = {}
    for i, (name, t) in enumerate(params):
        if offsets is not None and i >= len(offsets):
            break
        off = offsets[i] if offsets is not None else 8 * i
        out[name] = Field(name, off, 8, False, 1, "btf", t.c_type(), t)
    return out


def context_spec(prog_type: ProgType, target: str, provider: TracepointProvider | None,
                 kernel: KernelTypes | None = None, attach_type: Any = None, section: str = "",
                 usdt: UsdtProvider | None = None) -> ContextSpec | None:
    """The context of a program of `prog_type` attached at `target`; None when the compiler knows no layout.
    `kernel` gives BTF argument names (raw_tp, tp_btf, fentry/fexit, kprobe/kretprobe on a kernel function)."""
    if prog_type == ProgType.TRACEPOINT:
        if provider is None or "/" not in target:
            return None
        category, _, name = target.partition("/")
        return ContextSpec(f"tracepoint {category}:{name}", {f.name: f for f in
                                                               provider.tracepoint_fields(category, name)}, {})
    if prog_type in (ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
        named = btf_fields(kernel, None, target)
        return ContextSpec(f"raw tracepoint {target}" if named else "bpf_raw_tracepoint_args",
                           {**_from_layout(BPF_RAW_TRACEPOINT_ARGS), **named}, {})
    if prog_type == ProgType.TRACING and attach_type in _BTF_TRACING:
        named = btf_fields(kernel, attach_type, target)
        if not named and kernel is not None and kernel.btf() is not None:
            raise CompileError(f"the running kernel's BTF has no {target!r} to attach to",
                               hint="tp_btf/<tracepoint>, fentry/<kernel function>")
        args = Field("args", 0, 8, False, max(len(named), 1))
        return ContextSpec(f"{section or 'tracing'} arguments", {"args": args, **named}, {}, True)
    if prog_type == ProgType.KPROBE and section.startswith(("usdt/", "usdt.s/")):
        return ContextSpec(f"USDT {target}", usdt_fields(usdt, target), {})
    if prog_type == ProgType.KPROBE:
        regs = _from_layout(PT_REGS)
        named: dict[str, Field] = {}
        if section.startswith("kprobe/"):
            named = btf_fields(kernel, AttachType.TRACE_FENTRY, target,
                               [regs[r].offset for r in KPROBE_ARG_REGS])
        elif section.startswith("kretprobe/") and kernel is not None and kernel.btf() is not None:
            ret = btf_fields(kernel, AttachType.TRACE_FEXIT, target, None)
            if "ret" in ret:
                named = {"ret": Field("ret", regs["ax"].offset, 8, False, 1, "btf", ret["ret"].ctype, ret["ret"].btf)}
        aliases = {k: v for k, v in _PT_ALIASES.items() if k not in named}
        return ContextSpec("pt_regs", {**regs, **named}, aliases)
    if prog_type == ProgType.PERF_EVENT:
        # ctx.ip: the interrupted registers (bpf_perf_event_data's regs.ip), as in a kprobe's pt_regs
        return ContextSpec("bpf_perf_event_data", _from_layout(BPF_PERF_EVENT_DATA),
                           {f.name: f"regs.{f.name}" for f in PT_REGS.fields})
    if prog_type == ProgType.XDP:
        return ContextSpec("xdp_md", _from_layout(XDP_MD), {})
    if prog_type in _SKB_TYPES:
        return ContextSpec("__sk_buff", _from_layout(SK_BUFF), {})
    return None


__all__ = ["Field", "TracepointProvider", "ContextSpec", "context_spec", "SystemTracepoints", "SYSTEM",
           "fields_of_format", "fields_of_text", "btf_fields", "UsdtProvider", "usdt_fields", "usdt_spec_ids",
           "UsdtLocations"]
