"""The proof table: rejected programs in assembly (explain_cases.CASES), C (clang objects with BTF line_info) and
Python probes (proof_rows), each with the explanation parts it must get — where (the source line), the path, the
provenance (`why`), the rule (kernel function and sentence) and the fix in its language — and each fix verified:
our verifier accepts the fixed program, and (kernel marker) the running kernel refuses the broken one with our
message at our instruction and loads the fixed one. Unprivileged rows load from a forked child that dropped
capabilities (tests/explain/unpriv.py): CAP_BPF only for the rules that hang on CAP_PERFMON (works anywhere), and
nobody with no capabilities where kernel.unprivileged_bpf_disabled is 0 (the kernel-matrix guests set it)."""
from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from explain_cases import CASES, ExplainCase
from proof_rows import ROWS, Row
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify
from pyebpf.verifier.explain import CATALOGUE, explain, explain_log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loader" / "c"))
import bpf_objects  # noqa: E402
from unpriv import allow_unprivileged_bpf, in_child, kernel_verdict  # noqa: E402

from helpers.unpriv_sysctl import sysctl_lock  # noqa: E402
from pyebpf.testing.plugin import skip_missing_feature  # noqa: E402

SLOW = {"too-large"}  # the 1M-instruction loop takes our verifier about a minute until the loop fast path lands
ASM = [c for c in CASES if c.rule not in SLOW]
ALL = [*ASM, *ROWS]
_counter = itertools.count()


def _id(row) -> str:
    return f"{getattr(row, 'lang', 'asm')}-{row.rule}-{ALL.index(row)}"


def _compile_c(source: str, tmp: Path):
    try:
        clang = bpf_objects.clang()
    except bpf_objects.ToolMissing as e:
        pytest.skip(str(e))
    from pyebpf.loader.elf import load_elf

    n = next(_counter)
    src, obj = tmp / f"row{n}.c", tmp / f"row{n}.o"
    src.write_text(source)
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", *bpf_objects.multiarch_include(), "-c", src.name, "-o",
                    obj.name], cwd=tmp, check=True, capture_output=True)
    elf = load_elf(str(obj))
    try:
        return elf.programs["prog"]
    finally:
        elf.close()


def _probe(source: str, tmp: Path):
    n = next(_counter)
    path = tmp / f"proof_row_{n}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"proof_row_{n}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.prog


class Built:
    """One side (broken or fixed) of a row: its explanation, our verdict, and a kernel load."""

    def __init__(self, row, which: str, tmp: Path) -> None:
        self.row = row
        lang = getattr(row, "lang", "asm")
        text = getattr(row, which)
        self.prog_type = getattr(row, "prog_type", None)
        self.privileged = getattr(row, "privileged", True)
        if lang == "asm":
            self.program = text() if callable(text) else assemble(text)
            self.program.prog_flags = row.prog_flags
            self.prog_type = row.prog_type
            self.probe = None
        elif lang == "c":
            self.program = _compile_c(text, tmp)
            self.probe = None
        else:
            self.probe = _probe(text, tmp)
            self.program = self.probe.program
        self.lang = lang

    def explain(self):
        if self.probe is not None:
            return self.probe.explain()
        return explain(self.program, self.prog_type, self.privileged)

    def verify(self):
        return verify(self.program, prog_type=self.prog_type, privileged=self.privileged, raise_on_reject=False)

    def kernel_load(self) -> None:
        from pyebpf.loader import load

        if self.probe is not None:
            with self.probe.load(attach=False, verify=False):
                return
        # without CAP_BPF there is no BTF_LOAD either: an unprivileged loader sends no func_info (none generated)
        extra = {} if self.privileged else {"func_info": []}
        load(self.program, self.prog_type, **extra).close()


def test_table_size_and_languages():
    langs = Counter(getattr(r, "lang", "asm") for r in [*CASES, *ROWS])
    assert sum(langs.values()) >= 60, langs
    assert langs["c"] >= 15 and langs["py"] >= 8 and langs["asm"] >= 30, langs
    names = {r.name for r in CATALOGUE}
    assert all(r.rule in names for r in [*CASES, *ROWS])


#: catalogue classes without a proof row, and why (none left: kfunc-null came with the kfunc model)
NO_ROW_YET: dict[str, str] = {}


def test_every_class_has_a_proof_row():
    have = {r.rule for r in [*CASES, *ROWS]}
    assert {r.name for r in CATALOGUE} - have == set(NO_ROW_YET)


@pytest.mark.parametrize("row", ALL, ids=_id)
def test_explanation_parts(row, tmp_path):
    ex = Built(row, "broken", tmp_path).explain()
    assert ex is not None, "the broken program must be rejected"
    rule = next(r for r in CATALOGUE if r.name == row.rule)
    assert (ex.func, ex.rule) == (rule.func, rule.rule), ex.text()
    lang = getattr(row, "lang", "asm")
    fix = {"c": rule.fix_c, "py": rule.fix_py or rule.fix_c}.get(lang)
    if fix is not None:
        assert ex.fix == fix, ex.text()
    else:
        assert ex.fix, ex.text()
    assert ex.insn is not None and ex.disasm, ex.text()
    if lang == "asm" and callable(row.broken):  # raw instructions: no source, the encoding is the where
        assert ex.source == "" and ex.disasm, ex.text()
    elif lang == "asm":
        assert ex.source.startswith("line "), ex.text()
    else:
        assert ex.source.endswith(row.where), ex.text()
    path = ex.text().split("\npath: ", 1)[1].split("\n", 1)[0]
    assert row.path in path, ex.text()
    assert row.why in "\n".join(ex.why), ex.text()


@pytest.mark.parametrize("row", ALL, ids=_id)
def test_fix_verifies(row, tmp_path):
    assert Built(row, "fixed", tmp_path).verify().accepted


@pytest.mark.kernel
@pytest.mark.parametrize("row", [r for r in ALL if getattr(r, "privileged", True)], ids=_id)
def test_kernel_agrees(row, tmp_path):
    from pyebpf.loader import KernelVerifierError

    broken = Built(row, "broken", tmp_path)
    with pytest.raises(KernelVerifierError) as info:
        broken.kernel_load()
    ours = broken.verify().error
    assert info.value.message == ours.message
    # the kernel's log names the last instruction it printed: none for CFG-stage messages, and for a loop found
    # at a prune point the back-edge jump before the instruction (env->insn_idx) that is refused (ours)
    if info.value.insn is not None and row.rule != "infinite-loop":
        assert info.value.insn == ours.insn
    _same_class(broken, info.value.message, info.value.insn, info.value.log or "")
    Built(row, "fixed", tmp_path).kernel_load()


UNPRIV = [r for r in ALL if not getattr(r, "privileged", True)]
MODES = [(r, m) for r in UNPRIV for m in (("cap_bpf_only", "no_caps") if r.without == "CAP_PERFMON" else ("no_caps",))]


@pytest.mark.kernel
@pytest.mark.parametrize("row,mode", MODES, ids=[f"{_id(r)}-{m}" for r, m in MODES])
def test_kernel_agrees_unprivileged(row, mode, tmp_path):
    """The unprivileged rows against the kernel, loaded by a process without the capability the rule needs."""
    broken, fixed = Built(row, "broken", tmp_path), Built(row, "fixed", tmp_path)
    with sysctl_lock():  # the sysctl is machine-wide: no other suite switches it while this row reads and loads
        if mode == "no_caps":
            reason = allow_unprivileged_bpf()
            if reason is not None:
                skip_missing_feature(reason)
        refused, loaded = in_child(lambda: [kernel_verdict(broken.kernel_load), kernel_verdict(fixed.kernel_load)],
                                   keep_bpf=mode == "cap_bpf_only")
    ours = broken.verify().error
    assert not refused["accepted"] and refused["message"] == ours.message, (refused, ours.message)
    if refused["insn"] is not None:
        assert refused["insn"] == ours.insn
    _same_class(broken, refused["message"], refused["insn"], refused["log"])
    assert loaded["accepted"], loaded


def _same_class(broken: Built, message: str, insn: int | None, log: str) -> None:
    """The class read from the kernel's own log (some classes need the line before its last one) is the one our
    explanation gives (on the host test_explanation_parts pins that to the row's class; a release may word a
    refusal so that it falls in a neighbouring class, as 6.12's 'invalid indirect read from stack' does)."""
    ours = broken.explain()
    kernel_ex = explain_log(broken.program, message, insn, log)
    assert (kernel_ex.func, kernel_ex.rule) == (ours.func, ours.rule), log


__all__ = ["Built", "ExplainCase", "Row"]
