"""Probes compiled against a made-up kernel layout (test_probe_core.py): `struct task_struct` with `tgid` and
`real_parent` at offsets no real kernel uses, so only CO-RE relocations can make the object read the right fields."""
from __future__ import annotations

import os

from pyebpf.btf.builder import BtfBuilder
from pyebpf.probe import HashMap, current_task, pid, probe, u32, u64

#: offsets of the fake layout (the running kernel's task_struct has other fields there)
FAKE_TGID, FAKE_PARENT, FAKE_SIZE = 8, 16, 64


class FakeKernel:
    """A KernelTypes provider: a BTF holding one small `struct task_struct`."""

    def __init__(self) -> None:
        b = BtfBuilder()
        int_id = b.add_int("int", 4, signed=True)
        ptr = b.add_ptr(int_id + 2)  # -> the struct added next
        b.add_struct("task_struct", FAKE_SIZE, [("tgid", int_id, FAKE_TGID * 8), ("real_parent", ptr, FAKE_PARENT * 8)])
        self._btf = b.build()

    def btf(self):
        return self._btf


FAKE = FakeKernel()
parents = HashMap(u32, u64, max_entries=64)
TARGET = os.getpid()  # only this process's getppid() calls (other tests run beside)


@probe("tracepoint/syscalls/sys_enter_getppid", kernel_types=FAKE)
def fake_layout_parent(ctx):
    t = current_task()
    if t.tgid == TARGET and pid() == TARGET:
        parents[t.tgid] = t.real_parent.tgid
