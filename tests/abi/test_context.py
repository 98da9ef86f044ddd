"""Context layouts and access rules (offline checks)."""

import pytest

from pyebpf.abi.context import (
    BPF_PERF_EVENT_DATA, CONTEXTS, PT_REGS, SK_BUFF, TRACE_EVENT_RAW_SYS_ENTER, TRACE_EVENT_RAW_SYS_EXIT, XDP_MD,
    FieldKind, ReturnRange, ctx_access_ok, return_range,
)
from pyebpf.abi.prog_types import AttachType, ProgType


def test_sk_buff_offsets():
    assert SK_BUFF.size == 192
    expected = {"len": 0, "mark": 8, "priority": 32, "cb[0]": 48, "cb[4]": 64, "hash": 68, "tc_classid": 72,
                "data": 76, "data_end": 80, "family": 88, "remote_ip6[0]": 100, "local_ip6[0]": 116,
                "remote_port": 132, "data_meta": 140, "flow_keys": 144, "tstamp": 152, "wire_len": 160,
                "sk": 168, "gso_size": 176, "tstamp_type": 180, "hwtstamp": 184}
    for name, off in expected.items():
        assert SK_BUFF[name].offset == off, name
    assert SK_BUFF["data"].kind is FieldKind.PKT and SK_BUFF["data_end"].kind is FieldKind.PKT_END


def test_fields_tile_the_structs():
    for layout in (SK_BUFF, XDP_MD, PT_REGS, BPF_PERF_EVENT_DATA, TRACE_EVENT_RAW_SYS_ENTER,
                   TRACE_EVENT_RAW_SYS_EXIT):
        pos = 0
        for f in layout.fields:
            assert f.offset == pos, (layout.name, f.name)
            pos = f.end
        assert pos == layout.size, layout.name


def test_other_layouts():
    assert [f.offset for f in XDP_MD.fields] == [0, 4, 8, 12, 16, 20] and XDP_MD["data_end"].offset == 4
    assert PT_REGS.size == 168 and PT_REGS["di"].offset == 112 and PT_REGS["ip"].offset == 128
    assert BPF_PERF_EVENT_DATA["sample_period"].offset == 168 and BPF_PERF_EVENT_DATA.size == 184
    assert TRACE_EVENT_RAW_SYS_ENTER["id"].offset == 8 and TRACE_EVENT_RAW_SYS_ENTER["args[0]"].offset == 16
    assert TRACE_EVENT_RAW_SYS_EXIT["ret"].offset == 16
    assert CONTEXTS[ProgType.XDP] is XDP_MD and CONTEXTS[ProgType.SCHED_CLS] is SK_BUFF


@pytest.mark.parametrize("pt, off, size, write, ok", [
    (ProgType.SOCKET_FILTER, 0, 4, False, True),  # len
    (ProgType.SOCKET_FILTER, 0, 1, False, True),  # narrow load
    (ProgType.SOCKET_FILTER, 1, 1, False, True),
    (ProgType.SOCKET_FILTER, 0, 8, False, False),
    (ProgType.SOCKET_FILTER, 2, 4, False, False),  # misaligned
    (ProgType.SOCKET_FILTER, 76, 4, False, False),  # data: not for socket filters
    (ProgType.SOCKET_FILTER, 8, 4, True, False),  # mark: read-only here
    (ProgType.SOCKET_FILTER, 48, 4, True, True),  # cb[0]
    (ProgType.SOCKET_FILTER, 64, 8, False, False),  # crosses end of cb
    (ProgType.SCHED_CLS, 76, 4, False, True),
    (ProgType.SCHED_CLS, 76, 2, False, False),  # data must be loaded whole
    (ProgType.SCHED_CLS, 8, 4, True, True),  # mark writable
    (ProgType.SCHED_CLS, 8, 2, True, False),
    (ProgType.SCHED_CLS, 0, 4, True, False),  # len not writable
    (ProgType.SCHED_CLS, 88, 4, False, False),  # family: sk_lookup fields denied
    (ProgType.SCHED_CLS, 152, 8, True, True),  # tstamp
    (ProgType.SCHED_CLS, 168, 8, False, True),  # sk
    (ProgType.SCHED_CLS, 172, 4, False, False),
    (ProgType.SCHED_CLS, 180, 1, False, True),  # tstamp_type
    (ProgType.CGROUP_SKB, 76, 4, False, True),
    (ProgType.CGROUP_SKB, 140, 4, False, False),  # data_meta
    (ProgType.CGROUP_SKB, 44, 4, True, False),  # tc_index not writable
    (ProgType.CGROUP_SKB, 32, 4, True, True),  # priority writable
    (ProgType.XDP, 0, 4, False, True),
    (ProgType.XDP, 0, 8, False, False),
    (ProgType.XDP, 0, 4, True, False),
    (ProgType.XDP, 20, 4, False, False),  # egress_ifindex needs BPF_XDP_DEVMAP
    (ProgType.KPROBE, 112, 8, False, True),
    (ProgType.KPROBE, 112, 4, False, True),
    (ProgType.KPROBE, 164, 8, False, False),
    (ProgType.KPROBE, 168, 1, False, False),
    (ProgType.KPROBE, 0, 8, True, False),
    (ProgType.TRACEPOINT, 0, 8, False, False),  # common fields hidden
    (ProgType.TRACEPOINT, 16, 8, False, True),
    (ProgType.TRACEPOINT, 16, 8, True, False),
    (ProgType.RAW_TRACEPOINT, 0, 8, False, True),
    (ProgType.RAW_TRACEPOINT, 96, 8, False, False),
    (ProgType.PERF_EVENT, 168, 8, False, True),
    (ProgType.PERF_EVENT, 168, 4, False, True),
    (ProgType.PERF_EVENT, 0, 4, False, False),  # regs: full-width loads only
])
def test_ctx_access(pt, off, size, write, ok):
    assert ctx_access_ok(pt, off, size, write)[0] is ok


def test_ctx_access_details():
    ok, field = ctx_access_ok(ProgType.XDP, 4, 4, False)
    assert ok and field.name == "data_end" and field.kind is FieldKind.PKT_END
    assert ctx_access_ok(ProgType.XDP, 20, 4, False, attach_type=AttachType.XDP_DEVMAP)[0]
    assert not ctx_access_ok(ProgType.CGROUP_SKB, 76, 4, False, privileged=False)[0]
    assert not ctx_access_ok(ProgType.SCHED_CLS, 0, 3, False)[0]
    with pytest.raises(ValueError):
        ctx_access_ok(ProgType.LSM, 0, 8, False)


def test_return_ranges():
    assert return_range(ProgType.XDP) is None
    assert return_range(ProgType.CGROUP_SKB) == ReturnRange(0, 1)
    assert return_range(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS) == ReturnRange(0, 3)
    assert 3 in return_range(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS)
    assert 2 not in return_range(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS)
