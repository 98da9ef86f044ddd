"""`pyebpf prog|map|link show` and `list` print bpftool 7.1's plain layout, and `--json` its -j objects: compared
field by field with the installed bpftool on the same objects. A holder process (in its own network namespace, so
its XDP link sits on a private `lo`) keeps them alive: an XDP program with a tail-call prog array (owner type line),
raw tracepoint, cgroup and netns (sk_lookup) links, a program with run statistics, and a clang object with BTF,
a frozen .rodata map and a program name longer than the kernel keeps (bpftool completes it from BTF)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyebpf.cli import main
from pyebpf.testing.plugin import require_or_skip

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]

BPF_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
const volatile __u32 limit = 7;
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 8); }
    layout_seen SEC(".maps");
SEC("xdp") int layout_prog_with_a_long_name(struct xdp_md *ctx)
{
    __u32 k = limit;
    __u64 *v = bpf_map_lookup_elem(&layout_seen, &k);
    if (v)
        (*v)++;
    return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
"""

HOLDER = r"""
import json, sys
from pyebpf import assemble
from pyebpf.loader import load
from pyebpf.loader.attach import TemporaryCgroup
from pyebpf.loader.elf import ElfObject
from pyebpf.loader.info import stats_enabled

keep, ids = [], {"prog": [], "map": [], "link": []}
cg = TemporaryCgroup()

def add(kp):
    keep.append(kp)
    ids["prog"].append(kp.info().id)
    ids["map"].extend(m.info().id for m in kp.maps.values())
    return kp

def link(l):
    keep.append(l)
    ids["link"].append(l.info().id)

try:
    tail = assemble(".section xdp\n.map lay_jumps prog_array key=4 value=4 entries=4\nr2 = map[lay_jumps] ll\n"
                    "r3 = 0\ncall bpf_tail_call\nr0 = 2\nexit")
    tail.name = "lay_tail"
    kp = add(load(tail))
    link(kp.attach("lo"))
    for name, src, target in [("lay_rawtp", ".section raw_tp/sys_enter\nr0 = 0\nexit", None),
                              ("lay_cg", ".section cgroup_skb/ingress\nr0 = 1\nexit", cg.path + ":ingress"),
                              ("lay_lookup", ".section sk_lookup\nr0 = 1\nexit", "self")]:
        p = assemble(src)
        p.name = name
        kp = add(load(p))
        link(kp.attach(target) if target else kp.attach())
    frozen = assemble(".section xdp\n.map lay_counts array key=4 value=8 entries=2\nr0 = 2\nexit")
    frozen.name = "lay_stats"
    kp = add(load(frozen))
    with stats_enabled():
        kp.test_run(b"\0" * 64, repeat=5)
    obj = ElfObject(sys.argv[1])
    obj.load()
    keep.append(obj)
    ids["prog"].extend(p.info().id for p in obj.loaded.values())
    ids["map"].extend(m.info().id for m in obj.maps.values())
    print(json.dumps(ids), flush=True)
    sys.stdin.readline()
finally:
    for k in reversed(keep):
        k.close()
    cg.remove()
"""


def bpftool(*args: str) -> str:
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    for tool in ("bpftool", "unshare", "clang"):
        if shutil.which(tool) is None:
            require_or_skip(f"{tool} is not installed")
    sys.path.insert(0, str(ROOT / "tests" / "loader" / "c"))
    from bpf_objects import multiarch_include

    d = tmp_path_factory.mktemp("layout")
    (d / "layout.bpf.c").write_text(BPF_C)
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", *multiarch_include(), "-c", str(d / "layout.bpf.c"),
                    "-o", str(d / "layout.o")], check=True)
    holder = subprocess.Popen(["unshare", "-n", sys.executable, "-c", HOLDER, str(d / "layout.o")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    try:
        line = holder.stdout.readline()
        assert line, holder.stderr.read()
        yield json.loads(line)
    finally:
        holder.stdin.close()
        holder.wait(60)


def pyebpf(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


LOADED_AT = re.compile(r"loaded_at (\S+)")


def same_but_loaded_at(mine: str, theirs: str) -> None:
    """Equal text; loaded_at (wall clock = now - uptime + load time, sampled by each tool) may differ by a second."""
    a, b = LOADED_AT.findall(mine), LOADED_AT.findall(theirs)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        from datetime import datetime

        assert abs((datetime.fromisoformat(x) - datetime.fromisoformat(y)).total_seconds()) <= 1, (x, y)
    assert LOADED_AT.sub("loaded_at T", mine) == LOADED_AT.sub("loaded_at T", theirs)


@pytest.mark.parametrize("kind", ["prog", "map", "link"])
def test_show_prints_bpftools_plain_layout(objects, capsys, kind):
    assert objects[kind]
    for obj_id in objects[kind]:
        same_but_loaded_at(pyebpf(capsys, kind, "show", "id", str(obj_id)), bpftool(kind, "show", "id", str(obj_id)))


def test_the_layout_covers_each_kind_of_line(objects, capsys):
    """The objects exercise what the layouts print: a full name from BTF, run statistics, the prog array's owner,
    btf_id with frozen, each link type's second line."""
    progs = "".join(pyebpf(capsys, "prog", "show", "id", str(i)) for i in objects["prog"])
    maps = "".join(pyebpf(capsys, "map", "show", "id", str(i)) for i in objects["map"])
    links = "".join(pyebpf(capsys, "link", "show", "id", str(i)) for i in objects["link"])
    assert "name layout_prog_with_a_long_name  " in progs and " run_time_ns " in progs and "btf_id" in progs
    assert "\towner_prog_type xdp  owner jited\n" in maps and re.search(r"\tbtf_id \d+  frozen\n", maps)
    assert "\ttp 'sys_enter'  \n" in links and "attach_type cgroup_inet_ingress  \n" in links
    assert re.search(r"\tnetns_ino \d+  attach_type sk_lookup  \n", links)


@pytest.mark.parametrize("kind", ["prog", "link"])
def test_list_blocks_equal_bpftools(objects, capsys, kind):
    def blocks(text: str) -> dict[int, str]:
        return {int(m.group(1)): m.group(0) for m in re.finditer(r"^(\d+): .*?(?=^\d+: |\Z)", text, re.M | re.S)}

    mine, theirs = blocks(pyebpf(capsys, kind, "list")), blocks(bpftool(kind, "show"))
    for obj_id in objects[kind]:
        same_but_loaded_at(mine[obj_id], theirs[obj_id])


def test_map_list_blocks_equal_bpftools_show(objects, capsys):
    """bpftool's map *list* can carry a btf_id over from the map before (its info struct is reused); `map show id`
    is what each map's kernel info says, and what `pyebpf map list` prints."""
    text = pyebpf(capsys, "map", "list")
    for obj_id in objects["map"]:
        block = re.search(rf"^{obj_id}: .*?(?=^\d+: |\Z)", text, re.M | re.S).group(0)
        assert block == bpftool("map", "show", "id", str(obj_id))


@pytest.mark.parametrize("kind", ["prog", "map", "link"])
def test_json_equals_bpftools(objects, capsys, kind):
    for obj_id in objects[kind]:
        mine = json.loads(pyebpf(capsys, kind, "show", "id", str(obj_id), "--json"))
        theirs = json.loads(bpftool("-j", kind, "show", "id", str(obj_id)))
        if "loaded_at" in theirs:
            assert abs(mine.pop("loaded_at") - theirs.pop("loaded_at")) <= 1
        extra = {"ifindex"} if kind == "link" and theirs["type"] == "xdp" else set()  # newer bpftools print it
        assert {k: v for k, v in mine.items() if k not in extra} == theirs
    listed = {o["id"]: o for o in json.loads(pyebpf(capsys, kind, "list", "--json"))}
    assert set(objects[kind]) <= set(listed)
