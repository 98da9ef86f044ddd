"""Events out of the kernel: throughput, loss and latency of the ring buffer (and perf buffer) readers.

    python benchmarks/events_speed.py [--seconds 2] [--rate 200000] [--ring-mb 16] [--no-perf]
    python benchmarks/events_speed.py --seconds 60 --paced-only --no-perf      # issue 15's 60 s run, both readers
    python benchmarks/events_speed.py --ceiling-only                            # drain CPU per record only

A tracepoint program on syscalls/sys_enter_getppid, filtered by the pid of a forked producer process that calls
os.getppid() in a tight loop, writes {ktime_get_ns, seq, pid} per call into a BPF ring buffer (failed outputs are
counted in a map). This process reads the records and, for each, compares the kernel timestamp with
clock_gettime(CLOCK_MONOTONIC) — the same clock — to get kernel-to-user latency. Scenarios, each measured here:

  * unthrottled: the producer runs flat out; shows the reader's ceiling and what is lost when it is outrun;
  * paced at --rate events/s (default 200,000): the user story's "> 100,000 events/s without loss" case;
  * the same paced run through the perf buffer (per-CPU BPF_OUTPUT rings), for comparison;
  * the drain ("reader ceiling"): 150,000 records waiting, drained once, CPU per record as bytes, lists, ctypes
    instances and ctypes arrays (consume_arrays).

pyebpf's ring reader hands the benchmark's callback lists (--per-record: one call per record). --wakeup picks the
program's notification flags (default, force, or adaptive: BPF_RB_NO_WAKEUP until N bytes wait).
--position-stores shows why the consumer position is stored as one 8-byte word (loader/shared_word.py).
Every streaming run prints drops (outputs a full ring refused, outputs that failed with the ring less than half
full, sequence gaps seen by the reader) and latency (median, p99) as numbers.

Anchor: the same map, program, ring size and producer read by libbpf (ring_buffer__poll / perf_buffer__poll, and
ring_buffer__consume / perf_buffer__consume for the drain), through benchmarks/events_c/events_anchor.c built here
with `cc -lbpf` (said to be missing when libbpf's headers or library are not installed). --reader picks who reads
the streaming runs: pyebpf, libbpf or both (one after the other, same conditions).

Targets (user story): > 100,000 events/s read without loss, median latency < 1 ms, reader RSS growth < 10 MB;
issue 15: 200,000 events/s for 60 s with 0 drops and median <= 1 ms, drain <= 0.3 us CPU per record kept.
Needs root (bpf, tracefs).
"""
from __future__ import annotations

import argparse
import atexit
import gc
from array import array
import ctypes
import os
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pyebpf.errors import PyebpfError
from pyebpf.abi.uapi import RingbufFlags, RingbufQuery
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, Builder
from pyebpf.loader import load
from pyebpf.loader.attach import attach_tracepoint
from pyebpf.loader.perfbuf import PerfBuffer
from pyebpf.loader.ringbuf import RingBuffer

RATE_TARGET = 100_000
LATENCY_TARGET_MS = 1.0
RSS_TARGET_MB = 10.0
DRAIN_TARGET_US = 0.3
RECORD = struct.Struct("<QII")  # ktime_get_ns, seq, pid


def program(kind: str, producer_pid: int, ring_bytes: int, wakeup: str = "default"):
    """The producer's program. `wakeup` (ring only) picks bpf_ringbuf_output's notification flags: "default" (0: the
    kernel wakes the reader when it commits a record the reader has caught up with), "force" (BPF_RB_FORCE_WAKEUP on
    every record) or a number of bytes N (adaptive, as some libbpf-based tools do: BPF_RB_NO_WAKEUP until N bytes
    wait, then BPF_RB_FORCE_WAKEUP; the reader's poll timeout picks up a tail below N)."""
    b = Builder("tracepoint")
    b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=3)
    if kind == "ring":
        b.map("events", "ringbuf", max_entries=ring_bytes)
    else:
        b.map("events", "perf_event_array", key=4, value=4, max_entries=os.cpu_count() or 1)
    b.mov(R6, R1)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.jump_if(R0 != producer_pid, "out")
    b.mov(R7, R0)
    b.store(R10 - 4, 0, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    b.jump_if(R0 == 0, "out")
    b.mov(R8, 1).atomic_add(R0 + 0, R8, fetch=True)
    b.store(R10 - 16, R8, "u32").store(R10 - 12, R7, "u32")
    b.call("ktime_get_ns").store(R10 - 24, R0, "u64")
    if kind == "ring":
        if wakeup == "default":
            b.mov(R9, 0)
        elif wakeup == "force":
            b.mov(R9, int(RingbufFlags.FORCE_WAKEUP))
        else:
            b.ld_map(R1, "events").mov(R2, int(RingbufQuery.AVAIL_DATA)).call("ringbuf_query")
            b.mov(R9, int(RingbufFlags.NO_WAKEUP))
            with b.if_(R0 >= int(wakeup)):
                b.mov(R9, int(RingbufFlags.FORCE_WAKEUP))
        b.ld_map(R1, "events").mov(R2, R10).add(R2, -24).mov(R3, RECORD.size).mov(R4, R9).call("ringbuf_output")
    else:
        b.mov(R1, R6).ld_map(R2, "events").ld_imm64(R3, 0xFFFFFFFF).mov(R4, R10).add(R4, -24)
        b.mov(R5, RECORD.size).call("perf_event_output")
    b.jump_if(R0 == 0, "out")
    # Output failed. counts[1]: the ring was full (the reader fell behind); counts[2]: it failed although the
    # ring had room (6.15+ kernels take the ring's lock with rqspinlock, which can give up).
    b.store(R10 - 4, 1, "u32")
    if kind == "ring":
        b.ld_map(R1, "events").mov(R2, int(RingbufQuery.AVAIL_DATA)).call("ringbuf_query")
        with b.if_(R0 < ring_bytes // 2):
            b.store(R10 - 4, 2, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    b.jump_if(R0 == 0, "out")
    b.mov(R1, 1).atomic_add(R0 + 0, R1)
    b.label("out")
    b.ret(0)
    return b.build()


def fork_producer(seconds: float, rate: int) -> tuple[int, int]:
    """A child that waits for a byte on a pipe, then calls getppid() for `seconds` (paced to `rate`/s if > 0)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(w)
            os.read(r, 1)
            getppid, now = os.getppid, time.monotonic
            end = now() + seconds
            if rate <= 0:
                while now() < end:
                    for _ in range(1000):
                        getppid()
            else:
                batch = max(1, rate // 1000)  # 1 ms worth of events per batch
                start, sent = now(), 0
                while True:
                    t = now()
                    if t >= end:
                        break
                    due = int((t - start) * rate)
                    if sent < due:
                        for _ in range(min(batch, due - sent)):
                            getppid()
                        sent += min(batch, due - sent)
                    else:
                        time.sleep(0.0002)
        finally:
            os._exit(0)
    os.close(r)
    return pid, w


def rss_mb() -> dict[str, float]:
    """VmRSS split into RssAnon (heap: what a leak grows) and RssFile+RssShmem (mapped ring pages), in MiB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) / 1024
    return out


ANCHOR_SRC = Path(__file__).resolve().parent / "events_c" / "events_anchor.c"
_anchor: dict[str, Any] = {}


def anchor_binary() -> tuple[Path | None, str]:
    """The libbpf anchor, built once per process into a temporary directory; (None, why) when it cannot be."""
    if "path" not in _anchor:
        cc = shutil.which("cc")
        if cc is None:
            _anchor.update(path=None, why="no C compiler (cc)")
        else:
            tmp = Path(tempfile.mkdtemp(prefix="pyebpf-events-anchor-"))
            atexit.register(shutil.rmtree, tmp, True)
            exe = tmp / "events_anchor"
            done = subprocess.run([cc, "-O2", "-o", str(exe), str(ANCHOR_SRC), "-lbpf"], capture_output=True, text=True)
            if done.returncode:
                why = (done.stderr.strip().splitlines() or ["?"])[-1]
                _anchor.update(path=None, why=f"libbpf anchor not built (libbpf headers/library missing?): {why}")
            else:
                _anchor.update(path=exe, why="")
    return _anchor["path"], _anchor["why"]


class Anchor:
    """One run of the libbpf anchor on an inherited map fd (see events_anchor.c for the protocol)."""

    def __init__(self, kind: str, mode: str, map_fd: int, pages: int, cpus: set[int] | None = None):
        exe, why = anchor_binary()
        if exe is None:
            raise RuntimeError(why)
        self.proc = subprocess.Popen([str(exe), kind, mode, str(map_fd), str(pages)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, pass_fds=(map_fd,))
        if cpus:
            os.sched_setaffinity(self.proc.pid, cpus)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"libbpf anchor did not start ({kind} {mode})")

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> dict[str, int]:
        """Close its stdin (a stream run ends), read its figures."""
        out, _ = self.proc.communicate(timeout=120)
        if self.proc.returncode:
            raise RuntimeError(f"libbpf anchor failed ({self.proc.returncode})")
        return {k: int(v) for k, v in (kv.split("=") for kv in out.split())}


def run(kind: str, seconds: float, rate: int, ring_bytes: int, pages: int, reader: str = "pyebpf",
        batch: bool = True, wakeup: str = "default") -> dict:
    """One streaming run: a producer paced at `rate`/s (0: flat out) for `seconds`, read by pyebpf or libbpf.
    pyebpf's ring reader hands the callback lists of records (consume(batch=True)) unless `batch` is False (one
    Python call per record); the perf reader calls it per record."""
    pid, go = fork_producer(seconds, rate)
    latencies = array("q")  # 8 bytes a sample: a Python list of ints grew the heap by tens of MB in 60 s runs
    state = {"n": 0, "last_seq": -1, "gaps": 0}
    clock, mono = time.clock_gettime_ns, time.CLOCK_MONOTONIC
    unpack = RECORD.unpack_from

    def on_record(raw: bytes) -> None:
        ts, seq, _pid = unpack(raw)
        n = state["n"]
        if n & 15 == 0:  # sample 1/16 of the records for latency: the clock call costs as much as the rest
            latencies.append(clock(mono) - ts)
        if seq != state["last_seq"] + 1:
            state["gaps"] += 1
            state.setdefault("gap_at", []).append((state["last_seq"], seq))
        state["last_seq"] = seq
        state["n"] = n + 1

    def on_batch(records: list[bytes]) -> None:
        """The same bookkeeping for a list of records at C speed: the records joined, the timestamp and sequence
        columns cut out with strided memoryview slices, every 16th record's latency (one clock read per batch:
        the batch is handed over at one moment), the sequence compared with the expected range as one list."""
        n, count = state["n"], len(records)
        data = b"".join(records)
        if len(data) != RECORD.size * count:  # (not this program's records: one at a time)
            for raw in records:
                on_record(raw)
            return
        now = clock(mono)
        latencies.extend([now - ts for ts in memoryview(data).cast("Q")[(-n % 16) * 2::32]])
        seqs = memoryview(data).cast("I")[2::4].tolist()
        first = state["last_seq"] + 1
        if seqs != list(range(first, first + count)):
            last = state["last_seq"]
            for seq in seqs:
                if seq != last + 1:
                    state["gaps"] += 1
                    state.setdefault("gap_at", []).append((last, seq))
                last = seq
        state["last_seq"] = seqs[-1]
        state["n"] = n + count

    rss_before = rss_mb()
    anchor: dict[str, int] = {}
    max_backlog = passes = 0
    try:
        prog = load(program(kind, pid, ring_bytes, wakeup))
        with prog, attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
            if reader == "libbpf":
                a = Anchor(kind, "stream", prog.maps["events"].fd, pages)
                t0 = time.monotonic()
                os.write(go, b"x")
                os.waitpid(pid, 0)
                pid = 0
                t_end = time.monotonic()
                anchor = a.finish()
            else:
                if kind == "ring":
                    rd: Any = RingBuffer(prog.maps["events"], callback=on_record)
                else:
                    rd = PerfBuffer(prog.maps["events"], callback=on_record, page_count=pages)
                if batch and kind == "ring":  # each pass handed to on_batch in lists
                    def drain() -> int:
                        return rd.consume(on_batch, batch=True)
                else:
                    drain = rd.consume
                with rd:
                    t0 = time.monotonic()
                    os.write(go, b"x")
                    while True:
                        if kind == "ring":
                            max_backlog = max(max_backlog, rd.available())
                            rd.wait(0.05)
                            passes += drain() > 0
                        else:
                            passes += rd.poll(0.05) > 0  # waits, then drains
                        done, _ = os.waitpid(pid, os.WNOHANG)
                        if done:
                            pid = 0
                            break
                    t_end = time.monotonic()
                    time.sleep(0.05)  # whatever is left
                    while drain():
                        pass
                    reader_lost = rd.lost if kind == "perf" else 0
            produced = prog.maps["counts"][0]
            lost = prog.maps["counts"][1]
            spurious = prog.maps["counts"][2]
            rss_after = rss_mb()
    finally:
        os.close(go)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    elapsed = t_end - t0
    if anchor:
        n, gaps = anchor["records"], anchor["gaps"]
        lost = max(lost, anchor["lost"])
        lat_median = anchor["lat_median_ns"] / 1000
        lat_p99 = anchor["lat_p99_ns"] / 1000
        cpu_us = anchor["cpu_ns"] / 1000
        passes = anchor["passes"]
    else:
        if os.environ.get("EVENTS_SPEED_DEBUG"):
            print("gaps at", state.get("gap_at", [])[:10])
        if kind == "perf":
            lost = max(lost, reader_lost)
        n, gaps = state["n"], state["gaps"]
        latencies = sorted(latencies)
        lat_median = statistics.median(latencies) / 1000 if latencies else float("nan")
        lat_p99 = latencies[int(len(latencies) * 0.99)] / 1000 if latencies else float("nan")
        cpu_us = float("nan")
    return {
        "kind": kind, "reader": reader, "batch": batch and kind == "ring" and reader == "pyebpf", "rate": rate,
        "wakeup": wakeup if kind == "ring" else "-", "passes": passes, "elapsed": elapsed, "produced": produced, "read": n,
        "lost": lost, "spurious": spurious, "gaps": gaps, "max_backlog": max_backlog, "read_per_s": n / elapsed,
        "lat_median_us": lat_median, "lat_p99_us": lat_p99, "reader_cpu_us": cpu_us,
        "rss_growth_mb": rss_after["VmRSS"] - rss_before["VmRSS"],
        "anon_growth_mb": rss_after["RssAnon"] - rss_before["RssAnon"],
    }


class Record(ctypes.Structure):
    _fields_ = [("ts", ctypes.c_uint64), ("seq", ctypes.c_uint32), ("pid", ctypes.c_uint32)]


def reader_ceiling(kind: str, count: int, ring_bytes: int, libbpf: bool = False) -> dict[str, float]:
    """Records/s the reader alone sustains: fill the buffer first (this process, pinned to one CPU, is the
    producer), then time draining it with a bytes callback and with a ctypes Structure decoder. No scheduling noise
    from a concurrent producer, so this is the reader's ceiling on this machine. With `libbpf`, the anchor drains
    the same records too (libbpf_cpu_us)."""
    out = {}
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(old)})
    try:
        for label, decode in (("bytes", None), ("ctypes", Record), ("ctypes_seen", Record), ("batch", None),
                              ("arrays", Record)):
            if label == "batch" and kind != "ring":
                continue
            prog = load(program(kind, os.getpid(), ring_bytes))
            pages = 1 << max(0, (count * 40 // 4096)).bit_length()
            reader = RingBuffer(prog.maps["events"], decode=decode) if kind == "ring" else \
                PerfBuffer(prog.maps["events"], decode=decode, page_count=pages)
            with prog, reader, attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
                getppid = os.getppid
                for _ in range(count):
                    getppid()
                sink: list = []
                last = [0]

                def seen(record: Any) -> None:  # a streaming consumer: looks at each record, keeps none
                    last[0] = record.seq

                t, c = time.perf_counter(), time.process_time()
                if label == "batch":
                    n = reader.consume(sink.extend, batch=True)
                elif label == "arrays":
                    n = reader.consume_arrays(sink.append)
                else:
                    n = reader.consume(seen if label == "ctypes_seen" else sink.append)
                gc.collect(0)  # the young collection of the records made belongs to their cost
                out[label] = n / (time.perf_counter() - t)
                out[label + "_cpu_us"] = (time.process_time() - c) / max(n, 1) * 1e6
                out["n"] = n
        if libbpf:
            _anchor_drain(kind, count, ring_bytes, out)
    finally:
        os.sched_setaffinity(0, old)
    return out


def _anchor_drain(kind: str, count: int, ring_bytes: int, out: dict[str, Any]) -> None:
    """libbpf's drain of the same records (same program, ring size, producer), each record copied into an array:
    out["libbpf_cpu_us"], or out["libbpf_missing"] saying why it was not measured."""
    if anchor_binary()[0] is None:
        out["libbpf_missing"] = anchor_binary()[1]
        return
    pages = 1 << max(0, (count * 40 // 4096)).bit_length()
    prog = load(program(kind, os.getpid(), ring_bytes))
    with prog, attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
        a = Anchor(kind, "drain", prog.maps["events"].fd, pages, cpus=os.sched_getaffinity(0))
        getppid = os.getppid
        for _ in range(count):
            getppid()
        a.go()
        r = a.finish()
    out["libbpf_n"] = r["records"]
    out["libbpf_cpu_us"] = r["cpu_ns"] / 1000 / max(r["records"], 1)


def position_stores(store: str, seconds: float, ring_bytes: int, rate: int) -> dict[str, int]:
    """Why the consumer position is stored as one 8-byte word: a consumer that only moves the position (skipping
    records) as often as it can while the producer outputs at `rate`/s. `store` "struct" writes it with
    struct.pack_into (zero-fill, then a byte at a time), "word" through shared_word.u64_words. Torn positions make
    bpf_ringbuf_output fail although the ring is nearly empty (counted as failures; a consumer descheduled for long
    lets the ring fill for real, which shows as failures too: pace the producer so that takes a long stall)."""
    import mmap

    from pyebpf.loader.shared_word import u64_words

    pid, go = fork_producer(seconds, rate)
    writes = 0
    try:
        prog = load(program("ring", pid, ring_bytes))
        fd = prog.maps["events"].fd
        cons_mm = mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        prod_mm = mmap.mmap(fd, mmap.PAGESIZE, mmap.MAP_SHARED, mmap.PROT_READ, offset=mmap.PAGESIZE)
        cons, prod = u64_words(cons_mm, 0), u64_words(prod_mm, 0)
        with prog, attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
            os.write(go, b"x")
            pack = struct.Struct("<Q").pack_into
            while not os.waitpid(pid, os.WNOHANG)[0]:
                if store == "struct":
                    for _ in range(1000):
                        pack(cons_mm, 0, prod[0])
                else:
                    for _ in range(1000):
                        cons[0] = prod[0]
                writes += 1000
            pid = 0
            counts = prog.maps["counts"]
            out = {"produced": counts[0], "failed": counts[1] + counts[2], "failed_with_room": counts[2],
                   "writes": writes}
        cons.release(), prod.release(), cons_mm.close(), prod_mm.close()
    finally:
        os.close(go)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return out


def report(res: dict) -> bool:
    pace = "unthrottled" if res["rate"] <= 0 else f"paced {res['rate']:,}/s"
    label = f"{res['kind']:4} {res['reader']:6}{' batch' if res['batch'] else ''} {pace}"
    ok_rate = res["read_per_s"] > RATE_TARGET and res["lost"] == 0 and res["spurious"] == 0 and \
        res["read"] == res["produced"]
    ok_lat = res["lat_median_us"] <= LATENCY_TARGET_MS * 1000
    ok_rss = res["rss_growth_mb"] < RSS_TARGET_MB or res["reader"] != "pyebpf"
    rss = (f"RSS +{res['rss_growth_mb']:.1f} MB (heap +{res['anon_growth_mb']:.1f})" if res["reader"] == "pyebpf"
           else f"reader CPU {res['reader_cpu_us'] / max(res['read'], 1):.3f} us/record")
    backlog = f"max backlog {res['max_backlog'] / 1024:5.0f} KiB  " if res["reader"] == "pyebpf" else ""
    print(f"{label:30} produced {res['produced']:>9,}  read {res['read']:>9,}  lost (full) {res['lost']:>6,}  "
          f"failed-with-room {res['spurious']:>3}  gaps {res['gaps']:>3}  read/s {res['read_per_s']:>9,.0f}  "
          f"latency median {res['lat_median_us']:8.1f} us  p99 {res['lat_p99_us']:9.1f} us  "
          f"passes with records {res['passes']:,} (wakeup flags: {res['wakeup']})  {backlog}{rss}")
    return ok_rate and ok_lat and ok_rss


def ceiling_line(kind: str, c: dict[str, Any]) -> str:
    """One reader's drain figures, each kept figure beside the target and (when measured) libbpf's."""
    lib = c.get("libbpf_cpu_us")

    def kept(us: float) -> str:
        vs = f", {us / lib:.1f}x libbpf" if lib else ""
        return f"{us:.3f} us CPU/record kept ({'meets' if us <= DRAIN_TARGET_US else 'misses'} <= {DRAIN_TARGET_US}{vs})"

    parts = [f"{c['bytes_cpu_us']:.3f} us as bytes ({c['bytes']:,.0f}/s)"]
    if "batch" in c:
        parts.append(f"{c['batch_cpu_us']:.3f} as lists of bytes (batch=True)")
    parts.append(f"ctypes Structure instances in a list {kept(c['ctypes_cpu_us'])}, "
                 f"{c['ctypes_seen_cpu_us']:.3f} to a callback that keeps none")
    if "arrays" in c:
        parts.append(f"ctypes arrays (consume_arrays) {kept(c['arrays_cpu_us'])}")
    if lib:
        parts.append(f"libbpf copying each record into an array {lib:.3f} us CPU/record")
    elif "libbpf_missing" in c:
        parts.append(f"libbpf: missing ({c['libbpf_missing']})")
    return f"{kind} drain of {c['n']:,.0f} records: " + "; ".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rate", type=int, default=200_000, help="paced producer rate, events/s")
    ap.add_argument("--ring-mb", type=int, default=4, help="ring buffer size (power of 2, MiB)")
    ap.add_argument("--perf-pages", type=int, default=256, help="perf ring pages per CPU (power of 2)")
    ap.add_argument("--no-perf", action="store_true", help="skip the perf buffer run")
    ap.add_argument("--ceiling-only", action="store_true", help="only the reader ceilings (no streaming runs)")
    ap.add_argument("--paced-only", action="store_true", help="skip the unthrottled run")
    ap.add_argument("--position-stores", type=int, metavar="ROUNDS", default=0,
                    help="only the consumer-position store check: ROUNDS rounds of struct.pack_into vs 8-byte word")
    ap.add_argument("--wakeup", default="default",
                    help="ring output notification: default, force, or N (adaptive: wake once N bytes wait)")
    ap.add_argument("--per-record", action="store_true",
                    help="pyebpf's ring reader calls the Python callback once per record (default: lists, batch=True)")
    ap.add_argument("--reader", choices=("pyebpf", "libbpf", "both"), default="both",
                    help="who reads the streaming runs (both: pyebpf, then libbpf in the same conditions)")
    args = ap.parse_args()
    ring_bytes = args.ring_mb << 20
    readers = ("pyebpf", "libbpf") if args.reader == "both" else (args.reader,)
    if "libbpf" in readers and anchor_binary()[0] is None:
        print(f"libbpf anchor: missing ({anchor_binary()[1]})")
        readers = tuple(r for r in readers if r != "libbpf") or ("pyebpf",)
    ru0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"events_speed: {args.seconds:.1f} s per run, ring buffer {args.ring_mb} MiB, "
          f"perf {args.perf_pages} pages/CPU, {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
          f"load {os.getloadavg()[0]:.1f}")
    if args.position_stores:
        for _ in range(args.position_stores):
            for store in ("struct", "word"):
                r = position_stores(store, args.seconds, ring_bytes, args.rate)
                print(f"consumer position stored by {store:6}: {r['writes']:>9,} stores, produced {r['produced']:>9,}, "
                      f"bpf_ringbuf_output failed {r['failed']:>7,} times ({r['failed_with_room']} with the ring "
                      f"less than half full)")
        return 0
    if args.ceiling_only:
        for kind in ("ring", "perf"):
            print(ceiling_line(kind, reader_ceiling(kind, 150_000, ring_bytes, libbpf=True)))
        return 0
    results = []
    for reader in readers:
        if not args.paced_only:
            results.append(run("ring", args.seconds, 0, ring_bytes, args.perf_pages, reader, not args.per_record,
                               args.wakeup))
        results.append(run("ring", args.seconds, args.rate, ring_bytes, args.perf_pages, reader, not args.per_record,
                           args.wakeup))
        if not args.no_perf:
            results.append(run("perf", args.seconds, args.rate, ring_bytes, args.perf_pages, reader))
    passed = [report(r) for r in results]
    for kind in ("ring", "perf"):
        print(ceiling_line(kind, reader_ceiling(kind, 150_000, ring_bytes, libbpf="libbpf" in readers)))
    ru1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"targets: > {RATE_TARGET:,} events/s without loss, median latency <= {LATENCY_TARGET_MS} ms, "
          f"RSS growth < {RSS_TARGET_MB} MB; peak RSS over all runs +{(ru1 - ru0) / 1024:.1f} MB (mapped rings "
          f"included)")
    for r, ok in zip(results, passed):
        if r["rate"] > 0:
            print(f"{r['kind']} {r['reader']}{' batch' if r['batch'] else ''} paced {r['rate']:,}/s for {r['elapsed']:.0f} s: "
                  f"dropped {r['produced'] - r['read']:,} of {r['produced']:,} (lost to a full ring {r['lost']:,}, "
                  f"output failures with room left {r['spurious']}), sequence gaps {r['gaps']}, "
                  f"median latency {r['lat_median_us'] / 1000:.3f} ms, p99 {r['lat_p99_us'] / 1000:.1f} ms: "
                  f"{'MEETS' if ok else 'MISSES'} targets")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PyebpfError as e:  # no permission, no tracefs, ...: one line, not a traceback
        print(f"events_speed: {e}", file=sys.stderr)
        sys.exit(1)
