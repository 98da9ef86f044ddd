"""Network namespaces and a veth pair between them, for XDP/tc tests whose traffic never leaves the pair.

    with veth_pair() as pair:          # pyebpf-test-<pid>-<n>-a / -b, veth a0 (192.0.2.1) <-> b0 (192.0.2.2)
        rx = pair.socket("b", socket.SOCK_DGRAM); rx.bind((pair.addr_b, 0))
        tx = pair.socket("a", socket.SOCK_DGRAM); tx.sendto(b"x", rx.getsockname())

Addresses are TEST-NET-1 (192.0.2.0/24) and live only inside the two namespaces; the root namespace is untouched.
Namespaces are always deleted in a finally (deleting a namespace also deletes its end of the veth). Namespaces left
by a killed test run (their pid no longer exists) are removed on the next run.
"""
from __future__ import annotations

import itertools
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from pyroute2 import IPRoute, netns

from pyebpf.loader.netlink import call_in_netns

PREFIX = "pyebpf-test"
_counter = itertools.count()


def run_in_netns(name: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call fn in a fresh thread that has joined network namespace `name` (the loader's call_in_netns).

    Sockets made there stay in that namespace after the thread ends, so the caller can use them from anywhere.
    """
    return call_in_netns(name, lambda: fn(*args, **kw))


def remove_stale_namespaces() -> None:
    """Delete pyebpf-test-<pid>-* namespaces whose creating process is gone."""
    for name in netns.listnetns():
        if not name.startswith(PREFIX + "-"):
            continue
        parts = name.split("-")
        try:
            pid = int(parts[2])
        except (IndexError, ValueError):
            continue
        if not os.path.exists(f"/proc/{pid}"):
            try:
                netns.remove(name)
            except OSError:
                pass


@dataclass
class VethPair:
    ns_a: str
    ns_b: str
    if_a: str = "a0"
    if_b: str = "b0"
    addr_a: str = "192.0.2.1"
    addr_b: str = "192.0.2.2"

    def ns(self, side: str) -> str:
        return self.ns_a if side == "a" else self.ns_b

    def ifname(self, side: str) -> str:
        return self.if_a if side == "a" else self.if_b

    def addr(self, side: str) -> str:
        return self.addr_a if side == "a" else self.addr_b

    def socket(self, side: str, kind: int = socket.SOCK_DGRAM) -> socket.socket:
        """A socket living in namespace `side` ('a' or 'b')."""
        return run_in_netns(self.ns(side), socket.socket, socket.AF_INET, kind)

    def ifindex(self, side: str) -> int:
        with IPRoute(netns=self.ns(side), flags=0) as ipr:
            return ipr.link_lookup(ifname=self.ifname(side))[0]

    def udp_pair(self) -> tuple[socket.socket, socket.socket, tuple[str, int]]:
        """(sender in a, receiver in b bound to addr_b, receiver address); both non-blocking-with-timeout."""
        rx = self.socket("b")
        rx.bind((self.addr_b, 0))
        rx.settimeout(0.5)
        tx = self.socket("a")
        tx.bind((self.addr_a, 0))
        return tx, rx, rx.getsockname()


@contextmanager
def veth_pair() -> Iterator[VethPair]:
    """Two new namespaces joined by a veth pair with TEST-NET-1 addresses; both removed on exit."""
    remove_stale_namespaces()
    n = next(_counter)
    pair = VethPair(f"{PREFIX}-{os.getpid()}-{n}-a", f"{PREFIX}-{os.getpid()}-{n}-b")
    created: list[str] = []
    try:
        for name in (pair.ns_a, pair.ns_b):
            netns.create(name)
            created.append(name)
        with IPRoute(netns=pair.ns_a, flags=0) as ipr:
            ipr.link("add", ifname=pair.if_a, kind="veth", peer=pair.if_b)
            peer = ipr.link_lookup(ifname=pair.if_b)[0]
            ipr.link("set", index=peer, net_ns_fd=pair.ns_b)
            idx = ipr.link_lookup(ifname=pair.if_a)[0]
            ipr.addr("add", index=idx, address=pair.addr_a, prefixlen=24)
            ipr.link("set", index=idx, state="up")
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        with IPRoute(netns=pair.ns_b, flags=0) as ipr:
            idx = ipr.link_lookup(ifname=pair.if_b)[0]
            ipr.addr("add", index=idx, address=pair.addr_b, prefixlen=24)
            ipr.link("set", index=idx, state="up")
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        yield pair
    finally:
        for name in created:
            try:
                netns.remove(name)
            except OSError:
                pass


def send_udp(tx: socket.socket, dest: tuple[str, int], count: int, payload: bytes = b"pyebpf") -> None:
    for i in range(count):
        tx.sendto(payload + i.to_bytes(4, "little"), dest)


def recv_all(rx: socket.socket, timeout: float = 0.3, expect: int = 0, patience: float = 10.0) -> list[bytes]:
    """Every datagram waiting on rx, stopping at the first `timeout` without one once `expect` have come (before
    that, up to `patience` seconds: on a loaded machine delivery can lag the send by more than `timeout`)."""
    got: list[bytes] = []
    deadline = time.monotonic() + patience
    while True:
        wait = timeout if len(got) >= expect else max(timeout, deadline - time.monotonic())
        rx.settimeout(wait)
        try:
            got.append(rx.recv(2048))
        except (socket.timeout, BlockingIOError):
            if len(got) >= expect or time.monotonic() >= deadline:
                return got


__all__ = ["VethPair", "veth_pair", "run_in_netns", "remove_stale_namespaces", "send_udp", "recv_all", "PREFIX"]
