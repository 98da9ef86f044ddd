"""examples/probes/tcpretrans.py: JSON lines exactly as specified, from events made in the VM by the two probes
sharing their maps; both programs load and attach in the kernel."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pyebpf.compiler.context import fields_of_text
from pyebpf.vm.context import TracepointContext
from pyebpf.vm.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "probes"))
import tcpretrans as tr  # noqa: E402

HEAD = ("name: {n}\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n")
SET_STATE = HEAD.format(n="inet_sock_set_state") + """\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;

print fmt: ""
"""
RETRANSMIT = HEAD.format(n="tcp_retransmit_skb") + """\tfield:const void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:const void * skaddr;\toffset:16;\tsize:8;\tsigned:0;

print fmt: ""
"""


class Formats:
    def tracepoint_fields(self, category, name):
        return fields_of_text(SET_STATE if name == "inet_sock_set_state" else RETRANSMIT)


@pytest.fixture
def vm_probes():
    for p in (tr.track_owner, tr.on_retransmit):
        p.tracepoints, p._compiled = Formats(), None
    for m in (tr.owner, tr.retransmits):
        m.clear()
    tr.events.read()
    yield
    for p in (tr.track_owner, tr.on_retransmit):
        p.tracepoints, p._compiled = None, None


def test_json_lines_in_vm(vm_probes):
    sk = 0xFFFF888012345678
    tr.track_owner.run(skaddr=sk, newstate=tr.TCP_SYN_SENT, protocol=tr.IPPROTO_TCP,
                       env=Environment(pid=1024, tgid=1024))
    assert tr.owner[sk] == 1024
    softirq = Environment(pid=0, tgid=0, time_ns=1_000_000_000)
    tr.on_retransmit.run(TracepointContext(_record(sk)), env=softirq)
    tr.on_retransmit.run(TracepointContext(_record(sk)), env=softirq)
    lines = [tr.json_line(ev, 1_710_000_000_000_000_000 - 1_000_000_000) for ev in tr.events.read()]
    assert lines[0] == ('{"ts":1710000000000,"event_type":"transport.drop","entity_id":"network-pid-1024",'
                        '"pid":1024,"value":"1"}')
    assert json.loads(lines[1])["value"] == "2"
    tr.track_owner.run(skaddr=sk, newstate=tr.TCP_CLOSE, protocol=tr.IPPROTO_TCP)
    assert sk not in tr.owner and sk not in tr.retransmits
    tr.on_retransmit.run(TracepointContext(_record(0x1234)), env=Environment(pid=77, tgid=77))
    (ev,) = tr.events.read()
    assert (ev.pid, ev.count) == (77, 1)  # a socket we never saw connect: the current task


def _record(sk: int) -> bytes:
    raw = bytearray(24)
    raw[16:24] = sk.to_bytes(8, "little")
    return bytes(raw)


@pytest.mark.kernel
def test_both_programs_load_and_attach():
    from pyebpf.probe import load_all

    loaded = load_all([tr.track_owner, tr.on_retransmit])
    try:
        assert all(lp.kernel.links for lp in loaded)
    finally:
        for lp in loaded:
            lp.close()


@pytest.mark.kernel
def test_syn_retransmission_in_a_netns_is_reported():
    """A real SYN retransmission between two throwaway namespaces (an XDP probe on the far end drops TCP)."""
    import errno
    import os
    import socket
    import time

    from netns import veth_pair

    from pyebpf.loader.attach import attach_xdp
    from pyebpf.probe import load_all

    import xdp_udp_drop as x  # noqa: F401 - header structures
    from pyebpf.probe import XDP_DROP, XDP_PASS, probe

    @probe("xdp")
    def drop_tcp(ctx):
        eth = ctx.header(x.Eth)
        if eth.proto == 0x0800 and ctx.header(x.IPv4, 14).proto == 6:
            return XDP_DROP
        return XDP_PASS

    for m in (tr.owner, tr.retransmits):
        m.clear()
    tr.events.read()
    offset = time.time_ns() - time.monotonic_ns()
    with veth_pair() as pair, drop_tcp.load(attach=False) as dropper, \
            attach_xdp(dropper.kernel, pair.if_b, mode="skb", netns=pair.ns_b):
        loaded = load_all([tr.track_owner, tr.on_retransmit])
        sock = None
        try:
            sock = pair.socket("a", socket.SOCK_STREAM)
            sock.setblocking(False)
            assert sock.connect_ex((pair.addr_b, 9)) == errno.EINPROGRESS   # the SYN goes out, XDP drops it
            deadline = time.monotonic() + 5
            ours = []
            while time.monotonic() < deadline and not ours:
                ours = [e for e in tr.events.read(timeout=0.2) if e.pid == os.getpid()]
        finally:
            if sock is not None:
                sock.close()
            for lp in loaded:
                lp.close()
    assert ours
    line = json.loads(tr.json_line(ours[0], offset))
    assert list(line) == ["ts", "event_type", "entity_id", "pid", "value"]
    assert (line["event_type"], line["entity_id"], line["pid"], line["value"]) == \
        ("transport.drop", f"network-pid-{os.getpid()}", os.getpid(), "1")
    assert abs(line["ts"] - time.time() * 1000) < 10_000
