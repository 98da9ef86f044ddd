"""Attach by table: `ATTACHERS[kind]` is how a program of each SEC() kind is attached.

libbpf's `section_defs[]` carries an attach callback per row; here the rows (`abi.prog_types.SECTION_DEFS`) carry an
`AttachKind` and this table maps the kind to its attacher, so a program's type, expected attach type or SEC() name
is read in one place (`abi.prog_types.attach_kind`) and dispatched in one place (`attach()`). `KernelProgram.attach`,
`pyebpf load --attach` and `ElfObject.attach` all come here.

Target strings, per kind (a target may also carry its SEC() prefix, which then picks the kind: 'kretprobe/do_exit',
'uprobe//usr/bin/bash:readline', 'tp/syscalls/sys_enter_openat'):
  tracepoint      'category/name' or 'category:name'
  raw_tracepoint  'name'
  trace, lsm      a label (the target was fixed at load time by attach_btf_id)
  kprobe          'symbol' or 'symbol+offset'          kretprobe  the same, on return
  uprobe          'binary:symbol[+offset]'             uretprobe  the same, on return
  xdp             'ifname'                             (xdp mode and netns as keywords)
  tcx             'ifname', 'ifname/egress' or 'ifname:egress' (default: the expected attach type's direction)
  cgroup          'cgroup dir' or 'cgroup dir:attach_type' (default: the expected attach type)
  netns           'NAME' (ip netns), a namespace file path, or 'self' (sk_lookup, flow_dissector)
  perf_event      'event[:hz]' ('cpu-clock', 'cpu-clock:49', 'cycles'): a sampling event on every online CPU

Adding an attachment for a program type: a row in SECTION_DEFS (with its AttachKind), an attach function in the
module of its family, and its row here.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any, Callable

from pyebpf.abi.prog_types import AttachKind, AttachType, ProgType, attach_kind, split_section_target
from pyebpf.errors import LoaderError
from pyebpf.loader.attach.cgroup import attach_cgroup, parse_attach_type
from pyebpf.loader.attach.net import attach_netns, attach_tc, attach_xdp
from pyebpf.loader.attach.sampling import attach_perf_event, parse_sampling_target
from pyebpf.loader.attach.tracing import (
    attach_kprobe, attach_raw_tracepoint, attach_tp_btf, attach_tracepoint, attach_uprobe,
)
from pyebpf.loader.link import Link


@dataclass(frozen=True)
class Attacher:
    """One row: `attach(prog, target, **options)`; `auto` when the SEC() target alone says where (ElfObject.attach
    attaches those, as a libbpf skeleton does); `target` describes the target string for error messages."""

    attach: Callable[..., Link]
    target: str
    auto: bool = False


def _offset(text: str) -> tuple[str, int]:
    """'symbol+0x10' -> ('symbol', 16)."""
    symbol, plus, off = text.partition("+")
    if not plus:
        return text, 0
    try:
        return symbol, int(off, 0)
    except ValueError:
        raise LoaderError(f"bad offset {off!r} in probe target {text!r}", errno.EINVAL) from None


def _kprobe(retprobe: bool) -> Callable[..., Link]:
    def attach_at(prog: Any, target: str, **kw: Any) -> Link:
        symbol, offset = _offset(target)
        return attach_kprobe(prog, symbol, retprobe=retprobe, offset=offset, **kw)
    return attach_at


def _uprobe(retprobe: bool) -> Callable[..., Link]:
    def attach_at(prog: Any, target: str, **kw: Any) -> Link:
        binary, _, rest = target.rpartition(":")
        if not binary:
            raise LoaderError(f"uprobe target {target!r} must be <binary>:<symbol>[+offset]", errno.EINVAL)
        symbol, offset = _offset(rest)
        return attach_uprobe(prog, binary, symbol or None, offset=offset, retprobe=retprobe, **kw)
    return attach_at


def _program(prog: Any) -> Any:
    """The Program behind a KernelProgram (or the Program itself)."""
    return getattr(prog, "program", None) or prog


def _expected_attach_type(prog: Any) -> AttachType | None:
    value = getattr(_program(prog), "expected_attach_type", None)
    if value is None or (value == 0 and not isinstance(value, AttachType)):
        return None
    return parse_attach_type(value)


def _tcx(prog: Any, target: str, **kw: Any) -> Link:
    ifname, sep, direction = target.replace(":", "/").partition("/")
    if not sep:
        direction = "egress" if _expected_attach_type(prog) == AttachType.TCX_EGRESS else "ingress"
    return attach_tc(prog, ifname, direction, **kw)


def _perf_event(prog: Any, target: str, **kw: Any) -> Link:
    event, freq = parse_sampling_target(target)
    kw.setdefault("freq", freq)
    return attach_perf_event(prog, event, **kw)


def _cgroup(prog: Any, target: str, attach_type: Any = None, **kw: Any) -> Link:
    path = target
    head, sep, hook = target.rpartition(":")
    if sep and attach_type is None:
        try:
            attach_type = parse_attach_type(hook)
            path = head
        except (LoaderError, ValueError):
            pass  # a ':' that is part of the path
    hook_type = attach_type if attach_type is not None else _expected_attach_type(prog)
    if hook_type is None:
        raise LoaderError("a cgroup program needs an attach type: 'path:ingress', attach_type=, or an "
                          "expected_attach_type", errno.EINVAL)
    return attach_cgroup(prog, path, hook_type, **kw)


ATTACHERS: dict[AttachKind, Attacher] = {
    AttachKind.TRACEPOINT: Attacher(lambda p, t, **kw: attach_tracepoint(p, t, **kw), "category/name", auto=True),
    AttachKind.RAW_TRACEPOINT: Attacher(lambda p, t, **kw: attach_raw_tracepoint(p, t, **kw), "tracepoint name",
                                        auto=True),
    AttachKind.TRACE: Attacher(lambda p, t, **kw: attach_tp_btf(p, t, **kw), "label", auto=True),
    AttachKind.LSM: Attacher(lambda p, t, **kw: attach_tp_btf(p, t, **kw), "label", auto=True),
    AttachKind.KPROBE: Attacher(_kprobe(False), "symbol[+offset]", auto=True),
    AttachKind.KRETPROBE: Attacher(_kprobe(True), "symbol[+offset]", auto=True),
    AttachKind.UPROBE: Attacher(_uprobe(False), "binary:symbol[+offset]", auto=True),
    AttachKind.URETPROBE: Attacher(_uprobe(True), "binary:symbol[+offset]", auto=True),
    AttachKind.XDP: Attacher(lambda p, t, **kw: attach_xdp(p, t, **kw), "interface"),
    AttachKind.TCX: Attacher(_tcx, "interface[/ingress|/egress]"),
    AttachKind.CGROUP: Attacher(_cgroup, "cgroup directory[:attach_type]"),
    AttachKind.NETNS: Attacher(lambda p, t, **kw: attach_netns(p, None if t == "self" else t, **kw),
                               "network namespace name or path, or 'self'"),
    AttachKind.PERF_EVENT: Attacher(_perf_event, "sampling event[:hz], e.g. cpu-clock:99"),
}
"""AttachKind -> how to attach. Kinds without a row (NONE: socket filters, devmap programs...) are attached by
hand (attach_socket_filter, a map update) and get a LoaderError saying so from attach()."""


def _prog_type(prog: Any) -> ProgType | None:
    return getattr(prog, "prog_type", None) or getattr(getattr(prog, "program", None), "prog_type", None)


def kind_of(prog: Any) -> AttachKind:
    """The AttachKind of a loaded program (or a Program): its SEC() name's when known, else its types'."""
    ptype = _prog_type(prog)
    if ptype is None:
        return AttachKind.NONE
    return attach_kind(ptype, _expected_attach_type(prog), getattr(_program(prog), "section", None))


def attach(prog: Any, target: str | None = None, *, kind: AttachKind | str | None = None, **options: Any) -> Link:
    """Attach loaded program `prog` at `target` (default: its Program's attach_to) the way its kind says; options
    go to the kind's attach function (netns=, mode=, via=, replace=, cookie=, ...)."""
    ptype = _prog_type(prog)
    if target is None:
        target = getattr(_program(prog), "attach_to", None)
    if kind is None:
        written = None
        if target and ptype is not None:
            written, target = split_section_target(ptype, target)
        kind = written or kind_of(prog)
    else:
        try:
            kind = AttachKind(kind)
        except ValueError:
            raise LoaderError(f"unknown attach kind {kind!r} (have {', '.join(k.value for k in ATTACHERS)})",
                              errno.EINVAL) from None
    type_name = getattr(ptype, "name", ptype)
    row = ATTACHERS.get(kind)
    if row is None:
        raise LoaderError(f"{type_name} programs ({kind.value}) are not attached through a target string: use "
                          f"their own attach function (attach_socket_filter, a map update...)", errno.EOPNOTSUPP)
    if not target:
        raise LoaderError(f"no attach target for {type_name} program: pass one ({row.target}) or set "
                          f"Program.attach_to", errno.EINVAL)
    return row.attach(prog, target, **options)


def auto_attachable(program: Any) -> bool:
    """True when `program`'s SEC() target alone says where to attach it (what ElfObject.attach() attaches)."""
    if not getattr(program, "attach_to", None):
        return False
    row = ATTACHERS.get(kind_of(program))
    return row is not None and row.auto


#: The older name of attach().
auto_attach = attach

__all__ = ["Attacher", "ATTACHERS", "attach", "auto_attach", "auto_attachable", "kind_of"]
