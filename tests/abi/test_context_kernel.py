"""Compare context.py's ctx_access_ok() and return ranges with the running kernel, offset by offset."""

from __future__ import annotations

import pytest

from pyebpf.abi.context import CONTEXTS, SYSCALL_CTX_MAX, ctx_access_ok, return_range
from pyebpf.abi.prog_types import AttachType, ProgType
from rawbpf import EXIT, LDX_MEM, MOV64_IMM, STX_MEM, insn, prog_load

CTX_REG, TMP_REG = 1, 2
SIZES = (1, 2, 4, 8)
CASES = [
    (ProgType.SOCKET_FILTER, None), (ProgType.SCHED_CLS, None), (ProgType.SCHED_ACT, None),
    (ProgType.CGROUP_SKB, None), (ProgType.XDP, None), (ProgType.XDP, AttachType.XDP_DEVMAP),
    (ProgType.KPROBE, None), (ProgType.PERF_EVENT, None), (ProgType.RAW_TRACEPOINT, None),
    (ProgType.TRACEPOINT, None),
    (ProgType.LWT_IN, None), (ProgType.LWT_OUT, None), (ProgType.LWT_XMIT, None), (ProgType.LWT_SEG6LOCAL, None),
    (ProgType.SK_SKB, None), (ProgType.FLOW_DISSECTOR, None), (ProgType.SK_MSG, None), (ProgType.SOCK_OPS, None),
    (ProgType.CGROUP_SYSCTL, None),
    *((ProgType.CGROUP_SOCK, a) for a in (None, AttachType.CGROUP_INET_SOCK_RELEASE,
                                          AttachType.CGROUP_INET4_POST_BIND, AttachType.CGROUP_INET6_POST_BIND)),
    *((ProgType.CGROUP_SOCK_ADDR, a) for a in (AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_INET6_BIND,
                                               AttachType.CGROUP_UDP4_SENDMSG, AttachType.CGROUP_UDP6_SENDMSG,
                                               AttachType.CGROUP_UNIX_CONNECT)),  # recvmsg hooks must return 1
    (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT), (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_SETSOCKOPT),
    (ProgType.SK_LOOKUP, AttachType.SK_LOOKUP), (ProgType.CGROUP_DEVICE, None), (ProgType.SK_REUSEPORT, None),
    (ProgType.NETFILTER, AttachType.NETFILTER), (ProgType.RAW_TRACEPOINT_WRITABLE, None),
]
SLACK = 8  # also probe a little past the end of each struct and before its start


def _access_prog(off: int, size: int, write: bool) -> list[bytes]:
    if write:
        body = [insn(MOV64_IMM, TMP_REG, imm=0), insn(STX_MEM[size], CTX_REG, TMP_REG, off=off)]
    else:
        body = [insn(LDX_MEM[size], 0, CTX_REG, off=off)]
    return body + [insn(MOV64_IMM, 0, imm=0), insn(EXIT)]


@pytest.mark.kernel
@pytest.mark.parametrize("pt, attach", CASES, ids=lambda c: getattr(c, "name", str(c)).lower())
def test_ctx_access_matches_kernel(pt, attach):
    layout = CONTEXTS[pt]
    end = min(layout.size, 64) if pt == ProgType.TRACEPOINT else layout.size
    mismatches = []
    for off in range(-SLACK, end + SLACK):
        for size in SIZES:
            for write in (False, True):
                kernel, _ = prog_load(pt, _access_prog(off, size, write), expected_attach_type=int(attach or 0))
                ours, _ = ctx_access_ok(pt, off, size, write, attach_type=attach)
                if kernel != ours:
                    mismatches.append(f"off={off} size={size} {'W' if write else 'R'} kernel={kernel}")
    assert not mismatches, mismatches[:20]


@pytest.mark.kernel
def test_syscall_ctx_access_matches_kernel():
    """SYSCALL programs read and write their caller's buffer anywhere below U16_MAX: probe its start and the
    largest offsets a load or store can encode (s16; beyond them only helpers reach, as sized memory)."""
    assert SYSCALL_CTX_MAX > S16_MAX
    mismatches = []
    for off in (*range(-SLACK, 3 * SLACK), *range(S16_MAX - 2 * SLACK, S16_MAX + 1)):
        for size in SIZES:
            for write in (False, True):
                kernel, log = prog_load(ProgType.SYSCALL, _access_prog(off, size, write))
                ours, _ = ctx_access_ok(ProgType.SYSCALL, off, size, write)
                if kernel != ours:
                    mismatches.append(f"off={off} size={size} {'W' if write else 'R'} kernel={kernel}")
    assert not mismatches, mismatches[:20]


S16_MAX = (1 << 15) - 1
RETURN_VALUES = (-1, 0, 1, 2, 3, 4, 100)


@pytest.mark.kernel
@pytest.mark.parametrize("pt, attach", [
    (ProgType.SOCKET_FILTER, None), (ProgType.XDP, None), (ProgType.SCHED_CLS, None), (ProgType.KPROBE, None),
    (ProgType.TRACEPOINT, None), (ProgType.RAW_TRACEPOINT, None), (ProgType.PERF_EVENT, None),
    (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS), (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS),
    (ProgType.SK_SKB, None), (ProgType.SK_MSG, None), (ProgType.FLOW_DISSECTOR, None), (ProgType.LWT_IN, None),
    (ProgType.LWT_XMIT, None), (ProgType.SOCK_OPS, None), (ProgType.CGROUP_SYSCTL, None), (ProgType.CGROUP_SOCK, None),
    (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT), (ProgType.SK_LOOKUP, AttachType.SK_LOOKUP),
    (ProgType.CGROUP_DEVICE, None), (ProgType.SK_REUSEPORT, None), (ProgType.NETFILTER, AttachType.NETFILTER),
    (ProgType.RAW_TRACEPOINT_WRITABLE, None), (ProgType.SYSCALL, None),
    *((ProgType.CGROUP_SOCK_ADDR, a) for a in (AttachType.CGROUP_INET4_BIND, AttachType.CGROUP_INET6_CONNECT,
                                               AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UNIX_GETSOCKNAME,
                                               AttachType.CGROUP_UDP6_SENDMSG)),
], ids=lambda c: getattr(c, "name", str(c)).lower())
def test_return_ranges_match_kernel(pt, attach):
    rng = return_range(pt, attach)
    for value in RETURN_VALUES:
        kernel, _ = prog_load(pt, [insn(MOV64_IMM, 0, imm=value), insn(EXIT)],
                              expected_attach_type=int(attach or 0))
        assert kernel == (rng is None or value in rng), value
