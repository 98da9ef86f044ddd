"""Program/attach type numbering and libbpf SEC() matching."""

import pytest

from pyebpf.abi.prog_types import (
    SECTION_DEFS, AttachKind, AttachType, ProgType, attach_kind, parse_prog_type, prog_type_for_section,
    split_section_target,
)


def test_prog_type_numbering():
    expected = {"SOCKET_FILTER": 1, "KPROBE": 2, "SCHED_CLS": 3, "SCHED_ACT": 4, "TRACEPOINT": 5, "XDP": 6,
                "PERF_EVENT": 7, "CGROUP_SKB": 8, "RAW_TRACEPOINT": 17, "TRACING": 26, "LSM": 29, "SYSCALL": 31,
                "NETFILTER": 32}
    for name, value in expected.items():
        assert ProgType[name] == value
    assert max(ProgType) == ProgType.NETFILTER


def test_attach_type_numbering():
    assert AttachType.CGROUP_INET_INGRESS == 0
    assert AttachType.CGROUP_INET_EGRESS == 1
    assert AttachType.TRACE_FENTRY == 24
    assert AttachType.XDP == 37
    assert AttachType.TCX_INGRESS == 46
    assert max(AttachType) == AttachType.TRACE_UPROBE_SESSION == 57


@pytest.mark.parametrize("sec, prog_type, attach, target", [
    ("socket", ProgType.SOCKET_FILTER, None, ""),
    ("kprobe/do_unlinkat", ProgType.KPROBE, None, "do_unlinkat"),
    ("kretprobe/do_unlinkat", ProgType.KPROBE, None, "do_unlinkat"),
    ("uprobe//bin/bash:readline", ProgType.KPROBE, None, "/bin/bash:readline"),
    ("uretprobe", ProgType.KPROBE, None, ""),
    ("tracepoint/syscalls/sys_enter_openat", ProgType.TRACEPOINT, None, "syscalls/sys_enter_openat"),
    ("tp/sched/sched_switch", ProgType.TRACEPOINT, None, "sched/sched_switch"),
    ("raw_tracepoint/sys_enter", ProgType.RAW_TRACEPOINT, None, "sys_enter"),
    ("raw_tp/sys_enter", ProgType.RAW_TRACEPOINT, None, "sys_enter"),
    ("tp_btf/sched_switch", ProgType.TRACING, AttachType.TRACE_RAW_TP, "sched_switch"),
    ("xdp", ProgType.XDP, AttachType.XDP, ""),
    ("xdp.frags", ProgType.XDP, AttachType.XDP, ""),
    ("xdp/devmap", ProgType.XDP, AttachType.XDP_DEVMAP, ""),
    ("tc", ProgType.SCHED_CLS, None, ""),
    ("classifier", ProgType.SCHED_CLS, None, ""),
    ("tc/ingress", ProgType.SCHED_CLS, AttachType.TCX_INGRESS, ""),
    ("action", ProgType.SCHED_ACT, None, ""),
    ("cgroup_skb/ingress", ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, ""),
    ("cgroup_skb/egress", ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, ""),
    ("perf_event", ProgType.PERF_EVENT, None, ""),
    ("fentry/do_unlinkat", ProgType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat"),
    ("fexit/do_unlinkat", ProgType.TRACING, AttachType.TRACE_FEXIT, "do_unlinkat"),
    ("lsm/file_open", ProgType.LSM, AttachType.LSM_MAC, "file_open"),
    ("iter/task", ProgType.TRACING, AttachType.TRACE_ITER, "task"),
    ("syscall", ProgType.SYSCALL, None, ""),
    ("sk_msg", ProgType.SK_MSG, AttachType.SK_MSG_VERDICT, ""),
    ("sk_skb/stream_parser", ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER, ""),
    ("cgroup/connect4", ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, ""),
    ("kprobe.multi/vfs_*", ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI, "vfs_*"),
])
def test_section_matching(sec, prog_type, attach, target):
    d = prog_type_for_section(sec)
    assert d.prog_type == prog_type
    assert d.attach_type == attach
    assert d.target(sec) == target


@pytest.mark.parametrize("sec", ["", "kprobes/foo", "xdp_foo", "socket/extra", "tcx", "bogus", "kprobe.foo"])
def test_unknown_sections(sec):
    with pytest.raises(ValueError):
        prog_type_for_section(sec)


@pytest.mark.parametrize("ptype, eat, section, kind", [
    (ProgType.SCHED_CLS, None, None, AttachKind.TCX),  # the first SCHED_CLS row that attaches: tc/ingress
    (ProgType.SCHED_CLS, None, "classifier", AttachKind.NONE),  # libbpf attaches SEC("classifier") by hand
    (ProgType.XDP, None, None, AttachKind.XDP),
    (ProgType.XDP, AttachType.XDP_DEVMAP, None, AttachKind.NONE),  # a devmap program goes in a map, not a device
    (ProgType.KPROBE, None, "kretprobe/do_exit", AttachKind.KRETPROBE),
    (ProgType.KPROBE, None, "no-such-section", AttachKind.KPROBE),  # an unknown name falls back to the types
    (ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, None, AttachKind.CGROUP),
    (ProgType.SOCKET_FILTER, None, None, AttachKind.NONE),
    (ProgType.RAW_TRACEPOINT_WRITABLE, None, None, AttachKind.RAW_TRACEPOINT),
])
def test_attach_kind_follows_the_section_table(ptype, eat, section, kind):
    assert attach_kind(ptype, eat, section) == kind


def test_attach_kind_is_every_program_types_first_attaching_row():
    for ptype in ProgType:
        rows = [d.kind for d in SECTION_DEFS if d.prog_type == ptype and d.kind != AttachKind.NONE]
        assert attach_kind(ptype) == (rows[0] if rows else AttachKind.NONE)


@pytest.mark.parametrize("ptype, target, expected", [
    (ProgType.KPROBE, "kretprobe/do_exit", (AttachKind.KRETPROBE, "do_exit")),
    (ProgType.KPROBE, "uprobe.s//bin/sh:main", (AttachKind.UPROBE, "/bin/sh:main")),
    (ProgType.KPROBE, "do_exit", (None, "do_exit")),
    (ProgType.TRACEPOINT, "tp/sched/sched_switch", (AttachKind.TRACEPOINT, "sched/sched_switch")),
    (ProgType.TRACEPOINT, "syscalls/sys_enter_openat", (None, "syscalls/sys_enter_openat")),
    (ProgType.XDP, "kprobe/do_exit", (None, "kprobe/do_exit")),  # only rows of the program's own type count
])
def test_split_section_target(ptype, target, expected):
    assert split_section_target(ptype, target) == expected


def test_sleepable_sections():
    assert "sleepable" in {f.value for f in prog_type_for_section("fentry.s/foo").flags}
    assert "sleepable" in {f.value for f in prog_type_for_section("uprobe.s//bin/sh:main").flags}


@pytest.mark.parametrize("name, expected", [
    ("xdp", ProgType.XDP), ("XDP", ProgType.XDP), ("socket_filter", ProgType.SOCKET_FILTER),
    ("socket", ProgType.SOCKET_FILTER), ("sched_cls", ProgType.SCHED_CLS), ("tc", ProgType.SCHED_CLS),
    ("kprobe", ProgType.KPROBE), ("tracepoint", ProgType.TRACEPOINT), ("tp", ProgType.TRACEPOINT),
    ("raw_tracepoint", ProgType.RAW_TRACEPOINT), ("raw_tp", ProgType.RAW_TRACEPOINT),
    ("cgroup_skb", ProgType.CGROUP_SKB), ("perf_event", ProgType.PERF_EVENT),
    ("BPF_PROG_TYPE_SCHED_ACT", ProgType.SCHED_ACT), ("6", ProgType.XDP), (" Perf-Event ", ProgType.PERF_EVENT),
])
def test_parse_prog_type(name, expected):
    assert parse_prog_type(name) == expected


def test_parse_prog_type_unknown():
    with pytest.raises(ValueError):
        parse_prog_type("nonsense")
