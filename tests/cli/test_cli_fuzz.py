"""Fuzz the CLI in-process: random bytes, random text and mutated valid programs through `pyebpf.cli.main`.

Whatever the input, `asm`, `disasm`, `run` (and `verify` once it is registered) end with exit 0, or exit 1 and a
typed error on stderr: one line, or for assembly text the assembler's `file:line:col: error:` diagnostics with
their carets. No exception may escape main() (argparse's SystemExit aside). Bounded: a few hundred examples per
test, derandomized so CI sees the same inputs; PYEBPF_FUZZ_EXAMPLES raises the count for a longer local hunt.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyebpf.cli import build_parser, main
from pyebpf.commands.demo import XDP_SOURCE
from pyebpf.testing.strategies import programs

REGISTERED = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse has no API
EXAMPLES = int(os.environ.get("PYEBPF_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: Commands that read a program file, with the extra flags that keep them bounded and off stdout's binary side.
PROGRAM_COMMANDS = {
    "asm": ["--hex"],
    "disasm": [],
    "run": ["--max-insns", "300"],
    "verify": [],
}
DIAG = re.compile(r"^(pyebpf \w+: error: )?\S+:\d+:\d+: error: \S")

_workdir = tempfile.TemporaryDirectory(prefix="pyebpf_fuzz_")


def cli(*argv: str) -> tuple[int, str, str]:
    """main() with stdout and stderr captured; anything but SystemExit escaping is the bug this file hunts."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else 1
    return status, out.getvalue(), err.getvalue()


def check(command: str, status: int, out: str, err: str, text_input: bool) -> None:
    assert "Traceback" not in out + err, err
    assert status in (0, 1), f"exit {status}: {err}"
    if status == 0:
        assert err == "", err
        return
    lines = err.rstrip("\n").split("\n")
    assert lines[0].startswith(f"pyebpf {command}: error: "), err
    if len(lines) == 1:
        return
    # several lines only for assembler diagnostics: heads, each followed by its source line and caret (4 spaces)
    assert text_input, f"a multi-line error for binary input:\n{err}"
    for ln in lines:
        assert DIAG.match(ln) or ln.startswith("    "), f"not a diagnostic line: {ln!r}\n{err}"


def write(name: str, data: bytes) -> str:
    path = os.path.join(_workdir.name, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def commands(*names: str) -> st.SearchStrategy[str]:
    return st.sampled_from([n for n in names if n in REGISTERED])


def feed(command: str, data: bytes, suffix: str, *extra: str) -> None:
    path = write(f"input{suffix}", data)
    status, out, err = cli(command, path, *PROGRAM_COMMANDS[command], *extra)
    check(command, status, out, err, text_input=suffix == ".s" or command == "asm")


# ---- inputs ----------------------------------------------------------------------------------------------------

ASM_TOKENS = [
    "r0", "r1", "r10", "w3", "r11", "=", "+=", "-=", "<<=", "s>>=", "*(u32 *)(r1 + 4)", "*(u64 *)(r10 - 8)", "(",
    ")", "[", "]", "map[stats]", "ll", "call", "goto", "gotol", "exit", "if", ">", "s<", "&", "0x", "-", "+",
    "0xffffffffffffffffff", "99999999999999999999", "-1", "label:", "label", ".map", ".type", "xdp", ".section",
    ";", "#", "//", "lock", "be16", "le64", "bswap64", "may_goto", "callx", "bpf_map_lookup_elem", "bpf_nope",
    "stats", "array", "hash", "key=4", "value=8", "max_entries=2", "\t", "é", ":", "*", "u64", "s8",
    "atomic_fetch_add", "lddw", "ldxdw", "stxw", "ja", "jeq", "mov", "add32", "%r1", ",", "+0", "addr_space_cast",
    "r0 = 0", "exit\n", "\n",
]
asm_token_text = st.lists(st.lists(st.sampled_from(ASM_TOKENS), max_size=8).map(" ".join), max_size=10).map(
    lambda ls: "\n".join(ls) + "\n")
_XDP_LINES = XDP_SOURCE.splitlines()


@st.composite
def mutated_source(draw) -> str:
    """The demo's XDP program with one line spliced: a few characters deleted and random text put in their place."""
    lines = list(_XDP_LINES)
    i = draw(st.integers(0, len(lines) - 1))
    at = draw(st.integers(0, len(lines[i])))
    cut = draw(st.integers(0, 4))
    lines[i] = lines[i][:at] + draw(st.text(max_size=6)) + lines[i][at + cut:]
    if draw(st.booleans()):
        del lines[draw(st.integers(0, len(lines) - 1))]
    return "\n".join(lines) + "\n"


@st.composite
def mutated_program_bytes(draw) -> bytes:
    """A valid program's bytes with a few bytes overwritten, a tail cut, or slots swapped."""
    data = bytearray(draw(programs(max_size=12)).to_bytes())
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, len(data))):]
    return bytes(data)


# ---- tests -----------------------------------------------------------------------------------------------------

@FUZZ
@given(commands("asm", "disasm", "run", "verify"), st.binary(max_size=160), st.sampled_from([".s", ".bin", ".hex"]))
def test_random_bytes(command: str, data: bytes, suffix: str):
    feed(command, data, suffix)


@FUZZ
@given(commands("asm", "run", "verify"), st.one_of(st.text(max_size=200), asm_token_text, mutated_source()))
def test_random_and_mutated_assembly(command: str, text: str):
    feed(command, text.encode("utf-8", "surrogatepass"), ".s")


DISASM_FLAGS = st.lists(st.sampled_from(["--objdump", "--symbolic", "--alu32", "--big-endian", "--style=kernel",
                                          "--style=ubpf", "--style=llvm"]), max_size=3, unique=True)


@FUZZ
@given(commands("disasm", "run", "verify"), mutated_program_bytes(), st.booleans(), DISASM_FLAGS)
def test_mutated_programs(command: str, data: bytes, as_hex: bool, disasm_flags: list[str]):
    extra = disasm_flags if command == "disasm" else []
    if as_hex:
        feed(command, "".join(data[i:i + 8].hex() + "\n" for i in range(0, len(data), 8)).encode(), ".hex", *extra)
    else:
        feed(command, data, ".bin", *extra)


@FUZZ
@given(mutated_program_bytes(), st.sampled_from(["xdp", "socket_filter", "sched_cls", "kprobe", "tracepoint"]),
       st.binary(max_size=64), st.sampled_from(["interp", "compiled"]))
def test_run_with_contexts(data: bytes, prog_type: str, packet: bytes, engine: str):
    """Mutated programs over each program type's default context (or a raw memory block), both engines."""
    how = ["--mem", packet.hex()] if prog_type in ("kprobe", "tracepoint") else ["--packet", packet.hex()]
    feed("run", data, ".bin", "--type", prog_type, "--engine", engine, *how)


@pytest.mark.parametrize("command", sorted(set(PROGRAM_COMMANDS) & REGISTERED))
def test_fuzz_harness_sees_errors_and_successes(command: str):
    """The checks above are not vacuous: a good program exits 0, a bad one exits 1 with a typed line."""
    good = write("good.s", b".type xdp\nr0 = 2\nexit\n") if command == "asm" else \
        write("good.bin", bytes.fromhex("b700000002000000" "9500000000000000"))
    assert cli(command, good, *PROGRAM_COMMANDS[command])[0] == 0
    if command == "asm":  # assembler errors come with the source line and a caret
        status, _, err = cli(command, write("bad.s", b"foo\n"), *PROGRAM_COMMANDS[command])
        assert status == 1 and err == f"pyebpf asm: error: {_workdir.name}/bad.s:1:1: error: unknown instruction " \
                                      "'foo'\n    foo\n    ^~~\n", err
        return
    status, _, err = cli(command, write("bad.bin", b"\xff" * 8), *PROGRAM_COMMANDS[command])
    assert status == 1 and err.startswith(f"pyebpf {command}: error: ") and err.count("\n") == 1, err


@FUZZ
@given(st.sampled_from(["--packet", "--mem", "--type", "--engine", "--max-insns"]),
       st.one_of(st.text(max_size=40), st.binary(max_size=20).map(bytes.hex),
                 st.sampled_from(["xdp", "0x", "-1", "99", "socket_filter", "interp", "0", "1e9", ":", "0x00:11"])))
def test_run_flag_values(flag: str, value: str):
    """Random values for run's flags (--ctx's known crashes are strict xfails in test_cli_robustness.py)."""
    path = write("flags.s", b".type xdp\nr0 = 2\nexit\n")
    status, out, err = cli("run", path, f"{flag}={value}")
    if status == 2:  # argparse refused the value itself (choices, int): its usage text, no traceback
        assert "Traceback" not in err and f"pyebpf run: error: argument {flag}" in err, err
        return
    check("run", status, out, err, text_input=True)


@FUZZ
@given(st.one_of(st.text(max_size=80), mutated_program_bytes().map(bytes.hex)),
       st.one_of(st.just(""), st.binary(max_size=16).map(bytes.hex), st.text(max_size=8)))
def test_conformance_plugin(program_hex: str, memory: str):
    """The bpf_conformance plugin protocol: r0 in hex and exit 0, or `error: ...` on one stdout line and exit 1."""
    from pyebpf.commands import conformance_plugin

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        saved, conformance_plugin.sys.stdin = conformance_plugin.sys.stdin, io.StringIO(program_hex)
        try:
            status = conformance_plugin.main([memory] if memory else [])
        except SystemExit as e:  # argparse: a memory argument that looks like an option
            status = e.code
        finally:
            conformance_plugin.sys.stdin = saved
    text = out.getvalue()
    assert "Traceback" not in text + err.getvalue()
    if status == 0:
        assert re.fullmatch(r"[0-9a-f]+\n", text), text
    elif status == 1:
        assert text.startswith("error: ") and text.count("\n") == 1, text
    else:
        assert status == 2 and memory.startswith("-"), (status, text, err.getvalue())
