"""Program-side map operations: one tc program that performs the map operation its packet names (lookup / update /
delete), run in the VM and with BPF_PROG_TEST_RUN in the kernel, interleaved with syscall-side operations.

This checks the helpers and the maps together: return values and errnos of bpf_map_*_elem from a program,
per-CPU updates touching only the running CPU, and LRU eviction when program lookups set ref bits.
"""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

import pyebpf
from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.vm import VM
from pyebpf.vm.context import SkbContext
from pyebpf.vm.env import Environment
from pyebpf.vm.maps import create_map as vm_create

from test_maps_kernel import apply, on_cpu0  # noqa: E402  (same directory)

pytestmark = pytest.mark.kernel

OP_LOOKUP, OP_UPDATE, OP_DELETE = 1, 2, 3
HIT = 1 << 20

OP_PROGRAM = f"""
    r6 = r1
    r1 = r6
    r2 = 14
    r3 = r10
    r3 += -16
    r4 = 16
    call bpf_skb_load_bytes
    if r0 != 0 goto fail
    r7 = *(u32 *)(r10 - 16)
    if r7 == {OP_LOOKUP} goto lookup
    if r7 == {OP_UPDATE} goto update
    if r7 == {OP_DELETE} goto delete
fail:
    r0 = 0xfffff
    exit
lookup:
    r1 = map[m] ll
    r2 = r10
    r2 += -12
    call bpf_map_lookup_elem
    if r0 == 0 goto miss
    r0 = *(u32 *)(r0 + 0)
    r0 |= {HIT}
    exit
miss:
    r0 = 0
    exit
update:
    r1 = map[m] ll
    r2 = r10
    r2 += -12
    r3 = r10
    r3 += -8
    r4 = *(u32 *)(r10 - 4)
    call bpf_map_update_elem
    exit
delete:
    r1 = map[m] ll
    r2 = r10
    r2 += -12
    call bpf_map_delete_elem
    exit
"""

VALUES = st.integers(0, HIT - 1)
KEYS = st.integers(0, 11)
FLAGS = st.sampled_from([0, 0, 1, 2, 4])


def ops_strategy():
    return st.lists(st.one_of(
        st.tuples(st.just("p-lookup"), KEYS),
        st.tuples(st.just("p-update"), KEYS, VALUES, FLAGS),
        st.tuples(st.just("p-delete"), KEYS),
        st.tuples(st.just("update"), KEYS, VALUES, st.sampled_from([0, 1, 2])),
        st.tuples(st.just("lookup"), KEYS),
        st.tuples(st.just("delete"), KEYS),
    ), max_size=40)


def packet_for(op) -> bytes:
    kind = op[0]
    code = {"p-lookup": OP_LOOKUP, "p-update": OP_UPDATE, "p-delete": OP_DELETE}[kind]
    value, flags = (op[2], op[3]) if kind == "p-update" else (0, 0)
    return bytes(14) + struct.pack("<4I", code, op[1], value, flags) + bytes(34)


def run_both(spec: MapSpec, ops) -> None:
    from pyebpf.loader import load
    from pyebpf.loader.maps import create_map as k_create
    from pyebpf.system import num_possible_cpus

    prog = pyebpf.assemble(OP_PROGRAM, maps=[spec])
    ncpus = num_possible_cpus()
    with on_cpu0(), k_create(spec) as km, load(prog, "sched_cls", maps={"m": km}) as kp:
        vm_map = vm_create(spec, ncpus=ncpus)
        vm = VM(prog, prog_type="sched_cls", maps={"m": vm_map}, env=Environment(cpu=0, ncpus=ncpus), ncpus=ncpus)
        for i, op in enumerate(ops):
            if op[0].startswith("p-"):
                pkt = packet_for(op)
                got_k = kp.test_run(pkt).retval
                got_v = vm.run(SkbContext(pkt)).r0 & 0xFFFFFFFF
            else:
                got_k, got_v = apply(km, op), apply(vm_map, op)
            assert got_v == got_k, f"op {i} {op}: kernel {got_k!r}, vm {got_v!r}; ops {ops[:i + 1]}"
            assert sorted(vm_map) == sorted(km), f"contents after op {i} {op}; ops {ops[:i + 1]}"
        assert {k: vm_map[k] for k in vm_map} == {k: km[k] for k in km}


@settings(max_examples=25, deadline=None)
@given(ops_strategy(), st.integers(1, 6))
def test_hash_from_program(ops, max_entries):
    run_both(MapSpec.of("m", "hash", 4, 4, max_entries), ops)


@settings(max_examples=15, deadline=None)
@given(ops_strategy(), st.integers(1, 14))
def test_array_from_program(ops, max_entries):
    run_both(MapSpec.of("m", "array", 4, 4, max_entries), ops)


@settings(max_examples=20, deadline=None)
@given(ops_strategy(), st.integers(1, 6))
def test_percpu_hash_from_program(ops, max_entries):
    ops = [op for op in ops if op[0] != "update"]  # syscall updates take one value per CPU: not in this strategy
    run_both(MapSpec.of("m", "percpu_hash", 4, 4, max_entries), ops)


@settings(max_examples=15, deadline=None)
@given(ops_strategy(), st.integers(1, 14))
def test_percpu_array_from_program(ops, max_entries):
    ops = [op for op in ops if op[0] != "update"]
    run_both(MapSpec.of("m", "percpu_array", 4, 4, max_entries), ops)


@settings(max_examples=60, deadline=None)
@given(ops_strategy(), st.integers(1, 12))
def test_lru_from_program(ops, max_entries):
    """Program lookups set ref bits, which decide what the kernel's LRU evicts: the VM's model must agree."""
    run_both(MapSpec.of("m", "lru_hash", 4, 4, max_entries), ops)


@settings(max_examples=20, deadline=None)
@given(ops_strategy(), st.integers(1, 12))
def test_lru_percpu_from_program(ops, max_entries):
    ops = [op for op in ops if op[0] != "update"]
    run_both(MapSpec.of("m", "lru_percpu_hash", 4, 4, max_entries), ops)


# ---- queue / stack from a program ------------------------------------------------------------------------------------

OP_PUSH, OP_POP, OP_PEEK = 1, 2, 3

QUEUE_PROGRAM = f"""
    r6 = r1
    r1 = r6
    r2 = 14
    r3 = r10
    r3 += -16
    r4 = 16
    call bpf_skb_load_bytes
    if r0 != 0 goto fail
    r7 = *(u32 *)(r10 - 16)
    if r7 == {OP_PUSH} goto push
    if r7 == {OP_POP} goto pop
    if r7 == {OP_PEEK} goto peek
fail:
    r0 = 0xfffff
    exit
push:
    r1 = map[m] ll
    r2 = r10
    r2 += -8
    r3 = *(u32 *)(r10 - 4)
    call bpf_map_push_elem
    exit
pop:
    r1 = map[m] ll
    r2 = r10
    r2 += -8
    call bpf_map_pop_elem
    goto result
peek:
    r1 = map[m] ll
    r2 = r10
    r2 += -8
    call bpf_map_peek_elem
result:
    if r0 != 0 goto done
    r0 = *(u32 *)(r10 - 8)
    r0 |= {HIT}
done:
    exit
"""


def queue_ops():
    return st.lists(st.one_of(
        st.tuples(st.just("p-push"), VALUES, st.sampled_from([0, 0, 2, 1, 4])),
        st.tuples(st.just("p-pop")),
        st.tuples(st.just("p-peek")),
        st.tuples(st.just("push"), VALUES, st.sampled_from([0, 2])),
        st.tuples(st.just("pop")),
        st.tuples(st.just("peek")),
    ), max_size=30)


@settings(max_examples=30, deadline=None)
@given(queue_ops(), st.integers(1, 5), st.sampled_from(["queue", "stack"]))
def test_queue_stack_from_program(ops, max_entries, kind):
    from pyebpf.loader import load
    from pyebpf.loader.maps import create_map as k_create

    spec = MapSpec.of("m", kind, 0, 4, max_entries)
    prog = pyebpf.assemble(QUEUE_PROGRAM, maps=[spec])
    codes = {"p-push": OP_PUSH, "p-pop": OP_POP, "p-peek": OP_PEEK}
    with k_create(spec) as km, load(prog, "sched_cls", maps={"m": km}) as kp:
        vm_map = vm_create(spec)
        vm = VM(prog, prog_type="sched_cls", maps={"m": vm_map})
        for i, op in enumerate(ops):
            if op[0].startswith("p-"):
                value, flags = (op[1], op[2]) if op[0] == "p-push" else (0, 0)
                pkt = bytes(14) + struct.pack("<4I", codes[op[0]], 0, value, flags) + bytes(34)
                got_k, got_v = kp.test_run(pkt).retval, vm.run(SkbContext(pkt)).r0 & 0xFFFFFFFF
            else:
                got_k, got_v = apply(km, op), apply(vm_map, op)
            assert got_v == got_k, f"op {i} {op}: kernel {got_k!r}, vm {got_v!r}; ops {ops[:i + 1]}"


@settings(max_examples=20, deadline=None)
@given(ops_strategy(), st.integers(1, 12))
def test_lru_no_common_lru_from_program(ops, max_entries):
    run_both(MapSpec("m", MapType.LRU_HASH, 4, 4, max_entries, flags=2), ops)
