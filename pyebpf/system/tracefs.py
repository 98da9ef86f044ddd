"""Where tracefs lives, mounting it when absent, tracepoint ids, and tracepoint `format` files as typed fields.

Tracepoint attachment needs the numeric id the kernel shows in `events/<category>/<name>/id`, a tracepoint
program's context is the record described by `events/<category>/<name>/format`, and bpf_printk output is read from
`trace_pipe`; all live in tracefs. Modern systems mount it at /sys/kernel/tracing, older ones only reach it through
debugfs at /sys/kernel/debug/tracing; a bare container may have neither, so we mount it ourselves.
"""
from __future__ import annotations

import errno
import functools
import os
import re
from typing import TYPE_CHECKING

from pyebpf._lazy import lazy_exports
from pyebpf.errors import LoaderError
from pyebpf.system.mounts import mount_filesystem, mount_point

if TYPE_CHECKING:
    from pyebpf.system.tracefs_format import TracepointField, TracepointFormat, parse_format

# The format parser (regexes, dataclasses) is imported on first use: attaching by tracepoint id (every
# `pyebpf trace` start-up) does not parse format files.
__getattr__, __dir__ = lazy_exports(__name__, {name: "pyebpf.system.tracefs_format" for name in (
    "TracepointField", "TracepointFormat", "parse_format")})

TRACEFS_MOUNTPOINT = "/sys/kernel/tracing"
_DEBUGFS_TRACING = "/sys/kernel/debug/tracing"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


class TracepointNotFound(LoaderError):
    """No such tracepoint in this kernel (events/<category>/<name> is absent)."""


def _mounted_tracefs() -> str | None:
    """Mount point of a tracefs (tracefs itself, or the tracing directory of a debugfs)."""
    found = mount_point("tracefs")
    if found:
        return found
    debugfs = mount_point("debugfs")
    if debugfs and os.path.isfile(os.path.join(debugfs, "tracing", "trace_pipe")):
        return os.path.join(debugfs, "tracing")
    return None


@functools.lru_cache(maxsize=None)
def tracefs_root() -> str:
    """Directory of tracefs, mounting it at /sys/kernel/tracing when no tracefs is mounted (needs root)."""
    found = _mounted_tracefs()
    if found:
        return found
    if not os.path.isdir(TRACEFS_MOUNTPOINT):
        raise LoaderError(f"tracefs is not mounted and {TRACEFS_MOUNTPOINT} does not exist", errno.ENOENT)
    mount_filesystem("nodev", TRACEFS_MOUNTPOINT, "tracefs")
    return TRACEFS_MOUNTPOINT


def tracefs_path(*parts: str) -> str:
    return os.path.join(tracefs_root(), *parts)


def _check_name(kind: str, value: str) -> None:
    if not value or not _NAME_RE.match(value):
        raise TracepointNotFound(f"bad tracepoint {kind} {value!r}", errno.EINVAL)


def _event_file(category: str, name: str, what: str) -> str:
    _check_name("category", category)
    _check_name("name", name)
    return tracefs_path("events", category, name, what)


def tracepoint_id(category: str, name: str) -> int:
    """The id of tracepoint `category:name` (what perf_event_attr.config takes for PERF_TYPE_TRACEPOINT)."""
    path = _event_file(category, name, "id")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        raise TracepointNotFound(f"no tracepoint {category}:{name} ({path})", errno.ENOENT) from None
    except OSError as e:
        raise LoaderError(f"reading {path}", e.errno) from None


def tracepoint_exists(category: str, name: str) -> bool:
    try:
        tracepoint_id(category, name)
        return True
    except TracepointNotFound:
        return False


def tracepoint_format_text(category: str, name: str) -> str:
    """The `format` file of a tracepoint, as the kernel writes it."""
    path = _event_file(category, name, "format")
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise TracepointNotFound(f"no tracepoint {category}:{name} ({path})", errno.ENOENT) from None
    except OSError as e:
        raise LoaderError(f"reading {path}", e.errno) from None


@functools.lru_cache(maxsize=256)
def tracepoint_format(category: str, name: str) -> TracepointFormat:
    """The record a tracepoint program on `category:name` reads through its context, field by field:
    tracepoint_format("syscalls", "sys_enter_openat").field("filename") -> offset 24, size 8, 'const char *'."""
    from pyebpf.system.tracefs_format import parse_format

    return parse_format(tracepoint_format_text(category, name), f"{category}:{name}")


def split_tracepoint(spec: str) -> tuple[str, str]:
    """'syscalls/sys_enter_openat' or 'syscalls:sys_enter_openat' → ('syscalls', 'sys_enter_openat')."""
    for sep in ("/", ":"):
        if sep in spec:
            category, _, name = spec.partition(sep)
            return category, name
    raise TracepointNotFound(f"tracepoint {spec!r} is not <category>/<name>", errno.EINVAL)


__all__ = ["TRACEFS_MOUNTPOINT", "TracepointNotFound", "tracefs_root", "tracefs_path", "tracepoint_id",
           "tracepoint_exists", "tracepoint_format", "tracepoint_format_text", "split_tracepoint",
           "TracepointField", "TracepointFormat", "parse_format"]
