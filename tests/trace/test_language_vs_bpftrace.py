"""sizeof, cgroupid, macaddr, uaddr, kptr/uptr, system, path, enum constants and the preprocessor subset, run
through `pyebpf trace` and bpftrace 0.17 on this machine: the same output (or the same error) for the same script."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid

import pytest

from tracecmp import bpftrace, map_blocks, ours

pytestmark = pytest.mark.kernel


@pytest.fixture(autouse=True)
def _root():
    if os.geteuid() != 0:
        pytest.skip("needs root")


def same(*args: str) -> tuple[str, str]:
    rc1, mine, err1 = ours(*args)
    rc2, theirs, err2 = bpftrace(*args)
    assert "Traceback" not in err1, err1
    assert rc1 == rc2 == 0, f"ours ({rc1}): {err1}\nbpftrace ({rc2}): {err2}"
    return mine, theirs


def first_error(err: str) -> list[str]:
    """An error as bpftrace prints it: location and message, the source line, the tildes."""
    lines = [l for l in err.split("\n") if l and not l.startswith("WARNING")]
    return lines[:3]


def test_sizeof_kptr_uptr_cgroupid_enum_constants_as_bpftrace():
    cg = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
    script = ('BEGIN { $x = 1; printf("%d %d %d %d %d %d\\n", sizeof(struct task_struct), sizeof(uint32), '
              'sizeof(comm), sizeof($x), sizeof(struct sock), TCP_CLOSE); '
              f'@a = kptr(5); @b = uptr(7); @k[curtask] = 1; @cg = cgroupid("{cg}"); exit(); }}')
    mine, theirs = same("-e", script)
    hide_task = lambda out: re.sub(r"\[0x[0-9a-f]{16}\]", "[TASK]", out)  # noqa: E731 (each tool's own task)
    assert hide_task(mine) == hide_task(theirs)
    assert "@cg: " in mine and "@b: 7" in mine and "@k[0x" in mine


def test_preprocessor_as_bpftrace(tmp_path):
    script = tmp_path / "cpp.bt"
    script.write_text('#!/usr/bin/env bpftrace\n#include <sys/socket.h>\n#ifndef BPFTRACE_HAVE_BTF\n'
                      '#include <net/sock.h>\n#define WHICH 1\n#else\n#define WHICH 2\n#endif\n'
                      '#define BASE 40\n#define ANSWER (BASE + WHICH)\n#define GREETING "hello"\n'
                      'BEGIN { printf("%d %s %d %d\\n", ANSWER, GREETING, AF_INET, AF_INET6); exit(); }\n')
    mine, theirs = same(str(script))
    assert mine == theirs and "42 hello 2 10" in mine


def test_function_like_macros_in_conditionals_as_bpftrace(tmp_path):
    """bpftrace 0.17 expands function-like macros in #if (KERNEL_VERSION() from <linux/version.h>), not in the
    script's code (test_errors_as_bpftrace: Unknown function)."""
    script = tmp_path / "fmacro.bt"
    script.write_text('#include <linux/version.h>\n#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 0, 0)\n'
                      '#define NEW 1\n#else\n#define NEW 0\n#endif\n#define ADD(a, b) ((a) + (b))\n'
                      '#define V(...) (__VA_ARGS__ + 0)\n#if ADD(1, ADD(2, 3)) == 6 && V(4) == 4 && defined(ADD)\n'
                      '#define OK 7\n#else\n#define OK 8\n#endif\nBEGIN { printf("%d %d\\n", NEW, OK); exit(); }\n')
    mine, theirs = same(str(script))
    assert mine == theirs and "1 7\n" in mine


STRUCTS = """struct ti { unsigned long flags; unsigned long syscall_work; unsigned int status; unsigned int cpu; };
struct ti2 { struct ti inner; char tail; };
struct tia { unsigned long words[2]; u32 st_cpu[2]; };
union u { unsigned long l; unsigned int i[2]; char c; };
struct with_kernel { char c[3]; struct task_struct *t; pid_t p; u64 x; union u un; short s; };
"""


def test_struct_definitions_as_bpftrace(tmp_path):
    """Structs and unions defined in the script: sizes, members read through casts of kernel memory (the start of
    the current task_struct is its thread_info: flags, syscall_work, status, cpu), nested `.`, arrays, a member
    pointing at a kernel struct."""
    script = tmp_path / "structs.bt"
    script.write_text(STRUCTS + "BEGIN {\n  printf(\"%d %d %d %d %d\\n\", sizeof(struct ti), sizeof(struct ti2), "
                      "sizeof(union u), sizeof(struct with_kernel), sizeof(struct tia));\n"
                      "  printf(\"%d %d %d\\n\", ((struct ti *)curtask)->cpu == cpu, "
                      "((struct ti2 *)curtask)->inner.cpu == cpu, ((struct tia *)curtask)->st_cpu[1] == cpu);\n"
                      "  $k = (struct with_kernel *)0;\n  printf(\"%d\\n\", $k->t->pid);\n  exit();\n}\n")
    mine, theirs = same(str(script))
    assert mine == theirs and "24 32 8 48 24\n1 1 1\n0\n" in mine


@pytest.mark.parametrize("defs, body", [
    ("struct a { int x; }", "BEGIN { $p = (struct a *)0;\n printf(\"%d\\n\", $p->y); exit(); }"),
    ("struct a { int x; foo_t y; }", "BEGIN { exit(); }"),
    ("struct word { int a; };\nstruct word { int b; };", "BEGIN { exit(); }"),
    ("struct a { struct nope n; };", "BEGIN { exit(); }"),
])
def test_struct_definition_errors_as_bpftrace(tmp_path, defs, body):
    script = tmp_path / "bad.bt"
    script.write_text(f"{defs}\n{body}\n")
    rc1, _, err1 = ours(str(script))
    rc2, out2, err2 = bpftrace(str(script))
    assert rc1 != 0 and "Attaching" not in out2 and "Traceback" not in err1
    assert first_error(err1) == first_error(err2), f"ours:\n{err1}\nbpftrace:\n{err2}"


@pytest.mark.parametrize("script", [
    '#define TWICE(x) ((x) * 2)\nBEGIN { printf("%d\\n", TWICE(5)); exit(); }',
    'BEGIN { system("echo %d", 1); exit(); }',
    'BEGIN { printf("%d\\n", AF_INET); exit(); }',
    'BEGIN { printf("%p\\n", uaddr("main")); exit(); }',
    # reg(): bpftrace 0.17's checks in its order (probe type, argument count, a literal, a register name)
    'tracepoint:syscalls:sys_enter_openat { printf("%d\\n", reg("ip")); exit(); }',
    'BEGIN { printf("%d\\n", reg(1)); exit(); }',
    'profile:hz:99 { printf("%d\\n", reg()); exit(); }',
    'profile:hz:99 { printf("%d\\n", reg(1)); exit(); }',
    'profile:hz:99 { $r = "ip"; printf("%d\\n", reg($r)); exit(); }',
    'profile:hz:99 { printf("%d\\n", reg("xx")); exit(); }',
])
def test_errors_as_bpftrace(script):
    rc1, _, err1 = ours("-e", script)
    rc2, _, err2 = bpftrace("-e", script)
    assert rc1 != 0 and rc2 != 0 and "Traceback" not in err1
    assert first_error(err1) == first_error(err2), f"ours:\n{err1}\nbpftrace:\n{err2}"


def test_path_is_refused_with_one_of_bpftraces_messages():
    script = 'tracepoint:syscalls:sys_enter_openat { printf("%s\\n", path(args->filename)); exit(); }'
    rc1, _, err1 = ours("-e", script)
    _, _, err2 = bpftrace("-e", script)
    assert rc1 != 0 and "Traceback" not in err1
    assert "\n".join(first_error(err1)) in err2, f"ours:\n{err1}\nbpftrace:\n{err2}"


def test_system_with_unsafe_as_bpftrace():
    script = 'BEGIN { system("echo sys %d %s", 5, "x"); printf("after\\n"); exit(); }'
    mine, theirs = same("--unsafe", "-e", script)
    assert mine == theirs and "sys 5 x\nafter\n" in mine


def test_uaddr_as_bpftrace(target: str):
    script = f'uprobe:{target}:greet {{ printf("%p\\n", uaddr("sink")); @n[uaddr("sink")] = count(); }}'
    mine, theirs = same("-c", f"{target} 3", "-e", script)
    pick = lambda out: sorted(l for l in out.split("\n") if l.startswith("0x"))  # noqa: E731
    assert len(pick(mine)) == 3 and pick(mine) == pick(theirs)
    assert map_blocks(mine) == map_blocks(theirs)
    rc, _, err = ours("-e", f'uprobe:{target}:add {{ @ = uaddr("main"); }}')  # a function, not a data symbol
    assert rc != 0 and "Could not resolve symbol: " in err and ":main" in err


def test_reg_as_bpftrace(target: str):
    """reg() reads the probed context's registers: a uprobe's pt_regs (the ip is the probed function, di its first
    argument), a perf event's interrupted registers."""
    script = (f'uprobe:{target}:add {{ printf("%s %d %d\\n", usym(reg("ip")), reg("di") == arg0, reg("sp") > 0); }}'
              ' interval:ms:50 { printf("tick %d\\n", reg("sp") != 0); }')
    mine, theirs = same("-c", f"{target} 3 200", "-e", script)
    pick = lambda out: sorted({l for l in out.split("\n") if l.startswith(("add ", "tick "))})  # noqa: E731
    assert pick(mine) == ["add 1 1", "tick 1"] and pick(mine) == pick(theirs), f"ours:\n{mine}\nbpftrace:\n{theirs}"


def _bridge_netns():
    if shutil.which("ip") is None or shutil.which("bridge") is None:
        pytest.skip("needs ip and bridge (iproute2)")
    ns = f"t3{uuid.uuid4().hex[:10]}"
    steps = [["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "add", "br0", "type", "bridge"],
             ["ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
             ["ip", "-n", ns, "link", "set", "v0", "master", "br0"]]
    for s in steps:
        if subprocess.run(s, capture_output=True).returncode != 0:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            pytest.skip(f"cannot set up a bridge in a netns here ({' '.join(s)})")
    return ns


def test_macaddr_of_a_tracepoint_field_as_bpftrace(tmp_path):
    ns = _bridge_netns()
    try:
        cmd = tmp_path / "fdb.sh"
        cmd.write_text(f"ip netns exec {ns} bridge fdb add 02:11:00:aa:bb:0c dev v0 master static\n"
                       f"ip netns exec {ns} bridge fdb del 02:11:00:aa:bb:0c dev v0 master static\n"
                       f"ip netns exec {ns} bridge fdb add 0a:00:00:00:00:01 dev v0 master static\n")
        script = ('tracepoint:bridge:br_fdb_add { printf("%s\\n", macaddr(args->addr)); '
                  '@[macaddr(args->addr)] = count(); }')
        mine, theirs = same("-c", f"/bin/sh {cmd}", "-e", script)
        rows = lambda out: sorted(l for l in out.split("\n") if l.count(":") == 5)  # noqa: E731
        assert rows(mine) == ["02:11:00:AA:BB:0C", "0A:00:00:00:00:01"]
        assert rows(mine) == rows(theirs) and map_blocks(mine) == map_blocks(theirs)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
