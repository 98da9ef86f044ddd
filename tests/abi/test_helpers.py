"""Helper ids, prototypes and per-program-type availability (offline checks)."""

import pytest

from pyebpf.abi.helpers import (
    HELPER_BY_NAME, HELPER_PROTOS, HELPER_TABLE_PROG_TYPES, ArgType, HelperId, RetType, TypeFlag,
    allowed_helpers, helper_allowed, helper_name, proto_for,
)
from pyebpf.abi.prog_types import ProgType


def test_known_ids():
    assert HelperId.MAP_LOOKUP_ELEM == 1
    assert HelperId.TRACE_PRINTK == 6
    assert HelperId.TAIL_CALL == 12
    assert HelperId.PERF_EVENT_OUTPUT == 25
    assert HelperId.RINGBUF_OUTPUT == 130
    assert HelperId.LOOP == 181
    assert HelperId.KTIME_GET_TAI_NS == 208
    assert max(HelperId) == HelperId.CGRP_STORAGE_DELETE == 211
    assert sorted(h.value for h in HelperId) == list(range(212))


def test_by_name():
    assert HELPER_BY_NAME["bpf_map_lookup_elem"] is HelperId.MAP_LOOKUP_ELEM
    assert HELPER_BY_NAME["map_lookup_elem"] is HelperId.MAP_LOOKUP_ELEM
    assert HELPER_BY_NAME["bpf_ringbuf_reserve"] is HelperId.RINGBUF_RESERVE
    assert helper_name(HelperId.GET_CURRENT_PID_TGID) == "bpf_get_current_pid_tgid"


def test_every_id_has_an_entry():
    assert set(HELPER_PROTOS) == set(HelperId) - {HelperId.UNSPEC}
    for hid, proto in HELPER_PROTOS.items():
        if proto is not None:
            assert proto.name == helper_name(hid)
            assert len(proto.args) <= 5


def _shape(h):
    p = HELPER_PROTOS[h]
    return p.ret.type, p.ret.flags, tuple((a.type, a.flags) for a in p.args), p.gpl_only


def test_map_protos():
    T = TypeFlag
    assert _shape(HelperId.MAP_LOOKUP_ELEM) == (
        RetType.RET_PTR_TO_MAP_VALUE, T.PTR_MAYBE_NULL,
        ((ArgType.ARG_CONST_MAP_PTR, T.NONE), (ArgType.ARG_PTR_TO_MAP_KEY, T.NONE)), False)
    assert HELPER_PROTOS[HelperId.MAP_LOOKUP_ELEM].pkt_access
    assert HELPER_PROTOS[HelperId.MAP_UPDATE_ELEM].arg_types == (
        ArgType.ARG_CONST_MAP_PTR, ArgType.ARG_PTR_TO_MAP_KEY, ArgType.ARG_PTR_TO_MAP_VALUE, ArgType.ARG_ANYTHING)
    pop = HELPER_PROTOS[HelperId.MAP_POP_ELEM]
    assert pop.args[1].type == ArgType.ARG_PTR_TO_MAP_VALUE and pop.args[1].uninit


def test_probe_read_and_printk():
    for h in (HelperId.PROBE_READ, HelperId.PROBE_READ_KERNEL, HelperId.PROBE_READ_USER_STR):
        p = HELPER_PROTOS[h]
        assert p.gpl_only
        assert p.args[0].type == ArgType.ARG_PTR_TO_MEM and p.args[0].uninit
        assert p.args[1].type == ArgType.ARG_CONST_SIZE_OR_ZERO
    tp = HELPER_PROTOS[HelperId.TRACE_PRINTK]
    assert tp.gpl_only and tp.args[0].rdonly and tp.args[1].type == ArgType.ARG_CONST_SIZE


def test_ringbuf_protos():
    r = HELPER_PROTOS[HelperId.RINGBUF_RESERVE].ret
    assert r.type == RetType.RET_PTR_TO_MEM and r.flags == TypeFlag.MEM_RINGBUF | TypeFlag.PTR_MAYBE_NULL
    assert r.raw == 1286  # RET_PTR_TO_RINGBUF_MEM_OR_NULL in the 6.18 kernel's BTF
    sub = HELPER_PROTOS[HelperId.RINGBUF_SUBMIT]
    assert sub.ret.type == RetType.RET_VOID and sub.args[0].release
    assert HELPER_PROTOS[HelperId.RINGBUF_OUTPUT].args[2].type == ArgType.ARG_CONST_SIZE_OR_ZERO


def test_callback_protos():
    for h in (HelperId.LOOP, HelperId.FOR_EACH_MAP_ELEM):
        p = HELPER_PROTOS[h]
        assert p.args[1].type == ArgType.ARG_PTR_TO_FUNC
        assert p.args[2].type == ArgType.ARG_PTR_TO_STACK and p.args[2].maybe_null


def test_fixed_size_args_replace_ptr_to_long():
    strtol = HELPER_PROTOS[HelperId.STRTOL]
    assert strtol.args[3].flags & TypeFlag.MEM_FIXED_SIZE and strtol.args[3].size == 8
    assert HELPER_PROTOS[HelperId.CHECK_MTU].args[2].size == 4


def test_arg_raw_matches_kernel_aliases():
    # values of the named aliases in the 6.18 kernel's enum bpf_arg_type
    assert HELPER_PROTOS[HelperId.GET_CURRENT_COMM].args[0].raw == 67141636  # ARG_PTR_TO_UNINIT_MEM
    assert HELPER_PROTOS[HelperId.SNPRINTF].args[0].raw == 260  # ARG_PTR_TO_MEM_OR_NULL


def test_tables_cover_required_types():
    for pt in (ProgType.SOCKET_FILTER, ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.RAW_TRACEPOINT,
               ProgType.XDP, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB, ProgType.PERF_EVENT):
        assert pt in HELPER_TABLE_PROG_TYPES


@pytest.mark.parametrize("pt, helper, expected", [
    (ProgType.XDP, HelperId.XDP_ADJUST_HEAD, True),
    (ProgType.XDP, HelperId.SKB_LOAD_BYTES, False),
    (ProgType.SCHED_CLS, HelperId.SKB_STORE_BYTES, True),
    (ProgType.SOCKET_FILTER, HelperId.SKB_STORE_BYTES, False),
    (ProgType.SOCKET_FILTER, HelperId.SKB_LOAD_BYTES, True),
    (ProgType.KPROBE, HelperId.PROBE_READ_KERNEL, True),
    (ProgType.KPROBE, HelperId.SKB_LOAD_BYTES, False),
    (ProgType.TRACEPOINT, HelperId.GET_STACKID, True),
    (ProgType.PERF_EVENT, HelperId.PERF_PROG_READ_VALUE, True),
    (ProgType.KPROBE, HelperId.PERF_PROG_READ_VALUE, False),
    (ProgType.CGROUP_SKB, HelperId.GET_LOCAL_STORAGE, True),
    (ProgType.SCHED_CLS, HelperId.GET_LOCAL_STORAGE, False),
    (ProgType.RAW_TRACEPOINT, HelperId.GET_CURRENT_TASK, True),
    (ProgType.XDP, HelperId.REDIRECT_MAP, True),
])
def test_helper_allowed(pt, helper, expected):
    assert helper_allowed(pt, helper) is expected


def test_unprivileged_split():
    # bpf_base_func_proto: map helpers need no capability, bpf_loop needs CAP_BPF, trace_printk CAP_PERFMON
    assert helper_allowed(ProgType.SOCKET_FILTER, HelperId.MAP_LOOKUP_ELEM, privileged=False)
    assert not helper_allowed(ProgType.SOCKET_FILTER, HelperId.LOOP, privileged=False)
    assert helper_allowed(ProgType.SOCKET_FILTER, HelperId.LOOP, privileged=True)
    assert not helper_allowed(ProgType.SCHED_CLS, HelperId.TRACE_PRINTK, privileged=False)
    assert not helper_allowed(ProgType.SCHED_CLS, HelperId.SKC_TO_TCP_SOCK, privileged=False)
    assert allowed_helpers(ProgType.XDP, privileged=False) < allowed_helpers(ProgType.XDP)


def test_unknown_ids_and_types():
    assert not helper_allowed(ProgType.XDP, 9999)
    with pytest.raises(ValueError):
        helper_allowed(ProgType.STRUCT_OPS, HelperId.MAP_LOOKUP_ELEM)


def test_proto_for_variants():
    assert HELPER_PROTOS[HelperId.GET_STACKID].gpl_only
    assert not proto_for(ProgType.PERF_EVENT, HelperId.GET_STACKID).gpl_only
    assert proto_for(ProgType.XDP, HelperId.SKB_LOAD_BYTES) is None
    assert proto_for(ProgType.XDP, HelperId.MAP_LOOKUP_ELEM) is HELPER_PROTOS[HelperId.MAP_LOOKUP_ELEM]
