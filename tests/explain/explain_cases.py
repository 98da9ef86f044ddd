"""Rejection classes of the explain catalogue: a broken program, the class and explanation parts it must get, and
the fixed program the class's suggested fix gives (which both our verifier and the kernel must accept)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyebpf.isa.instruction import Instruction as I
from pyebpf.isa.program import Program

MAP = ".map m hash key=4 value=8 entries=16\n"
ARR = ".map a array key=4 value=16 entries=4\n"
LOOKUP = "*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[{m}] ll\ncall bpf_map_lookup_elem\n"


@dataclass(frozen=True)
class ExplainCase:
    """`broken`/`fixed` are assembly, or (for encodings assembly and our decoder refuse: reserved fields, r11, an
    unknown opcode) a function building the Program from raw instructions, as a program generator would."""

    rule: str
    broken: str | Callable[[], Program]
    fixed: str | Callable[[], Program]
    why: str = ""  # a phrase the `why` lines must contain
    path: str = ""  # a phrase the path must contain
    prog_type: str = "socket_filter"
    privileged: bool = True
    prog_flags: int = 0  # BPF_PROG_LOAD flags (ProgLoadFlags), e.g. BPF_F_STRICT_ALIGNMENT
    #: for an unprivileged row, the capability whose absence makes the kernel refuse it: CAP_PERFMON
    #: (allow_ptr_leaks, allow_uninit_stack, bypass_spec) or CAP_BPF (loops, bpf-to-bpf calls)
    without: str = "CAP_PERFMON"


def _raw(*insns: I) -> Callable[[], Program]:
    return lambda: Program(list(insns))


def _kfuncs(body: str, *names: str) -> Callable[[], Program]:
    """`body` calling kfuncs by name, with the BTF ids of the running kernel (a kernel whose BTF lacks one is a
    missing feature); GPL, as kfuncs require."""
    def build() -> Program:
        import dataclasses

        from pyebpf.btf import kernel_btf_or_none
        from pyebpf.isa.assembler import assemble

        btf = kernel_btf_or_none()
        ids = {k: btf.find(k) if btf is not None else None for k in names}
        if None in ids.values():
            from pyebpf.testing.plugin import skip_missing_feature
            skip_missing_feature(f"this kernel's BTF lacks the kfuncs {', '.join(names)}")
        head = "".join(f".kfunc {k} {i}\n" for k, i in ids.items())
        return dataclasses.replace(assemble(head + body), license="GPL")
    return build


TASK_KFUNCS = ("bpf_task_from_pid", "bpf_task_release")


EXIT, MOV0 = I(0x95, 0, 0, 0, 0), I(0xB7, 0, 0, 0, 0)
PKT = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\n"  # xdp: r2 = data, r3 = data_end
SKB_PKT = "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\n"  # __sk_buff: r2 = data, r3 = data_end
#: sched_cls: look a TCP socket up by a zeroed 12-byte tuple at fp-40; r0 = sock_or_null (a reference)
SK_LOOKUP = ("r6 = r1\n" + "".join(f"*(u64 *)(r10 - {o}) = 0\n" for o in (8, 16, 24, 32, 40)) +
             "r1 = r6\nr2 = r10\nr2 += -40\nr3 = 12\nr4 = -1\nr5 = 0\ncall bpf_sk_lookup_tcp\n")


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
    ExplainCase("map-range", ARR + LOOKUP.format(m="a") + "if r0 == 0 goto out\nr1 = *(u64 *)(r0 + 16)\n"
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
    ExplainCase("pkt-range", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nr0 = 2\n"
                "exit\n", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 1\n"
                "if r4 > r3 goto out\nr0 = *(u8 *)(r2 + 0)\nout:\nr0 = 2\nexit\n", prog_type="xdp"),
    ExplainCase("unknown-helper", "call bpf_redirect\nexit\n", "r0 = 0\nexit\n"),
    ExplainCase("back-edge", "r0 = 3\nl:\nr0 -= 1\nif r0 != 0 goto l\nexit\n", "r0 = 3\nr0 -= 1\nr0 -= 1\n"
                "r0 -= 1\nexit\n", privileged=False,
                without="CAP_BPF"),
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
    ExplainCase("unpriv-call", "call f\nexit\nf:\nr0 = 0\nexit\n", "r0 = 0\nexit\n", privileged=False,
                without="CAP_BPF"),
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
    # classes drawn from the log line before the kernel's last one
    ExplainCase("pkt-outside", PKT + "r4 = r2\nr4 += 1\nif r4 > r3 goto out\nr0 = *(u16 *)(r2 + 0)\nout:\nr0 = 2\n"
                "exit\n", PKT + "r4 = r2\nr4 += 2\nif r4 > r3 goto out\nr0 = *(u16 *)(r2 + 0)\nout:\nr0 = 2\nexit\n",
                prog_type="xdp", why="proved 1 byte", path="`if r4 > r3 goto pc+1`: not taken"),
    ExplainCase("stack-indirect", ".map m hash key=8 value=8 entries=16\n*(u32 *)(r10 - 8) = 0\nr2 = r10\nr2 += -8\n"
                "r1 = map[m] ll\ncall bpf_map_lookup_elem\nr0 = 0\nexit\n", ".map m hash key=8 value=8 entries=16\n"
                "*(u64 *)(r10 - 8) = 0\nr2 = r10\nr2 += -8\nr1 = map[m] ll\ncall bpf_map_lookup_elem\nr0 = 0\nexit\n",
                why="fp-4", privileged=False),
    ExplainCase("ctx-align", "r0 = *(u32 *)(r1 + 2)\nexit\n", "r0 = *(u32 *)(r1 + 0)\nexit\n", prog_flags=1,
                why="BPF_F_STRICT_ALIGNMENT"),
    ExplainCase("ctx-negative", "r1 += -8\nr0 = *(u32 *)(r1 + 8)\nexit\n", "r0 = *(u32 *)(r1 + 0)\nexit\n",
                why="r1 became ctx(off=-8)"),
    ExplainCase("ptr-math-const", "r2 = r10\nr2 += 0x7fffffff\nr3 = 1\n*(u64 *)(r2 + 0) = r3\nr0 = 0\nexit\n",
                "r2 = r10\nr2 += -8\nr3 = 1\n*(u64 *)(r2 + 0) = r3\nr0 = 0\nexit\n", why="r2 is a copy of r10"),
    ExplainCase("pkt-readonly", SKB_PKT + "r4 = r2\nr4 += 1\nif r4 > r3 goto out\n*(u8 *)(r2 + 0) = 0\nout:\nr0 = 1\n"
                "exit\n", SKB_PKT + "r4 = r2\nr4 += 1\nif r4 > r3 goto out\nr0 = *(u8 *)(r2 + 0)\n"
                "*(u8 *)(r10 - 1) = r0\nout:\nr0 = 1\nexit\n", prog_type="cgroup_skb", why="cgroup_skb"),
    ExplainCase("bad-ldimm64", "if r1 > 0 goto +1\nr0 = 0 ll\nr0 = 0\nexit\n",
                "if r1 > 0 goto +2\nr0 = 0 ll\nr0 = 0\nexit\n", why="second half"),
    ExplainCase("bad-map-fd", _raw(I(0x18, 1, 1, 0, 123456), MOV0, EXIT), MAP + "r1 = map[m] ll\nr0 = 0\nexit\n",
                why="fd 123456"),
    ExplainCase("reserved-fields", _raw(I(0xB7, 0, 1, 0, 0), EXIT), _raw(MOV0, EXIT), why="src_reg=1"),
    ExplainCase("bad-reg", _raw(I(0xB7, 11, 0, 0, 0), MOV0, EXIT), _raw(I(0xB7, 1, 0, 0, 0), MOV0, EXIT),
                why="register 11 in its dst_reg field"),
    ExplainCase("unknown-opcode", _raw(MOV0, I(0xE7, 0, 0, 0, 1), EXIT), _raw(MOV0, I(0xC7, 0, 0, 0, 1), EXIT),
                why="0xe7"),
    ExplainCase("bad-call", _raw(I(0x85, 0, 1, 0, 5), MOV0, EXIT), _raw(I(0x85, 0, 1, 0, 1), EXIT, MOV0, EXIT),
                why="insn 6"),
    ExplainCase("sock-access", SK_LOOKUP + "if r0 == 0 goto out\nr6 = *(u64 *)(r0 + 200)\nr1 = r0\n"
                "call bpf_sk_release\nout:\nr0 = 0\nexit\n", SK_LOOKUP + "if r0 == 0 goto out\nr6 = *(u32 *)(r0 + 4)\n"
                "r1 = r0\ncall bpf_sk_release\nout:\nr0 = 0\nexit\n", prog_type="sched_cls",
                why="r0 is the result of `call bpf_sk_lookup_tcp#84`"),
    ExplainCase("release-unref", "r1 = *(u64 *)(r1 + 168)\nif r1 == 0 goto out\ncall bpf_sk_release\nout:\nr0 = 0\n"
                "exit\n", "r1 = *(u64 *)(r1 + 168)\nif r1 == 0 goto out\nr0 = *(u32 *)(r1 + 4)\nout:\nr0 = 0\nexit\n",
                prog_type="sched_cls", why="r1 was read from a ctx by"),
    # bpf_task_from_pid is KF_ACQUIRE | KF_RET_NULL: its result goes to bpf_task_release (a trusted argument)
    ExplainCase("kfunc-null", _kfuncs("r1 = 1\ncall bpf_task_from_pid\nr1 = r0\ncall bpf_task_release\nr0 = 0\n"
                                      "exit\n", *TASK_KFUNCS),
                _kfuncs("r1 = 1\ncall bpf_task_from_pid\nif r0 == 0 goto +2\nr1 = r0\ncall bpf_task_release\n"
                        "r0 = 0\nexit\n", *TASK_KFUNCS), prog_type="sched_cls"),
]
