"""Events out of the kernel: throughput, loss and latency of the ring buffer (and perf buffer) readers.

    python benchmarks/events_speed.py [--seconds 2] [--rate 200000] [--ring-mb 16] [--no-perf]

A tracepoint program on syscalls/sys_enter_getppid, filtered by the pid of a forked producer process that calls
os.getppid() in a tight loop, writes {ktime_get_ns, seq, pid} per call into a BPF ring buffer (failed outputs are
counted in a map). This process reads the records and, for each, compares the kernel timestamp with
clock_gettime(CLOCK_MONOTONIC) — the same clock — to get kernel-to-user latency. Scenarios, each measured here:

  * unthrottled: the producer runs flat out; shows the reader's ceiling and what is lost when it is outrun;
  * paced at --rate events/s (default 200,000): the user story's "> 100,000 events/s without loss" case;
  * the same paced run through the perf buffer (per-CPU BPF_OUTPUT rings), for comparison.

Targets (user story): > 100,000 events/s read without loss, median latency < 1 ms, reader RSS growth < 10 MB.
Needs root (bpf, tracefs).
"""
from __future__ import annotations

import argparse
import gc
from array import array
import ctypes
import os
import resource
import signal
import statistics
import struct
import sys
import time
from typing import Any

from pyebpf.errors import PyebpfError
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R5, R6, R7, R8, R10, Builder
from pyebpf.loader import load
from pyebpf.loader.attach import attach_tracepoint
from pyebpf.loader.perfbuf import PerfBuffer
from pyebpf.loader.ringbuf import RingBuffer

RATE_TARGET = 100_000
LATENCY_TARGET_MS = 1.0
RSS_TARGET_MB = 10.0
DRAIN_TARGET_US = 0.3
RECORD = struct.Struct("<QII")  # ktime_get_ns, seq, pid


def program(kind: str, producer_pid: int, ring_bytes: int):
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
        b.ld_map(R1, "events").mov(R2, R10).add(R2, -24).mov(R3, RECORD.size).mov(R4, 0).call("ringbuf_output")
    else:
        b.mov(R1, R6).ld_map(R2, "events").ld_imm64(R3, 0xFFFFFFFF).mov(R4, R10).add(R4, -24)
        b.mov(R5, RECORD.size).call("perf_event_output")
    b.jump_if(R0 == 0, "out")
    # Output failed. counts[1]: the ring was full (the reader fell behind); counts[2]: it failed although the
    # ring had room (6.15+ kernels take the ring's lock with rqspinlock, which can give up).
    b.store(R10 - 4, 1, "u32")
    if kind == "ring":
        b.ld_map(R1, "events").mov(R2, 0).call("ringbuf_query")  # BPF_RB_AVAIL_DATA
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


def run(kind: str, seconds: float, rate: int, ring_bytes: int, pages: int) -> dict:
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

    rss_before = rss_mb()
    try:
        prog = load(program(kind, pid, ring_bytes))
        if kind == "ring":
            reader = RingBuffer(prog.maps["events"], callback=on_record)
        else:
            reader = PerfBuffer(prog.maps["events"], callback=on_record, page_count=pages)
        with prog, reader, attach_tracepoint(prog, "syscalls", "sys_enter_getppid"):
            t0 = time.monotonic()
            os.write(go, b"x")
            max_backlog = 0
            while True:
                if kind == "ring":
                    max_backlog = max(max_backlog, reader.available())
                reader.poll(0.05)
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    pid = 0
                    break
            t_end = time.monotonic()
            reader.poll(0.05)  # whatever is left
            while reader.consume():
                pass
            produced = prog.maps["counts"][0]
            lost = prog.maps["counts"][1]
            spurious = prog.maps["counts"][2]
            if kind == "perf":
                lost = max(lost, reader.lost)
            rss_after = rss_mb()
    finally:
        os.close(go)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    elapsed = t_end - t0
    if os.environ.get("EVENTS_SPEED_DEBUG"):
        print("gaps at", state.get("gap_at", [])[:10])
    latencies = sorted(latencies)
    return {
        "kind": kind, "rate": rate, "elapsed": elapsed, "produced": produced, "read": state["n"], "lost": lost,
        "spurious": spurious,
        "gaps": state["gaps"], "max_backlog": max_backlog, "read_per_s": state["n"] / elapsed,
        "lat_median_us": statistics.median(latencies) / 1000 if latencies else float("nan"),
        "lat_p99_us": latencies[int(len(latencies) * 0.99)] / 1000 if latencies else float("nan"),
        "rss_growth_mb": rss_after["VmRSS"] - rss_before["VmRSS"],
        "anon_growth_mb": rss_after["RssAnon"] - rss_before["RssAnon"],
    }


class Record(ctypes.Structure):
    _fields_ = [("ts", ctypes.c_uint64), ("seq", ctypes.c_uint32), ("pid", ctypes.c_uint32)]


def reader_ceiling(kind: str, count: int, ring_bytes: int) -> dict[str, float]:
    """Records/s the reader alone sustains: fill the buffer first (this process, pinned to one CPU, is the
    producer), then time draining it with a bytes callback and with a ctypes Structure decoder. No scheduling noise
    from a concurrent producer, so this is the reader's ceiling on this machine."""
    out = {}
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(old)})
    try:
        for label, decode in (("bytes", None), ("ctypes", Record), ("ctypes_seen", Record), ("batch", None)):
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
                else:
                    n = reader.consume(seen if label == "ctypes_seen" else sink.append)
                gc.collect(0)  # the young collection of the records made belongs to their cost
                out[label] = n / (time.perf_counter() - t)
                out[label + "_cpu_us"] = (time.process_time() - c) / max(n, 1) * 1e6
                out["n"] = n
    finally:
        os.sched_setaffinity(0, old)
    return out


def report(res: dict) -> bool:
    pace = "unthrottled" if res["rate"] <= 0 else f"paced {res['rate']:,}/s"
    label = f"{res['kind']:4} {pace}"
    ok_rate = res["read_per_s"] > RATE_TARGET and res["lost"] == 0
    ok_lat = res["lat_median_us"] < LATENCY_TARGET_MS * 1000
    ok_rss = res["rss_growth_mb"] < RSS_TARGET_MB
    print(f"{label:24} produced {res['produced']:>9,}  read {res['read']:>9,}  lost {res['lost']:>8,}  "
          f"failed-with-room {res['spurious']:>3}  "
          f"read/s {res['read_per_s']:>10,.0f}  latency median {res['lat_median_us']:8.1f} us  "
          f"p99 {res['lat_p99_us']:9.1f} us  max backlog {res['max_backlog'] / 1024:7.0f} KiB  RSS +{res['rss_growth_mb']:.1f} MB (heap +{res['anon_growth_mb']:.1f})")
    return ok_rate and ok_lat and ok_rss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rate", type=int, default=200_000, help="paced producer rate, events/s")
    ap.add_argument("--ring-mb", type=int, default=4, help="ring buffer size (power of 2, MiB)")
    ap.add_argument("--perf-pages", type=int, default=256, help="perf ring pages per CPU (power of 2)")
    ap.add_argument("--no-perf", action="store_true", help="skip the perf buffer run")
    ap.add_argument("--ceiling-only", action="store_true", help="only the reader ceilings (no streaming runs)")
    ap.add_argument("--paced-only", action="store_true", help="skip the unthrottled run")
    args = ap.parse_args()
    ring_bytes = args.ring_mb << 20
    ru0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"events_speed: {args.seconds:.1f} s per run, ring buffer {args.ring_mb} MiB, "
          f"perf {args.perf_pages} pages/CPU, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    if args.ceiling_only:
        for kind in ("ring", "perf"):
            c = reader_ceiling(kind, 150_000, ring_bytes)
            print(f"{kind}: {c}")
        return 0
    results = [] if args.paced_only else [run("ring", args.seconds, 0, ring_bytes, args.perf_pages)]
    results.append(run("ring", args.seconds, args.rate, ring_bytes, args.perf_pages))
    if not args.no_perf:
        results.append(run("perf", args.seconds, args.rate, ring_bytes, args.perf_pages))
    passed = [report(r) for r in results]
    for kind in ("ring", "perf"):
        c = reader_ceiling(kind, 150_000, ring_bytes)
        batch = (f", {c['batch']:,.0f}/s as bytes in batches ({c['batch_cpu_us']:.3f} us CPU/record)"
                 if "batch" in c else "")
        print(f"{kind} reader ceiling: {c['n']:,.0f} records drained at {c['bytes']:,.0f}/s as bytes "
              f"({c['bytes_cpu_us']:.3f} us CPU/record), {c['ctypes']:,.0f}/s decoded to a ctypes Structure "
              f"({c['ctypes_cpu_us']:.3f} us CPU/record kept in a list, {c['ctypes_seen_cpu_us']:.3f} when the "
              f"callback keeps none; {c['ctypes'] / RATE_TARGET:.1f}x target){batch}; "
              f"target <= {DRAIN_TARGET_US} us CPU/record")
    ru1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    paced = results[-1 if args.no_perf else -2]
    print(f"targets: > {RATE_TARGET:,} events/s without loss, median latency < {LATENCY_TARGET_MS} ms, "
          f"RSS growth < {RSS_TARGET_MB} MB")
    print(f"ring buffer paced run: {paced['read_per_s']:,.0f} events/s read "
          f"({paced['read_per_s'] / RATE_TARGET:.2f}x target), lost to a full ring {paced['lost']}, "
          f"kernel output failures with room left {paced['spurious']}, sequence gaps {paced['gaps']}, "
          f"median latency {paced['lat_median_us'] / 1000:.3f} ms ({LATENCY_TARGET_MS * 1000 / max(paced['lat_median_us'], 1e-9):.1f}x "
          f"under target), RSS +{paced['rss_growth_mb']:.1f} MB of which heap +{paced['anon_growth_mb']:.1f} MB "
          f"(the rest is the mapped ring, mapped twice); peak RSS over all runs +{(ru1 - ru0) / 1024:.1f} MB "
          f"(mapped rings included)")
    for r, ok in zip(results, passed):
        if r["rate"] > 0:
            print(f"{r['kind']} paced: {'MEETS' if ok else 'MISSES'} targets")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PyebpfError as e:  # no permission, no tracefs, ...: one line, not a traceback
        print(f"events_speed: {e}", file=sys.stderr)
        sys.exit(1)
