"""Compile a bpftrace script with pyebpf's compiler, load and attach it, print what bpftrace prints.

BEGIN and END are raw-tracepoint programs run once with BPF_PROG_TEST_RUN (bpftrace runs them from uprobes on
itself); the other probes are attached. printf/exit/print/clear/zero/time records arrive on one ring buffer and
are handled in the order the kernel wrote them.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from pyebpf.errors import CompileError
from pyebpf.trace.codegen import Translation, translate
from pyebpf.trace.errors import TraceError
from pyebpf.trace.output import MapPrinter, format_printf
from pyebpf.trace.parser import Parser


@dataclass
class Compiled:
    translation: Translation
    module: Any
    probes: dict[str, Any]  # python function name -> Probe
    path: str
    source: Any

    @property
    def attached(self) -> list[tuple[Any, Any]]:
        return [(self.probes[f], t) for f, t in self.translation.targets if t.kind not in ("BEGIN", "END")]

    def special(self, kind: str) -> list[Any]:
        return [self.probes[f] for f, t in self.translation.targets if t.kind == kind]


def compile_script(text: str, name: str = "stdin", **kw: Any) -> Compiled:
    """Parse, check and translate; compile every probe (errors as bpftrace-shaped TraceErrors)."""
    from pyebpf.probe.module import load_module, probes_of

    parser = Parser(text, name)
    program = parser.parse()
    tr = translate(program, parser.src, **kw)
    fd, path = tempfile.mkstemp(prefix="pyebpf_trace_", suffix=".py")
    with os.fdopen(fd, "w") as f:
        f.write(tr.module)
    try:
        module = load_module(path)
    except CompileError as e:
        raise TraceError(f"internal translation error: {e.message}", name) from None
    probes = {p.fn.__name__: p for p in probes_of(module)}
    for fname, target in tr.targets:
        try:
            probes[fname].compile()
        except CompileError as e:
            raise TraceError(f"{target.name}: pyebpf cannot compile this probe: {e.message}"
                             + (f" (generated line: {e.source_line.strip()})" if e.source_line else ""),
                             name) from None
    return Compiled(tr, module, probes, path, parser.src)


def _decode_record(comp: Compiled, data: bytes) -> tuple[Any, list[Any]]:
    rid = int.from_bytes(data[:8], "little", signed=True)
    rec = comp.translation.records.get(rid)
    if rec is None:
        return None, []
    if not rec.types:
        return rec, []
    cls = getattr(comp.module, f"R{rid}")
    obj = cls.from_buffer_copy(data[:ctypes.sizeof(cls)].ljust(ctypes.sizeof(cls), b"\0"))
    args = []
    for i, t in enumerate(rec.types):
        if t.kind == "lit":
            args.append(rec.literals[i])
            continue
        v = getattr(obj, f"a{i}")
        if t.kind == "str":
            args.append(v.split(b"\0", 1)[0].decode(errors="replace") if isinstance(v, bytes) else str(v))
        elif t.kind == "probe":
            args.append(comp.translation.probe_names[v])
        else:
            args.append(v)
    return rec, args


def map_entries(comp: Compiled, name: str) -> dict[tuple[Any, ...], Any]:
    """The map's contents as printable keys -> values (hist/lhist buckets gathered per key)."""
    decl = comp.translation.maps[name]
    m = getattr(comp.module, decl.py)
    out: dict[tuple[Any, ...], Any] = {}
    nkeys = len(decl.keys or [])
    for k, v in m.items():
        key = []
        for i in range(nkeys):
            kv = getattr(k, f"k{i}")
            t = decl.keys[i]  # type: ignore[index]
            if t.kind == "str":
                kv = kv.split(b"\0", 1)[0].decode(errors="replace")
            elif t.kind == "probe":
                kv = comp.translation.probe_names[kv]
            key.append(kv)
        kt = tuple(key)
        if decl.bucketed:
            out.setdefault(kt, {})[k.bucket] = out.get(kt, {}).get(k.bucket, 0) + int(v)
        elif decl.kind in ("avg", "stats"):
            out[kt] = (v.total, v.count)
        elif decl.value.kind == "str":
            out[kt] = v.s.split(b"\0", 1)[0].decode(errors="replace")
        else:
            out[kt] = v
    return out


def printer(comp: Compiled, name: str) -> MapPrinter:
    d = comp.translation.maps[name]
    return MapPrinter(name, d.kind, d.lhist)


@dataclass
class Session:
    comp: Compiled
    out: TextIO = sys.stdout
    json: bool = False
    exited: bool = False
    exited_by_child: bool = False
    loaded: list[Any] = field(default_factory=list)

    def emit_json(self, kind: str, data: Any) -> None:
        self.out.write(json.dumps({"type": kind, "data": data}) + "\n")

    def handle(self, data: bytes) -> None:
        if self.exited:
            return
        rec, args = _decode_record(self.comp, data)
        if rec is None:
            return
        if rec.action == "printf":
            text = format_printf(rec.fmt, args)
            if self.json:
                self.emit_json("printf", text)
            else:
                self.out.write(text)
        elif rec.action == "time":
            text = time.strftime(rec.fmt)
            self.emit_json("time", text) if self.json else self.out.write(text)
        elif rec.action == "exit":
            self.exited = True
        elif rec.action == "print":
            self.print_map(rec.map)
        elif rec.action in ("clear", "zero"):
            self.clear_map(rec.map, rec.action == "zero")
        self.out.flush()

    def print_map(self, name: str) -> None:
        p = printer(self.comp, name)
        entries = map_entries(self.comp, name)
        if self.json:
            if entries:
                self.out.write(p.json(entries) + "\n")
        else:
            self.out.write(p.text(entries))

    def clear_map(self, name: str, zero: bool) -> None:
        m = getattr(self.comp.module, self.comp.translation.maps[name].py)
        if not zero:
            m.clear()
            return
        for k in list(m):
            v = m[k]
            m[k] = type(v)(*([0] * len(v))) if isinstance(v, tuple) else 0

    def print_all(self) -> None:
        if not self.json:
            self.out.write("\n\n")
        for name in sorted(self.comp.translation.maps):
            self.print_map(name)
        self.out.flush()


class _Child:
    """The -c command (forked here so it can wait for the probes before exec)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def terminate(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def run(comp: Compiled, *, out: TextIO = sys.stdout, json_mode: bool = False, command: str | None = None,
        pid: int | None = None, duration: float | None = None,
        on_attached: Callable[[], None] | None = None) -> int:
    """Load, attach, stream records; at exit(), SIGINT, the command's or process's end: END, then every map."""
    from pyebpf.probe.probe import load_all

    tr = comp.translation
    events = comp.module.EVENTS
    sess = Session(comp, out, json_mode)
    child = None
    rc = 0
    gate_r = gate_w = -1
    if command is not None:
        import shlex

        # the command starts now but waits (reading a pipe before exec) until the probes are attached
        gate_r, gate_w = os.pipe()
        argv = shlex.split(command)
        if not argv:
            raise TraceError("-c needs a command")
        import shutil

        exe = shutil.which(argv[0])
        if exe is None:
            os.close(gate_r)
            os.close(gate_w)
            raise TraceError(f"failed to run command '{command}': {argv[0]} not found")
        child_pid = os.fork()
        if child_pid == 0:  # pragma: no cover - the child: wait for the gate, then become the command
            try:
                os.close(gate_w)
                os.read(gate_r, 1)
                os.close(gate_r)
                os.execv(exe, argv)
            finally:
                os._exit(127)
        os.close(gate_r)
        child = _Child(child_pid)
    attached = [p for p, _ in comp.attached]
    begin, end = comp.special("BEGIN"), comp.special("END")
    n = len(tr.targets)
    loaded_special: list[Any] = []
    loaded: list[Any] = []
    try:
        # the kernel verifies what it loads; pyebpf's verifier runs for --dry-run and -v only (start-up time)
        loaded_special = load_all(begin + end, attach=False, verify=False) if begin or end else []
        loaded = load_all(attached, verify=False) if attached else []
        if json_mode:
            sess.emit_json("attached_probes", {"probes": n})
        else:
            out.write(f"Attaching {n} probe{'s' if n != 1 else ''}...\n")
        out.flush()
        if on_attached:
            on_attached()
        for lp in loaded_special[:len(begin)]:
            lp.run(args=[0])
        drain = lambda: [sess.handle(r) for r in events.read(timeout=0)]  # noqa: E731
        drain()
        out.flush()
        if gate_w >= 0:  # as bpftrace: the command starts after BEGIN has printed
            os.close(gate_w)
            gate_w = -1
        deadline = None if duration is None else time.monotonic() + duration
        interrupted = False
        old = signal.getsignal(signal.SIGINT)
        got_sigint = []
        signal.signal(signal.SIGINT, lambda *a: got_sigint.append(1))
        try:
            while not sess.exited and not got_sigint:
                for r in events.read(timeout=0.1):
                    sess.handle(r)
                    if sess.exited:
                        break
                if child is not None and child.poll() is not None:
                    sess.exited_by_child = True
                    drain()
                    break
                if pid is not None and not os.path.exists(f"/proc/{pid}"):
                    drain()
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    drain()
                    break
        finally:
            signal.signal(signal.SIGINT, old)
        for lp in loaded_special[len(begin):]:
            sess.exited = False
            lp.run(args=[0])
            for r in events.read(timeout=0):
                sess.handle(r)
        sess.exited = True
        sess.print_all()
    finally:
        if gate_w >= 0:
            os.close(gate_w)
        for lp in loaded + loaded_special:
            lp.close()
        if child is not None:
            if child.poll() is None and not sess.exited_by_child:
                child.terminate()
            rc = child.wait()
        try:
            os.unlink(comp.path)
        except OSError:
            pass
    return (rc if rc >= 0 else 128 - rc) if command is not None else 0


__all__ = ["compile_script", "run", "Compiled", "map_entries"]
