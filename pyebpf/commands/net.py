"""`pyebpf net list [DEV]` / `pyebpf net detach DEV`: BPF programs on network devices, in the spirit of `bpftool net`.

`list` shows, per device, the XDP program (mode, and whether through a bpf_link or netlink), tcx programs and
cls_bpf filters (a filter pyebpf added names the process that added it, and says "stale" when that process is gone).
`detach DEV` removes them (all of them, or only --xdp / --tc ones, or one --direction): what to run when an attach
says an old attachment is in the way. --netns NAME works inside a named network namespace (`ip netns`).
"""
from __future__ import annotations

import argparse
import json

from pyebpf.errors import LoaderError


def _hooks(args: argparse.Namespace) -> tuple[str, ...]:
    if args.xdp and not args.tc:
        return ("xdp",)
    if args.tc and not args.xdp:
        return ("tcx", "tc")
    return ("xdp", "tcx", "tc")


def format_attachment(att) -> str:
    """One line per attachment, bpftool-net style: `DEV(IFINDEX) HOOK ... id N name NAME`."""
    head = f"{att.dev}({att.ifindex}) "
    if att.hook == "xdp":
        head += f"xdp {att.mode or 'auto'}"
    else:
        head += f"{att.hook} {att.direction}"
    head += f"  id {att.prog_id}"
    if att.prog_name:
        head += f"  name {att.prog_name}"
    if att.link_id:
        head += f"  link {att.link_id}"
    elif att.hook != "tc":
        head += f"  ({att.via})"
    if att.hook == "tc":
        head += f"  prio {att.prio} handle {att.handle:#x} filter {att.filter_name}"
        if att.pyebpf:
            head += f"  [pyebpf pid {att.owner_pid}{' stale' if att.stale else ''}]" if att.owner_pid else "  [pyebpf]"
    return head


def _list(args: argparse.Namespace) -> int:
    from pyebpf.loader.attach.netdev import net_list

    found = net_list(args.dev, args.netns, _hooks(args))
    if args.json:
        print(json.dumps([a.as_json() for a in found]))
    else:
        for att in found:
            print(format_attachment(att))
    return 0


def _detach(args: argparse.Namespace) -> int:
    from pyebpf.loader.attach.netdev import net_detach

    removed = net_detach(args.dev, args.netns, _hooks(args), args.direction)
    if args.json:
        print(json.dumps([a.as_json() for a in removed]))
    elif not removed:
        print(f"{args.dev}: no BPF programs attached")
    else:
        for att in removed:
            print(f"detached {format_attachment(att)}")
    return 0


def _handler(args: argparse.Namespace) -> int:
    if args.net_command == "detach" and not args.dev:
        raise LoaderError("net detach needs a device")
    return {"list": _list, "show": _list, "detach": _detach}[args.net_command](args)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("net", help="list / detach XDP and tc programs on network devices",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="net_command", metavar="{list,detach}")
    sub.required = True
    for name, helptext in (("list", "BPF programs on every device (or DEV)"), ("show", "same as list"),
                           ("detach", "remove BPF programs from DEV")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("dev", nargs="?" if name != "detach" else None, help="network device")
        q.add_argument("--netns", metavar="NAME", help="network namespace (as `ip netns` names it)")
        q.add_argument("--xdp", action="store_true", help="only XDP")
        q.add_argument("--tc", action="store_true", help="only tc (tcx and cls_bpf)")
        if name == "detach":
            q.add_argument("--direction", choices=("ingress", "egress"), help="only this tc direction")
        else:
            q.set_defaults(direction=None)
        q.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=_handler)
