"""`pyebpf map list|show|dump|lookup|update|delete|create|pin`: the kernel's maps, as `bpftool map` works them.

Maps are named by id (`5` or `id 5`), pinned path (`PATH` or `pinned PATH`) or `name NAME`. Keys and values are
given as bpftool takes them: `key [hex] BYTES` (`key 1 0 0 0`, `key hex 0a 00 00 00`), or, where the map has BTF,
typed: `key json '{"comm": "bash", "pid": 7}'`. `dump` and `lookup` print
keys and values as hex bytes (per-CPU values one per CPU) and, where the map has BTF, typed as bpftool's btf_dumper
prints them (a comm key as "bash", structs by member, enums by name): `--json` gives bpftool's `-j` output, with the
typed form under "formatted". `create FILE type TYPE key N value N entries N name NAME [flags F]` creates and pins.
"""
from __future__ import annotations

import argparse
import json

from pyebpf.commands.source import object_id
from pyebpf.errors import LoaderError, PyebpfError


def _owner(extra: dict[str, str]) -> tuple[str | None, bool | None]:
    """A prog array's owner program type and JIT state, from its fdinfo (None where the kernel says nothing)."""
    from pyebpf.abi.prog_types import ProgType

    owner_type = extra.get("owner_prog_type")
    if owner_type is not None:
        try:
            owner_type = ProgType(int(owner_type)).name.lower()
        except ValueError:
            pass  # a number bpftool has no name for: kept as the number
    jited = extra.get("owner_jited")
    return owner_type, (None if jited is None else jited.strip() not in ("", "0"))


def format_map(info, extra: dict[str, str] | None = None) -> str:
    """bpftool 7.1's plain `map show` layout (show_map_close_plain); `extra` is the map's fdinfo."""
    from pyebpf.abi.maps import MapType
    from pyebpf.commands.prog import type_word

    head = f"{info.id}: {type_word(info.type_name)}  "
    if info.name:
        head += f"name {info.name}  "
    head += f"flags {info.map_flags:#x}" if info.map_flags else "flags 0x0"
    body = f"\tkey {info.key_size}B  value {info.value_size}B  max_entries {info.max_entries}"
    if (extra is not None and "memlock" in extra) or (extra is None and info.memlock):  # 0B is printed too
        body += f"  memlock {info.memlock}B"
    if info.type == MapType.PROG_ARRAY and extra is not None:
        owner_type, jited = _owner(extra)
        if owner_type is not None and jited is not None:
            body += "\n\t"
        if owner_type is not None:
            body += f"owner_prog_type {type_word(owner_type)}  "
        if jited is not None:
            body += f"owner{'' if jited else ' not'} jited"
    lines = [head, body]
    if info.btf_id or info.frozen:
        tail = f"btf_id {info.btf_id}" if info.btf_id else ""
        if info.frozen:
            tail += "  frozen" if info.btf_id else "frozen"
        lines.append("\t" + tail)
    return "\n".join(lines)


def map_json(info, extra: dict[str, str] | None = None) -> dict:
    """bpftool 7.1's `map show --json` object."""
    from pyebpf.abi.maps import MapType

    out = info.as_json()
    if info.type == MapType.PROG_ARRAY and extra is not None:
        owner_type, jited = _owner(extra)
        if owner_type is not None:
            out["owner_prog_type"] = int(owner_type) if owner_type.isdigit() else owner_type
        if jited is not None:
            out["owner_jited"] = jited
    return out


def each_map():
    """(MapInfo, fdinfo) of every map alive, by id (one fd open at a time)."""
    import os

    from pyebpf.loader import syscall as sc
    from pyebpf.loader.info import fdinfo, map_info

    for map_id in sc.iter_ids("map"):
        try:
            fd = sc.get_fd_by_id("map", map_id)
        except LoaderError:
            continue  # freed between GET_NEXT_ID and GET_FD_BY_ID
        try:
            yield map_info(fd), fdinfo(fd)
        finally:
            os.close(fd)


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


class _Typed:
    """The map's BTF key and value types, when it has them (bpftool prints typed data only then)."""

    def __init__(self, m) -> None:
        self.btf = None
        self.key_id = self.value_id = 0
        info = m.info()
        if not info.btf_id or not info.btf_value_type_id:
            return
        from pyebpf.btf.spec import Btf
        from pyebpf.loader.info import btf_bytes

        try:
            self.btf = Btf.parse(btf_bytes(info.btf_id), f"BTF of map {info.id}", validate=False)
        except PyebpfError:
            return  # BTF we cannot read (split module BTF...): hex only, as bpftool without BTF
        self.key_id, self.value_id = info.btf_key_type_id, info.btf_value_type_id

    def key(self, raw: bytes):
        from pyebpf.btf.value import btf_value

        return btf_value(self.btf, self.key_id, raw) if self.key_id else int.from_bytes(raw, "little")

    def value(self, raw: bytes):
        from pyebpf.btf.value import btf_value

        return btf_value(self.btf, self.value_id, raw)

    def entry(self, key: bytes, value) -> dict:
        if isinstance(value, list):
            return {"key": self.key(key), "values": [{"cpu": i, "value": self.value(v)} for i, v in enumerate(value)]}
        return {"key": self.key(key), "value": self.value(value)}


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


def _hex_entry(key: bytes, value) -> dict:
    if isinstance(value, list):
        return {"key": _hex(key), "values": [{"cpu": i, "value": _hex(v)} for i, v in enumerate(value)]}
    return {"key": _hex(key), "value": _hex(value)}


def _print_entry(key: bytes, value) -> None:
    print(f"key: {key.hex(' ')}", end="")
    if isinstance(value, list):
        print()
        for i, v in enumerate(value):
            print(f"\tvalue (CPU {i:02d}): {v.hex(' ')}")
    else:
        print(f"  value: {value.hex(' ')}")


def _json_entry(typed: _Typed, key: bytes, value) -> dict:
    out = _hex_entry(key, value)
    if typed.btf is not None:
        out["formatted"] = typed.entry(key, value)
    return out


def _dump(args: argparse.Namespace) -> int:
    from pyebpf.abi.maps import MapType

    with open_map(args.target) as m:
        if m.spec.type in (MapType.QUEUE, MapType.STACK):
            raise LoaderError(f"{m.spec.type.name.lower()} maps have no keys to walk")
        entries = list(_raw_entries(m))
        typed = _Typed(m)
    if args.json:
        print(json.dumps([_json_entry(typed, k, v) for k, v in entries]))
        return 0
    if typed.btf is not None:
        print(json.dumps([typed.entry(k, v) for k, v in entries], indent=4))
        return 0
    for key, value in entries:
        _print_entry(key, value)
    print(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    return 0


# ---- bpftool's token syntax: MAP selectors, `key [hex] BYTES`, `value [hex] BYTES` -----------------------------

_SELECTORS = ("id", "pinned", "name")
_UPDATE_FLAGS = {"any": 0, "noexist": 1, "exist": 2}


def _split_map(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(MAP selector tokens, the rest)."""
    if not tokens:
        raise LoaderError("name a map: ID, PATH, 'id N', 'pinned PATH' or 'name NAME'")
    n = 2 if tokens[0] in _SELECTORS else 1
    if len(tokens) < n:
        raise LoaderError(f"{tokens[0]!r} needs a value")
    return tokens[:n], tokens[n:]


def parse_data(tokens: list[str], what: str, size: int, typed: "_Typed | None" = None
               ) -> tuple[bytes, list[str]]:
    """`[hex] BYTES` at the head of `tokens`, exactly `size` bytes (bpftool's parse_bytes), or `json TEXT` typed
    by the map's BTF (`key json '{"comm": "bash", "pid": 7}'`); returns the rest."""
    if tokens and tokens[0] == "json":
        return _parse_json(tokens[1:], what, typed), tokens[2:]
    hexmode = bool(tokens) and tokens[0] == "hex"
    rest = tokens[1:] if hexmode else list(tokens)
    out = bytearray()
    while rest and len(out) < size:
        tok = rest.pop(0)
        try:
            if hexmode:
                chunk = bytes.fromhex(tok.removeprefix("0x"))
            else:
                byte = int(tok, 0)
                if not 0 <= byte <= 255:
                    raise ValueError
                chunk = bytes([byte])
        except ValueError:
            raise LoaderError(f"{what}: {tok!r} is not a byte ({'hex digits' if hexmode else '0..255'})") from None
        out += chunk
    if len(out) != size:
        raise LoaderError(f"{what}: {len(out)} bytes given, the map's {what} is {size} bytes")
    return bytes(out), rest


def _parse_json(tokens: list[str], what: str, typed: "_Typed | None") -> bytes:
    from pyebpf.btf.value import btf_encode

    if not tokens:
        raise LoaderError(f"{what} json: the JSON text is missing")
    if typed is None or typed.btf is None or not (typed.key_id if what == "key" else typed.value_id):
        raise LoaderError(f"{what} json needs a map with BTF for its {what}; give bytes instead")
    try:
        value = json.loads(tokens[0])
    except ValueError as e:
        raise LoaderError(f"{what} json: {e}") from None
    return btf_encode(typed.btf, typed.key_id if what == "key" else typed.value_id, value)


def _keyword(tokens: list[str], word: str) -> list[str]:
    if not tokens or tokens[0] != word:
        raise LoaderError(f"expected '{word}', got {tokens[0]!r}" if tokens else f"expected '{word}'")
    return tokens[1:]


def _lookup(args: argparse.Namespace) -> int:
    selector, rest = _split_map(args.args)
    with open_map(selector) as m:
        typed = _Typed(m)
        key, rest = parse_data(_keyword(rest, "key"), "key", m.spec.key_size, typed)
        if rest:
            raise LoaderError(f"unexpected {rest[0]!r} after the key")
        raw = m.lookup_raw(key)
        value = raw
        if raw is not None and m.spec.is_percpu:
            value = next(v for k, v in _raw_entries_of(m, [key]))
    if value is None:
        if args.json:
            print("null")
        else:
            print(f"key: {key.hex(' ')}\n\nNot found")
        return 1
    if args.json:
        print(json.dumps(_json_entry(typed, key, value)))
    elif typed.btf is not None:
        print(json.dumps(typed.entry(key, value), indent=4))
    else:
        _print_entry(key, value)
    return 0


def _raw_entries_of(m, keys):
    from pyebpf.abi.maps import percpu_stride

    for key in keys:
        value = m.lookup_raw(key)
        stride = percpu_stride(m.spec.value_size)
        yield key, [value[i * stride:i * stride + m.spec.value_size] for i in range(m.ncpus)]


def _update(args: argparse.Namespace) -> int:
    selector, rest = _split_map(args.args)
    with open_map(selector) as m:
        typed = _Typed(m)
        key, rest = parse_data(_keyword(rest, "key"), "key", m.spec.key_size, typed)
        value, rest = parse_data(_keyword(rest, "value"), "value", m.spec.value_size, typed)
        flags = 0
        if rest:
            if rest[0] not in _UPDATE_FLAGS or len(rest) > 1:
                raise LoaderError(f"unexpected {' '.join(rest)!r} (flags: any, exist, noexist)")
            flags = _UPDATE_FLAGS[rest[0]]
        if m.spec.is_percpu:
            from pyebpf.abi.maps import percpu_stride

            value = value.ljust(percpu_stride(m.spec.value_size), b"\0") * m.ncpus  # bpftool: the same on every CPU
        m.update_raw(key, value, flags)
    if args.json:
        print("null")
    return 0


def _delete(args: argparse.Namespace) -> int:
    selector, rest = _split_map(args.args)
    with open_map(selector) as m:
        key, rest = parse_data(_keyword(rest, "key"), "key", m.spec.key_size, _Typed(m))
        if rest:
            raise LoaderError(f"unexpected {rest[0]!r} after the key")
        m.delete_raw(key)
    if args.json:
        print("null")
    return 0


def _pin(args: argparse.Namespace) -> int:
    from pyebpf.loader.pin import pin_fd

    with open_map(args.target[:-1]) as m:
        pin_fd(m.fd, args.target[-1])
    if args.json:
        print("null")
    return 0


def _create(args: argparse.Namespace) -> int:
    from pyebpf.abi.maps import MapSpec, MapType
    from pyebpf.loader.maps import create_map
    from pyebpf.loader.pin import pin_fd

    path, tokens = args.path, list(args.args)
    fields: dict[str, str] = {}
    while tokens:
        word = tokens.pop(0)
        if word not in ("type", "key", "value", "entries", "name", "flags") or not tokens:
            raise LoaderError(f"unexpected {word!r} (create FILE type TYPE key N value N entries N name NAME "
                              f"[flags F])")
        fields[word] = tokens.pop(0)
    missing = [w for w in ("type", "key", "value", "entries", "name") if w not in fields]
    if missing:
        raise LoaderError(f"map create needs {', '.join(missing)}")
    try:
        mtype = MapType[fields["type"].upper()]
    except KeyError:
        raise LoaderError(f"unknown map type {fields['type']!r}") from None
    try:
        sizes = [int(fields[w], 0) for w in ("key", "value", "entries")]
        flags = int(fields.get("flags", "0"), 0)
    except ValueError as e:
        raise LoaderError(f"map create: {e}") from None
    spec = MapSpec(fields["name"], mtype, sizes[0], sizes[1], sizes[2], flags)
    with create_map(spec) as m:
        pin_fd(m.fd, path)
    if args.json:
        print("null")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = list(each_map())
    if args.json:
        print(json.dumps([map_json(info, extra) for info, extra in rows]))
    else:
        for info, extra in rows:
            print(format_map(info, extra))
    return 0


def _show(args: argparse.Namespace) -> int:
    if not args.target:
        return _list(args)
    from pyebpf.loader.info import fdinfo

    with open_map(args.target) as m:
        info, extra = m.info(), fdinfo(m.fd)
    print(json.dumps(map_json(info, extra)) if args.json else format_map(info, extra))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("map", help="list, show, dump, look up, update, create and pin maps",
                              description=__doc__)
    sub = p.add_subparsers(dest="map_command", metavar="{list,show,dump,lookup,update,delete,create,pin}")
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
    for name, func, usage in (("lookup", _lookup, "MAP key [hex] BYTES"),
                              ("update", _update, "MAP key [hex] BYTES value [hex] BYTES [any|exist|noexist]"),
                              ("delete", _delete, "MAP key [hex] BYTES")):
        q = sub.add_parser(name, help=f"{name} an element: {usage}")
        q.add_argument("args", nargs=argparse.REMAINDER, metavar=usage)
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=func)
    pp = sub.add_parser("pin", help="pin a map: MAP FILE")
    pp.add_argument("target", nargs="+", metavar="MAP FILE")
    pp.add_argument("--json", action="store_true")
    pp.set_defaults(func=_pin)
    cp = sub.add_parser("create", help="create and pin a map: FILE type TYPE key N value N entries N name NAME")
    cp.add_argument("path", metavar="FILE")
    cp.add_argument("args", nargs=argparse.REMAINDER, metavar="type TYPE key N value N entries N name NAME [flags F]")
    cp.add_argument("--json", action="store_true")
    cp.set_defaults(func=_create)
