"""Helpers through small programs on both engines, with a deterministic Environment."""
from __future__ import annotations

import ctypes
import errno
import random
import struct

import pytest

import pyebpf
from pyebpf.abi.maps import MapSpec
from pyebpf.errors import VmError
from pyebpf.vm import VM
from pyebpf.vm.env import Environment
from pyebpf.vm.helpers import DEFAULT_HELPERS, resolve_helper

M64 = (1 << 64) - 1
ENGINES = ("interp", "compiled")


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


def asm(text: str, maps=()):
    return pyebpf.assemble(text, maps=list(maps))


def run(text: str, engine: str, maps=(), env=None, **kw):
    vm = VM(asm(text, maps), engine=engine, env=env, ncpus=env.ncpus if env else 1)
    return vm, vm.run(**kw)


def neg(e: int) -> int:
    return (-e) & M64


# ---- environment ---------------------------------------------------------------------------------------------------

def test_time_identity_and_cpu(engine):
    env = Environment(pid=100, tgid=200, uid=1000, gid=2000, comm=b"bash", time_ns=5_000, time_step_ns=10, cpu=1,
                      ncpus=2, numa_node=0)
    src = """
        call bpf_ktime_get_ns
        r6 = r0
        call bpf_ktime_get_ns
        r0 -= r6
        *(u64 *)(r10 - 8) = r0
        call bpf_get_current_pid_tgid
        *(u64 *)(r10 - 16) = r0
        call bpf_get_current_uid_gid
        *(u64 *)(r10 - 24) = r0
        call bpf_get_smp_processor_id
        *(u64 *)(r10 - 32) = r0
        r1 = r10
        r1 += -48
        r2 = 16
        call bpf_get_current_comm
        r0 = *(u64 *)(r10 - 8)
        r1 = *(u64 *)(r10 - 16)
        r0 <<= 8
        r2 = *(u64 *)(r10 - 32)
        r0 |= r2
        exit
    """
    vm, res = run(src, engine, env=env)
    assert res.r0 == (10 << 8) | 1
    assert env.pid_tgid() == (200 << 32) | 100 and env.uid_gid() == (2000 << 32) | 1000


def test_comm_is_truncated_and_padded(engine):
    env = Environment(comm=b"a-very-long-command-name")
    src = """
        r1 = -1
        *(u64 *)(r10 - 8) = r1
        *(u64 *)(r10 - 16) = r1
        r1 = r10
        r1 += -16
        r2 = 16
        call bpf_get_current_comm
        r0 = *(u64 *)(r10 - 8)
        exit
    """
    _, res = run(src, engine, env=env)
    # the kernel keeps 15 bytes of comm (TASK_COMM_LEN - 1) and NUL-terminates
    assert res.r0.to_bytes(8, "little") == b"a-very-long-command-name"[8:15] + b"\0"


def test_prandom_is_seedable(engine):
    src = "call bpf_get_prandom_u32\nr6 = r0\ncall bpf_get_prandom_u32\nr6 <<= 32\nr0 |= r6\nexit"
    a = run(src, engine, env=Environment(seed=7))[1].r0
    b = run(src, engine, env=Environment(seed=7))[1].r0
    c = run(src, engine, env=Environment(seed=8))[1].r0
    rng = random.Random(7)
    first, second = rng.getrandbits(32), rng.getrandbits(32)
    assert a == b == (first << 32) | second and a != c


def test_time_from_a_callable(engine):
    ticks = iter([100, 250])
    _, res = run("call bpf_ktime_get_ns\nr6 = r0\ncall bpf_ktime_get_ns\nr0 -= r6\nexit", engine,
                 env=Environment(time_ns=lambda: next(ticks)))
    assert res.r0 == 150


# ---- map helpers ---------------------------------------------------------------------------------------------------

HASH = MapSpec.of("h", "hash", ctypes.c_uint32, ctypes.c_uint64, 2)


def test_map_update_errnos_from_program(engine):
    src = """
        *(u32 *)(r10 - 4) = 1
        r1 = 10
        *(u64 *)(r10 - 16) = r1
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 1
        call bpf_map_update_elem
        r6 = r0
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 1
        call bpf_map_update_elem
        r7 = r0
        *(u32 *)(r10 - 4) = 9
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        call bpf_map_delete_elem
        r8 = r0
        r0 = r6
        r0 += r7
        r0 <<= 16
        r0 += r8
        exit
    """
    vm, res = run(src, engine, maps=[HASH])
    # first NOEXIST insert: 0; second: -EEXIST; delete of a missing key: -ENOENT
    assert res.r0 == ((neg(errno.EEXIST) << 16) + neg(errno.ENOENT)) & M64
    assert dict(vm.maps["h"]) == {1: 10}


def test_lookup_pointer_writes_change_the_map(engine):
    src = """
        *(u32 *)(r10 - 4) = 3
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto miss
        r1 = 77
        *(u64 *)(r0 + 0) = r1
        r0 = 1
        exit
    miss:
        r0 = 0
        exit
    """
    prog = asm(src, [HASH])
    vm = VM(prog, engine=engine)
    assert vm.run().r0 == 0
    vm.maps["h"][3] = 5
    assert vm.run().r0 == 1
    assert vm.maps["h"][3] == 77


def test_percpu_update_touches_only_the_current_cpu(engine):
    spec = MapSpec.of("pc", "percpu_array", 4, 8, 1)
    src = """
        *(u32 *)(r10 - 4) = 0
        r1 = 9
        *(u64 *)(r10 - 16) = r1
        r1 = map[pc] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        exit
    """
    vm, res = run(src, engine, maps=[spec], env=Environment(cpu=1, ncpus=3))
    assert res.r0 == 0
    assert vm.maps["pc"][0] == [0, 9, 0]


def test_queue_push_pop_peek(engine):
    spec = MapSpec.of("q", "queue", 0, 8, 2)
    src = """
        r1 = 11
        *(u64 *)(r10 - 8) = r1
        r1 = map[q] ll
        r2 = r10
        r2 += -8
        r3 = 0
        call bpf_map_push_elem
        r1 = map[q] ll
        r2 = r10
        r2 += -16
        call bpf_map_pop_elem
        r6 = *(u64 *)(r10 - 16)
        r1 = map[q] ll
        r2 = r10
        r2 += -16
        call bpf_map_peek_elem
        r6 <<= 32
        r0 &= 0xffff
        r0 |= r6
        exit
    """
    _, res = run(src, engine, maps=[spec])
    assert res.r0 == (11 << 32) | (neg(errno.ENOENT) & 0xFFFF)


def test_for_each_map_elem_visits_array_in_order(engine):
    spec = MapSpec.of("a", "array", 4, 8, 4)
    src = """
        r1 = map[a] ll
        r2 = cb ll
        r3 = 0
        r4 = 0
        call bpf_for_each_map_elem
        exit
    cb:
        r4 = *(u32 *)(r2 + 0)
        r5 = *(u64 *)(r3 + 0)
        r5 += r4
        *(u64 *)(r3 + 0) = r5
        r0 = 0
        if r4 == 2 goto stop
        exit
    stop:
        r0 = 1
        exit
    """
    prog = asm(src, [spec])
    vm = VM(prog, engine=engine)
    for i in range(4):
        vm.maps["a"][i] = 100
    assert vm.run().r0 == 3  # visited indices 0, 1, 2 (the callback asked to stop at 2)
    assert [vm.maps["a"][i] for i in range(4)] == [100, 101, 102, 100]


# ---- probe_read -----------------------------------------------------------------------------------------------------

KADDR = 0xFFFF_8880_0000_1000
UADDR = 0x7FFF_0000_1000


@pytest.mark.parametrize("helper,addr,expect_ok", [
    ("bpf_probe_read_kernel", KADDR, True), ("bpf_probe_read_kernel", KADDR + 4096, False),
    ("bpf_probe_read_user", UADDR, True), ("bpf_probe_read_user", UADDR + 12, False),
    ("bpf_probe_read", KADDR, True), ("bpf_probe_read", UADDR, True),
])
def test_probe_read(engine, helper, addr, expect_ok):
    env = Environment(kernel_memory={KADDR: b"KERNELDATA!!!!!!"}, user_memory={UADDR: b"user-bytes-here!"})
    src = f"""
        r1 = -1
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -8
        r2 = 8
        r3 = {addr:#x} ll
        call {helper}
        r6 = r0
        r0 = *(u64 *)(r10 - 8)
        if r6 == 0 goto out
        r0 = r6
    out:
        exit
    """
    _, res = run(src, engine, env=env)
    if expect_ok:
        assert res.r0.to_bytes(8, "little") in (b"KERNELDA", b"user-byt")
    else:
        assert res.r0 == neg(errno.EFAULT)


def test_probe_read_kernel_of_user_address_is_erange(engine):
    env = Environment(user_memory={UADDR: bytes(16)})
    src = f"r1 = r10\nr1 += -8\nr2 = 8\nr3 = {UADDR:#x} ll\ncall bpf_probe_read_kernel\nexit"
    assert run(src, engine, env=env)[1].r0 == neg(errno.ERANGE)


def test_probe_read_str(engine):
    env = Environment(user_memory={UADDR: b"hi\0junk", UADDR + 100: b"abcdefghijkl"})
    src = f"""
        r1 = r10
        r1 += -16
        r2 = 16
        r3 = {UADDR:#x} ll
        call bpf_probe_read_user_str
        r6 = r0
        r1 = r10
        r1 += -32
        r2 = 4
        r3 = {UADDR + 100:#x} ll
        call bpf_probe_read_user_str
        r6 <<= 8
        r6 |= r0
        r0 = *(u32 *)(r10 - 32)
        r0 <<= 16
        r0 |= r6
        exit
    """
    _, res = run(src, engine, env=env)
    assert res.r0 & 0xFFFF == (3 << 8) | 4  # "hi\0" is 3 bytes; the truncated string is size (4) bytes
    assert (res.r0 >> 16).to_bytes(4, "little") == b"abc\0"


# ---- ring buffer and perf ----------------------------------------------------------------------------------------------

RB = MapSpec("rb", 27, 0, 0, 4096)


def test_ringbuf_reserve_submit_discard_output_query(engine):
    src = """
        r1 = map[rb] ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto fail
        r1 = 0x1122334455667788 ll
        *(u64 *)(r0 + 0) = r1
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r1 = map[rb] ll
        r2 = 16
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto fail
        r1 = r0
        r2 = 0
        call bpf_ringbuf_discard
        r1 = 0x61626364
        *(u32 *)(r10 - 4) = r1
        r1 = map[rb] ll
        r2 = r10
        r2 += -4
        r3 = 4
        r4 = 0
        call bpf_ringbuf_output
        r6 = r0
        r1 = map[rb] ll
        r2 = 0
        call bpf_ringbuf_query
        exit
    fail:
        r0 = -1
        exit
    """
    vm, res = run(src, engine, maps=[RB])
    assert res.r0 == 16 + 24 + 16  # record footprints: 8-byte header + data, rounded to 8
    rb = vm.maps["rb"]
    assert rb.consume() == [struct.pack("<Q", 0x1122334455667788), b"dcba"]
    assert [r.data for r in res.ring] == [struct.pack("<Q", 0x1122334455667788), b"dcba"]


def test_ringbuf_full_reserve_is_null_and_output_eagain(engine):
    src = """
        r1 = map[rb] ll
        r2 = 4000
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto fail
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r1 = map[rb] ll
        r2 = r10
        r2 += -200
        r3 = 200
        r4 = 0
        call bpf_ringbuf_output
        exit
    fail:
        r0 = 1
        exit
    """
    _, res = run(src, engine, maps=[RB])
    assert res.r0 == neg(errno.EAGAIN)


PERF = MapSpec.of("ev", "perf_event_array", 4, 4, 2)


@pytest.mark.parametrize("flags,expect", [(0xFFFFFFFF, 0), (1, 0), (0, -errno.EOPNOTSUPP), (5, -errno.E2BIG),
                                          (1 << 32, -errno.EINVAL)])
def test_perf_event_output(engine, flags, expect):
    src = f"""
        r6 = r1
        r1 = 0x41424344
        *(u32 *)(r10 - 4) = r1
        r1 = r6
        r2 = map[ev] ll
        r3 = {flags:#x} ll
        r4 = r10
        r4 += -4
        r5 = 4
        call bpf_perf_event_output
        exit
    """
    vm, res = run(src, engine, maps=[PERF], env=Environment(cpu=1, ncpus=2), mem=bytes(8))
    assert res.r0 == expect & M64
    if expect == 0:
        assert vm.maps["ev"].drain() == [(1, b"DCBA")]
        assert [(r.cpu, r.data) for r in res.perf] == [(1, b"DCBA")]


# ---- stacks, loops, misc -----------------------------------------------------------------------------------------------

def test_get_stackid(engine):
    spec = MapSpec("st", 7, 4, 8 * 4, 16)
    env = Environment(kernel_stack=[0xFFFFFFFF81000010, 0xFFFFFFFF81000020, 0xFFFFFFFF81000030])
    src = """
        r6 = r1
        r1 = r6
        r2 = map[st] ll
        r3 = 0
        call bpf_get_stackid
        r7 = r0
        r1 = r6
        r2 = map[st] ll
        r3 = 0
        call bpf_get_stackid
        if r0 != r7 goto bad
        exit
    bad:
        r0 = -1
        exit
    """
    vm, res = run(src, engine, maps=[spec], env=env, mem=bytes(8))
    sid = res.r0
    assert 0 <= sid < 16
    stored = vm.maps["st"].lookup_raw(sid.to_bytes(4, "little"))
    assert struct.unpack("<4Q", stored) == (0xFFFFFFFF81000010, 0xFFFFFFFF81000020, 0xFFFFFFFF81000030, 0)


def test_loop_limits(engine):
    src = """
        r1 = 0x800001 ll
        r2 = cb ll
        r3 = 0
        r4 = 0
        call bpf_loop
        r6 = r0
        r1 = 1
        r2 = cb ll
        r3 = 0
        r4 = 1
        call bpf_loop
        r6 <<= 16
        r0 &= 0xffff
        r0 |= r6
        exit
    cb:
        r0 = 0
        exit
    """
    _, res = run(src, engine)
    assert res.r0 == ((neg(errno.E2BIG) << 16) | (neg(errno.EINVAL) & 0xFFFF)) & M64


def test_unknown_helper_is_a_clear_error(engine):
    with pytest.raises(VmError) as ei:
        run("r0 = 0\ncall 50\nexit", engine)
    assert ei.value.pc == 1
    with pytest.raises(VmError, match="bpf_skb_adjust_room"):
        resolve_helper("bpf_skb_adjust_room")
    assert resolve_helper("trace_printk") is DEFAULT_HELPERS[6]


def test_strncmp(engine):
    src = f"""
        r1 = {int.from_bytes(b"abcd", "little"):#x}
        *(u64 *)(r10 - 8) = r1
        r1 = {int.from_bytes(b"abd", "little"):#x}
        *(u64 *)(r10 - 16) = r1
        r1 = r10
        r1 += -8
        r2 = 3
        r3 = r10
        r3 += -16
        call bpf_strncmp
        exit
    """
    assert run(src, engine)[1].r0 == (-1) & M64


def test_skb_event_output_appends_packet_bytes(engine):
    from pyebpf.vm.context import SkbContext

    src = """
        r6 = r1
        r1 = 0x41424344
        *(u32 *)(r10 - 4) = r1
        r1 = r6
        r2 = map[ev] ll
        r3 = 0x3ffffffff ll
        r4 = r10
        r4 += -4
        r5 = 4
        call bpf_perf_event_output
        r7 = r0
        r1 = r6
        r2 = map[ev] ll
        r3 = 0x100ffffffff ll
        r4 = r10
        r4 += -4
        r5 = 4
        call bpf_perf_event_output
        r7 <<= 16
        r0 &= 0xffff
        r0 |= r7
        exit
    """
    vm = VM(asm(src, [PERF]), engine=engine, prog_type="sched_cls")
    res = vm.run(SkbContext(b"\x01\x02\x03" + bytes(61)))
    assert res.r0 == (0 << 16) | ((-errno.EFAULT) & 0xFFFF)  # 256 bytes of a 64-byte packet: EFAULT
    assert vm.maps["ev"].drain() == [(0, b"DCBA\x01\x02\x03")]


def test_long_loop_of_updates_keeps_value_regions_bounded(engine):
    """Replacing a hash element recycles element buffers as the kernel's preallocated elements are recycled, so
    70k update+lookup pairs in one run do not exhaust the VM's address space (64k regions)."""
    spec = MapSpec.of("h", "hash", 4, 8, 4)
    src = """
        r1 = 70000 ll
        r2 = cb ll
        r3 = 0
        r4 = 0
        call bpf_loop
        exit
    cb:
        *(u32 *)(r10 - 4) = 1
        *(u64 *)(r10 - 16) = r1
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        r0 = 0
        exit
    """
    vm = VM(asm(src, [spec]), engine=engine, max_insns=10_000_000)
    assert vm.run().r0 == 70000
    assert vm.maps["h"][1] == 69999


def test_many_ringbuf_records_in_one_run(engine):
    """Reservations reuse released record buffers: 70k reserve/submit pairs stay within the address space."""
    spec = MapSpec("rb", 27, 0, 0, 1 << 22)
    src = """
        r1 = 70000 ll
        r2 = cb ll
        r3 = 0
        r4 = 0
        call bpf_loop
        exit
    cb:
        r6 = r1
        r1 = map[rb] ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto full
        *(u64 *)(r0 + 0) = r6
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r0 = 0
        exit
    full:
        r0 = 1
        exit
    """
    vm = VM(asm(src, [spec]), engine=engine, max_insns=10_000_000)
    res = vm.run()
    records = vm.maps["rb"].consume()
    assert res.r0 == len(records) == 70000
    assert struct.unpack("<Q", records[-1])[0] == 69999


def test_cpu_beyond_the_maps_cpus_is_a_clear_error(engine):
    spec = MapSpec.of("pc", "percpu_array", 4, 8, 1)
    src = "*(u32 *)(r10 - 4) = 0\nr1 = map[pc] ll\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\nr0 = 0\nexit"
    vm = VM(asm(src, [spec]), engine=engine, env=Environment(cpu=3), ncpus=2)
    with pytest.raises(VmError, match="env.cpu is 3"):
        vm.run()
