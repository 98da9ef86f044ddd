"""Semantic analysis of a bpftrace script and its translation to a Python probe module for pyebpf.compiler.

The script is checked here (unknown functions, builtins and fields, map kinds mixed, wrong argument counts: each a
TraceError at its position, as bpftrace reports it); what passes becomes one `@probe` function per attach point
(wildcards expanded), compiled by the same front end, IR, register allocator and lowering as Python probes. Maps
get C layouts (ctypes keys with one field per key element, a bucket field for hist/lhist; per-CPU hashes for the
additive aggregations, as bpftrace); printf, exit, print, clear, zero, time, join, cat and strftime become records
on one ring buffer that user space formats (as bpftrace does with perf events). Struct casts and `->` read kernel
or user memory at offsets from the kernel's BTF (pyebpf.trace.btfaccess).
"""
from __future__ import annotations

import re
import signal as _signal
import time
from dataclasses import dataclass, field
from typing import Any

from pyebpf.trace import ast as A
from pyebpf.trace.artifact import PERCPU_KINDS, MapDecl, Record
from pyebpf.trace.errors import Source, TraceError
from pyebpf.trace.output import printf_specs
from pyebpf.trace.probes import AttachTarget, expand, tracepoint_events
from pyebpf.trace.types import COMM_LEN, INT, MAC, PTR, STRLEN, Type, compatible, merge, tuple_class

MAX_MAP_ENTRIES = 4096  # bpftrace 0.17's default map size
MAX_JOIN = 16  # bpftrace's join(): at most 16 arguments
AGGREGATES = {"count": 0, "sum": 1, "avg": 1, "min": 1, "max": 1, "stats": 1, "hist": 1, "lhist": 4}
ASYNC = {"printf", "exit", "print", "clear", "zero", "time", "join", "cat", "signal", "system"}
INT_BUILTINS = {"pid": "pid()", "tid": "tid()", "uid": "uid()", "gid": "gid()", "nsecs": "ktime_ns()",
                "cpu": "cpu()", "cgroup": "cgroup_id()", "curtask": "task_address()", "rand": "random()"}
UNSUPPORTED_BUILTINS = {"username", "numaid"}
UNSUPPORTED_FUNCS = {"override", "skboutput", "strcontains"}
#: probe kinds whose context holds the registers (pt_regs: uprobes; bpf_perf_event_data's regs: perf events)
REG_CONTEXT = frozenset({"uprobe", "uretprobe", "usdt", "interval", "profile", "software", "hardware"})
VALUE_FUNCS = {"str", "ksym", "usym", "ntop", "buf", "strftime", "kstack", "ustack", "kaddr", "strncmp", "macaddr"}
#: non-integer values a function returns (what int_expr refuses with "is not an integer")
NON_INT_FUNCS = ("str", "ksym", "usym", "ntop", "buf", "strftime", "kstack", "ustack", "macaddr")
#: probe kinds whose programs may call bpf_d_path (bpftrace 0.17's list for path())
PATH_PROBES = "'kfunc', 'kretfunc', 'iter'"
INT_CASTS = {"int8": (1, 1), "int16": (2, 1), "int32": (4, 1), "int64": (8, 1), "uint8": (1, 0), "uint16": (2, 0),
             "uint32": (4, 0), "uint64": (8, 0), "char": (1, 1), "int": (4, 1), "u8": (1, 0), "u16": (2, 0),
             "u32": (4, 0), "u64": (8, 0), "s8": (1, 1), "s16": (2, 1), "s32": (4, 1), "s64": (8, 1),
             "unsigned int": (4, 0), "long": (8, 1), "unsigned long": (8, 0), "short": (2, 1),
             "unsigned short": (2, 0), "unsigned char": (1, 0)}
_PTRFIELD = re.compile(r"(struct|union)\s+(\w+)\s*\*\s*\w+\s*$")


@dataclass
class Translation:
    module: str
    maps: dict[str, MapDecl]
    records: dict[int, Record]
    targets: list[tuple[str, AttachTarget]]  # (python function name, target)
    probe_names: list[str]
    strings: list[str]
    stacks: bool = False
    deps: list[Any] = field(default_factory=list)


HEADER = '''import ctypes
from pyebpf.probe import *
from pyebpf.probe import RingBuf, HashMap, PerCpuHashMap, StackTrace
from pyebpf.compiler.memread import probe_read, probe_read_bytes, send_signal, const_bytes, map_value, task_address
from pyebpf.compiler.memread import load_time_u64


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_int64), ("b", ctypes.c_int64)]


class Inet(ctypes.Structure):
    _fields_ = [("af", ctypes.c_uint32), ("a0", ctypes.c_uint32), ("a1", ctypes.c_uint32), ("a2", ctypes.c_uint32),
                ("a3", ctypes.c_uint32)]
'''


class Translator:
    def __init__(self, program: A.Program, src: Source, *, events: Any = tracepoint_events,
                 fields: Any = None, pid: int | None = None, cpid: int | None = None, unsafe: bool = False):
        self.prog = program
        self.src = src
        self.events = events
        self.fields_of = fields or _system_fields
        self.pid = pid
        self.cpid = cpid
        self.unsafe = unsafe
        self.maps: dict[str, MapDecl] = {}
        self.records: dict[int, Record] = {}
        self.strings: list[str] = []
        self.probe_names: list[str] = []
        self.out: list[str] = []
        self.structs: list[str] = []
        self.struct_names: set[str] = set()
        self.tmp = 0
        self.target: AttachTarget | None = None
        self.vars: dict[str, Type] = {}
        self.declared: set[str] = set()
        self.stacks = False
        self.scanning = False
        self.deps: list[Any] = []  # what the translation read from the system beyond the kernel build (cache)

    def err(self, node: A.Node, message: str) -> TraceError:
        return self.src.error(message, node.pos, node.end)

    # -- driver ---------------------------------------------------------------------------------------------------
    def translate(self) -> Translation:
        from pyebpf.trace import btfaccess, cdefs

        btfaccess.use_local(None)
        if self.prog.structs:  # the script's C definitions: answered beside the kernel's BTF types
            cdefs.register(self.src, self.prog.structs)
        expanded: list[tuple[A.Probe, AttachTarget]] = []
        for p in self.prog.probes:
            for ap in p.points:
                for t in expand(self.src, ap, self.events, self.pid, self.deps):
                    expanded.append((p, t))
        if not expanded:
            raise TraceError("No probes to attach", "")
        for _, t in expanded:
            if t.name not in self.probe_names:
                self.probe_names.append(t.name)
        # pass 1: map kinds and key/value types (a map used before its aggregate is known still gets its layout)
        self.scanning = True
        for p, t in expanded:
            self.target = t
            self.vars = {}
            self._scan(p.body)
        self.scanning = False
        targets = []
        bodies: list[str] = []
        for i, (p, t) in enumerate(expanded):
            self.target = t
            self.vars = {}
            self.declared = set()
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
        decls = ["EVENTS = RingBuf(None, size=1 << 20, name='trace_events')",
                 "LOST = PerCpuArray(u64, max_entries=1, name='trace_lost')"]
        if self.stacks:
            decls.append("STACKS = StackTrace(max_entries=4096, name='trace_stacks')")
        for m in self.maps.values():
            decls.append(self._map_decl(m))
        module = "\n".join([HEADER] + self.structs + [""] + decls + ["", ""] + bodies) + "\n"
        return Translation(module, self.maps, self.records, targets, self.probe_names, self.strings, self.stacks,
                           self.deps)

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
                        if not t.int_like or t.kind not in ("int", "ptr"):
                            self._set_kind(m, "value", s)
                            if m.int_assigned or (m.value.kind != "int" and not compatible(m.value, t)):
                                raise self.err(s, f"Type mismatch for {m.name}: trying to assign value of type "
                                                  f"'{t.text()}' when map already contains a value of type "
                                                  f"'{m.value.text()}'")
                            m.value = merge(m.value, t) if m.value.kind != "int" else t
                        elif not m.value.int_like:
                            raise self.err(s, f"Type mismatch for {m.name}: trying to assign value of type "
                                              f"'{t.text()}' when map already contains a value of type "
                                              f"'{m.value.text()}'")
                        else:
                            m.int_assigned = True
                    if not m.kind:
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
            raise self.err(call, f"lhist() requires 4 arguments ({len(call.args)} provided)")
        consts = []
        for a in call.args[1:]:
            v = _const(a)
            if v is None:
                raise self.err(a, "lhist: invalid min/max/step value (must be an integer literal)")
            consts.append(v)
        lo, hi, step = consts
        if step <= 0:
            raise self.err(call, f"lhist() step must be >= 1 ({step} provided)")
        if lo < 0:
            raise self.err(call, "lhist() min must be non-negative (provided min %d)" % lo)
        if lo > hi:
            raise self.err(call, "lhist() min must be less than max (provided min %d and max %d)" % (lo, hi))
        if (hi - lo) // step > 1000:
            raise self.err(call, "lhist() too many buckets, must be <= 1000 (would need %d)" % ((hi - lo) // step))
        if m.lhist is not None and m.lhist != (lo, hi, step):
            raise self.err(call, "Different lhist bounds in a single map unsupported")
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
                if not compatible(a, b):
                    raise self.err(ref, f"Argument mismatch for {ref.name}: trying to access with arguments: "
                                        f"{_types_text(keys)} when map expects arguments: {_types_text(m.keys)}")
                merged.append(merge(a, b))
            m.keys = merged
        return m

    def _key_type(self, k: A.Node) -> Type:
        """The type a value has in a map key, a record or a printf argument: pointers lose their pointee (a
        pointer key prints in hex, as bpftrace prints it)."""
        t = self.type_of(k)
        if t.kind == "ptr":
            return PTR
        return t

    # -- types ----------------------------------------------------------------------------------------------------
    def type_of(self, e: A.Node) -> Type:
        if isinstance(e, A.Str):
            return Type("str", min(len(e.value.encode()) + 1, STRLEN))
        if isinstance(e, A.Builtin):
            if e.name == "comm":
                return Type("str", COMM_LEN)
            if e.name == "probe":
                return Type("probe")
            if e.name == "func":
                return Type("func")
            if e.name == "kstack":
                return Type("kstack", 127)
            if e.name == "ustack":
                return Type("ustack", 127)
            if e.name == "args":
                return Type("args")
            if e.name == "curtask":
                return PTR
            return INT
        if isinstance(e, A.Call):
            if e.name == "str":
                n = _const(e.args[1]) if len(e.args) > 1 else STRLEN
                return Type("str", min(max(n or STRLEN, 1), STRLEN) if n else STRLEN)
            if e.name == "buf":
                n = _const(e.args[1]) if len(e.args) > 1 else None
                return Type("buf", min(max(n or STRLEN, 1), STRLEN))
            if e.name in ("ksym", "usym"):
                return Type(e.name)
            if e.name in ("kstack", "ustack"):
                depth = [_const(a) for a in e.args if _const(a) is not None]
                return Type(e.name, depth[0] if depth else 127)
            if e.name == "ntop":
                return Type("inet")
            if e.name == "macaddr":
                return MAC
            if e.name == "uaddr":
                return PTR
            if e.name == "path":  # (checked first: bpftrace reports the probe kind before the value's type)
                raise self.err(e, f"The path function can only be used with {PATH_PROBES} probes")
            if e.name in ("kptr", "uptr") and len(e.args) == 1:
                t = self.type_of(e.args[0])
                if t.kind == "ptr":
                    return Type("ptr", btf=t.btf, user=e.name == "uptr")
                return t
            if e.name == "strftime":
                fmt = e.args[0].value if e.args and isinstance(e.args[0], A.Str) else ""
                return Type("strftime", fmt=fmt)
            return INT
        if isinstance(e, A.Var):
            return self.vars.get(e.name, INT)
        if isinstance(e, A.Ternary):
            return self.type_of(e.then)
        if isinstance(e, A.MapRef) and e.name in self.maps:
            return self.maps[e.name].value
        if isinstance(e, A.Tuple):
            return Type("tuple", elems=tuple(self._key_type(x) for x in e.elems))
        if isinstance(e, (A.Field, A.Index, A.Cast)):
            return self.access(e)[0]
        if isinstance(e, A.Unary) and e.op == "*":
            return self.access(e)[0]
        return INT

    # -- declarations ---------------------------------------------------------------------------------------------
    def ctype(self, t: Type) -> str:
        if t.kind == "tuple":
            name = tuple_class(t)
            self._struct(name, [(f"e{i}", x) for i, x in enumerate(t.elems)])
            return name
        return t.ctype()

    def _struct(self, name: str, fields: list[tuple[str, Type]]) -> None:
        if name in self.struct_names:
            return
        body = ", ".join(f"({f!r}, {self.ctype(t)})" for f, t in fields)
        self.struct_names.add(name)
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
        elif not m.value.int_like:
            self._struct(f"V_{m.py}", [("s", m.value)])
            value = f"V_{m.py}"
        else:
            value = "s64"
        cls = "PerCpuHashMap" if m.percpu else "HashMap"
        return f"{m.py} = {cls}(K_{m.py}, {value}, max_entries={MAX_MAP_ENTRIES}, name={('AT_' + m.py)!r})"

    # -- statements -----------------------------------------------------------------------------------------------
    def emit(self, depth: int, line: str) -> None:
        self.out.append("    " * depth + line)

    def output(self, depth: int, record: str) -> None:
        """Every record goes out here: a record the ring buffer refuses (full: bpf_ringbuf_output's -EAGAIN) is
        counted in LOST, which the runner reads to print bpftrace's `Lost N events`."""
        self.emit(depth, f"if EVENTS.output({record}) != 0:")
        self.emit(depth + 1, "LOST[0] += 1")

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
            known = self.vars.get(s.target.name)
            if not t.int_like:
                if s.op != "=":
                    raise self.err(s, f"{s.op} is not defined for {t.text()} values")
                if s.target.name in self.declared:
                    raise self.err(s, f"{s.target.name} already holds a value: pyebpf trace assigns non-integer "
                                      f"variables once")
                self.declared.add(s.target.name)
                self.vars[s.target.name] = known if known is not None and known.kind == t.kind else t
                self.emit(d, f"{name} = {self.value_expr(s.value, self.vars[s.target.name], d)}")
                return
            value = self.int_expr(s.value, d)
            if s.op == "=":
                if s.target.name not in self.declared:
                    self.declared.add(s.target.name)
                    self.vars[s.target.name] = t if known is None or not known.int_like else known
                    self.emit(d, f"{name}: s64 = {value}")
                else:
                    self.emit(d, f"{name} = {value}")
            else:
                if s.target.name not in self.declared:
                    raise self.err(s.target, f"Undefined or undeclared variable: {s.target.name}")
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
        if not m.value.int_like:
            self.emit(d, f"{m.py}[{self.key_expr(m, ref, d)}] = V_{m.py}(s={self.value_expr(v, m.value, d)})")
            return
        self.emit(d, f"{m.py}[{self.key_expr(m, ref, d)}] = {self.value_expr(v, m.value, d)}")

    def new_record(self, rec: Record, fields: list[tuple[str, Type]]) -> None:
        self.records[rec.id] = rec
        self._struct(f"R{rec.id}", [("id", INT)] + fields)

    def async_call(self, e: A.Call, d: int) -> None:
        rid = len(self.records) + 1
        if e.name == "delete":
            if len(e.args) != 1 or not isinstance(e.args[0], A.MapRef):
                raise self.err(e, "delete() expects a map with a key: delete(@map[key])")
            ref = e.args[0]
            m = self._known_map(ref)
            if m.bucketed:
                raise self.err(e, "delete() of a hist()/lhist() map element is not supported by pyebpf trace yet")
            k = self.fresh("k")
            self.emit(d, f"{k} = {self.key_expr(m, ref, d)}")
            self.emit(d, f"if {k} in {m.py}:")
            self.emit(d + 1, f"del {m.py}[{k}]")
            return
        if e.name == "system" and not self.unsafe:
            raise self.err(e, "system() is an unsafe function being used in safe mode")
        if e.name in ("printf", "time", "system"):
            if e.name == "time" and not e.args:
                fmt = "%H:%M:%S\n"
            else:
                if not e.args or not isinstance(e.args[0], A.Str):
                    raise self.err(e, f"{e.name}() expects a string literal as its first argument")
                fmt = e.args[0].value
            args = e.args[1:] if e.name != "time" else []
            specs = printf_specs(fmt) if e.name != "time" else []
            if e.name != "time" and len(specs) != len(args):
                raise self.err(e, f"{e.name}: Too {'many' if len(args) > len(specs) else 'few'} arguments for "
                                  f"format string ({len(specs)} expected, {len(args)} given)")
            types = []
            lits: dict[int, str] = {}
            for i, (a, conv) in enumerate(zip(args, specs)):
                if isinstance(a, A.Str):  # a constant: user space fills it in, nothing crosses the ring buffer
                    if conv not in "sr":
                        raise self.err(a, f"printf: %{conv} specifier expects a value of type integer "
                                          f"(string supplied)")
                    lits[i] = a.value
                    types.append(Type("lit"))
                    continue
                t = self._key_type(a)
                if conv in "sr" and t.kind == "int":
                    raise self.err(a, "printf: %s specifier expects a value of type string (integer supplied)")
                if conv not in "sr" and not t.int_like:
                    raise self.err(a, f"printf: %{conv} specifier expects a value of type integer (string supplied)")
                types.append(t)
            rec = Record(rid, e.name, fmt, types, literals=lits)
            self.new_record(rec, [(f"a{i}", t) for i, t in enumerate(types) if t.kind != "lit"])
            vals = ["id=%d" % rid] + [f"a{i}={self.value_expr(a, t, d)}" for i, (a, t) in enumerate(zip(args, types))
                                      if t.kind != "lit"]
            self.output(d, f"R{rid}({', '.join(vals)})")
            return
        if e.name == "join":
            return self.join(e, d, rid)
        if e.name == "signal":
            if not self.unsafe:
                raise self.err(e, "signal() is an unsafe function being used in safe mode")
            return self.signal(e, d)
        if e.name == "cat":
            if not e.args or not isinstance(e.args[0], A.Str) or len(e.args) > 1:
                raise self.err(e, "cat() expects a file name (a string literal)")
            self.new_record(Record(rid, "cat", e.args[0].value), [])
            self.output(d, f"R{rid}(id={rid})")
            return
        if e.name == "exit":
            if e.args:
                raise self.err(e, "exit() takes no arguments in bpftrace 0.17")
            self.new_record(Record(rid, "exit"), [])
            self.output(d, f"R{rid}(id={rid})")
            return
        # print clear zero
        if e.name == "print" and e.args and not isinstance(e.args[0], A.MapRef) or \
                e.name == "print" and e.args and isinstance(e.args[0], A.MapRef) and e.args[0].keys:
            if len(e.args) != 1:
                raise self.err(e, "print() of a value takes one argument")
            t = self._key_type(e.args[0])
            self.new_record(Record(rid, "value", types=[t]), [("a0", t)])
            self.output(d, f"R{rid}(id={rid}, a0={self.value_expr(e.args[0], t, d)})")
            return
        if not e.args or not isinstance(e.args[0], A.MapRef) or e.args[0].keys or \
                len(e.args) > (3 if e.name == "print" else 1):
            raise self.err(e, f"{e.name}() expects a map argument")
        extra = [_const(a) for a in e.args[1:]]
        if any(x is None or x < 0 for x in extra):
            raise self.err(e, "print(): top and div must be non-negative integer literals")
        self._known_map(e.args[0])
        self.new_record(Record(rid, e.name, map=e.args[0].name, top=extra[0] if extra else 0,
                               div=extra[1] if len(extra) > 1 else 0), [])
        self.output(d, f"R{rid}(id={rid})")

    def join(self, e: A.Call, d: int, rid: int) -> None:
        """join(char **arr[, sep]): one record per element (ring-buffer records are small: 16 strings of 64 bytes
        would not fit the 512-byte stack), then an end record; user space prints them joined."""
        if not 1 <= len(e.args) <= 2 or (len(e.args) == 2 and not isinstance(e.args[1], A.Str)):
            raise self.err(e, "join() takes an array of strings and an optional separator literal")
        sep = e.args[1].value if len(e.args) == 2 else " "
        user = self._user_memory(e.args[0])
        part, end = rid, rid + 1
        self.new_record(Record(part, "join_part", types=[INT, Type("str", STRLEN)]),
                        [("a0", INT), ("a1", Type("str", STRLEN))])
        self.new_record(Record(end, "join_end", sep), [("a0", INT)])
        base = self.fresh("jb")
        idx = self.fresh("ji")
        ptr = self.fresh("jp")
        self.emit(d, f"{base}: u64 = u64({self.int_expr(e.args[0], d)})")
        self.emit(d, f"for {idx} in range({MAX_JOIN}):")
        self.emit(d + 1, f"{ptr}: u64 = probe_read({base} + {idx} * 8, 8, 0, {2 if user else 0})")
        self.emit(d + 1, f"if {ptr} == 0:")
        self.emit(d + 2, "break")
        reader = "str" if user else "kstr"
        self.output(d + 1, f"R{part}(id={part}, a0=tid(), a1={reader}({ptr}, {STRLEN}))")
        self.output(d, f"R{end}(id={end}, a0=tid())")

    def signal(self, e: A.Call, d: int) -> None:
        if len(e.args) != 1:
            raise self.err(e, "signal() takes one argument")
        a = e.args[0]
        if isinstance(a, A.Str):
            name = a.value.upper()
            name = name if name.startswith("SIG") else "SIG" + name
            sig = getattr(_signal, name, None)
            if not isinstance(sig, _signal.Signals):
                raise self.err(a, f"{a.value}: invalid signal")
            value = str(int(sig))
        else:
            c = _const(a)
            if c is not None and not 1 <= c <= 64:
                raise self.err(a, f"{c}: invalid signal (1 to 64)")
            value = self.int_expr(a, d)
        self.emit(d, f"send_signal({value})")

    def _known_map(self, ref: A.MapRef) -> MapDecl:
        m = self.maps.get(ref.name)
        if m is None:
            raise self.err(ref, f"Undefined map: {ref.name}")
        return m

    # -- expressions ----------------------------------------------------------------------------------------------
    def value_expr(self, e: A.Node, t: Type, d: int) -> str:
        """An expression for a struct field of type `t` (strings written straight into char arrays)."""
        if t.kind in ("probe", "func") and isinstance(e, A.Builtin):
            name = self.target.name if t.kind == "probe" else self.target.func  # type: ignore[union-attr]
            if name not in self.strings:
                self.strings.append(name)
            return str(self.strings.index(name))
        if t.kind == "kstack":
            self.stacks = True
            return "STACKS.kstack()"
        if t.kind == "ustack":
            self.stacks = True
            return "Pair(a=STACKS.ustack(), b=pid())"
        if t.int_like:
            et = self.type_of(e)
            if not et.int_like:
                raise self.err(e, f"expected an integer here, got {et.text()}")
            if isinstance(e, A.Call) and e.name in ("ksym", "strftime"):
                return self.int_expr(e.args[1] if e.name == "strftime" else e.args[0], d)
            return self.int_expr(e, d)
        if t.kind == "usym":
            if not isinstance(e, A.Call) or e.name != "usym" or len(e.args) != 1:
                raise self.err(e, "expected usym(addr) here")
            return f"Pair(a={self.int_expr(e.args[0], d)}, b=pid())"
        if t.kind == "inet":
            return self.ntop(e, d)
        if t.kind == "tuple":
            if not isinstance(e, A.Tuple):
                if isinstance(e, (A.Var, A.MapRef)):
                    return self.mem_name(e, d)
                raise self.err(e, "expected a tuple here")
            cls = self.ctype(t)
            parts = [f"e{i}={self.value_expr(x, et, d)}" for i, (x, et) in enumerate(zip(e.elems, t.elems))]
            return f"{cls}({', '.join(parts)})"
        if t.kind == "buf":
            return self.buf(e, d)
        if t.kind == "mac":
            return self.macaddr(e, d)
        # strings
        if isinstance(e, A.Builtin) and e.name == "comm":
            return "comm()"
        if isinstance(e, A.Str):
            return f"const_bytes({_py_bytes(e.value)}, {t.size})"
        if isinstance(e, A.Call) and e.name == "str":
            return self.str_call(e, d, t.size)
        if isinstance(e, (A.Field, A.Index)):
            et, expr = self.access(e)
            if et.kind != "str":
                raise self.err(e, f"expected a string, got {et.text()}")
            return expr
        if isinstance(e, (A.Var, A.MapRef)):
            return self.mem_name(e, d)
        if isinstance(e, A.Ternary):
            raise self.err(e, "a ternary of strings is not supported by pyebpf trace yet")
        raise self.err(e, "expected a string (comm, str(...), a literal) here")

    def mem_name(self, e: A.Node, d: int) -> str:
        if isinstance(e, A.Var):
            if e.name not in self.declared:
                raise self.err(e, f"Undefined or undeclared variable: {e.name}")
            return "v_" + e.name[1:]
        assert isinstance(e, A.MapRef)
        m = self._known_map(e)
        if len(e.keys) != len(m.keys or []):
            raise self.err(e, f"Argument mismatch for {e.name}")
        return f"map_value({m.py}, {self.key_expr(m, e, d)}).s"

    def ntop(self, e: A.Node, d: int) -> str:
        if not isinstance(e, A.Call) or e.name != "ntop" or not 1 <= len(e.args) <= 2:
            raise self.err(e, "ntop([af,] addr) expected here")
        addr = e.args[-1]
        af = self.int_expr(e.args[0], d) if len(e.args) == 2 else None
        if isinstance(addr, A.Field) and isinstance(addr.obj, A.Builtin) and addr.obj.name == "args":
            f = self._field(addr)
            if f.count in (4, 16) and f.size == 1:  # u8 saddr[4] / [16]: the bytes as four little-endian words
                words = []
                for w in range(f.count // 4):
                    words.append(" | ".join(f"(u32(ctx.{addr.name}[{w * 4 + i}]) << {8 * i})" for i in range(4)))
                fam = af or ("2" if f.count == 4 else "10")
                return "Inet(af=%s, %s)" % (fam, ", ".join(f"a{i}={w}" for i, w in enumerate(words)))
        t = self.type_of(addr)
        if not t.int_like:
            raise self.err(addr, "ntop() of this value is not supported by pyebpf trace yet (an IPv4 integer, or "
                                 "a tracepoint's u8[4]/u8[16] address field)")
        return f"Inet(af={af or '2'}, a0=u32({self.int_expr(addr, d)}))"

    def buf(self, e: A.Node, d: int) -> str:
        if not isinstance(e, A.Call) or e.name != "buf" or not 1 <= len(e.args) <= 2:
            raise self.err(e, "buf(ptr, length) expected here")
        n = _const(e.args[1]) if len(e.args) == 2 else None
        if n is None or not 1 <= n <= STRLEN:
            raise self.err(e, f"buf(): the length must be an integer literal from 1 to {STRLEN} in pyebpf trace")
        user = self._user_memory(e.args[0])
        return f"probe_read_bytes({self.int_expr(e.args[0], d)}, {n}, {2 if user else 0})"

    def _user_memory(self, e: A.Node) -> bool:
        t = self.target
        return t is not None and (t.kind in ("uprobe", "uretprobe", "usdt") or t.category == "syscalls")

    def str_call(self, e: A.Call, d: int, size: int) -> str:
        if not 1 <= len(e.args) <= 2:
            raise self.err(e, f"str() requires between 1 and 2 arguments ({len(e.args)} provided)")
        a = e.args[0]
        if isinstance(a, A.Field) and isinstance(a.obj, A.Builtin) and a.obj.name == "args":
            f = self._field(a)
            if f.kind == "data_loc":
                return f"str(ctx.{a.name})"
            if f.count > 1:  # a char array in the record
                return f"ctx.{a.name}"
        at = self.type_of(a)
        if at.kind == "str":
            return self.value_expr(a, at, d)
        reader = "str" if self._user_memory(a) else "kstr"
        return f"{reader}({self.int_expr(a, d)}, {size})"

    def _field(self, node: A.Field) -> Any:
        t = self.target
        if t is None or t.kind != "tracepoint":
            raise self.err(node, "The args builtin can only be used with tracepoint/kfunc/uprobe probes"
                                 f" ({t.kind if t else '?'} used here)")
        for f in self.fields_of(t.category, t.event):
            if f.name == node.name:
                return f
        raise self.err(node, f"Can't find a field {node.name}")

    # -- memory: tracepoint fields, BTF structs, pointers -----------------------------------------------------
    def access(self, e: A.Node) -> tuple[Type, str]:
        """Type and expression of `args->f`, `p->f`, `s.f`, `a[i]`, `*p`, `(type)x`. A struct reached by `->`
        without a read is a 'place' (its address), read at the member finally named."""
        if isinstance(e, A.Cast):
            if e.ptr:
                if e.type.split()[0] in ("struct", "union"):
                    from pyebpf.trace.btfaccess import struct_id

                    sid = struct_id(e.type)
                    if sid is None:
                        raise self.err(e, f"Unknown struct/union: '{e.type}'")
                    # a cast names kernel memory (curtask, kernel pointers) except in user-space probes
                    user = self.target is not None and self.target.kind in ("uprobe", "uretprobe", "usdt")
                    return Type("ptr", btf=sid, user=user), self.int_expr(e.arg, 0)
                return INT, self.int_expr(e.arg, 0)
            if e.type not in INT_CASTS:
                raise self.err(e, f"Cannot cast to \"{e.type}\"")
            size, signed = INT_CASTS[e.type]
            inner = self.int_expr(e.arg, 0)
            return INT, f"s64({'s' if signed else 'u'}{size * 8}({inner}))"
        if isinstance(e, A.Unary) and e.op == "*":
            t, expr = self.access(e.arg) if isinstance(e.arg, (A.Field, A.Index, A.Cast)) else \
                (self.type_of(e.arg), self.int_expr(e.arg, 0))
            if t.kind == "ptr" and t.btf:
                return self._read_member(expr, t.btf, t.user, e)
            return INT, f"probe_read({expr}, 8, 1, 2)"
        if isinstance(e, A.Index):
            obj = e.obj
            i = _const(e.index)
            if isinstance(obj, A.Field) and isinstance(obj.obj, A.Builtin) and obj.obj.name == "args":
                f = self._field(obj)
                if f.count > 1:
                    if i is None or not 0 <= i < f.count:
                        raise self.err(e, f"the index must be a constant from 0 to {f.count - 1}")
                    return INT, f"ctx.{obj.name}[{i}]"
            t, base = self.access(obj) if isinstance(obj, (A.Field, A.Index, A.Cast)) else \
                (self.type_of(obj), self.int_expr(obj, 0))
            idx = self.int_expr(e.index, 0)
            if t.kind in ("ptr", "place") and t.btf:
                from pyebpf.trace.btfaccess import shape, size_of

                sh = shape(t.btf)
                if sh.kind == "array":
                    elem = sh.target
                else:
                    elem = t.btf
                size = size_of(elem)
                return self._read_member(f"({base}) + ({idx}) * {size}", elem, t.user, e)
            return INT, f"probe_read(({base}) + ({idx}) * 8, 8, 1, {2 if self._user_memory(e) else 0})"
        assert isinstance(e, A.Field)
        if isinstance(e.obj, A.Builtin) and e.obj.name == "args":
            f = self._field(e)
            if f.kind == "data_loc":
                return Type("str", STRLEN), f"str(ctx.{e.name})"
            if f.count > 1:
                if f.size == 1:
                    return Type("str", f.count), f"ctx.{e.name}"
                raise self.err(e, f"args->{e.name} is an array: index it (args->{e.name}[i])")
            if f.kind != "int":
                raise self.err(e, f"args->{e.name} is not an integer")
            m = _PTRFIELD.search(f.ctype or "")
            if m:
                from pyebpf.trace.btfaccess import struct_id

                sid = struct_id(f"{m.group(1)} {m.group(2)}")
                if sid is not None:
                    return Type("ptr", btf=sid, user=self._user_memory(e)), f"ctx.{e.name}"
            return INT, f"ctx.{e.name}"
        t, base = self.access(e.obj) if isinstance(e.obj, (A.Field, A.Index, A.Cast)) or \
            (isinstance(e.obj, A.Unary) and e.obj.op == "*") else (self.type_of(e.obj), self.int_expr(e.obj, 0))
        if t.kind not in ("ptr", "place") or not t.btf:
            raise self.err(e, f"Can not access field '{e.name}' on expression of type '{t.text()}'")
        if e.arrow != (t.kind == "ptr"):
            raise self.err(e, f"Can not access field '{e.name}' on type '{'pointer' if t.kind == 'ptr' else 'struct'}"
                              f"'. Try using '{'->' if t.kind == 'ptr' else '.'}'")
        from pyebpf.trace.btfaccess import member, shape, type_name

        sid = t.btf
        if shape(sid).kind != "struct":
            raise self.err(e, f"Can not access field '{e.name}': the value is not a struct")
        found = member(sid, e.name)
        if found is None:
            raise self.err(e, f"Struct/union of type '{type_name(sid)}' does not contain a field named "
                              f"'{e.name}'")
        off, tid = found
        return self._read_member(f"({base}) + {off}", tid, t.user, e)

    def _read_member(self, addr: str, tid: int, user: bool, e: A.Node) -> tuple[Type, str]:
        from pyebpf.trace.btfaccess import shape

        sh = shape(tid)
        mode = 2 if user else 0
        if sh.kind == "int":
            return INT, f"probe_read({addr}, {sh.size}, {int(sh.signed)}, {mode})"
        if sh.kind == "ptr":
            target = sh.target if shape(sh.target).kind == "struct" else 0
            return Type("ptr", btf=target, user=user), f"probe_read({addr}, 8, 0, {mode})"
        if sh.kind == "chars":
            n = min(sh.count, STRLEN)
            return Type("str", n), f"{'str' if user else 'kstr'}({addr}, {n})"
        if sh.kind in ("struct", "array"):
            return Type("place", btf=tid, user=user), addr
        raise self.err(e, "this member's type cannot be read by pyebpf trace")

    def builtin(self, e: A.Builtin) -> str:
        t = self.target
        assert t is not None
        if e.name in INT_BUILTINS:
            return INT_BUILTINS[e.name]
        if e.name == "elapsed":
            return f"(ktime_ns() - load_time_u64({time.monotonic_ns()}, 'start'))"
        if e.name == "cpid":
            if self.cpid is None:
                raise self.err(e, "cpid cannot be used without child command (-c)")
            return f"load_time_u64({self.cpid}, 'cpid')"
        if e.name in ("comm", "probe", "func", "kstack", "ustack"):
            raise self.err(e, f"{e.name} is not an integer: it can be a map key, a printf %s argument, compared "
                              f"(comm) or printed")
        if e.name == "retval":
            if t.kind != "uretprobe":
                raise self.err(e, "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and "
                                  f"'kfunc' probes ({t.kind} used here)")
            return "ctx.ret"
        if e.name.startswith("arg") and e.name[3:].isdigit():
            n = int(e.name[3:])
            if t.kind == "uprobe":
                if n > 5:
                    raise self.err(e, f"{e.name}: only arg0 to arg5 are in registers")
                return f"ctx.arg{n + 1}"
            if t.kind == "rawtracepoint":
                return f"ctx.args[{n}]"
            if t.kind == "usdt":
                return self.usdt_arg(e, n)
            raise self.err(e, f"The {e.name} builtin can only be used with 'kprobes', 'uprobes' and 'usdt' "
                              f"probes ({t.kind} used here)")
        if e.name == "args":
            raise self.err(e, "args must be followed by a field: args->NAME")
        if e.name in UNSUPPORTED_BUILTINS:
            raise self.err(e, f"the {e.name} builtin is not supported by pyebpf trace yet")
        from pyebpf.errors import BtfError
        from pyebpf.trace.btfaccess import enum_value

        try:
            value = enum_value(e.name)
        except BtfError:
            value = None
        if value is not None:
            return str(value)
        raise self.err(e, f"Unknown identifier: '{e.name}'")

    def usdt_arg(self, e: A.Node, n: int) -> str:
        site = self.target.usdt  # type: ignore[union-attr]
        args = site.args
        if n >= len(args):
            raise self.err(e, f"usdt probe {site.provider}:{site.name} has {len(args)} arguments")
        a = args[n]
        kind = a.kind.value
        cast = f"{'s' if a.signed else 'u'}{a.size * 8}"
        if kind == "const":
            return str(a.value)
        if kind == "reg":
            return f"s64({cast}(ctx.{a.register}))"
        return f"probe_read(ctx.{a.register} + {a.offset}, {a.size}, {int(a.signed)}, 1)"

    def int_expr(self, e: A.Node, d: int) -> str:
        if isinstance(e, A.Int):
            return str(e.value)
        if isinstance(e, A.Builtin):
            return self.builtin(e)
        if isinstance(e, A.Var):
            if e.name not in self.vars or (e.name not in self.declared and not self.scanning):
                raise self.err(e, f"Undefined or undeclared variable: {e.name}")
            if not self.vars[e.name].int_like:
                raise self.err(e, f"{e.name} holds a {self.vars[e.name].text()}, not an integer")
            return "v_" + e.name[1:]
        if isinstance(e, (A.Field, A.Index, A.Cast)) or (isinstance(e, A.Unary) and e.op == "*"):
            t, expr = self.access(e)
            if t.kind == "str":
                raise self.err(e, "this is a string: use it as a map key, a printf %s argument, or compare it")
            return expr
        if isinstance(e, A.MapRef):
            m = self._known_map(e)
            if m.kind not in ("value", "count", "sum") or not m.value.int_like:
                raise self.err(e, f"reading a {m.kind}() map in an expression is not supported by pyebpf trace yet")
            if len(e.keys) != len(m.keys or []):
                raise self.err(e, f"Argument mismatch for {e.name}")
            if m.percpu:
                raise self.err(e, f"reading {e.name}, a per-CPU {m.kind}() map, in a probe gives one CPU's part: "
                                  f"pyebpf trace refuses it")
            return f"{m.py}[{self.key_expr(m, e, d)}]"
        if isinstance(e, A.Unary):
            a = self.int_expr(e.arg, d)
            if e.op == "!":
                return f"(({a}) == 0)"
            if e.op in ("-", "~"):
                return f"({e.op}s64({a}))"
            raise self.err(e, f"unary {e.op} (address-of) is not supported by pyebpf trace")
        if isinstance(e, A.Binary):
            lt, rt = self.type_of(e.left), self.type_of(e.right)
            if lt.kind == "str" or rt.kind == "str":
                return self.str_compare(e, lt, rt, d)
            if not lt.int_like or not rt.int_like:
                raise self.err(e, f"{e.op} is not defined between {lt.text()} and {rt.text()}")
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
            if e.name == "kaddr":
                return self.kaddr(e)
            if e.name == "strncmp":
                return self.strncmp(e, d)
            if e.name in NON_INT_FUNCS:
                raise self.err(e, f"{e.name}() is not an integer: use it as a map key or value, a printf %s "
                                  f"argument, or print() it")
            if e.name in ("kptr", "uptr"):
                if len(e.args) != 1:
                    raise self.err(e, f"{e.name}() requires one argument ({len(e.args)} provided)")
                return self.int_expr(e.args[0], d)
            if e.name == "cgroupid":
                return self.cgroupid(e)
            if e.name == "uaddr":
                return self.uaddr(e)
            if e.name == "reg":
                return self.reg(e)
            if e.name == "path":
                raise self.err(e, f"The path function can only be used with {PATH_PROBES} probes")
            if e.name in UNSUPPORTED_FUNCS:
                raise self.err(e, f"{e.name}() is not supported by pyebpf trace yet")
            raise self.src.error(f"Unknown function: {e.name}", e.pos, e.pos + len(e.name))
        if isinstance(e, A.Sizeof):
            return str(self.sizeof(e))
        if isinstance(e, A.Str):
            raise self.err(e, "a string is not valid here")
        if isinstance(e, A.Tuple):
            raise self.err(e, "a tuple is not an integer")
        raise self.err(e, "this expression is not supported by pyebpf trace")

    def sizeof(self, e: A.Sizeof) -> int:
        """sizeof(type) from the C integer names and the kernel's BTF; sizeof(expr) from the value's type."""
        if e.arg is None:
            if e.ptr:
                return 8
            if e.type in INT_CASTS:
                return INT_CASTS[e.type][0]
            from pyebpf.trace.btfaccess import size_of, struct_id

            sid = struct_id(e.type)
            if sid is None:
                raise self.err(e, f"Unknown struct/union: '{e.type}'" if e.type.split()[0] in ("struct", "union")
                               else f"Unknown type: '{e.type}'")
            return size_of(sid)
        a = e.arg
        if isinstance(a, A.Field) and isinstance(a.obj, A.Builtin) and a.obj.name == "args":
            return int(self._field(a).size)
        if isinstance(a, A.Cast) and not a.ptr and a.type in INT_CASTS:
            return INT_CASTS[a.type][0]
        t = self.type_of(a)
        if t.kind in ("str", "buf", "mac"):
            return t.size
        if t.kind == "tuple":
            raise self.err(e, "sizeof() of a tuple is not supported by pyebpf trace")
        if t.kind == "inet":
            return 24
        if t.kind in ("usym", "ustack"):
            return 16
        return 8

    def cgroupid(self, e: A.Call) -> str:
        if len(e.args) != 1 or not isinstance(e.args[0], A.Str):
            raise self.err(e, "cgroupid() expects a string literal (a cgroup v2 directory)")
        from pyebpf.trace.resolve import cgroup_id

        path = e.args[0].value
        try:
            cid = cgroup_id(path)
            self.deps.append(["cgroup", path, cid])
            return str(cid)
        except OSError as err:
            raise self.err(e, f"Failed to get `cgroupid` for path: \"{path}\": {err.strerror}") from None

    def uaddr(self, e: A.Call) -> str:
        t = self.target
        assert t is not None
        if t.kind not in ("uprobe", "uretprobe", "usdt"):
            raise self.err(e, f"uaddr can not be used with \"{t.kind}\" probes")
        if len(e.args) != 1 or not isinstance(e.args[0], A.Str):
            raise self.err(e, "uaddr() expects a string literal")
        from pyebpf.trace.resolve import user_symbol

        found = user_symbol(t.binary, e.args[0].value)
        if found is None:
            raise self.err(e, f"Could not resolve symbol: {t.binary}:{e.args[0].value}")
        return str(found[0])

    def macaddr(self, e: A.Node, d: int) -> str:
        """macaddr(x): six bytes from a tracepoint's u8[6] field, a struct's array member, or an address."""
        if not isinstance(e, A.Call) or e.name != "macaddr" or len(e.args) != 1:
            raise self.err(e, "macaddr(addr) expected here")
        a = e.args[0]
        if isinstance(a, A.Field) and isinstance(a.obj, A.Builtin) and a.obj.name == "args":
            f = self._field(a)
            if f.count > 1:
                if f.count != 6 or f.size != 1:
                    raise self.err(a, f"macaddr() takes an array of 6 bytes: args->{a.name} has {f.count} "
                                      f"elements of {f.size}")
                return f"ctx.{a.name}"
        user = self._user_memory(a)
        if isinstance(a, A.Field) and not (isinstance(a.obj, A.Builtin) and a.obj.name == "args"):
            t, base = self.access(a.obj) if isinstance(a.obj, (A.Field, A.Index, A.Cast)) or \
                (isinstance(a.obj, A.Unary) and a.obj.op == "*") else (self.type_of(a.obj), self.int_expr(a.obj, 0))
            from pyebpf.trace.btfaccess import member, shape

            found = member(t.btf, a.name) if t.kind in ("ptr", "place") and t.btf else None
            if found is not None and shape(found[1]).kind in ("chars", "array"):
                return f"probe_read_bytes(({base}) + {found[0]}, 6, {2 if t.user else 0})"
        at = self.type_of(a)
        if not at.int_like:
            raise self.err(a, f"macaddr() takes an address or an array of 6 bytes, not {at.text()}")
        return f"probe_read_bytes({self.int_expr(a, d)}, 6, {2 if user else 0})"

    def reg(self, e: A.Call) -> str:
        """reg("ip"): a register of the probed context, checked in bpftrace 0.17's order (probe type, argument
        count, a string literal, a register of this architecture's pt_regs)."""
        from pyebpf.abi.context import PT_REGS

        t = self.target
        assert t is not None
        if t.kind not in REG_CONTEXT:
            raise self.err(e, f'reg can not be used with "{t.kind}" probes')
        if len(e.args) != 1:
            raise self.err(e, f"reg() requires one argument ({len(e.args)} provided)")
        a = e.args[0]
        if not isinstance(a, A.Str):
            at = self.type_of(a)
            given = "integer" if at.int_like else "string" if at.kind == "str" else at.text()
            raise self.err(e, f"reg() expects a string literal ({given} provided)")
        if a.value not in {f.name for f in PT_REGS.fields}:
            import os

            raise self.err(e, f"'{a.value}' is not a valid register on this architecture ({os.uname().machine})")
        return f"s64(ctx.{a.value})"

    def kaddr(self, e: A.Call) -> str:
        if len(e.args) != 1 or not isinstance(e.args[0], A.Str):
            raise self.err(e, "kaddr() expects a symbol name (a string literal)")
        from pyebpf.system.kallsyms import kallsyms

        table = kallsyms()
        addr = table.address(e.args[0].value) if table is not None else None
        if not addr:
            raise self.err(e, f"Failed to resolve kernel symbol: {e.args[0].value}")
        self.deps.append(["boot"])  # kernel addresses move at every boot (KASLR)
        return str(addr)

    # -- strings --------------------------------------------------------------------------------------------------
    def str_operand(self, e: A.Node, t: Type, d: int) -> tuple[str | None, bytes | None, int]:
        """(a local holding the string's bytes, or the literal's bytes; its size)."""
        if isinstance(e, A.Str):
            return None, e.value.encode(), t.size
        if t.kind != "str":
            raise self.err(e, f"cannot compare a string with {t.text()}")
        name = self.fresh("s")
        self.emit(d, f"{name} = {self.value_expr(e, t, d)}")
        return name, None, t.size

    def str_compare(self, e: A.Binary, lt: Type, rt: Type, d: int) -> str:
        if e.op not in ("==", "!="):
            raise self.err(e, f"strings compare with == and != only (not {e.op})")
        a, alit, asize = self.str_operand(e.left, lt, d)
        b, blit, bsize = self.str_operand(e.right, rt, d)
        eq = self._bytes_equal(a, alit, asize, b, blit, bsize, None)
        return f"({eq})" if e.op == "==" else f"(not ({eq}))"

    def strncmp(self, e: A.Call, d: int) -> str:
        if len(e.args) != 3 or _const(e.args[2]) is None:
            raise self.err(e, "strncmp(s1, s2, n) takes two strings and an integer literal")
        n = _const(e.args[2])
        lt, rt = self.type_of(e.args[0]), self.type_of(e.args[1])
        a, alit, asize = self.str_operand(e.args[0], lt, d)
        b, blit, bsize = self.str_operand(e.args[1], rt, d)
        return f"(not ({self._bytes_equal(a, alit, asize, b, blit, bsize, n)}))"

    def _bytes_equal(self, a: str | None, alit: bytes | None, asize: int, b: str | None, blit: bytes | None,
                     bsize: int, limit: int | None) -> str:
        """Equal as C strings (up to the first NUL, at most `limit` bytes). The buffers are NUL-padded (comm(),
        str() into zeroed slots), so comparing every byte up to the shorter size and one NUL past it is exact."""
        if a is None and b is None:
            x, y = alit or b"", blit or b""
            if limit is not None:
                x, y = x[:limit], y[:limit]
            return "1" if x.split(b"\0")[0] == y.split(b"\0")[0] else "0"
        if a is None:
            a, alit, asize, b, blit, bsize = b, blit, bsize, a, alit, asize
        assert a is not None
        if b is None:  # against a literal: its bytes and its NUL
            lit = (blit or b"").split(b"\0")[0] + b"\0"
            k = len(lit) if limit is None else min(limit, len(lit))
            if k > asize:
                if limit is None:
                    return "0"  # the buffer cannot hold the literal and its NUL
                k = asize
            return self._lit_cmp(a, lit[:k], asize)
        n = min(asize, bsize)
        if limit is not None:
            n = min(n, limit)
        parts = [f"{a}[{i}] == {b}[{i}]" for i in range(n)]
        if limit is None or limit > n:
            if asize > n:
                parts.append(f"{a}[{n}] == 0")
            if bsize > n:
                parts.append(f"{b}[{n}] == 0")
        return " and ".join(parts) or "1"

    @staticmethod
    def _lit_cmp(a: str, lit: bytes, size: int) -> str:
        lit = lit[:size]
        return " and ".join(f"{a}[{i}] == {c}" for i, c in enumerate(lit)) or "1"


_PYOP = {"/": "//", "&&": "and", "||": "or"}


def _py_bytes(text: str) -> str:
    return repr(text.encode())


def _const(e: A.Node) -> int | None:
    if isinstance(e, A.Int):
        return e.value
    if isinstance(e, A.Unary) and e.op == "-" and isinstance(e.arg, A.Int):
        return -e.arg.value
    return None


def _types_text(ts: list[Type]) -> str:
    return "[" + ", ".join(t.text() for t in ts) + "]"


def _system_fields(category: str, name: str) -> list[Any]:
    from pyebpf.compiler.context import SYSTEM

    return SYSTEM.tracepoint_fields(category, name)


def translate(program: A.Program, src: Source, **kw: Any) -> Translation:
    return Translator(program, src, **kw).translate()


__all__ = ["translate", "Translation", "MapDecl", "Record", "AttachTarget", "tracepoint_events", "STRLEN"]
