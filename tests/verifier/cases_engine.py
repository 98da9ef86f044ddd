"""Small programs, one per verifier check, with the verdict and message our verifier must give.

Each case: (name, prog_type, assembly, expected) where expected is None for "accepted" or (errno name, message).
The kernel test runs the same table through BPF_PROG_LOAD and requires the same verdict and error line.
"""
from __future__ import annotations

MAP = ".map m hash key=4 value=8 entries=16\n"
ARR = ".map a array key=4 value=16 entries=4\n"
LOOKUP = """
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map[{m}] ll
call bpf_map_lookup_elem
"""


def lookup(m: str = "m") -> str:
    return LOOKUP.format(m=m)


CASES: list[tuple[str, str, str, "tuple[str, str] | None"]] = [
    ("minimal", "socket_filter", "r0 = 0\nexit", None),
    ("r0 not init", "socket_filter", "exit", ("EACCES", "R0 !read_ok")),
    ("read uninit reg", "socket_filter", "r0 = r2\nexit", ("EACCES", "R2 !read_ok")),
    ("write fp", "socket_filter", "r10 = 0\nr0 = 0\nexit", ("EACCES", "frame pointer is read only")),
    ("div by zero imm", "socket_filter", "r0 = 1\nr0 /= 0\nexit", ("EINVAL", "div by zero")),
    ("invalid shift", "socket_filter", "r0 = 1\nr0 <<= 64\nexit", ("EINVAL", "invalid shift 64")),
    # CFG
    ("unreachable", "socket_filter", "r0 = 0\nexit\nr0 = 1\nexit", ("EINVAL", "unreachable insn 2")),
    ("jump out of range", "socket_filter", "r0 = 0\nif r0 == 0 goto +5\nexit",
     ("EINVAL", "jump out of range from insn 1 to 7")),
    ("fall off end", "socket_filter", "r0 = 0\nif r0 == 0 goto +0\nr0 = 1", ("EINVAL", "last insn is not an exit or jmp")),
    ("infinite loop", "socket_filter", "r0 = 0\nl: r0 += 0\ngoto l\nexit", None),  # replaced below
    # stack
    ("stack write ok", "socket_filter", "*(u64 *)(r10 - 8) = 1\nr0 = *(u64 *)(r10 - 8)\nexit", None),
    ("stack out of bounds", "socket_filter", "*(u64 *)(r10 - 520) = 1\nr0 = 0\nexit",
     ("EACCES", "invalid write to stack R10 off=-520 size=8")),
    ("stack above fp", "socket_filter", "*(u64 *)(r10 + 0) = 1\nr0 = 0\nexit",
     ("EACCES", "invalid write to stack R10 off=0 size=8")),
    ("stack straddles fp", "socket_filter", "*(u64 *)(r10 - 4) = 1\nr0 = 0\nexit",
     ("EACCES", "misaligned stack access off 0+0+-4 size 8")),
    ("uninit stack read priv", "socket_filter", "r0 = *(u64 *)(r10 - 8)\nexit", None),
    ("spill fill ctx", "socket_filter", "*(u64 *)(r10 - 8) = r1\nr1 = *(u64 *)(r10 - 8)\n"
     "r0 = *(u32 *)(r1 + 0)\nexit", None),
    ("partial fill of pointer", "socket_filter", "*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 8)\nexit",
     ("EACCES", "invalid size of register fill")),
    ("partial spill of pointer", "socket_filter", "*(u32 *)(r10 - 8) = r1\nr0 = 0\nexit",
     ("EACCES", "invalid size of register spill")),
    # ctx
    ("ctx read len", "socket_filter", "r0 = *(u32 *)(r1 + 0)\nexit", None),
    ("ctx bad offset", "socket_filter", "r0 = *(u32 *)(r1 + 1000)\nexit",
     ("EACCES", "invalid bpf_context access off=1000 size=4")),
    ("ctx write len", "socket_filter", "r2 = 1\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit",
     ("EACCES", "invalid bpf_context access off=0 size=4")),
    ("ctx write cb", "socket_filter", "r2 = 1\n*(u32 *)(r1 + 48) = r2\nr0 = 0\nexit", None),
    ("modified ctx", "socket_filter", "r1 += 4\nr0 = *(u32 *)(r1 + 0)\nexit",
     ("EACCES", "dereference of modified ctx ptr R1 off=4 disallowed")),
    ("xdp data", "xdp", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = 2\nexit", None),
    ("kprobe regs", "kprobe", "r0 = *(u64 *)(r1 + 112)\nexit", None),
    ("kprobe write", "kprobe", "r2 = 0\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit",
     ("EACCES", "invalid bpf_context access off=0 size=8")),
    ("tracepoint common", "tracepoint", "r0 = *(u32 *)(r1 + 4)\nexit",
     ("EACCES", "invalid bpf_context access off=4 size=4")),
    ("tracepoint args", "tracepoint", "r0 = *(u64 *)(r1 + 16)\nexit", None),
    ("raw tp args", "raw_tracepoint", "r0 = *(u64 *)(r1 + 8)\nexit", None),
    ("perf event sample", "perf_event", "r0 = *(u64 *)(r1 + 168)\nexit", None),
    # pointers
    ("ptr arith mul", "socket_filter", "r1 *= 2\nr0 = 0\nexit",
     ("EACCES", "R1 pointer arithmetic with *= operator prohibited")),
    ("ptr and", "socket_filter", "r1 &= 2\nr0 = 0\nexit", ("EACCES", "R1 bitwise operator &= on pointer prohibited")),
    ("ptr 32bit", "socket_filter", "w1 += 2\nr0 = 0\nexit", ("EACCES", "R1 32-bit pointer arithmetic prohibited")),
    ("ptr plus ptr", "socket_filter", "r2 = r10\nr1 += r2\nr0 = 0\nexit",
     ("EACCES", "R1 pointer += pointer prohibited")),
    ("scalar minus ptr", "socket_filter", "r2 = 5\nr2 -= r10\nr0 = 0\nexit",
     ("EACCES", "R2 tried to subtract pointer from scalar")),
    ("ptr leak as return priv", "socket_filter", "r0 = r10\nexit", None),
    # maps
    ("lookup no null check", "socket_filter", MAP + lookup() + "r0 = *(u64 *)(r0 + 0)\nexit",
     ("EACCES", "R0 invalid mem access 'map_value_or_null'")),
    ("lookup null check", "socket_filter", MAP + lookup() + "if r0 == 0 goto out\nr1 = *(u64 *)(r0 + 0)\n"
     "out:\nr0 = 0\nexit", None),
    ("map value oob", "socket_filter", MAP + lookup() + "if r0 == 0 goto out\nr1 = *(u64 *)(r0 + 4)\n"
     "out:\nr0 = 0\nexit", ("EACCES", "R0 min value is outside of the allowed memory range")),
    ("map value var idx unbounded", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\n"
     "r1 = *(u32 *)(r0 + 0)\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit",
     ("EACCES", "R0 unbounded memory access, make sure to bounds check any such access")),
    ("map value var idx bounded", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\n"
     "r1 = *(u32 *)(r0 + 0)\nr1 &= 15\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit", None),
    ("map value var idx too big", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\n"
     "r1 = *(u32 *)(r0 + 0)\nr1 &= 31\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit",
     ("EACCES", "R0 max value is outside of the allowed memory range")),
    ("map value signed idx", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\n"
     "r1 = *(u64 *)(r0 + 0)\nif r1 s> 8 goto out\nif r1 s< -8 goto out\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit",
     ("EACCES", "R0 min value is negative, either use unsigned index or do a if (index >=0) check.")),
    ("map value unbounded min", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\n"
     "r1 = *(u64 *)(r0 + 0)\nif r1 s> 8 goto out\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit",
     ("EINVAL", "math between map_value pointer and register with unbounded min value is not allowed")),
    ("arith on map_value_or_null", "socket_filter", MAP + lookup() + "r0 += 1\nr0 = 0\nexit",
     ("EACCES", "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first")),
    ("key uninit priv", "socket_filter", MAP + "r2 = r10\nr2 += -4\nr1 = map[m] ll\ncall bpf_map_lookup_elem\n"
     "r0 = 0\nexit", None),
    ("key outside stack", "socket_filter", MAP + "r2 = r10\nr2 += -2\nr1 = map[m] ll\n"
     "call bpf_map_lookup_elem\nr0 = 0\nexit", ("EINVAL", "invalid read from stack R2 off=-2 size=4")),
    ("update value", "socket_filter", MAP + "*(u32 *)(r10 - 4) = 0\n*(u64 *)(r10 - 16) = 7\nr2 = r10\n"
     "r2 += -4\nr3 = r10\nr3 += -16\nr4 = 0\nr1 = map[m] ll\ncall bpf_map_update_elem\nr0 = 0\nexit", None),
    # helpers
    ("helper wrong arg type", "socket_filter", MAP + "r2 = 0\nr1 = map[m] ll\ncall bpf_map_lookup_elem\n"
     "r0 = 0\nexit", ("EACCES", "R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, "
                                "buf, trusted_ptr_")),
    ("helper map arg not map", "socket_filter", "r1 = 0\nr2 = r10\ncall bpf_map_lookup_elem\nr0 = 0\nexit",
     ("EACCES", "R1 type=scalar expected=map_ptr")),
    ("helper not allowed", "socket_filter", "call bpf_get_current_pid_tgid\nr0 = 0\nexit", None),
    ("helper not for type", "xdp", "r2 = 0\ncall bpf_skb_store_bytes\nr0 = 0\nexit",
     ("EINVAL", "program of this type cannot use helper bpf_skb_store_bytes#9")),
    ("helper scratches r1", "socket_filter", "call bpf_ktime_get_ns\nr0 = *(u32 *)(r1 + 0)\nexit",
     ("EACCES", "R1 !read_ok")),
    ("unknown helper", "socket_filter", "call 999\nr0 = 0\nexit", ("EINVAL", "invalid func unknown#999")),
    ("probe read size unbounded", "kprobe", "r6 = *(u32 *)(r1 + 112)\nr1 = r10\nr1 += -16\nr2 = r6\nr3 = 0\n"
     "call bpf_probe_read_kernel\nr0 = 0\nexit",
     ("EACCES", "R2 unbounded memory access, use 'var &= const' or 'if (var < const)'")),
    ("probe read ok", "kprobe", "r1 = r10\nr1 += -16\nr2 = 16\nr3 = 0\ncall bpf_probe_read_kernel\n"
     "r0 = *(u64 *)(r10 - 16)\nexit", None),
    ("gpl only from non-gpl", "kprobe", ".license \"MIT\"\nr1 = r10\nr1 += -16\nr2 = 16\nr3 = 0\n"
     "call bpf_probe_read_kernel\nr0 = 0\nexit",
     ("EINVAL", "cannot call GPL-restricted function from non-GPL compatible program")),
    ("tail call", "socket_filter", ".map progs prog_array key=4 value=4 entries=4\nr2 = map[progs] ll\n"
     "r3 = 0\ncall bpf_tail_call\nr0 = 0\nexit", None),
    ("tail call wrong map", "socket_filter", MAP + "r2 = map[m] ll\nr3 = 0\ncall bpf_tail_call\nr0 = 0\nexit",
     ("EINVAL", "expected prog array map for tail call")),
    # branches and refinement
    ("branch refines", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\nr1 = *(u32 *)(r0 + 0)\n"
     "if r1 > 15 goto out\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit", None),
    ("jmp32 refines", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\nr1 = *(u32 *)(r0 + 0)\n"
     "if w1 > 15 goto out\nr0 += r1\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit", None),
    ("dead branch not checked", "socket_filter", "r0 = 0\nif r0 == 0 goto ok\nr0 = *(u64 *)(r10 + 8)\n"
     "ok:\nexit", None),
    # exit values
    ("cgroup_skb bad ret", "cgroup_skb", "r0 = 5\nexit",
     ("EINVAL", "At program exit the register R0 has smin=5 smax=5 should have been in [0, 1]")),
    ("cgroup_skb ok ret", "cgroup_skb", "r0 = 1\nexit", None),
    ("cgroup_skb ptr ret", "cgroup_skb", "r0 = r10\nexit", ("EINVAL", "At program exit the register R0 is not a known value (fp)")),
    # loops
    ("bounded loop", "socket_filter", "r0 = 0\nl:\nr0 += 1\nif r0 < 10 goto l\nexit", None),
    ("back to itself", "socket_filter", "r0 = 0\nl:\nif r0 == 0 goto l\nexit",
     ("EINVAL", "infinite loop detected at insn 1")),
    # packet
    ("pkt no check", "xdp", "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit",
     ("EACCES", "R2 offset is outside of the packet")),
    ("pkt checked", "xdp", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\n"
     "if r4 > r3 goto out\nr0 = *(u8 *)(r2 + 13)\nout:\nr0 = 2\nexit", None),
    ("pkt checked too short", "xdp", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\n"
     "if r4 > r3 goto out\nr0 = *(u8 *)(r2 + 14)\nout:\nr0 = 2\nexit",
     ("EACCES", "R2 offset is outside of the packet")),
    ("pkt in socket filter", "socket_filter", "r2 = *(u32 *)(r1 + 76)\nr0 = 0\nexit",
     ("EACCES", "invalid bpf_context access off=76 size=4")),
    ("tc pkt write", "sched_cls", "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\nr4 = r2\nr4 += 1\n"
     "if r4 > r3 goto out\nr5 = 1\n*(u8 *)(r2 + 0) = r5\nout:\nr0 = 0\nexit", None),
    # calls
    ("bpf2bpf", "socket_filter", "r1 = 1\ncall f\nexit\nf:\nr0 = r1\nr0 += 1\nexit", None),
    ("bpf2bpf uninit arg", "socket_filter", "call f\nexit\nf:\nr0 = r1\nexit", None),
    ("bpf2bpf r6 not passed", "socket_filter", "r6 = 1\ncall f\nexit\nf:\nr0 = r6\nexit", ("EACCES", "R6 !read_ok")),
    ("bpf2bpf returns stack", "socket_filter", "call f\nr0 = 0\nexit\nf:\nr0 = r10\nexit",
     ("EINVAL", "cannot return stack pointer to the caller")),
]
# replace the placeholder: a loop whose state never changes is an infinite loop
CASES = [c for c in CASES if c[0] != "infinite loop"]

RINGBUF = ".map rb ringbuf entries=4096\n"
CASES += [
    # references
    ("ringbuf submit", "kprobe", RINGBUF + "r1 = map[rb] ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\n"
     "if r0 == 0 goto out\nr1 = 7\n*(u64 *)(r0 + 0) = r1\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\n"
     "out:\nr0 = 0\nexit", None),
    ("ringbuf leak", "kprobe", RINGBUF + "r1 = map[rb] ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\n"
     "if r0 == 0 goto out\nr1 = 7\n*(u64 *)(r0 + 0) = r1\nout:\nr0 = 0\nexit",
     ("EINVAL", "BPF_EXIT instruction in main prog would lead to reference leak")),
    ("ringbuf no null check", "kprobe", RINGBUF + "r1 = map[rb] ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\n"
     "r1 = 7\n*(u64 *)(r0 + 0) = r1\nr0 = 0\nexit", ("EACCES", "R0 invalid mem access 'ringbuf_mem_or_null'")),
    ("ringbuf oob", "kprobe", RINGBUF + "r1 = map[rb] ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\n"
     "if r0 == 0 goto out\nr1 = 7\n*(u64 *)(r0 + 4) = r1\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\n"
     "out:\nr0 = 0\nexit", ("EACCES", "R0 min value is outside of the allowed memory range")),
    ("ringbuf size not const", "kprobe", RINGBUF + "r2 = *(u64 *)(r1 + 0)\nr1 = map[rb] ll\nr3 = 0\n"
     "call bpf_ringbuf_reserve\nr0 = 0\nexit", ("EACCES", "R2 is not a known constant'")),
    # calls and stack
    ("call depth", "socket_filter", "call f1\nexit\nf1:\ncall f2\nexit\nf2:\ncall f3\nexit\nf3:\ncall f4\nexit\n"
     "f4:\ncall f5\nexit\nf5:\ncall f6\nexit\nf6:\ncall f7\nexit\nf7:\ncall f8\nexit\nf8:\nr0 = 0\nexit",
     ("E2BIG", "the call stack of 9 frames is too deep")),
    ("combined stack", "socket_filter", "*(u64 *)(r10 - 512) = 0\ncall f\nr0 = 0\nexit\nf:\n"
     "*(u64 *)(r10 - 8) = 0\nr0 = 0\nexit", ("EACCES", "combined stack size of 2 calls is 528. Too large")),
    ("callee reads caller stack", "socket_filter", "*(u64 *)(r10 - 8) = 5\nr1 = r10\nr1 += -8\ncall f\nexit\n"
     "f:\nr0 = *(u64 *)(r1 + 0)\nexit", None),
    # ALU forms
    ("bswap and movsx", "socket_filter", "r1 = *(u32 *)(r1 + 0)\nr1 = be16 r1\nr2 = (s8)r1\nw3 = (s16)w1\n"
     "r1 = bswap64 r1\nr0 = 0\nexit", None),
    ("sdiv smod", "socket_filter", "r1 = 100\nr1 s/= -3\nr2 = 7\nr2 s%= 3\nr0 = 0\nexit", None),
    ("neg ptr", "socket_filter", "r1 = -r1\nr0 = 0\nexit", None),
    ("end ptr", "socket_filter", "r1 = be32 r1\nr0 = 0\nexit", None),
    # atomics
    ("atomic add stack", "socket_filter", "*(u64 *)(r10 - 8) = 0\nr1 = 1\nlock *(u64 *)(r10 - 8) += r1\n"
     "r0 = *(u64 *)(r10 - 8)\nexit", None),
    ("atomic fetch map", "socket_filter", ARR + lookup("a") + "if r0 == 0 goto out\nr1 = 1\n"
     "r1 = atomic64_fetch_add((u64 *)(r0 + 8), r1)\nout:\nr0 = 0\nexit", None),
    ("atomic ctx", "socket_filter", "r2 = 1\nlock *(u32 *)(r1 + 48) += r2\nr0 = 0\nexit",
     ("EACCES", "BPF_ATOMIC stores into R1 ctx is not allowed")),
    ("cmpxchg", "socket_filter", "*(u64 *)(r10 - 8) = 0\nr0 = 0\nr1 = 5\n"
     "r0 = atomic64_cmpxchg((u64 *)(r10 - 8), r0, r1)\nr0 = 0\nexit", None),
    # legacy packet loads
    ("ld_abs", "socket_filter", "r6 = r1\nr0 = *(u16 *)skb[12]\nexit", None),
    ("ld_abs no r6", "socket_filter", "r0 = *(u16 *)skb[12]\nexit", ("EACCES", "R6 !read_ok")),
    ("ld_abs in xdp", "xdp", "r6 = r1\nr0 = *(u16 *)skb[12]\nexit",
     ("EINVAL", "BPF_LD_[ABS|IND] instructions not allowed for this program type")),
    # stores
    ("st into ctx", "socket_filter", "*(u32 *)(r1 + 48) = 1\nr0 = 0\nexit", None),
    ("var stack write priv", "socket_filter", "r2 = *(u32 *)(r1 + 0)\nr2 &= 7\nr3 = r10\nr3 += -16\nr3 += r2\n"
     "*(u8 *)(r3 + 0) = 1\nr0 = 0\nexit", None),
    ("var stack read uninit priv", "socket_filter", "r2 = *(u32 *)(r1 + 0)\nr2 &= 7\nr3 = r10\nr3 += -16\n"
     "r3 += r2\nr0 = *(u8 *)(r3 + 0)\nexit", None),
    ("xdp pkt write", "xdp", "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 1\n"
     "if r4 > r3 goto out\n*(u8 *)(r2 + 0) = 1\nout:\nr0 = 2\nexit", None),
    ("pkt ptr leak to map", "xdp", ARR + "r6 = r1\n" + lookup("a") + "if r0 == 0 goto out\n"
     "r2 = *(u32 *)(r6 + 0)\n*(u64 *)(r0 + 0) = r2\nout:\nr0 = 2\nexit", None),
    # helpers with sizes
    ("zero size", "kprobe", "r1 = r10\nr1 += -8\nr2 = 0\ncall bpf_get_current_comm\nr0 = 0\nexit",
     ("EACCES", "R2 invalid zero-sized read: u64=[0,0]")),
    ("negative size", "kprobe", "r2 = *(u64 *)(r1 + 0)\nif r2 s> 8 goto out\nr1 = r10\nr1 += -8\n"
     "call bpf_get_current_comm\nout:\nr0 = 0\nexit",
     ("EACCES", "R2 min value is negative, either use unsigned or 'var &= const'")),
    ("smp id bounded", "socket_filter", ARR + "call bpf_get_smp_processor_id\nr6 = r0\n" + lookup("a")
     + "if r0 == 0 goto out\nr0 += r6\nr1 = *(u8 *)(r0 + 0)\nout:\nr0 = 0\nexit", None),
    ("perf output wrong map", "kprobe", MAP + "r2 = map[m] ll\nr3 = 0\nr4 = r10\nr4 += -8\n"
     "*(u64 *)(r10 - 8) = 0\nr5 = 8\ncall bpf_perf_event_output\nr0 = 0\nexit",
     ("EINVAL", "cannot pass map_type 1 into func bpf_perf_event_output#25")),
    # loops
    ("may_goto loop", "socket_filter", "r0 = 0\nl:\nmay_goto +2\nr0 += 1\ngoto l\nexit", None),
    ("loop with branch", "socket_filter", "r0 = 0\nr1 = 0\nl:\nr2 = r1\nr2 &= 1\nif r2 == 0 goto even\n"
     "r0 += 3\ngoto next\neven:\nr0 += 1\nnext:\nr1 += 1\nif r1 < 50 goto l\nexit", None),
]

CASES += [
    ("load-acquire from ctx", "socket_filter", "r0 = load_acquire((u32 *)(r1 + 0))\nexit",
     ("EACCES", "BPF_ATOMIC loads from R1 ctx is not allowed")),
    ("load-acquire from stack", "socket_filter", "*(u64 *)(r10 - 8) = 1\nr0 = load_acquire((u64 *)(r10 - 8))\n"
     "exit", None),
    ("sk arg wrong type", "sched_cls", "r2 = r1\nr3 = 0\ncall bpf_sk_assign\nr0 = 0\nexit",
     ("EACCES", "R2 type=ctx expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_")),
]
