"""bpf_printk on every write() of one process (PID from the environment, folded in as a constant):

    sudo PID=1234 pyebpf probe examples/probes/printk_write_by_pid.py      # lines in /sys/kernel/tracing/trace_pipe

The Builder version is examples/printk_write_by_pid.py (format string stored on the stack by hand).
"""
import os

from pyebpf.probe import pid, printk, probe

TARGET = int(os.environ.get("PID", "1"))


@probe("tracepoint/syscalls/sys_enter_write")
def write_by_pid(ctx):
    if pid() == TARGET:
        printk(f"write pid={pid()} fd={ctx.fd} count={ctx.count}")
