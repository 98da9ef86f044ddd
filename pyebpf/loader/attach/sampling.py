"""Sampling attachments: a BPF_PROG_TYPE_PERF_EVENT program on a sampling perf event (cpu-clock at N Hz, a hardware
counter every N events) on every online CPU, as one Link.

A sampling event counts on one CPU (pid -1: whatever runs there), so profiling the machine takes one event per CPU,
each hooked to the program (a perf link each, or PERF_EVENT_IOC_SET_BPF on older kernels) — bcc's
attach_perf_event and libbpf's bpf_program__attach_perf_event in a loop. The Link owns every event and link fd;
closing it closes them all. Hardware events need a PMU: a virtual machine often has none, and then
`perf_event_open` fails with ENOENT (`HardwareEventMissing`, tests skip on it as a missing feature).
"""
from __future__ import annotations

import errno
from typing import Any, Iterable

from pyebpf.abi.perf_event import SAMPLING_EVENTS
from pyebpf.abi.uapi import PerfTypeId
from pyebpf.errors import LoaderError
from pyebpf.loader.attach.base import AttachScope, prog_fd
from pyebpf.loader.attach.tracing import _hook_perf_event
from pyebpf.loader.link import Link
from pyebpf.loader.perf_event import sampling_event
from pyebpf.system.cpus import online_cpus

DEFAULT_HZ = 99  # bcc's profile and bpftrace's profile:hz:99: off the 100 Hz timer tick, so not in lockstep with it


class HardwareEventMissing(LoaderError):
    """The kernel has no PMU for this hardware event (perf_event_open: ENOENT / EOPNOTSUPP)."""


def parse_sampling_target(target: str) -> tuple[str, int]:
    """'cpu-clock' -> ('cpu-clock', 99); 'cpu-clock:49' -> ('cpu-clock', 49) (the number is a frequency in Hz)."""
    name, sep, hz = target.partition(":")
    if name not in SAMPLING_EVENTS:
        raise LoaderError(f"unknown sampling event {name!r} (have {', '.join(sorted(SAMPLING_EVENTS))})",
                          errno.EINVAL)
    if not sep:
        return name, DEFAULT_HZ
    try:
        freq = int(hz, 0)
    except ValueError:
        freq = 0
    if freq <= 0:
        raise LoaderError(f"sampling frequency {hz!r} in {target!r} must be a positive number of Hz", errno.EINVAL)
    return name, freq


def attach_perf_event(prog: Any, event: str = "cpu-clock", freq: int = DEFAULT_HZ, period: int = 0,
                      cpus: Iterable[int] | None = None, pid: int = -1, cookie: int = 0,
                      use_link: bool = True) -> Link:
    """Run a BPF_PROG_TYPE_PERF_EVENT program on every sample of `event` ('cpu-clock', 'cycles', ... see
    abi.perf_event.SAMPLING_EVENTS) at `freq` Hz (or every `period` events) on each CPU of `cpus` (default: every
    online CPU). One Link over all CPUs; `details` lists the CPUs."""
    if event not in SAMPLING_EVENTS:
        raise LoaderError(f"unknown sampling event {event!r} (have {', '.join(sorted(SAMPLING_EVENTS))})",
                          errno.EINVAL)
    type_, config = SAMPLING_EVENTS[event]
    cpu_list = tuple(online_cpus() if cpus is None else cpus)
    if not cpu_list:
        raise LoaderError("no CPU to sample on", errno.EINVAL)
    pfd = prog_fd(prog)
    how = f"{freq} Hz" if not period else f"every {period}"
    with AttachScope("perf_event", f"{event} {how}") as scope:
        link_fds: list[int] = []
        for cpu in cpu_list:
            try:
                fd = sampling_event(type_, config, cpu, freq=0 if period else freq, period=period, pid=pid)
            except LoaderError as e:
                if type_ == PerfTypeId.HARDWARE and e.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENODEV):
                    raise HardwareEventMissing(f"hardware event {event!r}: this machine has no PMU for it",
                                               e.errno) from None
                raise
            perf_fd = scope.fd(fd, f"perf event cpu {cpu}")
            # each CPU's link is a step of this one Link: the scope's single link slot is reused per CPU
            _hook_perf_event(scope, pfd, perf_fd, cookie, use_link)
            if scope.link_fd is not None:
                link_fd, scope.link_fd = scope.link_fd, None
                link_fds.append(link_fd)
                scope.fd(link_fd, f"perf link cpu {cpu}")
        return scope.attachment(prog, details={"event": event, "freq": 0 if period else freq, "period": period,
                                               "cpus": cpu_list, "pid": pid})


__all__ = ["DEFAULT_HZ", "HardwareEventMissing", "attach_perf_event", "parse_sampling_target"]
