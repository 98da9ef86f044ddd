"""Run under `unshare -n`: which Ethernet frames does a packet socket with a classic filter receive on lo?

stdin: JSON {"filter": hex of sock_filter[], "frames": [hex, ...]}. stdout: JSON {"kept": [[index, length], ...]}:
the frames (sent one by one through another packet socket on lo) the filtered socket received, and how many bytes
of each. A second, unfiltered socket tells when every frame has gone through the receive path.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import sys

from pyebpf.abi.cbpf import ETH_P_ALL, PACKET_IGNORE_OUTGOING, SOL_PACKET
from pyebpf.cbpf import ClassicProgram
from pyebpf.loader.cbpf import attach_socket_filter


def main() -> None:
    req = json.load(sys.stdin)
    frames = [bytes.fromhex(f) for f in req["frames"]]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    filtered = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: nothing arrives before bind
    attach_socket_filter(filtered, ClassicProgram.from_bytes(bytes.fromhex(req["filter"])))
    everything = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    for s in (filtered, everything):
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind(("lo", ETH_P_ALL))  # Python puts the protocol in network order itself
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    tx.bind(("lo", 0))
    kept = []
    everything.settimeout(5)
    filtered.setblocking(False)
    # On one CPU a frame's receive pass (every packet socket's filter, BH disabled) completes before user space
    # runs again: once the unfiltered socket has frame i, the filtered one has decided about it.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    for i, frame in enumerate(frames):
        tx.send(frame)
        everything.recv(1 << 16)
        try:
            while True:
                kept.append([i, len(filtered.recv(1 << 16))])
        except BlockingIOError:
            pass
    time.sleep(0.05)
    try:
        while True:
            late = filtered.recv(1 << 16)
            kept.append([-1, len(late)])  # arrived after its window: the test refuses to guess which it was
    except BlockingIOError:
        pass
    json.dump({"kept": kept}, sys.stdout)


if __name__ == "__main__":
    main()
