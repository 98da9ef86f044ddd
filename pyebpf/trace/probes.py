"""bpftrace attach points -> what pyebpf loads and attaches (one AttachTarget per expanded probe), and `-l`.

One table, PROBE_KINDS, says per probe type how its text is read and expanded (wildcards against tracefs, ELF
symbols or USDT notes), the libbpf section it compiles for, and how it attaches. Kinds the kernel here cannot
give (kprobes, fentry: no kprobe_events, fentry refused) are reported as such, not as a syntax error.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from pyebpf.trace.errors import Source, TraceError

if TYPE_CHECKING:  # only in annotations: a cached script's start-up does not import the syntax tree
    from pyebpf.trace import ast as A

PROBE_ALIASES = {"t": "tracepoint", "rt": "rawtracepoint", "k": "kprobe", "kr": "kretprobe", "u": "uprobe",
                 "ur": "uretprobe", "i": "interval", "p": "profile", "s": "software", "h": "hardware", "U": "usdt",
                 "f": "kfunc", "fr": "kretfunc", "w": "watchpoint", "aw": "asyncwatchpoint"}

#: bpftrace's software event names -> perf's (pyebpf.abi.perf_event.SAMPLING_EVENTS) and default period
SOFTWARE_EVENTS = {"cpu-clock": ("cpu-clock", 1000000), "cpu": ("cpu-clock", 1000000),
                   "task-clock": ("task-clock", 1000000), "page-faults": ("page-faults", 100),
                   "faults": ("page-faults", 100), "context-switches": ("context-switches", 1000),
                   "cs": ("context-switches", 1000), "cpu-migrations": ("cpu-migrations", 1),
                   "minor-faults": ("minor-faults", 100), "major-faults": ("major-faults", 1)}
HARDWARE_EVENTS = {"cpu-cycles": ("cycles", 1000000), "cycles": ("cycles", 1000000),
                   "instructions": ("instructions", 1000000), "cache-references": ("cache-references", 1000000),
                   "cache-misses": ("cache-misses", 1000000), "branch-instructions": ("branches", 100000),
                   "branches": ("branches", 100000), "branch-misses": ("branch-misses", 100000),
                   "bus-cycles": ("bus-cycles", 100000), "ref-cycles": ("ref-cycles", 1000000)}
#: interval/profile units -> nanoseconds per unit (hz is a frequency)
TIME_UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000}


@dataclass
class AttachTarget:
    """One program to load: `kind` (BEGIN END tracepoint rawtracepoint uprobe uretprobe usdt interval profile
    software hardware), the section it compiles for, `name` (what `probe` prints) and how it attaches."""

    kind: str
    section: str
    name: str
    category: str = ""
    event: str = ""
    binary: str = ""
    symbol: str = ""
    offset: int = 0
    usdt: Any = None  # pyebpf.loader.usdt.UsdtProbe: the site (its argument specs)
    perf: dict[str, Any] = field(default_factory=dict)  # attach_perf_event keyword arguments
    semaphore: int = 0  # usdt: the semaphore's file offset (0: none), raised by the kernel while attached

    @property
    def func(self) -> str:
        return self.symbol or self.event


def tracepoint_events(categories: str = "*") -> list[tuple[str, str]]:
    """(category, name) of every tracepoint, or of those whose category matches the glob `categories`."""
    from pyebpf.system.tracefs import tracefs_path

    root = tracefs_path("events")
    out = []
    for cat in sorted(os.listdir(root)):
        d = os.path.join(root, cat)
        if not fnmatch.fnmatchcase(cat, categories) or not os.path.isdir(d):
            continue
        for ev in sorted(os.listdir(d)):
            if os.path.isfile(os.path.join(d, ev, "format")):
                out.append((cat, ev))
    return out


def _wild(text: str) -> bool:
    return any(c in text for c in "*?[")


def _binary(src: Source, ap: A.AttachPoint, path: str, deps: list[Any] | None = None) -> str:
    from pyebpf.errors import LoaderError
    from pyebpf.loader.attach.elfsym import resolve_binary

    try:
        found = resolve_binary(path)
        if deps is not None:  # what the name resolved to, and the file: a cached program is only as good as both
            deps.append(["binary", path, found])
        return found
    except LoaderError:
        raise src.error(f"uprobe target file '{path}' does not exist or is not executable", ap.pos, ap.end) \
            from None


def elf_functions(path: str) -> list[str]:
    from pyebpf.loader.attach.elfsym import _function_symbols

    st = os.stat(path)
    return sorted(_function_symbols(path, st.st_mtime_ns))


def _uprobe(src: Source, ap: A.AttachPoint, kind: str, rest: str, pid: int | None,
            deps: list[Any] | None = None) -> list[AttachTarget]:
    path, sep, sym = rest.rpartition(":")
    if not sep or not path or not sym:
        raise src.error(f"{kind} probe type requires 2 arguments", ap.pos, ap.end)
    binary = _binary(src, ap, path, deps)
    offset = 0
    if "+" in sym:
        sym, _, off = sym.partition("+")
        try:
            offset = int(off, 0)
        except ValueError:
            raise src.error(f"invalid offset in {ap.text}", ap.pos, ap.end) from None
    symbols = elf_functions(binary)
    if sym.startswith("0x") and not _wild(sym):
        raise src.error("uprobes at an address are not supported by pyebpf trace yet: name a symbol", ap.pos,
                        ap.end)
    names = [s for s in symbols if fnmatch.fnmatchcase(s, sym)] if _wild(sym) else [sym] if sym in symbols else []
    if not names:  # as bpftrace: a symbol the binary lacks is skipped ("No probes to attach" if none is left)
        return []
    section = "uretprobe" if kind == "uretprobe" else "uprobe"
    return [AttachTarget(kind, f"{section}/{binary}:{s}", f"{kind}:{binary}:{s}", binary=binary, symbol=s,
                         offset=offset) for s in names]


def _usdt(src: Source, ap: A.AttachPoint, rest: str, deps: list[Any] | None = None) -> list[AttachTarget]:
    from pyebpf.errors import PyebpfError
    from pyebpf.loader.usdt import read_probes

    parts = rest.split(":")
    if len(parts) == 2:
        path, provider, name = parts[0], "*", parts[1]
    elif len(parts) == 3:
        path, provider, name = parts
    else:
        raise src.error("usdt probe type requires 2 or 3 arguments", ap.pos, ap.end)
    binary = _binary(src, ap, path, deps)
    try:
        sites = read_probes(binary)
    except PyebpfError as e:
        raise src.error(f"{ap.text}: {e.message}", ap.pos, ap.end) from None
    found = [s for s in sites if fnmatch.fnmatchcase(s.provider, provider) and fnmatch.fnmatchcase(s.name, name)]
    if not found:
        raise src.error(f"No USDT probes found for {ap.text}", ap.pos, ap.end)
    return [AttachTarget("usdt", f"uprobe/{binary}:{s.file_offset:#x}", f"usdt:{binary}:{s.provider}:{s.name}",
                         binary=binary, symbol=s.name, offset=s.file_offset, usdt=s,
                         semaphore=s.semaphore_offset or 0) for s in found]


def _perf(src: Source, ap: A.AttachPoint, kind: str, rest: str) -> list[AttachTarget]:
    unit, _, value = rest.partition(":")
    try:
        n = int(value, 0) if value else 0
    except ValueError:
        n = 0
    if kind in ("interval", "profile"):
        if n <= 0 or (unit not in TIME_UNITS and unit != "hz"):
            raise src.error(f"{kind} probe must have unit of time (s, ms, us, hz) and a positive count: {ap.text}"
                            if unit not in TIME_UNITS and unit != "hz" else
                            f"{kind} probe count must be a positive integer: {ap.text}", ap.pos, ap.end)
        perf: dict[str, Any] = {"event": "cpu-clock"}
        if unit == "hz":
            perf["freq"] = n
        else:
            perf["period"] = n * TIME_UNITS[unit]
        if kind == "interval":  # bpftrace: an interval fires on one CPU, a profile on every CPU
            from pyebpf.system.cpus import online_cpus

            perf["cpus"] = online_cpus()[:1]
        return [AttachTarget(kind, "perf_event", f"{kind}:{unit}:{n}", perf=perf)]
    table = SOFTWARE_EVENTS if kind == "software" else HARDWARE_EVENTS
    if unit not in table:
        raise src.error(f"{unit} is not a {kind} probe", ap.pos, ap.end)
    event, default = table[unit]
    period = n if n > 0 else default
    name = f"{kind}:{unit}:{value}" if value else f"{kind}:{unit}:"
    return [AttachTarget(kind, "perf_event", name, perf={"event": event, "period": period})]


def expand(src: Source, ap: A.AttachPoint, events: Callable[[], list[tuple[str, str]]],
           pid: int | None = None, deps: list[Any] | None = None) -> list[AttachTarget]:
    """The programs attach point `ap` stands for (wildcards expanded), or a TraceError at it. `deps` gets what the
    expansion read from the system beyond the kernel build (binaries; the tracepoints a wildcard matched)."""
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
        if _wild(rest):
            found = [AttachTarget("tracepoint", f"tracepoint/{c}/{n}", f"tracepoint:{c}:{n}", c, n)
                     for c, n in events() if fnmatch.fnmatchcase(c, cat) and fnmatch.fnmatchcase(n, name)]
            if not found:
                raise src.error(f"tracepoints not found: {rest}", ap.pos, ap.end)
            if deps is not None:  # modules loaded later add tracepoints: the match is checked again
                deps.append(["tracepoints", cat, name, [t.name for t in found]])
            return found
        from pyebpf.system.tracefs import tracepoint_exists

        if not tracepoint_exists(cat, name):
            raise src.error(f"tracepoint not found: {cat}:{name}", ap.pos, ap.end)
        return [AttachTarget("tracepoint", f"tracepoint/{cat}/{name}", f"tracepoint:{cat}:{name}", cat, name)]
    if kind == "rawtracepoint":
        if not rest or ":" in rest:
            raise src.error("rawtracepoint probe type requires 1 argument", ap.pos, ap.end)
        names = sorted({n for _, n in events() if fnmatch.fnmatchcase(n, rest)})
        if not names:
            raise src.error(f"rawtracepoint not found: {rest}", ap.pos, ap.end)
        if deps is not None and _wild(rest):
            deps.append(["rawtracepoints", rest, names])
        return [AttachTarget("rawtracepoint", f"raw_tp/{n}", f"rawtracepoint:{n}", event=n) for n in names]
    if kind in ("uprobe", "uretprobe"):
        return _uprobe(src, ap, kind, rest, pid, deps)
    if kind == "usdt":
        return _usdt(src, ap, rest, deps)
    if kind in ("interval", "profile", "software", "hardware"):
        return _perf(src, ap, kind, rest)
    if kind in ("kprobe", "kretprobe", "kfunc", "kretfunc"):
        raise src.error(f"{kind} probes are not available on this kernel (no kprobe or fentry support here): "
                        f"{text}", ap.pos, ap.end)
    if kind in ("watchpoint", "asyncwatchpoint", "iter"):
        raise src.error(f"{kind} probes are not supported by pyebpf trace yet: {text}", ap.pos, ap.end)
    raise src.error(f"Invalid probe type: {kind}" if rest else f"Invalid attach point definition: {text}",
                    ap.pos, ap.end)


# ---- -l -------------------------------------------------------------------------------------------------------
def list_probes(glob: str) -> Iterator[str]:
    """Probe names matching `glob` as bpftrace -l prints them: tracepoints and raw tracepoints of the kernel; the
    uprobes (function symbols) and USDT probes of a binary named in the glob (`uprobe:/bin/bash:*`,
    `usdt:/path/prog`); software and hardware events. kprobes: none (no kprobe_events on this kernel)."""
    if ":" not in glob:
        glob = "*" + glob + "*" if not _wild(glob) else glob
    kind, _, rest = glob.partition(":")
    kind = PROBE_ALIASES.get(kind, kind)
    if kind in ("uprobe", "uretprobe", "usdt") and rest:
        path, _, pattern = rest.partition(":")
        from pyebpf.loader.attach.elfsym import resolve_binary

        try:
            binary = resolve_binary(path)
        except Exception:  # noqa: BLE001 - a name that is no file lists nothing, as bpftrace
            raise TraceError(f"{path}: no such binary") from None
        if kind == "usdt":
            from pyebpf.loader.usdt import read_probes

            provider, _, name = pattern.partition(":") if pattern.count(":") else ("*", "", pattern or "*")
            seen = set()
            for s in read_probes(binary):
                if fnmatch.fnmatchcase(s.provider, provider or "*") and fnmatch.fnmatchcase(s.name, name or "*"):
                    text = f"usdt:{binary}:{s.provider}:{s.name}"
                    if text not in seen:
                        seen.add(text)
                        yield text
            return
        for s in elf_functions(binary):
            if fnmatch.fnmatchcase(s, pattern or "*"):
                yield f"{kind}:{binary}:{s}"
        return
    full = kind + (":" + rest if rest else "")
    events = tracepoint_events()
    for cat, ev in events:
        name = f"tracepoint:{cat}:{ev}"
        if fnmatch.fnmatchcase(name, full):
            yield name
    for ev in sorted({ev for _, ev in events}):
        name = f"rawtracepoint:{ev}"
        if fnmatch.fnmatchcase(name, full):
            yield name
    for kind_name, table in (("software", SOFTWARE_EVENTS), ("hardware", HARDWARE_EVENTS)):
        for ev in table:
            name = f"{kind_name}:{ev}:"
            if fnmatch.fnmatchcase(name, full):
                yield name


__all__ = ["AttachTarget", "expand", "tracepoint_events", "list_probes", "PROBE_ALIASES", "elf_functions"]
