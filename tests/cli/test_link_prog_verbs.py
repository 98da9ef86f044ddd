"""`pyebpf prog pin|attach|detach` and `pyebpf link list|show|pin|detach` on real objects, compared with bpftool -j:
a cgroup_skb program pinned by `prog pin`, attached to a temporary cgroup by `prog attach` (a cgroup BPF link,
pinned), seen alike by both tools, then detached by `prog detach` and gone from bpftool's `cgroup show`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from pyebpf.testing.plugin import require_or_skip

pytestmark = pytest.mark.kernel

ENV = {**os.environ, "PYTHONPATH": os.getcwd()}

LOAD_AND_PIN = """
import sys
from pyebpf import Builder, R0
from pyebpf.loader import load
b = Builder("cgroup_skb", name="verbs_skb"); b.mov(R0, 1).ret(0)
prog = load(b.build())
import subprocess
sys.exit(subprocess.run([sys.executable, "-m", "pyebpf", "prog", "pin", "id", str(prog.info().id), sys.argv[1]]
                        ).returncode)
"""


def pyebpf(*args: str) -> tuple[int, object, str]:
    out = subprocess.run([sys.executable, "-m", "pyebpf", *args], capture_output=True, text=True, env=ENV)
    return out.returncode, json.loads(out.stdout) if out.stdout.strip().startswith(("{", "[", "n")) else \
        out.stdout, out.stderr


def bpftool(*args: str):
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
    return json.loads(out.stdout) if out.stdout.strip() else None


@pytest.fixture
def pinned_prog_and_cgroup():
    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    from pyebpf.loader.attach import TemporaryCgroup

    tag = uuid.uuid4().hex[:12]
    prog_pin, link_pin, link_pin2 = (f"/sys/fs/bpf/pyebpf_{w}_{tag}" for w in ("prog", "link", "link2"))
    cg = TemporaryCgroup()
    try:
        out = subprocess.run([sys.executable, "-c", LOAD_AND_PIN, prog_pin], capture_output=True, text=True, env=ENV)
        assert out.returncode == 0, out.stderr
        yield prog_pin, link_pin, link_pin2, cg.path
    finally:
        for p in (prog_pin, link_pin, link_pin2):
            if os.path.exists(p):
                os.unlink(p)
        cg.remove()


def test_attach_list_show_detach_against_bpftool(pinned_prog_and_cgroup):
    prog_pin, link_pin, link_pin2, cgroup = pinned_prog_and_cgroup
    prog = bpftool("prog", "show", "pinned", prog_pin)
    assert prog["name"] == "verbs_skb"

    rc, out, err = pyebpf("prog", "attach", "pinned", prog_pin, f"{cgroup}:ingress", "--pin", link_pin, "--json")
    assert rc == 0, err
    theirs = bpftool("link", "show", "pinned", link_pin)
    assert theirs["id"] == out["link_id"] and theirs["prog_id"] == prog["id"] and theirs["type"] == "cgroup"
    mine = pyebpf("link", "show", "--json", "pinned", link_pin)[1]
    assert {k: mine[k] for k in ("id", "type", "prog_id")} == {k: theirs[k] for k in ("id", "type", "prog_id")}
    assert mine["cgroup_id"] == theirs["cgroup_id"] == os.stat(cgroup).st_ino
    listed = {l["id"]: l for l in pyebpf("link", "list", "--json")[1]}
    assert listed[theirs["id"]] == mine
    assert [p["id"] for p in bpftool("cgroup", "show", cgroup)] == [prog["id"]]

    assert pyebpf("link", "pin", "pinned", link_pin, link_pin2)[0] == 0
    assert bpftool("link", "show", "pinned", link_pin2)["id"] == theirs["id"]

    rc, out, err = pyebpf("prog", "detach", "pinned", prog_pin, "--json")
    assert rc == 0 and out == {"detached_links": [theirs["id"]]}, err
    assert bpftool("cgroup", "show", cgroup) in (None, [])


def test_link_detach_by_id(pinned_prog_and_cgroup):
    prog_pin, link_pin, _, cgroup = pinned_prog_and_cgroup
    link_id = pyebpf("prog", "attach", "pinned", prog_pin, f"{cgroup}:egress", "--pin", link_pin, "--json")[1]["link_id"]
    assert [p["attach_type"] for p in bpftool("cgroup", "show", cgroup)] == ["cgroup_inet_egress"]
    assert pyebpf("link", "detach", "id", str(link_id))[0] == 0
    assert bpftool("cgroup", "show", cgroup) in (None, [])


def test_errors_are_one_line():
    for argv in (["link", "show", "id", "999999999"], ["link", "detach", "/nonexistent/pin"],
                 ["prog", "detach", "id", "999999999"], ["prog", "attach", "id", "1", "--pin", "/sys/fs/bpf/x"]):
        rc, _, err = pyebpf(*argv)
        assert rc == 1 and "Traceback" not in err and err.count("\n") == 1, (argv, err)


def test_cgroup_tree_and_show_equal_bpftools(pinned_prog_and_cgroup):
    from pyebpf.loader.attach import cgroup2_root

    prog_pin, link_pin, _, cgroup = pinned_prog_and_cgroup
    assert pyebpf("prog", "attach", "pinned", prog_pin, f"{cgroup}:ingress", "--pin", link_pin)[0] == 0
    # a second hook through bpftool's legacy BPF_PROG_ATTACH (no link), so both kinds are listed
    subprocess.run(["bpftool", "cgroup", "attach", cgroup, "egress", "pinned", prog_pin, "multi"], check=True)
    try:
        assert pyebpf("cgroup", "show", "--json", cgroup)[1] == bpftool("cgroup", "show", cgroup)
        mine = {e["cgroup"]: e["programs"] for e in pyebpf("cgroup", "tree", "--json", cgroup2_root())[1]}
        theirs = {e["cgroup"]: e["programs"] for e in bpftool("cgroup", "tree", cgroup2_root())}
        assert mine[cgroup] == theirs[cgroup] and len(mine[cgroup]) == 2
        plain = subprocess.run([sys.executable, "-m", "pyebpf", "cgroup", "tree", cgroup2_root()], capture_output=True,
                               text=True, env=ENV).stdout
        assert cgroup in plain.splitlines() and "cgroup_inet_egress" in plain
    finally:
        subprocess.run(["bpftool", "cgroup", "detach", cgroup, "egress", "pinned", prog_pin], check=True)
