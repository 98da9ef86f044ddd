"""perf_event_open(2) facts (uapi linux/perf_event.h): attr bits, sample formats, record types, ioctls.

The perf_event_attr struct and the syscall are in `pyebpf.loader.perf_event`; PERF_TYPE_* and the software event
ids are in `abi.uapi` (PerfTypeId, PerfCountSw).
"""
from __future__ import annotations

from enum import IntEnum, IntFlag

from pyebpf.abi.fast_enum import kernel_enum

from pyebpf.abi.uapi import PerfCountSw, PerfTypeId


@kernel_enum(IntFlag)
class PerfFlag:
    """perf_event_attr bit field (the u64 after read_format), bit positions from uapi perf_event.h."""

    DISABLED = 1 << 0
    INHERIT = 1 << 1
    PINNED = 1 << 2
    EXCLUSIVE = 1 << 3
    EXCLUDE_USER = 1 << 4
    EXCLUDE_KERNEL = 1 << 5
    EXCLUDE_HV = 1 << 6
    EXCLUDE_IDLE = 1 << 7
    MMAP = 1 << 8
    COMM = 1 << 9
    FREQ = 1 << 10
    INHERIT_STAT = 1 << 11
    ENABLE_ON_EXEC = 1 << 12
    TASK = 1 << 13
    WATERMARK = 1 << 14


@kernel_enum(IntFlag)
class PerfSample:
    """perf_event_attr.sample_type bits (enum perf_event_sample_format)."""

    IP = 1 << 0
    TID = 1 << 1
    TIME = 1 << 2
    ADDR = 1 << 3
    READ = 1 << 4
    CALLCHAIN = 1 << 5
    ID = 1 << 6
    CPU = 1 << 7
    PERIOD = 1 << 8
    STREAM_ID = 1 << 9
    RAW = 1 << 10


@kernel_enum(IntEnum)
class PerfRecordType:
    """perf_event_header.type of records in the mmap ring (enum perf_event_type)."""

    MMAP = 1
    LOST = 2
    COMM = 3
    EXIT = 4
    THROTTLE = 5
    UNTHROTTLE = 6
    FORK = 7
    READ = 8
    SAMPLE = 9


@kernel_enum(IntFlag)
class PerfOpenFlag:
    """flags argument of perf_event_open(2) (PERF_FLAG_*)."""

    FD_NO_GROUP = 1 << 0
    FD_OUTPUT = 1 << 1
    PID_CGROUP = 1 << 2
    FD_CLOEXEC = 1 << 3


def _ioc(direction: int, typ: str, nr: int, size: int) -> int:
    """asm-generic/ioctl.h _IOC(dir, type, nr, size)."""
    return (direction << 30) | (size << 16) | (ord(typ) << 8) | nr


@kernel_enum(IntEnum)
class PerfIoctl:
    """PERF_EVENT_IOC_* request numbers (asm-generic ioctl encoding: _IO / _IOW('$', nr, type))."""

    ENABLE = _ioc(0, "$", 0, 0)
    DISABLE = _ioc(0, "$", 1, 0)
    SET_BPF = _ioc(1, "$", 8, 4)


@kernel_enum(IntEnum)
class PerfCountHw:
    """perf_event_attr.config for PERF_TYPE_HARDWARE (enum perf_hw_id)."""

    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5
    BUS_CYCLES = 6
    STALLED_CYCLES_FRONTEND = 7
    STALLED_CYCLES_BACKEND = 8
    REF_CPU_CYCLES = 9


def _sampling_events() -> dict[str, tuple[int, int]]:
    hw, sw = PerfTypeId.HARDWARE, PerfTypeId.SOFTWARE
    return {
        "cpu-clock": (sw, PerfCountSw.CPU_CLOCK), "task-clock": (sw, PerfCountSw.TASK_CLOCK),
        "page-faults": (sw, PerfCountSw.PAGE_FAULTS), "faults": (sw, PerfCountSw.PAGE_FAULTS),
        "context-switches": (sw, PerfCountSw.CONTEXT_SWITCHES), "cs": (sw, PerfCountSw.CONTEXT_SWITCHES),
        "cpu-migrations": (sw, PerfCountSw.CPU_MIGRATIONS), "migrations": (sw, PerfCountSw.CPU_MIGRATIONS),
        "minor-faults": (sw, PerfCountSw.PAGE_FAULTS_MIN), "major-faults": (sw, PerfCountSw.PAGE_FAULTS_MAJ),
        "cycles": (hw, PerfCountHw.CPU_CYCLES), "cpu-cycles": (hw, PerfCountHw.CPU_CYCLES),
        "instructions": (hw, PerfCountHw.INSTRUCTIONS), "cache-references": (hw, PerfCountHw.CACHE_REFERENCES),
        "cache-misses": (hw, PerfCountHw.CACHE_MISSES), "branch-instructions": (hw, PerfCountHw.BRANCH_INSTRUCTIONS),
        "branches": (hw, PerfCountHw.BRANCH_INSTRUCTIONS), "branch-misses": (hw, PerfCountHw.BRANCH_MISSES),
        "bus-cycles": (hw, PerfCountHw.BUS_CYCLES), "ref-cycles": (hw, PerfCountHw.REF_CPU_CYCLES),
    }


#: perf(1)'s event names -> (perf_event_attr.type, config), the events a sampling program can be attached to.
SAMPLING_EVENTS: dict[str, tuple[int, int]] = _sampling_events()

#: sizeof(struct perf_event_attr) at PERF_ATTR_SIZE_VER8, the layout pyebpf passes.
PERF_ATTR_SIZE_VER8 = 136

__all__ = ["PerfCountHw", "SAMPLING_EVENTS", "PerfFlag", "PerfSample", "PerfRecordType", "PerfOpenFlag", "PerfIoctl", "PERF_ATTR_SIZE_VER8"]
