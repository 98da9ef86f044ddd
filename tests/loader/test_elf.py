"""load_elf on clang-compiled objects: what is read (programs, sections, maps, globals, BTF info), errors on bad
input, and (kernel) loading, attaching, triggering and reading the results back."""
from __future__ import annotations

import errno
import os
import shutil
import socket
import struct
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.abi.opcodes import PseudoSrc
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.abi.uapi import MapCreateFlags, XdpAction
from pyebpf.errors import ElfError
from pyebpf.isa.program import Program
from pyebpf.loader.elf import ElfObject, load_elf
from pyebpf.testing.plugin import require_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "c"))
from bpf_objects import ToolMissing, object_path  # noqa: E402


def obj(name: str, flags: tuple[str, ...] = ("-g",)) -> str:
    try:
        return object_path(name, flags)
    except ToolMissing as e:
        require_or_skip(str(e))
        raise AssertionError("unreachable")


# ---- offline: what the object contains ----------------------------------------------------------------------

def test_openat_counter_program_and_btf_map():
    o = load_elf(obj("openat_counter"))
    assert list(o.programs) == ["count_openat"]
    p = o.programs["count_openat"]
    assert isinstance(p, Program)
    assert p.prog_type == ProgType.TRACEPOINT
    assert p.attach_to == "syscalls/sys_enter_openat"
    assert p.license == "GPL"
    spec = o.maps["openat_counts"]
    assert (spec.type, spec.key_size, spec.value_size, spec.max_entries) == (MapType.HASH, 4, 8, 1024)
    refs = [insn for insn in p if insn.is_lddw and insn.ref is not None]
    assert refs and all(i.ref == "openat_counts" and i.src == PseudoSrc.MAP_FD for i in refs)
    # BTF key/value types were recorded for the kernel map
    assert o.btf.name(o.map_btf["openat_counts"].key_type_id) in ("__u32", "u32")


def test_xdp_section_sets_expected_attach_type():
    p = load_elf(obj("xdp_count")).programs["xdp_counter"]
    assert p.prog_type == ProgType.XDP
    assert p.expected_attach_type == AttachType.XDP
    assert p.attach_to is None


def test_two_programs_in_one_section_and_subprograms_appended():
    o = load_elf(obj("calls_globals"))
    assert sorted(o.programs) == ["xdp_globals", "xdp_second"]
    g = o.programs["xdp_globals"]
    # both subprograms (a global one and a static one) were appended after the main function
    assert set(g.labels) == {"xdp_globals", "scaled", "sum_table"}
    assert g.labels["xdp_globals"] == 0 and 0 < g.labels["scaled"] and 0 < g.labels["sum_table"]
    calls = [(slot, insn) for slot, insn in g.by_slot() if insn.is_pseudo_call]
    targets = sorted(slot + insn.imm + 1 for slot, insn in calls)
    assert targets == sorted([g.labels["scaled"], g.labels["sum_table"]])
    s = o.programs["xdp_second"]
    assert set(s.labels) == {"xdp_second", "scaled"}
    # func_info rebased: one record per function, at the slots where they were placed
    assert [slot for slot, _ in o.programs["xdp_globals"].func_info] == sorted(g.labels.values())
    lines = o.programs["xdp_globals"].line_info
    assert lines[0][0] == 0 and all(0 <= r[0] < g.slot_count for r in lines)
    assert o.license == "Dual BSD/GPL"


def test_global_data_sections_become_single_value_arrays():
    o = load_elf(obj("calls_globals"))
    ro, data, bss = o.maps[".rodata"], o.maps[".data"], o.maps[".bss"]
    for spec in (ro, data, bss):
        assert (spec.type, spec.key_size, spec.max_entries) == (MapType.ARRAY, 4, 1)
    assert ro.flags & MapCreateFlags.RDONLY_PROG
    assert not data.flags & MapCreateFlags.RDONLY_PROG
    assert ro.name.endswith(".rodata") and len(ro.name) <= 15
    assert o.rodata["multiplier"] == 3
    assert o.rodata["greeting"] == b"hello\0"
    assert o.data["base"] == 100
    assert o.data["table"] == [1, 2, 3, 4]  # arrays of ints read back as lists
    assert o.bss["calls"] == 0
    # lddw of a global: MAP_VALUE with the variable's offset in the high 32 bits
    g = o.programs["xdp_globals"]
    offsets = {(i.ref, i.imm >> 32) for i in g if i.is_lddw and i.src == PseudoSrc.MAP_VALUE}
    assert (".bss", o.data_sections[".bss"].variables["last_len"][0]) in offsets


def test_constants_are_settable_before_load():
    o = load_elf(obj("printk_pid"), constants={"target_pid": 4321})
    assert o.rodata["target_pid"] == 4321
    o.rodata["marker"] = 0xABCD
    raw = o.initial_value(".rodata")
    off = o.data_sections[".rodata"].variables["marker"][0]
    assert raw[off:off + 4] == struct.pack("<I", 0xABCD)
    with pytest.raises(KeyError):
        o.rodata["no_such_variable"] = 1


def test_signed_const_reads_back_negative():
    o = load_elf(obj("printk_pid"))
    o.rodata["target_pid"] = -5
    assert o.rodata["target_pid"] == -5  # `int` in BTF: signed


def test_legacy_maps_section_and_version():
    o = load_elf(obj("legacy_maps"))
    assert o.maps["legacy_counts"] == MapSpec("legacy_counts", MapType.ARRAY, 4, 8, 4)
    assert o.maps["legacy_hash"] == MapSpec("legacy_hash", MapType.HASH, 4, 4, 16)
    assert o.kern_version == 0x060C00
    assert o.programs["legacy_socket"].prog_type == ProgType.SOCKET_FILTER


def test_ringbuf_map_and_tracepoint_target():
    o = load_elf(obj("ringbuf_retransmit"))
    assert o.maps["events"].type == MapType.RINGBUF and o.maps["events"].max_entries == 4096
    assert o.programs["on_retransmit"].attach_to == "tcp/tcp_retransmit_skb"


def test_datasec_sizes_and_offsets_fixed_up():
    o = load_elf(obj("calls_globals"))
    from pyebpf.btf import BtfKind

    for sec in (".data", ".bss", ".rodata"):
        ds = o.btf[o.btf.find(sec, BtfKind.DATASEC)]
        assert ds.size_type == o.elf.by_name[sec].size
        for var_id, off, size in ds.members:
            name = o.btf.name(var_id)
            sym = next(s for s in o.elf.symbols if s.name == name)
            assert off == sym.value


# ---- errors ----------------------------------------------------------------------------------------------------

def test_not_elf(tmp_path):
    p = tmp_path / "x.o"
    p.write_bytes(b"definitely not an ELF file, just text" * 4)
    with pytest.raises(ElfError, match="not an ELF"):
        load_elf(str(p))


def test_wrong_machine(tmp_path):
    data = bytearray(open(obj("xdp_count"), "rb").read())
    data[18:20] = struct.pack("<H", 62)  # EM_X86_64
    p = tmp_path / "x86.o"
    p.write_bytes(bytes(data))
    with pytest.raises(ElfError, match="wrong machine 62"):
        load_elf(str(p))


def test_truncated_file(tmp_path):
    data = open(obj("xdp_count"), "rb").read()
    p = tmp_path / "cut.o"
    p.write_bytes(data[:200])
    with pytest.raises(ElfError, match="section header table|runs past"):
        load_elf(str(p))


def test_missing_file():
    with pytest.raises(ElfError, match="No such file"):
        load_elf("/nonexistent/pyebpf.o")


def _patch_reloc_symbol_section(path: str, out: str, section: str, new_offset: int | None = None,
                                new_type: int | None = None) -> None:
    """Rewrite the first relocation of `.rel<section>` (its offset or type)."""
    from pyebpf.isa.elf_reader import ElfFile

    elf = ElfFile.open(path)
    data = bytearray(elf.data)
    rel = elf.by_name[".rel" + section]
    off, info = struct.unpack_from("<QQ", data, rel.offset)
    if new_offset is not None:
        off = new_offset
    if new_type is not None:
        info = (info & ~0xFFFFFFFF) | new_type
    struct.pack_into("<QQ", data, rel.offset, off, info)
    with open(out, "wb") as f:
        f.write(data)


def test_relocation_on_a_plain_instruction_names_section_and_offset(tmp_path):
    out = str(tmp_path / "bad.o")
    # move the map relocation of count_openat onto slot 0 (not an lddw)
    _patch_reloc_symbol_section(obj("openat_counter"), out, "tracepoint/syscalls/sys_enter_openat", new_offset=0)
    with pytest.raises(ElfError, match=r"section 'tracepoint/syscalls/sys_enter_openat' offset 0x0"):
        load_elf(out)


def test_bad_relocation_type(tmp_path):
    out = str(tmp_path / "badtype.o")
    _patch_reloc_symbol_section(obj("openat_counter"), out, "tracepoint/syscalls/sys_enter_openat", new_type=3)
    with pytest.raises(ElfError, match="relocation of type 3"):
        load_elf(out)


def test_btf_maps_without_btf(tmp_path):
    from pyebpf.isa.elf_reader import ElfFile

    elf = ElfFile.open(obj("openat_counter"))
    data = bytearray(elf.data)
    # rename .BTF so the object has .maps but no BTF to describe them
    shstr = elf.sections[struct.unpack_from("<H", data, 62)[0]]
    i = data.find(b".BTF\0", shstr.offset)
    data[i:i + 5] = b".XTF\0"
    p = tmp_path / "nobtf.o"
    p.write_bytes(bytes(data))
    with pytest.raises(ElfError, match="'.maps' needs .BTF"):
        load_elf(str(p))


def test_missing_section_lookup():
    o = load_elf(obj("xdp_count"))
    with pytest.raises(ElfError, match="missing section '.nope'"):
        o.elf.section(".nope")


# ---- kernel ----------------------------------------------------------------------------------------------------

@pytest.mark.kernel
def test_openat_counter_counts_our_opens():
    with load_elf(obj("openat_counter")) as o:
        o.load()
        counts = o.maps["openat_counts"]
        prog = o.loaded["count_openat"]
        assert len(o.attach()) == 1  # the SEC() name says where: tracepoint/syscalls/sys_enter_openat
        for _ in range(7):
            os.close(os.open("/dev/null", os.O_RDONLY))
        n = counts[os.getpid()]
        assert n >= 7
        # every kernel object is released on close
    assert prog.closed and counts.closed


@pytest.mark.kernel
def test_printk_with_pid_filter_reaches_trace_pipe():
    from pyebpf.loader.trace_pipe import TracePipe

    marker = int.from_bytes(os.urandom(3), "little")
    with load_elf(obj("printk_pid"), constants={"target_pid": os.getpid(), "marker": marker}) as o:
        o.load()
        assert o.rodata["target_pid"] == os.getpid()  # read back from the frozen kernel map
        with pytest.raises(ElfError, match="frozen"):
            o.rodata["marker"] = 1
        with TracePipe() as pipe:
            pipe.read(timeout=0.0)
            o.loaded["trace_write"].attach()
            deadline = time.monotonic() + 5
            found = []
            fd = os.open("/dev/null", os.O_WRONLY)
            try:
                while not found and time.monotonic() < deadline:
                    os.write(fd, b"x")  # sys_enter_write from our pid
                    found = [line for line in pipe.read(timeout=0.3) if f"marker={marker}" in line.message]
            finally:
                os.close(fd)
        assert found, "bpf_printk line not seen in trace_pipe"
        assert f"pyebpf write pid={os.getpid()}" in found[0].message


@pytest.mark.kernel
def test_xdp_counter_test_run():
    with load_elf(obj("xdp_count")) as o:
        o.load()
        prog = o.loaded["xdp_counter"]
        for _ in range(3):
            assert prog.test_run(b"\xaa" * 70).retval == XdpAction.PASS
        assert prog.test_run(b"\xbb" * 20).retval == XdpAction.DROP  # shorter than 34 bytes
        stats = o.maps["xdp_stats"]
        passed = struct.unpack("<QQ", stats.lookup_raw(struct.pack("<I", XdpAction.PASS)))
        dropped = struct.unpack("<QQ", stats.lookup_raw(struct.pack("<I", XdpAction.DROP)))
        assert passed == (3, 210)
        assert dropped == (1, 20)
        # values are typed from BTF: struct datarec { __u64 packets; __u64 bytes; }
        assert (stats[XdpAction.PASS].packets, stats[XdpAction.PASS].bytes) == (3, 210)


@pytest.mark.kernel
def test_xdp_counter_on_veth_traffic():
    try:
        from netns import send_udp, veth_pair
    except ImportError:
        pytest.skip("tests/loader/netns.py not available")
    from pyebpf.loader.attach import attach_xdp

    with load_elf(obj("xdp_count")) as o, veth_pair() as pair:
        o.load()
        tx, rx, dest = pair.udp_pair()
        with attach_xdp(o.loaded["xdp_counter"], pair.ifname("b"), netns=pair.ns("b")):
            send_udp(tx, dest, 5)
            got = 0
            for _ in range(5):
                try:
                    rx.recv(2048)
                    got += 1
                except socket.timeout:
                    break
        tx.close()
        rx.close()
        packets, _ = struct.unpack("<QQ", o.maps["xdp_stats"].lookup_raw(struct.pack("<I", XdpAction.PASS)))
        assert got == 5  # XDP_PASS lets them through
        assert packets >= 5  # plus possibly ARP


@pytest.mark.kernel
def test_globals_and_bpf_to_bpf_calls_in_kernel():
    with load_elf(obj("calls_globals"), constants={"multiplier": 5}) as o:
        o.load()
        g, s = o.loaded["xdp_globals"], o.loaded["xdp_second"]
        assert g.test_run(b"\0" * 64).retval == XdpAction.PASS
        assert o.bss["calls"] == 1
        assert o.bss["last_len"] == 64
        assert o.data["base"] == 100 + 64 * 5 + ord("e") + (1 + 2 + 3 + 4)
        # xdp_second passes only when scaled(1) == 3 + 'e'; with multiplier 5 it drops
        assert s.test_run(b"\0" * 64).retval == XdpAction.DROP
        assert o.data["table"][0] == 2
        # writable globals can be changed from user space after load
        o.data["base"] = 7
        g.test_run(b"\0" * 20)
        assert o.data["base"] == 7 + 20 * 5 + ord("e") + (2 + 2 + 3 + 4)


@pytest.mark.kernel
def test_legacy_maps_socket_filter_test_run():
    with load_elf(obj("legacy_maps")) as o:
        o.load()
        prog = o.loaded["legacy_socket"]
        pkt = b"\x00" * 12 + b"\x08\x00" + b"\x45" + b"\x00" * 40
        prog.test_run(pkt)
        prog.test_run(pkt)
        assert o.maps["legacy_counts"][0] == 2
        assert o.maps["legacy_hash"][0] == len(pkt) - 14  # skb->len after the Ethernet header is pulled


@pytest.mark.kernel
def test_ringbuf_producer_on_tcp_retransmit():
    try:
        from netns import veth_pair
    except ImportError:
        pytest.skip("tests/loader/netns.py not available")
    from pyroute2 import IPRoute

    from pyebpf.loader.ringbuf import RingBuffer

    with load_elf(obj("ringbuf_retransmit")) as o, veth_pair() as pair:
        o.load()
        o.loaded["on_retransmit"].attach()
        # the peer drops everything on ingress: our SYN is retransmitted after the initial RTO (1 s)
        with IPRoute(netns=pair.ns("b"), flags=0) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=pair.ifname("b"))[0], state="down")
        sock = pair.socket("a", socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect((pair.addr("b"), 9))
        except BlockingIOError:
            pass
        with RingBuffer(o.maps["events"]) as rb:
            events = rb.read_until(1, timeout=4.0)
        sock.close()
        # struct event { u32 pid; u16 sport; u16 dport; u8 daddr[4]; u32 state; }
        mine = [e for e in events if struct.unpack_from("<H", e, 6)[0] == 9]
        assert mine, f"no retransmit event for port 9 among {events}"
        daddr = bytes(mine[0][8:12])
        assert socket.inet_ntoa(daddr) == pair.addr("b")


@pytest.mark.kernel
def test_line_info_puts_source_lines_in_the_verifier_log():
    with load_elf(obj("calls_globals")) as o:
        o.load(log_level=2)
        log = o.loaded["xdp_globals"].log
        assert "calls++;" in log or "last_len = len;" in log  # C source lines from line_info
        assert "func#" in log or "scaled" in log


@pytest.mark.kernel
def test_load_only_some_programs_and_release_on_error():
    from pyebpf.loader.fdguard import open_fd_count

    before = open_fd_count()
    o = load_elf(obj("calls_globals"))
    with pytest.raises(ElfError, match="no program 'nope'"):
        o.load(only=["xdp_globals", "nope"])
    assert open_fd_count() == before  # maps, BTF and the first program were closed again
    assert isinstance(o.maps[".bss"], MapSpec) and not o.loaded  # the object is as before the failed load
    o.load(only=["xdp_second"])
    assert list(o.loaded) == ["xdp_second"]
    o.close()
    assert open_fd_count() == before


@pytest.mark.kernel
def test_rejected_program_carries_verifier_log(tmp_path):
    from pyebpf.loader.program import ProgramLoadError

    o = load_elf(obj("ringbuf_retransmit"))
    with pytest.raises(ProgramLoadError) as info:
        o.load(prog_types={"on_retransmit": "xdp"})  # tracepoint record offsets are past the end of xdp_md
    assert "invalid bpf_context access" in info.value.log
    assert info.value.program_name == "on_retransmit"
    o.close()


@pytest.mark.kernel
def test_pinning_by_name_reuses_pinned_map(tmp_path):
    from pyebpf.loader.elf_writer import write_elf

    spec = MapSpec("pyebpf_pin_t", MapType.ARRAY, 4, 16, 5, pinning="by_name")
    base = load_elf(obj("xdp_count")).programs["xdp_counter"]
    prog = base.replace_instructions(
        [i._replace(ref="pyebpf_pin_t") if i.ref == "xdp_stats" else i for i in base])
    prog.maps = {"pyebpf_pin_t": spec}
    path = str(tmp_path / "pinned.o")
    write_elf(prog, path)
    os.makedirs("/sys/fs/bpf", exist_ok=True)
    pin_root = f"/sys/fs/bpf/pyebpf-test-{os.getpid()}"
    os.makedirs(pin_root, exist_ok=True)
    try:
        a = ElfObject(path, pin_root=pin_root)
        a.load()
        assert os.path.exists(os.path.join(pin_root, "pyebpf_pin_t"))
        a.maps["pyebpf_pin_t"].lookup_raw(b"\0" * 4)
        a.maps["pyebpf_pin_t"].update_raw(b"\0" * 4, struct.pack("<QQ", 99, 1))
        b = ElfObject(path, pin_root=pin_root)
        b.load()
        assert struct.unpack("<QQ", b.maps["pyebpf_pin_t"].lookup_raw(b"\0" * 4)) == (99, 1)
        a.close()
        b.close()
        # an object whose map of that name has another shape refuses the pinned one
        other = prog.replace_instructions(prog.instructions)
        other.maps = {"pyebpf_pin_t": MapSpec("pyebpf_pin_t", MapType.ARRAY, 4, 16, 7, pinning="by_name")}
        write_elf(other, path)
        with pytest.raises(ElfError, match="pinned at .* is ARRAY 4/16/5"):
            ElfObject(path, pin_root=pin_root).load()
    finally:
        shutil.rmtree(pin_root, ignore_errors=True)


def test_vm_runs_elf_program():
    from pyebpf.vm import VM

    p = load_elf(obj("xdp_count")).programs["xdp_counter"]
    vm = VM(p)
    assert vm.run(packet=b"\xaa" * 70).r0 == XdpAction.PASS
    assert vm.run(packet=b"\xaa" * 20).r0 == XdpAction.DROP
    assert struct.unpack("<QQ", bytes(vm.maps["xdp_stats"].lookup_raw(struct.pack("<I", XdpAction.PASS)))) == (1, 70)


def test_vm_runs_elf_program_with_globals_and_calls():
    from pyebpf.vm import VM

    o = load_elf(obj("calls_globals"))
    vm = VM(o.programs["xdp_globals"])
    for key in (".data", ".rodata", ".bss"):  # the specs carry the object's initial global data
        assert bytes(vm.maps[key].lookup_raw(b"\0" * 4)) == o.initial_value(key)
    assert vm.run(packet=b"\0" * 64).r0 == XdpAction.PASS
    base = struct.unpack_from("<Q", bytes(vm.maps[".data"].lookup_raw(b"\0" * 4)))[0]
    assert base == 100 + 64 * 3 + ord("e") + 10


@pytest.mark.kernel
def test_vm_and_kernel_agree_on_elf_programs():
    from pyebpf.vm import VM

    packets = [b"\x01" * 14, b"\x02" * 33, b"\x03" * 34, b"\x04" * 100, os.urandom(1500)]
    with load_elf(obj("xdp_count")) as o:
        o.load()
        vm = VM(o.programs["xdp_counter"])
        prog = o.loaded["xdp_counter"]
        for pkt in packets:
            assert vm.run(packet=pkt).r0 == prog.test_run(pkt).retval
        for key in (XdpAction.PASS, XdpAction.DROP):
            k = struct.pack("<I", key)
            assert bytes(vm.maps["xdp_stats"].lookup_raw(k)) == o.maps["xdp_stats"].lookup_raw(k)


def test_callback_address_and_string_literal_section():
    o = load_elf(obj("loop_callback"))
    p = o.programs["xdp_loop"]
    funcs = [(slot, i) for slot, i in p.by_slot() if i.is_lddw and i.src == PseudoSrc.FUNC]
    assert len(funcs) == 1
    slot, insn = funcs[0]
    assert slot + insn.imm + 1 == p.labels["add_index"]  # callback appended as a subprogram
    assert o.maps[".rodata.str1.1"].flags & MapCreateFlags.RDONLY_PROG
    assert o.initial_value(".rodata.str1.1") == b"pyebpf\0"


@pytest.mark.kernel
def test_bpf_loop_callback_and_const_string_in_kernel():
    with load_elf(obj("loop_callback")) as o:
        o.load()
        assert o.loaded["xdp_loop"].test_run(b"\0" * 64).retval == XdpAction.PASS
        assert o.bss["loop_sum"] == sum(range(10))
        assert o.bss["name_matches"] == 1
        o.data["name"] = b"other"
        o.loaded["xdp_loop"].test_run(b"\0" * 64)
        assert o.bss["name_matches"] == 0


def test_map_of_maps_and_prog_array_initial_slots():
    o = load_elf(obj("map_in_map"))
    assert o.map_init == {"outer": {0: ("map", "inner_a"), 2: ("map", "inner_b")},
                          "jump_table": {1: ("prog", "tail_target")}}
    outer = o.maps["outer"]
    assert outer.type == MapType.ARRAY_OF_MAPS and outer.value_size == 4
    assert (outer.inner_map.type, outer.inner_map.key_size, outer.inner_map.value_size) == (MapType.ARRAY, 4, 8)
    assert o.maps["jump_table"].type == MapType.PROG_ARRAY


@pytest.mark.kernel
def test_map_of_maps_and_tail_call_in_kernel():
    with load_elf(obj("map_in_map")) as o:
        o.load()
        res = o.loaded["use_maps"].test_run(b"\0" * 64)
        assert res.retval == XdpAction.DROP  # the tail call into tail_target happened
        assert o.bss["tail_ran"] == 1
        assert o.maps["inner_b"][0] == 5 and o.maps["inner_a"][0] == 0  # slot 2 of outer is inner_b
        assert len(list(o.maps["jump_table"].keys_raw())) >= 1


def test_writer_writes_maps_of_maps(tmp_path):
    from pyebpf.loader.elf_writer import write_elf

    o = load_elf(obj("map_in_map"))
    path = str(tmp_path / "mim.o")
    write_elf(o.programs["use_maps"], path)
    back = load_elf(path)
    outer = back.maps["outer"]
    assert outer == o.maps["outer"]  # type, sizes, max_entries and the inner map's spec
    assert back.programs["use_maps"].to_bytes() == o.programs["use_maps"].to_bytes()


VERIFIABLE = [("openat_counter", "count_openat"), ("xdp_count", "xdp_counter"), ("calls_globals", "xdp_globals"),
              ("calls_globals", "xdp_second"), ("legacy_maps", "legacy_socket"), ("printk_pid", "trace_write"),
              ("ringbuf_retransmit", "on_retransmit"), ("loop_callback", "xdp_loop"), ("core_task", "core_probe"),
              ("map_in_map", "tail_target"), ("map_in_map", "use_maps")]


@pytest.mark.parametrize("name,prog", VERIFIABLE)
def test_our_verifier_accepts_what_the_kernel_accepts(name, prog):
    """Every one of these loads in the kernel (tests above); pyebpf.verify must accept the same Program."""
    import pyebpf

    result = pyebpf.verify(load_elf(obj(name)).programs[prog], raise_on_reject=False)
    assert result.accepted, result.error


def test_attach_needs_load_first():
    with pytest.raises(ElfError, match="load\\(\\) before attach"):
        load_elf(obj("openat_counter")).attach()


@pytest.mark.kernel
def test_attach_skips_programs_without_a_target():
    with load_elf(obj("xdp_count")) as o:
        o.load()
        assert o.attach() == []  # XDP needs an interface: left to the caller


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_corrupted_objects_raise_typed_errors_only(tmp_path_factory, data):
    """Bytes flipped in headers, BTF, relocations, symbols or code: load_elf parses or raises ElfError, never crashes."""
    from pyebpf.errors import PyebpfError
    from pyebpf.isa.elf_reader import ElfFile

    name = data.draw(st.sampled_from(["calls_globals", "core_task", "map_in_map", "legacy_maps", "loop_callback"]))
    path = obj(name)
    raw = bytearray(open(path, "rb").read())
    elf = ElfFile.open(path)
    targets = [(s.offset, s.size) for s in elf.sections if s.size and s.type != 8 and (
        s.name in (".BTF", ".BTF.ext", ".symtab", ".maps", "maps", "license", "version") or s.name.startswith(".rel")
        or s.is_exec)]
    shoff = int.from_bytes(raw[40:48], "little")
    targets.append((shoff, len(elf.sections) * 64))
    targets.append((0, 64))
    for _ in range(data.draw(st.integers(1, 4))):
        start, size = data.draw(st.sampled_from(targets))
        pos = start + data.draw(st.integers(0, size - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    p = tmp_path_factory.mktemp("fuzz") / "x.o"
    p.write_bytes(bytes(raw))
    try:
        load_elf(str(p))
    except PyebpfError:
        pass


@pytest.mark.kernel
@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(min_size=14, max_size=300), min_size=1, max_size=4), st.integers(0, 50))
def test_vm_and_kernel_agree_on_globals_and_calls(packets, multiplier):
    """Same ELF programs in the VM and the kernel: same return values and same global data after every run."""
    from pyebpf.vm import VM

    with load_elf(obj("calls_globals"), constants={"multiplier": multiplier}) as o:
        first = VM(o.programs["xdp_globals"])
        for key in (".data", ".bss", ".rodata"):  # the specs carry the object's initial global data
            assert bytes(first.maps[key].lookup_raw(b"\0" * 4)) == o.initial_value(key)
        # the second program shares the first VM's maps, as both share the kernel's global data maps
        vms = {"xdp_globals": first, "xdp_second": VM(o.programs["xdp_second"], maps=first.maps)}
        o.load()
        for pkt in packets:
            for name, vm in vms.items():
                assert vm.run(packet=pkt).r0 == o.loaded[name].test_run(pkt).retval
                for key in (".data", ".bss"):
                    assert bytes(first.maps[key].lookup_raw(b"\0" * 4)) == o.maps[key].lookup_raw(b"\0" * 4)
        assert o.data["table"][0] == 1 + len(packets)  # xdp_second bumped it once per packet


@pytest.mark.kernel
@pytest.mark.parametrize("flags", [(), ("-g", "-mcpu=v3")], ids=["no-btf", "mcpu-v3"])
def test_objects_without_btf_or_with_other_isa_versions(flags):
    with load_elf(obj("calls_globals", flags), constants={"multiplier": 2}) as o:
        assert (o.btf is None) == ("-g" not in flags)
        if o.btf is None:  # globals found through ELF symbols instead of BTF DATASECs; no func/line info
            assert o.data_sections[".rodata"].variables["multiplier"][2] == 0
            assert o.programs["xdp_globals"].func_info == []
        o.load()
        assert o.loaded["xdp_globals"].test_run(b"\0" * 64).retval == XdpAction.PASS
        assert o.data["base"] == 100 + 64 * 2 + ord("e") + 10
        assert o.bss["calls"] == 1


def test_btf_tracing_programs_get_attach_btf_ids():
    from pyebpf.btf import kernel_btf
    from pyebpf.loader.program import attach_btf_id_for

    o = load_elf(obj("btf_tracing"))
    enter, unlink = o.programs["on_sys_enter"], o.programs["on_unlinkat"]
    assert (enter.prog_type, enter.expected_attach_type, enter.attach_to) == \
           (ProgType.TRACING, AttachType.TRACE_RAW_TP, "sys_enter")
    assert (unlink.expected_attach_type, unlink.attach_to) == (AttachType.TRACE_FENTRY, "do_unlinkat")
    vml = kernel_btf()
    assert (enter.section, unlink.section) == ("tp_btf/sys_enter", "fentry/do_unlinkat")
    assert vml.name(attach_btf_id_for(enter)) == "btf_trace_sys_enter"
    assert vml.name(attach_btf_id_for(unlink)) == "do_unlinkat"


@pytest.mark.kernel
def test_tp_btf_program_loads_attaches_and_counts():
    with load_elf(obj("btf_tracing"), constants={"target_tgid": os.getpid()}) as o:
        o.load(only=["on_sys_enter"])
        o.attach()
        for _ in range(5):
            os.getppid()
        assert o.bss["enter_hits"] >= 5


@pytest.mark.kernel
def test_fentry_program_load():
    from pyebpf.loader.program import ProgramLoadError
    from pyebpf.testing.plugin import skip_missing_feature

    with load_elf(obj("btf_tracing")) as o:
        try:
            o.load(only=["on_unlinkat"])
        except ProgramLoadError as e:
            if e.errno == errno.EPERM:  # this kernel refuses fentry programs
                skip_missing_feature("fentry programs are refused by this kernel (EPERM)")
            raise
        assert "on_unlinkat" in o.loaded


@pytest.mark.kernel
def test_a_kept_program_keeps_its_object_and_maps_alive():
    import gc

    prog = load_elf(obj("xdp_count"), load=True).loaded["xdp_counter"]  # the ElfObject itself is dropped
    gc.collect()
    assert not prog.closed
    assert prog.test_run(b"\0" * 64).retval == XdpAction.PASS
    stats = prog.maps["xdp_stats"]
    assert stats[XdpAction.PASS].packets == 1
    elf_object = prog.elf_object
    del prog, stats
    elf_object.close()
