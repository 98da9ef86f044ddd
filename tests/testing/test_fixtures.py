"""The plugin's fixtures, as a user's project sees them: a test file run by a fresh pytest in a temporary directory.

It records what it loaded and created: the next test in that process finds the program gone from the kernel
(teardown closed it, though the test failed), the namespace is deleted, and ebpf_vm ran the test on both engines.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

USER_TESTS = '''
import json, os
import pyebpf
import pytest

RECORD = os.environ["RECORD"]

def note(**kw):
    with open(RECORD, "a") as f:
        f.write(json.dumps(kw) + "\\n")

def test_vm(ebpf_vm, ebpf_engine):
    vm = ebpf_vm(pyebpf.assemble("r0 = 42\\nexit"))
    assert vm.engine == ebpf_engine and vm.run().r0 == 42
    note(engine=ebpf_engine)

@pytest.mark.kernel
def test_loader(kernel_loader):
    prog = kernel_loader(pyebpf.assemble("r0 = 2\\nexit"), "xdp")
    assert prog.test_run(bytes(14)).retval == 2
    note(prog_id=prog.id)
    raise RuntimeError("a failing test still closes what it loaded")

@pytest.mark.kernel
def test_loader_closed_it():
    """Runs after test_loader in the same process: the program it loaded is already gone from the kernel."""
    from pyebpf.errors import LoaderError
    from pyebpf.loader import KernelProgram
    prog_id = [json.loads(l) for l in open(RECORD)][-1]["prog_id"]
    with pytest.raises(LoaderError):
        KernelProgram.from_id(prog_id).close()
    note(loader_closed=prog_id)

@pytest.mark.kernel
def test_netns(netns):
    import socket
    s = netns.run(socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    note(netns=netns.name)
    s.close()

def test_differential(differential):
    d = differential(pyebpf.assemble("r0 = 2\\nexit"), prog_type="xdp")
    assert d.run(packet=bytes(20)).check().vm.retval == 2
    note(differential=d.kernel_program is not None)
'''


@pytest.mark.kernel
def test_fixtures_in_a_users_project(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    record = tmp_path / "record.jsonl"
    env = dict(os.environ, RECORD=str(record))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "1 failed, 5 passed" in out.stdout, out.stdout + out.stderr
    assert "a failing test still closes what it loaded" in out.stdout
    notes = [json.loads(l) for l in record.read_text().splitlines()]
    assert sorted(n["engine"] for n in notes if "engine" in n) == ["compiled", "interp"]
    assert [n["differential"] for n in notes if "differential" in n] == [True]

    prog_id = next(n["prog_id"] for n in notes if "prog_id" in n)
    assert [n["loader_closed"] for n in notes if "loader_closed" in n] == [prog_id]
    name = next(n["netns"] for n in notes if "netns" in n)
    assert not os.path.exists(os.path.join("/run/netns", name))
