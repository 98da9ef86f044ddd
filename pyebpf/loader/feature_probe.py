"""`bpftool feature probe` in Python: which program types, map types and helpers (per program type) this kernel
has, and whether it can place kprobes, each found by loading a tiny program or creating a tiny map (the requests are
in abi.feature_probes; helper probes are features.helper's). Nothing is inferred from the kernel version.
"""
from __future__ import annotations

import mmap
import os
from typing import Any

from pyebpf.abi.feature_probes import MAP_PROBES, PROG_PROBE_KNOWN_REFUSAL
from pyebpf.abi.helpers import HelperId
from pyebpf.abi.maps import MapType
from pyebpf.abi.prog_types import ProgType
from pyebpf.errors import LoaderError
from pyebpf.loader import features
from pyebpf.loader import syscall as sc

#: Helpers bpftool probes only with `full` (calling them from a probe writes to the kernel log).
NOISY_HELPERS = frozenset({HelperId.TRACE_PRINTK, HelperId.TRACE_VPRINTK, HelperId.PROBE_WRITE_USER})


def _loads(ptype: ProgType) -> bool | Exception:
    from pyebpf.loader.program import ProgramLoadError

    try:
        os.close(features._trivial_prog(ptype))
    except ProgramLoadError as e:
        return e
    return True


def prog_type_available(ptype: ProgType) -> bool:
    """Whether the kernel loads programs of `ptype` (or refuses one in the way only a kernel knowing it does)."""
    result = _loads(ptype)
    if result is True:
        return True
    known = PROG_PROBE_KNOWN_REFUSAL.get(ptype)
    return known is not None and result.errno == known[0] and known[1] in (result.log or "")


def _storage_btf() -> int:
    from pyebpf.btf.builder import BtfBuilder

    b = BtfBuilder()
    b.add_int("int", 4, signed=True)
    fd, _ = sc.btf_load(b.encode())
    return fd


def map_type_available(mtype: MapType) -> bool:
    """Whether BPF_MAP_CREATE makes a map of `mtype` here."""
    probe = MAP_PROBES.get(mtype)
    if probe is None:
        from pyebpf.abi.feature_probes import MapProbe

        probe = MapProbe()
    opened: list[int] = []
    try:
        kw: dict[str, Any] = {}
        if probe.inner_map:
            inner = sc.map_create(MapType.ARRAY, 4, 4, 1)
            opened.append(inner)
            kw["inner_map_fd"] = inner
        if probe.btf:
            btf_fd = _storage_btf()
            opened.append(btf_fd)
            kw.update(btf_fd=btf_fd, btf_key_type_id=1, btf_value_type_id=1)
        if probe.vmlinux_value_type_id:
            kw["btf_vmlinux_value_type_id"] = probe.vmlinux_value_type_id
        entries = mmap.PAGESIZE if probe.page_entries else probe.max_entries
        fd = sc.map_create(mtype, probe.key_size, probe.value_size, entries, probe.flags, "pyebpf_probe", **kw)
        opened.append(fd)
        return True
    except LoaderError as e:
        return probe.known_errno is not None and e.errno == probe.known_errno
    finally:
        for fd in opened:
            os.close(fd)


def available_helpers(ptype: ProgType, full: bool = False) -> list[str]:
    """`bpf_*` names of the helpers programs of `ptype` may call; [] when a program of the type cannot be loaded
    without a target (tracing, struct_ops: a probe cannot tell a helper's absence from the missing target) or the
    type is missing, as bpftool reports them."""
    if _loads(ptype) is not True:
        return []
    return [f"bpf_{h.name.lower()}" for h in HelperId if h and (full or h not in NOISY_HELPERS)
            and features.helper(ptype, h)]


def probe_kernel(full: bool = False, helpers: bool = True) -> dict[str, Any]:
    """bpftool's `feature probe kernel --json` sections we answer: program_types, map_types, helpers, kprobes."""
    from pyebpf.loader.attach.tracing import kprobes_available

    ptypes = [t for t in ProgType if t != ProgType.UNSPEC]
    out: dict[str, Any] = {
        "syscall_config": {"have_bpf_syscall": True},
        "program_types": {f"have_{t.name.lower()}_prog_type": prog_type_available(t) for t in ptypes},
        "map_types": {f"have_{t.name.lower()}_map_type": map_type_available(t) for t in MapType
                      if t != MapType.UNSPEC},
    }
    if helpers:
        out["helpers"] = {f"{t.name.lower()}_available_helpers": available_helpers(t, full) for t in ptypes}
    reason = kprobes_available()
    out["kprobes"] = {"have_kprobes": reason is None, **({"reason": reason} if reason else {})}
    return out


__all__ = ["NOISY_HELPERS", "prog_type_available", "map_type_available", "available_helpers", "probe_kernel"]
