"""What the helpers read from "the machine": time, task identity, CPU, randomness, kernel/user memory, stacks.

Everything is injectable so runs are deterministic: `Environment(pid=42, tgid=42, comm=b"bash", time_ns=1_000,
time_step_ns=10, cpu=0, uid=0, gid=0, seed=1234)`. `time_ns` is either a fixed start (each clock read returns the
current value and then advances by `time_step_ns`, so successive reads are strictly increasing as on real hardware)
or a callable returning the time.

Memory for bpf_probe_read_*: `kernel_memory` / `user_memory` map a start address to the bytes there. A read must
lie wholly inside one such range; otherwise the helper fails with -EFAULT (and zeroes its destination, as the
kernel does). On x86-64, kernel reads of user-half addresses fail with -ERANGE (copy_from_kernel_nofault_allowed).
"""
from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from typing import Callable, Mapping

from pyebpf.system.cpus import num_possible_cpus

TASK_SIZE_MAX = (1 << 47) - 4096
"""x86-64 top of user space (4-level paging); addresses below TASK_SIZE_MAX + PAGE_SIZE are not kernel memory."""
HZ = 250
"""CONFIG_HZ of common distribution kernels: jiffies per second."""
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFFFFFFFFFFFFFF
"""The kernel starts jiffies 5 minutes before wrap (include/linux/jiffies.h); jiffies64 counts from there."""


class _AddressSpace:
    """Sorted non-overlapping byte ranges, for the probe_read helpers."""

    def __init__(self, ranges: Mapping[int, bytes]):
        if not ranges:  # the common case: nothing to sort
            self.starts: list[int] = []
            self.blobs: list[bytes] = []
            return
        items = sorted((int(a), bytes(b)) for a, b in ranges.items())
        self.starts = [a for a, _ in items]
        self.blobs = [b for _, b in items]

    def read(self, addr: int, n: int) -> bytes | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        start, blob = self.starts[i], self.blobs[i]
        if addr + n > start + len(blob):
            return None
        return blob[addr - start:addr - start + n]

    def read_upto(self, addr: int, n: int) -> bytes:
        """As many of n bytes as are readable from addr (for string reads that stop at a NUL)."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return b""
        start, blob = self.starts[i], self.blobs[i]
        if addr >= start + len(blob):
            return b""
        return blob[addr - start:addr - start + n]


@dataclass
class Environment:
    """The simulated kernel state helpers read. Mutable: tests may change pid, cpu, comm between runs."""

    pid: int = 4242
    tgid: int = 4242
    uid: int = 0
    gid: int = 0
    comm: bytes = b"pyebpf"
    cpu: int = 0
    ncpus: int = field(default_factory=num_possible_cpus)
    """As many CPUs as the machine has possible CPUs (what the kernel's per-CPU maps hold), unless given."""
    numa_node: int = 0
    time_ns: int | Callable[[], int] = 1_000_000_000
    time_step_ns: int = 1_000
    boot_offset_ns: int = 0
    """CLOCK_BOOTTIME minus CLOCK_MONOTONIC (time spent suspended)."""
    coarse_granularity_ns: int = 4_000_000
    """bpf_ktime_get_coarse_ns has jiffy granularity (1/HZ)."""
    seed: int = 1234
    kernel_memory: Mapping[int, bytes] = field(default_factory=dict)
    user_memory: Mapping[int, bytes] = field(default_factory=dict)
    kernel_stack: list[int] = field(default_factory=list)
    """Instruction pointers of the kernel stack at the probe, innermost first (bpf_get_stackid / get_stack)."""
    user_stack: list[int] = field(default_factory=list)
    func_ip: int = 0
    """bpf_get_func_ip: address of the probed function."""
    attach_cookie: int = 0
    """bpf_get_attach_cookie: the BPF cookie of the attachment that ran the program (a USDT site's spec id)."""
    current_task: int = 0
    """bpf_get_current_task: the task_struct address (an opaque number)."""
    cgroup_id: int = 1
    socket_cookie: int = 0
    socket_uid: int = 0
    hash_recalc: int = 0

    def __post_init__(self) -> None:
        self._now = self.time_ns if isinstance(self.time_ns, int) else 0
        self._seed0 = self.seed  # the generator is made on first use, from the seed given at construction
        self._rng: random.Random | None = None
        self._kernel = _AddressSpace(self.kernel_memory)
        self._user = _AddressSpace(self.user_memory)

    # -- clocks ------------------------------------------------------------------------------------------------
    def ktime_ns(self) -> int:
        """CLOCK_MONOTONIC in ns: the injected callable's value, or the fixed clock (then advanced by one step)."""
        if callable(self.time_ns):
            return int(self.time_ns()) & 0xFFFFFFFFFFFFFFFF
        now = self._now
        self._now += self.time_step_ns
        return now & 0xFFFFFFFFFFFFFFFF

    def boot_ns(self) -> int:
        return (self.ktime_ns() + self.boot_offset_ns) & 0xFFFFFFFFFFFFFFFF

    def coarse_ns(self) -> int:
        g = max(1, self.coarse_granularity_ns)
        return self.ktime_ns() // g * g

    def jiffies64(self) -> int:
        return (INITIAL_JIFFIES + self.ktime_ns() * HZ // 1_000_000_000) & 0xFFFFFFFFFFFFFFFF

    def set_time(self, ns: int) -> None:
        """Move the fixed clock (ignored when time_ns is a callable)."""
        self._now = ns

    # -- identity and randomness ----------------------------------------------------------------------------------
    def pid_tgid(self) -> int:
        return ((self.tgid & 0xFFFFFFFF) << 32) | (self.pid & 0xFFFFFFFF)

    def uid_gid(self) -> int:
        return ((self.gid & 0xFFFFFFFF) << 32) | (self.uid & 0xFFFFFFFF)

    @property
    def rng(self) -> random.Random:
        """bpf_get_prandom_u32's generator (seeding one costs more than a short run, so only a run that asks)."""
        rng = self._rng
        if rng is None:
            rng = self._rng = random.Random(self._seed0)
        return rng

    @rng.setter
    def rng(self, rng: random.Random) -> None:
        self._rng = rng

    def prandom_u32(self) -> int:
        return self.rng.getrandbits(32)

    def reseed(self, seed: int | None = None) -> None:
        self.rng.seed(self.seed if seed is None else seed)

    # -- memory for probe_read -----------------------------------------------------------------------------------
    def set_kernel_memory(self, ranges: Mapping[int, bytes]) -> None:
        self.kernel_memory = ranges
        self._kernel = _AddressSpace(ranges)

    def set_user_memory(self, ranges: Mapping[int, bytes]) -> None:
        self.user_memory = ranges
        self._user = _AddressSpace(ranges)

    @staticmethod
    def is_user_address(addr: int) -> bool:
        return addr < TASK_SIZE_MAX + 4096

    def read_kernel(self, addr: int, n: int) -> bytes | None:
        return self._kernel.read(addr, n)

    def read_user(self, addr: int, n: int) -> bytes | None:
        return self._user.read(addr, n)

    def read_kernel_upto(self, addr: int, n: int) -> bytes:
        return self._kernel.read_upto(addr, n)

    def read_user_upto(self, addr: int, n: int) -> bytes:
        return self._user.read_upto(addr, n)


__all__ = ["Environment", "TASK_SIZE_MAX", "HZ"]
