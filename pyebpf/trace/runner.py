"""Compile a bpftrace script with pyebpf's compiler, load and attach it, print what bpftrace prints.

BEGIN and END are raw-tracepoint programs run once with BPF_PROG_TEST_RUN (bpftrace runs them from uprobes on
itself); the other probes are attached. printf/exit/print/clear/zero/time records arrive on one ring buffer and
are handled in the order the kernel wrote them.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from typing import Any, Callable, TextIO

from pyebpf.trace.artifact import Artifact
from pyebpf.trace.errors import TraceError
from pyebpf.trace.output import Buf, Hex, MapPrinter, Stack, Tup, format_printf, jsonable


class Compiled:
    """A script ready to run: its artifact (what is loaded), and when it was compiled in this process, the
    translation and the pyebpf.probe Probes (for --dry-run and -v: our verifier, the disassembly). (A plain class:
    a dataclass costs its start-up about 0.3 ms to build.)"""

    def __init__(self, artifact: Artifact, translation: Any = None, probes: dict[str, Any] | None = None,
                 source: Any = None, cached: bool = False):
        self.artifact = artifact
        self.translation = translation
        self.probes: dict[str, Any] = {} if probes is None else probes  # python function name -> Probe
        self.source = source
        self.cached = cached

    @property
    def targets(self) -> list[tuple[str, Any]]:
        return self.artifact.targets


def compile_script(text: str, name: str = "stdin", **kw: Any) -> Compiled:
    """Parse, check and translate; compile every probe (errors as bpftrace-shaped TraceErrors)."""
    return _compile(text, name, **kw)[0]


def _compile(text: str, name: str = "stdin", **kw: Any) -> tuple[Compiled, list[Any]]:
    """(the compiled script, what its compilation read from the machine: pyebpf.trace.cache's dependencies)."""
    import tempfile

    from pyebpf.errors import CompileError
    from pyebpf.probe.module import load_module, probes_of
    from pyebpf.trace.artifact import from_compiled
    from pyebpf.trace.codegen import translate
    from pyebpf.trace.parser import Parser

    parser = Parser(text, name)
    program = parser.parse()
    try:
        tr = translate(program, parser.src, **kw)
    finally:
        if "pyebpf.trace.btfaccess" in sys.modules:  # answers the kernel's BTF gave, kept for the next run
            sys.modules["pyebpf.trace.btfaccess"].flush()
    fd, path = tempfile.mkstemp(prefix="pyebpf_trace_", suffix=".py")
    try:
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
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    art = from_compiled(tr, module, probes)
    return Compiled(art, tr, probes, parser.src), [tr.deps, parser.headers]


def prepare(text: str, name: str = "stdin", *, pid: int | None = None, unsafe: bool = False,
            cpid: int | None = None, use_cache: bool = True) -> Compiled:
    """The script's programs: from the cache when an entry for this script, options, pyebpf and kernel build is
    there and still fresh (nothing of the compiler imported), else compiled now and stored for the next run."""
    from pyebpf.trace import cache

    k = cache.key(text, unsafe=unsafe, cpid=cpid is not None) if use_cache and cache.enabled() else None
    if k is not None:
        art = cache.load(k)
        if art is not None:
            return Compiled(art, cached=True)
    comp, (deps, headers) = _compile(text, name, pid=pid, unsafe=unsafe, cpid=cpid)
    if k is not None:
        cache.store(k, comp.artifact, cache.snapshot(deps, headers))
    return comp


class Runtime:
    """The artifact's kernel objects: its shared maps (created here, read by the printer), the event ring buffer's
    reader, and the programs as they are loaded."""

    def __init__(self, art: Artifact):
        from pyebpf.loader.maps import create_map
        from pyebpf.loader.ringbuf import RingBuffer

        self.art = art
        self.kmaps: dict[str, Any] = {}
        try:
            for name, spec in art.shared.items():
                self.kmaps[name] = create_map(spec)
            self.events = RingBuffer(self.kmaps[art.globals["EVENTS"]])
        except BaseException:
            self.close()
            raise

    def map(self, py: str) -> Any:
        return self.kmaps[self.art.globals[py]]

    def lost(self) -> int:
        """Records the probes could not write (the event ring buffer was full): LOST's per-CPU counts added up."""
        raw = self.kmaps[self.art.globals["LOST"]].lookup_raw(bytes(4)) or b""
        return sum(int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw) - 7, 8))

    def stack(self, stack_id: int) -> list[int]:
        """The instruction pointers of stack `stack_id`, innermost first ([] when unknown)."""
        name = self.art.globals.get("STACKS")
        if name is None:
            return []
        raw = self.kmaps[name].lookup_raw(stack_id.to_bytes(4, "little"))
        if raw is None:
            return []
        words = (int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw) - 7, 8))
        return [ip for ip in words if ip]

    def load(self, i: int, consts: dict[str, int]) -> Any:
        """Program `i` loaded (not attached) with the shared maps; its .rodata holds `consts`."""
        from pyebpf.errors import LoaderError
        from pyebpf.loader.program import load

        prog = self.art.program(i, consts)
        target = self.art.programs[i].target
        try:
            return load(prog, maps={n: m for n, m in self.kmaps.items() if n in prog.maps})
        except LoaderError as e:
            raise TraceError(f"{target.name}: the kernel refused the program: {e.message}") from None

    def close(self) -> None:
        ev = getattr(self, "events", None)
        if ev is not None:
            ev.close()
        for m in self.kmaps.values():
            m.close()
        self.kmaps = {}


class Decoder:
    """Raw map keys/values and record fields -> the values bpftrace prints (names, symbols, stacks, tuples)."""

    def __init__(self, art: Artifact, rt: Runtime | None = None):
        self.art = art
        self.rt = rt
        self._ksyms: Any = None
        self._usyms: dict[int, Any] = {}

    def kernel(self) -> Any:
        if self._ksyms is None:
            from pyebpf.system.symbolize import KernelSymbolizer

            self._ksyms = KernelSymbolizer()
        return self._ksyms

    def user(self, pid: int) -> Any:
        sym = self._usyms.get(pid)
        if sym is None:
            from pyebpf.system.symbolize import ProcessSymbolizer

            try:
                sym = ProcessSymbolizer(pid)
            except Exception:  # noqa: BLE001 - a process gone: addresses print as hex, as bpftrace
                sym = None
            self._usyms[pid] = sym
        return sym

    def stack(self, t: Any, stack_id: int, pid: int | None) -> Stack:
        if self.rt is None or stack_id < 0 or stack_id >= 1 << 31:
            return Stack([])
        addrs = self.rt.stack(stack_id)[:t.size]
        if pid is None:
            frames = [f.format() for f in self.kernel().stack(addrs)]
        else:
            sym = self.user(pid)
            frames = [f.format() for f in sym.stack(addrs)] if sym is not None else [f"0x{a:x}" for a in addrs]
        return Stack(frames)

    def value(self, t: Any, v: Any) -> Any:
        k = t.kind
        if k == "str":
            raw = bytes(v) if not isinstance(v, bytes) else v
            return raw.split(b"\0", 1)[0].decode(errors="replace")
        if k in ("probe", "func"):
            names = self.art.strings
            return names[v] if 0 <= v < len(names) else str(v)
        if k == "kstack":
            return self.stack(t, int(v), None)
        if k == "ustack":
            return self.stack(t, int(v.a) & 0xFFFFFFFF if int(v.a) >= 0 else -1, int(v.b))
        if k == "ksym":
            f = self.kernel().resolve(int(v) & (2 ** 64 - 1))
            return f.name if f.name else f"0x{int(v) & (2 ** 64 - 1):x}"
        if k == "usym":
            sym = self.user(int(v.b))
            addr = int(v.a) & (2 ** 64 - 1)
            f = sym.resolve(addr) if sym is not None else None
            return f.name if f is not None and f.name else (f"0x{addr:x}" if addr else "0")
        if k == "inet":
            import ipaddress

            words = [int(v.a0), int(v.a1), int(v.a2), int(v.a3)]
            raw = b"".join(w.to_bytes(4, "little") for w in words)
            return str(ipaddress.IPv6Address(raw)) if int(v.af) == 10 else str(ipaddress.IPv4Address(raw[:4]))
        if k == "buf":
            return Buf(bytes(v)[:t.size])
        if k == "ptr":
            return Hex(int(v) & (2 ** 64 - 1))
        if k == "mac":
            raw = bytes(v)[:6].ljust(6, b"\0")  # (ctypes char arrays stop at a NUL: read the raw bytes)
            return ":".join(f"{b:02X}" for b in raw)
        if k == "strftime":
            return strftime(t.fmt, int(v))
        if k == "tuple":
            return Tup(self.value(e, getattr(v, f"e{i}")) for i, e in enumerate(t.elems))
        return int(v)


def strftime(fmt: str, nsecs: int) -> str:
    """bpftrace's strftime: `nsecs` on the monotonic clock (nsecs) as wall-clock time."""
    wall = time.time_ns() - (time.monotonic_ns() - nsecs)
    return time.strftime(fmt, time.localtime(wall / 1e9))


def _decode_record(art: Artifact, data: bytes, dec: Decoder) -> tuple[Any, list[Any]]:
    rid = int.from_bytes(data[:8], "little", signed=True)
    rec = art.records.get(rid)
    if rec is None:
        return None, []
    if not rec.types:
        return rec, []
    cls = art.classes[f"R{rid}"]
    obj = cls.from_buffer_copy(data[:ctypes.sizeof(cls)].ljust(ctypes.sizeof(cls), b"\0"))
    args = []
    for i, t in enumerate(rec.types):
        if t.kind == "lit":
            args.append(rec.literals[i])
            continue
        args.append(dec.value(t, getattr(obj, f"a{i}")))
    return rec, args


def _sum_percpu(values: Any) -> Any:
    """A per-CPU value (a list, one per possible CPU) added up: integers, or structures field by field."""
    if not isinstance(values, list):
        return values
    first = values[0]
    if isinstance(first, tuple):  # a structure value (named tuple): total/count
        return type(first)(*[sum(getattr(v, f) for v in values) for f in first._fields])
    return sum(values)


def map_entries(rt: Runtime, name: str, dec: Decoder | None = None) -> dict[tuple[Any, ...], Any]:
    """The map's contents as printable keys -> values (hist/lhist buckets gathered per key)."""
    from pyebpf.abi.frozen import frozen

    decl = rt.art.maps[name]
    m = rt.map(decl.py)
    dec = dec or Decoder(rt.art, rt)
    out: dict[tuple[Any, ...], Any] = {}
    nkeys = len(decl.keys or [])
    for k, v in m.items():
        v = _sum_percpu([frozen(x) for x in v] if isinstance(v, list) else frozen(v))
        key = []
        for i in range(nkeys):
            key.append(dec.value(decl.keys[i], getattr(k, f"k{i}")))  # type: ignore[index]
        kt = tuple(key)
        if decl.bucketed:
            out.setdefault(kt, {})[k.bucket] = out.get(kt, {}).get(k.bucket, 0) + int(v)
        elif decl.kind in ("avg", "stats"):
            out[kt] = (v.total, v.count)
        elif not decl.value.int_like:
            out[kt] = dec.value(decl.value, v.s)
        else:
            out[kt] = dec.value(decl.value, v)
    return out


def printer(art: Artifact, name: str, top: int = 0, div: int = 0) -> MapPrinter:
    d = art.maps[name]
    return MapPrinter(name, d.kind, d.lhist, top, div)


class Session:
    """One run's state: its runtime, where records go (text or JSON), what is loaded, whether exit() ran."""

    def __init__(self, rt: Runtime, out: TextIO = sys.stdout, json: bool = False):
        self.rt = rt
        self.out = out
        self.json = json
        self.exited = False
        self.exited_by_child = False
        self.loaded: list[Any] = []
        self.joins: dict[int, list[str]] = {}
        self.lost = 0  # lost records already reported
        self.art = rt.art
        self.dec = Decoder(self.art, rt)

    def report_lost(self) -> None:
        """As bpftrace: `Lost N events` for the records lost since the last report (JSON: a lost_events object)."""
        total = self.rt.lost()
        if total > self.lost:
            n, self.lost = total - self.lost, total
            self.emit_json("lost_events", {"events": n}) if self.json else self.out.write(f"Lost {n} events\n")

    def emit_json(self, kind: str, data: Any) -> None:
        import json

        self.out.write(json.dumps({"type": kind, "data": data}) + "\n")

    def write(self, kind: str, text: str) -> None:
        self.emit_json(kind, text) if self.json else self.out.write(text)

    def handle(self, data: bytes) -> None:
        if self.exited:
            return
        rec, args = _decode_record(self.art, data, self.dec)
        if rec is None:
            return
        if rec.action == "printf":
            self.write("printf", format_printf(rec.fmt, args))
        elif rec.action == "system":
            self.out.flush()
            self.write("system", run_system(format_printf(rec.fmt, args)))
        elif rec.action == "time":
            self.write("time", time.strftime(rec.fmt))
        elif rec.action == "exit":
            self.exited = True
        elif rec.action == "print":
            self.print_map(rec.map, rec.top, rec.div)
        elif rec.action == "value":
            v = args[0]
            if self.json:
                self.emit_json("value", jsonable(v))
            else:
                self.out.write((v.text(8) if isinstance(v, Stack) else str(v)) + "\n")
        elif rec.action == "join_part":
            parts = self.joins.setdefault(args[0], [])
            if len(parts) < 64:
                parts.append(args[1])
        elif rec.action == "join_end":
            # the end record carries only the thread id: read it from the raw record
            tid = int.from_bytes(data[8:16], "little", signed=True)
            self.write("join", rec.fmt.join(self.joins.pop(tid, [])) + "\n")
        elif rec.action == "cat":
            try:
                with open(rec.fmt, errors="replace") as f:
                    text = f.read(1 << 16)
            except OSError as e:
                text = f"ERROR: failed to open file '{rec.fmt}': {e.strerror}\n"
            self.write("cat", text)
        elif rec.action in ("clear", "zero"):
            self.clear_map(rec.map, rec.action == "zero")
        # flushed once per batch of records by the caller: a printf and the join() that ends its line reach the
        # terminal in one write, not split around a traced command's own output

    def print_map(self, name: str, top: int = 0, div: int = 0) -> None:
        p = printer(self.art, name, top, div)
        entries = map_entries(self.rt, name, self.dec)
        decl = self.art.maps[name]
        if not entries and not decl.keys and decl.kind in ("count", "sum", "min", "max", "value") and \
                decl.value.int_like:
            entries = {(): 0}  # bpftrace reads a keyless map's one slot: 0 when cleared or never written
        if self.json:
            if entries:
                self.out.write(p.json(entries) + "\n")
        else:
            self.out.write(p.text(entries))

    def clear_map(self, name: str, zero: bool) -> None:
        from pyebpf.errors import MapError

        m = self.rt.map(self.art.maps[name].py)
        for raw in list(m.keys_raw()):
            if not zero:
                try:
                    m.delete_raw(raw)
                except MapError:
                    pass  # gone meanwhile
                continue
            value = m.lookup_raw(raw)
            if value is not None:  # every byte of every CPU's value zeroed, the key kept (bpftrace's zero())
                m.update_raw(raw, bytes(len(value)))

    def print_all(self) -> None:
        self.out.write("\n\n")
        for name in sorted(self.art.maps):
            self.print_map(name)
        self.out.flush()


def run_system(command: str) -> str:
    """system() (--unsafe): the command run by /bin/sh, as bpftrace's popen() runs it; its output, to be printed
    where the call's record lands (bpftrace prints it as it reads it)."""
    import subprocess

    try:
        p = subprocess.run(["/bin/sh", "-c", command], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"ERROR: system() of '{command}' failed: {e}\n"
    return p.stdout.decode(errors="replace")


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


def _alive(pid: int) -> bool:
    """The -p process still runs (a zombie has ended: its parent just has not reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def which(name: str) -> str | None:
    """shutil.which(name) on POSIX, without importing shutil (it brings bz2, lzma and fnmatch: ~3 ms of a start-up
    measured against bpftrace's): a name with a directory part is checked as given; otherwise the first entry of
    $PATH (CS_PATH when it is unset; nothing when it is empty) where it exists, is executable and is no directory."""
    def usable(path: str) -> bool:
        return os.path.exists(path) and os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)

    if os.path.dirname(name):
        return name if usable(name) else None
    path = os.environ.get("PATH", None)
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen: set[str] = set()
    for d in os.fsdecode(path).split(os.pathsep):
        if d not in seen:
            seen.add(d)
            candidate = os.path.join(d, name)
            if usable(candidate):
                return candidate
    return None


def start_command(command: str) -> tuple[_Child, int]:
    """Fork the -c command, held (reading a pipe before exec) until the probes are attached: (child, gate fd to
    close to let it run). Started before compiling, so the script's `cpid` is known."""
    import shlex

    argv = shlex.split(command)
    if not argv:
        raise TraceError("-c needs a command")
    exe = which(argv[0])
    if exe is None:
        raise TraceError(f"failed to run command '{command}': {argv[0]} not found")
    gate_r, gate_w = os.pipe()
    child_pid = os.fork()
    if child_pid == 0:  # pragma: no cover - the child: wait for the gate, then become the command
        try:
            os.close(gate_w)
            if not os.read(gate_r, 1):
                pass
            os.close(gate_r)
            os.execv(exe, argv)
        finally:
            os._exit(127)
    os.close(gate_r)
    return _Child(child_pid), gate_w


def _attach(lp: Any, t: Any, pid: int | None) -> None:
    """Attach a loaded program the way its probe kind says (sections alone cannot: perf events, USDT sites)."""
    k = lp
    if t.kind in ("uprobe", "uretprobe"):
        k.attach_uprobe(t.binary, t.symbol, offset=t.offset, retprobe=t.kind == "uretprobe",
                        pid=pid if pid is not None else -1)
    elif t.kind == "usdt":
        k.attach_uprobe(t.binary, None, offset=t.offset, pid=pid if pid is not None else -1,
                        ref_ctr_offset=t.semaphore)
    elif t.kind in ("interval", "profile", "software", "hardware"):
        k._attach("attach_perf_event", **t.perf)
    elif t.kind == "tracepoint":  # (by kind, not through the SEC() table: that imports every attacher)
        k._attach("attach_tracepoint", t.category, t.event)
    elif t.kind == "rawtracepoint":
        k._attach("attach_raw_tracepoint", t.event)
    else:
        k.attach()


def run(comp: Compiled, *, out: TextIO = sys.stdout, json_mode: bool = False, command: str | None = None,
        pid: int | None = None, duration: float | None = None,
        on_attached: Callable[[], None] | None = None, child: Any = None, gate_w: int = -1) -> int:
    """Load, attach, stream records; at exit(), SIGINT, the command's or process's end: END, then every map."""
    from pyebpf.errors import LoaderError

    art = comp.artifact
    rc = 0
    if command is not None and child is None:
        child, gate_w = start_command(command)
    # load-time values kept in the programs' .rodata (the same whether the programs were compiled now or cached)
    consts = {"cpid": child.pid if child is not None else 0, "start": time.monotonic_ns()}
    kinds = [p.target.kind for p in art.programs]
    begin = [i for i, k in enumerate(kinds) if k == "BEGIN"]
    end = [i for i, k in enumerate(kinds) if k == "END"]
    others = [i for i, k in enumerate(kinds) if k not in ("BEGIN", "END")]
    n = len(kinds)
    rt: Runtime | None = None
    loaded: dict[int, Any] = {}
    sess: Session | None = None
    try:
        rt = Runtime(art)
        events = rt.events
        sess = Session(rt, out, json_mode)
        # the kernel verifies what it loads; pyebpf's verifier runs for --dry-run and -v only (start-up time)
        for i in begin + end + others:
            loaded[i] = rt.load(i, consts)
        if json_mode:
            sess.emit_json("attached_probes", {"probes": n})
        else:
            out.write(f"Attaching {n} probe{'s' if n != 1 else ''}...\n")
        out.flush()
        # as bpftrace: BEGIN runs (and what it prints is printed) before the other probes are attached, so no
        # event of another process lands between the header and BEGIN's lines on a busy machine
        for i in begin:
            loaded[i].run(_raw_tp_args())
        def drain() -> None:
            for r in events.read(timeout=0):
                sess.handle(r)
            sess.report_lost()
            out.flush()
        drain()
        out.flush()
        for i in others:
            t = art.programs[i].target
            try:
                _attach(loaded[i], t, pid)
            except LoaderError as e:
                raise TraceError(f"{t.name}: cannot attach: {e.message}") from None
        if on_attached:
            on_attached()
        if gate_w >= 0:  # as bpftrace: the command starts after BEGIN has printed
            os.close(gate_w)
            gate_w = -1
        deadline = None if duration is None else time.monotonic() + duration
        old = signal.getsignal(signal.SIGINT)
        got_sigint = []
        signal.signal(signal.SIGINT, lambda *a: got_sigint.append(1))
        try:
            while not sess.exited and not got_sigint:
                t0 = time.monotonic()
                records = events.read(timeout=0.1)
                if not records and time.monotonic() - t0 < 0.05:
                    # no probe writes records (the ring buffer is not in the kernel): read() cannot wait on it,
                    # and a busy loop here would take a CPU from the traced workload
                    time.sleep(0.1)
                for r in records:
                    sess.handle(r)
                    if sess.exited:
                        break
                sess.report_lost()
                out.flush()
                if child is not None and child.poll() is not None:
                    sess.exited_by_child = True
                    drain()
                    break
                if pid is not None and not _alive(pid):
                    drain()
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    drain()
                    break
        finally:
            signal.signal(signal.SIGINT, old)
        # as bpftrace: the probes are detached before END runs, so END's clear() and the maps printed at the
        # end see no later events (the records already written are handled first)
        if end:
            drain()
            for i in others:
                loaded.pop(i).close()
        for i in end:
            sess.exited = False
            loaded[i].run(_raw_tp_args())
            for r in events.read(timeout=0):
                sess.handle(r)
            sess.report_lost()
            out.flush()
        sess.report_lost()
        sess.exited = True
        sess.print_all()
    finally:
        if gate_w >= 0:
            os.close(gate_w)
        for lp in loaded.values():
            lp.close()
        if rt is not None:
            rt.close()
        if child is not None:
            if child.poll() is None and not (sess is not None and sess.exited_by_child):
                child.terminate()
            rc = child.wait()
    return (rc if rc >= 0 else 128 - rc) if child is not None else 0


def _raw_tp_args() -> Any:
    """BEGIN/END's context for BPF_PROG_TEST_RUN: one zero u64 argument (they are raw tracepoint programs)."""
    return (ctypes.c_uint64 * 1)(0)


__all__ = ["compile_script", "prepare", "run", "start_command", "Compiled", "Runtime", "map_entries", "Decoder"]
