"""RunResult.action: the program's verdict as its context names it (XdpAction, TcAction, bytes kept)."""
from __future__ import annotations

import pytest

import pyebpf
from pyebpf.abi.uapi import TcAction, XdpAction
from pyebpf.vm import VM
from pyebpf.vm.context import SysEnterContext

PACKET = bytes(12) + b"\x08\x00" + bytes(50)


def run(prog_type: str, r0: int, engine: str, **kw):
    return VM(pyebpf.assemble(f"r0 = {r0}\nexit"), prog_type=prog_type, engine=engine).run(**kw)


@pytest.mark.parametrize("engine", ["interp", "compiled"])
@pytest.mark.parametrize("prog_type, r0, action", [
    ("xdp", 1, XdpAction.DROP),
    ("xdp", 2, XdpAction.PASS),
    ("xdp", 4, XdpAction.REDIRECT),
    ("xdp", 99, 99),  # no such action: the number itself
    ("sched_cls", 2, TcAction.SHOT),
    ("sched_cls", -1, TcAction.UNSPEC),  # TC_ACT_UNSPEC is -1 in the low 32 bits
    ("sched_cls", 7, TcAction.REDIRECT),
    ("socket_filter", 20, 20),  # bytes kept
    ("socket_filter", 0xFFFF, len(PACKET) - 14),  # capped at skb->len (the frame after its Ethernet header)
])
def test_packet_verdicts(prog_type: str, r0: int, action, engine: str):
    res = run(prog_type, r0, engine, packet=PACKET)
    assert res.action == action and type(res.action) is type(action)


def test_other_contexts_give_r0_and_memory_runs_none():
    vm = VM(pyebpf.assemble("r0 = 5\nexit"), prog_type="tracepoint")
    assert vm.run(SysEnterContext(1)).action == 5
    assert vm.run(mem=b"\0").action is None
    assert vm.run(bytes(64)).action is None  # raw context bytes: no builder, no verdict
