"""perf_event_open(2) through ctypes: the attr struct, the ioctls, dynamic PMUs (kprobe, uprobe).

Tracepoint, kprobe and uprobe programs run when a perf event fires; the perf buffer reader owns one
PERF_COUNT_SW_BPF_OUTPUT event per CPU. Everything here returns plain file descriptors; the caller owns them.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os

from pyebpf.abi.perf_event import (
    PERF_ATTR_SIZE_VER8, PerfFlag, PerfIoctl, PerfOpenFlag, PerfRecordType, PerfSample,
)
from pyebpf.abi.uapi import PerfCountSw, PerfTypeId
from pyebpf.errors import LoaderError

_SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "riscv64": 241, "s390x": 331, "ppc64le": 319}

PMU_DIR = "/sys/bus/event_source/devices"


class perf_event_attr(ctypes.Structure):
    """struct perf_event_attr, PERF_ATTR_SIZE_VER8 (136 bytes). Unions are named by their first member."""

    _fields_ = [
        ("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),  # union with sample_freq
        ("sample_type", ctypes.c_uint64), ("read_format", ctypes.c_uint64), ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32),  # union with wakeup_watermark
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),  # bp_addr, kprobe_func, uprobe_path
        ("config2", ctypes.c_uint64),  # bp_len, kprobe_addr, probe_offset
        ("branch_sample_type", ctypes.c_uint64), ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32), ("clockid", ctypes.c_int32), ("sample_regs_intr", ctypes.c_uint64),
        ("aux_watermark", ctypes.c_uint32), ("sample_max_stack", ctypes.c_uint16), ("_reserved_2", ctypes.c_uint16),
        ("aux_sample_size", ctypes.c_uint32), ("_reserved_3", ctypes.c_uint32), ("sig_data", ctypes.c_uint64),
        ("config3", ctypes.c_uint64),
    ]


assert ctypes.sizeof(perf_event_attr) == PERF_ATTR_SIZE_VER8


@functools.lru_cache(maxsize=None)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def perf_event_open(attr: perf_event_attr, pid: int = -1, cpu: int = 0, group_fd: int = -1,
                    flags: int = PerfOpenFlag.FD_CLOEXEC, what: str = "perf_event_open") -> int:
    """perf_event_open(2); returns the new fd or raises LoaderError with the errno."""
    machine = os.uname().machine  # platform.machine()'s answer, without importing platform (trace start-up)
    nr = _SYS_PERF_EVENT_OPEN.get(machine)
    if nr is None:
        raise LoaderError(f"no perf_event_open syscall number known for {machine}", errno.ENOSYS)
    attr.size = ctypes.sizeof(perf_event_attr)
    libc = _libc()
    fd = libc.syscall(ctypes.c_long(nr), ctypes.byref(attr), ctypes.c_int(pid), ctypes.c_int(cpu),
                      ctypes.c_int(group_fd), ctypes.c_ulong(flags))
    if fd < 0:
        raise LoaderError(what, ctypes.get_errno())
    return fd


def perf_ioctl(fd: int, request: PerfIoctl, arg: int = 0, what: str = "") -> None:
    try:
        fcntl.ioctl(fd, int(request), arg)
    except OSError as e:
        raise LoaderError(what or f"ioctl({request.name})", e.errno) from None


def tracepoint_event(tp_id: int, cpu: int = 0, pid: int = -1) -> int:
    """A perf event on tracepoint `tp_id` (a BPF program attached to it runs on every CPU, not only `cpu`)."""
    attr = perf_event_attr(type=PerfTypeId.TRACEPOINT, config=tp_id, sample_period=1, wakeup_events=1)
    return perf_event_open(attr, pid=pid, cpu=cpu, what=f"perf_event_open(tracepoint id {tp_id})")


def bpf_output_event(cpu: int, wakeup_events: int = 1) -> int:
    """A PERF_COUNT_SW_BPF_OUTPUT event on `cpu`, the target of bpf_perf_event_output() for that CPU."""
    attr = perf_event_attr(type=PerfTypeId.SOFTWARE, config=PerfCountSw.BPF_OUTPUT, sample_period=1,
                           sample_type=PerfSample.RAW, wakeup_events=max(1, wakeup_events))
    return perf_event_open(attr, pid=-1, cpu=cpu, what=f"perf_event_open(BPF_OUTPUT, cpu {cpu})")


def sampling_event(type_: int, config: int, cpu: int, *, freq: int = 0, period: int = 0, pid: int = -1) -> int:
    """A sampling perf event on `cpu` (pid -1: every task there) firing `freq` times a second (PERF_ATTR_FLAG_FREQ)
    or every `period` events; a perf_event program attached to it runs on each sample."""
    if (freq > 0) == (period > 0):
        raise LoaderError("a sampling event needs exactly one of freq= (Hz) and period= (events), both > 0",
                          errno.EINVAL)
    attr = perf_event_attr(type=type_, config=config, sample_period=freq or period,
                           flags=PerfFlag.FREQ if freq else 0)
    how = f"{freq} Hz" if freq else f"period {period}"
    return perf_event_open(attr, pid=pid, cpu=cpu, what=f"perf_event_open(type {type_} config {config}, {how}, "
                                                        f"cpu {cpu})")


class PmuMissing(LoaderError):
    """The kernel has no such dynamic PMU (e.g. no 'kprobe' PMU when CONFIG_KPROBES is off)."""


def pmu_type(pmu: str) -> int:
    """perf_event_attr.type of a dynamic PMU from /sys/bus/event_source/devices/<pmu>/type."""
    path = os.path.join(PMU_DIR, pmu, "type")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        raise PmuMissing(f"this kernel has no '{pmu}' perf PMU ({path} is absent)", errno.ENOENT) from None


def pmu_config_bit(pmu: str, field: str) -> int:
    """Bit of `config` that a PMU format field occupies (format/retprobe holds e.g. 'config:0')."""
    path = os.path.join(PMU_DIR, pmu, "format", field)
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        raise PmuMissing(f"'{pmu}' PMU has no format field {field!r}", errno.ENOENT) from None
    kind, _, bits = text.partition(":")
    if kind != "config" or not bits.split("-")[0].isdigit():
        raise LoaderError(f"unexpected PMU format {path}: {text!r}", errno.EINVAL)
    return int(bits.split("-")[0])


def probe_event(pmu: str, target: bytes, offset: int, retprobe: bool, pid: int = -1, cpu: int = 0,
                ref_ctr_offset: int = 0) -> int:
    """A kprobe/uprobe perf event: config1 points at the symbol (kprobe) or binary path (uprobe), config2 = offset;
    a uprobe's `ref_ctr_offset` (a USDT semaphore's file offset) goes in config's high 32 bits."""
    from pyebpf.abi.usdt import PERF_UPROBE_REF_CTR_OFFSET_SHIFT  # (abi.usdt imports the context layouts)

    typ = pmu_type(pmu)
    config = 1 << pmu_config_bit(pmu, "retprobe") if retprobe else 0
    config |= ref_ctr_offset << PERF_UPROBE_REF_CTR_OFFSET_SHIFT
    name = ctypes.create_string_buffer(target)
    attr = perf_event_attr(type=typ, config=config, sample_period=1, wakeup_events=1,
                           config1=ctypes.addressof(name), config2=offset)
    if pid >= 0:
        cpu = -1
    what = f"perf_event_open({pmu} {'ret' if retprobe else ''}probe {target.decode(errors='replace')}+{offset:#x})"
    return perf_event_open(attr, pid=pid, cpu=cpu, what=what)


__all__ = ["PerfFlag", "PerfSample", "PerfRecordType", "PerfOpenFlag", "PerfIoctl", "perf_event_attr",
           "perf_event_open", "perf_ioctl", "tracepoint_event", "bpf_output_event", "sampling_event", "PmuMissing", "pmu_type",
           "pmu_config_bit", "probe_event"]
