"""What a run printed and emitted: bpf_trace_printk lines, perf event records, ring buffer records.

The maps keep their records for consumption from Python (`RingBufMap.consume()`, `PerfEventArrayMap.drain()`);
`Output` is the run's log of them in emission order, which is what a run result shows.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PerfRecord:
    """One bpf_perf_event_output record: the map, the perf-array slot (CPU) it went to, the bytes."""

    map: str
    cpu: int
    data: bytes


@dataclass(frozen=True)
class RingRecord:
    """One ring buffer record submitted (not discarded) during the run."""

    map: str
    data: bytes


@dataclass
class Output:
    """The run's printk lines (as the text after "bpf_trace_printk: " in trace_pipe, newline kept when the format
    had one), perf records and ring buffer records."""

    printk: list[str] = field(default_factory=list)
    perf: list[PerfRecord] = field(default_factory=list)
    ring: list[RingRecord] = field(default_factory=list)

    def add_printk(self, text: str) -> None:
        self.printk.append(text)

    def add_perf(self, map_name: str, cpu: int, data: bytes) -> None:
        self.perf.append(PerfRecord(map_name, cpu, bytes(data)))

    def add_ring(self, map_name: str, data: bytes) -> None:
        self.ring.append(RingRecord(map_name, bytes(data)))

    @property
    def printk_text(self) -> str:
        """All printk output joined as trace_pipe would show the messages (each line ends with a newline)."""
        return "".join(line if line.endswith("\n") else line + "\n" for line in self.printk)

    def clear(self) -> None:
        self.printk.clear()
        self.perf.clear()
        self.ring.clear()

    def as_dict(self) -> dict:
        return {"printk": list(self.printk), "perf": [(r.map, r.cpu, r.data) for r in self.perf],
                "ring": [(r.map, r.data) for r in self.ring]}


__all__ = ["Output", "PerfRecord", "RingRecord"]
