"""Compiled scripts kept between runs: `pyebpf trace` run again on the same script loads the programs it compiled
last time, without importing the compiler (bpftrace starts in 0.06 s of CPU; pyebpf's compiler alone costs more).

One file per script under $XDG_CACHE_HOME/pyebpf/ (beside the BTF answers, pyebpf.trace.btfaccess), named by a hash
of its key: the script text, the options that change the programs (--unsafe, -c), pyebpf's version and the source
of the modules that compile (trace, compiler), and the kernel build (release, version, BTF). The entry keeps the
whole key and is used only when it matches. What else the compilation read from the machine is listed in the
entry and checked again before use: the binaries uprobes/USDT/uaddr() read (what their names resolve to, size,
mtime, inode), headers #included (and the ones looked for and not found), cgroupid()'s cgroup, the boot for kaddr()
(KASLR), and the tracepoints a wildcard matched. `cpid` and `elapsed`'s start are not in the programs' instructions
but in their .rodata (compiler.memread.load_time_u64), written at load.

An entry is JSON with a SHA-256 of its body; a damaged, truncated, foreign or stale entry is ignored (and written
again), never trusted: pyebpf.trace.artifact checks every field. Writes are atomic (rename), so concurrent runs
read the old entry or the new one. PYEBPF_NO_CACHE=1 turns caching off.
"""
from __future__ import annotations

import json
import os
from typing import Any

from pyebpf.system.boot import boot_id, cache_directory, cache_enabled

try:  # the built-in SHA-256: hashlib's import loads OpenSSL (8 ms of a start-up measured against bpftrace's)
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other Pythons
    from hashlib import sha256

FORMAT = 1
MAX_ENTRY = 64 << 20
MAX_ENTRIES = 256  # compiled scripts kept; the least recently written go first
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the packages whose code decides what a script compiles to (their files' size and mtime are in the key)
COMPILING = ("trace", "compiler", os.path.join("compiler", "pyfront"))
VMLINUX = "/sys/kernel/btf/vmlinux"


def enabled() -> bool:
    return cache_enabled()


def directory() -> str:
    return cache_directory()


def _source_fingerprint() -> list[Any]:
    """The file holding pyebpf's version (an upgrade rewrites it) and the compiling modules' (name, size, mtime):
    an edited compiler invalidates."""
    out: list[Any] = [_file_id(os.path.join(_PACKAGE, "__init__.py"))]
    for sub in COMPILING:
        d = os.path.join(_PACKAGE, sub)
        try:
            with os.scandir(d) as it:
                for e in sorted(it, key=lambda e: e.name):
                    if e.name.endswith(".py"):
                        st = e.stat()
                        out.append([sub, e.name, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([sub, None])
    return out


def kernel_build() -> list[Any]:
    u = os.uname()
    try:
        st = os.stat(VMLINUX)
        btf = [st.st_size, st.st_mtime_ns]
    except OSError:
        btf = None
    return [u.release, u.version, u.machine, btf]


def key(text: str, *, unsafe: bool, cpid: bool) -> list[Any]:
    return [FORMAT, text, {"unsafe": bool(unsafe), "cpid": bool(cpid)}, _source_fingerprint(), kernel_build()]


def path_of(k: list[Any]) -> str:
    digest = sha256(json.dumps(k, sort_keys=True).encode()).hexdigest()[:32]
    return os.path.join(directory(), f"trace-prog-{digest}.json")


# -- dependencies ----------------------------------------------------------------------------------------------------
def _file_id(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def _resolved(name: str) -> str | None:
    if name.startswith(os.sep):
        path = os.path.realpath(name)
        return path if os.path.isfile(path) else None
    from pyebpf.errors import LoaderError
    from pyebpf.loader.attach.elfsym import resolve_binary

    try:
        return resolve_binary(name)
    except LoaderError:
        return None


def snapshot(deps: list[Any], headers: list[str]) -> list[Any]:
    """The translation's dependencies with what each is now (stored in the entry, compared by `fresh`)."""
    out: list[Any] = []
    for d in deps:
        if d[0] == "binary":
            relative = os.sep in d[1] and not d[1].startswith(os.sep)  # ./prog: resolved from this directory
            out.append(["binary", d[1], d[2], os.getcwd() if relative else ""])
            out.append(["file", d[2], _file_id(d[2])])
        elif d[0] == "boot":
            out.append(["boot", boot_id()])
        else:
            out.append(list(d))
    for h in headers:
        out.append(["file", h, None] if h.startswith("-") else ["file", h, _file_id(h)])
    return out


def fresh(deps: Any) -> bool:
    """Every dependency still as it was when the entry was written."""
    if not isinstance(deps, list):
        return False
    for d in deps:
        if not isinstance(d, list) or not d or not all(isinstance(x, (str, int, list, type(None))) for x in d):
            return False
        kind = d[0]
        if kind == "file" and len(d) == 3 and isinstance(d[1], str):
            path = d[1][1:] if d[1].startswith("-") else d[1]
            if _file_id(path) != d[2]:
                return False
        elif kind == "binary" and len(d) == 4 and isinstance(d[1], str):
            if d[3] and d[3] != os.getcwd():
                return False
            if _resolved(d[1]) != d[2]:
                return False
        elif kind == "boot" and len(d) == 2:
            if d[1] != boot_id() or not d[1]:
                return False
        elif kind == "cgroup" and len(d) == 3 and isinstance(d[1], str):
            from pyebpf.trace.resolve import cgroup_id

            try:
                if cgroup_id(d[1]) != d[2]:
                    return False
            except OSError:
                return False
        elif kind == "tracepoints" and len(d) == 4:
            import fnmatch

            from pyebpf.trace.probes import tracepoint_events

            now = [f"tracepoint:{c}:{n}" for c, n in tracepoint_events(d[1]) if fnmatch.fnmatchcase(n, d[2])]
            if now != d[3]:
                return False
        elif kind == "rawtracepoints" and len(d) == 3:
            import fnmatch

            from pyebpf.trace.probes import tracepoint_events

            if sorted({n for _, n in tracepoint_events() if fnmatch.fnmatchcase(n, d[1])}) != d[2]:
                return False
        else:
            return False
    return True


# -- entries ---------------------------------------------------------------------------------------------------------
def load(k: list[Any]) -> Any:
    """The artifact stored for key `k`, or None (absent, damaged, stale, or a dependency changed)."""
    if not enabled():
        return None
    from pyebpf.trace.artifact import Artifact, BadArtifact

    try:
        with open(path_of(k), "rb") as f:
            raw = f.read(MAX_ENTRY + 1)
    except OSError:
        return None
    head, sep, body = raw.partition(b"\n")
    if not sep or len(raw) > MAX_ENTRY or head.decode(errors="replace") != sha256(body).hexdigest():
        return None
    try:
        entry = json.loads(body)
        if not isinstance(entry, dict) or entry.get("key") != json.loads(json.dumps(k)):
            return None
        if not fresh(entry.get("deps")):
            return None
        return Artifact.from_json(entry.get("artifact"))
    except (ValueError, BadArtifact, RecursionError):
        return None


def store(k: list[Any], artifact: Any, deps: list[Any]) -> bool:
    """Write the entry (atomically); False when it cannot be written (a read-only home) or kept (uncacheable)."""
    if not enabled():
        return False
    from pyebpf.trace.artifact import BadArtifact

    try:
        body = json.dumps({"key": k, "deps": deps, "artifact": artifact.to_json()}, separators=(",", ":")).encode()
    except (BadArtifact, TypeError, ValueError):
        return False
    path = path_of(k)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(sha256(body).hexdigest().encode() + b"\n" + body)
        os.replace(tmp, path)
    except OSError:
        return False
    _evict(os.path.dirname(path))
    return True


def _evict(d: str) -> None:
    """Keep at most MAX_ENTRIES compiled scripts (each distinct script text is one entry)."""
    try:
        entries = [e for e in os.scandir(d) if e.name.startswith("trace-prog-")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for e in entries[:len(entries) - MAX_ENTRIES]:
            os.unlink(e.path)
    except OSError:
        pass  # another run evicted it first


__all__ = ["key", "load", "store", "snapshot", "fresh", "enabled", "directory", "path_of"]
