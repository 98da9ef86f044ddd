"""uprobe probes: pt_regs arguments by name (ctx.arg1, ctx.di), in the VM and attached to libc's kill() in the
kernel, triggered by our own os.kill(pid, 0)."""
from __future__ import annotations

import ctypes.util
import os
import time

import pytest

from pyebpf.probe import HashMap, pid, probe, s64, u32, u64

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
OURS = os.getpid()  # folded in at compile time: only this process is recorded

kills = HashMap(u32, u64, name="kills")        # signal -> target pid
calls = HashMap(u32, u64, name="kill_calls")


@probe(f"uprobe/{LIBC}:kill")
def on_kill(ctx):
    if pid() != OURS:
        return 0
    kills[u32(ctx.arg2)] = ctx.arg1
    calls[0] += 1
    return s64(ctx.di) == ctx.arg1


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_registers_in_vm(engine):
    from pyebpf.vm.env import Environment

    kills.clear()
    calls.clear()
    res = on_kill.run(regs={"di": 1234, "si": 0}, env=Environment(pid=OURS, tgid=OURS), engine=engine)
    assert res.r0 == 1
    assert kills.items() == [(0, 1234)] and calls[0] == 1
    on_kill.run(regs={"di": 1, "si": 9}, env=Environment(pid=OURS + 1, tgid=OURS + 1), engine=engine)
    assert calls[0] == 1  # another process: filtered out


@pytest.mark.kernel
@pytest.mark.skipif(not os.path.exists(LIBC), reason=f"no {LIBC}")
def test_uprobe_on_libc_kill():
    kills.clear()
    calls.clear()
    with on_kill.load():
        for _ in range(3):
            os.kill(OURS, 0)
        time.sleep(0.02)
        assert calls[0] >= 3
        assert kills[0] == OURS
