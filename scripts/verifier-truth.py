#!/usr/bin/env python3
"""verifier-truth.py — record what each kernel of the matrix says about the verifier case tables.

    scripts/verifier-truth.py [--kernels 6.1,6.12,bullseye:5.10,host] [--corpus cases,engine,selftests] [--only RE]
    scripts/verifier-truth.py --collect [--corpus ...] [--only RE]    # in the running kernel, JSON on stdout

Ground truth for the verifier's per-kernel model (`verify(prog, kernel="6.1")`) is generated, never written by
hand: every case of tests/verifier/cases (the table), tests/verifier/cases_engine.py and the kernel's own
selftests (tests/verifier/selftests, when the linux-source package is there) is loaded with BPF_PROG_LOAD inside
each kernel — booted with scripts/kernel-vm.sh, or the host itself for `host` — and the kernel's verdict, errno and
closing log line are written to tests/verifier/kernels/<major.minor>.json. tests/verifier/test_kernel_versions.py
checks our per-kernel answers against those files. Re-run this after adding cases (only the named kernels are
rewritten; --only updates matching cases and keeps the rest).
"""
from __future__ import annotations

import argparse
import base64
import errno as _errno
import gzip
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERIFIER_TESTS = ROOT / "tests" / "verifier"
OUT_DIR = VERIFIER_TESTS / "kernels"
BEGIN, END = "=====PYEBPF-VERIFIER-TRUTH-BEGIN=====", "=====PYEBPF-VERIFIER-TRUTH-END====="
CORPORA = ("cases", "engine", "selftests", "kfuncs")


def _errno_name(code: int) -> str:
    return _errno.errorcode.get(code, str(code)) if code else ""


def _row(accepted: bool, errno: int, reason) -> dict:
    row: dict = {"ok": bool(accepted)}
    if not accepted:
        row["errno"] = _errno_name(errno)
        reason = list(reason)
        row["msg"] = reason[-1] if reason else ""
        if len(reason) > 1:
            row["reason"] = reason
    return row


# ---- collecting, in the running kernel ---------------------------------------------------------------------------

def collect_cases(only: re.Pattern | None) -> dict:
    from cases import all_cases
    from cases.oracle import _run_privileged, _run_unprivileged
    cases = [c for c in all_cases() if only is None or only.search(c.id)]
    verdicts = {}
    for c in (c for c in cases if c.privileged):
        start = time.time()
        verdicts.update(_run_privileged([c]))
        if time.time() - start > 5:
            print(f"verifier-truth: slow case {c.id}: {time.time() - start:.0f}s", file=sys.stderr)
    unpriv = _run_unprivileged([c for c in cases if not c.privileged])
    if isinstance(unpriv, str):
        print(f"verifier-truth: unprivileged cases missing: {unpriv}", file=sys.stderr)
    else:
        verdicts.update(unpriv)
    return {cid: _row(v.accepted, v.errno, v.reason or ((v.message,) if v.message else ()))
            for cid, v in verdicts.items()}


def collect_engine(only: re.Pattern | None) -> dict:
    from cases.oracle import kernel_reason
    from cases_engine import CASES
    from kernel_oracle import kernel_load
    from pyebpf.abi.prog_types import parse_prog_type
    from pyebpf.isa.assembler import assemble
    out = {}
    for name, ptype, text, _ in CASES:
        if only is not None and not only.search(name):
            continue
        prog = assemble(text)
        k = kernel_load(prog, int(parse_prog_type(ptype)), log_level=1)
        out[name] = _row(k.accepted, k.errno, kernel_reason(k.log, prog))
    return out


def collect_selftests(only: re.Pattern | None) -> dict:
    from cases.oracle import kernel_reason
    from kernel_oracle import kernel_load_bytes
    from pyebpf.abi.prog_types import ProgType
    from version_truth import selftests
    tests = selftests()
    if not tests:
        print("verifier-truth: selftests skipped: no linux-source package (see selftest_runner.py)", file=sys.stderr)
    out = {}
    for tid, t in tests:
        if only is not None and not only.search(tid):
            continue
        ptype = t.prog_type or int(ProgType.SOCKET_FILTER)
        k = kernel_load_bytes(t.code, ptype, "GPL", 1, 1 << 22, t.expected_attach_type)
        if not k.accepted and k.errno == _errno.ENOSPC:  # the log outgrew the buffer: the verdict without one
            q = kernel_load_bytes(t.code, ptype, "GPL", 0, 0, t.expected_attach_type)
            out[tid] = _row(q.accepted, q.errno, kernel_reason(k.log) if not q.accepted else ())
            continue
        out[tid] = _row(k.accepted, k.errno, kernel_reason(k.log))
    return out


#: program types a kfunc call is tried from: one per kfunc hook (bpf_prog_type_to_kfunc_hook) and the tracing
#: types that shared or gained one; TRACING is a tp_btf program on sched_switch
KFUNC_PROG_TYPES = ("socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp", "perf_event",
                    "cgroup_skb", "lwt_in", "sk_skb", "tracing", "syscall", "netfilter")
#: the verifier's words for a kfunc call the program type may not make (check_kfunc_call)
_KFUNC_DENIED = re.compile(r"calling kernel function \S+ is not allowed|BPF_CALL uses reserved fields")
#: add_kfunc_call's refusals of any kfunc call at all (no JIT, no address ...): recorded, neither allowed nor denied
_KFUNC_REFUSED = re.compile(r"JIT|cannot find address|is not a function|not supported|kernel function calls")


def _kfunc_names() -> list[str]:
    """The kfuncs to try: every kfunc pyebpf's verifier models (abi.kfuncs) and every FUNC the host's BTF tags
    `bpf_kfunc`, listed on the host and passed to the guests (whose older BTF has no tags)."""
    names = set(os.environ.get("PYEBPF_TRUTH_KFUNCS", "").split())
    if not names:
        from pyebpf.abi.kfuncs import KFUNC_SETS
        from pyebpf.btf.kernel import kernel_btf
        btf = kernel_btf()
        names = {btf.name(i) for i in btf.kfunc_ids} | {n for kfuncs, _ in KFUNC_SETS for n in kfuncs}
    return sorted(names)


def collect_kfuncs(only: re.Pattern | None) -> dict:
    """Per kfunc: whether the running kernel's vmlinux BTF has a FUNC of that name, and the program types whose
    BPF_PROG_LOAD of `call kfunc; r0 = 0; exit` gets past check_kfunc_call's set check (any other refusal, the
    arguments' included, means the kernel registered the kfunc for that type)."""
    import struct
    from pyebpf.abi.btf import BtfKind
    from pyebpf.abi.feature_probes import PROG_PROBE_ATTACH_TYPE, PROG_PROBE_FLAGS
    from pyebpf.abi.prog_types import AttachType, parse_prog_type
    from pyebpf.btf.kernel import kernel_btf, tp_btf_type_id
    from pyebpf.errors import LoaderError
    from pyebpf.loader.program import ProgramLoadError, prog_load_with_log
    btf = kernel_btf()
    funcs = {btf.name(i): i for i, t in enumerate(btf.types) if t.kind == BtfKind.FUNC}
    try:
        sched_switch = tp_btf_type_id("sched_switch", btf)
    except LoaderError:
        sched_switch = 0

    def load(code: bytes, tname: str) -> str | None:
        """None when the kernel loads `code` as a `tname` program, else the last line of its log."""
        pt = parse_prog_type(tname)
        tracing = tname == "tracing"
        eat = int(AttachType.TRACE_RAW_TP) if tracing else int(PROG_PROBE_ATTACH_TYPE.get(pt, 0))
        try:
            fd, _ = prog_load_with_log(code, pt, "GPL", "truth_kfunc", 1, 1 << 16, eat, PROG_PROBE_FLAGS.get(pt, 0),
                                       0, [], sched_switch if tracing else 0, 0, 0, [])
        except ProgramLoadError as e:
            last = [ln for ln in (e.log or "").splitlines() if ln and not ln.startswith(("processed ", "func#"))]
            return last[-1] if last else f"errno {e.errno}"
        os.close(fd)
        return None

    exit0 = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)  # r0 = 0; exit
    # the types this kernel loads a plain program of; a kfunc call is tried from those only
    usable = [t for t in KFUNC_PROG_TYPES if (t != "tracing" or sched_switch) and load(exit0, t) is None]
    out = {"_prog_types": {"usable": usable}}
    for name in _kfunc_names():
        if only is not None and not only.search(name):
            continue
        fid = funcs.get(name)
        row: dict = {"btf": fid is not None}
        if fid is not None:
            allowed, other = [], {}
            code = struct.pack("<BBhi", 0x85, 2 << 4, 0, fid) + exit0  # call kfunc (BPF_PSEUDO_KFUNC_CALL)
            for tname in usable:
                msg = load(code, tname)
                if msg is None or not (_KFUNC_DENIED.search(msg) or _KFUNC_REFUSED.search(msg)):
                    allowed.append(tname)  # loaded, or refused past the set check (for its arguments)
                elif _KFUNC_REFUSED.search(msg):
                    other[tname] = msg
            row["prog_types"] = allowed
            if other:
                row["other"] = other
        out[name] = row
    return out


def collect(corpora, only: re.Pattern | None) -> dict:
    sys.path.insert(0, str(VERIFIER_TESTS))
    from pyebpf.system.kernel import kernel_major_minor, kernel_release
    try:
        with open("/proc/version") as f:
            proc_version = f.read().strip()
    except OSError:
        proc_version = ""
    m = ([None] + re.findall(r"Debian (\d+\.\d+\.\d+)-", proc_version))[-1]  # the package, not gcc's
    major, minor = kernel_major_minor()
    data = {"version": f"{major}.{minor}", "release": kernel_release(),
            "upstream": m or kernel_release().split("-")[0], "machine": platform.machine()}
    fns = {"cases": collect_cases, "engine": collect_engine, "selftests": collect_selftests,
           "kfuncs": collect_kfuncs}
    for name in corpora:
        start = time.time()
        data[name] = fns[name](only)
        print(f"verifier-truth: {name}: {len(data[name])} in {time.time() - start:.0f}s", file=sys.stderr)
    return data


# ---- driving: one guest per kernel -------------------------------------------------------------------------------

def _decode_block(text: str) -> dict:
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < 0:
        raise RuntimeError("the guest printed no result block")
    blob = "".join(text[start + len(BEGIN):stop].split())
    return json.loads(gzip.decompress(base64.b64decode(blob)))


def run_kernel(kernel: str, corpora, only: str | None) -> dict:
    args = [sys.executable, str(Path(__file__).resolve()), "--collect", "--corpus", ",".join(corpora)]
    if only:
        args += ["--only", only]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if "kfuncs" in corpora:  # the host's tagged kfuncs: the guests' older BTF has no bpf_kfunc tags
        env["PYEBPF_TRUTH_KFUNCS"] = " ".join(_kfunc_names())
    if kernel == "host":
        cmd = args
    else:
        suite, _, ver = kernel.rpartition(":")
        env["KERNEL_VM_SUITE"] = suite
        cmd = [str(ROOT / "scripts" / "kernel-vm.sh"), "-k", ver, "--", *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, errors="replace")
    sys.stderr.write("".join(ln + "\n" for ln in proc.stderr.splitlines() + proc.stdout.splitlines()
                             if ln.startswith(("verifier-truth:", "kernel-vm:"))))
    if proc.returncode == 3:
        raise RuntimeError(f"kernel {kernel} cannot be had (kernel-vm.sh exit 3)")
    if proc.returncode != 0:
        raise RuntimeError(f"kernel {kernel}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return _decode_block(proc.stdout)


def merge(path: Path, new: dict, corpora, partial: bool) -> dict:
    """`new` over what `path` holds: a partial (--only) run keeps the other cases; a full one replaces corpora."""
    if not path.exists():
        return new
    old = json.loads(path.read_text())
    for name in corpora:
        if partial:
            new[name] = {**old.get(name, {}), **new.get(name, {})}
    for name in CORPORA:
        if name not in corpora and name in old:
            new[name] = old[name]
    return new


def write(path: Path, data: dict) -> None:
    """One case per line, sorted: the files change line by line when a kernel's answer does."""
    lines = ["{"]
    meta = [k for k in data if k not in CORPORA]
    body = [k for k in CORPORA if k in data]
    for k in meta:
        lines.append(f"  {json.dumps(k)}: {json.dumps(data[k])},")
    for i, name in enumerate(body):
        rows = data[name]
        lines.append(f"  {json.dumps(name)}: {{")
        keys = sorted(rows)
        for j, cid in enumerate(keys):
            comma = "," if j < len(keys) - 1 else ""
            lines.append(f"    {json.dumps(cid)}: {json.dumps(rows[cid], sort_keys=True)}{comma}")
        lines.append("  }" + ("," if i < len(body) - 1 else ""))
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernels", default="6.1,6.12,host",
                    help="kernel-vm.sh -k values ([suite:]version) and `host` (default: 6.1,6.12,host)")
    ap.add_argument("--corpus", default=",".join(CORPORA), help=f"any of {','.join(CORPORA)}")
    ap.add_argument("--only", help="regular expression: record matching case ids only (merged into the files)")
    ap.add_argument("--collect", action="store_true", help="run in the current kernel and print the result block")
    args = ap.parse_args()
    corpora = [c for c in args.corpus.split(",") if c]
    unknown = set(corpora) - set(CORPORA)
    if unknown:
        ap.error(f"unknown corpus {', '.join(sorted(unknown))} (known: {', '.join(CORPORA)})")
    only = re.compile(args.only) if args.only else None
    if args.collect:
        data = collect(corpora, only)
        blob = base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()
        print(BEGIN)
        for i in range(0, len(blob), 76):
            print(blob[i:i + 76])
        print(END, flush=True)
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    failed = 0
    for kernel in [k for k in args.kernels.split(",") if k]:
        start = time.time()
        try:
            data = run_kernel(kernel, corpora, args.only)
        except RuntimeError as e:
            print(f"verifier-truth: {kernel}: FAILED: {e}", file=sys.stderr)
            failed = 1
            continue
        path = OUT_DIR / f"{data['version']}.json"
        data["generated_by"] = "scripts/verifier-truth.py"
        write(path, merge(path, data, corpora, args.only is not None))
        counts = ", ".join(f"{c} {len(data.get(c, {}))}" for c in corpora)
        print(f"verifier-truth: {kernel}: {data['release']} -> {path.relative_to(ROOT)} ({counts}) "
              f"in {time.time() - start:.0f}s", file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(main())
