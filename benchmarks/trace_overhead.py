"""`pyebpf trace` beside bpftrace 0.17 on this machine (root, bpftrace installed):

1. start-up: wall time from launching the tool (with -c) until the traced command's first openat is printed, and
   the CPU time (user + system) the tool spent by then (steadier than wall time on a shared machine);
2. overhead: N openat+close calls alone and under `@[comm] = count()` on sys_enter_openat with each tool; the
   added cost per call for each, as a ratio. Measured as the workload's own CPU time (user + system: the BPF
   program runs in its syscalls, so its cost lands there), which load from other processes on a shared machine
   does not distort, and as wall time. Runs are interleaved (alone, pyebpf, bpftrace, alone, ...), medians taken.

3. start-up of a script that reads a kernel struct through a cast (`((struct task_struct *)curtask)->...`):
   pyebpf answers from the kernel's BTF, parsed in Python the first time and kept per kernel build after that;
4. the floor under pyebpf's start-up: the same interpreter starting and exiting (`python -c pass`, site and all),
   measured in the same run, so the part pyebpf itself adds is visible.

pyebpf runs under the interpreter that runs this script (sys.executable), so `sudo /usr/bin/python3
benchmarks/trace_overhead.py` measures it under the distribution's Python: an interpreter whose site-packages runs
heavy .pth files (a pyenv build with an editable install, a certifi hook...) raises pyebpf's floor, which the
"interpreter alone" line shows.

pyebpf keeps compiled scripts per script + kernel build (pyebpf.trace.cache), so each pyebpf figure comes in the
states a user meets: warm (the script ran before: loaded from the cache, no compiler imported), new (a script
never run: a unique comment makes its text new, so it is compiled and stored; the kernel's BTF answers kept), and
for the struct-cast script cold (PYEBPF_NO_CACHE=1: nothing kept, the BTF parsed). The runs use a private
$XDG_CACHE_HOME, warmed once before measuring.

    sudo python3 benchmarks/trace_overhead.py [--calls 1000000] [--repeat 3] [--startup-only]
"""
from __future__ import annotations

import argparse
import atexit
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"


def tool(name: str) -> list[str]:
    return [sys.executable, "-m", "pyebpf", "trace"] if name == "pyebpf" else ["bpftrace"]


CACHE = tempfile.mkdtemp(prefix="trace_overhead_cache_")
atexit.register(shutil.rmtree, CACHE, True)


def env() -> dict[str, str]:
    """The tools' environment: our tree first, byte-code caching on (as an installed package has it), a private
    cache directory for pyebpf's compiled scripts and BTF answers."""
    e = dict(os.environ, PYTHONPATH=ROOT, XDG_CACHE_HOME=CACHE)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e.pop("PYEBPF_NO_CACHE", None)
    return e


PLAIN = 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { printf("x\\n"); exit(); }'
BTF = ('tracepoint:syscalls:sys_enter_openat /pid == cpid/ { $t = (struct task_struct *)curtask; '
       'if ($t->real_parent->pid > 0) { printf("x\\n"); } exit(); }')


def startup(name: str, script: str = PLAIN, cache: bool = True, new: bool = False) -> tuple[float, float]:
    """(seconds from launch to the first printf of the traced command's first openat, CPU seconds the tool used
    by then): the same script for both tools. `new`: a script pyebpf has not run (a unique comment added)."""
    e = env() if cache else dict(env(), PYEBPF_NO_CACHE="1")
    if new:
        script = f"{script} // {uuid.uuid4().hex}"
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
    for script in (PLAIN, BTF):  # warm: byte-code caches and pyebpf's caches written, files in the page cache
        startup("pyebpf", script)
        startup("bpftrace", script)
    median = lambda rs: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))  # noqa: E731
    for title, script, cases in (
            ("plain one-liner", PLAIN, {"warm": {}, "new": {"new": True}}),
            ("script with a kernel struct cast", BTF, {"warm": {}, "new": {"new": True},
                                                       "cold": {"cache": False}})):
        runs: dict[str, list[tuple[float, float]]] = {**{c: [] for c in cases}, "bpftrace": []}
        for _ in range(a.repeat):  # interleaved, so load from other processes falls on every case alike
            for case, kw in cases.items():
                runs[case].append(startup("pyebpf", script, **kw))
            runs["bpftrace"].append(startup("bpftrace", script))
        wb, cb = median(runs["bpftrace"])
        print(f"start-up to first event, {title} (median of {a.repeat}): bpftrace {wb:.2f} s wall / {cb:.2f} s CPU")
        labels = {"warm": "warm (compiled script cached)", "new": "new script (compiled and stored)",
                  "cold": "cold (PYEBPF_NO_CACHE=1: BTF parsed, compiled)"}
        for case in cases:
            w, c = median(runs[case])
            print(f"  pyebpf trace {labels[case]}: {w:.2f} s wall / {c:.2f} s CPU; ratio to bpftrace: wall "
                  f"{w / wb:.2f}, CPU {c / cb if cb else float('nan'):.2f}")
    w_py, c_py = median([interpreter() for _ in range(a.repeat)])
    print(f"  the interpreter alone ({sys.executable} -c pass, site and all): {w_py:.2f} s wall / {c_py:.2f} s CPU")
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
