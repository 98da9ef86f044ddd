"""`pyebpf link list|show|pin|detach`: the kernel's BPF links, as `bpftool link` lists them.

Links are named by id (`5` or `id 5`) or pinned path (`PATH` or `pinned PATH`). `detach` is BPF_LINK_DETACH: the
program leaves its hook for every holder of the link, which then stays as an empty (defunct) link until its last fd
or pin goes. `list`/`show` print bpftool 7.1's plain layout (a second line for raw tracepoint, tracing, cgroup,
iterator and netns links) and `--json` its -j keys (id, type, prog_id, and per type what the link info carries;
xdp/tcx links also their ifindex).
"""
from __future__ import annotations

import argparse
import json
import struct

from pyebpf.abi.uapi import BpfLinkType
from pyebpf.commands.source import object_id
from pyebpf.errors import LoaderError

#: Per link type, the leading fields of bpf_link_info's union: (struct format, key names). The attach type is
#: printed by name (libbpf's attach type strings), as bpftool prints it.
_DETAIL = {
    BpfLinkType.TRACING: ("<III", ("attach_type", "target_obj_id", "target_btf_id")),
    BpfLinkType.CGROUP: ("<QI", ("cgroup_id", "attach_type")),
    BpfLinkType.NETNS: ("<II", ("netns_ino", "attach_type")),
    BpfLinkType.XDP: ("<I", ("ifindex",)),
    BpfLinkType.TCX: ("<II", ("ifindex", "attach_type")),
}
#: Link types whose union starts with a (pointer, length) string the kernel copies out on a second call.
_STRING = {BpfLinkType.RAW_TRACEPOINT: "tp_name", BpfLinkType.ITER: "target_name"}
MAX_NAME = 512


def _attach_name(value: int) -> str | int:
    from pyebpf.abi.prog_types import AttachType

    try:
        return AttachType(value).name.lower()
    except ValueError:
        return value


def _string(fd: int) -> str:
    """The tp_name / target_name of a raw tracepoint or iterator link (BPF_OBJ_GET_INFO_BY_FD with a buffer)."""
    import ctypes

    from pyebpf.loader import syscall as sc
    from pyebpf.loader.attr import bpf_link_info

    buf = ctypes.create_string_buffer(MAX_NAME)
    info = bpf_link_info()
    struct.pack_into("<QI", info.detail, 0, ctypes.addressof(buf), MAX_NAME)
    sc.obj_get_info_by_fd(fd, info)
    return buf.value.decode(errors="replace")


def link_fields(info, fd: int | None) -> dict:
    """What bpftool 7.1 shows of a link beyond id/type/prog_id, in its order and with its key names."""
    out: dict = {}
    kind = info.type
    if kind in _STRING and fd is not None:
        out[_STRING[kind]] = _string(fd)
        if kind == BpfLinkType.ITER and out["target_name"].startswith("bpf_map"):
            out["map_id"] = struct.unpack_from("<I", info.detail, 12)[0]
    layout = _DETAIL.get(kind)
    if layout is not None:
        values = dict(zip(layout[1], struct.unpack_from(layout[0], info.detail)))
        if kind == BpfLinkType.TRACING:
            from pyebpf.loader.info import prog_info_by_id

            try:
                out["prog_type"] = prog_info_by_id(info.prog_id).type_name
            except LoaderError:
                pass
            out["attach_type"] = _attach_name(values["attach_type"])
        else:
            out.update({k: (_attach_name(v) if k == "attach_type" else v) for k, v in values.items()})
    return out


def link_json(info, fd: int | None = None) -> dict:
    """bpftool 7.1's `link show --json` object (xdp and tcx links also carry their ifindex)."""
    out = {"id": info.id, "type": info.type_name.lower(), "prog_id": info.prog_id}
    out.update({k: v for k, v in link_fields(info, fd).items() if k not in ("target_obj_id", "target_btf_id")})
    return out


#: The link types bpftool 7.1 gives a second line, and the fields on it.
_PLAIN_LINE = {
    BpfLinkType.RAW_TRACEPOINT: ("tp_name",),
    BpfLinkType.TRACING: ("prog_type", "attach_type"),
    BpfLinkType.CGROUP: ("cgroup_id", "attach_type"),
    BpfLinkType.ITER: ("target_name", "map_id"),
    BpfLinkType.NETNS: ("netns_ino", "attach_type"),
}


def format_link(info, fd: int | None = None) -> str:
    """bpftool 7.1's plain `link show` layout (show_link_close_plain), its trailing double spaces included."""
    from pyebpf.commands.prog import type_word

    head = f"{info.id}: {type_word(info.type_name.lower())}  prog {info.prog_id}  "
    names = _PLAIN_LINE.get(info.type)
    if names is None:
        return head
    fields = link_fields(info, fd)
    words = [f"tp '{fields['tp_name']}'" if n == "tp_name" else f"{n} {fields[n]}" for n in names if n in fields]
    return head + "\n\t" + "".join(w + "  " for w in words)


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


def each_link():
    """(LinkInfo, json object, plain text) of every link alive, by id (one fd open at a time)."""
    import os

    from pyebpf.loader import syscall as sc
    from pyebpf.loader.info import link_info

    for link_id in sc.iter_ids("link"):
        try:
            fd = sc.get_fd_by_id("link", link_id)
        except LoaderError:
            continue  # released between GET_NEXT_ID and GET_FD_BY_ID
        try:
            info = link_info(fd)
            yield info, link_json(info, fd), format_link(info, fd)
        finally:
            os.close(fd)


def _list(args: argparse.Namespace) -> int:
    rows = list(each_link())
    if args.json:
        print(json.dumps([j for _, j, _ in rows]))
    else:
        for _, _, text in rows:
            print(text)
    return 0


def _show(args: argparse.Namespace) -> int:
    if not args.target:
        return _list(args)
    with open_link(args.target) as link:
        info = link.info()
        print(json.dumps(link_json(info, link.fd)) if args.json else format_link(info, link.fd))
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
