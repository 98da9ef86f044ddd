"""Ask the running kernel (through pyebpf.loader) and our verifier about the same cases, in one batch.

Privileged cases load in this process; unprivileged ones in one forked child that drops to uid/gid nobody (no
capabilities left) while /proc/sys/kernel/unprivileged_bpf_disabled is 0 — restored in a finally. Maps are created
once per case in the parent (privileged) and inherited by the child, as an unprivileged user could be handed them.
"""
from __future__ import annotations

import errno as _errno
import os
import pickle
import re
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from pyebpf.errors import VerifierError

# tests/helpers is found by bare name under pytest (tests/conftest.py); report.py and the selftest runners also run
# this module as scripts, where the tests directory must come first (cases/helpers.py is a case table, not that).
_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
from helpers.unpriv_sysctl import UNPRIV_SYSCTL, sysctl_lock  # noqa: E402

NOBODY = 65534
_STATE_LINE = re.compile(r"^(\d+: |from \d+ to \d+: |\s*\d+: [.\d]{10} |Live regs|func#\d+ @\d+$|; )")
_TRAILER = ("verification time ", "stack depth ", "processed ")
_STATE_COMPARE = ("cur state:", "old state:")
_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\) ")
_GLUED_STATS = re.compile(r"(?<=\S)(?=processed \d+ insns \(limit)")


@dataclass(frozen=True)
class Verdict:
    """One side's answer: accepted or not, errno, the error line (kernel wording), and the whole log."""

    accepted: bool | None  # None: no verdict (our verifier ran out of its time budget)
    errno: int = 0
    message: str = ""
    log: str = ""
    insn: int | None = None
    #: every line of the kernel's closing reason (some reasons take two lines, e.g. an out-of-range access
    #: followed by `R0 min value is outside of the allowed memory range`); `message` is the last
    reason: tuple[str, ...] = ()


def kernel_error_line(log: str, program=None) -> str:
    block = kernel_reason(log, program)
    return block[-1] if block else ""


def kernel_reason(log: str, program=None) -> tuple[str, ...]:
    """The kernel's reason in a verifier log: the last line that is neither a state/instruction dump, a state
    comparison (`cur state:`/`old state:`) nor part of the statistics trailer (`processed N insns ...`,
    `verification time`, `stack depth`). At log level 1 some reasons (infinite loop, ...) are printed right after
    the instruction text, on its line: given the program, that instruction's text is cut off."""
    text = _GLUED_STATS.sub("\n", log)
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    while lines and (lines[-1].startswith(_TRAILER) or lines[-1].startswith(_STATE_COMPARE)):
        lines.pop()
    block: list[str] = []
    for ln in reversed(lines):
        if not _STATE_LINE.match(ln):
            block.append(ln)
            continue
        if not block:
            glued = _glued_reason(ln, program)
            if glued:
                block.append(glued)
        break
    return tuple(reversed(block))


def _glued_reason(line: str, program) -> str:
    m = _INSN_LINE.match(line)
    if not m or program is None:
        return ""
    from pyebpf.isa.disasm_kernel import format_insn
    slot = int(m.group(1))
    try:
        insn = program.instructions[program.index_of(slot)]
        prefix = f"{slot}: {format_insn(insn)}"
    except Exception:  # noqa: BLE001 - a slot we cannot print: no glued reason to find
        return ""
    if not line.startswith(prefix + " "):
        return ""
    rest = line[len(prefix) + 1:]
    return "" if re.match(r"^\d+: R|^; ", rest) else rest


def errno_name(code: int) -> str:
    return _errno.errorcode.get(code, str(code)) if code else "0"


# -- our verifier ---------------------------------------------------------------------------------------------

class _OutOfTime(Exception):
    pass


def ours(case) -> Verdict:
    """Our verifier's verdict on a case (log level 1 so the log is there to look at when they disagree).

    A case marked slow gets that many seconds (SIGALRM, main thread only); past that the verdict is None."""
    if not case.slow or threading.current_thread() is not threading.main_thread():
        return _ours(case)

    def _expired(signum, frame):
        raise _OutOfTime

    old = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, case.slow)
    try:
        return _ours(case)
    except _OutOfTime:
        return Verdict(None, 0, f"no verdict within {case.slow:g}s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _ours(case) -> Verdict:
    from pyebpf.verifier import verify
    program = case.program()
    try:
        res = verify(program, prog_type=case.prog_type, privileged=case.privileged, log_level=1,
                     raise_on_reject=False)
    except VerifierError as e:  # refused before verification (unsupported type, ...)
        return Verdict(False, e.errno, e.message, e.log, e.insn)
    if res.accepted:
        return Verdict(True, 0, "", res.log)
    e = res.error
    return Verdict(False, e.errno, e.message, res.log, e.insn)


# -- the kernel -----------------------------------------------------------------------------------------------

def _load(program, prog_type: str, maps, privileged: bool, slow: float = 0) -> Verdict:
    from pyebpf.loader import load
    from pyebpf.loader.program import ProgramLoadError
    from pyebpf.errors import LoaderError
    if slow:
        return _load_small_log(program, prog_type, maps)
    # BTF func_info as the program says (Case.program: generated for subprograms unless the case loads without)
    try:
        prog = load(program, prog_type, maps=maps, log_level=1, log_size=1 << 22)
    except ProgramLoadError as e:
        reason = kernel_reason(e.log, program)
        return Verdict(False, e.errno or 0, reason[-1] if reason else "", e.log, reason=reason)
    except LoaderError as e:
        return Verdict(False, e.errno or 0, f"loader: {e}", getattr(e, "log", ""))
    prog.close()
    return Verdict(True)


def _load_small_log(program, prog_type: str, maps) -> Verdict:
    """One BPF_PROG_LOAD with a 256 KiB log and no retry: programs that run into the complexity limits print
    tens of megabytes at log level 1; the kernel's log keeps its tail, where the reason is."""
    from kernel_oracle import kernel_load
    from pyebpf.abi.prog_types import parse_prog_type
    specs = {name: m.spec for name, m in maps.items()}
    ptype = int(parse_prog_type(prog_type))
    quiet = kernel_load(program, ptype, log_level=0, maps=specs)  # the errno, unchanged by a cut log (ENOSPC)
    if quiet.accepted:
        return Verdict(True)
    v = kernel_load(program, ptype, log_size=1 << 18, maps=specs)
    reason = kernel_reason(v.log, program)
    return Verdict(False, quiet.errno, reason[-1] if reason else "", v.log, reason=reason)


def _create_maps(program) -> dict:
    from pyebpf.loader.maps import create_map
    return {name: create_map(spec) for name, spec in program.maps.items()}


def _close_maps(kmaps: dict) -> None:
    for m in kmaps.values():
        m.close()


def _run_privileged(cases) -> dict[str, Verdict]:
    out = {}
    for case in cases:
        program = case.program()
        try:
            kmaps = _create_maps(program)
        except Exception as e:  # noqa: BLE001 - a table bug shows up as this case's verdict
            out[case.id] = Verdict(False, getattr(e, "errno", 0) or 0, f"map creation: {e}")
            continue
        try:
            out[case.id] = _load(program, case.prog_type, kmaps, True, case.slow)
        finally:
            _close_maps(kmaps)
    return out


def _sysctl() -> str:
    with open(UNPRIV_SYSCTL) as f:
        return f.read().strip()


def _set_sysctl(value: str) -> None:
    with open(UNPRIV_SYSCTL, "w") as f:
        f.write(value)


def _load_as_nobody(items: list) -> dict[str, Verdict | None] | str:
    """Fork, drop to nobody, load each (id, program, prog_type, maps). None marks a load refused because
    unprivileged bpf was switched off meanwhile (another process restoring its own saved value)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop every capability by becoming nobody, load, report, exit
        code = 0
        try:
            os.close(rfd)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            res: dict[str, Verdict | None] = {}
            for cid, program, ptype, kmaps in items:
                v = _load(program, ptype, kmaps, False)
                if not v.accepted and v.errno == _errno.EPERM and not v.log and _sysctl() != "0":
                    v = None
                res[cid] = v
            data = pickle.dumps(res)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            data = pickle.dumps(f"unprivileged child failed: {e!r}")
            code = 1
        with os.fdopen(wfd, "wb") as w:
            w.write(data)
        os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as r:
        data = r.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


def _run_unprivileged(cases, attempts: int = 5) -> dict[str, Verdict] | str:
    """Load `cases` as uid nobody in a forked child; returns the verdicts, or why that was not possible.

    The sysctl is machine-wide: a lock file serializes the processes that switch it (two test runs at once would
    otherwise save each other's temporary 0 and leave it there)."""
    with sysctl_lock():
        return _run_unprivileged_locked(cases, attempts)


def _run_unprivileged_locked(cases, attempts: int) -> dict[str, Verdict] | str:
    try:
        saved = _sysctl()
    except OSError as e:
        return f"cannot read {UNPRIV_SYSCTL}: {e}"
    items = [(c.id, p, c.prog_type, _create_maps(p)) for c in cases for p in [c.program()]]
    out: dict[str, Verdict] = {}
    try:
        pending = items
        for _ in range(attempts):
            try:
                if _sysctl() != "0":
                    _set_sysctl("0")
            except OSError as e:
                return f"cannot enable unprivileged bpf ({UNPRIV_SYSCTL}={saved}): {e}"
            res = _load_as_nobody(pending)
            if isinstance(res, str):
                return res
            out.update({cid: v for cid, v in res.items() if v is not None})
            pending = [it for it in pending if res.get(it[0]) is None]
            if not pending:
                return out
        return f"unprivileged bpf kept being switched off by another process ({len(pending)} loads refused)"
    finally:
        if saved != "0":
            try:
                _set_sysctl(saved)
            except OSError:
                pass
        for it in items:
            _close_maps(it[3])


def kernel_verdicts(cases) -> tuple[dict[str, Verdict], str | None]:
    """Kernel verdicts for all cases; the second value says why unprivileged ones are missing, if they are."""
    priv = [c for c in cases if c.privileged]
    unpriv = [c for c in cases if not c.privileged]
    out = _run_privileged(priv)
    why = None
    if unpriv:
        res = _run_unprivileged(unpriv)
        if isinstance(res, str):
            why = res
        else:
            out.update(res)
    return out, why


def agree(ours_v: Verdict, kern: Verdict) -> tuple[bool, bool, bool]:
    """(verdict, message, errno) agreement. A kernel rejection without any log line (the syscall refused the
    program before the verifier ran) agrees on message when we name a reason too."""
    verdict = ours_v.accepted is not None and ours_v.accepted == kern.accepted
    if kern.accepted:
        return verdict, verdict, verdict
    message = verdict and (ours_v.message == kern.message or ours_v.message in kern.reason
                           or (not kern.message and bool(ours_v.message)))
    return verdict, message, verdict and ours_v.errno == kern.errno
