"""Tracing attachments against the running kernel: tracepoint, raw tracepoint, tp_btf, kprobe, uprobe/uretprobe."""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import shutil
import subprocess

import pytest

from pyebpf.errors import LoaderError
from pyebpf.isa.builder import R0, R1, R2, R3, R4, R6, R7, R10, Builder
from pyebpf.testing.plugin import require_or_skip, skip_missing_feature

pytestmark = pytest.mark.kernel

SYS_GETPPID = {"x86_64": 110, "aarch64": 173, "riscv64": 173}
#: struct pt_regs offsets of (arg1, arg2, return value) per machine.
PT_REGS = {"x86_64": (112, 104, 80), "aarch64": (0, 8, 0)}


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def add_to_slot(b: Builder, map_name: str, slot: int, value_reg) -> None:
    """array[slot] += value_reg (value_reg must not be R0-R5 or R10; it survives the helper call in R6-R9)."""
    b.store(R10 - 4, slot, "u32")
    b.ld_map(R1, map_name).mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.atomic_add(R0 + 0, value_reg)


def counter_program(prog_type: str, pid_filter: bool = True, check_ctx: tuple[int, int] | None = None,
                    **kw) -> Builder:
    """A program that counts its runs in array slot 0 (for our tgid only), optionally only when the u64 at
    ctx+check_ctx[0] equals check_ctx[1]."""
    b = Builder(prog_type, **kw)
    b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=4)
    b.mov(R6, R1)
    if pid_filter:
        b.call("get_current_pid_tgid").rsh(R0, 32)
        b.jump_if(R0 != os.getpid(), "out")
    if check_ctx is not None:
        b.load(R0, R6 + check_ctx[0], "u64")
        b.jump_if(R0 != check_ctx[1], "out")
    b.mov(R7, 1)
    add_to_slot(b, "counts", 0, R7)
    b.label("out")
    b.ret(0)
    return b


def openat_per_pid_program():
    b = Builder("tracepoint", attach_to="syscalls/sys_enter_openat")
    b.map("counts", "hash", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=1024)
    b.call("get_current_pid_tgid").rsh(R0, 32)
    b.store(R10 - 4, R0, "u32")
    b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).call("map_lookup_elem")
    with b.if_(R0 != 0):
        b.mov(R1, 1).atomic_add(R0 + 0, R1)
    with b.else_():
        b.store(R10 - 16, 1, "u64")
        b.ld_map(R1, "counts").mov(R2, R10).add(R2, -4).mov(R3, R10).add(R3, -16).mov(R4, 0)
        b.call("map_update_elem")
    b.ret(0)
    return b.build()


# ---- tracepoints -------------------------------------------------------------------------------------------------

def test_tracepoint_counts_openat_per_pid():
    from pyebpf.loader import load
    from pyebpf.loader.attach import Attachment, attach_tracepoint, live_attachments

    with load(openat_per_pid_program()) as prog:
        counts = prog.maps["counts"]
        att = attach_tracepoint(prog, "syscalls", "sys_enter_openat")
        assert isinstance(att, Attachment) and att.attached and att in live_attachments()
        with att:
            for _ in range(7):
                os.close(os.open("/etc/hostname", os.O_RDONLY))
            during = counts.get(os.getpid(), 0)
        assert during >= 7
        assert not att.attached and att not in live_attachments()
        att.detach()  # idempotent
        os.close(os.open("/etc/hostname", os.O_RDONLY))
        assert counts.get(os.getpid(), 0) == during  # detached: no more counting


@pytest.mark.parametrize("use_link", [True, False], ids=["perf_link", "ioctl_set_bpf"])
def test_tracepoint_slash_form_and_both_hook_paths(use_link):
    from pyebpf.loader import features, load
    from pyebpf.loader.attach import attach_tracepoint

    with load(counter_program("tracepoint").build()) as prog:
        before = _fds()
        with attach_tracepoint(prog, "syscalls/sys_enter_getppid", use_link=use_link) as att:
            # a kernel without perf links (before 5.15) gets PERF_EVENT_IOC_SET_BPF even when a link is asked for
            assert (att.link_fd is not None) == (use_link and features.perf_link())
            for _ in range(5):
                os.getppid()
        os.getppid()
        assert prog.maps["counts"][0] == 5
        assert _fds() == before
        if not use_link:
            with pytest.raises(LoaderError):
                attach_tracepoint(prog, "syscalls/sys_enter_getppid", use_link=False, cookie=7)
            assert _fds() == before


def test_perf_link_fallback_when_the_kernel_has_none(monkeypatch):
    """Forced answer "no perf links" (as before Linux 5.15): PERF_EVENT_IOC_SET_BPF is used, the program runs, the
    Link is not a bpf_link, and a cookie (which needs a perf link) is a typed EOPNOTSUPP."""
    from pyebpf.loader import features, load
    from pyebpf.loader.attach import attach_tracepoint

    features.force("perf_link", False)  # where the kernel has perf links, only forcing reaches the fallback
    try:
        with load(counter_program("tracepoint").build()) as prog:
            before = _fds()
            with attach_tracepoint(prog, "syscalls/sys_enter_getppid") as link:
                assert not link.is_bpf_link and link.link_fd is None and link.perf_fd is not None
                with pytest.raises(LoaderError) as info:
                    link.info()
                assert info.value.errno == errno.EOPNOTSUPP
                for _ in range(3):
                    os.getppid()
            os.getppid()
            assert prog.maps["counts"][0] == 3
            with pytest.raises(LoaderError) as info:
                attach_tracepoint(prog, "syscalls/sys_enter_getppid", cookie=5)
            assert info.value.errno == errno.EOPNOTSUPP and "perf link" in str(info.value)
            assert _fds() == before
    finally:
        features.force("perf_link", None)


def test_helper_probe_answers_as_the_kernel_loads():
    """features.helper() against the kernel: a program calling the helper with good arguments loads exactly when
    the probe says the helper is there."""
    from pyebpf.loader import features, load
    from pyebpf.loader.program import ProgramLoadError

    def calls(ptype: str, helper: str, args) -> Builder:
        b = Builder(ptype)
        b.mov(R6, R1)
        args(b)
        b.call(helper).ret(0)
        return b

    on_ctx = lambda b: b.mov(R1, R6)  # noqa: E731
    on_stack = lambda b: b.mov(R1, R10).add(R1, -8).mov(R2, 8).mov(R3, 0)  # noqa: E731
    for ptype, helper, args in (("tracepoint", "get_attach_cookie", on_ctx),
                                ("socket_filter", "get_attach_cookie", on_ctx),
                                ("xdp", "ktime_get_ns", on_ctx),
                                ("kprobe", "probe_read_kernel", on_stack),
                                ("socket_filter", "get_current_pid_tgid", on_ctx)):
        try:
            load(calls(ptype, helper, args).build()).close()
            loads = True
        except ProgramLoadError:
            loads = False
        assert features.helper(ptype, helper) == loads, (ptype, helper)
    with pytest.raises(LoaderError):
        features.helper("xdp", "no_such_helper")


def test_unknown_tracepoint_is_typed_error_and_leaks_nothing():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint
    from pyebpf.system.tracefs import TracepointNotFound

    with load(counter_program("tracepoint").build()) as prog:
        before = _fds()
        with pytest.raises(TracepointNotFound) as info:
            attach_tracepoint(prog, "syscalls", "sys_enter_no_such_call")
        assert info.value.errno == errno.ENOENT
        with pytest.raises(TracepointNotFound):
            attach_tracepoint(prog, "../../etc", "passwd")
        assert _fds() == before


def test_wrong_program_type_for_tracepoint_closes_perf_fd():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tracepoint

    b = Builder("socket_filter")
    b.ret(0)
    with load(b.build()) as prog:
        before = _fds()
        with pytest.raises(LoaderError) as info:
            attach_tracepoint(prog, "syscalls", "sys_enter_getppid")
        assert info.value.errno == errno.EINVAL
        assert _fds() == before


# ---- raw tracepoints and tp_btf ----------------------------------------------------------------------------------

def test_raw_tracepoint_sys_enter_sees_syscall_id():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_raw_tracepoint

    nr = SYS_GETPPID.get(platform.machine())
    if nr is None:
        pytest.skip(f"no getppid syscall number for {platform.machine()}")
    # raw_tp ctx is u64 args[]: sys_enter(struct pt_regs *regs, long id) -> args[1] is the syscall number
    with load(counter_program("raw_tracepoint", check_ctx=(8, nr)).build()) as prog:
        with attach_raw_tracepoint(prog, "sys_enter") as att:
            assert att.link_fd is not None
            for _ in range(9):
                os.getppid()
        assert prog.maps["counts"][0] == 9
        os.getppid()
        assert prog.maps["counts"][0] == 9


def test_raw_tracepoint_unknown_name():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_raw_tracepoint

    with load(counter_program("raw_tracepoint").build()) as prog:
        before = _fds()
        with pytest.raises(LoaderError) as info:
            attach_raw_tracepoint(prog, "no_such_raw_tracepoint_xyz")
        assert info.value.errno == errno.ENOENT
        with pytest.raises(LoaderError):
            attach_raw_tracepoint(prog, "syscalls/sys_enter")
        assert _fds() == before


def test_tp_btf_sys_enter():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_tp_btf
    from pyebpf.abi.prog_types import AttachType
    from pyebpf.btf import tp_btf_type_id

    nr = SYS_GETPPID.get(platform.machine())
    if nr is None:
        pytest.skip(f"no getppid syscall number for {platform.machine()}")
    try:
        load_args = {"expected_attach_type": AttachType.TRACE_RAW_TP, "attach_btf_id": tp_btf_type_id("sys_enter")}
    except LoaderError as e:
        skip_missing_feature(f"no vmlinux BTF for tp_btf: {e}")
    program = counter_program("tracing", check_ctx=(8, nr)).build()
    try:
        prog = load(program, **load_args)
    except LoaderError as e:
        if e.errno in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, 524):
            skip_missing_feature(f"kernel refuses tp_btf programs: {e}")
        raise
    with prog:
        try:
            att = attach_tp_btf(prog, "sys_enter")
        except LoaderError as e:
            if e.errno in (errno.EOPNOTSUPP, 524):
                skip_missing_feature(f"kernel refuses tp_btf attachment: {e}")
            raise
        with att:
            for _ in range(4):
                os.getppid()
        assert prog.maps["counts"][0] == 4


def test_kernel_btf_attach_ids_agree_with_bpftool():
    from pyebpf.btf import BtfKind, kernel_btf

    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    btf = kernel_btf()
    out = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux"], capture_output=True,
                         text=True, check=True).stdout
    checked = 0
    for line in out.splitlines():
        if line.startswith("[") and (" TYPEDEF 'btf_trace_" in line or " FUNC 'do_sys_open" in line):
            type_id = int(line[1:line.index("]")])
            kind_name, name = line.split()[1], line.split("'")[1]
            assert btf.find(name, BtfKind[kind_name]) == type_id, line
            checked += 1
    assert checked > 100
    assert sum(1 for line in out.splitlines() if line.startswith("[")) == len(btf) - 1


# ---- kprobes -----------------------------------------------------------------------------------------------------

def test_kprobe_and_kretprobe():
    from pyebpf.loader import load
    from pyebpf.loader.attach import KprobesUnavailable, attach_kprobe, kprobes_available

    reason = kprobes_available()
    with load(counter_program("kprobe").build()) as prog:
        if reason is not None:
            before = _fds()
            with pytest.raises(KprobesUnavailable):  # the typed error this kernel gives, then skip
                attach_kprobe(prog, "do_sys_openat2")
            assert _fds() == before
            skip_missing_feature(reason)
        with attach_kprobe(prog, "do_sys_openat2"), attach_kprobe(prog, "do_sys_openat2", retprobe=True):
            os.close(os.open("/etc/hostname", os.O_RDONLY))
        assert prog.maps["counts"][0] >= 2


# ---- uprobes -----------------------------------------------------------------------------------------------------

C_TARGET = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int pyebpf_target(int a, int b) { __asm__ volatile(""); return a * 3 + b; }
int main(int argc, char **argv) {
    int n = atoi(argv[1]); long s = 0;
    for (int i = 0; i < n; i++) s += pyebpf_target(i, 1000);
    printf("%ld\n", s);
    return 0;
}
"""


@pytest.fixture(scope="module")
def c_target(tmp_path_factory) -> str:
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if cc is None:
        require_or_skip("no C compiler (gcc, cc or clang) to build the uprobe target")
    d = tmp_path_factory.mktemp("uprobe")
    src, exe = d / "target.c", d / "pyebpf_uprobe_target"
    src.write_text(C_TARGET)
    subprocess.run([cc, "-O0", "-o", str(exe), str(src)], check=True)
    return str(exe)


def uprobe_programs():
    """(entry program: slot0 += 1, slot1 += arg1 + arg2; return program: slot2 += return value)."""
    regs = PT_REGS.get(platform.machine())
    if regs is None:
        pytest.skip(f"no pt_regs layout for {platform.machine()}")
    arg1, arg2, rc = regs
    entry = Builder("kprobe")
    entry.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=4)
    entry.mov(R6, R1).mov(R7, 1)
    add_to_slot(entry, "counts", 0, R7)
    entry.load(R7, R6 + arg1, "u64").load(R1, R6 + arg2, "u64").add(R7, R1).lsh(R7, 32).rsh(R7, 32)
    add_to_slot(entry, "counts", 1, R7)
    entry.ret(0)
    ret = Builder("kprobe")
    ret.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=4)
    ret.mov(R6, R1).load(R7, R6 + rc, "u64").lsh(R7, 32).rsh(R7, 32)
    add_to_slot(ret, "counts", 2, R7)
    ret.ret(0)
    return entry.build(), ret.build()


def test_uprobe_and_uretprobe_on_compiled_function(c_target):
    from pyebpf.loader import create_map, load
    from pyebpf.loader.attach import attach_uprobe

    entry_prog, ret_prog = uprobe_programs()
    n = 25
    with create_map(entry_prog.maps["counts"]) as counts, \
            load(entry_prog, maps={"counts": counts}) as entry, load(ret_prog, maps={"counts": counts}) as ret:
        with attach_uprobe(entry, c_target, "pyebpf_target") as a1, \
                attach_uprobe(ret, c_target, "pyebpf_target", retprobe=True) as a2:
            assert a1.details["offset"] == a2.details["offset"] > 0
            out = subprocess.run([c_target, str(n)], capture_output=True, text=True, check=True).stdout
        expected_sum = sum(3 * i + 1000 for i in range(n))
        assert int(out) == expected_sum
        assert counts[0] == n
        assert counts[1] == sum(i + 1000 for i in range(n))
        assert counts[2] == expected_sum
        subprocess.run([c_target, "3"], capture_output=True, check=True)
        assert counts[0] == n  # detached


def test_uprobe_on_libc_getpid_filtered_by_pid():
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_uprobe, resolve_binary

    libc = resolve_binary("c")
    assert os.path.basename(libc).startswith("libc")
    with load(counter_program("kprobe", pid_filter=False).build()) as prog:
        with attach_uprobe(prog, "c", "getpid", pid=os.getpid()):
            for _ in range(10):
                os.getpid()
            subprocess.run(["true"], check=True)  # another process: excluded by pid
        assert 10 <= prog.maps["counts"][0] < 20


def test_uprobe_unknown_symbol_and_binary(c_target):
    from pyebpf.loader import load
    from pyebpf.loader.attach import SymbolNotFound, attach_uprobe

    with load(counter_program("kprobe").build()) as prog:
        before = _fds()
        with pytest.raises(SymbolNotFound):
            attach_uprobe(prog, c_target, "no_such_function")
        with pytest.raises(LoaderError) as info:
            attach_uprobe(prog, "/nonexistent/binary", "main")
        assert info.value.errno == errno.ENOENT
        assert _fds() == before


# ---- resource hygiene --------------------------------------------------------------------------------------------

def test_no_fd_leak_over_attach_detach_cycles(c_target):
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_raw_tracepoint, attach_tracepoint, attach_uprobe, live_attachments

    with load(counter_program("tracepoint").build()) as tp, load(counter_program("raw_tracepoint").build()) as raw, \
            load(counter_program("kprobe").build()) as up:
        before = _fds()
        live_before = len(live_attachments())
        for _ in range(20):
            with attach_tracepoint(tp, "syscalls", "sys_enter_getppid"), attach_raw_tracepoint(raw, "sys_enter"), \
                    attach_uprobe(up, c_target, "pyebpf_target"):
                os.getppid()
            att = attach_tracepoint(tp, "syscalls/sys_enter_getppid")
            att.detach()
            att.detach()
            with pytest.raises(LoaderError):
                attach_tracepoint(tp, "syscalls", "nope_nope")
        assert _fds() == before
        assert len(live_attachments()) == live_before


def test_kernel_program_attach_methods_and_auto_attach():
    """KernelProgram.attach_* / attach() forward here; close() of the program detaches what it attached."""
    from pyebpf.loader import load

    program = counter_program("tracepoint", attach_to="syscalls/sys_enter_getppid").build()
    prog = load(program)
    counts = prog.maps["counts"]
    att = prog.attach()  # from Program.attach_to
    assert att.kind == "tracepoint" and att.target == "syscalls:sys_enter_getppid"
    os.getppid()
    with pytest.raises(LoaderError) as info:  # the kernel refuses the same program twice on one tracepoint
        prog.attach_tracepoint("syscalls", "sys_enter_getppid")
    assert info.value.errno == errno.EEXIST
    att.detach()
    att2 = prog.attach_tracepoint("syscalls", "sys_enter_getppid")
    os.getppid()
    assert counts[0] == 2
    raw = load(counter_program("raw_tracepoint", attach_to="sys_enter").build())
    with raw:
        with raw.attach():
            os.getppid()
        assert raw.maps["counts"][0] >= 1
    fds_before_close = len(os.listdir("/proc/self/fd"))
    prog.close()
    assert not att2.attached
    assert len(os.listdir("/proc/self/fd")) < fds_before_close


def test_auto_attach_target_parsing():
    from pyebpf.loader import load
    from pyebpf.loader.attach import auto_attach

    with load(counter_program("kprobe").build()) as prog:
        with auto_attach(prog, "uprobe/c:getpid", pid=os.getpid()) as att:
            assert att.kind == "uprobe" and att.details["pid"] == os.getpid()
            os.getpid()
        assert prog.maps["counts"][0] >= 1
        with pytest.raises(LoaderError):
            auto_attach(prog, "fentry/do_sys_openat2")
        with pytest.raises(LoaderError):
            auto_attach(prog, "uprobe/getpid")
    with load(trivial_socket_filter()) as prog:
        with pytest.raises(LoaderError) as info:
            auto_attach(prog, "lo")
        assert info.value.errno == errno.EOPNOTSUPP


def trivial_socket_filter():
    b = Builder("socket_filter")
    b.ret(0)
    return b.build()


def test_detach_leaves_no_bpf_link_behind(c_target):
    """Every link-based attachment shows up in the kernel's link list while attached, and is gone after detach."""
    from pyebpf.loader import load
    from pyebpf.loader.attach import (
        attach_raw_tracepoint, attach_tp_btf, attach_tracepoint, attach_uprobe, prog_id,
    )
    from pyebpf.btf import tp_btf_type_id
    from pyebpf.loader import features
    from pyebpf.loader.info import link_infos

    def links_of(*progs) -> dict[int, str]:
        ids = {prog_id(p.fd) for p in progs}
        return {li.prog_id: li.type_name for li in link_infos() if li.prog_id in ids}

    tp = load(counter_program("tracepoint").build())
    raw = load(counter_program("raw_tracepoint").build())
    up = load(counter_program("kprobe").build())
    progs = [tp, raw, up]
    try:
        btf = load(counter_program("tracing").build(), expected_attach_type="trace_raw_tp",
                   attach_btf_id=tp_btf_type_id("sys_enter"))
        progs.append(btf)
    except LoaderError:
        btf = None  # tp_btf refused by this kernel (covered by test_tp_btf_sys_enter)
    try:
        atts = [attach_tracepoint(tp, "syscalls", "sys_enter_getppid"), attach_raw_tracepoint(raw, "sys_enter"),
                attach_uprobe(up, c_target, "pyebpf_target")]
        if btf is not None:
            atts.append(attach_tp_btf(btf, "sys_enter"))
        seen = links_of(*progs)
        if features.perf_link():
            assert seen[prog_id(tp.fd)].upper() == "PERF_EVENT" and seen[prog_id(up.fd)].upper() == "PERF_EVENT"
        else:  # before 5.15: PERF_EVENT_IOC_SET_BPF, no link to list
            assert prog_id(tp.fd) not in seen and prog_id(up.fd) not in seen
        assert seen[prog_id(raw.fd)].upper() == "RAW_TRACEPOINT"
        if btf is not None:
            assert seen[prog_id(btf.fd)].upper() == "RAW_TRACEPOINT"  # tp_btf links are raw_tp links
        for att in atts:
            att.detach()
        assert links_of(*progs) == {}
    finally:
        for p in progs:
            p.close()


def test_bpf_cookie_reaches_the_program():
    """attach_*(cookie=...) goes into the perf / raw_tp link; bpf_get_attach_cookie() reads it back."""
    from pyebpf.loader import load
    from pyebpf.loader.attach import attach_raw_tracepoint, attach_tracepoint

    def cookie_program(prog_type: str):
        b = Builder(prog_type)
        b.map("counts", "array", key=ctypes.c_uint32, value=ctypes.c_uint64, max_entries=4)
        b.mov(R6, R1)
        b.call("get_current_pid_tgid").rsh(R0, 32)
        b.jump_if(R0 != os.getpid(), "out")
        b.mov(R1, R6).call("get_attach_cookie").mov(R7, R0)
        add_to_slot(b, "counts", 1, R7)
        b.label("out")
        b.ret(0)
        return b.build()

    from pyebpf.loader import features

    # the kernel is asked, not assumed: bpf_get_attach_cookie (5.15), perf links (5.15), raw_tp cookies (6.10)
    if not (features.perf_link() and features.helper("tracepoint", "get_attach_cookie")):
        skip_missing_feature("no perf links or no bpf_get_attach_cookie for tracepoints on this kernel")
    with load(cookie_program("tracepoint")) as tp:
        with attach_tracepoint(tp, "syscalls", "sys_enter_getppid", cookie=0xC0FFEE):
            os.getppid()
        assert tp.maps["counts"][1] == 0xC0FFEE
    if not features.helper("raw_tracepoint", "get_attach_cookie"):
        skip_missing_feature("bpf_get_attach_cookie is unknown to raw tracepoint programs on this kernel")
    with load(cookie_program("raw_tracepoint")) as raw:
        try:
            att = attach_raw_tracepoint(raw, "sys_enter", cookie=77)
        except LoaderError as e:
            skip_missing_feature(f"raw tracepoint links without cookies on this kernel: {e}")
        with att:
            os.getppid()
        assert raw.maps["counts"][1] % 77 == 0 and raw.maps["counts"][1] >= 77
