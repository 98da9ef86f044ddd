"""bpf_printk output: reading tracefs `trace_pipe` and parsing its lines.

bpf_trace_printk() writes to the global trace buffer; each line reads

    <comm>-<pid> [<cpu>] <flags> <seconds>.<micros>: bpf_trace_printk: <message>

(the `flags` column — irqs-off, need-resched, hardirq/softirq, preempt depth, migrate-disable — is absent when the
irq-info trace option is off, and old kernels print `<seconds>: 0: <message>` with a `bpf_trace_printk` tag missing).
The comm may contain spaces and dashes, so the pid is the last `-<digits>` before ` [`. Reading trace_pipe consumes
the lines: every reader in the system shares one stream, so filter on something unique in your message.
"""
from __future__ import annotations

import errno
import os
import re
import select
import time
from dataclasses import dataclass
from typing import Iterator

from pyebpf.errors import LoaderError
from pyebpf.system.tracefs import tracefs_path

_LINE_RE = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+"
    r"(?:\(\s*(?P<tgid>[\d-]+)\)\s+)?"         # optional "( tgid)" column (record-tgid option)
    r"\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[^\s:]{4,5})\s+)?"         # optional irq-info flags, e.g. "...1." or "d..2."
    r"(?P<ts>\d+\.\d+):\s+"
    r"(?P<event>[\w:]+):\s?"
    r"(?P<msg>.*)$"
)


@dataclass(frozen=True)
class TraceLine:
    """One parsed trace_pipe line."""

    comm: str
    pid: int
    cpu: int
    flags: str
    timestamp: float  # seconds, the trace clock (local by default)
    event: str  # "bpf_trace_printk" for bpf_printk lines
    message: str
    raw: str

    @property
    def is_printk(self) -> bool:
        return self.event == "bpf_trace_printk"


def parse_trace_line(line: str) -> TraceLine | None:
    """Fields of a trace_pipe line, or None for a line of another shape (e.g. a lost-events notice)."""
    line = line.rstrip("\n")
    m = _LINE_RE.match(line)
    if m is None:
        return None
    return TraceLine(comm=m["comm"], pid=int(m["pid"]), cpu=int(m["cpu"]), flags=m["flags"] or "",
                     timestamp=float(m["ts"]), event=m["event"], message=m["msg"], raw=line)


class TracePipe:
    """Non-blocking reader of tracefs trace_pipe (tracefs is mounted if needed).

        with TracePipe() as tp:
            ...trigger the program...
            lines = tp.read_until(lambda l: "hello" in l.message, timeout=2.0)
    """

    def __init__(self, path: str | None = None):
        self._fd = -1
        self.path = path or tracefs_path("trace_pipe")
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise LoaderError(f"opening {self.path}", e.errno) from None
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)
        self._partial = b""

    def read_lines(self, timeout: float = 0.0) -> list[str]:
        """Complete lines available now, waiting up to `timeout` seconds for some to arrive."""
        if self._fd < 0:
            raise LoaderError("trace_pipe is closed", errno.EBADF)
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            chunk = self._read_chunk()
            if chunk:
                data = self._partial + chunk
                *complete, self._partial = data.split(b"\n")
                lines.extend(c.decode(errors="replace") for c in complete)
                continue
            if lines:
                return lines
            left = deadline - time.monotonic()
            if left <= 0:
                return lines
            self._poll.poll(max(1, int(min(left, 0.1) * 1000)))

    def _read_chunk(self) -> bytes:
        try:
            return os.read(self._fd, 65536)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EINTR:
                return b""
            raise LoaderError(f"reading {self.path}", e.errno) from None

    def read(self, timeout: float = 0.0) -> list[TraceLine]:
        """Parsed lines available now (waiting up to `timeout` for the first ones); unparsable lines are skipped."""
        return [p for p in map(parse_trace_line, self.read_lines(timeout)) if p is not None]

    def read_until(self, match: "callable", count: int = 1, timeout: float = 2.0) -> list[TraceLine]:
        """Parsed lines for which `match(line)` is true, until `count` of them or `timeout` seconds."""
        found: list[TraceLine] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            found.extend(line for line in self.read(min(left, 0.2)) if match(line))
        return found

    def __iter__(self) -> Iterator[TraceLine]:
        """Endless iterator over parsed lines (blocks while there are none)."""
        while self._fd >= 0:
            yield from self.read(timeout=1.0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "TracePipe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def trace_pipe(timeout: float | None = None) -> Iterator[TraceLine]:
    """Iterate over parsed trace_pipe lines; stops after `timeout` seconds with no new line (None: never)."""
    with TracePipe() as tp:
        while True:
            lines = tp.read(timeout=timeout if timeout is not None else 3600.0)
            if not lines and timeout is not None:
                return
            yield from lines


__all__ = ["TraceLine", "TracePipe", "parse_trace_line", "trace_pipe"]
