"""`pyebpf map list|show|dump`: the kernel's maps, in the spirit of `bpftool map`.

Maps are named by id (`5` or `id 5`), pinned path (`PATH` or `pinned PATH`) or `name NAME`. `dump` prints every
entry (keys and values as hex bytes, per-CPU values one per CPU), with `--json` as bpftool's `map dump --json`.
"""
from __future__ import annotations

import argparse
import json

from pyebpf.commands.source import object_id
from pyebpf.errors import LoaderError


def format_map(info) -> str:
    head = f"{info.id}: {info.type_name}  "
    if info.name:
        head += f"name {info.name}  "
    head += f"flags {info.map_flags:#x}"
    body = (f"\tkey {info.key_size}B  value {info.value_size}B  max_entries {info.max_entries}"
            f"  memlock {info.memlock}B")
    if info.frozen:
        body += "\n\tfrozen"
    return f"{head}\n{body}"


def open_map(spec: list[str]):
    """A KernelMap for the map named by `spec`."""
    from pyebpf.loader import syscall as sc
    from pyebpf.loader.info import map_infos
    from pyebpf.loader.maps import KernelMap
    from pyebpf.loader.pin import open_pinned_fd

    if not spec:
        raise LoaderError("name a map: ID, PATH, 'id N', 'pinned PATH' or 'name NAME'")
    kind, value = (spec[0], spec[1]) if len(spec) >= 2 else (None, spec[0])
    if kind is None:
        kind = "id" if object_id(value) is not None else "pinned"
    if kind == "id":
        if object_id(value) is None:
            raise LoaderError(f"bad map id {value!r}")
        return KernelMap.from_fd(sc.get_fd_by_id("map", object_id(value)))
    if kind == "pinned":
        handle, what = open_pinned_fd(value)
        if what != "map":
            handle.close()
            raise LoaderError(f"{value} is a pinned {what}, not a map")
        return KernelMap.from_fd(handle)
    if kind == "name":
        matches = [i.id for i in map_infos() if i.name == value]
        if not matches:
            raise LoaderError(f"no map named {value!r}")
        if len(matches) > 1:
            raise LoaderError(f"{len(matches)} maps are named {value!r} (ids {matches}); use an id")
        return KernelMap.from_fd(sc.get_fd_by_id("map", matches[0]))
    raise LoaderError(f"unknown map selector {kind!r} (use id, pinned or name)")


def _hex(raw: bytes) -> list[str]:
    return [f"{b:#04x}" for b in raw]


def _raw_entries(m):
    """(key bytes, value bytes) for every entry, with per-CPU values split per CPU."""
    from pyebpf.abi.maps import percpu_stride

    for key in m.keys_raw():
        value = m.lookup_raw(key)
        if value is None:
            continue  # deleted while we walked
        if m.spec.is_percpu:
            stride = percpu_stride(m.spec.value_size)
            yield key, [value[i * stride:i * stride + m.spec.value_size] for i in range(m.ncpus)]
        else:
            yield key, value


def _dump(args: argparse.Namespace) -> int:
    from pyebpf.abi.maps import MapType

    with open_map(args.target) as m:
        if m.spec.type in (MapType.QUEUE, MapType.STACK):
            raise LoaderError(f"{m.spec.type.name.lower()} maps have no keys to walk")
        entries = list(_raw_entries(m))
    if args.json:
        out = []
        for key, value in entries:
            if isinstance(value, list):
                out.append({"key": _hex(key), "values": [{"cpu": i, "value": _hex(v)} for i, v in enumerate(value)]})
            else:
                out.append({"key": _hex(key), "value": _hex(value)})
        print(json.dumps(out))
        return 0
    for key, value in entries:
        if isinstance(value, list):
            print(f"key: {key.hex(' ')}")
            for i, v in enumerate(value):
                print(f"\tvalue (CPU {i:02d}): {v.hex(' ')}")
        else:
            print(f"key: {key.hex(' ')}  value: {value.hex(' ')}")
    print(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from pyebpf.loader.info import map_infos

    infos = list(map_infos())
    if args.json:
        print(json.dumps([i.as_json() for i in infos]))
    else:
        for info in infos:
            print(format_map(info))
    return 0


def _show(args: argparse.Namespace) -> int:
    if not args.target:
        return _list(args)
    with open_map(args.target) as m:
        info = m.info()
    print(json.dumps(info.as_json()) if args.json else format_map(info))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("map", help="list, show and dump maps in the kernel", description=__doc__)
    sub = p.add_subparsers(dest="map_command", metavar="{list,show,dump}")
    sub.required = True
    lp = sub.add_parser("list", help="every map")
    lp.add_argument("--json", action="store_true", help="JSON like `bpftool map show --json`")
    lp.set_defaults(func=_list)
    sp = sub.add_parser("show", help="one map (all when no target)")
    sp.add_argument("target", nargs="*", help="ID | PATH | id N | pinned PATH | name NAME")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=_show)
    dp = sub.add_parser("dump", help="every entry of a map")
    dp.add_argument("target", nargs="+", help="ID | PATH | id N | pinned PATH | name NAME")
    dp.add_argument("--json", action="store_true")
    dp.set_defaults(func=_dump)
