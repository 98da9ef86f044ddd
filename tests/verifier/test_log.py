"""Our level-1/2 logs line by line against the running kernel's, on programs whose exploration order is fixed."""
from __future__ import annotations

import difflib
import re

import pytest

from pyebpf import assemble
from pyebpf.abi.prog_types import parse_prog_type
from pyebpf.verifier import verify
from pyebpf.verifier.log import insn_str, reg_state_str
from pyebpf.verifier.regstate import PTR_TO_PACKET, SCALAR_VALUE, Reg

from kernel_oracle import kernel_load

MAP = ".map m hash key=4 value=8 entries=16\n"
PROGRAMS = {
    "constants": ("socket_filter", "r0 = 1000\nr1 = 32768\nr2 = -1\nr3 = -100000\nw4 = -1\nr0 = 0\nexit"),
    "ranges": ("socket_filter", "r2 = *(u32 *)(r1 + 0)\nr2 &= 255\nr2 *= 3\nr2 += -7\nr2 >>= 1\nr3 = r2\n"
               "r3 s>>= 1\nw4 = w2\nr0 = 0\nexit"),
    "map lookup": ("socket_filter", MAP + "*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[m] ll\n"
                   "call bpf_map_lookup_elem\nif r0 == 0 goto out\nr1 = *(u64 *)(r0 + 0)\nr1 += 1\n"
                   "*(u64 *)(r0 + 0) = r1\nout:\nr0 = 0\nexit"),
    "spills": ("socket_filter", "*(u64 *)(r10 - 8) = r1\nr2 = 7\n*(u64 *)(r10 - 16) = r2\n*(u32 *)(r10 - 20) = r2\n"
               "*(u8 *)(r10 - 24) = 0\nr3 = *(u64 *)(r10 - 16)\nr4 = *(u64 *)(r10 - 8)\nr0 = 0\nexit"),
    "packet": ("xdp", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto out\n"
               "r0 = *(u16 *)(r2 + 12)\nout:\nr0 = 2\nexit"),
    "branches": ("socket_filter", "r2 = *(u32 *)(r1 + 0)\nif r2 > 100 goto big\nr0 = r2\nexit\nbig:\n"
                 "if w2 s< 5 goto neg\nr0 = 1\nexit\nneg:\nr0 = 2\nexit"),
    "call": ("socket_filter", "r1 = 5\ncall f\nexit\nf:\nr0 = r1\nr0 += 1\nexit"),
    "reject": ("socket_filter", MAP + "*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[m] ll\n"
               "call bpf_map_lookup_elem\nr0 = *(u64 *)(r0 + 0)\nexit"),
}

# 6.18's static stack-liveness pass prints its own trace at level 2; we do not run that pass
_STACK_LIVENESS = re.compile(r"^\(\d+\) (frame \d+ insn \d+ [+]|live stack update)")
_MAP_ADDR = re.compile(r"^(\d+: \(18\) r\d+ = )0x[0-9a-f]+\s*(;.*)?$")
_LIVE_MAP_ADDR = re.compile(r"^( +\d+: [.0-9]{10} \(18\) r\d+ = )0x[0-9a-f]+$")


def normalize(log: str) -> list[str]:
    out = []
    for line in log.splitlines():
        if line.startswith("verification time") or _STACK_LIVENESS.match(line):
            continue
        line = _MAP_ADDR.sub(lambda m: m.group(1) + "MAP " + (m.group(2) or ""), line)
        line = _LIVE_MAP_ADDR.sub(lambda m: m.group(1) + "MAP", line)
        out.append(line.rstrip())
    return out


@pytest.mark.kernel
@pytest.mark.parametrize("level", [1, 2])
def test_log_matches_kernel(level):
    problems = []
    for name, (ptype, text) in PROGRAMS.items():
        prog = assemble(text)
        pt = parse_prog_type(ptype)
        ours = verify(prog, prog_type=pt, log_level=level, raise_on_reject=False)
        kern = kernel_load(prog, int(pt), log_level=level)
        a, b = normalize(kern.log), normalize(ours.log)
        if a != b:
            diff = "\n".join(difflib.unified_diff(a, b, "kernel", "ours", lineterm="", n=1))
            problems.append(f"--- {name} (level {level})\n{diff}")
    assert not problems, "\n".join(problems)


def test_register_strings():
    r = Reg()
    r.type = SCALAR_VALUE
    r.var_off.__init__(0, 0) if False else None
    from pyebpf.verifier.bounds import mark_reg_known, mark_reg_unknown
    mark_reg_unknown(r)
    assert reg_state_str(r, 0) == "scalar()"
    mark_reg_known(r, 42)
    assert reg_state_str(r, 0) == "42"
    mark_reg_known(r, -100000)
    assert reg_state_str(r, 0) == "0xfffffffffffe7960"
    p = Reg()
    p.type = PTR_TO_PACKET
    mark_reg_known(p, 0)
    p.off, p.range = 14, 14
    assert reg_state_str(p, 0) == "pkt(off=14,r=14)"


def test_insn_text():
    prog = assemble("r0 = 42\nif w1 s> 5 goto +1\n*(u32 *)(r10 - 4) = r1\nr2 = be16 r2\ncall bpf_map_lookup_elem\n"
                    "lock *(u64 *)(r10 - 8) += r1\nexit")
    got = [insn_str(i) for i in prog.instructions]
    assert got == ["(b7) r0 = 42", "(66) if w1 s> 0x5 goto pc+1", "(63) *(u32 *)(r10 -4) = r1", "(dc) r2 = be16 r2",
                   "(85) call bpf_map_lookup_elem#1", "(db) lock *(u64 *)(r10 -8) += r1", "(95) exit"]


def test_stats_line_and_levels():
    prog = assemble("r0 = 0\nexit")
    assert verify(prog).log == ""
    log = verify(prog, log_level=1).log
    assert log.splitlines()[-1].startswith("processed 2 insns (limit 1000000) max_states_per_insn 0")
    log4 = verify(prog, log_level=4).log
    assert "verification time" in log4 and "stack depth 0" in log4
