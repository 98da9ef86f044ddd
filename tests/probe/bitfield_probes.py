"""Bitfields of kernel structs (test_probe_bitfields.py): a made-up `struct task_struct` full of bitfields (signed,
unsigned, crossing a 4-byte boundary) for the VM, and the running kernel's own task_struct bitfields."""
from __future__ import annotations

import os

from pyebpf.btf import kernel_btf_or_none
from pyebpf.btf.builder import BtfBuilder
from pyebpf.compiler.memread import probe_read
from pyebpf.probe import Array, current_task, pid, probe, s64, u64

TARGET = os.getpid()

#: (name, signed, type size, bit offset, bit size) of the made-up bitfields
FIELDS = [("a", False, 4, 5, 3), ("b", True, 4, 13, 7), ("c", False, 8, 30, 20), ("d", True, 4, 66, 5),
          ("e", False, 2, 84, 9), ("dumpable", False, 4, 100, 1)]
FAKE_SIZE = 16


class FakeKernel:
    def __init__(self) -> None:
        b = BtfBuilder()
        types = {(4, False): b.add_int("unsigned int", 4), (4, True): b.add_int("int", 4, signed=True),
                 (8, False): b.add_int("long long unsigned int", 8), (2, False): b.add_int("short unsigned int", 2)}
        members = [(n if n != "dumpable" else "user_dumpable", types[(size, signed)], off, bits)
                   for n, signed, size, off, bits in FIELDS]
        b.add_struct("task_struct", FAKE_SIZE, members)
        self._btf = b.build()

    def btf(self):
        return self._btf


FAKE = FakeKernel()
bits = Array(u64, max_entries=8, name="bits")


@probe("raw_tp/sys_enter", kernel_types=FAKE)
def fake_bits(ctx):
    t = current_task()
    bits[0] = t.a
    bits[1] = u64(s64(t.b))
    bits[2] = t.c
    bits[3] = u64(s64(t.d))
    bits[4] = t.e
    bits[5] = t.user_dumpable


REAL_NAMES = ("sched_remote_wakeup", "in_execve", "in_iowait")
_BTF = kernel_btf_or_none()
_TASK = _BTF.struct("task_struct") if _BTF is not None else None
REAL = {n: _TASK.find_member(n) for n in REAL_NAMES} if _TASK is not None else {}
#: the aligned u64 holding the three bitfields; real_bits is for kernels where they share one (else REAL is empty)
WORD = REAL[REAL_NAMES[0]].bit_offset // 64 * 8 if REAL and all(REAL.values()) else 0
if not REAL or not all(REAL.values()) or len({m.bit_offset // 64 for m in REAL.values()}) != 1:
    REAL = {}


@probe("raw_tp/sys_enter")
def real_bits(ctx):
    t = current_task()
    bits[0] = t.sched_remote_wakeup
    bits[1] = t.in_execve
    bits[2] = t.in_iowait
    bits[3] = probe_read(t + WORD, 8)


class MovedKernel(FakeKernel):
    """The three real bitfields at made-up places (and a made-up size) of a made-up task_struct."""

    def __init__(self) -> None:
        b = BtfBuilder()
        uint = b.add_int("unsigned int", 4)
        b.add_struct("task_struct", 32, [("in_iowait", uint, 3, 1), ("sched_remote_wakeup", uint, 17, 1),
                                         ("in_execve", uint, 130, 1)])
        self._btf = b.build()


@probe("tracepoint/syscalls/sys_enter_getppid", kernel_types=MovedKernel())
def moved_bits(ctx):
    """Compiled against MovedKernel's layout; written as an object, CO-RE moves every read to the real bits, and
    the raw word (at the real offset, read at the same moment) is the witness."""
    if pid() != TARGET:  # only this process's getppid() calls (other tests run beside)
        return 0
    t = current_task()
    bits[4] = t.sched_remote_wakeup | (t.in_execve << 1) | (t.in_iowait << 2) | 8
    bits[5] = probe_read(t + WORD, 8)
