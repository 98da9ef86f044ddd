"""The kernel's own verifier selftests (tools/testing/selftests/bpf/verifier/*.c, the `struct bpf_test` tables)
through the running kernel and through our verifier.

    python tests/verifier/selftests/selftest_runner.py [--write-differences]

Source: Debian's `linux-source-*` package (`apt-get install linux-source-6.12`): its tarball in /usr/src is unpacked
into a cache directory. The tables are C (BPF_* instruction macros, designated initializers), so they are compiled,
not re-parsed: a small generated harness includes the package's own test_verifier.c declarations and the table
files, and prints every test's program bytes, type and expectation. Ground truth is the kernel in front of us (each
program is loaded with BPF_PROG_LOAD), never the table's `.result`.

First version: privileged loads of tests that need no map/program fixups, BTF or generated bodies, for the program
types verify() supports. Reported per file: verdict agreement, first-line message agreement, processed-count
equality on programs both accept; every disagreement goes to DIFFERENCES.txt. A false accept (we accept, the
kernel refuses) is a soundness bug.
"""
from __future__ import annotations

import argparse
import errno
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PYEBPF_SELFTEST_CACHE", "/tmp/pyebpf-verifier-selftests"))
DIFFERENCES = HERE / "DIFFERENCES.txt"
_MEMBERS = ("tools/testing/selftests/bpf/", "tools/include/", "tools/arch/x86/include/")
#: enum { UNDEF, ACCEPT, REJECT, VERBOSE_ACCEPT } of test_verifier.c
ACCEPT, REJECT, VERBOSE_ACCEPT = 1, 2, 3
F_NEEDS_JIT_ENABLED = 1 << 2
F_NEEDS_EFFICIENT_UNALIGNED_ACCESS = 1 << 0
F_LOAD_WITH_STRICT_ALIGNMENT = 1 << 1


@dataclass
class SelfTest:
    file: str
    descr: str
    prog_type: int
    result: int
    needs_setup: bool
    flags: int
    expected_attach_type: int
    code: bytes
    errstr: str
    #: fixup kind (test_verifier.c's fixup_* without the prefix) -> instruction indices whose imm is that map's fd
    fixups: dict[str, list[int]] = field(default_factory=dict)


class SourceMissing(Exception):
    pass


def source_tarball() -> Path:
    found = sorted(glob.glob("/usr/src/linux-source-*.tar.xz"))
    if not found:
        raise SourceMissing("no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.12)")
    return Path(found[-1])


def unpack(tarball: Path) -> Path:
    """The parts of the source tree the harness needs, unpacked once per tarball."""
    root_name = tarball.name[:-len(".tar.xz")]
    root = CACHE / root_name
    done = root / ".unpacked"
    if done.exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tf:
        members = [m for m in tf.getmembers()
                   if any(m.name.startswith(f"{root_name}/{p}") for p in _MEMBERS)]
        tf.extractall(CACHE, members=members, filter="data")
    done.touch()
    return root


def build_harness(root: Path) -> Path:
    selftests = root / "tools/testing/selftests/bpf"
    work = CACHE / "harness"
    exe = work / "harness"
    if exe.exists():
        return exe
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise SourceMissing("no C compiler (gcc) to build the selftest harness")
    (work / "gen/verifier").mkdir(parents=True, exist_ok=True)
    with open(work / "gen/verifier/tests.h", "w") as f:
        for path in sorted((selftests / "verifier").glob("*.c")):
            f.write(f'{{ .descr = "@@FILE {path.name}" }},\n#include "{path}"\n')
    src = (selftests / "test_verifier.c").read_text()
    cut = src.index("static struct bpf_test tests[] = {")
    (work / "harness.c").write_text(src[:cut] + _HARNESS_MAIN)
    cmd = [gcc, "-O0", "-w", f"-I{work / 'gen'}", f"-I{selftests}", f"-I{root / 'tools/include'}",
           f"-I{root / 'tools/include/uapi'}", "-I/usr/include/x86_64-linux-gnu", str(work / "harness.c"), "-o",
           str(exe)]
    subprocess.run(cmd, check=True, capture_output=True)
    return exe


_HARNESS_MAIN = r"""
static struct bpf_test tests[] = {
#define FILL_ARRAY
#include <verifier/tests.h>
#undef FILL_ARRAY
};

static int prog_len(const struct bpf_insn *fp)
{
	int len;
	for (len = MAX_INSNS - 1; len > 0; --len)
		if (fp[len].code != 0 || fp[len].imm != 0)
			break;
	return len + 1;
}

#define FIX(name) { #name, offsetof(struct bpf_test, name) }
static const struct { const char *name; size_t off; } fixups[] = {
	FIX(fixup_map_hash_8b), FIX(fixup_map_hash_48b), FIX(fixup_map_hash_16b), FIX(fixup_map_array_48b),
	FIX(fixup_map_sockmap), FIX(fixup_map_sockhash), FIX(fixup_map_xskmap), FIX(fixup_map_stacktrace),
	FIX(fixup_prog1), FIX(fixup_prog2), FIX(fixup_map_in_map), FIX(fixup_cgroup_storage),
	FIX(fixup_percpu_cgroup_storage), FIX(fixup_map_spin_lock), FIX(fixup_map_array_ro), FIX(fixup_map_array_wo),
	FIX(fixup_map_array_small), FIX(fixup_sk_storage_map), FIX(fixup_map_event_output),
	FIX(fixup_map_reuseport_array), FIX(fixup_map_ringbuf), FIX(fixup_map_timer), FIX(fixup_map_kptr),
};

/* BTF, kfunc or func_info setup the runner does not recreate (map fixups are printed and recreated) */
static int needs_setup(const struct bpf_test *t)
{
	return t->fixup_kfunc_btf_id[0].kfunc != NULL || t->func_info_cnt || t->btf_types[0] || t->kfunc;
}

static void print_fixups(const struct bpf_test *t)
{
	for (unsigned i = 0; i < sizeof(fixups) / sizeof(fixups[0]); i++) {
		const int *a = (const int *)((const char *)t + fixups[i].off);
		if (!a[0])
			continue;
		printf("%s:", fixups[i].name + strlen("fixup_"));
		for (int j = 0; a[j]; j++)
			printf("%s%d", j ? "," : "", a[j]);
		printf(";");
	}
}

int main(void)
{
	for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		struct bpf_test *t = &tests[i];
		struct bpf_insn *insns = t->insns;
		int n;
		if (t->fill_helper) {
			t->fill_insns = calloc(MAX_TEST_INSNS, sizeof(struct bpf_insn));
			t->fill_helper(t);
			insns = t->fill_insns;
			n = t->prog_len;
		} else {
			n = prog_len(insns);
		}
		printf("T\t%s\t%d\t%d\t%d\t%d\t%u\t", t->descr, t->prog_type, t->result, needs_setup(t), t->flags,
		       t->expected_attach_type);
		for (int j = 0; j < n; j++) {
			const unsigned char *b = (const unsigned char *)&insns[j];
			for (int k = 0; k < 8; k++)
				printf("%02x", b[k]);
		}
		printf("\t");
		for (const char *p = t->errstr ? t->errstr : ""; *p; p++)
			putchar(*p == '\n' || *p == '\t' ? ' ' : *p);
		printf("\t");
		print_fixups(t);
		printf("\n");
	}
	return 0;
}
"""


def load_tests() -> list[SelfTest]:
    exe = build_harness(unpack(source_tarball()))
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, errors="replace").stdout
    tests: list[SelfTest] = []
    current = "?"
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 10 or parts[0] != "T":
            continue
        descr = parts[1]
        if descr.startswith("@@FILE "):
            current = descr[len("@@FILE "):]
            continue
        tests.append(SelfTest(current, descr, int(parts[2]), int(parts[3]), parts[4] != "0", int(parts[5]),
                              int(parts[6]), bytes.fromhex(parts[7]), parts[8], _fixups(parts[9])))
    return tests


def _fixups(text: str) -> dict[str, list[int]]:
    out = {}
    for part in filter(None, text.split(";")):
        kind, idx = part.split(":")
        out[kind] = [int(i) for i in idx.split(",")]
    return out


# ---- maps for the fixups (do_test_fixup of test_verifier.c: the same types, sizes and flags) ----------------------

_TEST_VAL, _OTHER_VAL, _TEST_DATA_LEN, _CGROUP_STORAGE_KEY = 48, 16, 64, 16
#: fixups whose maps need BTF (spin lock, timer, kptr, sk_storage): not recreated, their tests are skipped
UNSUPPORTED_FIXUPS = frozenset({"map_spin_lock", "sk_storage_map", "map_timer", "map_kptr"})
#: generated bodies (fill_helper) longer than this are left out: the kernel's 1M-instruction scale tests take our
#: verifier minutes, which CI has no room for
MAX_GENERATED_INSNS = 4096


def fixup_map_spec(kind: str):
    """MapSpec of the map test_verifier.c creates for fixup `kind`."""
    from pyebpf.abi.maps import MapSpec, MapType
    from pyebpf.abi.uapi import MapCreateFlags
    no_prealloc = int(MapCreateFlags.NO_PREALLOC)
    table = {
        "map_hash_8b": (MapType.HASH, 8, 8, 1, no_prealloc),
        "map_hash_48b": (MapType.HASH, 8, _TEST_VAL, 1, no_prealloc),
        "map_hash_16b": (MapType.HASH, 8, _OTHER_VAL, 1, no_prealloc),
        "map_array_48b": (MapType.ARRAY, 4, _TEST_VAL, 1, 0),
        "prog1": (MapType.PROG_ARRAY, 4, 4, 4, 0),
        "prog2": (MapType.PROG_ARRAY, 4, 4, 8, 0),
        "cgroup_storage": (MapType.CGROUP_STORAGE, _CGROUP_STORAGE_KEY, _TEST_DATA_LEN, 0, 0),
        "percpu_cgroup_storage": (MapType.PERCPU_CGROUP_STORAGE, _CGROUP_STORAGE_KEY, _TEST_DATA_LEN, 0, 0),
        "map_sockmap": (MapType.SOCKMAP, 4, 4, 1, 0),
        "map_sockhash": (MapType.SOCKHASH, 4, 4, 1, 0),
        "map_xskmap": (MapType.XSKMAP, 4, 4, 1, 0),
        "map_stacktrace": (MapType.STACK_TRACE, 4, 8, 1, 0),
        "map_array_ro": (MapType.ARRAY, 4, _TEST_VAL, 1, int(MapCreateFlags.RDONLY_PROG)),
        "map_array_wo": (MapType.ARRAY, 4, _TEST_VAL, 1, int(MapCreateFlags.WRONLY_PROG)),
        "map_array_small": (MapType.ARRAY, 4, 1, 1, 0),
        "map_event_output": (MapType.PERF_EVENT_ARRAY, 4, 4, 1, 0),
        "map_reuseport_array": (MapType.REUSEPORT_SOCKARRAY, 4, 8, 1, 0),
        "map_ringbuf": (MapType.RINGBUF, 0, 0, 4096, 0),
    }
    if kind == "map_in_map":
        inner = MapSpec("inner", MapType.ARRAY, 4, 4, 1)
        return MapSpec(kind, MapType.ARRAY_OF_MAPS, 4, 4, 1, inner_map=inner)
    t, ks, vs, n, flags = table[kind]
    return MapSpec(kind, t, ks, vs, n, flags)


def program_of(t: SelfTest):
    """The test's Program: raw slots decoded without validation, fixed-up lddw slots naming their map."""
    from pyebpf.isa.instruction import decode
    from pyebpf.isa.program import Program
    insns = list(decode(t.code, validate=False))
    slot_to_index, slot = {}, 0
    for i, insn in enumerate(insns):
        slot_to_index[slot] = i
        slot += 2 if insn.opcode == 0x18 else 1
    maps = {}
    for kind, slots in t.fixups.items():
        maps[kind] = fixup_map_spec(kind)
        for s in slots:
            i = slot_to_index[s]
            insns[i] = insns[i].with_ref(kind)
    return Program(insns, maps=maps, prog_flags=prog_flags_of(t), func_info=[])  # test_verifier loads no BTF


# ---- running ------------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    test: SelfTest
    kernel_ok: bool
    kernel_msg: str
    kernel_processed: int | None
    ours_ok: bool
    ours_msg: str
    ours_processed: int | None

    @property
    def verdict_agrees(self) -> bool:
        return self.kernel_ok == self.ours_ok

    @property
    def false_accept(self) -> bool:
        return self.ours_ok and not self.kernel_ok


_PROCESSED = re.compile(r"processed (\d+) insns")


def selected(tests: list[SelfTest]) -> list[SelfTest]:
    from pyebpf.abi.prog_types import ProgType
    from pyebpf.verifier.api import supports
    out = []
    for t in tests:
        if t.needs_setup or UNSUPPORTED_FIXUPS & t.fixups.keys() or len(t.code) // 8 > MAX_GENERATED_INSNS:
            continue
        pt = t.prog_type or int(ProgType.SOCKET_FILTER)
        if not supports(pt, t.expected_attach_type):
            continue
        out.append(t)
    return out


def skip_reasons(tests: list[SelfTest]) -> dict[str, int]:
    """Why the tests `selected()` leaves out are left out, counted."""
    from pyebpf.abi.prog_types import ProgType
    from pyebpf.verifier.api import SUPPORTED_PROG_TYPES
    chosen = {id(t) for t in selected(tests)}
    out: dict[str, int] = defaultdict(int)
    for t in tests:
        if id(t) in chosen:
            continue
        if t.needs_setup:
            out["BTF/func_info/kfunc setup not recreated"] += 1
        elif UNSUPPORTED_FIXUPS & t.fixups.keys():
            out["maps that need BTF (" + ", ".join(sorted(UNSUPPORTED_FIXUPS & t.fixups.keys())) + ")"] += 1
        elif len(t.code) // 8 > MAX_GENERATED_INSNS:
            out[f"generated body over {MAX_GENERATED_INSNS} insns"] += 1
        else:
            try:
                name = ProgType(t.prog_type or ProgType.SOCKET_FILTER).name
            except ValueError:
                name = str(t.prog_type)
            out[f"program type {name} not modelled"] += 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def prog_flags_of(t: SelfTest) -> int:
    """BPF_PROG_LOAD's prog_flags as do_test_single() computes them (without testing_prog_flags()' RND_HI32 and
    REG_INVARIANTS test aids): alignment from the F_ bits, and the test's flags beyond them (TEST_STATE_FREQ...)."""
    from pyebpf.abi.uapi import ProgLoadFlags
    flags = 0
    if t.flags & F_LOAD_WITH_STRICT_ALIGNMENT:
        flags |= ProgLoadFlags.STRICT_ALIGNMENT
    if t.flags & F_NEEDS_EFFICIENT_UNALIGNED_ACCESS:
        flags |= ProgLoadFlags.ANY_ALIGNMENT
    if t.flags & ~3:
        flags |= t.flags
    return int(flags)


def run_one(t: SelfTest) -> Outcome:
    sys.path.insert(0, str(HERE.parent))
    from kernel_oracle import kernel_load, kernel_load_bytes
    from cases.oracle import kernel_reason
    from pyebpf.abi.prog_types import ProgType
    from pyebpf.errors import DecodeError, PyebpfError
    from pyebpf.verifier import verify
    pt = t.prog_type or int(ProgType.SOCKET_FILTER)
    flags = prog_flags_of(t)
    try:
        program = program_of(t)
    except PyebpfError as e:
        program = None
        decode_error = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    if t.fixups and program is not None:
        k = kernel_load(program, pt, 1, 1 << 22, t.expected_attach_type, prog_flags=flags)
    else:
        k = kernel_load_bytes(t.code, pt, "GPL", 1, 1 << 22, t.expected_attach_type, prog_flags=flags)
    if not k.accepted and k.errno == errno.ENOSPC:  # the log outgrew its buffer: the verdict comes without a log
        with_maps = t.fixups and program is not None
        k = (kernel_load(program, pt, 0, 0, t.expected_attach_type, prog_flags=flags) if with_maps
             else kernel_load_bytes(t.code, pt, "GPL", 0, 0, t.expected_attach_type, prog_flags=flags))
    kmsg = ""
    if not k.accepted:
        reason = kernel_reason(k.log)
        kmsg = reason[-1] if reason else errno.errorcode.get(k.errno, str(k.errno))
    kproc = None
    if k.accepted:
        q = (kernel_load(program, pt, 4, 1 << 16, t.expected_attach_type, prog_flags=flags) if t.fixups else
             kernel_load_bytes(t.code, pt, "GPL", 4, 1 << 16, t.expected_attach_type, prog_flags=flags))
        m = _PROCESSED.search(q.log)
        kproc = int(m.group(1)) if m else None
    try:
        if program is None:
            raise DecodeError(decode_error)
        res = verify(program, ProgType(pt), privileged=True, raise_on_reject=False,
                     attach_type=t.expected_attach_type or None, prog_flags=flags)
        ok, msg, proc = res.accepted, (res.error.message if res.error else ""), res.processed
    except DecodeError as e:
        ok, msg, proc = False, str(e), None
    except PyebpfError as e:
        ok, msg, proc = False, f"{type(e).__name__}: {str(e).splitlines()[0]}", None
    return Outcome(t, k.accepted, kmsg, kproc, ok, msg, proc if ok else None)


def run_all(tests: list[SelfTest]) -> list[Outcome]:
    return [run_one(t) for t in tests]


def report(outcomes: list[Outcome]) -> str:
    by_file: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_file[o.test.file].append(o)
    lines = [f"{'file':<32} {'cases':>5} {'verdict':>8} {'message':>8} {'processed':>10} {'false-acc':>9}"]

    def row(name: str, group: list[Outcome]) -> str:
        n = len(group)
        v = sum(o.verdict_agrees for o in group)
        msg = sum(o.verdict_agrees and (o.kernel_ok or o.kernel_msg == o.ours_msg) for o in group)
        both = [o for o in group if o.kernel_ok and o.ours_ok]
        p = sum(o.kernel_processed == o.ours_processed for o in both)
        fa = sum(o.false_accept for o in group)
        return f"{name:<32} {n:>5} {v:>4}/{n:<3} {msg:>4}/{n:<3} {p:>5}/{len(both):<4} {fa:>9}"

    for name in sorted(by_file):
        lines.append(row(name, by_file[name]))
    lines.append(row("TOTAL", outcomes))
    return "\n".join(lines)


#: (what we say, contains) -> why we differ: the known gaps, so that DIFFERENCES lists each case with its reason
KNOWN_REASONS = (
    ("kfunc", "kfunc calls are not modelled (per-program-type kfunc id sets, BTF-typed arguments)"),
    ("unknown return type 1048584", "helpers returning trusted BTF pointers (bpf_get_current_task_btf) are not "
                                    "modelled"),
    ("invalid mem access 'map_ptr'", "reads of struct bpf_map fields through a map pointer need "
                                     "btf_struct_access over vmlinux BTF (not modelled; refused)"),
    ("DecodeError", "pyebpf.isa's decoder refuses the malformed lddw before the verifier runs (the kernel's "
                    "reason, with its location)"),
)


def reason_of(kind: str, o: Outcome) -> str:
    for needle, why in KNOWN_REASONS:
        if needle in o.ours_msg:
            return why
    if kind == "processed":
        return "processed count: pruning/precision/checkpoint parity (engine, prune.py, precision.py)" + (
            "; BPF_F_TEST_STATE_FREQ (a checkpoint at every jump) is not modelled" if o.test.flags & 8 else "")
    if kind == "message":
        return "same verdict, another first reason (check order or wording)"
    return "not analysed yet"


def differences(outcomes: list[Outcome]) -> str:
    out = ["# Kernel verifier selftests (verifier/*.c) where pyebpf's verifier differs from the running kernel.",
           "# Generated by tests/verifier/selftests/selftest_runner.py --write-differences;",
           "# FALSE ACCEPT = soundness bug.", ""]
    for o in outcomes:
        kind = None
        if o.false_accept:
            kind = "FALSE ACCEPT"
        elif not o.verdict_agrees:
            kind = "false reject"
        elif not o.kernel_ok and o.kernel_msg != o.ours_msg:
            kind = "message"
        elif o.kernel_ok and o.kernel_processed != o.ours_processed:
            kind = "processed"
        if kind:
            out.append(f"{kind:<13} {o.test.file}: {o.test.descr}\n    kernel: "
                       f"{'accept' if o.kernel_ok else 'reject'} {o.kernel_msg!r} processed={o.kernel_processed}\n"
                       f"    ours:   {'accept' if o.ours_ok else 'reject'} {o.ours_msg!r} "
                       f"processed={o.ours_processed}\n    why:    {reason_of(kind, o)}")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-differences", action="store_true", help=f"write {DIFFERENCES.name}")
    args = ap.parse_args()
    tests = load_tests()
    chosen = selected(tests)
    print(f"{len(tests)} tests in verifier/*.c, {len(chosen)} runnable (map fixups recreated; BTF/kfunc setup, "
          f"generated bodies over {MAX_GENERATED_INSNS} insns and unsupported program types skipped)")
    for why, n in skip_reasons(tests).items():
        print(f"  {n:4d} skipped: {why}")
    outcomes = run_all(chosen)
    print(report(outcomes))
    if args.write_differences:
        DIFFERENCES.write_text(differences(outcomes))
        print(f"differences written to {DIFFERENCES}")
    return 1 if any(o.false_accept for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
