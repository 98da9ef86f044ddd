"""Every subcommand on hostile input: a typed error (exit 1 with one line), never a traceback; input reads are
capped, so `pyebpf SUBCOMMAND /dev/zero` stops with an InputError instead of reading until MemoryError."""
from __future__ import annotations

import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf import cli
from pyebpf.commands import source
from surfaces import CLI_COMMANDS, CliRunner, asm_seeds, cli_case

FILE_COMMANDS = ["asm", "disasm", "run", "verify", "load"]


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_endless_input_is_refused(command: str, monkeypatch, capsys) -> None:
    monkeypatch.setattr(source, "MAX_INPUT_BYTES", 1 << 20)
    assert cli.main([command, "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert "input larger than 1048576 bytes" in err and err.count("\n") == 1


def test_endless_stdin_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.setattr(source, "MAX_INPUT_BYTES", 1 << 16)
    with open("/dev/zero", "rb") as zero:
        monkeypatch.setattr(sys, "stdin", open(zero.fileno(), "r", closefd=False))
        assert cli.main(["asm", "-"]) == 1
    assert "input larger than" in capsys.readouterr().err


def test_dev_zero_in_a_real_process() -> None:
    """The whole command, as a user runs it: exit status 1, one line, no traceback."""
    result = subprocess.run([sys.executable, "-m", "pyebpf", "asm", "/dev/zero"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "input larger than" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["map", "show", "²"], ["prog", "show", "²"], ["prog", "dump", "--xlated", "²"],
                                  ["map", "dump", "99999999999999999999"]])
def test_object_selectors_are_typed_errors(argv: list[str], capsys) -> None:
    assert cli.main(argv) == 1
    assert capsys.readouterr().err.count("\n") == 1


_ASM = asm_seeds(random.Random(11), "llvm") + asm_seeds(random.Random(11), "ubpf")


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1))
def test_subcommands_on_mutated_inputs(seed: int, tmp_path_factory) -> None:
    """asm, disasm, run, verify, load on mutated assembly / bytes / hex, prog and map on mutated ids. ELF objects
    are fuzzed by the ELF reader's own tests (tests/loader) and the campaign (benchmarks/fuzz.py)."""
    rng = random.Random(seed)
    runner = CliRunner(str(tmp_path_factory.mktemp("cli")))
    runner(cli_case(rng, _ASM, []))


def test_every_file_subcommand_is_fuzzed() -> None:
    assert {argv[0] for argv in CLI_COMMANDS.values()} == set(FILE_COMMANDS)
