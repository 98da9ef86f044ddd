"""`-c CMD`'s program lookup (pyebpf.trace.runner.which) answers as shutil.which does on POSIX, for any $PATH made of
directories holding executables, plain files, directories and nothing, empty entries, and names with a directory."""
from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.trace.runner import which

KINDS = ("exec", "plain", "dir", "none")


@pytest.fixture(scope="module")
def monkeypatch_session():
    """One MonkeyPatch for the module (hypothesis runs many examples in one test call; each uses a context)."""
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@settings(max_examples=60, deadline=None)
@given(layout=st.lists(st.sampled_from(KINDS), min_size=0, max_size=4),
       order=st.lists(st.integers(0, 5), max_size=7),
       name=st.sampled_from(["prog", "./prog", "sub/prog", "missing", "d0/prog"]),
       unset=st.booleans())
def test_which_agrees_with_shutil(tmp_path_factory, monkeypatch_session, layout, order, name, unset):
    base = tmp_path_factory.mktemp("which")
    dirs = []
    for i, kind in enumerate(layout):
        d = base / f"d{i}"
        d.mkdir()
        dirs.append(str(d))
        target = d / "prog"
        if kind == "exec":
            target.write_text("#!/bin/sh\n")
            target.chmod(0o755)
        elif kind == "plain":
            target.write_text("data\n")
            target.chmod(0o644)
        elif kind == "dir":
            target.mkdir()
    (base / "sub").mkdir()
    (base / "sub" / "prog").write_text("#!/bin/sh\n")
    (base / "sub" / "prog").chmod(0o755)
    entries = [dirs[i] if i < len(dirs) else "" for i in order]  # "" (an empty entry): the current directory
    with monkeypatch_session.context() as m:
        m.chdir(base)
        if unset:
            m.delenv("PATH", raising=False)
        else:
            m.setenv("PATH", os.pathsep.join(entries))
        assert which(name) == shutil.which(name)
