"""examples/probes/offcputime.py: stack ids from bpf_get_stackid, structure values in maps, a context char array
copied into a key; in the VM with a simulated stack, and in the kernel with our own sleep symbolised."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from pyebpf.compiler.context import fields_of_text
from pyebpf.vm.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "probes"))
import offcputime as oc  # noqa: E402

SCHED_SWITCH = """name: sched_switch
ID: 3
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

print fmt: ""
"""


class Formats:
    def tracepoint_fields(self, category, name):
        return fields_of_text(SCHED_SWITCH)


def _switch(prev: int, nxt: int, next_comm: bytes) -> bytes:
    raw = bytearray(64)
    raw[24:28] = prev.to_bytes(4, "little")
    raw[40:40 + len(next_comm)] = next_comm
    raw[56:60] = nxt.to_bytes(4, "little")
    return bytes(raw)


@pytest.mark.parametrize("engine", ["interp", "compiled"])
def test_offcpu_in_vm(engine):
    from pyebpf.vm.context import TracepointContext

    oc.offcpu.tracepoints, oc.offcpu._compiled = Formats(), None
    try:
        for m in (oc.asleep, oc.offcpu_ns):
            m.clear()
        clock = [5_000]
        env = Environment(time_ns=lambda: clock[0], kernel_stack=[0xFFFFFFFF81000010, 0xFFFFFFFF81000020],
                          user_stack=[0x401000])
        oc.offcpu.run(TracepointContext(_switch(42, 0, b"")), env=env, engine=engine)   # 42 goes to sleep
        assert oc.asleep[42].ts == 5_000 and oc.asleep[42].kstack >= 0
        clock[0] = 12_000
        oc.offcpu.run(TracepointContext(_switch(0, 42, b"worker")), env=env, engine=engine)  # 42 wakes up
        ((key, ns),) = oc.offcpu_ns.items()
        assert (key.pid, key.comm, ns) == (42, b"worker".ljust(16, b"\0"), 7_000)
        assert oc.stacks.stack(key.kstack) == [0xFFFFFFFF81000010, 0xFFFFFFFF81000020]
        assert oc.stacks.stack(key.ustack) == [0x401000]
        assert 42 not in oc.asleep
    finally:
        oc.offcpu.tracepoints, oc.offcpu._compiled = None, None


@pytest.mark.kernel
def test_offcpu_in_kernel_symbolises_our_sleep():
    for m in (oc.asleep, oc.offcpu_ns):
        m.clear()
    tid = []

    def sleeper():
        tid.append(threading.get_native_id())
        for _ in range(5):
            time.sleep(0.02)

    with oc.offcpu.load():
        t = threading.Thread(target=sleeper)
        t.start()
        t.join()
        time.sleep(0.02)
        mine = {k: v for k, v in oc.offcpu_ns.items() if k.pid == tid[0]}
        assert mine, "our sleeping thread was never switched back in"
        key = max(mine, key=mine.get)
        kernel = oc.stacks.symbols(key.kstack, offsets=False)
    assert mine[key] >= 10_000_000  # at least one 20 ms sleep, in ns
    assert any("schedule" in f for f in kernel), kernel
    assert os.getpid() > 0
