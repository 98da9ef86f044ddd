#!/usr/bin/env python3
"""Verifier speed: processed instructions per second of pyebpf's verifier, next to the kernel's own time.

    python benchmarks/verifier_speed.py [--no-kernel] [--no-big] [--family-max K] [--parity] [--real [NAME ...]]

Every row prints our processed count, wall time and CPU time (the machine is shared: CPU time is the figure that
does not move with the load) and insn/s from the CPU time, then the kernel's processed count and `verification
time N usec` of a BPF_PROG_LOAD of the same program with log_level=4 (BPF_LOG_STATS), and the ratio ours/kernel.

- independent-ifs family (branch-heavy; k if-blocks each bumping a counter no branch reads; k = 5 ... 1000): the
  kernel merges the paths because the counter is imprecise, so processed grows linearly in k; processed,
  total_states and peak_states are printed beside the kernel's. Target: >= 200k insn/s.
- small (a map lookup, verified many times), medium (a packet parser with many bounds-checked branches).
- loops: a bounded loop reaching ~100k processed instructions and (unless --no-big) one reaching ~1M, with peak
  memory. Target: >= 400k insn/s.
- unbounded-loop refusal: `r0 = 0; r1 = <unknown>; l: r0 += 1; if r0 != r1 goto l; exit`, which the kernel refuses
  only at the 1M-instruction limit: our time to the same message and count. Target: < 10 s.

- real programs (--real, minutes): the kernel's own large selftest programs (tools/testing/selftests/bpf/progs of
  Debian's linux-source: test_verif_scale*, pyperf*, strobemeta*, loop*, ...), compiled by clang against a
  vmlinux.h of the running kernel as tests/verifier/selftests/progs_runner.py compiles its files, read by our ELF
  path, and loaded into the kernel with their maps and BTF: our CPU time beside the kernel's verification time,
  verdict and processed count. Target: same verdict, <= 10x the kernel's time.

--parity compares verdict, processed, max_states_per_insn, total_states and peak_states with the running kernel on
every privileged case-table program, every example and the demo, and prints the equality figure.
"""
from __future__ import annotations

import argparse
import re
import resource
import sys
import time

from pyebpf import assemble
from pyebpf.abi.prog_types import ProgType
from pyebpf.verifier import verify

SMALL = """.map m hash key=4 value=8 entries=16
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map[m] ll
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = *(u64 *)(r0 + 0)
r1 += 1
*(u64 *)(r0 + 0) = r1
out:
r0 = 0
exit
"""


def medium() -> str:
    """Ethernet + IPv4 + L4 parse: bounds checks, protocol switches, header field loads (XDP)."""
    lines = ["r2 = *(u32 *)(r1 + 0)", "r3 = *(u32 *)(r1 + 4)", "r4 = r2", "r4 += 14", "if r4 > r3 goto drop",
             "r5 = *(u16 *)(r2 + 12)", "if r5 != 8 goto pass", "r4 = r2", "r4 += 34", "if r4 > r3 goto drop",
             "r6 = *(u8 *)(r2 + 23)", "r7 = *(u8 *)(r2 + 14)", "r7 &= 15", "r7 <<= 2"]
    for proto, name in ((6, "tcp"), (17, "udp"), (1, "icmp")):
        lines += [f"if r6 == {proto} goto {name}"]
    lines += ["goto pass"]
    for name, need in (("tcp", 54), ("udp", 42), ("icmp", 42)):
        lines += [f"{name}:", "r4 = r2", f"r4 += {need}", "if r4 > r3 goto drop"]
        for k in range(8):
            lines += [f"r8 = *(u8 *)(r2 + {34 + k})", f"if r8 > {k * 30} goto {name}_{k}", "r8 += 1",
                      f"{name}_{k}:"]
        lines += ["goto pass"]
    lines += ["drop:", "r0 = 1", "exit", "pass:", "r0 = 2", "exit"]
    return "\n".join(lines)


def loop(n: int) -> str:
    return f"""r6 = 0
r7 = 0
l:
r2 = r6
r2 &= 7
r3 = r2
r3 <<= 2
r7 += r3
*(u64 *)(r10 - 8) = r7
r4 = *(u64 *)(r10 - 8)
r6 += 1
if r6 < {n} goto l
r0 = 0
exit
"""


# ---- the kernel's own time -----------------------------------------------------------------------------------------

def kernel_time(program, prog_type: int) -> tuple[int, int] | None:
    """(verification time in usec, processed insns) from a BPF_PROG_LOAD with BPF_LOG_STATS, or None."""
    stats = kernel_stats(program, prog_type)
    return None if stats is None else (stats[0], stats[1])


UNBOUNDED = "r0 = 0\nr1 = *(u32 *)(r1 + 0)\nl:\nr0 += 1\nif r0 != r1 goto l\nexit\n"
"""The loop the kernel refuses only at its 1M-instruction limit (r1 unknown: the loop never gets a bound)."""


def timed_verify(prog, prog_type=ProgType.SOCKET_FILTER, repeat: int = 1):
    """(result, wall seconds, CPU seconds) per verification, the best of `repeat`."""
    best_wall = best_cpu = float("inf")
    res = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        res = verify(prog, prog_type=prog_type, raise_on_reject=False)
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return res, best_wall, best_cpu


def _times(res, wall: float, cpu: float) -> str:
    return (f"processed {res.processed:>8}  wall {wall * 1e3:9.1f} ms  cpu {cpu * 1e3:9.1f} ms  "
            f"{res.processed / max(cpu, 1e-9):9,.0f} insn/s")


def independent_ifs(k: int) -> str:
    """The issue's family: k if-blocks on bits of an unknown u32, each bumping r7, which no branch reads."""
    body = "".join(f"r2 = r6\nr2 &= {1 << (i % 31)}\nif r2 == 0 goto +1\nr7 += 1\n" for i in range(k))
    return "r6 = *(u32 *)(r1 + 0)\nr7 = 0\n" + body + "r0 = r7\nexit\n"


def kernel_stats(program, prog_type: int) -> tuple[int, int, int, int] | None:
    """(usec, processed, total_states, peak_states) of a BPF_PROG_LOAD with BPF_LOG_STATS, or None."""
    try:
        from pyebpf.loader import ProgramLoadError, load
    except ImportError:
        return None
    try:
        kp = load(program, prog_type, log_level=4, log_size=1 << 20)
        log = kp.log or ""
        kp.close()
    except ProgramLoadError as e:
        log = e.log
    except Exception as e:  # noqa: BLE001 - no bpf() here: report and go on without the kernel column
        print(f"  (kernel: {e})")
        return None
    t = re.search(r"verification time (\d+) usec", log)
    p = re.search(r"processed (\d+) insns .* total_states (\d+) peak_states (\d+)", log)
    if not t or not p:
        return None
    return int(t.group(1)), int(p.group(1)), int(p.group(2)), int(p.group(3))


def bench_family(kmax: int, use_kernel: bool) -> None:
    print("independent-ifs family, branch-heavy (target >= 200k insn/s); ours | kernel: processed, total_states, "
          "peak_states, time")
    for k in (5, 10, 15, 100, 200, 500, 1000):
        if k > kmax:
            break
        prog = assemble(independent_ifs(k))
        verify(prog, prog_type=ProgType.SOCKET_FILTER, raise_on_reject=False)  # warm caches
        res, wall, cpu = timed_verify(prog, repeat=3 if k <= 200 else 1)
        line = f"  k={k:<5} {_times(res, wall, cpu)}  states {res.total_states:>4} peak {res.peak_states:>4}"
        if not res.accepted:
            line += f" REJECTED ({res.error.message})"
        if use_kernel:
            ks = kernel_stats(prog, int(ProgType.SOCKET_FILTER))
            if ks is not None:
                usec, kproc, ktot, kpeak = ks
                same = "same" if (kproc, ktot, kpeak) == (res.processed, res.total_states, res.peak_states) \
                    else "DIFFERENT"
                line += (f" | kernel {kproc:>6} {ktot:>4} {kpeak:>4} {usec:>6} usec {same} "
                         f"ratio {cpu * 1e6 / max(usec, 1):5.1f}x")
        print(line)


# ---- statistics parity with the kernel ------------------------------------------------------------------------------

STATS = re.compile(r"processed (\d+) insns \(limit \d+\) max_states_per_insn (\d+) total_states (\d+) "
                   r"peak_states (\d+)")


def _parity_programs():
    """(name, program, prog_type, btf) of every privileged case-table program, every example builder and the
    demo's XDP program: what tests/verifier/test_stats_kernel.py checks, and more."""
    import inspect
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    for sub in ("tests/verifier", "tests/examples"):
        sys.path.insert(0, str(root / sub))
    from cases import all_cases
    from example_runner import import_example
    from test_stats_kernel import EXAMPLE_BUILDERS
    from pyebpf.commands.demo import XDP_SOURCE
    for c in all_cases():
        if c.privileged and not c.slow:
            yield f"case {c.id}", c.program, c.prog_type, c.btf
    for module, builder in EXAMPLE_BUILDERS:
        fn = getattr(import_example(module), builder)
        yield (f"example {module}.{builder}", (lambda fn=fn: fn(1234) if inspect.signature(fn).parameters else fn()),
               None, True)
    yield "demo xdp", (lambda: assemble(XDP_SOURCE)), "xdp", True


def _kernel_stats_of(program, prog_type, btf: bool) -> tuple[bool, tuple[int, ...]] | None:
    from pyebpf.errors import LoaderError
    from pyebpf.loader import load
    from pyebpf.loader.maps import create_map
    kmaps = {name: create_map(spec) for name, spec in program.maps.items()}
    extra = {} if btf else {"func_info": []}
    try:
        try:
            with load(program, prog_type, maps=kmaps, log_level=4, **extra) as prog:
                log, ok = prog.log or "", True
        except LoaderError as e:
            log, ok = getattr(e, "log", "") or "", False
    finally:
        for m in kmaps.values():
            m.close()
    m = STATS.search(log)
    return (ok, tuple(int(x) for x in m.groups())) if m else None


def parity() -> int:
    """Our (verdict, processed, max_states_per_insn, total_states, peak_states) beside the running kernel's."""
    same = total = 0
    diffs = []
    for name, build, ptype, btf in _parity_programs():
        try:
            program = build()
        except Exception as e:  # noqa: BLE001 - a program the table cannot build is reported, not fatal
            diffs.append(f"{name}: cannot build ({e})")
            continue
        pt = ptype if ptype is not None else (program.prog_type if program.prog_type is not None else "socket_filter")
        try:
            k = _kernel_stats_of(program, pt, btf)
        except Exception:  # noqa: BLE001 - map kinds this kernel refuses etc.: not comparable
            k = None
        if k is None:
            continue
        r = verify(program, pt, raise_on_reject=False)
        ours = (r.accepted, (r.processed, r.max_states_per_insn, r.total_states, r.peak_states))
        total += 1
        if ours == k:
            same += 1
        else:
            diffs.append(f"{name}: kernel {k} ours {ours}")
    print("statistics parity (verdict, processed, max_states_per_insn, total_states, peak_states):")
    for d in diffs:
        print("  DIFF " + d)
    print(f"  {same}/{total} programs equal ({same / max(total, 1):.1%})")
    return 0


REAL_PROGRAMS = ("test_verif_scale1", "test_verif_scale2", "test_verif_scale3", "pyperf50", "pyperf100",
                 "pyperf180", "pyperf600", "pyperf600_nounroll", "pyperf_global", "pyperf_subprogs", "strobemeta",
                 "strobemeta_nounroll1", "strobemeta_nounroll2", "strobemeta_subprogs", "loop1", "loop2", "loop3",
                 "loop4", "loop5", "loop6", "test_cls_redirect", "test_cls_redirect_subprogs", "xdp_synproxy_kern")
"""The kernel selftests' scale programs (prog_tests/bpf_verif_scale.c loads these to measure its verifier)."""


def _real_objects(names):
    """(name, object path or None, why not) per selftest program file, compiled once into the selftest cache."""
    import subprocess
    from pathlib import Path
    root_dir = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root_dir / "tests/verifier/selftests"))
    sys.path.insert(0, str(root_dir / "tests/verifier"))
    import progs_runner
    import selftest_runner as base
    root = base.unpack(base.source_tarball())
    selftests = root / "tools/testing/selftests/bpf"
    includes = base.CACHE / "progs"
    includes.mkdir(parents=True, exist_ok=True)
    progs_runner._vmlinux_h(includes)
    work = base.CACHE / "real"
    work.mkdir(parents=True, exist_ok=True)
    for name in names:
        src, obj = selftests / "progs" / f"{name}.c", work / f"{name}.o"
        if not src.exists():
            yield name, None, "no such file in this linux-source"
            continue
        if not obj.exists():
            cmd = ["clang", "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", f"-I{includes}",
                   f"-I{selftests}", f"-I{selftests / 'progs'}", f"-I{root / 'tools/testing/selftests'}",
                   "-I/usr/include/x86_64-linux-gnu", "-Wno-error", "-w", "-c", str(src), "-o", str(obj)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                yield name, None, "clang: " + next((ln for ln in r.stderr.splitlines() if "error" in ln), "failed")
                continue
        yield name, obj, ""


def bench_real(names, use_kernel: bool) -> None:
    """Each program of each object: ours (verdict, processed, CPU) | the kernel's (verdict, processed, usec)."""
    import dataclasses
    from pyebpf.errors import PyebpfError
    from pyebpf.loader import ProgramLoadError, load
    from pyebpf.loader.collection import CollectionOptions, load_collection
    from pyebpf.loader.elf import load_elf
    print("real programs: the kernel selftests' scale programs (target: same verdict, <= 10x the kernel's time)")
    ratios = []
    for name, path, why in _real_objects(names):
        if path is None:
            print(f"  {name:<28} skipped: {why}")
            continue
        try:
            obj = load_elf(str(path))
        except PyebpfError as e:
            print(f"  {name:<28} skipped: our ELF reader: {str(e).splitlines()[0]}")
            continue
        coll = None
        try:
            if use_kernel:
                coll = load_collection(obj, CollectionOptions(only=[]))
            for pname, prog in obj.programs.items():
                label = f"{name}:{pname}"
                c, w = time.process_time(), time.perf_counter()
                try:
                    res = verify(prog, prog.prog_type, raise_on_reject=False)
                except PyebpfError as e:
                    print(f"  {label:<40} ours: {str(e).splitlines()[0][:100]}")
                    continue
                cpu, wall = time.process_time() - c, time.perf_counter() - w
                verdict = "accept" if res.accepted else "refuse"
                line = (f"  {label:<40} insns {len(prog.instructions):>6} {verdict} processed {res.processed:>8} "
                        f"wall {wall:7.2f} s cpu {cpu:7.2f} s {res.processed / max(cpu, 1e-9):9,.0f} insn/s")
                if coll is not None:
                    btf_fd = coll._btf_handle.fd if coll._btf_handle is not None else None
                    kprog = dataclasses.replace(prog, btf=btf_fd, func_info=prog.func_info if btf_fd else [],
                                                line_info=prog.line_info if btf_fd else [])
                    # the kernel's time is wall time inside BPF_PROG_LOAD (a loaded machine preempts it) and ours
                    # is CPU time: the best of three loads keeps the ratio from flattering us
                    usecs = []
                    for _ in range(3):
                        try:
                            kp = load(kprog, prog.prog_type, maps=coll.maps, log_level=4, log_size=1 << 20)
                            log, kok = kp.log or "", True
                            kp.close()
                        except ProgramLoadError as e:
                            log, kok = e.log or "", False
                        t = re.search(r"verification time (\d+) usec", log)
                        if t:
                            usecs.append(int(t.group(1)))
                    p = re.search(r"processed (\d+) insns", log)
                    if usecs and p:
                        usec = min(usecs)
                        same = "same" if (kok, int(p.group(1))) == (res.accepted, res.processed) else "DIFFERENT"
                        ratio = cpu * 1e6 / max(usec, 1)
                        ratios.append(ratio)
                        line += (f" | kernel {'accept' if kok else 'refuse'} {int(p.group(1)):>8} {usec / 1e3:9.1f} ms "
                                 f"{same} ratio {ratio:6.1f}x")
                print(line, flush=True)
        finally:
            if coll is not None:
                coll.close()
            obj.close()
    if ratios:
        ratios.sort()
        print(f"  ratio to the kernel: median {ratios[len(ratios) // 2]:.1f}x, worst {ratios[-1]:.1f}x, "
              f"{sum(r <= 10 for r in ratios)}/{len(ratios)} programs within 10x")


def bench(name: str, text: str, prog_type: ProgType, repeat: int, use_kernel: bool) -> None:
    prog = assemble(text)
    verify(prog, prog_type=prog_type)  # warm up imports and caches
    res, wall, cpu = timed_verify(prog, prog_type, repeat)
    line = f"{name:<12} {_times(res, wall, cpu)}"
    if use_kernel:
        k = kernel_time(prog, int(prog_type))
        if k is not None:
            usec, kproc = k
            line += f"  | kernel {usec:>7} usec processed {kproc:>8}  ratio {cpu * 1e6 / max(usec, 1):7.1f}x"
    print(line)


def bench_refusal(use_kernel: bool) -> None:
    prog = assemble(UNBOUNDED)
    res, wall, cpu = timed_verify(prog)
    verdict = "accepted" if res.accepted else f"refused: {res.error.message}"
    print(f"unbounded    {_times(res, wall, cpu)}  {verdict}  (target < 10 s)")
    if use_kernel:
        ks = kernel_stats(prog, int(ProgType.SOCKET_FILTER))
        if ks is not None:
            usec, kproc, ktot, kpeak = ks
            same = "same" if (kproc, ktot, kpeak) == (res.processed, res.total_states, res.peak_states) \
                else "DIFFERENT"
            print(f"             kernel {kproc} processed, {ktot} states, {usec} usec; ours {res.total_states} "
                  f"states: {same}; ratio {cpu * 1e6 / max(usec, 1):.1f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-kernel", action="store_true")
    ap.add_argument("--no-big", action="store_true")
    ap.add_argument("--family-max", type=int, default=1000, help="largest k of the independent-ifs family")
    ap.add_argument("--parity", action="store_true",
                    help="only compare processed/states statistics with the running kernel on the case tables, "
                         "examples and demo")
    ap.add_argument("--real", nargs="*", metavar="NAME",
                    help="only the real-programs family: the kernel selftests' scale programs (default: "
                         f"{', '.join(REAL_PROGRAMS)}); takes minutes")
    args = ap.parse_args()
    if args.parity:
        return parity()
    if args.real is not None:
        bench_real(args.real or REAL_PROGRAMS, not args.no_kernel)
        return 0
    use_kernel = not args.no_kernel
    bench_family(args.family_max, use_kernel)
    bench("small", SMALL, ProgType.SOCKET_FILTER, 200, use_kernel)
    bench("medium", medium(), ProgType.XDP, 20, use_kernel)
    print("loops (target >= 400k insn/s)")
    bench("loop-100k", loop(11_000), ProgType.SOCKET_FILTER, 1, use_kernel)
    if not args.no_big:
        bench("loop-1M", loop(110_000), ProgType.SOCKET_FILTER, 1, use_kernel)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"             peak RSS {rss_mb:.0f} MB (target < 500 MB)")
        bench_refusal(use_kernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
