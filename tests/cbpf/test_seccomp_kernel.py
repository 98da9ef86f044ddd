"""Seccomp filters: the VM runs a classic filter on struct seccomp_data, and a forked child that installs the same
filter with seccomp(2) sees the actions the VM predicts (allowed, an errno, killed by SIGSYS)."""
from __future__ import annotations

import errno
import os
import signal

import pytest

from pyebpf.abi.cbpf import AuditArch, SeccompData, SeccompRet
from pyebpf.cbpf import assemble, check, to_ebpf
from pyebpf.errors import VerifierError
from pyebpf.loader.cbpf import install_seccomp
from pyebpf.vm import VM

#: (arch, getpid, mkdir, getppid) syscall numbers: the test's inputs, per machine
SYSCALLS = {"x86_64": (AuditArch.X86_64, 39, 83, 110), "aarch64": (AuditArch.AARCH64, 172, None, 173)}
MACHINE = os.uname().machine
pytestmark = pytest.mark.skipif(MACHINE not in SYSCALLS or SYSCALLS[MACHINE][2] is None,
                                reason=f"syscall numbers for {MACHINE} are not in this test")


def _filter_text() -> str:
    arch, _getpid, mkdir, getppid = SYSCALLS[MACHINE]
    return f"""
        ld [4]                      ; seccomp_data.arch
        jne #{int(arch):#x}, kill
        ld [0]                      ; seccomp_data.nr
        jeq #{mkdir}, refuse
        jeq #{getppid}, kill
        ret #{SeccompRet.ALLOW:#x}
    refuse:
        ret #{SeccompRet.ERRNO | errno.EOPNOTSUPP:#x}
    kill:
        ret #{SeccompRet.KILL_PROCESS:#x}
    """


def _vm_action(nr: int, arch: int) -> int:
    prog = to_ebpf(assemble(_filter_text(), "bpf_asm"), target="seccomp")
    return VM(prog).run(ctx=SeccompData(nr=nr, arch=arch)).r0 & 0xFFFFFFFF


def test_the_vm_runs_a_seccomp_filter_on_seccomp_data():
    arch, getpid, mkdir, getppid = SYSCALLS[MACHINE]
    assert _vm_action(getpid, arch) == SeccompRet.ALLOW
    assert _vm_action(mkdir, arch) == SeccompRet.ERRNO | errno.EOPNOTSUPP
    assert _vm_action(getppid, arch) == SeccompRet.KILL_PROCESS
    assert _vm_action(getpid, AuditArch.I386) == SeccompRet.KILL_PROCESS


def test_seccomp_rules_differ_from_socket_rules():
    with pytest.raises(VerifierError, match="aligned word"):
        check(assemble("ld [2]\nret a", "bpf_asm"), seccomp=True)
    with pytest.raises(VerifierError, match="not allowed in a seccomp"):
        check(assemble("ldh [0]\nret a", "bpf_asm"), seccomp=True)
    with pytest.raises(VerifierError, match="not allowed in a seccomp"):
        check(assemble("ld #1\nmod #3\nret a", "bpf_asm"), seccomp=True)
    # `ld #len` is the size of seccomp_data there
    prog = to_ebpf(assemble("ld #len\nret a", "bpf_asm"), target="seccomp")
    assert VM(prog).run(ctx=SeccompData()).r0 == 64


@pytest.mark.kernel
def test_a_child_with_the_filter_is_allowed_refused_and_killed_as_the_vm_says():
    arch, getpid, mkdir, getppid = SYSCALLS[MACHINE]
    prog = assemble(_filter_text(), "bpf_asm")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: install, then report what each syscall did
        try:
            os.close(read_fd)
            install_seccomp(prog)
            os.write(write_fd, f"getpid={os.getpid()}\n".encode())
            try:
                os.mkdir(f"/tmp/pyebpf-seccomp-{os.getpid()}")
                os.write(write_fd, b"mkdir=ok\n")
            except OSError as e:
                os.write(write_fd, f"mkdir={e.errno}\n".encode())
            os.getppid()
            os.write(write_fd, b"getppid=survived\n")
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        report = dict(line.strip().split("=", 1) for line in f if "=" in line)
    _, status = os.waitpid(pid, 0)
    # allowed: getpid answered with the child's pid
    assert _vm_action(getpid, arch) == SeccompRet.ALLOW and report.get("getpid") == str(pid)
    # SECCOMP_RET_ERRNO: the low 16 bits come back as errno
    assert _vm_action(mkdir, arch) & 0xFFFF0000 == SeccompRet.ERRNO
    assert report.get("mkdir") == str(_vm_action(mkdir, arch) & 0xFFFF)
    # SECCOMP_RET_KILL_PROCESS: the child dies of SIGSYS before it can report
    assert _vm_action(getppid, arch) == SeccompRet.KILL_PROCESS
    assert "getppid" not in report
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
