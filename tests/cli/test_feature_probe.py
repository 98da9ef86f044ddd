"""`pyebpf feature probe --json` against `bpftool -j feature probe kernel` (bpftool 7.1) on the same kernel.

Program and map types must agree wherever bpftool can probe the type. Known differences, each the older libbpf's
(1.1, bpftool 7.1) limit and not the kernel's: it cannot probe `tracing` programs (they need a BTF target; we
accept the kernel's "Tracing programs must provide btf_id" refusal as proof the type exists), it does not know the
newer types (netfilter programs, cgrp_storage and arena maps), and on kernels that refuse a helper with "program of
this type cannot use helper" (newer than libbpf 1.1) it counts every helper as available for every type — so our
helper lists must be subsets of bpftool's, and empty exactly where bpftool's are.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from pyebpf.testing.plugin import require_or_skip

pytestmark = pytest.mark.kernel

BPFTOOL_CANNOT_PROBE = {"have_tracing_prog_type"}


def _run(argv: list[str]) -> dict:
    out = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def both():
    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    return (_run([sys.executable, "-m", "pyebpf", "feature", "probe", "--json"]),
            _run(["bpftool", "-j", "feature", "probe", "kernel"]))


@pytest.mark.parametrize("section", ["program_types", "map_types"])
def test_types_agree_with_bpftool(both, section):
    mine, theirs = both
    compared = {k: v for k, v in theirs[section].items() if k not in BPFTOOL_CANNOT_PROBE}
    assert {k: mine[section].get(k) for k in compared} == compared
    assert len(compared) >= 25


def test_helpers_are_within_bpftools_and_empty_where_its_are(both):
    mine, theirs = both
    known = set().union(*theirs["helpers"].values())
    for key, names in theirs["helpers"].items():
        ours = mine["helpers"][key]
        assert bool(ours) == bool(names), key
        assert set(ours) & known <= set(names), key
    # the kernel really distinguishes types: a socket filter cannot write skb bytes, tc can
    assert "bpf_skb_store_bytes" in mine["helpers"]["sched_cls_available_helpers"]
    assert "bpf_skb_store_bytes" not in mine["helpers"]["socket_filter_available_helpers"]
    assert "bpf_trace_printk" not in mine["helpers"]["kprobe_available_helpers"]  # only with `full`, as bpftool


def test_kprobes_answer_matches_the_attach_layer(both):
    from pyebpf.loader.attach.tracing import kprobes_available

    assert both[0]["kprobes"]["have_kprobes"] == (kprobes_available() is None)


def test_plain_output_and_bad_words():
    out = subprocess.run([sys.executable, "-m", "pyebpf", "feature", "probe", "--no-helpers"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0 and "eBPF map_type hash is available" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "pyebpf", "feature", "probe", "bogus"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert bad.returncode == 1 and "bogus" in bad.stderr and "Traceback" not in bad.stderr
