"""Facts of the running system, read in one place: tracefs and tracepoint formats (`tracefs`, parsed by
`tracefs_format`), the possible and online CPUs (`cpus`), kernel symbols (`kallsyms`) and the kernel release
(`kernel`). It sits beside `btf` between `abi` and `isa`, so the verifier, the VM, the loader and the compilers all
ask it instead of reading /sys and /proc on their own.
"""
from __future__ import annotations

from pyebpf._lazy import lazy_exports
from pyebpf.system.cpus import nr_cpu_ids, num_possible_cpus, online_cpus, parse_cpu_list, possible_cpus
from pyebpf.system.kallsyms import Kallsyms, kallsyms
from pyebpf.system.kernel import kernel_release, kernel_version_code
from pyebpf.system.tracefs import (TracepointNotFound, split_tracepoint, tracefs_path, tracefs_root,
                                   tracepoint_exists, tracepoint_format, tracepoint_id)

# The format parser's types resolve on first use: attaching by tracepoint id (every `pyebpf trace` start-up) parses
# no format file.
__getattr__, __dir__ = lazy_exports(__name__, {name: "pyebpf.system.tracefs_format" for name in (
    "TracepointField", "TracepointFormat")})

__all__ = ["possible_cpus", "online_cpus", "num_possible_cpus", "nr_cpu_ids", "parse_cpu_list", "Kallsyms",
           "kallsyms", "kernel_release", "kernel_version_code", "TracepointField", "TracepointFormat",
           "TracepointNotFound", "tracepoint_format", "tracepoint_id", "tracepoint_exists", "tracefs_root",
           "tracefs_path", "split_tracepoint"]
