"""Nothing is lost on an error path: fds, programs, maps, links and attachments are released.

In-process: /proc/self/fd is counted around every failing loader call (a rejected program with maps, attaching to
a tracepoint, interface, raw tracepoint, uprobe or cgroup that does not exist) and around `pyebpf load` failures
run through cli.main. Across processes: after `pyebpf load --attach ...` exits — normally, on SIGTERM, on Ctrl-C,
or because the attach failed — `bpftool prog list` shows none of its programs (a program outlives neither its last
fd, nor its links or perf events, so no program also means no attachment). Each test names its programs uniquely,
so other tests loading programs at the same time do not disturb the counts.
"""
from __future__ import annotations

import contextlib
import errno
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pyebpf.cli import main
from pyebpf.errors import LoaderError

pytestmark = pytest.mark.kernel

_serial = itertools.count()


def unique_name() -> str:
    """A program name (<= 15 chars, the kernel's BPF_OBJ_NAME_LEN - 1) no other test uses."""
    return f"rb{os.getpid() % 100000}_{next(_serial)}"


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def no_fd_leak():
    before = open_fds()
    yield
    leaked = open_fds() - before
    details = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not details, f"fds left open: {details}"


def kernel_prog_names() -> list[str]:
    """Names of every loaded program, read by bpftool (an oracle independent of pyebpf.loader.info)."""
    out = subprocess.run(["bpftool", "prog", "list", "--json"], capture_output=True, check=True, timeout=60).stdout
    return [p.get("name", "") for p in json.loads(out)]


def cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(list(argv))
    return status, err.getvalue()


def source(tmp_path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.s"
    path.write_text(text)
    return str(path)


XDP_WITH_MAP_REJECTED = """\
.type xdp
.map counts hash key=4 value=8 max_entries=16
r1 = map[counts] ll
r0 = r5
exit
"""
XDP_MAP_OK = ".type xdp\n.map counts hash key=4 value=8 max_entries=16\nr1 = map[counts] ll\nr0 = 2\nexit\n"
TRACEPOINT_OK = ".type tracepoint\nr0 = 0\nexit\n"
XDP_OK = ".type xdp\nr0 = 2\nexit\n"


# ---- loader API -------------------------------------------------------------------------------------------------

def test_rejected_program_releases_its_maps_and_fds():
    from pyebpf import assemble
    from pyebpf.loader import load
    from pyebpf.loader.program import ProgramLoadError

    program = assemble(XDP_WITH_MAP_REJECTED)
    program.name = unique_name()
    with no_fd_leak():
        for _ in range(3):
            with pytest.raises(ProgramLoadError) as e:
                load(program)
            assert e.value.insn == 2 and e.value.reason == "R5 !read_ok" and "\n" not in str(e.value)
    assert program.name not in kernel_prog_names()


def test_second_map_failing_releases_the_first():
    """Map 'b' (an array with an 8-byte key) is refused after map 'a' was created: 'a' must not stay behind."""
    from pyebpf import assemble
    from pyebpf.loader import load

    program = assemble(".type xdp\n.map a hash key=4 value=8 max_entries=16\n.map b array key=8 value=8 "
                       "max_entries=4\nr1 = map[a] ll\nr1 = map[b] ll\nr0 = 2\nexit\n")
    program.name = unique_name()
    with no_fd_leak():
        for _ in range(3):
            with pytest.raises(LoaderError) as e:
                load(program)
            assert "creating map 'b'" in str(e.value) and e.value.errno == errno.EINVAL


@pytest.mark.parametrize("attach", [
    pytest.param(lambda p: p.attach_tracepoint("nosuchcat", "nosuchtp"), id="tracepoint"),
    pytest.param(lambda p: p.attach_tracepoint("syscalls/sys_enter_nosuch"), id="tracepoint-name"),
    pytest.param(lambda p: p.attach_raw_tracepoint("no_such_raw_tp"), id="raw-tracepoint"),
    pytest.param(lambda p: p.attach_uprobe("/nonexistent/binary", "main"), id="uprobe-binary"),
    pytest.param(lambda p: p.attach_uprobe(sys.executable, "no_such_symbol_x"), id="uprobe-symbol"),
    pytest.param(lambda p: p.attach("nosuchcat/nosuchtp"), id="auto"),
])
def test_failed_tracing_attach_releases_everything(attach):
    from pyebpf import assemble
    from pyebpf.loader import load

    program = assemble(TRACEPOINT_OK)
    program.name = unique_name()
    with no_fd_leak():
        with load(program) as prog:
            with no_fd_leak():
                with pytest.raises(LoaderError) as e:
                    attach(prog)
                assert e.value.errno is not None and "\n" not in str(e.value), e.value
            assert not prog.links
    assert program.name not in kernel_prog_names()


@pytest.mark.parametrize("attach", [
    pytest.param(lambda p: p.attach_xdp("nosuchif0"), id="xdp"),
    pytest.param(lambda p: p.attach_xdp(999_999), id="xdp-ifindex"),
    pytest.param(lambda p: p.attach_tc("nosuchif0"), id="tc"),
    pytest.param(lambda p: p.attach("nosuchif0"), id="auto"),
])
def test_failed_net_attach_releases_everything(attach):
    from pyebpf import assemble
    from pyebpf.loader import load

    program = assemble(XDP_OK)
    program.name = unique_name()
    with no_fd_leak():
        with load(program) as prog:
            with no_fd_leak():
                with pytest.raises(LoaderError) as e:
                    attach(prog)
                assert e.value.errno is not None and "\n" not in str(e.value), e.value
    assert program.name not in kernel_prog_names()


def test_failed_cgroup_attach_releases_everything():
    from pyebpf import assemble
    from pyebpf.loader import load

    program = assemble(".type cgroup_skb\nr0 = 1\nexit\n")
    program.name = unique_name()
    with no_fd_leak():
        with load(program, expected_attach_type="cgroup_inet_ingress") as prog:
            with no_fd_leak(), pytest.raises(LoaderError):
                prog.attach_cgroup("/nonexistent/cgroup")
    assert program.name not in kernel_prog_names()


# ---- `pyebpf load` in-process -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, extra, expect", [
    pytest.param(XDP_WITH_MAP_REJECTED, [], "insn 2: R5 !read_ok", id="rejected"),
    pytest.param(TRACEPOINT_OK, ["--attach", "nosuchcat/nosuchtp"], "ENOENT", id="attach-tracepoint"),
    pytest.param(XDP_OK, ["--attach", "nosuchif0"], "ENODEV", id="attach-interface"),
    pytest.param(XDP_OK, ["--pin", "/nonexistent/dir/x"], "not on a bpf filesystem", id="pin-outside-bpffs"),
    # pinned first, then a later step fails: the pins made so far are removed again
    pytest.param(XDP_MAP_OK, ["--pin", "{pin}", "--pinmaps", "/nonexistent/maps"], "not on a bpf filesystem",
                 id="pin-then-pinmaps-outside-bpffs"),
    pytest.param(XDP_MAP_OK, ["--pin", "{pin}", "--pinmaps", "{pin}_maps", "--attach", "nosuchif0"], "ENODEV",
                 id="pin-and-pinmaps-then-attach-fails"),
])
def test_cli_load_failures_release_everything(tmp_path, text, extra, expect):
    name = unique_name()
    path = source(tmp_path, name, text)
    pin = f"/sys/fs/bpf/{name}"
    with no_fd_leak():
        status, err = cli("load", path, *(a.replace("{pin}", pin) for a in extra))
    assert status == 1 and err.startswith("pyebpf load: error: ") and err.count("\n") == 1, err
    assert expect in err
    assert name not in kernel_prog_names()
    assert not os.path.exists("/nonexistent"), "a failed pin created directories outside bpffs"
    assert not os.path.exists(pin) and not os.path.exists(f"{pin}_maps/counts"), "a failed load left a pin"
    if os.path.isdir(f"{pin}_maps"):
        os.rmdir(f"{pin}_maps")


# ---- `pyebpf load --attach` as a process -------------------------------------------------------------------------

def _spawn_attached(path: str, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "pyebpf", "load", path, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # "attached; press Ctrl-C to detach" once the attachment exists
    assert "attached" in line, line + proc.stderr.read()
    return proc


@pytest.mark.parametrize("how", ["duration", "sigterm", "sigint"])
def test_cli_load_attach_leaves_nothing_behind(tmp_path, how):
    name = unique_name()
    path = source(tmp_path, name, TRACEPOINT_OK)
    extra = ["--attach", "syscalls/sys_enter_getpid"] + (["--duration", "1"] if how == "duration" else [])
    proc = _spawn_attached(path, *extra)
    try:
        assert name in kernel_prog_names()  # loaded and attached while the command runs
        if how != "duration":
            proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert f"name {name}" in out and "attached" in out
    deadline = time.monotonic() + 5  # the kernel frees a program after an RCU grace period
    while name in kernel_prog_names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert name not in kernel_prog_names()


def test_cli_load_attach_failure_as_a_process_leaves_nothing_behind(tmp_path):
    name = unique_name()
    path = source(tmp_path, name, TRACEPOINT_OK)
    proc = subprocess.run([sys.executable, "-m", "pyebpf", "load", path, "--attach", "nosuchcat/nosuchtp"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert name not in kernel_prog_names()


# ---- `pyebpf map dump` of maps whose elements user space cannot read --------------------------------------------

@pytest.mark.parametrize("map_type, key_size, value_size, max_entries, expect", [
    pytest.param("perf_event_array", 4, 4, 2, "map lookup: ENOTSUPP", id="perf_event_array"),
    pytest.param("cgroup_array", 4, 4, 2, "map lookup: ENOTSUPP", id="cgroup_array"),
    pytest.param("bloom_filter", 0, 8, 4, "map get_next_key: ENOTSUP", id="bloom_filter"),
    # the loader's owner decides whether these dump as empty or refuse; either way: one line, errno named
    pytest.param("ringbuf", 0, 0, 4096, None, id="ringbuf"),
    pytest.param("queue", 0, 8, 4, None, id="queue"),
])
def test_map_dump_of_unreadable_maps_is_one_line(map_type, key_size, value_size, max_entries, expect):
    """Kernel-internal errnos (524) are named, not 'Unknown error 524'; the map's fd is closed on the error path."""
    from pyebpf.abi.maps import MapSpec, MapType
    from pyebpf.loader import create_map

    with create_map(MapSpec(unique_name(), MapType[map_type.upper()], key_size, value_size, max_entries)) as m:
        with no_fd_leak():
            status, err = cli("map", "dump", "id", str(m.info().id))
    if expect is None and status == 0:
        assert err == ""
        return
    assert status == 1 and err.startswith("pyebpf map: error: ") and err.count("\n") == 1, err
    assert "Unknown error" not in err and (expect is None or expect in err), err


# ---- `pyebpf load FILE.o` failures ------------------------------------------------------------------------------

def _clang_object(name: str) -> str:
    from pyebpf.testing.plugin import require_or_skip

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "loader", "c"))
    from bpf_objects import ToolMissing, object_path

    try:
        return object_path(name)
    except ToolMissing as e:
        require_or_skip(str(e))
        raise


@pytest.mark.parametrize("obj, extra, expect", [
    pytest.param("xdp_count", ["--program", "nosuch"], "no program named nosuch", id="no-such-program"),
    pytest.param("ringbuf_retransmit", ["--type", "xdp"], "invalid bpf_context access", id="rejected"),
    pytest.param("openat_counter", ["--attach", "nosuchcat/nosuchtp"], "ENOENT", id="attach-tracepoint"),
    pytest.param("xdp_count", ["--attach", "nosuchif0", "--pin", "{pin}"], "ENODEV", id="pin-then-attach-fails"),
    pytest.param("xdp_count", ["--pinmaps", "/nonexistent/maps"], "not on a bpf filesystem", id="pinmaps-outside"),
])
def test_cli_load_elf_failures_release_everything(tmp_path, obj, extra, expect):
    path = _clang_object(obj)
    pin = f"/sys/fs/bpf/{unique_name()}"
    names_before = set(kernel_prog_names())
    with no_fd_leak():
        status, err = cli("load", path, *(a.replace("{pin}", pin) for a in extra))
    assert status == 1 and err.startswith("pyebpf load: error: ") and err.count("\n") == 1, err
    assert expect in err
    assert not os.path.exists(pin) and not os.path.exists("/nonexistent")
    program_names = {"xdp_count": "xdp_counter", "ringbuf_retransmit": "on_retransmit",
                     "openat_counter": "count_openat"}
    if program_names[obj] not in names_before:  # another test may have loaded the same object meanwhile
        assert program_names[obj] not in kernel_prog_names()


def test_cli_load_truncated_elf_is_one_line(tmp_path):
    data = open(_clang_object("xdp_count"), "rb").read()
    for cut in (16, 64, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.o"
        path.write_bytes(data[:cut])
        with no_fd_leak():
            status, err = cli("load", str(path))
        assert status == 1 and err.startswith("pyebpf load: error: ") and err.count("\n") == 1, (cut, err)


# ---- random programs into the kernel ----------------------------------------------------------------------------

def test_loading_random_programs_raises_only_loader_errors_and_leaks_nothing():
    """Drawn and mutated programs through pyebpf.loader.load: accepted (and closed) or a LoaderError on one line
    (ProgramLoadError with the verifier's reason); /proc/self/fd is the same after every attempt."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from pyebpf.errors import DecodeError
    from pyebpf.isa.program import Program
    from pyebpf.loader import load
    from pyebpf.testing.strategies import instructions, programs

    @st.composite
    def candidates(draw):
        program = draw(programs(instructions(kernel=True), max_size=10))
        data = bytearray(program.to_bytes())
        for _ in range(draw(st.integers(0, 2))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)

    outcomes = {"accepted": 0, "rejected": 0}

    @settings(max_examples=int(os.environ.get("PYEBPF_FUZZ_EXAMPLES", "60")), deadline=None, derandomize=True,
              database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(candidates(), st.sampled_from(["socket_filter", "xdp", "sched_cls", "kprobe", "tracepoint"]))
    def attempt(data: bytes, prog_type: str):
        try:
            program = Program.from_bytes(data)
        except DecodeError:
            return
        program.name = unique_name()
        before = open_fds()
        try:
            with load(program, prog_type):
                outcomes["accepted"] += 1
        except LoaderError as e:
            outcomes["rejected"] += 1
            assert "\n" not in str(e), str(e)
        assert open_fds() == before

    attempt()
    assert outcomes["rejected"] > 0  # the kernel did see programs it refuses, so the error path ran
