"""`--why-accepted LINE`: for an accepted program, the bounds that made each access of the line safe, on each
explored path, and the comparisons that established them; and the terminal step-through of explored paths."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyebpf.cli import main
from pyebpf.errors import InputError
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify
from pyebpf.verifier.explore import explore
from pyebpf.verifier.safety import why_accepted

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loader" / "c"))
import bpf_objects  # noqa: E402

ARR = ".map a array key=4 value=16 entries=4\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[a] ll\n" \
      "call bpf_map_lookup_elem\nif r0 == 0 goto out\nr6 = r0\ncall bpf_get_prandom_u32\n"
# the index is bounded by a different comparison on each side of a branch: two paths, two reasons
TWO_WAYS = ARR + "if r0 > 100 goto big\nif r0 > 15 goto out\ngoto use\nbig:\nr0 &= 7\nuse:\nr6 += r0\n" \
    "r1 = *(u8 *)(r6 + 0)\nout:\nr0 = 0\nexit\n"
PKT = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto out\n" \
      "r0 = *(u8 *)(r2 + 12)\nout:\nr0 = 2\nexit\n"


def _line(src: str, text: str) -> int:
    return src.splitlines().index(text) + 1


def test_each_path_gets_its_own_reason():
    prog = assemble(TWO_WAYS)
    assert verify(prog).accepted
    why = why_accepted(prog, _line(TWO_WAYS, "r1 = *(u8 *)(r6 + 0)"))
    [access] = why.accesses
    assert access.what == "load" and access.disasm == "r1 = *(u8 *)(r6 +0)"
    assert len(access.reasons) == 2 and all(len(r.paths) == 1 for r in access.reasons)
    assert access.reasons[0].paths != access.reasons[1].paths
    texts = ["\n".join([r.bounds, *r.provenance]) for r in access.reasons]
    assert any("bytes 0..15 of map a's value, within value_size 16" in t and "`if r0 > 0xf goto" in t
               and "narrowed r0" in t for t in texts)
    assert any("bytes 0..7 of map a's value" in t and "`r0 &= 7`" in t for t in texts)


def test_packet_range_names_the_data_end_comparison():
    why = why_accepted(assemble(PKT), 6, "xdp")
    [access] = why.accesses
    [reason] = access.reasons
    assert "proved 14 bytes from the packet pointer readable; this access ends at 13 <= 14" in reason.bounds
    assert any("`if r4 > r3 goto pc+1` at insn 4" in p and "(not taken) narrowed r2 from pkt(r=0) to pkt(r=14)" in p
               for p in reason.provenance)


def test_c_line(tmp_path):
    try:
        clang = bpf_objects.clang()
    except bpf_objects.ToolMissing as e:
        pytest.skip(str(e))
    from pyebpf.loader.elf import load_elf

    (tmp_path / "p.c").write_text(
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
        "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64[8]); "
        "__uint(max_entries, 1); } arr SEC(\".maps\");\n"
        "SEC(\"socket\")\nint prog(struct __sk_buff *skb)\n{\n\t__u32 key = 0;\n"
        "\t__u64 *v = bpf_map_lookup_elem(&arr, &key);\n\tif (!v)\n\t\treturn 0;\n\t__u32 i = skb->len;\n"
        "\tif (i >= 8)\n\t\treturn 0;\n\treturn v[i];\n}\nchar _license[] SEC(\"license\") = \"GPL\";\n")
    subprocess.run([clang, "-O2", "-g", "-target", "bpf", *bpf_objects.multiarch_include(), "-c", "p.c", "-o",
                    "p.o"], cwd=tmp_path, check=True)
    obj = load_elf(str(tmp_path / "p.o"))
    prog = obj.programs["prog"]
    obj.close()
    why = why_accepted(prog, 14)
    assert why.line == "p.c:14: return v[i];"
    loads = [a for a in why.accesses if a.what == "load"]
    assert loads, why.text()
    text = why.text()
    assert "within value_size 64" in text and "narrowed" in text and "skb" not in why.line


def test_bad_line_is_an_input_error():
    with pytest.raises(InputError, match="no instruction comes from line 99"):
        why_accepted(assemble(PKT), 99, "xdp")
    with pytest.raises(InputError, match="neither a line number nor @SLOT"):
        why_accepted(assemble(PKT), "x", "xdp")


def test_cli(tmp_path, capsys):
    src = tmp_path / "p.s"
    src.write_text(PKT)
    assert main(["explain", "--type", "xdp", "--why-accepted", "6", str(src)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("why it is safe: line 6: r0 = *(u8 *)(r2 + 12)\n") and "on path 0: r2=pkt(r=14)" in out
    assert main(["explain", "--type", "xdp", "--why-accepted", "@5", str(src)]) == 0
    assert "insn 5: r0 = *(u8 *)(r2 +12)" in capsys.readouterr().out


def test_terminal_step_through_lists_paths_and_prunes(tmp_path, capsys):
    from test_explain_html import LOOP

    src = tmp_path / "loop.s"
    src.write_text(LOOP)
    exp = explore(assemble(LOOP))
    level2_paths = 1 + sum(1 for ln in exp.result.log.splitlines() if re.match(r"^from \d+ to \d+:", ln))
    assert main(["explain", "--steps", str(src)]) == 1
    out = capsys.readouterr().out
    assert f"{level2_paths} explored paths" in out
    pruned = [ln for ln in out.splitlines() if ln.startswith("pruned at insn ")]
    assert len(pruned) == len(exp.prunes) >= 1
    assert all(f"checkpoint {p.checkpoint} " in ln for p, ln in zip(exp.prunes, pruned))
    # the failing path is stepped through by default, ending at the refused instruction
    steps = [ln for ln in out.splitlines() if re.match(r"^\s+\d+\s+insn", ln)]
    assert steps[-1].split("insn", 1)[1].split(":")[0].strip() == "20"
    assert main(["explain", "--steps", "--path", "0", str(src)]) == 1
    assert "step-through of path 0: from the entry, exit" in capsys.readouterr().out
    assert main(["explain", "--steps", "--path", "99", str(src)]) != 0
