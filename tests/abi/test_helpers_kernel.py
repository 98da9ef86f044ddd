"""Compare helpers.py with the running kernel: availability per program type, gpl_only and might_sleep.

For every (program type, helper id) we load `call helper; r0 = 0; exit`. The verifier answers
"program of this type cannot use helper bpf_xxx#N" when get_func_proto() returns NULL; anything else (usually an
argument-type complaint, or success) means the helper is available. Loading again with a non-GPL license and
looking for "GPL-restricted" checks gpl_only; "might sleep" in a non-sleepable program checks might_sleep.
"""

from __future__ import annotations

import pytest

from pyebpf.abi.helpers import CONFIG_DEPENDENT, HelperId, helper_allowed, proto_for
from pyebpf.abi.prog_types import AttachType, ProgType
from rawbpf import call_helper_prog, prog_load

PROG_TYPES = [ProgType.SOCKET_FILTER, ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.RAW_TRACEPOINT,
              ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB, ProgType.PERF_EVENT,
              ProgType.SK_MSG, ProgType.SK_SKB, ProgType.SOCK_OPS, ProgType.FLOW_DISSECTOR, ProgType.LWT_IN,
              ProgType.LWT_OUT, ProgType.LWT_XMIT, ProgType.LWT_SEG6LOCAL, ProgType.CGROUP_SYSCTL, ProgType.CGROUP_SOCK,
              ProgType.SK_REUSEPORT]
#: program types whose helper set depends on expected_attach_type, with the attach types probed
ATTACHED = [(ProgType.CGROUP_SOCK_ADDR, a) for a in (AttachType.CGROUP_INET4_CONNECT, AttachType.CGROUP_INET6_BIND,
                                                      AttachType.CGROUP_UDP4_RECVMSG, AttachType.CGROUP_UNIX_GETSOCKNAME,
                                                      AttachType.CGROUP_UNIX_GETPEERNAME,
                                                      AttachType.CGROUP_UNIX_SENDMSG)] + [
    (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_GETSOCKOPT), (ProgType.CGROUP_SOCKOPT, AttachType.CGROUP_SETSOCKOPT),
    (ProgType.CGROUP_SOCK, AttachType.CGROUP_INET4_POST_BIND), (ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS),
    (ProgType.SK_LOOKUP, AttachType.SK_LOOKUP), (ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE),
    (ProgType.NETFILTER, AttachType.NETFILTER), (ProgType.RAW_TRACEPOINT_WRITABLE, None), (ProgType.SYSCALL, None)]
DENIED = "cannot use helper"
GPL = "GPL-restricted"
SLEEP = "might sleep"


def _kernel_allows(pt: ProgType, hid: HelperId, attach: AttachType | None = None) -> tuple[bool, str]:
    _, log = prog_load(pt, call_helper_prog(hid), expected_attach_type=int(attach or 0))
    assert "invalid func" not in log, f"kernel does not know helper {hid.name}"
    return DENIED not in log, log


@pytest.mark.kernel
@pytest.mark.parametrize("pt, attach", [(p, None) for p in PROG_TYPES] + ATTACHED,
                         ids=lambda p: getattr(p, "name", str(p)).lower())
def test_helper_availability_matches_kernel(pt, attach):
    mismatches = []
    for hid in HelperId:
        if hid == HelperId.UNSPEC or hid in CONFIG_DEPENDENT:
            continue
        kernel, _ = _kernel_allows(pt, hid, attach)
        if kernel != helper_allowed(pt, hid, attach_type=attach):
            mismatches.append(f"{hid.name}: kernel={kernel}")
    assert not mismatches, mismatches


@pytest.mark.kernel
@pytest.mark.parametrize("pt", PROG_TYPES, ids=lambda p: p.name.lower())
def test_gpl_only_and_might_sleep_match_kernel(pt):
    mismatches = []
    for hid in HelperId:
        proto = proto_for(pt, hid) if hid != HelperId.UNSPEC else None
        if proto is None:
            continue
        allowed, log = _kernel_allows(pt, hid)
        if not allowed:
            continue
        if (SLEEP in log) != proto.might_sleep:
            mismatches.append(f"{hid.name}: might_sleep kernel={SLEEP in log}")
        _, nongpl_log = prog_load(pt, call_helper_prog(hid), license=b"Proprietary")
        if (GPL in nongpl_log) != proto.gpl_only:
            mismatches.append(f"{hid.name}: gpl_only kernel={GPL in nongpl_log}")
    assert not mismatches, mismatches


@pytest.mark.kernel
def test_config_dependent_helpers_are_known_to_kernel():
    for hid in CONFIG_DEPENDENT:
        _, log = prog_load(ProgType.KPROBE, call_helper_prog(hid))
        assert "invalid func" not in log
