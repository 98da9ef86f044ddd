"""`pyebpf cgroup tree [ROOT] [--json]` and `pyebpf cgroup show CGROUP`: the programs attached to cgroups, as
`bpftool cgroup tree|show` lists them: for each cgroup (the whole cgroup v2 hierarchy for `tree`), every program
attached at each attach type (BPF_PROG_QUERY), with the hook's attach flags (multi / override) and its name.
"""
from __future__ import annotations

import argparse
import errno
import json
import os

from pyebpf.errors import LoaderError

MAX_CGROUPS = 1 << 16  # a hierarchy larger than this is cut off with an error, not walked forever


def _flags(value: int) -> str:
    from pyebpf.abi.uapi import AttachFlags

    if value & AttachFlags.ALLOW_MULTI:
        return "multi"
    if value & AttachFlags.ALLOW_OVERRIDE:
        return "override"
    return "" if not value else f"{value:#x}"


def cgroup_programs(path: str) -> list[dict]:
    """bpftool's `cgroup show` entries of one cgroup: attach types in enum order, programs in run order."""
    from pyebpf.abi.prog_types import AttachType
    from pyebpf.loader import syscall as sc
    from pyebpf.loader.info import prog_info_by_id

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise LoaderError(f"cgroup {path}", e.errno) from None
    out = []
    try:
        for at in sorted(AttachType, key=int):
            try:
                ids, _, _, flags = sc.prog_query_flags(fd, at)
            except LoaderError:
                continue  # not a hook a cgroup has (the kernel says EINVAL), or not on this kernel
            for prog_id in ids:
                try:
                    name = prog_info_by_id(prog_id).name
                except LoaderError:
                    continue  # detached between the query and now
                out.append({"id": prog_id, "attach_type": at.name.lower(), "attach_flags": _flags(flags),
                            "name": name, "attach_btf_name": "", "attach_btf_obj_id": 0, "attach_btf_id": 0})
    finally:
        os.close(fd)
    return out


def cgroup_tree(root: str) -> list[dict]:
    """{"cgroup", "programs"} for every cgroup under `root` (itself included) that has programs attached."""
    out, seen = [], 0
    for dirpath, dirnames, _ in os.walk(root, onerror=None):
        dirnames.sort()
        seen += 1
        if seen > MAX_CGROUPS:
            raise LoaderError(f"more than {MAX_CGROUPS} cgroups under {root}", errno.E2BIG)
        try:
            progs = cgroup_programs(dirpath)
        except LoaderError:
            continue  # removed while we walked
        if progs:
            out.append({"cgroup": dirpath, "programs": progs})
    return out


def _row(p: dict) -> str:
    return f"    {p['id']:<8} {p['attach_type']:<15} {p['attach_flags']:<15} {p['name']}"


def _tree(args: argparse.Namespace) -> int:
    from pyebpf.loader.attach.cgroup import cgroup2_root

    tree = cgroup_tree(args.root or cgroup2_root())
    if args.json:
        print(json.dumps(tree))
        return 0
    print("CgroupPath\nID       AttachType      AttachFlags     Name")
    for entry in tree:
        print(entry["cgroup"])
        for p in entry["programs"]:
            print(_row(p))
    return 0


def _show(args: argparse.Namespace) -> int:
    progs = cgroup_programs(args.cgroup)
    if args.json:
        print(json.dumps(progs))
        return 0
    print("ID       AttachType      AttachFlags     Name")
    for p in progs:
        print(_row(p)[4:])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("cgroup", help="programs attached to cgroups (bpftool cgroup tree|show)",
                              description=__doc__)
    sub = p.add_subparsers(dest="cgroup_command", metavar="{tree,show}")
    sub.required = True
    tp = sub.add_parser("tree", help="every cgroup with programs attached")
    tp.add_argument("root", nargs="?", help="where to start (default: the cgroup v2 mount)")
    tp.add_argument("--json", action="store_true", help="JSON like `bpftool -j cgroup tree`")
    tp.set_defaults(func=_tree)
    sp = sub.add_parser("show", help="the programs of one cgroup")
    sp.add_argument("cgroup", metavar="CGROUP")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=_show)
