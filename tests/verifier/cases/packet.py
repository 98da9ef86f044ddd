"""Direct packet access: reads and writes against data_end checks (all comparison forms), off-by-one bounds,
variable offsets, pointer arithmetic on packet pointers, data_meta, per program type (xdp, tc, cgroup_skb)."""
from __future__ import annotations

from cases import ACCEPT, REJECT, Case

# where data / data_end / data_meta live in each context, and a return value every type accepts
LAYOUT = {"xdp": (0, 4, 8), "sched_cls": (76, 80, 140), "cgroup_skb": (76, 80, None)}


#: a u32 scalar field of each context (ingress_ifindex, len)
SCALAR = {"xdp": 12, "sched_cls": 0, "cgroup_skb": 0}


def _prog(ptype: str, body: str) -> str:
    data, end, meta = LAYOUT[ptype]
    head = f"  r2 = *(u32 *)(r1 + {data})\n  r3 = *(u32 *)(r1 + {end})\n"
    return head + body.replace("SCALAR", str(SCALAR[ptype])) + "  r0 = 1\n  exit\n"


def pkt(name: str, ptype: str, body: str, good: bool, **kw) -> Case:
    return Case(f"pkt_{ptype}_{name}", _prog(ptype, body), prog_type=ptype, expect=ACCEPT if good else REJECT, **kw)


CHECKED = "  r4 = r2\n  r4 += 14\n  if r4 > r3 goto +{n}\n"

BODIES = [
    # (label, body, ok for xdp, ok for sched_cls, ok for cgroup_skb)
    ("read_unchecked", "  r0 = *(u8 *)(r2 + 0)\n", False, False, False),
    ("read_checked", CHECKED.format(n=1) + "  r0 = *(u8 *)(r2 + 13)\n", True, True, True),
    ("read_checked_u32", CHECKED.format(n=1) + "  r0 = *(u32 *)(r2 + 8)\n", True, True, True),
    ("read_checked_off_by_one", CHECKED.format(n=1) + "  r0 = *(u8 *)(r2 + 14)\n", False, False, False),
    ("read_checked_u16_straddle", CHECKED.format(n=1) + "  r0 = *(u16 *)(r2 + 13)\n", False, False, False),
    ("read_wrong_branch", "  r4 = r2\n  r4 += 14\n  if r4 <= r3 goto +1\n  r0 = *(u8 *)(r2 + 0)\n",
     False, False, False),
    ("read_check_ge", "  r4 = r2\n  r4 += 14\n  if r3 >= r4 goto +1\n  goto +1\n  r0 = *(u8 *)(r2 + 0)\n",
     True, True, True),
    ("read_check_lt", "  r4 = r2\n  r4 += 14\n  if r3 < r4 goto +1\n  r0 = *(u8 *)(r2 + 0)\n", True, True, True),
    ("read_negative_off", CHECKED.format(n=1) + "  r0 = *(u8 *)(r2 - 1)\n", False, False, False),
    ("write_checked", CHECKED.format(n=2) + "  r0 = 0\n  *(u8 *)(r2 + 0) = r0\n", True, True, False),
    ("write_unchecked", "  r0 = 0\n  *(u32 *)(r2 + 0) = r0\n", False, False, False),
    ("st_checked", CHECKED.format(n=1) + "  *(u16 *)(r2 + 12) = 8\n", True, True, False),
    ("var_off_masked", CHECKED.format(n=5) + "  r5 = *(u8 *)(r2 + 0)\n  r5 &= 7\n  r2 += r5\n  r4 = r2\n"
     "  r0 = *(u8 *)(r4 + 0)\n", False, False, False),
    ("var_off_rechecked", "  r5 = *(u32 *)(r1 + SCALAR)\n  r5 &= 0xff\n  r2 += r5\n" + CHECKED.format(n=1)
     + "  r0 = *(u8 *)(r2 + 13)\n", True, True, True),
    ("var_off_unbounded", "  r5 = *(u32 *)(r1 + SCALAR)\n  r2 += r5\n" + CHECKED.format(n=1)
     + "  r0 = *(u8 *)(r2 + 0)\n", False, False, False),
    ("var_off_64bit_unbounded", "  r5 = *(u32 *)(r1 + SCALAR)\n  r5 <<= 32\n  r2 += r5\n" + CHECKED.format(n=1)
     + "  r0 = *(u8 *)(r2 + 0)\n", False, False, False),
    ("ptr_bitwise", "  r2 &= 0xff\n", False, False, False),
    ("ptr_sub_ptr_len", "  r3 -= r2\n  r0 = r3\n", True, True, True),
    ("end_arith", "  r3 += 1\n", False, False, False),
    ("end_deref", "  r0 = *(u8 *)(r3 + 0)\n", False, False, False),
    ("const_offset_1000", "  r2 += 1000\n" + CHECKED.format(n=1) + "  r0 = *(u8 *)(r2 + 0)\n", True, True, True),
    ("large_const_offset", "  r2 += 0xffff\n" + CHECKED.format(n=1) + "  r0 = *(u8 *)(r2 + 0)\n",
     False, False, False),
    ("huge_const_offset", "  r2 += 0x10000\n" + CHECKED.format(n=1) + "  r0 = *(u8 *)(r2 + 0)\n",
     False, False, False),
    ("spill_fill_pkt_ptr", CHECKED.format(n=3) + "  *(u64 *)(r10 - 8) = r2\n  r6 = *(u64 *)(r10 - 8)\n"
     "  r0 = *(u8 *)(r6 + 1)\n", True, True, True),
    ("check_on_copy", "  r4 = r2\n  r4 += 8\n  r5 = r4\n  if r5 > r3 goto +1\n  r0 = *(u64 *)(r2 + 0)\n",
     True, True, True),
]

CASES = []
for label, body, x, c, g in BODIES:
    CASES.append(pkt(label, "xdp", body, x))
    CASES.append(pkt(label, "sched_cls", body, c))
    CASES.append(pkt(label, "cgroup_skb", body, g))
CASES += [
    Case("pkt_xdp_meta_checked", "  r2 = *(u32 *)(r1 + 8)\n  r3 = *(u32 *)(r1 + 0)\n  r4 = r2\n  r4 += 4\n"
         "  if r4 > r3 goto +1\n  r0 = *(u32 *)(r2 + 0)\n  r0 = 2\n  exit\n", prog_type="xdp"),
    Case("pkt_xdp_meta_unchecked", "  r2 = *(u32 *)(r1 + 8)\n  r0 = *(u32 *)(r2 + 0)\n  r0 = 2\n  exit\n",
         prog_type="xdp", expect=REJECT),
    Case("pkt_xdp_meta_against_data_end", "  r2 = *(u32 *)(r1 + 8)\n  r3 = *(u32 *)(r1 + 4)\n  r4 = r2\n"
         "  r4 += 4\n  if r4 > r3 goto +1\n  r0 = *(u32 *)(r2 + 0)\n  r0 = 2\n  exit\n", prog_type="xdp",
         expect=REJECT),
    Case("pkt_tc_pull_data_invalidates", "  r6 = r1\n  r2 = *(u32 *)(r1 + 76)\n  r3 = *(u32 *)(r1 + 80)\n"
         "  r4 = r2\n  r4 += 14\n  if r4 > r3 goto +5\n  r1 = r6\n  r2 = 0\n  call bpf_skb_pull_data\n"
         "  r2 = *(u32 *)(r6 + 76)\n  r0 = *(u8 *)(r4 - 1)\n  r0 = 0\n  exit\n", prog_type="sched_cls", expect=REJECT),
    Case("pkt_tc_reload_after_pull", "  r6 = r1\n  r1 = r6\n  r2 = 0\n  call bpf_skb_pull_data\n"
         "  r2 = *(u32 *)(r6 + 76)\n  r3 = *(u32 *)(r6 + 80)\n  r4 = r2\n  r4 += 14\n  if r4 > r3 goto +1\n"
         "  r0 = *(u8 *)(r2 + 13)\n  r0 = 0\n  exit\n", prog_type="sched_cls"),
]
