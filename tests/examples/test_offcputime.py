"""examples/offcputime.py: bcc offcputime's accounting in the VM against a model, its output layouts, and in the
kernel a C child blocking in nanosleep: the folded stack carries the child's user functions and the kernel's
nanosleep path, frame for frame as bpftrace's kstack/ustack name them on the same tracepoint, with about the time
it slept."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from example_runner import import_example, run_example
from pyebpf.system.flamegraph import parse_folded
from pyebpf.system.stacks import StackSample, folded_stacks, stack_lines
from pyebpf.testing.plugin import require_or_skip

example = import_example("offcputime")
LAYOUT = example.DEFAULT_LAYOUT
EFAULT_ID = -14  # the VM records no stacks: bpf_get_stackid says -EFAULT, as for a kernel thread's user stack


def record(prev: int, nxt: int, comm: bytes = b"task") -> bytes:
    raw = bytearray(LAYOUT.size)
    struct.pack_into("<i", raw, LAYOUT.prev_pid, prev)
    raw[LAYOUT.next_comm:LAYOUT.next_comm + 16] = comm[:15].ljust(16, b"\0")
    struct.pack_into("<i", raw, LAYOUT.next_pid, nxt)
    return bytes(raw)


def test_layout_matches_the_running_kernels_format():
    assert example.switch_layout() == LAYOUT


TIDS = st.sampled_from([0, 100, 101, 200])


@settings(max_examples=40, deadline=None)
@given(switches=st.lists(st.tuples(TIDS, TIDS, st.integers(1, 5 * 10**6)), max_size=16),
       min_us=st.sampled_from([1, 10, 1000]), max_us=st.sampled_from([2000, 10**6, (1 << 64) - 1]))
def test_vm_matches_bccs_accounting(switches, min_us, max_us):
    """Any sched_switch stream: each switch-in adds (now - switch-out) // 1000 us under bcc's key when within
    [min, max]; every switch-in forgets the switch-out it used."""
    from pyebpf import VM
    from pyebpf.vm.context import TracepointContext
    from pyebpf.vm.env import Environment

    times, now = [], 0
    for *_, dt in switches:
        now += dt
        times.append(now)
    clock = iter(times)
    vm = VM(example.build(min_us=min_us, max_us=max_us, layout=LAYOUT), env=Environment(time_ns=lambda: next(clock)))
    out_at: dict[int, int] = {}
    model: dict[tuple[int, str], int] = {}
    for (prev, nxt, _), t in zip(switches, times):
        vm.run(TracepointContext(record(prev, nxt, f"t{nxt}".encode())))
        if prev:
            out_at[prev] = t
        if nxt and nxt in out_at:
            us = (t - out_at.pop(nxt)) // 1000
            if min_us <= us <= max_us:
                model[(nxt, f"t{nxt}")] = model.get((nxt, f"t{nxt}"), 0) + us
    got = {(k.pid, k.name.rstrip(b"\0").decode()): v for k, v in vm.maps["counts"].items()}
    assert got == model
    assert all((k.user_stack_id, k.kernel_stack_id) == (EFAULT_ID, EFAULT_ID) for k in vm.maps["counts"].keys())
    assert set(vm.maps["start"].keys()) == set(out_at)


def test_only_the_pid_asked_for_is_recorded():
    from pyebpf import VM
    from pyebpf.vm.context import TracepointContext
    from pyebpf.vm.env import Environment

    env = Environment(time_ns=lambda: 5_000_000)
    tgid = env.pid_tgid() >> 32
    for pid, recorded in ((tgid, True), (tgid + 1, False)):
        vm = VM(example.build(pid=pid, layout=LAYOUT), env=env)
        vm.run(TracepointContext(record(100, 0)))
        assert (100 in set(vm.maps["start"].keys())) == recorded


SAMPLES = [StackSample(7, "app", kernel=["k_leaf", "k_root"], user=["u_leaf", "main"], value=30),
           StackSample(8, "kthread", kernel=["worker"], user=[], value=5),
           StackSample(9, "lost", kernel=None, user=["main"], value=2)]


def test_folded_as_bcc_folds():
    assert folded_stacks(SAMPLES) == {("app", "main", "u_leaf", "k_root", "k_leaf"): 30, ("kthread", "worker"): 5,
                                      ("lost", "main", "[Missed Kernel Stack]"): 2}
    assert folded_stacks(SAMPLES, delimited=True)[("app", "main", "u_leaf", "-", "k_root", "k_leaf")] == 30
    assert folded_stacks(SAMPLES, kernel=False) == {("app", "main", "u_leaf"): 30, ("kthread",): 5,
                                                    ("lost", "main"): 2}
    assert folded_stacks(SAMPLES, user=False)[("app", "k_root", "k_leaf")] == 30


def test_default_output_is_bccs_layout():
    assert stack_lines(SAMPLES[:1], delimited=True).splitlines() == [
        "    k_leaf", "    k_root", "    --", "    u_leaf", "    main", f"    {'-':<16} app (7)", "        30"]
    assert stack_lines(SAMPLES[2:]).splitlines() == [
        "    [Missed Kernel Stack]", "    main", f"    {'-':<16} lost (9)", "        2"]


SLEEPER_C = r"""
#include <stdio.h>
#include <time.h>
#include <sys/syscall.h>
__attribute__((noinline)) void pyebpf_offcpu_wait(void) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    long ret;
    /* the syscall instruction in this function, not in libc: the user stack starts here */
    __asm__ volatile ("syscall" : "=a"(ret) : "0"((long)SYS_nanosleep), "D"(&ts), "S"(0L) : "rcx", "r11", "memory");
}
__attribute__((noinline)) void pyebpf_offcpu_loop(void) {
    time_t end = time(NULL) + 60;
    while (time(NULL) < end) pyebpf_offcpu_wait();
}
int main(void) { printf("ready\n"); fflush(stdout); pyebpf_offcpu_loop(); return 0; }
"""
USER_FRAMES = ["pyebpf_offcpu_wait", "pyebpf_offcpu_loop", "main"]


@pytest.fixture(scope="module")
def sleeper_binary(tmp_path_factory) -> str:
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if cc is None:
        require_or_skip("no C compiler to build the sleeping child")
    d = tmp_path_factory.mktemp("offcputime")
    (d / "sleeper.c").write_text(SLEEPER_C)
    subprocess.run([cc, "-O0", "-fno-omit-frame-pointer", "-o", str(d / "pyebpf_sleeper"), str(d / "sleeper.c")],
                   check=True)
    return str(d / "pyebpf_sleeper")


@pytest.fixture
def sleeper(sleeper_binary):
    child = subprocess.Popen([sleeper_binary], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        yield child
    finally:
        child.kill()
        child.wait()


def bpftrace_stacks(pid: int) -> set[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(kernel, user) frame names, leaf first, of `pid`'s switch-outs as bpftrace's kstack/ustack name them."""
    if shutil.which("bpftrace") is None:
        require_or_skip("bpftrace is not installed")
    script = f"tracepoint:sched:sched_switch /pid == {pid}/ {{ @[kstack, ustack] = count(); }} interval:s:1 {{ exit(); }}"
    out = subprocess.run(["bpftrace", "-e", script], capture_output=True, text=True, timeout=120).stdout
    found = set()
    for k, u in re.findall(r"@\[\n(.*?)\n, \n(.*?)\n\]: \d+", out, re.S):
        names = [tuple(re.sub(r"\+\d+$", "", f.strip()) for f in part.splitlines() if f.strip()) for part in (k, u)]
        found.add((names[0], names[1]))
    assert found, out
    return found


@pytest.mark.kernel
def test_blocked_child_is_folded_with_its_user_and_kernel_stacks(sleeper):
    out = run_example("offcputime", "-p", str(sleeper.pid), "-f", "-d", "1.5", timeout=120)
    assert out.returncode == 0, out.stderr
    stacks = parse_folded(out.stdout)
    assert stacks and all(s[0] == "pyebpf_sleeper" for s in stacks), out.stdout
    asleep = {s: us for s, us in stacks.items() if s[1:].count("-") == 1
              and list(s[1:s.index("-")])[-3:] == list(reversed(USER_FRAMES))}
    assert asleep, stacks
    # ~30 sleeps of 50 ms in 1.5 s, the time is counted between switch-ins inside the window
    assert 800_000 <= sum(asleep.values()) <= 1_600_000, asleep
    reference = bpftrace_stacks(sleeper.pid)

    def split(stack: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        cut = stack.index("-")
        return tuple(reversed(stack[cut + 1:])), tuple(reversed(stack[1:cut]))  # (kernel, user), leaf first

    # The stack that holds most of the child's off-CPU time is the nanosleep path, which bpftrace's 1 s sample
    # sees too: frame for frame the same. A rarer switch-out (preempted on a loaded machine) may fall in one
    # window and not the other, so for every other stack only its user part must be one bpftrace saw.
    main = max(asleep, key=asleep.get)
    assert split(main) in reference, (main, reference)
    for stack in asleep:
        assert split(stack)[1] in {u for _, u in reference}, (stack, reference)
    assert any("nanosleep" in f for s in asleep for f in s)


@pytest.mark.kernel
def test_default_output_names_the_blocked_thread(sleeper, tmp_path):
    svg = tmp_path / "offcpu.svg"
    out = run_example("offcputime", "-p", str(sleeper.pid), "--svg", str(svg), "1", timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"Tracing off-CPU time (us) of PID {sleeper.pid} by user + kernel stack for 1 secs."
    owners = [i for i, line in enumerate(lines) if line == f"    {'-':<16} pyebpf_sleeper ({sleeper.pid})"]
    assert owners, out.stdout
    for i in owners:
        assert re.fullmatch(r" {8}\d+", lines[i + 1])
    assert "pyebpf_offcpu_wait" in out.stdout and 'class="frame"' in svg.read_text()
