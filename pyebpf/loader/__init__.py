"""Load Programs into the running kernel through bpf(2): maps, programs, test runs, pins, info.

Core names are imported eagerly; names from the attachment/events and ELF modules resolve on first use (they import
more: pyelftools, netlink), so `import pyebpf.loader` stays cheap.
"""
from __future__ import annotations

from pyebpf._lazy import lazy_exports
from pyebpf.loader.maps import (
    FdValueMap, KernelMap, create_map, create_or_open_pinned, register_map_class,
)
from pyebpf.loader.pin import ensure_bpffs, open_pinned, pin_fd, unpin
from pyebpf.loader.program import KernelProgram, KernelVerifierError, LoadOptions, ProgramLoadError, TestRunResult, load
from pyebpf.loader.syscall import KernelMapError

_LAZY = {
    # information
    "ProgInfo": "pyebpf.loader.info", "MapInfo": "pyebpf.loader.info", "LinkInfo": "pyebpf.loader.info",
    "prog_info": "pyebpf.loader.info", "map_info": "pyebpf.loader.info",
    "link_info": "pyebpf.loader.info", "prog_infos": "pyebpf.loader.info", "map_infos": "pyebpf.loader.info",
    "stats_enabled": "pyebpf.loader.info", "program_tag": "pyebpf.loader.info",
    "func_btf": "pyebpf.loader.btf_gen",
    "jited_disassembly": "pyebpf.loader.jit_dump", "xlated_program": "pyebpf.loader.jit_dump",
    # ELF objects: spec -> collection (and the one-object ElfObject)
    "ElfSpec": "pyebpf.loader.elf_spec", "load_collection": "pyebpf.loader.collection",
    "Collection": "pyebpf.loader.collection", "CollectionOptions": "pyebpf.loader.collection",
    "load_elf": "pyebpf.loader.elf", "ElfObject": "pyebpf.loader.elf",
    # attachment (loader/attach/) and event readers
    "attach_tracepoint": "pyebpf.loader.attach", "attach_raw_tracepoint": "pyebpf.loader.attach",
    "attach_kprobe": "pyebpf.loader.attach", "attach_uprobe": "pyebpf.loader.attach",
    "attach_xdp": "pyebpf.loader.attach", "attach_tc": "pyebpf.loader.attach",
    "attach_socket": "pyebpf.loader.attach", "attach_cgroup": "pyebpf.loader.attach",
    "auto_attach": "pyebpf.loader.attach", "ATTACHERS": "pyebpf.loader.attach",
    "net_list": "pyebpf.loader.attach", "net_detach": "pyebpf.loader.attach",
    "AttachmentExists": "pyebpf.loader.attach",
    "Link": "pyebpf.loader.link", "KernelLink": "pyebpf.loader.link",
    "RingBuffer": "pyebpf.loader.ringbuf", "PerfBuffer": "pyebpf.loader.perfbuf",
    "trace_pipe": "pyebpf.loader.trace_pipe",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = ["load", "LoadOptions",
           "KernelProgram", "TestRunResult", "ProgramLoadError", "KernelVerifierError", "KernelMap", "FdValueMap", "create_map",
           "create_or_open_pinned", "open_pinned", "pin_fd", "unpin", "ensure_bpffs", "register_map_class",
           "KernelMapError", *_LAZY]
