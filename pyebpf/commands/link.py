"""`pyebpf link list|show|pin|detach`: the kernel's BPF links, as `bpftool link` lists them.

Links are named by id (`5` or `id 5`) or pinned path (`PATH` or `pinned PATH`). `detach` is BPF_LINK_DETACH: the
program leaves its hook for every holder of the link, which then stays as an empty (defunct) link until its last fd
or pin goes. `--json` gives bpftool -j's keys (id, type, prog_id, and per type what the link info carries).
"""
from __future__ import annotations

import argparse
import json
import struct

from pyebpf.commands.source import object_id
from pyebpf.errors import LoaderError

#: Per link type, the leading fields of bpf_link_info's union we print: (struct format, key names).
_DETAIL = {
    "xdp": ("<I", ("ifindex",)),
    "netns": ("<II", ("netns_ino", "attach_type")),
    "cgroup": ("<QI", ("cgroup_id", "attach_type")),
    "tcx": ("<II", ("ifindex", "attach_type")),
}


def link_json(info) -> dict:
    out = info.as_json()
    layout = _DETAIL.get(info.type_name.lower())
    if layout is not None:
        fmt, names = layout
        for name, value in zip(names, struct.unpack_from(fmt, info.detail)):
            if name != "attach_type":  # bpftool names attach types its own way; the number stays ours to print
                out[name] = value
    return out


def format_link(info) -> str:
    extra = "".join(f"  {k} {v}" for k, v in link_json(info).items() if k not in ("id", "type", "prog_id"))
    return f"{info.id}: {info.type_name.lower()}  prog {info.prog_id}{extra}"


def open_link(spec: list[str]):
    from pyebpf.loader.link import Link

    if not spec:
        raise LoaderError("name a link: ID, PATH, 'id N' or 'pinned PATH'")
    kind, value = (spec[0], spec[1]) if len(spec) >= 2 else (None, spec[0])
    if kind is None:
        kind = "id" if object_id(value) is not None else "pinned"
    if kind == "id":
        if object_id(value) is None:
            raise LoaderError(f"bad link id {value!r}")
        return Link.from_id(object_id(value))
    if kind == "pinned":
        return Link.from_pinned(value)
    raise LoaderError(f"unknown link selector {kind!r} (use id or pinned)")


def _list(args: argparse.Namespace) -> int:
    from pyebpf.loader.info import link_infos

    infos = list(link_infos())
    if args.json:
        print(json.dumps([link_json(i) for i in infos]))
    else:
        for info in infos:
            print(format_link(info))
    return 0


def _show(args: argparse.Namespace) -> int:
    if not args.target:
        return _list(args)
    with open_link(args.target) as link:
        info = link.info()
    print(json.dumps(link_json(info)) if args.json else format_link(info))
    return 0


def _pin(args: argparse.Namespace) -> int:
    from pyebpf.loader.pin import pin_fd

    if len(args.target) < 2:
        raise LoaderError("link pin LINK FILE")
    with open_link(args.target[:-1]) as link:
        pin_fd(link.fd, args.target[-1])
    if args.json:
        print("null")
    return 0


def _detach(args: argparse.Namespace) -> int:
    from pyebpf.loader import syscall as sc

    with open_link(args.target) as link:
        sc.link_detach(link.fd)
    if args.json:
        print("null")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("link", help="list, show, pin and detach BPF links", description=__doc__)
    sub = p.add_subparsers(dest="link_command", metavar="{list,show,pin,detach}")
    sub.required = True
    lp = sub.add_parser("list", help="every link")
    lp.add_argument("--json", action="store_true", help="JSON like `bpftool -j link list`")
    lp.set_defaults(func=_list)
    for name, func, nargs, what in (("show", _show, "*", "LINK (all when none)"), ("pin", _pin, "+", "LINK FILE"),
                                    ("detach", _detach, "+", "LINK")):
        q = sub.add_parser(name, help=f"{name} {what}")
        q.add_argument("target", nargs=nargs, metavar=what)
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=func)
