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
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PYEBPF_SELFTEST_CACHE", "/tmp/pyebpf-verifier-selftests"))
DIFFERENCES = HERE / "DIFFERENCES.txt"
_MEMBERS = ("tools/testing/selftests/bpf/", "tools/include/", "tools/arch/x86/include/")
#: enum { UNDEF, ACCEPT, REJECT, VERBOSE_ACCEPT } of test_verifier.c
ACCEPT, REJECT, VERBOSE_ACCEPT = 1, 2, 3
F_NEEDS_JIT_ENABLED = 1 << 2
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

static int needs_setup(const struct bpf_test *t)
{
	const int *arrs[] = { t->fixup_map_hash_8b, t->fixup_map_hash_48b, t->fixup_map_hash_16b,
		t->fixup_map_array_48b, t->fixup_map_sockmap, t->fixup_map_sockhash, t->fixup_map_xskmap,
		t->fixup_map_stacktrace, t->fixup_prog1, t->fixup_prog2, t->fixup_map_in_map,
		t->fixup_cgroup_storage, t->fixup_percpu_cgroup_storage, t->fixup_map_spin_lock,
		t->fixup_map_array_ro, t->fixup_map_array_wo, t->fixup_map_array_small, t->fixup_sk_storage_map,
		t->fixup_map_event_output, t->fixup_map_reuseport_array, t->fixup_map_ringbuf, t->fixup_map_timer,
		t->fixup_map_kptr };
	for (unsigned i = 0; i < sizeof(arrs) / sizeof(arrs[0]); i++)
		if (arrs[i][0])
			return 1;
	return t->fixup_kfunc_btf_id[0].kfunc != NULL || t->func_info_cnt || t->btf_types[0] || t->fill_helper
	       || t->kfunc;
}

int main(void)
{
	for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		struct bpf_test *t = &tests[i];
		int n = prog_len(t->insns);
		printf("T\t%s\t%d\t%d\t%d\t%d\t%u\t", t->descr, t->prog_type, t->result, needs_setup(t), t->flags,
		       t->expected_attach_type);
		for (int j = 0; j < n; j++) {
			const unsigned char *b = (const unsigned char *)&t->insns[j];
			for (int k = 0; k < 8; k++)
				printf("%02x", b[k]);
		}
		printf("\t");
		for (const char *p = t->errstr ? t->errstr : ""; *p; p++)
			putchar(*p == '\n' || *p == '\t' ? ' ' : *p);
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
        if len(parts) < 9 or parts[0] != "T":
            continue
        descr = parts[1]
        if descr.startswith("@@FILE "):
            current = descr[len("@@FILE "):]
            continue
        tests.append(SelfTest(current, descr, int(parts[2]), int(parts[3]), parts[4] != "0", int(parts[5]),
                              int(parts[6]), bytes.fromhex(parts[7]), parts[8]))
    return tests


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
    from pyebpf.verifier.api import SUPPORTED_PROG_TYPES
    out = []
    for t in tests:
        if t.needs_setup or t.flags & (F_NEEDS_JIT_ENABLED | F_LOAD_WITH_STRICT_ALIGNMENT):
            continue
        pt = t.prog_type or int(ProgType.SOCKET_FILTER)
        try:
            if ProgType(pt) not in SUPPORTED_PROG_TYPES:
                continue
        except ValueError:
            continue
        out.append(t)
    return out


def run_one(t: SelfTest) -> Outcome:
    sys.path.insert(0, str(HERE.parent))
    from kernel_oracle import kernel_load_bytes
    from cases.oracle import kernel_reason
    from pyebpf.abi.prog_types import ProgType
    from pyebpf.errors import PyebpfError
    from pyebpf.isa.instruction import decode
    from pyebpf.isa.program import Program
    from pyebpf.verifier import verify
    pt = t.prog_type or int(ProgType.SOCKET_FILTER)
    k = kernel_load_bytes(t.code, pt, "GPL", 1, 1 << 22, t.expected_attach_type)
    kmsg = ""
    if not k.accepted:
        reason = kernel_reason(k.log)
        kmsg = reason[-1] if reason else errno.errorcode.get(k.errno, str(k.errno))
    kproc = None
    if k.accepted:
        q = kernel_load_bytes(t.code, pt, "GPL", 4, 1 << 16, t.expected_attach_type)
        m = _PROCESSED.search(q.log)
        kproc = int(m.group(1)) if m else None
    try:
        prog = Program(decode(t.code, validate=False))
        res = verify(prog, ProgType(pt), privileged=True, raise_on_reject=False,
                     attach_type=t.expected_attach_type or None)
        ok, msg, proc = res.accepted, (res.error.message if res.error else ""), res.processed
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
                       f"processed={o.ours_processed}")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-differences", action="store_true", help=f"write {DIFFERENCES.name}")
    args = ap.parse_args()
    tests = load_tests()
    chosen = selected(tests)
    print(f"{len(tests)} tests in verifier/*.c, {len(chosen)} runnable without fixups for supported program types")
    outcomes = run_all(chosen)
    print(report(outcomes))
    if args.write_differences:
        DIFFERENCES.write_text(differences(outcomes))
        print(f"differences written to {DIFFERENCES}")
    return 1 if any(o.false_accept for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
