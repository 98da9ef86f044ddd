"""Return values: R0 initialized at exit, ranges per program type (cgroup_skb [0, 1] on ingress), pointer
returns, unknown scalars narrowed by branches and masks."""
from __future__ import annotations

from cases import ACCEPT, REJECT, Case

TYPES = ["socket_filter", "kprobe", "tracepoint", "raw_tracepoint", "xdp", "sched_cls", "cgroup_skb", "perf_event"]

# (label, body ending in exit, types that accept it)
RETURNS = [
    ("const_0", "  r0 = 0\n  exit\n", set(TYPES)),
    ("const_1", "  r0 = 1\n  exit\n", set(TYPES)),
    ("const_2", "  r0 = 2\n  exit\n", set(TYPES) - {"cgroup_skb"}),
    ("const_neg1", "  r0 = -1\n  exit\n", set(TYPES) - {"cgroup_skb"}),
    ("uninit", "  exit\n", set()),
    ("scalar_unknown", "  r0 = *(u32 *)(r1 + CTX_SCALAR)\n  exit\n",
     set(TYPES) - {"cgroup_skb"}),
    ("scalar_masked_1", "  r0 = *(u32 *)(r1 + CTX_SCALAR)\n  r0 &= 1\n  exit\n", set(TYPES)),
    ("scalar_branch_bounded", "  r0 = *(u32 *)(r1 + CTX_SCALAR)\n  if r0 < 2 goto +1\n  r0 = 0\n  exit\n",
     set(TYPES)),
    ("scalar_rsh_63", "  r0 = *(u32 *)(r1 + CTX_SCALAR)\n  r0 >>= 31\n  exit\n", set(TYPES)),
    ("ctx_pointer", "  r0 = r1\n  exit\n", set(TYPES) - {"cgroup_skb"}),
    ("stack_pointer", "  r0 = r10\n  exit\n", set(TYPES) - {"cgroup_skb"}),
    ("upper_bits_set", "  r0 = 0x100000000 ll\n  exit\n", set(TYPES) - {"cgroup_skb"}),
    ("w0_const_1", "  w0 = 1\n  exit\n", set(TYPES)),
]
#: a readable u32 scalar in each context
CTX_SCALAR = {"socket_filter": 0, "kprobe": 8, "tracepoint": 8, "raw_tracepoint": 0, "xdp": 12, "sched_cls": 0,
              "cgroup_skb": 0, "perf_event": 168}

CASES = [
    Case(f"ret_{ptype}_{label}", body.replace("CTX_SCALAR", str(CTX_SCALAR[ptype])), prog_type=ptype,
         expect=ACCEPT if ptype in good else REJECT)
    for label, body, good in RETURNS for ptype in TYPES
] + [
    Case("ret_socket_filter_pointer_unpriv", "  r0 = r1\n  exit\n", privileged=False, expect=REJECT),
    Case("ret_socket_filter_const_unpriv", "  r0 = 0\n  exit\n", privileged=False),
    Case("ret_socket_filter_uninit_unpriv", "  exit\n", privileged=False, expect=REJECT),
    Case("ret_cgroup_skb_one_path_bad", "  r0 = *(u32 *)(r1 + 0)\n  if r0 > 5 goto +2\n  r0 = 1\n  exit\n"
         "  r0 = 7\n  exit\n", prog_type="cgroup_skb", expect=REJECT),
    Case("ret_cgroup_skb_one_path_uninit", "  r2 = *(u32 *)(r1 + 0)\n  if r2 > 5 goto +2\n  r0 = 1\n  exit\n"
         "  exit\n", prog_type="cgroup_skb", expect=REJECT),
]
