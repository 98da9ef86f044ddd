"""Answers that hold until the machine reboots, kept between runs: which boot this is, the user's cache directory
for pyebpf, and a small store of kernel facts per boot (loader.features keeps its perf-link answer there, so
`pyebpf trace` does not load a probe program on every start-up).

The store is one file, `$XDG_CACHE_HOME/pyebpf/kernel-facts`: a SHA-256 line, then lines of text naming the
boot (/proc/sys/kernel/random/boot_id) and the kernel (release and version strings), then `name 0|1` facts. It is
used only when it is ours (owned by the effective user), its checksum holds, every line parses and the boot and
kernel are the running ones; anything else (a new boot, another kernel, a damaged or foreign file) reads as empty,
so the caller probes the kernel again and the file is rewritten. Writes are atomic (rename). PYEBPF_NO_CACHE=1
turns it off, as it does the other caches.
"""
from __future__ import annotations

import os

try:  # the built-in SHA-256 (hashlib's import loads OpenSSL: milliseconds of a start-up)
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other Pythons
    from hashlib import sha256

FORMAT = "pyebpf-kernel-facts 1"
FILE_NAME = "kernel-facts"
MAX_SIZE = 4096
BOOT_ID = "/proc/sys/kernel/random/boot_id"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def boot_id() -> str:
    """The running boot's id ('' when /proc does not say): it changes at every boot."""
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def cache_directory() -> str:
    """Where pyebpf keeps what it may recompute: $XDG_CACHE_HOME/pyebpf (default ~/.cache/pyebpf)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pyebpf")


def cache_enabled() -> bool:
    return not os.environ.get("PYEBPF_NO_CACHE")


def facts_path() -> str:
    return os.path.join(cache_directory(), FILE_NAME)


def _header() -> list[str] | None:
    """The lines that name this boot and kernel (None when the boot cannot be told: nothing is kept then)."""
    boot = boot_id()
    if not boot or "\n" in boot:
        return None
    u = os.uname()
    return [FORMAT, f"boot {boot}", f"kernel {u.release} {u.version}"]


def parse(raw: bytes, header: list[str]) -> dict[str, bool]:
    """The facts in a file's bytes when they are sound and for `header`'s boot and kernel, else {}."""
    head, sep, body = raw.partition(b"\n")
    if not sep or len(raw) > MAX_SIZE or head != sha256(body).hexdigest().encode():
        return {}
    try:
        lines = body.decode("ascii").split("\n")
    except UnicodeDecodeError:
        return {}
    if lines[:len(header)] != header or lines[-1] != "":
        return {}
    facts: dict[str, bool] = {}
    for line in lines[len(header):-1]:
        name, sp, value = line.partition(" ")
        if not sp or not name or not set(name) <= _NAME_CHARS or value not in ("0", "1") or name in facts:
            return {}
        facts[name] = value == "1"
    return facts


def render(facts: dict[str, bool], header: list[str]) -> bytes:
    body = "".join(f"{line}\n" for line in header + [f"{n} {int(v)}" for n, v in sorted(facts.items())]).encode()
    return sha256(body).hexdigest().encode() + b"\n" + body


def read_facts() -> dict[str, bool]:
    """This boot's kept facts ({} when none are, or the file is not to be trusted)."""
    header = _header() if cache_enabled() else None
    if header is None:
        return {}
    try:
        fd = os.open(facts_path(), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            return {}
        raw = os.read(fd, MAX_SIZE + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    return parse(raw, header)


def boot_fact(name: str) -> bool | None:
    """A fact kept earlier in this boot on this kernel, or None."""
    return read_facts().get(name)


def keep_boot_fact(name: str, value: bool) -> bool:
    """Keep `name` = `value` for the rest of this boot (with the facts already kept); False when it cannot be
    written (caching off, no boot id, a read-only home). Never raises: a cache that cannot be written is no error."""
    if not set(name) <= _NAME_CHARS or not name:
        raise ValueError(f"bad fact name {name!r}")
    header = _header() if cache_enabled() else None
    if header is None:
        return False
    facts = read_facts()
    facts[name] = bool(value)
    path = facts_path()
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, render(facts, header))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


__all__ = ["boot_id", "cache_directory", "cache_enabled", "boot_fact", "keep_boot_fact", "read_facts", "parse",
           "render", "facts_path"]
