"""Attach loaded programs to kernel hooks; every function returns an `Attachment` (detach(), context manager).

    with attach_tracepoint(prog, "syscalls", "sys_enter_openat"):
        ...

Attachments are undone on detach(), on leaving a `with`, and at interpreter exit; a failure while attaching undoes
whatever was already set up (fds closed, qdiscs and filters removed).
"""
from __future__ import annotations

from pyebpf.loader.attach.auto import auto_attach
from pyebpf.loader.attach.base import AttachScope, Attachment, detach_all, live_attachments, prog_fd
from pyebpf.loader.attach.cgroup import TemporaryCgroup, attach_cgroup, cgroup2_root, parse_attach_type
from pyebpf.loader.attach.elfsym import SymbolNotFound, resolve_binary, symbol_file_offset
from pyebpf.loader.attach.net import attach_socket, attach_socket_filter, attach_tc, attach_xdp, prog_id
from pyebpf.loader.attach.tracing import (
    KprobesUnavailable, attach_kprobe, attach_raw_tracepoint, attach_tp_btf, attach_tracepoint, attach_uprobe,
    kprobes_available,
)

__all__ = [
    "Attachment", "AttachScope", "prog_fd", "live_attachments", "detach_all",
    "attach_tracepoint", "attach_raw_tracepoint", "attach_tp_btf", "attach_kprobe", "attach_uprobe",
    "attach_socket_filter", "attach_socket", "attach_xdp", "attach_tc", "attach_cgroup", "auto_attach",
    "KprobesUnavailable", "kprobes_available", "SymbolNotFound", "resolve_binary", "symbol_file_offset",
    "TemporaryCgroup", "cgroup2_root", "parse_attach_type", "prog_id",
]
