"""Ring buffer: the same program run in the VM and in the kernel (BPF_PROG_TEST_RUN), with Python consuming records
in between (pyebpf.loader.RingBuffer on the kernel side, RingBufMap.consume() on the VM side). Reservations that
fail, bpf_ringbuf_output errnos, bpf_ringbuf_query positions and the records consumed must agree."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

import pyebpf
from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.vm import VM
from pyebpf.vm.context import SkbContext
from pyebpf.vm.maps import create_map as vm_create

from test_maps_kernel import on_cpu0  # noqa: E402  (same directory)

pytestmark = pytest.mark.kernel

RING_SIZE = 4096 * 4
SIZES = [0, 1, 8, 100, 1000, 2000, 4000, 8184, 16000, 16377]
OUT_SIZES = [0, 4, 100, 1000, 3000, 4000]
RB = MapSpec("rb", MapType.RINGBUF, 0, 0, RING_SIZE)
SRC = MapSpec.of("src", "array", 4, 4000, 1)
OP_RESERVE_SUBMIT, OP_RESERVE_DISCARD, OP_OUTPUT, OP_QUERY = 1, 2, 3, 4


def _program():
    lines = [
        "r6 = r1", "r1 = r6", "r2 = 14", "r3 = r10", "r3 += -16", "r4 = 16", "call bpf_skb_load_bytes",
        "if r0 != 0 goto fail",
        "r7 = *(u32 *)(r10 - 16)", "r8 = *(u32 *)(r10 - 12)", "r9 = *(u32 *)(r10 - 8)",
        f"if r7 == {OP_RESERVE_SUBMIT} goto rs", f"if r7 == {OP_RESERVE_DISCARD} goto rd",
        f"if r7 == {OP_OUTPUT} goto out", f"if r7 == {OP_QUERY} goto query",
        "fail:", "r0 = 0xfffff", "exit",
        "null:", "r0 = 0", "exit",
        "query:", "r1 = map[rb] ll", "r2 = r8", "call bpf_ringbuf_query", "exit",
    ]
    for kind, done in (("rs", "bpf_ringbuf_submit"), ("rd", "bpf_ringbuf_discard")):
        lines.append(f"{kind}:")
        lines += [f"if r8 == {i} goto {kind}{i}" for i in range(len(SIZES))]
        lines.append("goto fail")
        for i, size in enumerate(SIZES):
            lines += [f"{kind}{i}:", "r1 = map[rb] ll", f"r2 = {size}", "r3 = 0", "call bpf_ringbuf_reserve",
                      "if r0 == 0 goto null"]
            if size >= 4:
                lines.append("*(u32 *)(r0 + 0) = r9")
            lines += ["r1 = r0", "r2 = 0", f"call {done}", "r0 = 1", "exit"]
    lines += ["out:", "*(u32 *)(r10 - 20) = 0", "r1 = map[src] ll", "r2 = r10", "r2 += -20",
              "call bpf_map_lookup_elem", "if r0 == 0 goto fail", "*(u32 *)(r0 + 0) = r9", "r7 = r0"]
    lines += [f"if r8 == {i} goto out{i}" for i in range(len(OUT_SIZES))]
    lines.append("goto fail")
    for i, size in enumerate(OUT_SIZES):
        lines += [f"out{i}:", "r1 = map[rb] ll", "r2 = r7", f"r3 = {size}", "r4 = *(u32 *)(r10 - 4)",
                  "call bpf_ringbuf_output", "exit"]
    return pyebpf.assemble("\n".join(lines), maps=[RB, SRC])


OPS = st.lists(st.one_of(
    st.tuples(st.just(OP_RESERVE_SUBMIT), st.integers(0, len(SIZES) - 1), st.just(0)),
    st.tuples(st.just(OP_RESERVE_DISCARD), st.integers(0, len(SIZES) - 1), st.just(0)),
    st.tuples(st.just(OP_OUTPUT), st.integers(0, len(OUT_SIZES) - 1), st.sampled_from([0, 0, 1, 2, 3, 4])),
    st.tuples(st.just(OP_QUERY), st.integers(0, 4), st.just(0)),
    st.tuples(st.just("consume"), st.integers(0, 3), st.just(0)),
), max_size=30)


def _summary(records: list[bytes]) -> list[tuple[int, bytes]]:
    """Length and the tag the program wrote (the rest of a reservation is uninitialised in the kernel)."""
    return [(len(r), r[:4]) for r in records]


def run_both(ops) -> None:
    from pyebpf.loader import RingBuffer, load
    from pyebpf.loader.maps import create_map as k_create

    prog = _program()
    with on_cpu0(), k_create(RB) as krb, k_create(SRC) as ksrc, \
            load(prog, "sched_cls", maps={"rb": krb, "src": ksrc}) as kp, RingBuffer(krb) as reader:
        vrb = vm_create(RB)
        vm = VM(prog, prog_type="sched_cls", maps={"rb": vrb, "src": vm_create(SRC)})
        for n, (op, arg, flags) in enumerate(ops):
            if op == "consume":
                limit = arg or None
                got_k = _summary(reader.read(timeout=0, max_records=limit))
                got_v = _summary(vrb.consume(limit))
            else:
                pkt = bytes(14) + struct.pack("<4I", op, arg, 0xA0A0 + n, flags) + bytes(34)
                got_k = kp.test_run(pkt).retval
                got_v = vm.run(SkbContext(pkt)).r0 & 0xFFFFFFFF
            assert got_v == got_k, f"op {n} {(op, arg, flags)}: kernel {got_k!r}, vm {got_v!r}; ops {ops[:n + 1]}"
        assert _summary(vrb.consume()) == _summary(reader.read(timeout=0))


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_ringbuf_sequences_match_kernel(ops):
    run_both(ops)


def test_fill_until_full_then_consume():
    ops = [(OP_RESERVE_SUBMIT, 6, 0)] * 5 + [(OP_QUERY, 0, 0), (OP_QUERY, 3, 0), ("consume", 1, 0),
                                             (OP_RESERVE_SUBMIT, 6, 0), (OP_QUERY, 2, 0), ("consume", 0, 0),
                                             (OP_RESERVE_SUBMIT, 9, 0), (OP_OUTPUT, 5, 0), (OP_OUTPUT, 1, 8)]
    run_both(ops)
