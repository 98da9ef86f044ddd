"""bpftrace's own tools/ (v0.17.0, as Debian installs them in /usr/sbin) run unmodified by `pyebpf trace`: the same
header lines and, for a workload that makes the tool print, the same rows (less times and pids) or the same maps.
The tools bpftrace itself cannot run here (kprobes) are listed in docs/trace.md."""
from __future__ import annotations

import os
import re

import pytest

from tracecmp import bpftrace, map_names, ours

pytestmark = pytest.mark.kernel

WORKLOADS = {
    "exec.sh": "#!/bin/sh\n/bin/true a b\n/bin/echo hi there\n",
    "kill.sh": "#!/bin/sh\nkill -0 $$\nkill -0 99999999 2>/dev/null\n",
    "setuid.py": "import os\nos.setuid(0)\nos.setresuid(0, 0, 0)\n",
    # on the CPU for 0.6 s: a 99 Hz sampler of non-idle tasks sees it (sleep(1) may be sampled by neither tool)
    "spin.py": "import time\nend = time.monotonic() + 0.6\nwhile time.monotonic() < end:\n    pass\n",
}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("tools")
    for name, text in WORKLOADS.items():
        (d / name).write_text(text)
    return str(d)


@pytest.fixture(autouse=True)
def _root():
    if os.geteuid() != 0:
        pytest.skip("needs root")


def tool(name: str) -> str:
    path = f"/usr/sbin/{name}.bt"
    if not os.path.exists(path):
        pytest.skip(f"{path} is not installed (bpftrace's tools)")
    return path


def both(name: str, workload: str) -> tuple[str, str]:
    rc, mine, err = ours("-c", workload, tool(name))
    assert mine.startswith("Attaching") and "Traceback" not in err, err  # (the status is the workload's)
    _, theirs, _ = bpftrace("-c", workload, tool(name))
    return mine, theirs


def header(out: str, own: set[str]) -> list[str]:
    """The tool's lines before its first row: "Attaching N probes...", what BEGIN prints (the workload's own
    output, written to the same stdout in either order, left out)."""
    return [l for l in out.split("\n")[:4] if l not in own and not re.match(r"^\d", l)][:3]


ROWS = {
    # tool: (workload, row pattern: the columns compared (times and pids differ between runs))
    "execsnoop": ("/bin/sh {work}/exec.sh", r"^\d+\s+\d+\s+(/bin/(?:true|echo) .*)$"),
    "killsnoop": ("/bin/sh {work}/kill.sh", r"^\S+\s+\d+\s+(sh\s+\d+)\s+\d+\s+(-?\d+)$"),
    "setuids": ("/usr/bin/python3 {work}/setuid.py", r"^\S+\s+\d+\s+(python3\s+\d+\s+set\w+\s+.*)$"),
    "syncsnoop": ("/bin/sync", r"^\S+\s+\d+\s+(sync\s+\S+)$"),
    "gethostlatency": ("/usr/bin/getent ahosts localhost", r"^\S+\s+\d+\s+(getent)\s+\d+\s+(\S+)$"),
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_tool_rows_as_bpftrace(name: str, work: str):
    workload, pattern = ROWS[name]
    workload = workload.format(work=work)
    rows = lambda out: [m.groups() for m in map(re.compile(pattern).match, out.split("\n")) if m]  # noqa: E731
    for _ in range(2):  # a loaded machine can make either tool miss a row at the command's exit: once more
        mine, theirs = both(name, workload)
        if rows(mine) == rows(theirs):
            break
    assert header(mine, set()) [:1] == header(theirs, set())[:1]
    assert rows(mine) and rows(mine) == rows(theirs), f"ours:\n{mine}\nbpftrace:\n{theirs}"


SHAPES = {
    # tool: (workload, maps printed at the end)
    "bashreadline": ("/bin/true", []),
    "naptime": ("/bin/true", []),
    "writeback": ("/bin/true", []),
    "bitesize": ("/bin/true", None),  # block I/O of whatever else runs: maybe none
    "pidpersec": ("/bin/sleep 1.2", ["@"]),
    "cpuwalk": ("/usr/bin/python3 {work}/spin.py", ["@cpu"]),
    "syscount": ("/bin/cat /etc/hostname", None),  # END prints and clears them: printed from END
    # symbols this OpenSSL / glibc lacks are skipped, as bpftrace skips them (threadsnoop keeps only BEGIN)
    "ssllatency": ("/bin/true", []),
    "sslsnoop": ("/bin/true", []),
    "threadsnoop": ("/bin/true", []),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_tool_header_and_maps_as_bpftrace(name: str, work: str):
    workload, maps = SHAPES[name]
    workload = workload.format(work=work)
    mine, theirs = both(name, workload)
    own = {"vm", os.uname().nodename}  # what cat /etc/hostname prints
    assert header(mine, own) == header(theirs, own), f"ours:\n{mine}\nbpftrace:\n{theirs}"
    if maps is not None:
        assert map_names(mine) == map_names(theirs) == maps, f"ours:\n{mine}\nbpftrace:\n{theirs}"
    if maps == []:  # every map empty: the same blank lines (one per empty map, two for stats/avg)
        assert mine.endswith(theirs[len(theirs.rstrip("\n")):]), f"ours:\n{mine!r}\nbpftrace:\n{theirs!r}"
    if name == "syscount":
        for out in (mine, theirs):
            assert "Top 10 syscalls IDs:" in out and "Top 10 processes:" in out
            assert 1 <= len(re.findall(r"^@syscall\[\d+\]: \d+$", out, re.M)) <= 10
            assert 1 <= len(re.findall(r"^@process\[.*\]: \d+$", out, re.M)) <= 10
