"""Testing kit: hypothesis strategies for eBPF programs (`strategies`) and their inputs (`inputs`), VM-vs-kernel
comparison (`differential`), and a pytest plugin (the `kernel` marker; fixtures `ebpf_vm`, `ebpf_engine`,
`kernel_loader`, `differential`, `netns`). See docs/testing.md.

Names resolve lazily so that `import pyebpf.testing` (done by the pytest plugin) stays cheap.
"""
from __future__ import annotations

from pyebpf._lazy import lazy_exports

_LAZY = {
    "Differential": "pyebpf.testing.differential", "Comparison": "pyebpf.testing.differential",
    "Outcome": "pyebpf.testing.differential", "run_both": "pyebpf.testing.differential",
    "assert_vm_matches_kernel": "pyebpf.testing.differential", "snapshot_maps": "pyebpf.testing.differential",
    "packets": "pyebpf.testing.inputs", "ethernet_frames": "pyebpf.testing.inputs",
    "corrupted": "pyebpf.testing.inputs", "ipv4_packets": "pyebpf.testing.inputs",
    "ipv6_packets": "pyebpf.testing.inputs", "xdp_contexts": "pyebpf.testing.inputs",
    "skb_contexts": "pyebpf.testing.inputs", "syscall_args": "pyebpf.testing.inputs",
    "pt_regs": "pyebpf.testing.inputs", "raw_tp_args": "pyebpf.testing.inputs",
    "instructions": "pyebpf.testing.strategies", "programs": "pyebpf.testing.strategies",
    "skip_missing_feature": "pyebpf.testing.plugin", "require_or_skip": "pyebpf.testing.plugin",
    "bpf_unavailable_reason": "pyebpf.testing.kernel_probe",
    "chromium": "pyebpf.testing.browser",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = sorted(_LAZY)
