"""`pyebpf map lookup|update|delete|create|pin|dump` against bpftool 7.1 on the same kernel objects: the map is
made by bpftool from a clang-built object with BTF (so both tools read the same BTF), and each verb's --json output
is compared with `bpftool -j`'s; what one tool writes the other reads back."""
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

SOURCE = r"""
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct key { char comm[16]; int pid; };
enum color { RED, GREEN = 5 };
struct val { unsigned long long count; int delta; enum color c; unsigned char flag; short arr[3]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, struct key);
         __type(value, struct val); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 2); __type(key, unsigned int);
         __type(value, long); } pc SEC(".maps");
SEC("socket") int prog(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""

KEY = "hex 62 61 73 68 00 00 00 00 00 00 00 00 00 00 00 00 07 00 00 00".split()  # {"bash", 7}
VALUE = "hex 01 00 00 00 00 00 00 00 fe ff ff ff 05 00 00 00 01 00 02 00 03 00 04 00".split()


def bpftool(*args: str) -> tuple[int, object]:
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
    return out.returncode, json.loads(out.stdout) if out.stdout.strip() else None


def pyebpf(*args: str) -> tuple[int, object, str]:
    out = subprocess.run([sys.executable, "-m", "pyebpf", *args], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    return out.returncode, json.loads(out.stdout) if out.stdout.strip() else None, out.stderr


@pytest.fixture(scope="module")
def pinned_maps(tmp_path_factory):
    clang = shutil.which("clang") or shutil.which("clang-14")
    if clang is None or shutil.which("bpftool") is None:
        require_or_skip("clang and bpftool are needed to compare with bpftool")
    d = tmp_path_factory.mktemp("bpftool")
    (d / "m.bpf.c").write_text(SOURCE)
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-c", str(d / "m.bpf.c"), "-o", str(d / "m.o")],
                   check=True)
    name = f"pyebpf_verbs_{uuid.uuid4().hex[:12]}"
    prog, maps = f"/sys/fs/bpf/{name}", f"/sys/fs/bpf/{name}_maps"
    subprocess.run(["bpftool", "prog", "load", str(d / "m.o"), prog, "pinmaps", maps], check=True)
    try:
        yield maps
    finally:
        os.unlink(prog)
        shutil.rmtree(maps, ignore_errors=True)


def test_update_by_pyebpf_dump_and_lookup_equal_bpftools(pinned_maps):
    counts = f"{pinned_maps}/counts"
    rc, out, err = pyebpf("map", "update", "--json", "pinned", counts, "key", *KEY, "value", *VALUE)
    assert rc == 0 and out is None or out is None, err
    mine, theirs = pyebpf("map", "dump", "--json", "pinned", counts)[1], bpftool("map", "dump", "pinned", counts)[1]
    assert mine == theirs
    assert mine[0]["formatted"]["key"] == {"comm": "bash", "pid": 7}        # typed by BTF, not hex
    mine = pyebpf("map", "lookup", "--json", "pinned", counts, "key", *KEY)[1]
    assert mine == bpftool("map", "lookup", "pinned", counts, "key", *KEY)[1]


def test_plain_dump_prints_the_comm_key_as_text(pinned_maps):
    counts = f"{pinned_maps}/counts"
    pyebpf("map", "update", "pinned", counts, "key", *KEY, "value", *VALUE)
    out = subprocess.run([sys.executable, "-m", "pyebpf", "map", "dump", "pinned", counts], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0
    assert json.loads(out.stdout) == [e["formatted"] for e in bpftool("map", "dump", "pinned", counts)[1]]
    assert '"comm": "bash"' in out.stdout


def test_percpu_update_by_bpftool_reads_the_same(pinned_maps):
    pc = f"{pinned_maps}/pc"
    assert bpftool("map", "update", "pinned", pc, "key", "1", "0", "0", "0", "value", "9", "0", "0", "0", "0", "0",
                   "0", "0")[0] == 0
    assert pyebpf("map", "dump", "--json", pc)[1] == bpftool("map", "dump", "pinned", pc)[1]
    assert pyebpf("map", "lookup", "--json", pc, "key", "1", "0", "0", "0")[1] == \
        bpftool("map", "lookup", "pinned", pc, "key", "1", "0", "0", "0")[1]


def test_delete_then_lookup_misses_in_both(pinned_maps):
    counts = f"{pinned_maps}/counts"
    pyebpf("map", "update", "pinned", counts, "key", *KEY, "value", *VALUE)
    assert pyebpf("map", "delete", "pinned", counts, "key", *KEY)[0] == 0
    rc, out, _ = pyebpf("map", "lookup", "--json", "pinned", counts, "key", *KEY)
    assert (rc != 0, out) == (True, None)
    assert bpftool("map", "lookup", "pinned", counts, "key", *KEY)[1] is None
    rc, _, err = pyebpf("map", "delete", "pinned", counts, "key", *KEY)
    assert rc == 1 and "ENOENT" in err and "Traceback" not in err


def test_create_and_pin_are_seen_by_bpftool():
    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    path = f"/sys/fs/bpf/pyebpf_create_{uuid.uuid4().hex[:12]}"
    again = path + "_again"
    try:
        rc, _, err = pyebpf("map", "create", path, "type", "hash", "key", "4", "value", "8", "entries", "16",
                            "name", "made_here")
        assert rc == 0, err
        shown = bpftool("map", "show", "pinned", path)[1]
        assert (shown["type"], shown["name"], shown["bytes_key"], shown["bytes_value"], shown["max_entries"]) == \
            ("hash", "made_here", 4, 8, 16)
        assert pyebpf("map", "show", "--json", "pinned", path)[1]["id"] == shown["id"]
        assert pyebpf("map", "pin", "id", str(shown["id"]), again)[0] == 0
        assert bpftool("map", "show", "pinned", again)[1]["id"] == shown["id"]
    finally:
        for p in (path, again):
            if os.path.exists(p):
                os.unlink(p)


@pytest.mark.parametrize("argv, message", [
    (["map", "create", "/sys/fs/bpf/x", "type", "nosuch", "key", "4", "value", "4", "entries", "1", "name", "x"],
     "unknown map type"),
    (["map", "create", "/sys/fs/bpf/x", "type", "hash"], "needs key, value, entries, name"),
])
def test_bad_input_is_one_line_error(argv, message):
    rc, _, err = pyebpf(*argv)
    assert rc == 1 and message in err and "Traceback" not in err, err


def test_bad_key_bytes_are_one_line_errors(pinned_maps):
    counts = f"{pinned_maps}/counts"
    for argv, message in (([counts], "expected 'key'"), ([counts, "key", "1", "2"], "2 bytes given"),
                          ([counts, "key", "300"], "not a byte"), ([counts, "key", "hex", "zz"], "not a byte")):
        rc, _, err = pyebpf("map", "lookup", *argv)
        assert rc == 1 and message in err and "Traceback" not in err, err


def test_typed_json_key_and_value_written_by_pyebpf_read_by_bpftool(pinned_maps):
    counts = f"{pinned_maps}/counts"
    key = {"comm": "typed", "pid": 42}
    value = {"count": 3, "delta": -7, "c": "RED", "flag": 255, "arr": [1, -2, 3]}
    rc, _, err = pyebpf("map", "update", "pinned", counts, "key", "json", json.dumps(key), "value", "json",
                        json.dumps(value))
    assert rc == 0, err
    theirs = [e["formatted"] for e in bpftool("map", "dump", "pinned", counts)[1]]
    assert {"key": key, "value": value} in theirs
    assert pyebpf("map", "lookup", "--json", "pinned", counts, "key", "json", json.dumps(key))[1]["formatted"] == \
        {"key": key, "value": value}
    assert pyebpf("map", "delete", "pinned", counts, "key", "json", json.dumps(key))[0] == 0
    for bad, message in (('{"nosuch": 1}', "no member 'nosuch'"), ('{"comm": "far too long a name"}', "string"),
                         ('{"pid": 99999999999}', "out of range"), ("{", "key json")):
        rc, _, err = pyebpf("map", "lookup", "pinned", counts, "key", "json", bad)
        assert rc == 1 and message in err and "Traceback" not in err, err
