"""`pyebpf export` scraped by a real Prometheus server (Debian's `prometheus`, started here on a loopback port with
a temporary config and storage): a workload process opens a file 37 times and writes 5 x 100 and 3 x 5000 bytes;
PromQL over Prometheus's HTTP API must return those counts, from a Python probe (counter with a struct key, log2
histogram with a sum) and an assembly program (counter). The exporter and the server stop on every path; the
exporter's programs leave the kernel when it does."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from pyebpf.testing.plugin import require_or_skip


@pytest.fixture(autouse=True)
def export_extra():
    """The [export] extra (scripts/setup.sh installs it); CI (PYEBPF_REQUIRE_KERNEL=1) fails rather than skips."""
    import importlib.util

    for module in ("prometheus_client", "yaml"):
        if importlib.util.find_spec(module) is None:
            require_or_skip(f"{module} is not installed (pip install 'pyebpf-toolkit[export]')")

ROOT = Path(__file__).resolve().parents[2]
OPENS, SMALL, LARGE = 37, (5, 100), (3, 5000)

PROBES = '''
import ctypes
from pyebpf.probe import HashMap, comm, log2, pid, probe, u32, u64


class Proc(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("comm", ctypes.c_char * 16)]


class Bucket(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint32), ("bucket", ctypes.c_uint32)]


opens = HashMap(Proc, u64, max_entries=10240)
write_sizes = HashMap(Bucket, u64, max_entries=10240)


@probe("tracepoint/syscalls/sys_enter_openat", name="NAME_open")
def count_openat(ctx):
    opens[Proc(pid(), comm())] += 1


@probe("tracepoint/syscalls/sys_enter_write", name="NAME_write")
def write_size(ctx):
    n = u64(ctx.count)
    write_sizes[Bucket(pid(), u32(min(log2(n), 26)))] += 1
    write_sizes[Bucket(pid(), 27)] += n          # bucket_max + 1: the sum (ebpf_exporter's rule)
'''

ASM = """
.section tracepoint/syscalls/sys_enter_openat
.name NAME_asm
.map asm_opens hash key=4 value=8 entries=10240
    call bpf_get_current_pid_tgid
    r0 >>= 32
    *(u32 *)(r10 - 4) = r0
    r1 = map[asm_opens] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto new
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    goto out
new:
    *(u64 *)(r10 - 16) = 1
    r1 = map[asm_opens] ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
out:
    r0 = 0
    exit
"""

CONFIG = """
programs:
  - probe: probes.py
  - asm: count.s
metrics:
  counters:
    - name: openat_total
      map: opens
      help: openat() calls by process
      labels:
        - {name: pid, size: 4, decoders: [{name: uint}]}
        - {name: comm, size: 16, decoders: [{name: string}]}
    - name: asm_openat_total
      map: asm_opens
      help: openat() calls by process, counted by an assembly program
      labels:
        - {name: pid, size: 4, decoders: [{name: uint}]}
  histograms:
    - name: write_size_bytes
      map: write_sizes
      help: write() sizes
      bucket_type: log2
      bucket_min: 0
      bucket_max: 26
      labels:
        - {name: pid, size: 4, decoders: [{name: uint}]}
        - {name: bucket, size: 4, decoders: [{name: uint}]}
"""

WORKLOAD = f"""
import ctypes, os, sys
ctypes.CDLL(None).prctl(15, b"pyebpf-exported", 0, 0, 0)
out = os.open(os.devnull, os.O_WRONLY)
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
for _ in range({OPENS}):
    os.close(os.open(sys.argv[1], os.O_RDONLY))
for n, size in ({SMALL}, {LARGE}):
    for _ in range(n):
        os.write(out, b"x" * size)
os.write(1, b"done\\n")
sys.stdin.readline()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> int:
    """SIGTERM, then SIGKILL if it does not go; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_for(check, what: str, timeout: float = 60.0, proc: subprocess.Popen | None = None):
    end = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode}: {proc.stdout.read()[-2000:]}")
        try:
            last = check()
            if last:
                return last
        except OSError as e:
            last = e
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def prometheus(tmp_path):
    exe = shutil.which("prometheus")
    if exe is None:
        require_or_skip("prometheus is not installed (scripts/setup.sh installs Debian's prometheus)")

    def start(target_port: int) -> str:
        port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(textwrap.dedent(f"""
            global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
            scrape_configs:
              - job_name: pyebpf
                static_configs: [{{targets: ["127.0.0.1:{target_port}"]}}]
        """))
        proc = subprocess.Popen([exe, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{url}/-/ready") is not None, "prometheus ready", proc=proc)
        return url

    started: list[subprocess.Popen] = []
    yield start
    for proc in started:
        assert stop(proc) == 0


def promql(url: str, query: str) -> dict[tuple, float]:
    body = json.loads(get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query})))
    assert body["status"] == "success", body
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]}


def write_files(tmp_path: Path, tag: str) -> Path:
    (tmp_path / "probes.py").write_text(PROBES.replace("NAME", tag))
    (tmp_path / "count.s").write_text(ASM.replace("NAME", tag))
    cfg = tmp_path / "export.yaml"
    cfg.write_text(CONFIG)
    return cfg


def exporter(cfg: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "pyebpf", "export", str(cfg), "--listen", "127.0.0.1:0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def loaded_program_names() -> set[str]:
    from pyebpf.loader.info import prog_infos

    return {i.name for i in prog_infos()}


@pytest.mark.kernel
def test_prometheus_scrapes_the_counts_the_workload_caused(tmp_path, prometheus):
    tag = "t" + uuid.uuid4().hex[:6]
    cfg = write_files(tmp_path, tag)
    target = tmp_path / "opened"
    target.write_text("x")
    work = subprocess.Popen([sys.executable, "-c", WORKLOAD, str(target)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    exp, status = None, None
    try:
        assert work.stdout.readline() == "ready\n"
        exp = exporter(cfg)
        line = exp.stdout.readline()
        assert line.startswith("serving 3 metrics on http://127.0.0.1:"), line + exp.stdout.read()
        exporter_port = int(line.rsplit(":", 1)[1].split("/")[0])
        assert {f"{tag}_open", f"{tag}_write", f"{tag}_asm"} <= loaded_program_names()
        work.stdin.write("go\n")
        work.stdin.flush()
        assert work.stdout.readline() == "done\n"
        pid = str(work.pid)
        url = prometheus(exporter_port)  # started now: its first scrape already sees the whole workload

        opens = wait_for(lambda: promql(url, f'ebpf_exporter_openat_total{{pid="{pid}"}}'), "openat counter")
        assert opens == {(("__name__", "ebpf_exporter_openat_total"), ("comm", "pyebpf-exported"),
                          ("instance", f"127.0.0.1:{exporter_port}"), ("job", "pyebpf"), ("pid", pid)): OPENS}
        asm = wait_for(lambda: promql(url, f'sum(ebpf_exporter_asm_openat_total{{pid="{pid}"}})'), "asm counter")
        assert list(asm.values()) == [OPENS]

        # writes: 5 x 100 bytes (log2 bucket 6: 64..127), 3 x 5000 (bucket 12: 4096..8191), "done\n" (bucket 2)
        sizes = [SMALL[1]] * SMALL[0] + [LARGE[1]] * LARGE[0] + [5]
        count = wait_for(lambda: promql(url, f'sum(ebpf_exporter_write_size_bytes_count{{pid="{pid}"}})'), "count")
        assert list(count.values()) == [len(sizes)]
        total = promql(url, f'sum(ebpf_exporter_write_size_bytes_sum{{pid="{pid}"}})')
        assert list(total.values()) == [sum(sizes)]
        buckets = promql(url, f'ebpf_exporter_write_size_bytes_bucket{{pid="{pid}"}}')
        by_le = {dict(k)["le"]: v for k, v in buckets.items()}
        for le, expect in (("3.0", 0), ("7.0", 1), ("63.0", 1), ("127.0", 6), ("4095.0", 6), ("8191.0", 9), ("+Inf", 9)):
            assert by_le[le] == expect, (le, by_le)
        assert len(by_le) == 28  # buckets 0..26 and +Inf
        median = promql(url, f'histogram_quantile(0.5, sum by (le) (ebpf_exporter_write_size_bytes_bucket{{pid="{pid}"}}))')
        assert 63 < list(median.values())[0] <= 127
        info = promql(url, f'ebpf_exporter_ebpf_program_info{{program="{tag}_asm"}}')
        assert len(info) == 1
    finally:
        if exp is not None:
            status = stop(exp)
        work.stdin.close()
        stop(work)
    assert status == 0, exp.stdout.read()
    assert not {f"{tag}_open", f"{tag}_write", f"{tag}_asm"} & loaded_program_names()


@pytest.mark.kernel
def test_a_config_that_does_not_fit_the_maps_releases_what_it_loaded(tmp_path):
    tag = "t" + uuid.uuid4().hex[:6]
    cfg = write_files(tmp_path, tag)
    cfg.write_text(CONFIG.replace("map: asm_opens", "map: no_such_map"))
    exp = exporter(cfg)
    try:
        out, _ = exp.communicate(timeout=120)
    finally:
        stop(exp)
    assert exp.returncode == 1
    assert out.strip().splitlines()[-1].startswith("pyebpf export: error: metric asm_openat_total: no map named 'no_such_map'"), out
    assert "Traceback" not in out
    assert not {f"{tag}_open", f"{tag}_write", f"{tag}_asm"} & loaded_program_names()


@pytest.mark.kernel
def test_duration_and_a_busy_port_end_cleanly(tmp_path):
    tag = "t" + uuid.uuid4().hex[:6]
    cfg = write_files(tmp_path, tag)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        exp = exporter(cfg, "--listen", f"127.0.0.1:{port}")
        out, _ = exp.communicate(timeout=120)
    assert exp.returncode == 1 and f"--listen 127.0.0.1:{port}:" in out and "Traceback" not in out, out
    exp = exporter(cfg, "--duration", "0.5")
    out, _ = exp.communicate(timeout=120)
    assert exp.returncode == 0 and out.startswith("serving 3 metrics"), out
    assert not {f"{tag}_open", f"{tag}_write", f"{tag}_asm"} & loaded_program_names()


ELF_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1024); }
    getppid_calls SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid") int count_getppid(void *ctx)
{
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    __u64 one = 1, *n = bpf_map_lookup_elem(&getppid_calls, &tgid);
    if (n)
        __sync_fetch_and_add(n, 1);
    else
        bpf_map_update_elem(&getppid_calls, &tgid, &one, BPF_NOEXIST);
    return 0;
}
char _license[] SEC("license") = "GPL";
"""

HIST_PROBE = '''
import os
from pyebpf.probe import Log2Histogram, pid, probe, u64

TARGET = int(os.environ["PYEBPF_EXPORT_TEST_PID"])
sizes = Log2Histogram()


@probe("tracepoint/syscalls/sys_enter_write", name="NAME_hist")
def write_sizes(ctx):
    if pid() == TARGET:
        sizes.record(u64(ctx.count))
'''

ELF_CONFIG = """
programs:
  - object: getppid.o
  - probe: hist.py
metrics:
  counters:
    - name: getppid_total
      map: getppid_calls
      labels: [{name: pid, size: 4, decoders: [{name: uint}]}]
  histograms:
    - name: write_bytes
      map: sizes
      bucket_type: log2
      bucket_max: 20
      labels: [{name: bucket, size: 4, decoders: [{name: uint}]}]
"""

GETPPID_WORKLOAD = """
import os, sys
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
for _ in range(23):
    os.getppid()
out = os.open(os.devnull, os.O_WRONLY)
for size in (1, 3, 3, 700, 700, 700):
    os.write(out, b"x" * size)
sys.stdout.write("done\\n"); sys.stdout.flush()
sys.stdin.readline()
"""


@pytest.mark.kernel
def test_elf_object_counter_and_a_log2histogram_probe_on_metrics(tmp_path):
    """A clang-built object's hash map and a Python probe's Log2Histogram, read from /metrics directly."""
    from prometheus_client.parser import text_string_to_metric_families

    clang = shutil.which("clang")
    if clang is None:
        require_or_skip("clang is not installed")
    sys.path.insert(0, str(ROOT / "tests" / "loader" / "c"))
    from bpf_objects import multiarch_include

    tag = "t" + uuid.uuid4().hex[:6]
    (tmp_path / "getppid.c").write_text(ELF_C)
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", *multiarch_include(), "-c", str(tmp_path / "getppid.c"),
                    "-o", str(tmp_path / "getppid.o")], check=True)
    (tmp_path / "hist.py").write_text(HIST_PROBE.replace("NAME", tag))
    (tmp_path / "export.yaml").write_text(ELF_CONFIG)
    work = subprocess.Popen([sys.executable, "-c", GETPPID_WORKLOAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    exp = None
    try:
        assert work.stdout.readline() == "ready\n"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYEBPF_EXPORT_TEST_PID": str(work.pid)}
        exp = subprocess.Popen([sys.executable, "-m", "pyebpf", "export", str(tmp_path / "export.yaml"),
                                "--listen", "127.0.0.1:0", "--namespace", ""], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
        line = exp.stdout.readline()
        assert line.startswith("serving 2 metrics on "), line + exp.stdout.read()
        work.stdin.write("go\n")
        work.stdin.flush()
        assert work.stdout.readline() == "done\n"
        text = get(line.split(" on ", 1)[1].strip()).decode()
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        calls = [s.value for s in fams["getppid"].samples if s.labels.get("pid") == str(work.pid)]
        assert calls == [23]
        hist = {(s.name, s.labels.get("le")): s.value for s in fams["write_bytes"].samples}
        # log2 buckets: 1 -> bucket 0 (le 1), 3 -> bucket 1 (le 3), "done\n" -> bucket 2 (le 7), 700 -> bucket 9
        assert [hist[("write_bytes_bucket", le)] for le in ("1.0", "3.0", "7.0", "511.0", "1023.0", "+Inf")] \
            == [1, 3, 4, 4, 7, 7]
        assert hist[("write_bytes_count", None)] == 7
    finally:
        if exp is not None:
            assert stop(exp) == 0
        work.stdin.close()
        stop(work)


@pytest.mark.kernel
def test_maps_pinned_by_another_loader_are_served(tmp_path):
    """--pinned-maps DIR: a map some other process pinned (here: created and pinned by the test) is read by name."""
    from prometheus_client.parser import text_string_to_metric_families

    from pyebpf.abi.maps import MapSpec, MapType
    from pyebpf.loader import ensure_bpffs
    from pyebpf.loader.maps import create_map

    pins = Path(ensure_bpffs()) / f"pyebpf_export_{uuid.uuid4().hex[:8]}"
    pins.mkdir()
    cfg = tmp_path / "pinned.yaml"
    cfg.write_text("metrics:\n  gauges:\n    - name: queue_depth\n      map: depths\n"
                   "      labels: [{name: queue, size: 4, decoders: [{name: uint}]}]\n")
    exp = None
    try:
        with create_map(MapSpec("depths", MapType.HASH, 4, 8, 8)) as m:
            m.update_raw((3).to_bytes(4, "little"), (41).to_bytes(8, "little"))
            m.pin(str(pins / "depths"))
        exp = subprocess.Popen([sys.executable, "-m", "pyebpf", "export", str(cfg), "--listen", "127.0.0.1:0",
                                "--pinned-maps", str(pins)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        line = exp.stdout.readline()
        assert line.startswith("serving 1 metric on "), line + exp.stdout.read()
        fams = {f.name: f for f in text_string_to_metric_families(get(line.split(" on ", 1)[1].strip()).decode())}
        assert [(s.labels, s.value) for s in fams["ebpf_exporter_queue_depth"].samples] == [({"queue": "3"}, 41.0)]
    finally:
        if exp is not None:
            assert stop(exp) == 0
        for p in pins.iterdir():
            p.unlink()
        pins.rmdir()
