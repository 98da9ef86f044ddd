"""`pyebpf load`, `pyebpf prog ...`, `pyebpf map ...` end to end, compared with bpftool where it overlaps."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from pyebpf.cli import main
from pyebpf.loader import ensure_bpffs
from pyebpf.testing.plugin import require_or_skip, skip_missing_feature

pytestmark = pytest.mark.kernel

SOURCE = """\
.type xdp
.map cli_stats array key=4 value=8 max_entries=2
    *(u32 *)(r10 - 4) = 1
    r2 = r10
    r2 += -4
    r1 = map[cli_stats] ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 7
    lock *(u64 *)(r0 + 0) += r1
out:
    r0 = 2
    exit
"""


@pytest.fixture
def pinned(tmp_path):
    """The XDP program loaded with `pyebpf load --pin` and its map pinned with --pinmaps; removed afterwards."""
    src = tmp_path / "cli_prog.s"
    src.write_text(SOURCE)
    base = os.path.join(ensure_bpffs(), f"pyebpf_cli_{uuid.uuid4().hex[:8]}")
    prog_path, maps_dir = base + "_prog", base + "_maps"
    assert main(["load", str(src), "--pin", prog_path, "--pinmaps", maps_dir]) == 0
    yield prog_path, maps_dir
    for p in (prog_path, os.path.join(maps_dir, "cli_stats")):
        if os.path.exists(p):
            os.unlink(p)
    if os.path.isdir(maps_dir):
        os.rmdir(maps_dir)


def _bpftool_json(*args: str):
    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    return json.loads(subprocess.run(["bpftool", "--json", *args], capture_output=True, text=True,
                                     check=True).stdout)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_load_pin_show_matches_bpftool(pinned, capsys):
    prog_path, _ = pinned
    code, out, _ = _run(capsys, "prog", "show", prog_path, "--json")
    assert code == 0
    mine = json.loads(out)
    theirs = _bpftool_json("prog", "show", "pinned", prog_path)
    shared = set(mine) & set(theirs)
    assert {"id", "type", "name", "tag", "gpl_compatible", "loaded_at", "uid", "bytes_xlated", "jited",
            "bytes_memlock", "map_ids"} <= shared
    # loaded_at = floor(realtime) - floor(boottime) + load ns: two samples of "now" may straddle a second
    assert abs(mine["loaded_at"] - theirs["loaded_at"]) <= 1
    shared.discard("loaded_at")
    assert {k: mine[k] for k in shared} == {k: theirs[k] for k in shared}
    assert mine["name"] == "cli_prog" and mine["type"] == "xdp"


def test_prog_list_json_has_bpftools_fields(pinned, capsys):
    prog_path, _ = pinned
    my_id = _bpftool_json("prog", "show", "pinned", prog_path)["id"]
    code, out, _ = _run(capsys, "prog", "list", "--json")
    assert code == 0
    mine = {p["id"]: p for p in json.loads(out)}
    theirs = {p["id"]: p for p in _bpftool_json("prog", "show")}
    assert my_id in mine and my_id in theirs
    for pid in set(mine) & set(theirs):
        keys = set(mine[pid]) & set(theirs[pid]) - {"run_time_ns", "run_cnt", "loaded_at"}
        assert {k: mine[pid][k] for k in keys} == {k: theirs[pid][k] for k in keys}
        assert abs(mine[pid]["loaded_at"] - theirs[pid]["loaded_at"]) <= 1
        assert set(theirs[pid]) - set(mine[pid]) <= {"pids", "run_time_ns", "run_cnt", "recursion_misses",
                                                      "orphaned"}


def test_prog_show_plain_text(pinned, capsys):
    prog_path, _ = pinned
    code, out, _ = _run(capsys, "prog", "show", "pinned", prog_path)
    assert code == 0
    first = out.splitlines()[0]
    assert ": xdp  name cli_prog  tag " in first and first.endswith("gpl")
    assert "map_ids" in out and "xlated" in out


def test_prog_dump_xlated_and_jited(pinned, capsys):
    prog_path, _ = pinned
    code, out, _ = _run(capsys, "prog", "dump", prog_path, "--xlated")
    assert code == 0 and "(db) lock *(u64 *)(r0 +0) += r1" in out and "map[id:" in out
    code, out, _ = _run(capsys, "prog", "dump", prog_path, "--xlated", "--json")
    insns = json.loads(out)
    assert insns[0]["slot"] == 0 and insns[-1]["disasm"].endswith("exit")
    with open("/proc/sys/net/core/bpf_jit_enable") as f:
        if f.read().strip() == "0":
            skip_missing_feature("the BPF JIT is off (/proc/sys/net/core/bpf_jit_enable = 0)")
    import platform

    from pyebpf.loader import open_pinned
    from pyebpf.loader.info import prog_info

    # What the dump promises: the whole JIT image, every byte in exactly one decoded instruction, in order. The
    # bytes themselves depend on the machine (CPU mitigations end a function in `ret` or in `jmp` to a return thunk).
    with open_pinned(prog_path) as p:
        info = prog_info(p.fd, jited=True)
    code, out, _ = _run(capsys, "prog", "dump", prog_path, "--jited", "--json")
    assert code == 0
    funcs = json.loads(out)
    decoded = b"".join(bytes.fromhex(i["opcodes"]) for f in funcs for i in f["insns"])
    assert len(decoded) == info.jited_prog_len and decoded == bytes(info.jited_prog_insns)
    for f in funcs:
        pcs = [int(i["pc"], 16) for i in f["insns"]]
        sizes = [len(i["opcodes"]) // 2 for i in f["insns"]]
        assert pcs == [sum(sizes[:k]) for k in range(len(sizes))]
        assert f["insns"][-1]["operation"] in ("ret", "jmp", "br", "b")  # a return, or a jump to a return thunk
    code, out, _ = _run(capsys, "prog", "dump", prog_path, "--jited")
    assert code == 0 and out.splitlines()[0].endswith(":")
    assert len([ln for ln in out.splitlines() if re.match(r"\s*[0-9a-f]+:\t", ln)]) == sum(len(f["insns"]) for f in funcs)
    if platform.machine() == "x86_64":
        assert "push rbp" in out


def test_map_dump_and_show(pinned, capsys):
    prog_path, maps_dir = pinned
    map_path = os.path.join(maps_dir, "cli_stats")
    from pyebpf.loader import open_pinned

    with open_pinned(prog_path) as p:
        p.test_run(b"\0" * 64, repeat=3)
    code, out, _ = _run(capsys, "map", "dump", map_path, "--json")
    assert code == 0
    entries = json.loads(out)
    theirs = _bpftool_json("map", "dump", "pinned", map_path)
    assert [(e["key"], e["value"]) for e in entries] == [(e["key"], e["value"]) for e in theirs]
    assert int.from_bytes(bytes(int(b, 16) for b in entries[1]["value"]), "little") == 21
    code, out, _ = _run(capsys, "map", "dump", map_path)
    assert "Found 2 elements" in out
    code, out, _ = _run(capsys, "map", "show", map_path, "--json")
    mine = json.loads(out)
    assert mine == {k: v for k, v in _bpftool_json("map", "show", "pinned", map_path).items() if k in mine}
    code, out, _ = _run(capsys, "map", "list")
    assert f"{mine['id']}: array  name cli_stats" in out


def test_load_without_pin_only_checks(tmp_path, capsys):
    src = tmp_path / "once.s"
    src.write_text(SOURCE)
    code, out, _ = _run(capsys, "load", str(src), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["type"] == "xdp" and report["pinned"] is None
    code, _, err = _run(capsys, "prog", "show", str(report["id"]))
    assert code == 1 and "ENOENT" in err  # gone with the command


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.s"
    bad.write_text(".type socket_filter\n    exit\n")
    code, _, err = _run(capsys, "load", str(bad))
    assert code == 1 and err.startswith("pyebpf load: error: loading program") and "R0 !read_ok" in err
    code, _, err = _run(capsys, "load", str(tmp_path / "missing.s"))
    assert code == 1 and "no such file" in err
    code, _, err = _run(capsys, "prog", "dump", "4294967000")
    assert code == 1 and "ENOENT" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "map", "dump", "name", "no_such_map_xyz")
    assert code == 1 and "no map named" in err


def test_load_attach_tracepoint_for_a_moment(tmp_path, capsys):
    src = tmp_path / "tp.s"
    src.write_text(".type tracepoint\n    r0 = 0\n    exit\n")
    code, out, err = _run(capsys, "load", str(src), "--attach", "syscalls/sys_enter_getpid", "--duration", "0.1",
                          "--json")
    assert code == 0, err
    assert json.loads(out)["attached"] is True


C_SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 1); }
    cli_hits SEC(".maps");
SEC("xdp") int cli_xdp(struct xdp_md *ctx) {
    __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&cli_hits, &k);
    if (v) __sync_fetch_and_add(v, 1);
    return XDP_PASS;
}
SEC("socket") int cli_sock(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_load_elf_object_pins_each_program(tmp_path, capsys):
    import platform

    clang = shutil.which("clang") or shutil.which("clang-14")
    if clang is None:
        require_or_skip("clang is not installed")
    src, obj = tmp_path / "cli.bpf.c", tmp_path / "cli.bpf.o"
    src.write_text(C_SOURCE)
    multiarch = f"/usr/include/{platform.machine()}-linux-gnu"
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", f"-I{multiarch}", "-c", str(src), "-o", str(obj)],
                   check=True, capture_output=True)
    base = os.path.join(ensure_bpffs(), f"pyebpf_cli_elf_{uuid.uuid4().hex[:8]}")
    try:
        code, out, err = _run(capsys, "load", str(obj), "--pin", base, "--json")
        assert code == 0, err
        report = {r["name"]: r for r in json.loads(out)}
        assert report["cli_xdp"]["type"] == "xdp" and report["cli_sock"]["type"] == "socket_filter"
        assert sorted(os.listdir(base)) == ["cli_sock", "cli_xdp"]
        theirs = _bpftool_json("prog", "show", "pinned", f"{base}/cli_xdp")
        assert theirs["tag"] == report["cli_xdp"]["tag"] and theirs["btf_id"]
        code, out, _ = _run(capsys, "load", str(obj), "--program", "cli_sock", "--type", "socket_filter")
        assert code == 0 and out.count("\n") == 1 and "name cli_sock" in out
    finally:
        if os.path.isdir(base):
            for name in os.listdir(base):
                os.unlink(os.path.join(base, name))
            os.rmdir(base)
