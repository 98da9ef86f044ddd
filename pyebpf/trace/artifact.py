"""A compiled bpftrace script as the run needs it, and nothing of the compiler: each probe's instructions (map
references by name), the maps (specs and the C layouts of their keys and values), the record layouts, and what the
printer needs (map declarations, records, probe names). It is what `pyebpf trace` runs, whether the script was just
compiled or read back from the cache (pyebpf.trace.cache), so both paths are one path.

`to_json()` / `from_json()` carry it through a file. Reading back checks every field's type and range and rebuilds
the ctypes layouts from a closed vocabulary (no code is run, no name looked up beyond a fixed table); anything else
raises BadArtifact and the script is compiled again. The kernel still verifies what is loaded.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from pyebpf.trace.probes import AttachTarget
from pyebpf.trace.types import Type

FORMAT = 1
MAX_INSNS = 1 << 20
MAX_ITEMS = 1 << 16
MAX_DEPTH = 8
#: the ctypes scalars a layout may name (what codegen and pyebpf.probe's maps use)
SCALARS = {t.__name__: t for t in (ctypes.c_int8, ctypes.c_uint8, ctypes.c_int16, ctypes.c_uint16, ctypes.c_int32,
                                     ctypes.c_uint32, ctypes.c_int64, ctypes.c_uint64, ctypes.c_char)}
MAP_KINDS = frozenset({"", "count", "sum", "avg", "min", "max", "stats", "hist", "lhist", "value"})
TYPE_KINDS = frozenset({"int", "str", "probe", "func", "kstack", "ustack", "ksym", "usym", "inet", "buf", "mac",
                        "tuple", "strftime", "ptr", "lit"})
ACTIONS = frozenset({"printf", "exit", "print", "clear", "zero", "time", "value", "join_part", "join_end", "cat",
                     "system"})
TARGET_KINDS = frozenset({"BEGIN", "END", "tracepoint", "rawtracepoint", "uprobe", "uretprobe", "usdt", "interval",
                          "profile", "software", "hardware"})
PERF_KEYS = {"event": str, "freq": int, "period": int, "cpus": list}
#: aggregations whose per-CPU parts add up: per-CPU hashes, no atomics on the hot path (bpftrace does the same)
PERCPU_KINDS = frozenset({"count", "sum", "avg", "stats", "hist", "lhist"})


class BadArtifact(ValueError):
    """A stored artifact that is not what this version writes (damaged, foreign or stale): compile again."""


@dataclass
class MapDecl:
    """One bpftrace map of the script: what it aggregates and how it is printed."""

    name: str
    kind: str = ""  # count sum avg min max stats hist lhist value
    keys: list[Type] | None = None
    value: Type = field(default_factory=lambda: Type("int"))
    lhist: tuple[int, int, int] | None = None
    py: str = ""
    int_assigned: bool = False

    @property
    def bucketed(self) -> bool:
        return self.kind in ("hist", "lhist")

    @property
    def percpu(self) -> bool:
        return self.kind in PERCPU_KINDS


@dataclass
class Record:
    """One async action: printf (fmt, arg types), exit, print/clear/zero (a map), time (fmt), value (print of a
    value), join (part / end), cat (file name)."""

    id: int
    action: str
    fmt: str = ""
    types: list[Type] = field(default_factory=list)
    map: str = ""
    literals: dict[int, str] = field(default_factory=dict)
    top: int = 0
    div: int = 0


@dataclass
class ProgramImage:
    """One probe's program: instructions as (opcode, dst, src, off, imm, ref) with map references by name; the
    maps only it uses (its .rodata, with `consts`: load-time values' offsets in it)."""

    fname: str
    target: AttachTarget
    insns: list[tuple[int, int, int, int, int, str | None]]
    prog_type: int
    name: str
    license: str = "GPL"
    section: str = ""
    attach_to: str | None = None
    expected_attach_type: int | None = None
    private: dict[str, Any] = field(default_factory=dict)  # map name -> MapSpec (its own .rodata)
    consts: dict[str, list[int]] = field(default_factory=dict)  # name -> offsets in .rodata


@dataclass
class Artifact:
    """A compiled script as the cache stores it: maps, record layouts and programs, loadable without the
    compiler."""

    maps: dict[str, MapDecl]  # bpftrace map name -> declaration
    records: dict[int, Record]
    programs: list[ProgramImage]
    probe_names: list[str]
    strings: list[str]
    stacks: bool
    shared: dict[str, Any]  # kernel map name -> MapSpec, shared by the programs
    globals: dict[str, str]  # generated module's name (EVENTS, STACKS, m0...) -> kernel map name
    classes: dict[str, Any]  # record classes R<id> -> ctypes Structure

    @property
    def targets(self) -> list[tuple[str, AttachTarget]]:
        return [(p.fname, p.target) for p in self.programs]

    def program(self, i: int, consts: dict[str, int]) -> Any:
        """Program `i` as pyebpf.isa's Program, its load-time values (`consts`) written into its .rodata."""
        from dataclasses import replace

        from pyebpf.isa.instruction import Instruction
        from pyebpf.isa.program import Program

        p = self.programs[i]
        maps = dict(self.shared)
        for name, spec in p.private.items():
            if spec.initial is not None and p.consts:
                data = bytearray(spec.initial)
                for cname, offsets in p.consts.items():
                    if cname not in consts:
                        raise BadArtifact(f"no value for load-time constant {cname!r}")
                    for off in offsets:
                        data[off:off + 8] = (consts[cname] & (2 ** 64 - 1)).to_bytes(8, "little")
                spec = replace(spec, initial=bytes(data))
            maps[name] = spec
        used = {i[5] for i in p.insns if i[5] is not None}
        return Program([Instruction(*i) for i in p.insns], {n: s for n, s in maps.items() if n in used},
                       p.prog_type, p.license, p.name, expected_attach_type=p.expected_attach_type,
                       attach_to=p.attach_to, section=p.section)

    # -- to JSON ----------------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "maps": {n: _decl_out(d) for n, d in self.maps.items()},
            "records": [_record_out(r) for r in self.records.values()],
            "programs": [_program_out(p) for p in self.programs],
            "probe_names": list(self.probe_names), "strings": list(self.strings), "stacks": bool(self.stacks),
            "shared": {n: _spec_out(s) for n, s in self.shared.items()},
            "globals": dict(self.globals),
            "classes": {n: layout(c) for n, c in self.classes.items()},
        }

    @classmethod
    def from_json(cls, obj: Any) -> "Artifact":
        """The artifact `to_json()` wrote, every field checked (BadArtifact otherwise)."""
        try:
            return _artifact_in(obj)
        except BadArtifact:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError) as e:
            raise BadArtifact(f"malformed: {e}") from None


# -- ctypes layouts --------------------------------------------------------------------------------------------------
def layout(t: Any, depth: int = 0) -> Any:
    """A ctypes type as JSON: a scalar's name, ["array", elem, n], ["struct", name, [[field, layout]...], size]."""
    if depth > MAX_DEPTH:
        raise BadArtifact("layout nested too deep")
    if t is None:
        return None
    if isinstance(t, type) and issubclass(t, ctypes._SimpleCData):
        for name, s in SCALARS.items():
            if ctypes.sizeof(s) == ctypes.sizeof(t) and s._type_ == t._type_:
                return name
        for name, s in SCALARS.items():  # c_long and c_int64 are one type on LP64, c_ulong and c_uint64 too
            if ctypes.sizeof(s) == ctypes.sizeof(t) and _signed(s) == _signed(t) and s is not ctypes.c_char \
                    and t._type_ != "c":
                return name
        raise BadArtifact(f"no layout for {t!r}")
    if isinstance(t, type) and issubclass(t, ctypes.Array):
        return ["array", layout(t._type_, depth + 1), t._length_]
    if isinstance(t, type) and issubclass(t, ctypes.Structure):
        if getattr(t, "_pack_", 0) or any(len(f) != 2 for f in t._fields_):
            raise BadArtifact(f"no layout for packed or bit-field structure {t.__name__}")
        return ["struct", t.__name__, [[f[0], layout(f[1], depth + 1)] for f in t._fields_], ctypes.sizeof(t)]
    raise BadArtifact(f"no layout for {t!r}")


def _signed(t: Any) -> bool:
    return t._type_.islower() if t._type_ not in ("c",) else True


def ctype_of(obj: Any, memo: dict[str, Any], depth: int = 0) -> Any:
    """The ctypes type a layout describes (structures of one name made once per artifact)."""
    if depth > MAX_DEPTH:
        raise BadArtifact("layout nested too deep")
    if obj is None:
        return None
    if isinstance(obj, str):
        if obj not in SCALARS:
            raise BadArtifact(f"unknown scalar {obj!r}")
        return SCALARS[obj]
    if not isinstance(obj, list) or not obj:
        raise BadArtifact("bad layout")
    if obj[0] == "array" and len(obj) == 3:
        n = _int(obj[2], 1, MAX_ITEMS)
        return ctype_of(obj[1], memo, depth + 1) * n
    if obj[0] == "struct" and len(obj) == 4:
        name, fields, size = _ident(obj[1]), obj[2], _int(obj[3], 0, MAX_ITEMS)
        if name in memo:
            return memo[name]
        if not isinstance(fields, list) or len(fields) > 256:
            raise BadArtifact("bad structure fields")
        fl = []
        for f in fields:
            if not isinstance(f, list) or len(f) != 2:
                raise BadArtifact("bad structure field")
            fl.append((_ident(f[0]), ctype_of(f[1], memo, depth + 1)))
        cls = type(name, (ctypes.Structure,), {"_fields_": fl})
        if ctypes.sizeof(cls) != size:
            raise BadArtifact(f"structure {name}: {ctypes.sizeof(cls)} bytes, stored {size}")
        memo[name] = cls
        return cls
    raise BadArtifact("bad layout")


# -- checked readers ---------------------------------------------------------------------------------------------
def _int(v: Any, lo: int, hi: int) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise BadArtifact(f"integer out of range: {v!r}")
    return v


def _str(v: Any, limit: int = 1 << 16) -> str:
    if type(v) is not str or len(v) > limit:
        raise BadArtifact("bad string")
    return v


def _ident(v: Any) -> str:
    if type(v) is not str or not v.isidentifier() or len(v) > 128:
        raise BadArtifact(f"bad name {v!r}")
    return v


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise BadArtifact("bad flag")
    return v


def _list(v: Any, limit: int = MAX_ITEMS) -> list[Any]:
    if type(v) is not list or len(v) > limit:
        raise BadArtifact("bad list")
    return v


def _dict(v: Any, limit: int = MAX_ITEMS) -> dict[str, Any]:
    if type(v) is not dict or len(v) > limit:
        raise BadArtifact("bad table")
    return v


I64 = (-(1 << 63), (1 << 64) - 1)


def _type_out(t: Type) -> list[Any]:
    return [t.kind, t.size, [_type_out(e) for e in t.elems], t.fmt, t.btf, t.user]


def _type_in(v: Any, depth: int = 0) -> Type:
    if depth > MAX_DEPTH:
        raise BadArtifact("type nested too deep")
    kind, size, elems, fmt, btf, user = _list(v, 6)
    if kind not in TYPE_KINDS:
        raise BadArtifact(f"unknown value type {kind!r}")
    return Type(kind, _int(size, 0, 1 << 20), tuple(_type_in(e, depth + 1) for e in _list(elems, 64)), _str(fmt),
                _int(btf, 0, 1 << 32), _bool(user))


def _decl_out(d: MapDecl) -> list[Any]:
    return [d.name, d.kind, None if d.keys is None else [_type_out(k) for k in d.keys], _type_out(d.value),
            None if d.lhist is None else list(d.lhist), d.py, d.int_assigned]


def _decl_in(v: Any) -> MapDecl:
    name, kind, keys, value, lhist, py, int_assigned = _list(v, 7)
    if kind not in MAP_KINDS:
        raise BadArtifact(f"unknown map kind {kind!r}")
    return MapDecl(_str(name, 256), kind, None if keys is None else [_type_in(k) for k in _list(keys, 64)],
                   _type_in(value), None if lhist is None else tuple(_int(x, *I64) for x in _list(lhist, 3)),
                   _ident(py), _bool(int_assigned))


def _record_out(r: Record) -> list[Any]:
    return [r.id, r.action, r.fmt, [_type_out(t) for t in r.types], r.map, [[k, s] for k, s in r.literals.items()],
            r.top, r.div]


def _record_in(v: Any) -> Record:
    rid, action, fmt, types, map_, literals, top, div = _list(v, 8)
    if action not in ACTIONS:
        raise BadArtifact(f"unknown record action {action!r}")
    lits = {}
    for item in _list(literals, 256):
        k, s = _list(item, 2)
        lits[_int(k, 0, 256)] = _str(s)
    return Record(_int(rid, 0, MAX_ITEMS), action, _str(fmt), [_type_in(t) for t in _list(types, 256)],
                  _str(map_, 256), lits, _int(top, *I64), _int(div, *I64))


def _target_out(t: AttachTarget) -> dict[str, Any]:
    return {"kind": t.kind, "section": t.section, "name": t.name, "category": t.category, "event": t.event,
            "binary": t.binary, "symbol": t.symbol, "offset": t.offset, "perf": dict(t.perf),
            "semaphore": t.semaphore}


def _target_in(v: Any) -> AttachTarget:
    v = _dict(v, 16)
    if v["kind"] not in TARGET_KINDS:
        raise BadArtifact(f"unknown probe kind {v['kind']!r}")
    perf = {}
    for k, x in _dict(v["perf"], 8).items():
        if k not in PERF_KEYS or type(x) is not PERF_KEYS[k]:
            raise BadArtifact(f"bad perf event field {k!r}")
        perf[k] = [_int(c, 0, 1 << 16) for c in _list(x, 4096)] if k == "cpus" else \
            (_int(x, 0, 1 << 62) if type(x) is int else _str(x, 64))
    return AttachTarget(v["kind"], _str(v["section"], 4096), _str(v["name"], 4096), _str(v["category"], 256),
                        _str(v["event"], 256), _str(v["binary"], 4096), _str(v["symbol"], 4096),
                        _int(v["offset"], 0, 1 << 62), perf=perf, semaphore=_int(v["semaphore"], 0, 1 << 62))


def _spec_out(s: Any) -> dict[str, Any]:
    return {"name": s.name, "type": int(s.type), "key_size": s.key_size, "value_size": s.value_size,
            "max_entries": s.max_entries, "flags": int(s.flags), "key": layout(s.key_type),
            "value": layout(s.value_type), "initial": None if s.initial is None else s.initial.hex()}


def _spec_in(v: Any, memo: dict[str, Any]) -> Any:
    from pyebpf.abi.maps import MapSpec, MapType

    v = _dict(v, 16)
    try:
        mtype = MapType(_int(v["type"], 0, 1 << 16))
    except ValueError:
        raise BadArtifact("unknown map type") from None
    key, value = ctype_of(v["key"], memo), ctype_of(v["value"], memo)
    key_size, value_size = _int(v["key_size"], 0, 1 << 16), _int(v["value_size"], 0, 1 << 20)
    if (key is not None and ctypes.sizeof(key) != key_size) or (value is not None and
                                                               ctypes.sizeof(value) != value_size):
        raise BadArtifact("map layout and sizes disagree")
    initial = None if v["initial"] is None else bytes.fromhex(_str(v["initial"], 1 << 21))
    return MapSpec(_str(v["name"], 64), mtype, key_size, value_size, _int(v["max_entries"], 0, 1 << 24),
                   _int(v["flags"], 0, 1 << 32), key, value, initial=initial)


def _program_out(p: ProgramImage) -> dict[str, Any]:
    return {"fname": p.fname, "target": _target_out(p.target), "insns": [list(i) for i in p.insns],
            "prog_type": p.prog_type, "name": p.name, "license": p.license, "section": p.section,
            "attach_to": p.attach_to, "expected_attach_type": p.expected_attach_type,
            "private": {n: _spec_out(s) for n, s in p.private.items()},
            "consts": {n: list(o) for n, o in p.consts.items()}}


def _insn_in(v: Any) -> tuple[int, int, int, int, int, str | None]:
    op, dst, src, off, imm, ref = _list(v, 6)
    return (_int(op, 0, 255), _int(dst, 0, 15), _int(src, 0, 15), _int(off, -(1 << 15), (1 << 15) - 1),
            _int(imm, *I64), None if ref is None else _str(ref, 64))


def _program_in(v: Any, memo: dict[str, Any]) -> ProgramImage:
    v = _dict(v, 16)
    eat = v["expected_attach_type"]
    private = {_str(n, 64): _spec_in(s, memo) for n, s in _dict(v["private"], 16).items()}
    consts = {}
    for n, offs in _dict(v["consts"], 16).items():
        size = max((len(s.initial or b"") for s in private.values()), default=0)
        consts[_ident(n)] = [_int(o, 0, max(size - 8, 0)) for o in _list(offs, 256)]
    return ProgramImage(_ident(v["fname"]), _target_in(v["target"]),
                        [_insn_in(i) for i in _list(v["insns"], MAX_INSNS)], _int(v["prog_type"], 0, 1 << 16),
                        _str(v["name"], 64), _str(v["license"], 128), _str(v["section"], 4096),
                        None if v["attach_to"] is None else _str(v["attach_to"], 4096),
                        None if eat is None else _int(eat, 0, 1 << 16), private, consts)


def _artifact_in(obj: Any) -> Artifact:
    obj = _dict(obj, 16)
    memo: dict[str, Any] = {}
    classes = {_ident(n): ctype_of(c, memo) for n, c in _dict(obj["classes"]).items()}
    shared = {_str(n, 64): _spec_in(s, memo) for n, s in _dict(obj["shared"], 4096).items()}
    programs = [_program_in(p, memo) for p in _list(obj["programs"], 4096)]
    records = [_record_in(r) for r in _list(obj["records"])]
    maps = {_str(n, 256): _decl_in(d) for n, d in _dict(obj["maps"], 4096).items()}
    globals_ = {_ident(n): _str(m, 64) for n, m in _dict(obj["globals"], 4096).items()}
    for decl in maps.values():
        if globals_.get(decl.py) not in shared:
            raise BadArtifact(f"map {decl.name} has no kernel map")
    for r in records:
        if r.types and f"R{r.id}" not in classes:
            raise BadArtifact(f"record {r.id} has no layout")
    if "EVENTS" not in globals_ or globals_["EVENTS"] not in shared:
        raise BadArtifact("no event ring buffer")
    from pyebpf.abi.maps import MapType

    lost = shared.get(globals_.get("LOST", ""))
    if lost is None or lost.type != MapType.PERCPU_ARRAY or lost.value_size != 8 or lost.max_entries < 1:
        raise BadArtifact("no lost-record counter (a per-CPU array of u64)")
    return Artifact(maps, {r.id: r for r in records}, programs, [_str(s, 4096) for s in _list(obj["probe_names"])],
                    [_str(s, 4096) for s in _list(obj["strings"])], _bool(obj["stacks"]), shared, globals_, classes)


def from_compiled(translation: Any, module: Any, probes: dict[str, Any]) -> Artifact:
    """The artifact of a freshly compiled script (the generated module's probes, maps and record classes)."""
    from pyebpf.compiler.memread import load_time_tag

    shared: dict[str, Any] = {}
    programs = []
    for fname, target in translation.targets:
        prog = probes[fname].program
        own = set(probes[fname].compiled.maps)
        private = {}
        for name, spec in prog.maps.items():
            (shared if name in own else private)[name] = spec
        consts: dict[str, list[int]] = {}
        for name, spec in private.items():
            data = spec.initial or b""
            for cname in ("cpid", "start"):
                tag = load_time_tag(cname)
                consts_at = [off + 8 for off in range(0, len(data) - 15, 8) if data[off:off + 8] == tag]
                if consts_at:
                    consts[cname] = consts_at
        eat = prog.expected_attach_type
        programs.append(ProgramImage(fname, target, [tuple(i) for i in prog.instructions], int(prog.prog_type),
                                     prog.name, prog.license, prog.section, prog.attach_to,
                                     None if eat is None else int(eat), private, consts))
    glob = {}
    for n, v in vars(module).items():  # every map the module declares (one no program writes still prints, empty)
        if hasattr(v, "__probe_map__") and v.name:
            glob[n] = v.name
            shared.setdefault(v.name, v.spec)
    classes = {f"R{rid}": getattr(module, f"R{rid}") for rid, r in translation.records.items() if r.types}
    return Artifact(translation.maps, translation.records, programs, translation.probe_names, translation.strings,
                    translation.stacks, shared, glob, classes)


__all__ = ["Artifact", "ProgramImage", "MapDecl", "Record", "BadArtifact", "from_compiled", "layout", "ctype_of"]
