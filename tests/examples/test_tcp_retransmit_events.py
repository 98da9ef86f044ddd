"""examples/tcp_retransmit_events.py: events in the VM, the kprobe variant's clean refusal, and a real SYN
retransmission between two throwaway network namespaces (an XDP program on the far end of the veth drops TCP, so
the SYN is retransmitted after TCP's 1 s initial RTO)."""
from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from example_runner import EXAMPLES, import_example

example = import_example("tcp_retransmit_events")
KEYS = ["ts", "event_type", "entity_id", "pid", "value"]


def test_vm_events_carry_the_connecting_pid_and_count():
    text = example.simulate(pid=1024)
    assert text[0].startswith('{"ts":1.0,"event_type":"transport.drop","entity_id":"network-pid-1024"')
    lines = [json.loads(l) for l in text]
    assert [list(l) for l in lines] == [KEYS, KEYS]
    assert [(l["event_type"], l["entity_id"], l["pid"], l["value"]) for l in lines] == [
        ("transport.drop", "network-pid-1024", 1024, "1"), ("transport.drop", "network-pid-1024", 1024, "2")]


@pytest.mark.parametrize("build", ["build_owner_tracker", "build_tracepoint", "build_kprobe"])
def test_programs_pass_our_verifier(build):
    import pyebpf

    assert pyebpf.verify(getattr(example, build)()).accepted


@pytest.mark.kernel
def test_kprobe_variant_reports_the_missing_feature():
    from pyebpf.loader.attach import kprobes_available

    if kprobes_available() is None:
        pytest.skip("this kernel has kprobes; the refusal path is not reachable")
    out = subprocess.run([sys.executable, str(EXAMPLES / "tcp_retransmit_events.py"), "--kprobe", "--seconds", "1"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and out.stdout == ""
    errors = [l for l in out.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and "CONFIG_KPROBES" in errors[0] and "Traceback" not in out.stderr


def drop_tcp_program():
    """XDP: drop IPv4 TCP (so SYNs vanish and get retransmitted), pass the rest (ARP still resolves)."""
    from pyebpf import R0, R1, R2, R3, Builder

    b = Builder("xdp", name="drop_tcp")
    b.load(R2, R1 + 0, "u32").load(R3, R1 + 4, "u32").mov(R0, 2)
    b.mov(R1, R2).add(R1, 34)
    with b.if_(R1 <= R3):
        b.load(R1, R2 + 12, "u16")
        with b.if_(R1 == 0x0008):                                   # htons(ETH_P_IP)
            b.load(R1, R2 + 23, "u8")
            with b.if_(R1 == 6):
                b.mov(R0, 1)
    return b.exit().build()


@pytest.mark.kernel
def test_syn_retransmission_in_a_netns_is_reported():
    from netns import veth_pair
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_xdp

    with veth_pair() as pair, load(drop_tcp_program()) as dropper, \
            attach_xdp(dropper, pair.if_b, mode="skb", netns=pair.ns_b):
        proc = subprocess.Popen([sys.executable, str(EXAMPLES / "tcp_retransmit_events.py"), "--seconds", "2.5",
                                 "--pid", str(os.getpid()), "--details"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sock = None
        try:
            while True:
                line = proc.stderr.readline()
                assert line, "the example exited before streaming"
                if line.startswith("streaming"):
                    break
            sock = pair.socket("a", socket.SOCK_STREAM)
            sock.setblocking(False)
            assert sock.connect_ex((pair.addr_b, 9)) == errno.EINPROGRESS     # the SYN goes out, XDP drops it
            sport = sock.getsockname()[1]
            out, err = proc.communicate(timeout=30)
        finally:
            if sock is not None:
                sock.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    events = [json.loads(l) for l in out.splitlines()]
    ours = [e for e in events if e.get("sport") == sport and e["daddr"] == pair.addr_b]
    assert ours, out + err
    first = ours[0]
    assert list(first)[:5] == KEYS
    assert (first["event_type"], first["pid"], first["entity_id"], first["value"], first["dport"]) == \
        ("transport.drop", os.getpid(), f"network-pid-{os.getpid()}", "1", 9)
    assert "events/s" in err.splitlines()[-1]


@pytest.mark.kernel
def test_ctrl_c_ends_the_stream_with_a_summary():
    import signal

    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "tcp_retransmit_events.py"), "--seconds", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not proc.stderr.readline().startswith("streaming"):
            assert proc.poll() is None, "the example exited before streaming"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err
    assert "events/s" in err.splitlines()[-1]
