"""load() and KernelProgram against the kernel: test_run per program type, maps patched in, the verifier log on
rejection, log buffer sizing, fd hygiene on every path, generated BTF for callbacks and subprograms."""
from __future__ import annotations

import ctypes
import errno
import gc

import pytest

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.prog_types import ProgType
from pyebpf.abi.uapi import TcAction, XdpAction
from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R6, R10, Builder
from pyebpf.loader import KernelProgram, ProgramLoadError, create_map, load
from pyebpf.loader.fdguard import open_fd_count

pytestmark = pytest.mark.kernel
u32, u64 = ctypes.c_uint32, ctypes.c_uint64

PACKET = bytes(range(64))


def xdp_first_byte_verdict() -> Builder:
    """XDP: DROP when the first packet byte is 0xff, PASS otherwise (bounds-checked packet read)."""
    b = Builder("xdp", name="first_byte")
    b.load(R2, R1 + 0, "u32").load(R3, R1 + 4, "u32")
    b.mov(R4, R2).add(R4, 1)
    b.mov(R0, XdpAction.PASS)
    with b.if_(R4 <= R3):
        b.load(R4, R2 + 0, "u8")
        with b.if_(R4 == 0xFF):
            b.mov(R0, XdpAction.DROP)
    return b.exit()


def counter_program(prog_type: str = "xdp", ret: int = 2) -> Builder:
    """Adds 1 to counts[0] on every run."""
    b = Builder(prog_type, name="counter")
    counts = b.map("counts", "array", u32, u64, 1)
    b.store(R10 - 4, 0, "u32").mov(R2, R10).add(R2, -4).ld_map(R1, counts).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    return b.ret(ret)


def test_xdp_test_run_verdicts_and_data():
    with load(xdp_first_byte_verdict().build()) as p:
        assert isinstance(p, KernelProgram) and p.prog_type == ProgType.XDP and p.name == "first_byte"
        r = p.test_run(PACKET, repeat=3)
        assert r.retval == XdpAction.PASS and r.data == PACKET and r.duration_ns >= 0
        assert p.test_run(b"\xff" + PACKET[1:]).retval == XdpAction.DROP


def test_socket_filter_returns_skb_len():
    b = Builder("socket_filter", name="len")
    b.load(R0, R1 + 0, "u32").exit()  # __sk_buff.len
    with load(b.build()) as p:
        # test_run pulls the Ethernet header before the filter runs, as a socket sees the packet
        assert p.test_run(PACKET).retval == len(PACKET) - 14
        assert p.test_run(PACKET * 3).retval == len(PACKET) * 3 - 14


def test_sched_cls_sets_mark_in_ctx_out():
    class SkBuffHead(ctypes.Structure):  # struct __sk_buff up to `mark` (test_run takes a prefix)
        _fields_ = [("len", u32), ("pkt_type", u32), ("mark", u32)]

    b = Builder("sched_cls", name="mark")
    b.store(R1 + 8, 0x1234, "u32")  # skb->mark
    b.ret(TcAction.OK)
    with load(b.build()) as p:
        r = p.test_run(PACKET, ctx=SkBuffHead())
        assert r.retval == TcAction.OK and isinstance(r.ctx, SkBuffHead) and r.ctx.mark == 0x1234


def test_maps_are_created_patched_and_owned():
    before = open_fd_count()
    with load(counter_program().build()) as p:
        assert set(p.maps) == {"counts"}
        p.test_run(PACKET, repeat=7)
        assert p.maps["counts"][0] == 7
        assert p.info().map_ids == (p.maps["counts"].id,)
    assert p.maps["counts"].closed and open_fd_count() == before


def test_existing_map_is_shared_and_not_closed():
    with create_map(MapSpec.of("counts", "array", u32, u64, 1)) as shared:
        with load(counter_program().build(), maps={"counts": shared}) as a, \
                load(counter_program().build(), maps={"counts": shared}) as b:
            a.test_run(PACKET, repeat=2)
            b.test_run(PACKET, repeat=3)
        assert not shared.closed and shared[0] == 5


def test_map_value_reference_and_fd_array():
    """lddw src=MAP_VALUE (global-data style), once with fds and once through fd_array (BPF_PSEUDO_MAP_IDX_VALUE)."""
    b = Builder("socket_filter", name="globals")
    data = b.map("data", "array", u32, ctypes.c_uint64 * 4, 1)
    b.ld_map_value(R6, data, 16)  # &data[0][2]
    b.load(R0, R6 + 0, "u64")
    b.exit()
    prog = b.build()
    for use_fd_array in (False, True):
        with load(prog, use_fd_array=use_fd_array) as p:
            p.maps["data"][0] = (ctypes.c_uint64 * 4)(1, 2, 42, 4)
            assert p.test_run(PACKET).retval == 42


def test_verifier_rejection_carries_the_log():
    b = Builder("socket_filter", name="bad")
    b.exit()  # R0 never written
    with pytest.raises(ProgramLoadError) as e:
        load(b.build())
    err = e.value
    assert isinstance(err, LoaderError) and err.errno == errno.EACCES
    assert "R0 !read_ok" in err.log and "R0 !read_ok" in str(err) and err.program_name == "bad"


def test_log_level_keeps_log_on_success_and_too_small_buffer_is_retried():
    prog = counter_program().build()
    with load(prog, log_level=2, log_size=64) as p:  # 64 bytes: the kernel says ENOSPC and how much it needs
        assert "processed" in p.log and len(p.log) > 64
    bad = Builder("socket_filter", name="bad").mov(R0, R2).exit().build()  # R2 never written
    with pytest.raises(ProgramLoadError) as e:
        load(bad, log_level=2, log_size=32)
    assert e.value.errno == errno.EACCES and "R2 !read_ok" in e.value.log
    assert e.value.log.startswith("func#0") or e.value.log.startswith("0:")  # the whole log, not its tail


def test_unknown_helper_is_rejected_with_the_kernels_words():
    b = Builder("socket_filter", name="nohelper")
    b.call(10_000).ret(0)
    with pytest.raises(ProgramLoadError) as e:
        load(b.build())
    assert "invalid func unknown#10000" in e.value.log


def test_no_fd_leaks_on_failing_loads():
    good_maps_bad_code = Builder("socket_filter", name="leak")
    good_maps_bad_code.map("m1", "hash", u32, u64, 4)
    good_maps_bad_code.map("m2", "array", u32, u64, 4)
    good_maps_bad_code.exit()
    bad_map = Builder("socket_filter", name="leak2")
    bad_map.map("ok", "hash", u32, u64, 4)
    bad_map.use_map(MapSpec("zero", MapType.ARRAY, 4, 4, 0))  # creating this map fails after "ok" was made
    bad_map.ret(0)
    with_btf = Builder("xdp", name="leak3")
    with_btf.ld_func(R2, "cb").mov(R1, 1).mov(R3, 0).mov(R4, 0).call("bpf_loop").exit()  # cb returns garbage
    with with_btf.function("cb"):
        with_btf.exit()
    gc.collect()
    before = open_fd_count()
    for prog in (good_maps_bad_code.build(), bad_map.build(), with_btf.build()):
        for _ in range(5):
            with pytest.raises(LoaderError):
                load(prog)
    gc.collect()
    assert open_fd_count() == before


def test_bpf_loop_callback_gets_generated_btf():
    b = Builder("xdp", name="loop")
    b.store(R10 - 8, 0, "u64")
    b.mov(R1, 10).ld_func(R2, "add_index").mov(R3, R10).add(R3, -8).mov(R4, 0).call("bpf_loop")
    b.mov(R6, R0)  # iterations done
    b.load(R0, R10 - 8, "u64").mul(R0, 100).add(R0, R6)
    b.exit()
    with b.function("add_index"):  # (u32 index, u64 *sum) -> 0 = continue
        b.load(R0, R2 + 0, "u64").add(R0, R1).store(R2 + 0, R0, "u64").ret(0)
    with load(b.build()) as p:
        assert p.test_run(PACKET).retval == 45 * 100 + 10
        assert p.info().nr_func_info == 2 and p.btf is not None


def test_bpf_to_bpf_call():
    b = Builder("socket_filter", name="calls")
    b.mov(R1, 20).call_local("double").add(R0, 2).exit()
    with b.function("double"):
        b.mov(R0, R1).add(R0, R1).exit()
    with load(b.build()) as p:
        assert p.test_run(PACKET).retval == 42


def test_prog_type_sources_and_errors():
    prog = Builder(name="untyped").ret(1).build()
    with pytest.raises(LoaderError, match="no program type"):
        load(prog)
    with load(prog, "socket_filter") as p:
        assert p.prog_type == ProgType.SOCKET_FILTER and p.test_run(PACKET).retval == 1
    with load(prog, ProgType.SCHED_CLS, name="renamed") as p:
        assert p.info().name == "renamed"


def test_test_run_grows_output_buffer_on_enospc():
    b = Builder("xdp", name="grow")
    b.mov(R6, R1).mov(R2, 100).call("xdp_adjust_tail").ret(XdpAction.PASS)  # packet grows by 100 bytes
    with load(b.build()) as p:
        r = p.test_run(PACKET, data_out_size=None)
        assert len(r.data) == len(PACKET) + 100 and r.data[:64] == PACKET
        with pytest.raises(LoaderError) as e:
            p.test_run(PACKET, data_out_size=8)
        assert e.value.errno == errno.ENOSPC


def test_closed_program_refuses_work_and_close_is_idempotent():
    p = load(counter_program().build())
    p.close()
    p.close()
    with pytest.raises(LoaderError, match="closed"):
        p.test_run(PACKET)
    assert "closed" in repr(p)


def test_reopen_by_id_shares_maps():
    with load(counter_program().build()) as p:
        with KernelProgram.from_id(p.info().id) as again:
            assert again.prog_type == ProgType.XDP and set(again.maps) == {"counts"}
            again.test_run(PACKET, repeat=4)
            assert p.maps["counts"][0] == 4


def test_test_run_of_a_type_without_it_names_enotsupp():
    with load(Builder("tracepoint", name="tp").ret(0).build()) as p:
        with pytest.raises(LoaderError) as e:
            p.test_run(PACKET)
    assert e.value.errno == 524 and "ENOTSUPP" in str(e.value)


def test_undeclared_map_reference_is_named():
    from pyebpf.abi.opcodes import OP_LD_IMM64, PseudoSrc
    from pyebpf.isa.instruction import Instruction

    b = Builder("socket_filter", name="undeclared")
    b.emit(Instruction(OP_LD_IMM64, 1, PseudoSrc.MAP_FD, 0, 0, ref="ghost")).ret(0)
    with pytest.raises(LoaderError, match="insn 0: map 'ghost' is referenced"):
        load(b.build())
    with create_map(MapSpec.of("ghost", "array", u32, u32, 1)) as m:  # supplying it makes the program whole
        with load(b.build(), maps={"ghost": m}) as p:
            assert p.maps["ghost"] is m
