"""The kernel-BTF answers `pyebpf trace` keeps between runs (pyebpf.trace.btfaccess): a run that finds them in the
cache gives exactly the answers the BTF gives, without parsing the BTF; a damaged cache file is answered from the
BTF again; PYEBPF_NO_CACHE=1 keeps nothing."""
from __future__ import annotations

import os

import pytest

from pyebpf.trace import btfaccess

pytestmark = pytest.mark.skipif(not os.path.exists(btfaccess.VMLINUX), reason="no kernel BTF on this machine")


def questions() -> list:
    sid = btfaccess.struct_id("struct task_struct")
    off, tid = btfaccess.member(sid, "comm")
    return [sid, btfaccess.shape(sid), (off, tid), btfaccess.shape(tid), btfaccess.member(sid, "no_such_field"),
            btfaccess.struct_id("struct no_such_struct_xyz"), btfaccess.size_of(btfaccess.struct_id("struct sock")),
            btfaccess.enum_value("TCP_CLOSE"), btfaccess.enum_value("NO_SUCH_ENUMERATOR"), btfaccess.type_name(tid)]


def test_cached_answers_are_the_btfs_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYEBPF_NO_CACHE", raising=False)
    monkeypatch.setattr(btfaccess, "ANSWERS", btfaccess._Answers())
    fresh = questions()
    assert fresh[7] == 7 and fresh[5] is None and fresh[4] is None and fresh[3].kind == "chars"
    btfaccess.flush()
    files = list((tmp_path / "pyebpf").iterdir())
    assert len(files) == 1
    # a new run: the answers come from the file; the BTF is not read at all
    monkeypatch.setattr(btfaccess, "ANSWERS", btfaccess._Answers())
    monkeypatch.setattr(btfaccess, "kernel", lambda: pytest.fail("the kernel BTF was parsed on a cache hit"))
    monkeypatch.setattr(btfaccess, "_enum_values", lambda: pytest.fail("the kernel BTF was parsed on a cache hit"))
    assert questions() == fresh


def test_damaged_cache_is_answered_from_the_btf(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYEBPF_NO_CACHE", raising=False)
    answers = btfaccess._Answers()
    path = answers.path()
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write('{"struct:struct task_struct": ')  # cut short
    monkeypatch.setattr(btfaccess, "ANSWERS", answers)
    assert btfaccess.struct_id("struct task_struct") == btfaccess._struct_id("struct task_struct")


def test_no_cache_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("PYEBPF_NO_CACHE", "1")
    monkeypatch.setattr(btfaccess, "ANSWERS", btfaccess._Answers())
    btfaccess.struct_id("struct task_struct")
    btfaccess.flush()
    assert not (tmp_path / "pyebpf").exists()
