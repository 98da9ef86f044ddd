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
CORPORA = ("cases", "engine", "selftests")


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
    fns = {"cases": collect_cases, "engine": collect_engine, "selftests": collect_selftests}
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
