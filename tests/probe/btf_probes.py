"""Probes reading BTF-named arguments and kernel structs through pointers (tests/probe/test_probe_btf.py)."""
from __future__ import annotations

import ctypes
import os

from pyebpf.probe import Array, RingBuf, current_task, kptr, kstr, noinline, probe, u64

out = Array(u64, max_entries=8, name="btf_out")
TARGET = os.getpid()


class Task(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("ppid", ctypes.c_uint32), ("comm", ctypes.c_char * 16),
                ("pcomm", ctypes.c_char * 16)]


tasks = RingBuf(Task, 1 << 12, name="btf_tasks")


@probe("raw_tp/sched_switch")
def raw_switch(ctx):
    if ctx.prev.tgid == TARGET:
        out[0] = ctx.prev.tgid
        out[1] = ctx.prev.real_parent.tgid
        out[2] = ctx.prev_state != 0xFFFFFFFF      # an unsigned int argument, converted from its u64 slot
        out[3] = ctx.preempt <= 1                  # a bool argument


@probe("tp_btf/sched_switch")
def btf_switch(ctx):
    if ctx.prev.tgid == TARGET:
        out[0] = ctx.prev.tgid
        out[1] = ctx.prev.real_parent.tgid
        out[2] = ctx.prev_state != 0xFFFFFFFF
        out[3] = ctx.preempt <= 1


@probe("raw_tp/sys_enter")
def current(ctx):
    t = current_task()
    if t.tgid == TARGET:
        out[4] = t.real_parent.tgid
        out[5] = t.signal.nr_threads               # an embedded pointer chain: task->signal->nr_threads
        out[6] = kptr(u64(t), "struct task_struct").pid
        tasks.output(Task(pid=t.tgid, ppid=t.real_parent.tgid, comm=t.comm, pcomm=kstr(t.real_parent.comm)))


@probe("kprobe/do_unlinkat")
def unlink_kprobe(ctx):
    out[0] = ctx.dfd
    out[1] = ctx.name.refcnt.counter if ctx.name != 0 else 7


@probe("fentry/do_unlinkat")
def unlink_fentry(ctx):
    out[0] = ctx.dfd


@noinline
def parent_tgid(t) -> u64:
    """A kernel pointer parameter typed by the first call (struct task_struct *)."""
    return t.real_parent.tgid


@noinline
def nr_threads(t: "struct task_struct *") -> u64:
    """A kernel pointer parameter typed by its annotation."""
    return t.signal.nr_threads


@probe("raw_tp/sys_enter")
def via_subprograms(ctx):
    t = current_task()
    if t.tgid == TARGET:
        out[4] = parent_tgid(t)
        out[5] = nr_threads(t)


@probe("tp_btf/sched_switch")
def btf_via_subprogram(ctx):
    if ctx.prev.tgid == TARGET:
        out[0] = ctx.prev.tgid
        out[1] = parent_tgid(ctx.prev)
