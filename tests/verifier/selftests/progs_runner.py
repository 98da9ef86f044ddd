"""The kernel's newer verifier selftests (tools/testing/selftests/bpf/progs/verifier_*.c: `__naked` functions of
inline asm, `__failure __msg(...)` / `__success` BTF decl tags, SEC() names) through the running kernel and ours.

    python tests/verifier/selftests/progs_runner.py [--write-differences] [FILE_SUBSTRING ...]

The files are compiled as the selftests build does (clang -target bpf, a vmlinux.h dumped from the running kernel's
BTF by bpftool): the asm is llvm's dialect, so clang's assembler reads it and the object then goes through our own
ELF path (pyebpf.loader.elf: programs by SEC, maps from `.maps`, relocations), which is part of what is measured.
A file the distribution's libbpf headers cannot compile is retried with the source tree's own
tools/lib/bpf headers and UAPI (the `__arg_*` tags of global functions, arena macros, struct bpf_iter_num). Files clang 14 cannot compile (newer asm such as `gotol`, `may_goto`, `r0 = *(s8 *)`) are reported as skipped with
clang's first error. Ground truth is the kernel: each program is loaded with BPF_PROG_LOAD through pyebpf.loader
(real maps made from the object's map definitions, BTF and func_info passed), never the decl tags' expectation;
`__flag(...)` program flags are honoured, `__auxiliary` programs (tail-call targets of another test) are not run.
Privileged loads only.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import selftest_runner as base  # noqa: E402

DIFFERENCES = HERE / "DIFFERENCES-progs.txt"
_PROCESSED = re.compile(r"processed (\d+) insns")
#: prog flags spelled in __flag(...) -> value (uapi/linux/bpf.h)
_PROG_FLAGS = {"BPF_F_STRICT_ALIGNMENT": 1 << 0, "BPF_F_ANY_ALIGNMENT": 1 << 1, "BPF_F_TEST_RND_HI32": 1 << 2,
               "BPF_F_TEST_STATE_FREQ": 1 << 3, "BPF_F_SLEEPABLE": 1 << 4, "BPF_F_XDP_HAS_FRAGS": 1 << 5,
               "BPF_F_XDP_DEV_BOUND_ONLY": 1 << 6, "BPF_F_TEST_REG_INVARIANTS": 1 << 7}


class Skipped(Exception):
    pass


def _vmlinux_h(work: Path) -> Path:
    out = work / "vmlinux.h"
    if out.exists():
        return out
    bpftool = shutil.which("bpftool")
    if bpftool is None or not os.path.exists("/sys/kernel/btf/vmlinux"):
        raise base.SourceMissing("no bpftool or no /sys/kernel/btf/vmlinux to dump vmlinux.h from")
    text = subprocess.run([bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], check=True,
                          capture_output=True, text=True).stdout
    out.write_text(text)
    return out


def _libbpf_headers(tarball: Path, work: Path) -> Path:
    """An include dir whose bpf/ holds the source tree's own libbpf BPF-side headers (bpf_helpers.h with the
    __arg_ctx/__arg_nonnull/... decl-tag macros, newer than the distribution's libbpf-dev), as the selftests build
    installs them; bpf_helper_defs.h (generated there) is the installed one."""
    inc = work / "libbpf-include"
    done = inc / ".unpacked"
    if done.exists():
        return inc
    import tarfile
    root_name = tarball.name[:-len(".tar.xz")]
    (inc / "bpf").mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tf:
        for h in ("bpf_helpers.h", "bpf_tracing.h", "bpf_core_read.h", "bpf_endian.h"):
            member = tf.extractfile(f"{root_name}/tools/lib/bpf/{h}")
            if member is not None:
                (inc / "bpf" / h).write_bytes(member.read())
    defs = Path("/usr/include/bpf/bpf_helper_defs.h")
    if defs.exists():
        shutil.copy(defs, inc / "bpf" / defs.name)
    done.touch()
    return inc


def compile_objects(only: list[str] | None = None, pattern: str = "verifier_*.c") -> tuple[list[Path], dict[str, str]]:
    """(objects, {file: why skipped}) for progs/<pattern> (verifier_*.c), compiled once into the cache."""
    root = base.unpack(base.source_tarball())
    selftests = root / "tools/testing/selftests/bpf"
    clang = shutil.which("clang")
    if clang is None:
        raise base.SourceMissing("no clang to compile progs/verifier_*.c")
    work = base.CACHE / "progs"
    work.mkdir(parents=True, exist_ok=True)
    _vmlinux_h(work)
    objects, skipped = [], {}
    for src in sorted((selftests / "progs").glob(pattern)):
        if only and not any(s in src.name for s in only):
            continue
        obj, err = work / (src.stem + ".o"), work / (src.stem + ".err")
        if not obj.exists() and not err.exists():
            cmd = [clang, "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", f"-I{work}",
                   f"-I{selftests}", f"-I{selftests / 'progs'}", f"-I{root / 'tools/testing/selftests'}",
                   "-I/usr/include/x86_64-linux-gnu", "-Wno-error", "-w", "-c", str(src), "-o", str(obj)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                # newer libbpf macros (__arg_ctx, __arena, bpf_for_each...): the source tree's own headers first
                inc = _libbpf_headers(base.source_tarball(), work)
                r = subprocess.run(cmd[:1] + [f"-I{inc}", f"-I{root / 'tools/include/uapi'}"] + cmd[1:],
                                   capture_output=True, text=True)
            if r.returncode != 0:
                err.write_text(r.stderr)
        if obj.exists():
            objects.append(obj)
        else:
            first = next((ln for ln in err.read_text().splitlines() if "error" in ln), "clang failed")
            skipped[src.name] = "clang: " + first.split("error: ", 1)[-1]
    return objects, skipped


def _tags(btf, func_name: str) -> list[str]:
    """The `comment:...` decl tags on FUNC `func_name` (bpf_misc.h's test annotations)."""
    if btf is None:
        return []
    from pyebpf.btf.types import BtfKind
    ids = set(btf.ids_by_name(func_name))
    out = []
    for i in range(1, len(btf)):
        t = btf[i]
        # component_idx -1 (0xffffffff as stored): the tag is on the function itself
        if t.kind == BtfKind.DECL_TAG and t.size_type in ids and t.component_idx in (-1, 0xFFFFFFFF):
            name = btf.str_at(t.name_off)
            if name.startswith("comment:"):
                out.append(name[len("comment:"):])
    return out


def _flags(tags: list[str]) -> int:
    flags = 0
    for t in tags:
        if t.startswith("test_prog_flags="):
            for word in re.split(r"\s*\|\s*", t.split("=", 1)[1]):
                flags |= _PROG_FLAGS.get(word.strip(), 0) if not word.strip().isdigit() else int(word)
    return flags


def _kernel(program, prog_type, coll) -> tuple[bool, str, int | None]:
    """The kernel's verdict, reason and processed count, with the object's maps and BTF as libbpf creates them."""
    from dataclasses import replace
    from pyebpf.loader import ProgramLoadError, load
    from cases.oracle import kernel_reason
    btf_fd = coll._btf_handle.fd if coll._btf_handle is not None else None
    program = replace(program, btf=btf_fd, func_info=program.func_info if btf_fd else [],
                      line_info=program.line_info if btf_fd else [])
    try:
        kp = load(program, prog_type, maps=coll.maps, log_level=1 | 4)
    except ProgramLoadError as e:
        reason = kernel_reason(e.log or "")
        return False, (reason[-1] if reason else errno.errorcode.get(e.errno or 0, str(e.errno))), None
    log = getattr(kp, "log", "") or ""
    kp.close()
    m = _PROCESSED.search(log)
    return True, "", int(m.group(1)) if m else None


def _trampoline_attach_types():
    from pyebpf.abi.prog_types import AttachType
    return frozenset({AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN,
                      AttachType.TRACE_ITER})


def run_object(path: Path, skipped: dict[str, str]) -> list[base.Outcome]:
    from pyebpf.abi.prog_types import AttachType, ProgType
    from pyebpf.errors import PyebpfError
    from pyebpf.loader.collection import CollectionOptions, load_collection
    from pyebpf.loader.elf import load_elf
    from pyebpf.verifier import verify
    from pyebpf.verifier.api import supports
    outcomes = []
    _TRAMPOLINE = _trampoline_attach_types()
    try:
        obj = load_elf(str(path))
    except PyebpfError as e:
        skipped[path.stem + ".c"] = f"our ELF reader: {str(e).splitlines()[0]}"
        return outcomes
    try:
        coll = load_collection(obj, CollectionOptions(only=[]))
    except PyebpfError as e:
        obj.close()
        skipped[path.stem + ".c"] = f"maps/BTF of the object: {str(e).splitlines()[0]}"
        return outcomes
    try:
        for name, program in obj.programs.items():
            tags = _tags(obj.btf, name)
            if "test_auxiliary" in tags or any(t.startswith("test_arch=") for t in tags):
                continue
            pt = program.prog_type
            if pt is None or not supports(pt, program.expected_attach_type, program.attach_to):
                skipped[f"{path.stem}.c: {name}"] = f"program type {getattr(pt, 'name', pt)} (SEC {program.section})"
                continue
            flags = _flags(tags)
            if flags:
                program = dataclasses.replace(program, prog_flags=flags)
            t = base.SelfTest(path.stem + ".c", name, int(pt), 0, False, flags,
                              int(program.expected_attach_type or 0), b"", "")
            k_ok, k_msg, k_proc = _kernel(program, pt, coll)
            if not k_ok and k_msg == "EPERM" and (ProgType(pt) == ProgType.LSM or (
                    ProgType(pt) == ProgType.TRACING and program.expected_attach_type in _TRAMPOLINE)):
                skipped[f"{path.stem}.c: {name}"] = ("this kernel refuses trampoline programs (fentry/fexit/fmod_ret/"
                                                     "lsm) and map-element iterators with EPERM and no reason")
                continue
            try:
                res = verify(program, pt, privileged=True, raise_on_reject=False)
                ok, msg, proc = res.accepted, (res.error.message if res.error else ""), res.processed
            except PyebpfError as e:
                ok, msg, proc = False, f"{type(e).__name__}: {str(e).splitlines()[0]}", None
            except Exception as e:  # noqa: BLE001 - a crash of ours is a finding, reported as one
                ok, msg, proc = False, f"CRASH {type(e).__name__}: {e}", None
            outcomes.append(base.Outcome(t, k_ok, k_msg, k_proc, ok, msg, proc if ok else None))
    finally:
        coll.close()
        obj.close()
    return outcomes


def run_all(only: list[str] | None = None, pattern: str = "verifier_*.c"
            ) -> tuple[list[base.Outcome], dict[str, str]]:
    objects, skipped = compile_objects(only, pattern)
    outcomes: list[base.Outcome] = []
    for obj in objects:
        outcomes += run_object(obj, skipped)
    return outcomes, skipped


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-differences", action="store_true", help=f"write {DIFFERENCES.name}")
    ap.add_argument("--files", default="verifier_*.c", metavar="GLOB",
                    help="which progs/ files (default verifier_*.c; e.g. 'dynptr_*.c', 'iters*.c': the same "
                         "__failure/__msg annotations, outside the figures of DIFFERENCES-progs.txt)")
    ap.add_argument("only", nargs="*", help="run only files whose name contains one of these")
    args = ap.parse_args()
    if args.write_differences and args.files != "verifier_*.c":
        ap.error("--write-differences is for the verifier_*.c corpus only")
    outcomes, skipped = run_all(args.only or None, args.files)
    print(base.report(outcomes))
    print(f"\n{len(outcomes)} programs run; skipped: {len(skipped)}")
    kinds: dict[str, int] = {}
    for why in skipped.values():
        kind = why.split(" (SEC")[0] if why.startswith("program type") else why.split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {n:4d} skipped: {kind}")
    for k, v in sorted(skipped.items()):
        print(f"  skipped {k}: {v}")
    if args.write_differences:
        text = base.differences(outcomes).replace("(verifier/*.c)", "(progs/verifier_*.c)")
        DIFFERENCES.write_text(text.replace("selftest_runner.py", "progs_runner.py"))
        print(f"differences written to {DIFFERENCES}")
    return 1 if any(o.false_accept for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
