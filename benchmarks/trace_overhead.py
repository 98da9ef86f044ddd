"""`pyebpf trace` beside bpftrace 0.17 on this machine (root, bpftrace installed):

1. start-up: wall time from launching the tool (with -c) until the traced command's first openat is printed, and
   the CPU time (user + system) the tool spent by then (steadier than wall time on a shared machine);
2. overhead: N openat+close calls alone and under `@[comm] = count()` on sys_enter_openat with each tool; the
   added cost per call for each, as a ratio. Measured as the workload's own CPU time (user + system: the BPF
   program runs in its syscalls, so its cost lands there), which load from other processes on a shared machine
   does not distort, and as wall time. Runs are interleaved (alone, pyebpf, bpftrace, alone, ...), medians taken.

3. start-up of a script that reads a kernel struct through a cast (`((struct task_struct *)curtask)->...`):
   pyebpf answers from the kernel's BTF, parsed in Python the first time and kept per kernel build after that
   (cold: PYEBPF_NO_CACHE=1; warm: the answers cached by a previous run);
4. the floor under pyebpf's start-up: the same interpreter starting and exiting (`python -c pass`, site and all),
   measured in the same run, so the part pyebpf itself adds is visible.

    sudo python3 benchmarks/trace_overhead.py [--calls 1000000] [--repeat 3] [--startup-only]
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"


def tool(name: str) -> list[str]:
    return [sys.executable, "-m", "pyebpf", "trace"] if name == "pyebpf" else ["bpftrace"]


def env() -> dict[str, str]:
    """The tools' environment: our tree first, and byte-code caching on (as an installed package has it)."""
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    return e


PLAIN = 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { printf("x\\n"); exit(); }'
BTF = ('tracepoint:syscalls:sys_enter_openat /pid == cpid/ { $t = (struct task_struct *)curtask; '
       'if ($t->real_parent->pid > 0) { printf("x\\n"); } exit(); }')


def startup(name: str, script: str = PLAIN, cache: bool = True) -> tuple[float, float]:
    """(seconds from launch to the first printf of the traced command's first openat, CPU seconds the tool used
    by then): the same script for both tools."""
    e = env() if cache else dict(env(), PYEBPF_NO_CACHE="1")
    t0 = time.perf_counter()
    p = subprocess.Popen(tool(name) + ["-c", "/bin/true", "-e", script], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=e)
    cpu = 0.0
    for line in p.stdout:  # type: ignore[union-attr]
        if line.strip() == "x":
            try:
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
            except OSError:
                pass
            break
    else:
        raise SystemExit(f"{name}: the script printed no 'x' (it failed?): {script}")
    dt = time.perf_counter() - t0
    p.wait()
    return dt, cpu


def interpreter() -> tuple[float, float]:
    """(wall, CPU) of the interpreter alone starting and exiting, in the tools' environment."""
    t0 = time.perf_counter()
    r0 = os.times()
    subprocess.run([sys.executable, "-c", "pass"], env=env(), check=True)
    r1 = os.times()
    return time.perf_counter() - t0, (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)


def workload(calls: int) -> list[str]:
    fd, path = tempfile.mkstemp(suffix=".py", prefix="trace_overhead_")
    with os.fdopen(fd, "w") as f:
        f.write(f"import os, time\nt, c = time.perf_counter(), time.process_time()\nfor _ in range({calls}):\n"
                f"    os.close(os.open('/etc/hostname', 0))\n"
                f"print(time.perf_counter() - t, time.process_time() - c, flush=True)\n")
    return [sys.executable, path]


def timed(calls: int, name: str | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the workload's loop."""
    if name is None:
        out = subprocess.run(workload(calls), capture_output=True, text=True).stdout
    else:
        cmd = " ".join(shlex.quote(a) for a in workload(calls))
        out = subprocess.run(tool(name) + ["-c", cmd, "-e", SCRIPT], capture_output=True, text=True,
                             env=env()).stdout
    for line in out.split("\n"):
        try:
            wall, cpu = (float(x) for x in line.split())
            return wall, cpu
        except ValueError:
            continue
    raise SystemExit(f"{name}: no timing in its output:\n{out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--startup-only", action="store_true", help="skip the per-call overhead part")
    a = ap.parse_args()
    startup("pyebpf")  # warm: byte-code caches written, files in the page cache (for both tools alike)
    startup("bpftrace")
    runs: dict[str, list[tuple[float, float]]] = {"pyebpf": [], "bpftrace": [], "python": []}
    for _ in range(a.repeat):
        for name in runs:
            runs[name].append(startup(name) if name != "python" else interpreter())
    (w_ours, c_ours), (w_bt, c_bt) = [(statistics.median(r[0] for r in runs[n]), statistics.median(r[1] for r in
                                                                                                 runs[n]))
                                      for n in ("pyebpf", "bpftrace")]
    print(f"start-up to first event (median of {a.repeat}): pyebpf trace {w_ours:.2f} s wall / {c_ours:.2f} s CPU, "
          f"bpftrace {w_bt:.2f} s wall / {c_bt:.2f} s CPU; wall ratio {w_ours / w_bt:.2f}, CPU ratio "
          f"{c_ours / c_bt if c_bt else float('nan'):.2f}")
    w_py, c_py = (statistics.median(r[i] for r in runs["python"]) for i in (0, 1))
    print(f"  of which the interpreter alone (python -c pass): {w_py:.2f} s wall / {c_py:.2f} s CPU")
    btf: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "bpftrace": []}
    for _ in range(a.repeat):
        btf["cold"].append(startup("pyebpf", BTF, cache=False))
        btf["warm"].append(startup("pyebpf", BTF))
        btf["bpftrace"].append(startup("bpftrace", BTF))
    (wc, cc), (ww, cw), (wb, cb) = [(statistics.median(r[0] for r in btf[n]), statistics.median(r[1] for r in btf[n]))
                                    for n in ("cold", "warm", "bpftrace")]
    print(f"start-up, script with a kernel struct cast (median of {a.repeat}): pyebpf trace cold (BTF parsed) "
          f"{wc:.2f} s wall / {cc:.2f} s CPU, warm (answers kept) {ww:.2f} s / {cw:.2f} s CPU, bpftrace {wb:.2f} s "
          f"/ {cb:.2f} s CPU; warm wall ratio {ww / wb:.2f}, CPU ratio {cw / cb if cb else float('nan'):.2f}")
    if a.startup_only:
        return 0
    times: dict[str | None, list[tuple[float, float]]] = {None: [], "pyebpf": [], "bpftrace": []}
    for _ in range(a.repeat):
        for name in times:
            times[name].append(timed(a.calls, name))
    for i, what in ((1, "CPU time"), (0, "wall time")):
        base, ours, bt = (statistics.median(t[i] for t in times[n]) for n in (None, "pyebpf", "bpftrace"))
        per = lambda t: (t - base) / a.calls * 1e9  # noqa: E731
        print(f"{a.calls} openat+close, {what} (median of {a.repeat}, interleaved): alone {base:.2f} s; with "
              f"count() by comm: pyebpf trace {ours:.2f} s (+{per(ours):.0f} ns/call), bpftrace {bt:.2f} s "
              f"(+{per(bt):.0f} ns/call); overhead ratio {per(ours) / per(bt) if per(bt) > 0 else float('nan'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
