"""Perf event arrays (bpf_perf_event_output), prog arrays (bpf_tail_call) and LPM tries from Python probes: the
same calls on both VM engines and in the kernel (BPF_PROG_TEST_RUN), with the same records, return values and
map contents."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import map_kinds_probes as mk  # noqa: E402
from pyebpf.probe import XDP_DROP, XDP_PASS  # noqa: E402

ENGINES = ["interp", "compiled"]


def _packet(src: str) -> bytes:
    eth = b"\xff" * 12 + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, 64, 17, 0, bytes(map(int, src.split("."))),
                     bytes([10, 0, 0, 1]))
    return eth + ip + b"\0" * 8


ROUTES = {(24, "10.1.2.0"): 1, (16, "192.168.0.0"): 2, (32, "10.9.9.9"): 3}
SOURCES = {"10.1.2.3": XDP_DROP, "10.1.3.1": XDP_PASS, "192.168.77.1": XDP_DROP, "10.9.9.9": XDP_DROP,
           "10.9.9.8": XDP_PASS, "8.8.8.8": XDP_PASS}


def _fill_routes() -> None:
    mk.blocked.clear()
    for (plen, net), v in ROUTES.items():
        mk.blocked[mk.V4Key(plen, (mk.ctypes.c_uint8 * 4)(*map(int, net.split("."))))] = v


@pytest.mark.parametrize("engine", ENGINES)
def test_lpm_trie_vm(engine):
    _fill_routes()
    got = {src: mk.lpm_filter.run(packet=_packet(src), engine=engine).r0 for src in SOURCES}
    assert got == SOURCES


@pytest.mark.kernel
def test_lpm_trie_kernel():
    with mk.lpm_filter.load(attach=False) as lp:
        _fill_routes()
        got = {src: lp.run(packet=_packet(src)).r0 for src in SOURCES}
    assert got == SOURCES
    assert len(mk.blocked) == len(ROUTES)  # read back from the kernel after unloading


ARGS = [(5, 6), (2 ** 64 - 1, 2 ** 31), (0, 0)]


def _expected_events() -> list[tuple[int, int, int]]:
    return [(a, (b * 2) & (2 ** 32 - 1), 7) for a, b in ARGS]


def _fields(events) -> list[tuple[int, int, int]]:
    return [(e.a, e.b, e.tag) for e in events]


@pytest.mark.parametrize("engine", ENGINES)
def test_perf_event_output_vm(engine):
    mk.events.read()
    for a in ARGS:
        mk.emit.run(args=list(a), engine=engine)
    assert _fields(mk.events.read()) == _expected_events()


@pytest.mark.kernel
def test_perf_event_output_kernel():
    mk.events.read()
    with mk.emit.load(attach=False) as lp:
        for a in ARGS:
            lp.run(args=list(a))
        got = mk.events.read(timeout=1)
        while len(got) < len(ARGS):
            more = mk.events.read(timeout=1)
            if not more:
                break
            got += more
    assert _fields(got) == _expected_events()


def _fill_result() -> tuple[int, int]:
    return mk.fill[0], mk.fill[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_ringbuf_output_result_vm(engine):
    """events.output(...) is bpf_ringbuf_output's result: 0 while there is room, then its negative errno."""
    mk.small_ring.read()
    mk.fill[0] = mk.fill[1] = 0
    mk.fill_ring.run(args=[0, 0], engine=engine)
    ok, err = _fill_result()
    assert 0 < ok < 48
    assert err >= 2 ** 63  # negative as s64
    assert len(mk.small_ring.read()) == ok


@pytest.mark.kernel
def test_ringbuf_output_result_kernel():
    """The kernel's answer for the same fill, compared with the VM's (same records written, same errno)."""
    mk.small_ring.read()
    mk.fill[0] = mk.fill[1] = 0
    mk.fill_ring.run(args=[0, 0], engine="interp")
    vm = _fill_result()
    mk.small_ring.read()
    with mk.fill_ring.load(attach=False) as lp:
        lp.run(args=[0, 0])
        kernel = _fill_result()
        got = mk.small_ring.read(timeout=1)
    assert kernel == vm
    assert len(got) == kernel[0]


CALLS = [(0, 5), (1, 7), (3, 1), (1, 2)]  # slot 1 holds `second`, the others are empty


def _tail_calls(run) -> tuple[list[int], list[tuple[int, int]]]:
    rets = [run(a) for a in CALLS]
    return rets, sorted(mk.hits.items())


@pytest.mark.parametrize("engine", ENGINES)
def test_tail_calls_vm(engine):
    mk.hits.clear()
    mk.progs.clear()
    mk.progs[1] = mk.second
    rets, hits = _tail_calls(lambda a: mk.entry.run(args=list(a), engine=engine).r0)
    assert rets == [1, 2, 1, 2]
    assert hits == [(0, 4), (1, 2), (2, 9), (3, 0)]


@pytest.mark.kernel
def test_tail_calls_kernel():
    with mk.second.load(attach=False) as s, mk.entry.load(attach=False) as e:
        mk.hits.clear()
        mk.progs[1] = s
        rets, hits = _tail_calls(lambda a: e.run(args=list(a)).r0)
    assert rets == [1, 2, 1, 2]
    assert hits == [(0, 4), (1, 2), (2, 9), (3, 0)]
    assert len(list(mk.progs.items())) == 0 or all(v == 0 for _, v in mk.progs.items())


def test_lpm_trie_key_shape():
    from pyebpf.probe import LpmTrie, u64

    with pytest.raises(TypeError):
        LpmTrie(mk.Event, u64)
