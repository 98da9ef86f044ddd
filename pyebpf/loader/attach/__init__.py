"""Attach loaded programs to kernel hooks; every attach function returns a `Link` (info(), pin(), detach(), close(),
context manager).

    with attach(prog, "syscalls/sys_enter_openat"):      # by the SEC() table: ATTACHERS[kind_of(prog)]
        ...
    with attach_xdp(prog, "eth0", netns="blue"):          # or the kind's own function, with its options
        ...

Links are released on close()/detach(), on leaving a `with`, at interpreter exit and on SIGTERM; XDP and tc default
to bpf_links, which the kernel releases even on SIGKILL. A failure while attaching undoes whatever was already set up
(fds closed, qdiscs and filters removed). `net_list` / `net_detach` show and remove what a network device runs.
"""
from __future__ import annotations

from pyebpf._lazy import lazy_exports

# names resolve on first use: attaching a tracepoint need not import the netlink, cgroup and sampling modules
# (`pyebpf trace`'s start-up is measured against bpftrace's)
_MODULES = {
    "base": ("AttachScope", "Attachment", "detach_all", "live_attachments", "prog_fd"),
    "cgroup": ("TemporaryCgroup", "attach_cgroup", "cgroup2_root", "parse_attach_type"),
    "elfsym": ("SymbolNotFound", "resolve_binary", "symbol_file_offset"),
    "net": ("AttachmentExists", "attach_netns", "attach_socket", "attach_socket_filter", "attach_tc", "attach_xdp",
            "prog_id"),
    "netdev": ("NetAttachment", "net_detach", "net_list"),
    "sampling": ("HardwareEventMissing", "attach_perf_event"),
    "table": ("ATTACHERS", "Attacher", "attach", "auto_attach", "auto_attachable", "kind_of"),
    "tracing": ("KprobesUnavailable", "attach_kprobe", "attach_raw_tracepoint", "attach_tp_btf", "attach_tracepoint",
                "attach_uprobe", "kprobes_available"),
}
_LAZY = {name: f"pyebpf.loader.attach.{module}" for module, names in _MODULES.items() for name in names}
_LAZY.update({name: "pyebpf.loader.link" for name in ("Link", "close_all", "live_links")})
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "Link", "Attachment", "AttachScope", "prog_fd", "live_links", "close_all", "live_attachments", "detach_all",
    "attach", "ATTACHERS", "Attacher", "kind_of", "auto_attach", "auto_attachable",
    "attach_tracepoint", "attach_raw_tracepoint", "attach_tp_btf", "attach_kprobe", "attach_uprobe",
    "attach_perf_event", "HardwareEventMissing", "attach_socket_filter", "attach_socket", "attach_xdp", "attach_tc", "attach_netns", "attach_cgroup",
    "AttachmentExists",
    "net_list", "net_detach", "NetAttachment",
    "KprobesUnavailable", "kprobes_available", "SymbolNotFound", "resolve_binary", "symbol_file_offset",
    "TemporaryCgroup", "cgroup2_root", "parse_attach_type", "prog_id",
]
