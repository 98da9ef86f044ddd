"""Compare helpers.py with the running kernel: availability per program type, gpl_only and might_sleep.

For every (program type, helper id) we load `call helper; r0 = 0; exit`. The verifier answers
"program of this type cannot use helper bpf_xxx#N" when get_func_proto() returns NULL; anything else (usually an
argument-type complaint, or success) means the helper is available. Loading again with a non-GPL license and
looking for "GPL-restricted" checks gpl_only; "might sleep" in a non-sleepable program checks might_sleep.
"""

from __future__ import annotations

import pytest

from pyebpf.abi.helpers import CONFIG_DEPENDENT, HelperId, helper_allowed, proto_for
from pyebpf.abi.prog_types import ProgType
from rawbpf import call_helper_prog, prog_load

PROG_TYPES = [ProgType.SOCKET_FILTER, ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.RAW_TRACEPOINT,
              ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB, ProgType.PERF_EVENT]
DENIED = "cannot use helper"
GPL = "GPL-restricted"
SLEEP = "might sleep"


def _kernel_allows(pt: ProgType, hid: HelperId) -> tuple[bool, str]:
    _, log = prog_load(pt, call_helper_prog(hid))
    assert "invalid func" not in log, f"kernel does not know helper {hid.name}"
    return DENIED not in log, log


@pytest.mark.kernel
@pytest.mark.parametrize("pt", PROG_TYPES, ids=lambda p: p.name.lower())
def test_helper_availability_matches_kernel(pt):
    mismatches = []
    for hid in HelperId:
        if hid == HelperId.UNSPEC or hid in CONFIG_DEPENDENT:
            continue
        kernel, _ = _kernel_allows(pt, hid)
        if kernel != helper_allowed(pt, hid):
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
