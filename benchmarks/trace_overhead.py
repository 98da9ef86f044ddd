"""`pyebpf trace` beside bpftrace 0.17 on this machine (root, bpftrace installed):

1. start-up: wall time from launching the tool (with -c) until the traced command's first openat is printed;
2. overhead: the wall time of N openat+close calls alone, under `@[comm] = count()` on sys_enter_openat with each
   tool, and the added cost per call for each, as a ratio.

    sudo python3 benchmarks/trace_overhead.py [--calls 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"


def tool(name: str) -> list[str]:
    return [sys.executable, "-m", "pyebpf", "trace"] if name == "pyebpf" else ["bpftrace"]


def startup(name: str) -> float:
    """Seconds from launch to the first printf of the traced command's openat (BEGIN prints nothing)."""
    script = 'tracepoint:syscalls:sys_enter_openat /comm == "true"/ { printf("x\\n"); exit(); }' \
        if name == "bpftrace" else 'tracepoint:syscalls:sys_enter_openat { printf("x\\n"); exit(); }'
    t0 = time.perf_counter()
    p = subprocess.Popen(tool(name) + ["-c", "/bin/true", "-e", script], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    for line in p.stdout:  # type: ignore[union-attr]
        if line.strip() == "x":
            break
    dt = time.perf_counter() - t0
    p.wait()
    return dt


def workload(calls: int) -> list[str]:
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".py", prefix="trace_overhead_")
    with os.fdopen(fd, "w") as f:
        f.write(f"import os, time\nt = time.perf_counter()\nfor _ in range({calls}):\n"
                f"    os.close(os.open('/etc/hostname', 0))\nprint(time.perf_counter() - t, flush=True)\n")
    return [sys.executable, path]


def timed(calls: int, name: str | None) -> float:
    if name is None:
        return float(subprocess.run(workload(calls), capture_output=True, text=True).stdout.strip())
    import shlex

    cmd = " ".join(shlex.quote(a) for a in workload(calls))
    out = subprocess.run(tool(name) + ["-c", cmd, "-e", SCRIPT], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    for line in out.split("\n"):
        try:
            return float(line)
        except ValueError:
            continue
    raise SystemExit(f"{name}: no timing in its output:\n{out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    s_ours = statistics.median(startup("pyebpf") for _ in range(a.repeat))
    s_bt = statistics.median(startup("bpftrace") for _ in range(a.repeat))
    print(f"start-up to first event: pyebpf trace {s_ours:.2f} s, bpftrace {s_bt:.2f} s, ratio {s_ours / s_bt:.2f}")
    base = statistics.median(timed(a.calls, None) for _ in range(a.repeat))
    ours = statistics.median(timed(a.calls, "pyebpf") for _ in range(a.repeat))
    bt = statistics.median(timed(a.calls, "bpftrace") for _ in range(a.repeat))
    per = lambda t: (t - base) / a.calls * 1e9  # noqa: E731
    print(f"{a.calls} openat+close: alone {base:.2f} s; with count() by comm: pyebpf trace {ours:.2f} s "
          f"(+{per(ours):.0f} ns/call), bpftrace {bt:.2f} s (+{per(bt):.0f} ns/call); overhead ratio "
          f"{per(ours) / per(bt) if per(bt) > 0 else float('nan'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
