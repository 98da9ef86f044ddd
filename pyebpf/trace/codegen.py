"""Semantic analysis of a bpftrace script and its translation to a Python probe module for pyebpf.compiler.

The script is checked here (unknown functions, builtins and fields, map kinds mixed, wrong argument counts: each a
TraceError at its position, as bpftrace reports it); what passes becomes one `@probe` function per attach point
(wildcards expanded), compiled by the same front end, IR, register allocator and lowering as Python probes. Maps
get C layouts (ctypes keys with one field per key element, a bucket field for hist/lhist); printf, exit, print,
clear, zero and time become records on one ring buffer that user space formats (as bpftrace does with perf
events).
"""
from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass, field
from typing import Any

from pyebpf.trace import ast as A
from pyebpf.trace.errors import Source, TraceError
from pyebpf.trace.output import printf_specs

STRLEN = 64  # bpftrace's default string size (BPFTRACE_STRLEN)
COMM_LEN = 16
MAX_MAP_ENTRIES = 4096  # bpftrace 0.17's default map size
AGGREGATES = {"count": 0, "sum": 1, "avg": 1, "min": 1, "max": 1, "stats": 1, "hist": 1, "lhist": 4}
ASYNC = {"printf", "exit", "print", "clear", "zero", "time"}
INT_BUILTINS = {"pid": "pid()", "tid": "tid()", "uid": "uid()", "gid": "gid()", "nsecs": "ktime_ns()",
                "cpu": "cpu()", "cgroup": "cgroup_id()", "curtask": "current_task()", "rand": "random()"}
UNSUPPORTED_BUILTINS = {"kstack", "ustack", "func", "username", "numaid"} | {f"arg{i}" for i in range(10)}
UNSUPPORTED_FUNCS = {"buf", "ksym", "usym", "kaddr", "uaddr", "ntop", "join", "cat", "signal", "strftime", "system",
                     "reg", "sizeof", "cgroupid", "macaddr", "override", "strncmp", "path", "kptr", "uptr",
                     "skboutput", "strcontains"}


@dataclass(frozen=True)
class Type:
    kind: str  # int / str / probe
    size: int = 8

    def ctype(self) -> str:
        return "ctypes.c_int64" if self.kind != "str" else f"(ctypes.c_char * {self.size})"


INT = Type("int")


@dataclass
class MapDecl:
    name: str
    kind: str = ""  # count sum avg min max stats hist lhist value
    keys: list[Type] | None = None
    value: Type = INT
    lhist: tuple[int, int, int] | None = None
    py: str = ""

    @property
    def bucketed(self) -> bool:
        return self.kind in ("hist", "lhist")


@dataclass
class Record:
    """One async action: printf (fmt, arg types), exit, print/clear/zero (a map), time (fmt)."""

    id: int
    action: str
    fmt: str = ""
    types: list[Type] = field(default_factory=list)
    map: str = ""
    literals: dict[int, str] = field(default_factory=dict)


@dataclass
class AttachTarget:
    kind: str  # BEGIN END tracepoint rawtracepoint
    section: str
    name: str  # the probe's full name (what `probe` prints)
    category: str = ""
    event: str = ""


@dataclass
class Translation:
    module: str
    maps: dict[str, MapDecl]
    records: dict[int, Record]
    targets: list[tuple[str, AttachTarget]]  # (python function name, target)
    probe_names: list[str]
    strings: list[str]


PROBE_ALIASES = {"t": "tracepoint", "rawtracepoint": "rawtracepoint", "rt": "rawtracepoint", "k": "kprobe",
                 "kr": "kretprobe", "u": "uprobe", "ur": "uretprobe", "i": "interval", "p": "profile",
                 "s": "software", "h": "hardware", "U": "usdt", "f": "kfunc", "fr": "kretfunc"}


def tracepoint_events() -> list[tuple[str, str]]:
    from pyebpf.system.tracefs import tracefs_path

    root = tracefs_path("events")
    out = []
    for cat in sorted(os.listdir(root)):
        d = os.path.join(root, cat)
        if not os.path.isdir(d):
            continue
        for ev in sorted(os.listdir(d)):
            if os.path.isfile(os.path.join(d, ev, "format")):
                out.append((cat, ev))
    return out


def expand(src: Source, ap: A.AttachPoint, events: Any) -> list[AttachTarget]:
    text = ap.text
    if text in ("BEGIN", "END"):
        return [AttachTarget(text, "raw_tp/sys_enter", text)]
    kind, _, rest = text.partition(":")
    kind = PROBE_ALIASES.get(kind, kind)
    if kind == "tracepoint":
        cat, _, name = rest.partition(":")
        if not cat or not name or ":" in name:
            raise src.error(f"Invalid attach point definition: {text}" if rest else
                            "tracepoint probe type requires 2 arguments", ap.pos, ap.end)
        if any(c in rest for c in "*?[") :
            found = [AttachTarget("tracepoint", f"tracepoint/{c}/{n}", f"tracepoint:{c}:{n}", c, n)
                     for c, n in events() if fnmatch.fnmatchcase(c, cat) and fnmatch.fnmatchcase(n, name)]
            if not found:
                raise src.error(f"No probes found for tracepoint:{rest}" if False else
                                f"tracepoints not found: {rest}", ap.pos, ap.end)
            return found
        from pyebpf.system.tracefs import tracepoint_exists

        if not tracepoint_exists(cat, name):
            raise src.error(f"tracepoint not found: {cat}:{name}", ap.pos, ap.end)
        return [AttachTarget("tracepoint", f"tracepoint/{cat}/{name}", f"tracepoint:{cat}:{name}", cat, name)]
    if kind in ("kprobe", "kretprobe", "kfunc", "kretfunc"):
        raise src.error(f"{kind} probes are not available on this kernel (no kprobe or fentry support here): "
                        f"{text}", ap.pos, ap.end)
    if kind in ("uprobe", "uretprobe", "usdt", "interval", "profile", "software", "hardware", "watchpoint",
                "asyncwatchpoint", "rawtracepoint", "iter"):
        raise src.error(f"{kind} probes are not supported by pyebpf trace yet: {text}", ap.pos, ap.end)
    raise src.error(f"Invalid probe type: {kind}" if rest else f"Invalid attach point definition: {text}",
                    ap.pos, ap.end)


class Translator:
    def __init__(self, program: A.Program, src: Source, *, events: Any = tracepoint_events,
                 fields: Any = None):
        self.prog = program
        self.src = src
        self.events = events
        self.fields_of = fields or _system_fields
        self.maps: dict[str, MapDecl] = {}
        self.records: dict[int, Record] = {}
        self.strings: list[str] = []
        self.probe_names: list[str] = []
        self.out: list[str] = []
        self.structs: list[str] = []
        self.tmp = 0
        self.target: AttachTarget | None = None
        self.vars: dict[str, Type] = {}

    def err(self, node: A.Node, message: str) -> TraceError:
        return self.src.error(message, node.pos, node.end)

    # -- driver ---------------------------------------------------------------------------------------------------
    def translate(self) -> Translation:
        expanded: list[tuple[A.Probe, AttachTarget]] = []
        for p in self.prog.probes:
            for ap in p.points:
                for t in expand(self.src, ap, self.events):
                    expanded.append((p, t))
        # pass 1: map kinds and key types (a map used before its aggregate is known still gets the right layout)
        for p, t in expanded:
            self.target = t
            self.vars = {}
            self._scan(p.body)
        targets = []
        bodies: list[str] = []
        for i, (p, t) in enumerate(expanded):
            self.target = t
            self.vars = {}
            self.probe_names.append(t.name)
            fname = f"p{i}_{t.kind.lower()}"
            self.out = [f"@probe({t.section!r}, name={('b' + fname)[:15]!r})", f"def {fname}(ctx):"]
            if p.pred is not None:
                cond = self.int_expr(p.pred, 1)
                self.out.append(f"    if ({cond}) == 0:")
                self.out.append("        return 0")
            self.block(p.body, 1)
            self.out.append("    return 0")
            bodies.append("\n".join(self.out))
            targets.append((fname, t))
        head = ["import ctypes", "from pyebpf.probe import *", "from pyebpf.probe import RingBuf, HashMap", ""]
        decls = ["EVENTS = RingBuf(None, size=1 << 20, name='trace_events')"]
        for m in self.maps.values():
            decls.append(self._map_decl(m))
        module = "\n".join(head + self.structs + [""] + decls + ["", ""] + bodies) + "\n"
        return Translation(module, self.maps, self.records, targets, self.probe_names, self.strings)

    # -- pass 1 ---------------------------------------------------------------------------------------------------
    def _scan(self, stmts: list[A.Node]) -> None:
        for s in stmts:
            if isinstance(s, A.Assign) and isinstance(s.target, A.MapRef):
                m = self._map(s.target)
                if s.op == "=" and isinstance(s.value, A.Call) and s.value.name in AGGREGATES:
                    self._set_kind(m, s.value.name, s.value)
                    if s.value.name == "lhist":
                        self._set_lhist(m, s.value)
                else:
                    if s.op == "=" and s.value is not None:
                        t = self.type_of(s.value)
                        if t.kind == "str":
                            self._set_kind(m, "value", s)
                            m.value = t
                    if not m.kind and s.op != "=":
                        m.kind = "value"
                    elif not m.kind:
                        m.kind = "value"
            elif isinstance(s, A.Assign) and isinstance(s.target, A.Var) and s.value is not None:
                if s.target.name not in self.vars:
                    self.vars[s.target.name] = self.type_of(s.value)
            elif isinstance(s, A.If):
                self._scan(s.then)
                self._scan(s.orelse)
            elif isinstance(s, (A.Unroll, A.While)):
                self._scan(s.body)

    def _set_kind(self, m: MapDecl, kind: str, node: A.Node) -> None:
        if m.kind and m.kind != kind and not (m.kind == "value" and kind == "value"):
            if {m.kind, kind} <= {"count", "sum", "value"} and "value" in (m.kind, kind):
                m.kind = kind if kind != "value" else m.kind
                return
            raise self.err(node, f"Type mismatch for {m.name}: trying to assign value of type '{kind}' when map "
                                 f"already contains a value of type '{m.kind}'")
        m.kind = kind

    def _set_lhist(self, m: MapDecl, call: A.Call) -> None:
        if len(call.args) != 4:
            raise self.err(call, "lhist() requires 4 arguments (1 provided)".replace(
                "1", str(len(call.args)), 1))
        consts = []
        for a in call.args[1:]:
            v = _const(a)
            if v is None:
                raise self.err(a, "lhist: invalid min/max/step value (must be an integer literal)")
            consts.append(v)
        lo, hi, step = consts
        if step <= 0:
            raise self.err(call, "lhist() step must be >= 1 (0 provided)".replace("0", str(step), 1))
        if lo < 0:
            raise self.err(call, "lhist() min must be non-negative (provided min %d)" % lo)
        if lo > hi:
            raise self.err(call, "lhist() min must be less than max (provided min %d and max %d)" % (lo, hi))
        if (hi - lo) // step > 1000:
            raise self.err(call, "lhist() too many buckets, must be <= 1000 (would need %d)" % ((hi - lo) // step))
        if m.lhist is not None and m.lhist != (lo, hi, step):
            raise self.err(call, f"Different lhist bounds in a single map unsupported")
        m.lhist = (lo, hi, step)

    def _map(self, ref: A.MapRef) -> MapDecl:
        m = self.maps.get(ref.name)
        keys = [self._key_type(k) for k in ref.keys]
        if m is None:
            m = self.maps[ref.name] = MapDecl(ref.name, keys=keys, py=f"m{len(self.maps)}")
        elif m.keys is None:
            m.keys = keys
        elif len(m.keys) != len(keys):
            raise self.err(ref, f"Argument mismatch for {ref.name}: trying to access with arguments: "
                                f"{_types_text(keys)} when map expects arguments: {_types_text(m.keys)}")
        else:
            merged = []
            for a, b in zip(m.keys, keys):
                if a.kind != b.kind:
                    raise self.err(ref, f"Argument mismatch for {ref.name}: trying to access with arguments: "
                                        f"{_types_text(keys)} when map expects arguments: {_types_text(m.keys)}")
                merged.append(a if a.size >= b.size else b)
            m.keys = merged
        return m

    def _key_type(self, k: A.Node) -> Type:
        return self.type_of(k)

    # -- types ----------------------------------------------------------------------------------------------------
    def type_of(self, e: A.Node) -> Type:
        if isinstance(e, A.Str):
            return Type("str", STRLEN)
        if isinstance(e, A.Builtin):
            if e.name == "comm":
                return Type("str", COMM_LEN)
            if e.name == "probe":
                return Type("probe")
            return INT
        if isinstance(e, A.Call):
            if e.name == "str":
                n = _const(e.args[1]) if len(e.args) > 1 else STRLEN
                return Type("str", min(max(n or STRLEN, 1), STRLEN) if n else STRLEN)
            return INT
        if isinstance(e, A.Var):
            return self.vars.get(e.name, INT)
        if isinstance(e, A.Ternary):
            return self.type_of(e.then)
        if isinstance(e, A.MapRef) and e.name in self.maps:
            return self.maps[e.name].value
        return INT

    # -- declarations ---------------------------------------------------------------------------------------------
    def _struct(self, name: str, fields: list[tuple[str, Type]]) -> None:
        body = ", ".join(f"({f!r}, {t.ctype()})" for f, t in fields)
        self.structs.append(f"class {name}(ctypes.Structure):\n    _fields_ = [{body}]\n")

    def _map_decl(self, m: MapDecl) -> str:
        keys = [("k%d" % i, t) for i, t in enumerate(m.keys or [])]
        if m.bucketed:
            keys.append(("bucket", INT))
        if not keys:
            keys = [("k0", INT)]
        self._struct(f"K_{m.py}", keys)
        if m.kind in ("avg", "stats"):
            self._struct(f"V_{m.py}", [("total", INT), ("count", INT)])
            value = f"V_{m.py}"
        elif m.value.kind == "str":
            self._struct(f"V_{m.py}", [("s", m.value)])
            value = f"V_{m.py}"
        else:
            value = "s64"
        return f"{m.py} = HashMap(K_{m.py}, {value}, max_entries={MAX_MAP_ENTRIES}, name={('AT_' + m.py)!r})"

    # -- statements -----------------------------------------------------------------------------------------------
    def emit(self, depth: int, line: str) -> None:
        self.out.append("    " * depth + line)

    def block(self, stmts: list[A.Node], depth: int) -> None:
        start = len(self.out)
        for s in stmts:
            self.statement(s, depth)
        if len(self.out) == start:
            self.emit(depth, "pass")

    def fresh(self, hint: str = "t") -> str:
        self.tmp += 1
        return f"_{hint}{self.tmp}"

    def statement(self, s: A.Node, d: int) -> None:
        if isinstance(s, A.ExprStmt):
            e = s.expr
            if isinstance(e, A.Call) and (e.name in ASYNC or e.name in ("delete",)):
                return self.async_call(e, d)
            if isinstance(e, A.Call) and e.name in AGGREGATES:
                raise self.err(e, f"{e.name}() should be directly assigned to a map")
            self.int_expr(e, d)  # checked; an expression statement with no effect is dropped as bpftrace does
            return
        if isinstance(s, A.Assign):
            return self.assign(s, d)
        if isinstance(s, A.If):
            self.emit(d, f"if ({self.int_expr(s.cond, d)}) != 0:")
            self.block(s.then, d + 1)
            if s.orelse:
                self.emit(d, "else:")
                self.block(s.orelse, d + 1)
            return
        if isinstance(s, A.Unroll):
            self.emit(d, f"for {self.fresh('u')} in range({s.count}):")
            self.block(s.body, d + 1)
            return
        if isinstance(s, A.While):
            self.emit(d, f"while ({self.int_expr(s.cond, d)}) != 0:")
            self.block(s.body, d + 1)
            return
        if isinstance(s, A.Jump):
            self.emit(d, "return 0" if s.kind == "return" else s.kind)
            return
        raise self.err(s, "this statement is not supported by pyebpf trace")

    def key_expr(self, m: MapDecl, ref: A.MapRef, d: int, bucket: str | None = None) -> str:
        parts = []
        for i, (k, t) in enumerate(zip(ref.keys, m.keys or [])):
            parts.append(f"k{i}={self.value_expr(k, t, d)}")
        if bucket is not None:
            parts.append(f"bucket={bucket}")
        return f"K_{m.py}({', '.join(parts)})"

    def assign(self, s: A.Assign, d: int) -> None:
        if isinstance(s.target, A.Var):
            name = "v_" + s.target.name[1:]
            if s.value is None:
                self.emit(d, f"{name} {'+' if s.op == '++' else '-'}= 1")
                return
            t = self.type_of(s.value)
            if t.kind != "int":
                raise self.err(s.value, "string variables are not supported by pyebpf trace yet "
                                        "(use the string directly, or a map)")
            value = self.int_expr(s.value, d)
            if s.op == "=":
                if s.target.name not in self.vars or self.vars.get("$declared" + s.target.name) is None:
                    self.vars["$declared" + s.target.name] = INT
                    self.vars[s.target.name] = INT
                    self.emit(d, f"{name}: s64 = {value}")
                else:
                    self.emit(d, f"{name} = {value}")
            else:
                self.emit(d, f"{name} {_PYOP.get(s.op[:-1], s.op[:-1])}= {value}")
            return
        ref = s.target
        assert isinstance(ref, A.MapRef)
        m = self.maps[ref.name]
        if s.value is None or s.op != "=":
            if m.kind not in ("value", "count", "sum"):
                raise self.err(s, f"{ref.name} holds {m.kind}() values: it cannot be incremented")
            key = self.key_expr(m, ref, d)
            if s.value is None:
                self.emit(d, f"{m.py}[{key}] {'+' if s.op == '++' else '-'}= 1")
            else:
                v = self.int_expr(s.value, d)
                self.emit(d, f"{m.py}[{key}] {_PYOP.get(s.op[:-1], s.op[:-1])}= {v}")
            return
        v = s.value
        if isinstance(v, A.Call) and v.name in AGGREGATES:
            want = AGGREGATES[v.name]
            if len(v.args) != want:
                raise self.err(v, f"{v.name}() requires {want} argument{'s' if want != 1 else ''} "
                                  f"({len(v.args)} provided)" if v.name != "count" else
                                  f"count() should take 0 arguments ({len(v.args)} provided)")
            if v.name == "count":
                self.emit(d, f"{m.py}[{self.key_expr(m, ref, d)}] += 1")
                return
            val = self.fresh("v")
            self.emit(d, f"{val}: s64 = {self.int_expr(v.args[0], d)}")
            if v.name == "sum":
                self.emit(d, f"{m.py}[{self.key_expr(m, ref, d)}] += {val}")
            elif v.name in ("avg", "stats"):
                k = self.fresh("k")
                self.emit(d, f"{k} = {self.key_expr(m, ref, d)}")
                self.emit(d, f"{m.py}[{k}].total += {val}")
                self.emit(d, f"{m.py}[{k}].count += 1")
            elif v.name in ("min", "max"):
                k = self.fresh("k")
                self.emit(d, f"{k} = {self.key_expr(m, ref, d)}")
                cmp = "<" if v.name == "min" else ">"
                self.emit(d, f"if {k} in {m.py}:")
                self.emit(d + 1, f"if {val} {cmp} {m.py}[{k}]:")
                self.emit(d + 2, f"{m.py}[{k}] = {val}")
                self.emit(d, "else:")
                self.emit(d + 1, f"{m.py}[{k}] = {val}")
            elif v.name == "hist":
                b = self.fresh("b")
                self.emit(d, f"{b}: s64 = -1 if {val} < 0 else ({val} if {val} < 2 else s64(log2(u64({val}))) + 1)")
                self.emit(d, f"{m.py}[{self.key_expr(m, ref, d, b)}] += 1")
            elif v.name == "lhist":
                lo, hi, step = m.lhist  # type: ignore[misc]
                b = self.fresh("b")
                top = (hi - lo) // step
                self.emit(d, f"{b}: s64 = -1 if {val} < {lo} else ({top} if {val} >= {hi} else "
                             f"({val} - {lo}) // {step})")
                self.emit(d, f"{m.py}[{self.key_expr(m, ref, d, b)}] += 1")
            return
        if m.kind not in ("value", "count", "sum"):
            raise self.err(s, f"Type mismatch for {ref.name}: trying to assign value of type 'int' when map "
                              f"already contains a value of type '{m.kind}'")
        if m.value.kind == "str":
            self.emit(d, f"{m.py}[{self.key_expr(m, ref, d)}] = V_{m.py}(s={self.value_expr(v, m.value, d)})")
            return
        self.emit(d, f"{m.py}[{self.key_expr(m, ref, d)}] = {self.int_expr(v, d)}")

    def async_call(self, e: A.Call, d: int) -> None:
        rid = len(self.records) + 1
        if e.name == "delete":
            if len(e.args) != 1 or not isinstance(e.args[0], A.MapRef):
                raise self.err(e, "delete() expects a map with a key: delete(@map[key])")
            ref = e.args[0]
            m = self._known_map(ref)
            if m.bucketed:
                raise self.err(e, "delete() of a hist()/lhist() map element is not supported by pyebpf trace yet")
            self.emit(d, f"if {self.key_expr(m, ref, d)} in {m.py}:")
            self.emit(d + 1, f"del {m.py}[{self.key_expr(m, ref, d)}]")
            return
        if e.name in ("printf", "time"):
            if e.name == "time" and not e.args:
                fmt = "%H:%M:%S\n"
            else:
                if not e.args or not isinstance(e.args[0], A.Str):
                    raise self.err(e, f"{e.name}() expects a string literal as its first argument")
                fmt = e.args[0].value
            args = e.args[1:] if e.name == "printf" else []
            specs = printf_specs(fmt) if e.name == "printf" else []
            if e.name == "printf" and len(specs) != len(args):
                raise self.err(e, f"printf: Too {'many' if len(args) > len(specs) else 'few'} arguments for "
                                  f"format string ({len(specs)} expected, {len(args)} given)"
                               if len(args) < len(specs) else
                               f"printf: Too many arguments for format string ({len(specs)} expected, "
                               f"{len(args)} given)")
            types = []
            lits: dict[int, str] = {}
            for i, (a, conv) in enumerate(zip(args, specs)):
                if isinstance(a, A.Str):  # a constant: user space fills it in, nothing crosses the ring buffer
                    if conv != "s":
                        raise self.err(a, f"printf: %{conv} specifier expects a value of type integer "
                                          f"(string supplied)")
                    lits[i] = a.value
                    types.append(Type("lit"))
                    continue
                t = self.type_of(a)
                if conv == "s" and t.kind == "int":
                    raise self.err(a, f"printf: %s specifier expects a value of type string (integer supplied)")
                if conv != "s" and t.kind == "str":
                    raise self.err(a, f"printf: %{conv} specifier expects a value of type integer (string supplied)")
                types.append(t)
            rec = Record(rid, e.name, fmt, types, literals=lits)
            self.records[rid] = rec
            fields = [("id", INT)] + [(f"a{i}", t) for i, t in enumerate(types) if t.kind != "lit"]
            self._struct(f"R{rid}", fields)
            vals = ["id=%d" % rid] + [f"a{i}={self.value_expr(a, t, d)}" for i, (a, t) in enumerate(zip(args, types))
                                      if t.kind != "lit"]
            self.emit(d, f"EVENTS.output(R{rid}({', '.join(vals)}))")
            return
        if e.name == "exit":
            if e.args:
                raise self.err(e, "exit() takes no arguments in bpftrace 0.17")
            self.records[rid] = Record(rid, "exit")
        else:  # print clear zero
            if len(e.args) != 1 or not isinstance(e.args[0], A.MapRef) or e.args[0].keys:
                if e.name == "print" and e.args and not isinstance(e.args[0], A.MapRef):
                    raise self.err(e, "print() of a value is not supported by pyebpf trace yet (print(@map) is)")
                raise self.err(e, f"{e.name}() expects a map argument")
            self._known_map(e.args[0])
            self.records[rid] = Record(rid, e.name, map=e.args[0].name)
        self._struct(f"R{rid}", [("id", INT)])
        self.emit(d, f"EVENTS.output(R{rid}(id={rid}))")

    def _known_map(self, ref: A.MapRef) -> MapDecl:
        m = self.maps.get(ref.name)
        if m is None:
            raise self.err(ref, f"Undefined map: {ref.name}")
        return m

    # -- expressions ----------------------------------------------------------------------------------------------
    def value_expr(self, e: A.Node, t: Type, d: int) -> str:
        """An expression for a struct field of type `t` (strings written straight into char arrays)."""
        if t.kind == "probe":
            return str(self.probe_names.index(self.target.name)) if self.target.name in self.probe_names else \
                str(len(self.probe_names) - 1)
        if t.kind == "int":
            et = self.type_of(e)
            if et.kind == "str":
                raise self.err(e, "expected an integer here, got a string")
            return self.int_expr(e, d)
        if isinstance(e, A.Builtin) and e.name == "comm":
            return "comm()"
        if isinstance(e, A.Str):
            raise self.err(e, "string literals as map keys or printf arguments are not supported by pyebpf trace "
                              "yet (write them into the format)")
        if isinstance(e, A.Call) and e.name == "str":
            return self.str_call(e, d, t.size)
        raise self.err(e, "expected a string (comm, str(...)) here")

    def str_call(self, e: A.Call, d: int, size: int) -> str:
        if not 1 <= len(e.args) <= 2:
            raise self.err(e, f"str() requires between 1 and 2 arguments ({len(e.args)} provided)")
        a = e.args[0]
        if isinstance(a, A.Field) and isinstance(a.obj, A.Builtin) and a.obj.name == "args":
            f = self._field(a)
            if "char" not in f.ctype and f.kind != "data_loc":
                pass
            return f"str(ctx.{a.name})" if f.kind == "data_loc" else f"str(ctx.{a.name}, {size})"
        return f"str({self.int_expr(a, d)}, {size})"

    def _field(self, node: A.Field) -> Any:
        t = self.target
        if t is None or t.kind != "tracepoint":
            raise self.err(node, "The args builtin can only be used with tracepoint/kfunc/uprobe probes"
                                 f" ({t.kind if t else '?'} used here)")
        for f in self.fields_of(t.category, t.event):
            if f.name == node.name:
                return f
        raise self.err(node, f"Can't find a field {node.name}")

    def int_expr(self, e: A.Node, d: int) -> str:
        if isinstance(e, A.Int):
            return str(e.value)
        if isinstance(e, A.Builtin):
            if e.name in INT_BUILTINS:
                return INT_BUILTINS[e.name]
            if e.name == "elapsed":
                return f"(ktime_ns() - {time.monotonic_ns()})"
            if e.name in ("comm", "probe"):
                raise self.err(e, f"{e.name} is a string: it can be a map key, a printf %s argument, or compared "
                                  f"in a later pyebpf version")
            if e.name == "retval":
                raise self.err(e, "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and "
                                  "'kfunc' probes (tracepoint used here)")
            if e.name == "args":
                raise self.err(e, "args must be followed by a field: args->NAME")
            if e.name in UNSUPPORTED_BUILTINS:
                raise self.err(e, f"the {e.name} builtin is not supported by pyebpf trace yet")
            raise self.err(e, f"Unknown identifier: '{e.name}'")
        if isinstance(e, A.Var):
            if e.name not in self.vars:
                raise self.err(e, f"Undefined or undeclared variable: {e.name}")
            return "v_" + e.name[1:]
        if isinstance(e, A.Field):
            if isinstance(e.obj, A.Builtin) and e.obj.name == "args":
                f = self._field(e)
                if f.kind not in ("int",) or f.count != 1:
                    raise self.err(e, f"args->{e.name} is not an integer (use str(args->{e.name}))")
                return f"ctx.{e.name}"
            raise self.err(e, "only args->FIELD is supported by pyebpf trace (no struct types without BTF here)")
        if isinstance(e, A.MapRef):
            m = self._known_map(e)
            if m.kind not in ("value", "count", "sum") or m.value.kind != "int":
                raise self.err(e, f"reading a {m.kind}() map in an expression is not supported by pyebpf trace yet")
            if len(e.keys) != len(m.keys or []):
                raise self.err(e, f"Argument mismatch for {e.name}")
            return f"{m.py}[{self.key_expr(m, e, d)}]"
        if isinstance(e, A.Unary):
            a = self.int_expr(e.arg, d)
            if e.op == "!":
                return f"(({a}) == 0)"
            if e.op in ("-", "~"):
                return f"({e.op}s64({a}))"
            raise self.err(e, f"unary {e.op} (pointers) is not supported by pyebpf trace")
        if isinstance(e, A.Binary):
            lt, rt = self.type_of(e.left), self.type_of(e.right)
            if lt.kind == "str" or rt.kind == "str":
                raise self.err(e, "string comparison is not supported by pyebpf trace yet")
            a, b = self.int_expr(e.left, d), self.int_expr(e.right, d)
            if e.op == "&&":
                return f"((({a}) != 0) and (({b}) != 0))"
            if e.op == "||":
                return f"((({a}) != 0) or (({b}) != 0))"
            return f"(s64({a}) {_PYOP.get(e.op, e.op)} s64({b}))"
        if isinstance(e, A.Ternary):
            c, a, b = (self.int_expr(x, d) for x in (e.cond, e.then, e.orelse))
            return f"(s64({a}) if ({c}) != 0 else s64({b}))"
        if isinstance(e, A.Call):
            if e.name in AGGREGATES:
                raise self.err(e, f"{e.name}() should be directly assigned to a map")
            if e.name in ASYNC or e.name == "delete":
                raise self.err(e, f"{e.name}() should not be used in an expression")
            if e.name == "str":
                raise self.err(e, "str() is a string: use it as a map key or printf %s argument")
            if e.name in UNSUPPORTED_FUNCS:
                raise self.err(e, f"{e.name}() is not supported by pyebpf trace yet")
            raise self.src.error(f"Unknown function: {e.name}", e.pos, e.pos + len(e.name))
        if isinstance(e, A.Str):
            raise self.err(e, "a string is not valid here")
        raise self.err(e, "this expression is not supported by pyebpf trace")


_PYOP = {"/": "//", "&&": "and", "||": "or"}


def _const(e: A.Node) -> int | None:
    if isinstance(e, A.Int):
        return e.value
    if isinstance(e, A.Unary) and e.op == "-" and isinstance(e.arg, A.Int):
        return -e.arg.value
    return None


def _types_text(ts: list[Type]) -> str:
    names = {"int": "int64", "str": "string", "probe": "probe"}
    return "[" + ", ".join(f"{names[t.kind]}[{t.size}]" if t.kind == "str" else names[t.kind] for t in ts) + "]"


def _system_fields(category: str, name: str) -> list[Any]:
    from pyebpf.compiler.context import SYSTEM

    return SYSTEM.tracepoint_fields(category, name)


def translate(program: A.Program, src: Source, **kw: Any) -> Translation:
    return Translator(program, src, **kw).translate()


__all__ = ["translate", "Translation", "MapDecl", "Record", "AttachTarget", "tracepoint_events", "STRLEN"]
