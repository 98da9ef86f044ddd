"""The program types added for issue 10 (SK_MSG, SK_SKB, SOCK_OPS, CGROUP_SOCK(_ADDR), CGROUP_SOCKOPT/SYSCTL,
FLOW_DISSECTOR, LWT_*) against the running kernel: what their ctx pointer fields load (packet, socket,
socket-or-NULL, flow keys), which may write their packet, the load-time expected_attach_type check, and return
ranges that depend on the attach type. Same verdict and same error line as BPF_PROG_LOAD."""
from __future__ import annotations

import pytest

from kernel_oracle import kernel_load
from pyebpf.abi.prog_types import AttachType as A
from pyebpf.abi.prog_types import ProgType as P
from pyebpf.isa.assembler import assemble
from pyebpf.verifier import verify

_PKT_READ = """r2 = *(u{w} *)(r1 +{d})
r3 = *(u{w} *)(r1 +{e})
r4 = r2
r4 += 4
if r4 > r3 goto +{skip}
r0 = *(u32 *)(r2 +0)
{write}r0 = {ret}
exit"""


def _pkt(w: int, d: int, e: int, write: bool, ret: int = 0) -> str:
    return _PKT_READ.format(w=w, d=d, e=e, write="*(u32 *)(r2 +0) = r0\n" if write else "", ret=ret,
                            skip=2 if write else 1)


CASES = {
    # name: (prog type, expected_attach_type, program text)
    "sk_msg_pkt_write": (P.SK_MSG, None, _pkt(64, 0, 8, True)),
    "sk_msg_data_u32": (P.SK_MSG, None, "r2 = *(u32 *)(r1 +0)\nr0 = 0\nexit"),
    "sk_msg_sk": (P.SK_MSG, None, "r2 = *(u64 *)(r1 +72)\nr0 = *(u32 *)(r2 +4)\nr0 = 0\nexit"),
    "sk_skb_pkt_write": (P.SK_SKB, None, _pkt(32, 76, 80, True)),
    "sk_skb_mark": (P.SK_SKB, None, "r0 = *(u32 *)(r1 +8)\nr0 = 0\nexit"),
    "lwt_in_pkt_write": (P.LWT_IN, None, _pkt(32, 76, 80, True)),
    "lwt_xmit_pkt_write": (P.LWT_XMIT, None, _pkt(32, 76, 80, True)),
    "lwt_out_pkt_read": (P.LWT_OUT, None, _pkt(32, 76, 80, False)),
    "sock_ops_sk_unchecked": (P.SOCK_OPS, None, "r2 = *(u64 *)(r1 +184)\nr0 = *(u32 *)(r2 +4)\nr0 = 0\nexit"),
    "sock_ops_sk_checked": (P.SOCK_OPS, None,
                            "r2 = *(u64 *)(r1 +184)\nif r2 == 0 goto +1\nr0 = *(u32 *)(r2 +4)\nr0 = 0\nexit"),
    "sock_ops_pkt_read": (P.SOCK_OPS, None, _pkt(64, 192, 200, False)),
    "sock_ops_pkt_write": (P.SOCK_OPS, None, _pkt(64, 192, 200, True)),
    "sock_ops_reply": (P.SOCK_OPS, None, "r2 = 7\n*(u32 *)(r1 +4) = r2\nr0 = 1\nexit"),
    "flow_keys_store": (P.FLOW_DISSECTOR, None, "r2 = *(u64 *)(r1 +144)\nr3 = 0\n*(u16 *)(r2 +0) = r3\nr0 = 0\nexit"),
    "flow_keys_past_end": (P.FLOW_DISSECTOR, None, "r2 = *(u64 *)(r1 +144)\nr0 = *(u8 *)(r2 +56)\nr0 = 0\nexit"),
    "flow_keys_offset_ptr": (P.FLOW_DISSECTOR, None,
                             "r2 = *(u64 *)(r1 +144)\nr2 += 52\nr0 = *(u32 *)(r2 +0)\nr0 = 0\nexit"),
    "flow_dissector_pkt_write": (P.FLOW_DISSECTOR, None, _pkt(32, 76, 80, True)),
    "sock_addr_sk": (P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT,
                     "r2 = *(u64 *)(r1 +64)\nr0 = *(u32 *)(r2 +4)\nr0 = 1\nexit"),
    "sock_addr_no_attach": (P.CGROUP_SOCK_ADDR, None, "r0 = 1\nexit"),
    "sock_addr_bind_ret3": (P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, "r0 = 3\nexit"),
    "sock_addr_connect_ret3": (P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, "r0 = 3\nexit"),
    "sock_addr_recvmsg_ret0": (P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, "r0 = 0\nexit"),
    "cg_sock_default_attach_mark": (P.CGROUP_SOCK, None, "r2 = 1\n*(u32 *)(r1 +16) = r2\nr0 = 1\nexit"),
    "cg_sock_post_bind_mark": (P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, "r2 = 1\n*(u32 *)(r1 +16) = r2\nr0 = 1\nexit"),
    "cg_sock_wrong_attach": (P.CGROUP_SOCK, A.CGROUP_INET4_CONNECT, "r0 = 1\nexit"),
    "sockopt_optval_write": (P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, _pkt(64, 8, 16, True, 1)),
    "sockopt_sk": (P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, "r2 = *(u64 *)(r1 +0)\nr0 = *(u32 *)(r2 +4)\nr0 = 1\nexit"),
    "sockopt_no_attach": (P.CGROUP_SOCKOPT, None, "r0 = 1\nexit"),
    "sk_lookup_sk_unchecked": (P.SK_LOOKUP, A.SK_LOOKUP, "r2 = *(u64 *)(r1 +0)\nr0 = *(u32 *)(r2 +4)\nr0 = 1\nexit"),
    "sk_lookup_assign_null": (P.SK_LOOKUP, A.SK_LOOKUP, "r2 = 0\nr3 = 0\ncall 124\nr0 = 1\nexit"),
    "sk_lookup_assign_scalar": (P.SK_LOOKUP, A.SK_LOOKUP, "r2 = 8\nr3 = 0\ncall 124\nr0 = 1\nexit"),
    "sk_lookup_no_attach": (P.SK_LOOKUP, None, "r0 = 1\nexit"),
    "sk_lookup_ret2": (P.SK_LOOKUP, A.SK_LOOKUP, "r0 = 2\nexit"),
    "cgroup_device_minor_u16": (P.CGROUP_DEVICE, None, "r0 = *(u16 *)(r1 +8)\nr0 = 1\nexit"),
    "sysctl_file_pos_write": (P.CGROUP_SYSCTL, None, "r2 = 0\n*(u32 *)(r1 +4) = r2\nr0 = 1\nexit"),
    "sysctl_write_write": (P.CGROUP_SYSCTL, None, "r2 = 0\n*(u32 *)(r1 +0) = r2\nr0 = 1\nexit"),
}


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(CASES))
def test_program_type_rules_as_kernel(name):
    pt, attach, text = CASES[name]
    program = assemble(text)
    ours = verify(program, pt, attach_type=attach, raise_on_reject=False)
    kern = kernel_load(program, int(pt), expected_attach_type=int(attach or 0))
    assert ours.accepted == kern.accepted, f"kernel: {kern.last_error!r} / ours: {ours.error}"
    if not kern.accepted and kern.log:
        assert ours.error.message == kern.last_error
