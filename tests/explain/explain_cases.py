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
    # provenance classes: a bound lost by a narrow spill and a wide fill; a slot never written
    ExplainCase("unbounded-math", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr6 = r0\n"
                "call bpf_get_prandom_u32\n"
                "r3 = r0\nr3 &= 15\n*(u32 *)(r10 - 16) = r3\nr3 = *(u64 *)(r10 - 16)\nr6 += r3\nr1 = *(u8 *)(r6 + 0)\n"
                "out:\nr0 = 0\nexit\n", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr6 = r0\n"
                "call bpf_get_prandom_u32\nr3 = r0\nr3 &= 15\n*(u64 *)(r10 - 16) = r3\nr3 = *(u64 *)(r10 - 16)\n"
                "r6 += r3\nr1 = *(u8 *)(r6 + 0)\nout:\nr0 = 0\nexit\n",
                why="fp-16 was spilled as 4 bytes by `*(u32 *)(r10 -16) = r3`", path="not taken"),
    ExplainCase("unbounded-math", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr3 = *(u64 *)(r10 - 24)\n"
                "r0 += r3\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit\n", ARR + LOOKUP.format(m="a") +
                "if r0 == 0 goto out\n*(u64 *)(r10 - 24) = 3\nr3 = *(u64 *)(r10 - 24)\nr0 += r3\nr1 = *(u8 *)(r0 + 0)\n"
                "out:\nr0 = 0\nexit\n", why="from the stack slot fp-24, which was never written"),
    ExplainCase("ptr-from-scalar", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr1 = 1\nr1 -= r0\nout:\n"
                "r0 = 0\nexit\n", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr1 = 1\nr0 -= r1\nout:\n"
                "r0 = 0\nexit\n", why="r0 is the result of `call bpf_map_lookup_elem#1`"),
    ExplainCase("ptr-plus-ptr", "r0 = r10\nr1 = r10\nr0 += r1\nr0 = 0\nexit\n",
                "r0 = r10\nr1 = 8\nr0 += r1\nr0 = 0\nexit\n", why="r0 is a copy of r10"),
    ExplainCase("fill-size", "*(u64 *)(r10 - 8) = r1\nr2 = *(u32 *)(r10 - 8)\nr0 = 0\nexit\n",
                "*(u64 *)(r10 - 8) = r1\nr2 = *(u64 *)(r10 - 8)\nr0 = 0\nexit\n"),
    ExplainCase("negative-index", "call bpf_get_prandom_u32\nr2 = r0\nr2 <<= 32\nr2 s>>= 32\nif r2 s> 8 goto out\n"
                "r1 = r10\nr1 += -8\nr3 = 0\ncall bpf_probe_read_kernel\nout:\nr0 = 0\nexit\n",
                "call bpf_get_prandom_u32\nr2 = r0\nr2 <<= 32\nr2 s>>= 32\nif r2 s> 8 goto out\nif r2 s< 0 goto out\n"
                "r1 = r10\nr1 += -8\nr3 = 0\ncall bpf_probe_read_kernel\nout:\nr0 = 0\nexit\n", prog_type="kprobe",
                why="narrowed r2", path="`if r2 s> 0x8 goto pc+4`: not taken"),
    ExplainCase("unbounded-size", "call bpf_get_prandom_u32\nw2 = w0\nr1 = r10\nr1 += -8\nr3 = 0\n"
                "call bpf_probe_read_kernel\nr0 = 0\nexit\n", "call bpf_get_prandom_u32\nw2 = w0\nif r2 > 8 goto out\n"
                "r1 = r10\nr1 += -8\nr3 = 0\ncall bpf_probe_read_kernel\nout:\nr0 = 0\nexit\n", prog_type="kprobe",
                why="r0 is the result of `call bpf_get_prandom_u32#7`"),
    ExplainCase("stack-uninit", MAP + "r2 = r10\nr2 += -4\nr1 = map[m] ll\ncall bpf_map_lookup_elem\nr0 = 0\nexit\n",
                MAP + LOOKUP.format(m="m") + "r0 = 0\nexit\n", why="fp-4 was never written", privileged=False),
    ExplainCase("call-depth", "*(u64 *)(r10 - 256) = 0\ncall f\nr0 = 0\nexit\nf:\n*(u64 *)(r10 - 320) = 0\nr0 = 0\n"
                "exit\n", "*(u64 *)(r10 - 256) = 0\ncall f\nr0 = 0\nexit\nf:\n*(u64 *)(r10 - 256) = 0\nr0 = 0\nexit\n"),
    ExplainCase("mixed-pointers", "r6 = r1\n*(u64 *)(r10 - 8) = 0\ncall bpf_get_prandom_u32\nif r0 > 5 goto s\n"
                "r2 = r6\ngoto j\ns:\nr2 = r10\nr2 += -8\nj:\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit\n",
                "r6 = r1\n*(u64 *)(r10 - 8) = 0\ncall bpf_get_prandom_u32\nif r0 > 5 goto s\nr0 = *(u32 *)(r6 + 0)\n"
                "goto j\ns:\nr2 = r10\nr2 += -8\nr0 = *(u32 *)(r2 + 0)\nj:\nr0 = 0\nexit\n",
                why="an earlier path reached this instruction with another kind of pointer"),
    ExplainCase("addr-leak", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\n*(u64 *)(r0 + 0) = r0\nout:\nr0 = 0\n"
                "exit\n", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr1 = 1\n*(u64 *)(r0 + 0) = r1\nout:\n"
                "r0 = 0\nexit\n", why="narrowed r0 from map_value_or_null", privileged=False),
]
