"""Rejection classes of the explain catalogue: a broken program, the class and explanation parts it must get, and
the fixed program the class's suggested fix gives (which both our verifier and the kernel must accept)."""
from __future__ import annotations

from dataclasses import dataclass

MAP = ".map m hash key=4 value=8 entries=16\n"
ARR = ".map a array key=4 value=16 entries=4\n"
LOOKUP = "*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[{m}] ll\ncall bpf_map_lookup_elem\n"


@dataclass(frozen=True)
class ExplainCase:
    rule: str
    broken: str
    fixed: str
    why: str = ""  # a phrase the `why` lines must contain
    path: str = ""  # a phrase the path must contain
    prog_type: str = "socket_filter"
    privileged: bool = True


CASES = [
    ExplainCase("null-deref", MAP + LOOKUP.format(m="m") + "r1 = *(u64 *)(r0 + 0)\nr0 = 0\nexit\n",
                MAP + LOOKUP.format(m="m") + "if r0 == 0 goto out\nr1 = *(u64 *)(r0 + 0)\nout:\nr0 = 0\nexit\n",
                why="result of `call bpf_map_lookup_elem"),
    ExplainCase("scalar-deref", "r0 = 1\nr0 = *(u64 *)(r0 + 0)\nexit\n",
                "r0 = r10\nr1 = 1\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit\n", why="became a number"),
    ExplainCase("uninit-reg", "r0 = r2\nexit\n", "r2 = 0\nr0 = r2\nexit\n", why="never written"),
    ExplainCase("ret-uninit", "r1 = 1\nexit\n", "r0 = 0\nexit\n", why="r0 was never written"),
    ExplainCase("uninit-reg", "call bpf_get_prandom_u32\nr0 = r1\nexit\n",
                "call bpf_get_prandom_u32\nr1 = 0\nr0 = r1\nexit\n", why="scratched by `call bpf_get_prandom_u32"),
    ExplainCase("stack-uninit", "call bpf_get_prandom_u32\nif r0 > 10 goto big\nr0 = 0\nexit\n"
                "big:\nr1 = *(u64 *)(r10 - 8)\nr0 = 1\nexit\n",
                "call bpf_get_prandom_u32\n*(u64 *)(r10 - 8) = 0\nif r0 > 10 goto big\nr0 = 0\nexit\n"
                "big:\nr1 = *(u64 *)(r10 - 8)\nr0 = 1\nexit\n",
                why="fp-8 was never written", path="if r0 > 0xa goto pc+2`: taken", privileged=False),
    ExplainCase("stack-range", "r0 = *(u64 *)(r10 - 520)\nexit\n", "*(u64 *)(r10 - 512) = 0\n"
                "r0 = *(u64 *)(r10 - 512)\nexit\n", why="outside the 512-byte stack", privileged=False),
    ExplainCase("stack-range", "*(u64 *)(r10 + 8) = 0\nr0 = 0\nexit\n", "*(u64 *)(r10 - 8) = 0\nr0 = 0\nexit\n"),
    ExplainCase("mem-range", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr1 = *(u64 *)(r0 + 16)\n"
                "out:\nr0 = 0\nexit\n", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\n"
                "r1 = *(u64 *)(r0 + 8)\nout:\nr0 = 0\nexit\n"),
    ExplainCase("mem-range", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr6 = r0\ncall bpf_get_prandom_u32\n"
                "if r0 > 16 goto out\nr6 += r0\nr1 = *(u8 *)(r6 + 0)\nout:\nr0 = 0\nexit\n",
                ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr6 = r0\ncall bpf_get_prandom_u32\n"
                "if r0 > 15 goto out\nr6 += r0\nr1 = *(u8 *)(r6 + 0)\nout:\nr0 = 0\nexit\n"),
    ExplainCase("fp-readonly", "r10 = 0\nr0 = 0\nexit\n", "r2 = r10\nr2 += -8\nr0 = 0\nexit\n"),
    ExplainCase("div-zero", "r0 = 1\nr0 /= 0\nexit\n", "r0 = 1\nr0 /= 2\nexit\n"),
    ExplainCase("bad-shift", "r0 = 1\nr0 <<= 64\nexit\n", "r0 = 1\nr0 <<= 63\nexit\n"),
    ExplainCase("no-exit", "r0 = 0\n", "r0 = 0\nexit\n"),
    ExplainCase("unreachable", "r0 = 0\nexit\nr0 = 1\nexit\n", "r0 = 0\nexit\n"),
    ExplainCase("pkt-outside", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nr0 = 2\n"
                "exit\n", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 1\n"
                "if r4 > r3 goto out\nr0 = *(u8 *)(r2 + 0)\nout:\nr0 = 2\nexit\n", prog_type="xdp"),
    ExplainCase("unknown-helper", "call bpf_redirect\nexit\n", "r0 = 0\nexit\n"),
    ExplainCase("back-edge", "r0 = 3\nl:\nr0 -= 1\nif r0 != 0 goto l\nexit\n", "r0 = 3\nr0 -= 1\nr0 -= 1\n"
                "r0 -= 1\nexit\n", privileged=False),
    ExplainCase("too-large", "call bpf_get_prandom_u32\nr1 = r0\nr0 = 0\nl:\nr0 += 1\nif r0 != r1 goto l\n"
                "exit\n", "call bpf_get_prandom_u32\nr1 = r0\nr0 = 0\nl:\nr0 += 1\nif r0 > 1000 goto out\n"
                "if r0 != r1 goto l\nout:\nr0 = 0\nexit\n", why="r0 is the loop's counter"),
    ExplainCase("pointer-arith", "r0 = r10\nr0 &= 8\nr0 = 0\nexit\n", "r0 = r10\nr0 += -8\nr0 = 0\nexit\n"),
    ExplainCase("modified-ctx", "r1 += 4\nr0 = *(u32 *)(r1 + 0)\nexit\n", "r0 = *(u32 *)(r1 + 4)\nexit\n"),
    ExplainCase("ctx-access", "r0 = *(u64 *)(r1 + 4000)\nexit\n", "r0 = *(u32 *)(r1 + 0)\nexit\n"),
    ExplainCase("misaligned-stack", "*(u32 *)(r10 - 6) = 0\nr0 = 0\nexit\n", "*(u32 *)(r10 - 8) = 0\nr0 = 0\nexit\n",
                privileged=False),
    ExplainCase("jump-range", "r0 = 0\nif r0 == 0 goto +5\nexit\n", "r0 = 0\nif r0 == 0 goto +0\nexit\n"),
    ExplainCase("return-range", "r0 = 5\nexit\n", "r0 = 1\nexit\n", prog_type="cgroup_skb"),
    ExplainCase("helper-arg", "r1 = 0\nr2 = 0\ncall bpf_map_lookup_elem\nr0 = 0\nexit\n",
                MAP + LOOKUP.format(m="m") + "r0 = 0\nexit\n"),
    ExplainCase("ptr-compare", "r0 = r10\nr1 = r10\nr1 += -8\nif r0 > r1 goto out\nout:\nr0 = 0\nexit\n",
                "r0 = 1\nr1 = 2\nif r0 > r1 goto out\nout:\nr0 = 0\nexit\n", privileged=False),
    ExplainCase("unpriv-call", "call f\nexit\nf:\nr0 = 0\nexit\n", "r0 = 0\nexit\n", privileged=False),
    ExplainCase("infinite-loop", "l:\nr0 = 0\ngoto l\n", "r0 = 0\nexit\n"),
    ExplainCase("ret-stack-ptr", "call f\nr0 = 0\nexit\nf:\nr0 = r10\nr0 += -8\nexit\n",
                "call f\nr0 = 0\nexit\nf:\nr0 = 0\nexit\n"),
]
