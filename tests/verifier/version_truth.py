"""Our verifier's per-kernel answers against the recorded ground truth (tests/verifier/kernels/<version>.json,
written by scripts/verifier-truth.py inside each kernel): the comparison behind test_kernel_versions.py and
`python tests/verifier/version_truth.py [VERSION...]`, which prints the agreement figures and every difference."""
from __future__ import annotations

import errno as _errno
import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERNELS_DIR = HERE / "kernels"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def recorded_versions() -> list[str]:
    return sorted((p.stem for p in KERNELS_DIR.glob("*.json")), key=lambda v: tuple(map(int, v.split("."))))


def load_truth(version: str) -> dict:
    return json.loads((KERNELS_DIR / f"{version}.json").read_text())


@dataclass(frozen=True)
class Item:
    """One program of a corpus, ready for our verifier."""

    corpus: str
    id: str
    program: object
    prog_type: object
    privileged: bool
    attach_type: object = None
    slow: float = 0


def items(corpora=("cases", "engine", "selftests")) -> list[Item]:
    out: list[Item] = []
    if "cases" in corpora:
        from cases import all_cases
        for c in all_cases():
            out.append(Item("cases", c.id, c.program, c.prog_type, c.privileged, None, c.slow))
    if "engine" in corpora:
        from cases_engine import CASES
        from pyebpf.isa.assembler import assemble
        for name, ptype, text, _ in CASES:
            out.append(Item("engine", name, (lambda t=text: assemble(t)), ptype, True))
    if "selftests" in corpora:
        from pyebpf.abi.prog_types import ProgType
        from pyebpf.isa.instruction import decode
        from pyebpf.isa.program import Program
        for tid, t in selftests():
            out.append(Item("selftests", tid,
                            (lambda code=t.code: Program(decode(code, validate=False), func_info=[])),
                            ProgType(t.prog_type or int(ProgType.SOCKET_FILTER)), True,
                            t.expected_attach_type or None))
    return out


def selftests() -> list[tuple[str, object]]:
    """(id, test) of the kernel selftests the runner selects; a repeated description gets ` #2`, ` #3` ..."""
    sys.path.insert(0, str(HERE / "selftests"))
    import selftest_runner as runner
    try:
        tests = runner.selected(runner.load_tests())
    except runner.SourceMissing:
        return []
    seen: dict[str, int] = {}
    out = []
    for t in tests:
        tid = f"{t.file}: {t.descr}"
        seen[tid] = seen.get(tid, 0) + 1
        out.append((tid if seen[tid] == 1 else f"{tid} #{seen[tid]}", t))
    return out


@dataclass(frozen=True)
class Answer:
    ok: bool | None
    errno: str = ""
    msg: str = ""


def _answer(res) -> Answer:
    if res.accepted:
        return Answer(True)
    e = res.error
    return Answer(False, _errno.errorcode.get(e.errno, "") if e.errno else "", e.message)


def ours(item: Item, kernels: list[str]) -> dict[str, Answer]:
    """Our answers for `item` on every release in `kernels` (verify_kernels: one run per distinct answer set)."""
    from pyebpf.errors import PyebpfError
    from pyebpf.verifier import verify_kernels
    try:
        program = item.program()
        results = verify_kernels(program, kernels, prog_type=item.prog_type, privileged=item.privileged,
                                 attach_type=item.attach_type)
    except PyebpfError as e:
        a = Answer(False, _errno.errorcode.get(getattr(e, "errno", 0) or 0, ""), getattr(e, "message", str(e)))
        return {k: a for k in kernels}
    return {k: _answer(r) for k, r in results.items()}


@dataclass(frozen=True)
class Outcome:
    item: Item
    kernel: dict
    ours: Answer

    @property
    def verdict(self) -> bool:
        return self.ours.ok == self.kernel["ok"]

    @property
    def false_accept(self) -> bool:
        return bool(self.ours.ok) and not self.kernel["ok"]

    @property
    def message(self) -> bool:
        if not self.verdict:
            return False
        if self.kernel["ok"]:
            return True
        kmsg = self.kernel.get("msg", "")
        return self.ours.msg == kmsg or self.ours.msg in self.kernel.get("reason", ()) or (
            not kmsg and bool(self.ours.msg))

    def line(self) -> str:
        k, o = self.kernel, self.ours
        kind = ("FALSE ACCEPT" if self.false_accept else "false reject" if not self.verdict else "message")
        return (f"{kind:<13} {self.item.corpus}/{self.item.id}\n"
                f"    kernel: {'accept' if k['ok'] else 'reject'} {k.get('errno', '')} {k.get('msg', '')!r}\n"
                f"    ours:   {'accept' if o.ok else 'reject'} {o.errno} {o.msg!r}")


def compare(versions: list[str], corpora=("cases", "engine", "selftests"), only=None,
            fast=False) -> dict[str, list[Outcome]]:
    """{version: outcomes} for every case the version's file records. `fast` leaves out the cases marked slow
    (the complexity-limit programs: ~30 s each here)."""
    truths = {v: load_truth(v) for v in versions}
    out: dict[str, list[Outcome]] = {v: [] for v in versions}
    for it in items(corpora):
        if (only and only not in it.id) or (fast and it.slow):
            continue
        recs = {v: t.get(it.corpus, {}).get(it.id) for v, t in truths.items()}
        wanted = [v for v, r in recs.items() if r is not None]
        if not wanted:
            continue
        answers = ours(it, wanted)
        for v in wanted:
            out[v].append(Outcome(it, recs[v], answers[v]))
    return out


def figures(outcomes: list[Outcome]) -> str:
    n = len(outcomes)
    v = sum(o.verdict for o in outcomes)
    m = sum(o.message for o in outcomes)
    fa = sum(o.false_accept for o in outcomes)
    return f"{n} cases: verdicts {v}/{n} ({v / max(n, 1):.2%}), messages {m}/{n} ({m / max(n, 1):.2%}), " \
           f"false accepts {fa}"


def main(argv: list[str]) -> int:
    versions = [a for a in argv if not a.startswith("-")] or recorded_versions()
    bad = 0
    every = compare(versions, fast="--fast" in argv)
    for v in versions:
        outs = every[v]
        for o in outs:
            if not o.message:
                print(o.line())
        print(f"kernel {v}: {figures(outs)}")
        for corpus in ("cases", "engine", "selftests"):
            sub = [o for o in outs if o.item.corpus == corpus]
            print(f"    {corpus}: {figures(sub)}")
        bad |= any(o.false_accept for o in outs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
