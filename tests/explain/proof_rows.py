"""The proof table's C and Python-probe rows (the assembly rows are explain_cases.CASES): each a rejected program
with the explanation parts it must get, and the program the class's suggested fix gives.

A row's `fixed` is the broken source with one edit applied (`(old, new)`), so the table shows the fix as the
change a learner would make. C rows are compiled by clang with BTF (line_info gives the C line); Python rows are
probe modules (the probe's `prog` function), written to a file and imported so the explanation can quote them.
"""
from __future__ import annotations

from dataclasses import dataclass

C_HEAD = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
ARR8 = ("struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64[8]); "
        "__uint(max_entries, 1); } arr SEC(\".maps\");\n")
HASH = ("struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); "
        "__uint(max_entries, 16); } m SEC(\".maps\");\n")
LICENSE = "char _license[] SEC(\"license\") = \"GPL\";\n"


@dataclass(frozen=True)
class Row:
    lang: str  # "c" or "py"
    rule: str  # the catalogue class (verifier/explain.py CATALOGUE)
    broken: str
    edit: tuple[str, str]  # the fix: replace edit[0] by edit[1] in `broken`
    where: str  # the source line the explanation must name (a suffix of `Explanation.source`)
    path: str  # a phrase of the `path:` line
    why: str  # a phrase the `why:` lines must contain

    @property
    def fixed(self) -> str:
        assert self.edit[0] in self.broken, self.edit
        return self.broken.replace(self.edit[0], self.edit[1], 1)


def _c(body: str, maps: str = "") -> str:
    return C_HEAD + maps + body + LICENSE


def _lookup(body: str, ret: str = "0", sec: str = "socket", ctx: str = "struct __sk_buff *skb") -> str:
    return _c(f"SEC(\"{sec}\")\nint prog({ctx})\n{{\n\t__u32 key = 0;\n\t__u64 *v = bpf_map_lookup_elem(&arr, "
              f"&key);\n{body}\treturn {ret};\n}}\n", ARR8)


C_ROWS = [
    Row("c", "null-deref", _lookup("", "*v").replace("&arr", "&m").replace(ARR8, HASH),
        ("\treturn *v;", "\tif (!v)\n\t\treturn 0;\n\treturn *v;"),
        "return *v;", "straight from the entry", "r0 is the result of `call bpf_map_lookup_elem#1`"),
    Row("c", "unbounded-size", _lookup("\tif (!v)\n\t\treturn 0;\n\t__u32 i = bpf_get_prandom_u32();\n", "v[i]"),
        ("__u32 i = bpf_get_prandom_u32();", "__u32 i = bpf_get_prandom_u32() & 7;"), "return v[i];",
        "`if r6 == 0x0 goto pc+6`: not taken", "r0 is the result of `call bpf_get_prandom_u32#7`"),
    Row("c", "mem-range", _lookup("\tif (!v)\n\t\treturn 0;\n\t__u32 i = skb->len;\n\tif (i > 8)\n\t\treturn 0;\n",
                                  "v[i]"), ("if (i > 8)", "if (i >= 8)"), "return v[i];",
        "`if r1 > 0x8 goto pc+3`: not taken", "narrowed r1"),
    Row("c", "unbounded-math", _lookup("\tif (!v)\n\t\treturn 0;\n\tint i = skb->mark;\n\tif (i >= 8)\n\t\treturn "
                                       "0;\n", "v[i]"), ("int i = skb->mark;", "__u32 i = skb->mark;"),
        "return v[i];", "`if r1 s> 0x7 goto pc+3`: not taken", "no comparison on this path narrowed"),
    Row("c", "pkt-range", _c("SEC(\"xdp\")\nint prog(struct xdp_md *ctx)\n{\n\tvoid *data = (void *)(long)"
                             "ctx->data;\n\tvoid *data_end = (void *)(long)ctx->data_end;\n\t__u8 *p = data;\n"
                             "\tif (p[12] == 8)\n\t\treturn XDP_DROP;\n\treturn XDP_PASS;\n}\n"),
        ("\tif (p[12] == 8)", "\tif ((void *)(p + 13) > data_end)\n\t\treturn XDP_PASS;\n\tif (p[12] == 8)"),
        "if (p[12] == 8)", "straight from the entry", "pkt(r=0)"),
    Row("c", "pkt-outside", _c("SEC(\"xdp\")\nint prog(struct xdp_md *ctx)\n{\n\tvoid *data = (void *)(long)"
                               "ctx->data;\n\tvoid *data_end = (void *)(long)ctx->data_end;\n\t__u8 *p = data;\n"
                               "\tif ((void *)(p + 14) > data_end)\n\t\treturn XDP_PASS;\n\tif (p[23] == 17)\n"
                               "\t\treturn XDP_DROP;\n\treturn XDP_PASS;\n}\n"), ("p + 14)", "p + 24)"),
        "if (p[23] == 17)", "not taken", "proved 14 bytes after r1 readable (r=14), but this access reads bytes 23"),
    Row("c", "return-range", _c("SEC(\"cgroup_skb/ingress\")\nint prog(struct __sk_buff *skb)\n{\n\tif (skb->len "
                                "> 100)\n\t\treturn 2;\n\treturn 1;\n}\n"), ("return 2;", "return 0;"), "}",
        "`if r1 > 0x64 goto pc+1`: taken", "r0 was set by `r0 = 2`"),
    Row("c", "return-range", _c("SEC(\"cgroup_skb/ingress\")\nint prog(struct __sk_buff *skb)\n{\n\treturn skb->len"
                                " & 3;\n}\n"), ("skb->len & 3", "skb->len & 1"), "return skb->len & 3;",
        "straight from the entry", "r0 became"),
    Row("c", "unreleased-ref", _c("SEC(\"tracepoint/syscalls/sys_enter_openat\")\nint prog(void *ctx)\n{\n\t__u32 *e"
                                  " = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);\n\tif (!e)\n\t\treturn 0;\n\t*e = "
                                  "bpf_get_current_pid_tgid();\n\tif (*e == 1)\n\t\treturn 0;\n\tbpf_ringbuf_submit("
                                  "e, 0);\n\treturn 0;\n}\n", "struct { __uint(type, BPF_MAP_TYPE_RINGBUF); "
                                  "__uint(max_entries, 4096); } rb SEC(\".maps\");\n"),
        ("\tif (*e == 1)\n\t\treturn 0;\n", ""), "}", "`if r0 == 0x1 goto pc+3`: taken",
        "acquired by `call bpf_ringbuf_reserve#131`"),
    Row("c", "scalar-deref", _c("SEC(\"socket\")\nint prog(struct __sk_buff *skb)\n{\n\tlong *p = (long *)(long)"
                                "skb->mark;\n\treturn *p;\n}\n"),
        ("\tlong *p = (long *)(long)skb->mark;\n\treturn *p;", "\treturn skb->mark;"), "return *p;",
        "straight from the entry", "r1 became a number"),
    Row("c", "ctx-access", _c("SEC(\"socket\")\nint prog(struct __sk_buff *skb)\n{\n\treturn ((__u32 *)skb)[100];"
                              "\n}\n"), ("((__u32 *)skb)[100]", "skb->len"), "return ((__u32 *)skb)[100];",
        "straight from the entry", "offset 400"),
    Row("c", "unknown-helper", _c("SEC(\"socket\")\nint prog(struct __sk_buff *skb)\n{\n\treturn bpf_redirect(1, 0)"
                                  ";\n}\n"), ("bpf_redirect(1, 0)", "bpf_get_prandom_u32() & 1"),
        "return bpf_redirect(1, 0);", "straight from the entry", "socket_filter programs"),
    Row("c", "helper-arg", _c("SEC(\"socket\")\nint prog(struct __sk_buff *skb)\n{\n\t__u32 key = 0;\n\t__u64 *v = "
                              "bpf_map_lookup_elem(&m, (void *)0);\n\treturn v ? *v : 0;\n}\n", HASH),
        ("(void *)0)", "&key)"), "__u64 *v = bpf_map_lookup_elem(&m, (void *)0);", "straight from the entry",
        "r2 was set by `r2 = 0`"),
    Row("c", "zero-size", _c("SEC(\"tracepoint/syscalls/sys_enter_openat\")\nint prog(void *ctx)\n{\n\tchar buf[16]"
                             ";\n\t__u32 n = bpf_get_prandom_u32() & 15;\n\tbpf_get_current_comm(buf, n);\n\treturn "
                             "buf[0];\n}\n"), ("& 15;", "& 15;\n\tif (n < 1)\n\t\treturn 0;"),
        "bpf_get_current_comm(buf, n);", "straight from the entry", "r2 is a copy of r0"),
    Row("c", "map-readonly", _c("const volatile int limit = 5;\nSEC(\"socket\")\nint prog(struct __sk_buff *skb)\n"
                                "{\n\t*(volatile int *)&limit = skb->len;\n\treturn 0;\n}\n"),
        ("const volatile int limit = 5;", "volatile int limit = 5;"), "*(volatile int *)&limit = skb->len;",
        "straight from the entry", "r2 was loaded by"),
    Row("c", "atomic-ctx", _c("SEC(\"socket\")\nint prog(struct __sk_buff *skb)\n{\n\t__sync_fetch_and_add(&skb->"
                              "mark, 1);\n\treturn 0;\n}\n", ARR8),
        ("__sync_fetch_and_add(&skb->mark, 1);", "__u32 key = 0;\n\t__u64 *v = bpf_map_lookup_elem(&arr, &key);\n"
         "\tif (v)\n\t\t__sync_fetch_and_add(v, 1);"), "__sync_fetch_and_add(&skb->mark, 1);",
        "straight from the entry", "r1 is the context pointer"),
    Row("c", "callback-ret", _c("static long cb(__u32 i, void *ctx) { return 2; }\nSEC(\"socket\")\nint prog(struct "
                                "__sk_buff *skb)\n{\n\tbpf_loop(4, cb, 0, 0);\n\treturn 0;\n}\n"),
        ("return 2;", "return 1;"), "static long cb(__u32 i, void *ctx) { return 2; }", "straight from the entry",
        "r0 was set by `r0 = 2`"),
    Row("c", "var-stack", _c("SEC(\"socket\")\nint prog(struct __sk_buff *skb)\n{\n\tvolatile char buf[8] = {};\n"
                             "\t__u32 i = skb->len & 15;\n\tbuf[i] = 1;\n\treturn buf[0];\n}\n"),
        ("buf[i] = 1;", "buf[1] = i;"),
        "buf[i] = 1;", "straight from the entry", "r2 became fp"),
    Row("c", "unbounded-math", _c("SEC(\"xdp\")\nint prog(struct xdp_md *ctx)\n{\n\tvoid *data = (void *)(long)ctx->"
                                  "data;\n\tvoid *data_end = (void *)(long)ctx->data_end;\n\t__u32 key = 0;\n"
                                  "\t__u64 *off = bpf_map_lookup_elem(&arr, &key);\n\tif (!off)\n\t\treturn "
                                  "XDP_PASS;\n\t__u8 *p = data + *off;\n\tif ((void *)(p + 1) > data_end)\n\t\t"
                                  "return XDP_PASS;\n\treturn *p == 1 ? XDP_DROP : XDP_PASS;\n}\n", ARR8),
        ("data + *off;", "data + (*off & 0xff);"), "__u8 *p = data + *off;", "`if r1 == 0x0 goto pc+9`: not taken",
        "r1 was read from a map_value by `r1 = *(u64 *)(r1 +0)`"),
]

PY_HEAD = ("from pyebpf.probe import probe, HashMap, Array, u32, u64, s64, random, pid, XDP_PASS, XDP_DROP\n"
           "from pyebpf.probe.headers import Udp\n\ncounts = HashMap(u32, u64, max_entries=16)\n\n")


def _py(section: str, body: str) -> str:
    return PY_HEAD + f"@probe(\"{section}\")\ndef prog(ctx):\n" + body


PY_ROWS = [
    Row("py", "return-range", _py("cgroup_skb/ingress", "    if ctx.len > 100:\n        return 2\n    return 1\n"),
        ("return 2", "return 0"), "return 2", "taken", "r0 was set by `r0 = 2`"),
    Row("py", "return-range", _py("cgroup_skb/ingress", "    return ctx.len\n"), ("ctx.len", "ctx.len > 100"),
        "return ctx.len", "straight from the entry", "r0 is a copy of r1"),
    Row("py", "return-range", _py("cgroup_skb/ingress", "    if ctx.len > 100:\n        return ctx.len & 3\n"
                                  "    return 1\n"), ("ctx.len & 3", "ctx.len & 1"), "return ctx.len & 3",
        "not taken", "r1 became scalar(smin=smin32=0,smax=umax=smax32=umax32=3"),
    Row("py", "return-range", _py("cgroup_skb/ingress", "    return counts.get(pid(), 0)\n"),
        ("counts.get(pid(), 0)", "counts.get(pid(), 0) & 1"), "return counts.get(pid(), 0)", "taken",
        "r6 was read from a map_value by `r6 = *(u64 *)(r1 +0)`"),
    Row("py", "return-range", _py("cgroup_skb/ingress", "    return random() & 7\n"), ("& 7", "& 1"),
        "return random() & 7", "straight from the entry",
        "r0 is the result of `call bpf_get_prandom_u32#7`"),
    Row("py", "infinite-loop", _py("xdp", "    i = 0\n    while i < 10:\n        pass\n    return XDP_PASS\n"),
        ("        pass\n", "        i += 1\n"), "while i < 10:", "taken", "was reached again with exactly the state"),
    Row("py", "infinite-loop", _py("xdp", "    n = 0\n    while n < 3:\n        n = n * 1\n    return XDP_PASS\n"),
        ("n = n * 1", "n = n + 1"), "while n < 3:", "taken", "was reached again with exactly the state"),
    Row("py", "unbounded-math", _py("xdp", "    off = random()\n    udp = ctx.header(Udp, off)\n    if udp.dport == "
                                    "53:\n        return XDP_DROP\n    return XDP_PASS\n"),
        ("off = random()", "off = random() & 0xff"), "udp = ctx.header(Udp, off)", "straight from the entry",
        "r0 is the result of `call bpf_get_prandom_u32#7`"),
    Row("py", "unbounded-math", _py("xdp", "    off = counts.get(1, 0)\n    udp = ctx.header(Udp, off)\n    return "
                                    "XDP_PASS\n"), ("counts.get(1, 0)", "counts.get(1, 0) & 63"),
        "udp = ctx.header(Udp, off)", "", "no comparison on this path narrowed"),
]

PY_ROWS += [
    Row("py", "return-range", _py("cgroup_skb/ingress", "    x = ctx.len\n    if x > 1:\n        x = 5\n"
                                  "    return x\n"), ("x = 5", "x = 0"), "return x", "not taken", "r1 was set by `r1 = 5`"),
    Row("py", "infinite-loop", _py("xdp", "    i = 0\n    while i != 4:\n        i = i & 3\n    return XDP_PASS\n"),
        ("i = i & 3", "i = i + 1"), "while i != 4:", "taken", "the back-edge is insn"),
]

ROWS = C_ROWS + PY_ROWS
