"""Run queue latency, as a power-of-two histogram of microseconds (bcc libbpf-tools runqlat):

    sudo python examples/probes/runqlat.py [seconds]

A task is enqueued when it wakes up (sched_wakeup, sched_wakeup_new) or is preempted while still runnable
(sched_switch's prev in TASK_RUNNING); the time until sched_switch picks it (next) is its wait. tp_btf programs
read the task_structs the tracepoints pass (`ctx.p.pid`, `ctx.prev.__state`), typed by the kernel's BTF.
"""
import sys
import time

from pyebpf.probe import HashMap, Log2Histogram, ktime_ns, load_all, probe, u32, u64

TARGET_TGID = 0  # only this process (libbpf-tools' -p PID); 0: every task
TASK_RUNNING = 0

start = HashMap(u32, u64, max_entries=10240)
lat_us = Log2Histogram()


def enqueue(task):
    if TARGET_TGID == 0 or task.tgid == TARGET_TGID:
        start[task.pid] = ktime_ns()


@probe("tp_btf/sched_wakeup")
def wakeup(ctx):
    enqueue(ctx.p)


@probe("tp_btf/sched_wakeup_new")
def wakeup_new(ctx):
    enqueue(ctx.p)


@probe("tp_btf/sched_switch")
def switch(ctx):
    if ctx.prev.__state == TASK_RUNNING:
        enqueue(ctx.prev)
    nxt = ctx.next.pid
    began = start.get(nxt, 0)
    if began != 0:
        lat_us.record((ktime_ns() - began) // 1000)
        del start[nxt]


PROBES = [wakeup, wakeup_new, switch]

if __name__ == "__main__":
    loaded = load_all(PROBES)
    try:
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
    except KeyboardInterrupt:
        pass
    finally:
        for lp in loaded:
            lp.close()
    print("     usecs")
    print(lat_us)
