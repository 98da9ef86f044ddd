"""Kernel facts kept per boot (pyebpf.system.boot) and the feature probes that keep their answers there
(loader.features): kept answers are used only on the same boot and kernel, from a sound file of ours; anything
else (another boot, another kernel, damage, another owner, PYEBPF_NO_CACHE) probes the kernel again."""
from __future__ import annotations

import errno
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.loader import features
from pyebpf.system import boot

HEADER = ["pyebpf-kernel-facts 1", "boot 2f1c6d0a-0000-4000-8000-000000000001", "kernel 6.18.0 #1 SMP"]
FACTS = {"perf_link": True, "tcx": False}


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYEBPF_NO_CACHE", raising=False)
    if not boot.boot_id():
        pytest.skip("no /proc/sys/kernel/random/boot_id here")
    return tmp_path


def test_render_parse_round_trip():
    assert boot.parse(boot.render(FACTS, HEADER), HEADER) == FACTS
    assert boot.parse(boot.render({}, HEADER), HEADER) == {}


def test_another_boot_or_kernel_reads_as_empty():
    raw = boot.render(FACTS, HEADER)
    assert boot.parse(raw, [HEADER[0], "boot 2f1c6d0a-0000-4000-8000-000000000002", HEADER[2]]) == {}
    assert boot.parse(raw, [HEADER[0], HEADER[1], "kernel 6.19.0 #1 SMP"]) == {}
    assert boot.parse(raw, ["pyebpf-kernel-facts 2", *HEADER[1:]]) == {}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_file_gives_the_facts_or_nothing(data):
    """Any change of bytes, truncation or appended junk: parse answers the original facts (the change did not
    touch what it reads) or {} (probe again) — never other facts."""
    raw = bytearray(boot.render(FACTS, HEADER))
    kind = data.draw(st.sampled_from(["flip", "truncate", "append", "splice"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "append":
        raw += data.draw(st.binary(min_size=1, max_size=64))
    else:
        i = data.draw(st.integers(0, len(raw)))
        raw[i:i] = data.draw(st.binary(min_size=1, max_size=16))
    got = boot.parse(bytes(raw), HEADER)
    assert got in ({}, FACTS)
    if bytes(raw) != boot.render(FACTS, HEADER):
        assert got == {}


def test_well_formed_but_hostile_bodies_are_refused():
    """A checksum that holds over a body that is not ours to read (a hand-made file) is still checked line by line."""
    for lines in (["perf_link 2"], ["perf_link"], ["Perf_link 1"], ["perf_link 1", "perf_link 0"], ["x y 1"]):
        body = "".join(f"{line}\n" for line in HEADER + lines).encode()
        from _sha256 import sha256

        assert boot.parse(sha256(body).hexdigest().encode() + b"\n" + body, HEADER) == {}


def test_keep_and_read_back(cache_home):
    assert boot.boot_fact("perf_link") is None
    assert boot.keep_boot_fact("perf_link", True)
    assert boot.keep_boot_fact("tcx", False)
    assert boot.read_facts() == {"perf_link": True, "tcx": False}
    assert boot.boot_fact("tcx") is False


def test_file_of_another_owner_is_not_used(cache_home):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    assert boot.keep_boot_fact("perf_link", True)
    os.chown(boot.facts_path(), 54321, -1)
    assert boot.read_facts() == {}
    assert boot.keep_boot_fact("perf_link", True)  # rewritten as ours
    assert os.stat(boot.facts_path()).st_uid == os.geteuid() and boot.boot_fact("perf_link") is True


def test_no_cache_neither_reads_nor_writes(cache_home, monkeypatch):
    assert boot.keep_boot_fact("perf_link", True)
    monkeypatch.setenv("PYEBPF_NO_CACHE", "1")
    assert boot.boot_fact("perf_link") is None
    assert not boot.keep_boot_fact("tcx", True)


def test_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    (tmp_path / "file").write_text("not a directory")
    assert not boot.keep_boot_fact("perf_link", True)
    assert boot.boot_fact("perf_link") is None


def test_probe_answer_kept_then_used_and_damage_probes_again(cache_home):
    asked = []

    def ask() -> int | None:
        asked.append(1)
        return errno.EBADF

    assert features._per_boot("perf_link", ask, errno.EBADF) is True and len(asked) == 1
    assert features._per_boot("perf_link", ask, errno.EBADF) is True and len(asked) == 1  # kept: not asked
    path = boot.facts_path()
    raw = open(path, "rb").read()
    open(path, "wb").write(raw.replace(b"perf_link 1", b"perf_link 0"))  # the checksum no longer holds
    assert features._per_boot("perf_link", ask, errno.EBADF) is True and len(asked) == 2
    assert open(path, "rb").read() == raw  # written again, sound
    open(path, "wb").write(raw.replace(HEADER[0].encode(), b"pyebpf-kernel-facts 9"))
    assert features._per_boot("perf_link", ask, errno.EBADF) is True and len(asked) == 3


def test_no_kernel_answer_is_not_kept(cache_home):
    """The probe program refused (no CAP_BPF...): False for this call, nothing kept for the next."""
    assert features._per_boot("perf_link", lambda: None, errno.EBADF) is False
    assert boot.boot_fact("perf_link") is None


@pytest.mark.kernel
def test_kept_perf_link_answer_is_the_kernels(cache_home):
    from pyebpf.abi.prog_types import AttachType, ProgType

    got = features._link_create_errno(ProgType.TRACEPOINT, AttachType.PERF_EVENT, 0xFFFFFFFF)
    if got is None:
        pytest.skip("the kernel refuses the probe program here (no CAP_BPF?)")
    features._probe_perf_link.cache_clear()
    try:
        assert features.perf_link() == (got == errno.EBADF)
        assert boot.boot_fact("perf_link") == (got == errno.EBADF)
    finally:
        features._probe_perf_link.cache_clear()
