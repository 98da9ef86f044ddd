"""`Lost N events`: records the probes could not write because the 1 MiB event ring buffer was full are counted
in the kernel (LOST) and reported as bpftrace reports them (text line, JSON lost_events object). The burst runs
while the runner is not reading (its on_attached hook), so the ring really overflows, deterministically."""
from __future__ import annotations

import io
import json
import os
import re
import threading

import pytest

from pyebpf.trace.runner import compile_script, run

BURST = 40_000  # getppid calls; 80-byte records: a 1 MiB ring holds about 13k of them


def _script() -> str:
    # one printf per call (8 integers: 72 bytes + the ring's 8-byte header), and the kernel's own count of calls
    return (f"tracepoint:syscalls:sys_enter_getppid /tid == {threading.get_native_id()}/ "
            '{ printf("%d %d %d %d %d %d %d %d\\n", 1, 2, 3, 4, 5, 6, 7, 8); @calls = count(); }')


def _burst() -> None:
    for _ in range(BURST):
        os.getppid()


@pytest.mark.kernel
def test_lost_events_text_counts_every_refused_record():
    out = io.StringIO()
    run(compile_script(_script()), out=out, on_attached=_burst, duration=0.2)
    text = out.getvalue()
    printed = text.count("1 2 3 4 5 6 7 8\n")
    lost = [int(n) for n in re.findall(r"^Lost (\d+) events$", text, re.M)]
    calls = int(re.search(r"^@calls: (\d+)$", text, re.M).group(1))
    assert calls >= BURST
    assert lost and sum(lost) > 0, text[-500:]
    assert printed + sum(lost) == calls  # every record the probe tried to write: printed, or reported lost
    assert printed < calls


@pytest.mark.kernel
def test_lost_events_json_as_bpftrace():
    out = io.StringIO()
    run(compile_script(_script()), out=out, json_mode=True, on_attached=_burst, duration=0.2)
    objs = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    printed = sum(1 for o in objs if o["type"] == "printf")
    lost = [o["data"]["events"] for o in objs if o["type"] == "lost_events"]
    assert all(set(o) == {"type", "data"} for o in objs if o["type"] == "lost_events")
    calls = next(o["data"]["@calls"] for o in objs if o["type"] == "map")
    assert lost and printed + sum(lost) == calls >= BURST


@pytest.mark.kernel
def test_no_lost_line_when_nothing_is_lost():
    out = io.StringIO()
    run(compile_script(_script()), out=out, on_attached=lambda: [os.getppid() for _ in range(100)], duration=0.1)
    assert "Lost" not in out.getvalue()
    assert out.getvalue().count("1 2 3 4 5 6 7 8\n") == 100
