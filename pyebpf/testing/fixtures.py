"""pytest fixtures shipped with pyebpf (registered by the plugin, so any project with pyebpf installed has them).

* `ebpf_engine` — "interp" and "compiled": a test using it (or `ebpf_vm`) runs once per VM engine.
* `ebpf_vm` — factory `ebpf_vm(program, **VM keywords) -> VM` on the current engine.
* `kernel_loader` — factory `kernel_loader(program, **load keywords) -> KernelProgram`; everything it loaded is
  closed when the test ends, pass or fail. Without bpf() the test skips (fails under PYEBPF_REQUIRE_KERNEL=1).
* `differential` — factory `differential(program, **kw) -> Differential` (VM and kernel side by side), closed at
  the end of the test.
* `netns` — a fresh network namespace (loopback up) for the test, removed afterwards; `netns.run(fn, *args)`
  calls fn inside it (a socket made there stays there).

Everything heavy is imported inside the fixtures, so loading the plugin costs nothing.
"""
from __future__ import annotations

import itertools
import os
from typing import Any, Callable, Iterator

import pytest

from pyebpf.testing.kernel_probe import bpf_unavailable_reason, require_kernel_env

ENGINES = ("interp", "compiled")
NETNS_PREFIX = "pyebpf-fixture"
_netns_counter = itertools.count()


def _need_kernel() -> None:
    reason = bpf_unavailable_reason()
    if reason is None:
        return
    if require_kernel_env():
        pytest.fail(f"PYEBPF_REQUIRE_KERNEL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=ENGINES)
def ebpf_engine(request: pytest.FixtureRequest) -> str:
    """The VM engine of this test run: each test using it runs on both."""
    return request.param


@pytest.fixture
def ebpf_vm(ebpf_engine: str) -> Callable[..., Any]:
    """`ebpf_vm(program, maps=..., env=..., ...)`: a pyebpf.vm.VM on this run's engine."""
    from pyebpf.vm import VM

    def make(program: Any, **kw: Any) -> Any:
        kw.setdefault("engine", ebpf_engine)
        return VM(program, **kw)

    return make


@pytest.fixture
def kernel_loader() -> Iterator[Callable[..., Any]]:
    """`kernel_loader(program, prog_type=None, **load keywords)`: load into the kernel; closed after the test."""
    _need_kernel()
    from pyebpf.loader import load

    loaded: list[Any] = []

    def make(program: Any, prog_type: Any = None, **kw: Any) -> Any:
        prog = load(program, prog_type, **kw)
        loaded.append(prog)
        return prog

    try:
        yield make
    finally:
        for prog in reversed(loaded):
            prog.close()


@pytest.fixture
def differential() -> Iterator[Callable[..., Any]]:
    """`differential(program, **kw) -> Differential` (kernel side where permitted); closed after the test."""
    from pyebpf.testing.differential import Differential

    made: list[Any] = []

    def make(program: Any, **kw: Any) -> Any:
        diff = Differential(program, **kw)
        made.append(diff)
        return diff

    try:
        yield make
    finally:
        for diff in made:
            diff.close()


class NetNamespace:
    """A named network namespace (/run/netns/NAME) made for one test."""

    def __init__(self, name: str):
        self.name = name
        self.path = os.path.join("/run/netns", name)

    def run(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call fn in a thread that joined this namespace (setns moves only that thread); return its result."""
        from pyebpf.loader.netlink import call_in_netns

        return call_in_netns(self.name, lambda: fn(*args, **kw))

    def ipr(self) -> Any:
        """A pyroute2 IPRoute bound to this namespace (use it in a `with`)."""
        from pyroute2 import IPRoute

        return IPRoute(netns=self.name, flags=0)


def _remove_stale_namespaces() -> None:
    """Namespaces this fixture made in processes that are gone (a killed run) are removed."""
    from pyroute2 import netns

    for name in netns.listnetns():
        if not name.startswith(NETNS_PREFIX + "-"):
            continue
        try:
            pid = int(name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if not os.path.exists(f"/proc/{pid}"):
            try:
                netns.remove(name)
            except OSError:
                pass


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    """A fresh network namespace with its loopback up; deleted when the test ends."""
    try:
        from pyroute2 import netns as _netns
    except ImportError:  # pragma: no cover - scripts/setup.sh installs the [net] extra
        pytest.skip("pyroute2 is not installed (pip install 'pyebpf-toolkit[net]')")
    if os.geteuid() != 0:
        if require_kernel_env():
            pytest.fail("PYEBPF_REQUIRE_KERNEL=1 but creating a network namespace needs root", pytrace=False)
        pytest.skip("creating a network namespace needs root")
    _remove_stale_namespaces()
    ns = NetNamespace(f"{NETNS_PREFIX}-{os.getpid()}-{next(_netns_counter)}")
    _netns.create(ns.name)
    try:
        with ns.ipr() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        yield ns
    finally:
        try:
            _netns.remove(ns.name)
        except OSError:
            pass


__all__ = ["ebpf_engine", "ebpf_vm", "kernel_loader", "differential", "netns", "NetNamespace", "ENGINES"]
