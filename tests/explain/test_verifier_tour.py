"""docs/verifier-tour.md stays true: every program it shows is written to its file name, every `$ pyebpf ...`
command it shows is run with pyebpf's CLI, and the output must be the one the page prints."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pyebpf.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "verifier-tour.md"
_FILE = re.compile(r"^`([\w/.-]+\.s)`:\n\n```asm\n(.*?)\n```", re.S | re.M)
_CONSOLE = re.compile(r"^```console\n\$ pyebpf (.*?)\n(.*?)\n?```", re.S | re.M)


def test_tour_has_steps():
    text = DOC.read_text()
    assert len(_FILE.findall(text)) >= 5 and len(_CONSOLE.findall(text)) >= 5


@pytest.mark.parametrize("command,expected", _CONSOLE.findall(DOC.read_text()))
def test_tour_command(command, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name, body in _FILE.findall(DOC.read_text()):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body + "\n")
    main(shlex.split(command))
    got = capsys.readouterr()
    assert (got.out + got.err).rstrip("\n") == expected.rstrip("\n")
