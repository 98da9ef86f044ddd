"""Map contents -> Prometheus metric families, read fresh at every scrape.

Works on any `MapFace` (a kernel map, a VM map, a Python probe's map backend): it reads raw key and value bytes
(`keys_raw` / `lookup_raw`), so the same configuration serves probes written in Python, assembly or C.

- counters / gauges: one sample per key, labels decoded from the key, the value an unsigned integer of the map's
  value size (per-CPU maps: summed over CPUs). Keys decoding to the same labels are added together.
- histograms: keys grouped by their labels but the last (the bucket index); cumulative `le` buckets from
  bucket_min to bucket_max (indices below bucket_min count in the first, above bucket_max only in `+Inf`),
  `_count` = every observation, `_sum` = the value at bucket index bucket_max + 1 times the multiplier (0 without
  that key), as ebpf_exporter reads it.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from pyebpf.errors import InputError, PyebpfError
from pyebpf.metrics.config import Metric
from pyebpf.metrics.decoders import Skip, decode_label

VALUE_SIZES = (1, 2, 4, 8)
#: bucket index -> the bucket's upper bound (before the multiplier). exp2 is ebpf_exporter's (le = 2^i). log2 is
#: the floor(log2(v)) bucketing of pyebpf.probe's Log2Histogram and bpftrace's hist(): bucket i holds the integers
#: 2^i .. 2^(i+1) - 1 (bucket 0 also 0), so its exact inclusive bound is 2^(i+1) - 1.
UPPER_BOUND = {
    "exp2": lambda i: float(2 ** i),
    "log2": lambda i: float(2 ** (i + 1) - 1),
    "linear": lambda i: float(i),
}


@dataclass
class Histogram:
    buckets: list[tuple[float, int]]   # (le, cumulative count), +Inf last
    count: int
    sum: float


@dataclass
class Family:
    """One metric as read now: samples are (label values, value) or (label values, Histogram)."""

    metric: Metric
    label_names: tuple[str, ...]
    samples: list[tuple[tuple[str, ...], Any]] = field(default_factory=list)
    skipped: int = 0


def _value(raw: bytes, size: int, percpu: bool, ncpus: int) -> int:
    if not percpu:
        return int.from_bytes(raw[:size], "little")
    stride = (size + 7) & ~7
    return sum(int.from_bytes(raw[i * stride:i * stride + size], "little") for i in range(ncpus))


class MetricsReader:
    """The configured metrics bound to their maps (checked once: map present, key size = labels, value size)."""

    def __init__(self, metrics: tuple[Metric, ...] | list[Metric], maps: Mapping[str, Any]) -> None:
        self.metrics = list(metrics)
        self.maps: dict[str, Any] = {}
        for m in self.metrics:
            where = f"metric {m.name}"
            if m.map not in maps:
                raise InputError(f"{where}: no map named {m.map!r} (the programs have: "
                                 f"{', '.join(sorted(maps)) or 'no maps'})")
            face = maps[m.map]
            spec = face.spec
            if spec.key_size != m.key_size:
                raise InputError(f"{where}: map {m.map!r} has {spec.key_size}-byte keys but the labels cover "
                                 f"{m.key_size} bytes (sizes and offsets must reach the key's end)")
            if spec.value_size not in VALUE_SIZES:
                raise InputError(f"{where}: map {m.map!r} has {spec.value_size}-byte values; a metric reads an "
                                 f"unsigned integer of {', '.join(map(str, VALUE_SIZES))} bytes")
            self.maps[m.name] = face

    def _entries(self, m: Metric) -> Iterator[tuple[bytes, int]]:
        face = self.maps[m.name]
        spec = face.spec
        percpu, ncpus = bool(spec.is_percpu), int(getattr(face, "ncpus", 1))
        for key in list(face.keys_raw()):
            raw = face.lookup_raw(key)
            if raw is not None:  # deleted between get_next_key and lookup: gone, not lost
                yield key, _value(raw, spec.value_size, percpu, ncpus)

    def read(self, errors: list[str] | None = None) -> list[Family]:
        """Every metric now; one that cannot be read (its map gone, a bucket label that is no number) is left out
        of this scrape and its one-line reason appended to `errors` (raised when `errors` is None)."""
        out = []
        for m in self.metrics:
            try:
                out.append(self._read_one(m))
            except PyebpfError as e:
                if errors is None:
                    raise
                errors.append(f"metric {m.name}: {e}" if not str(e).startswith("metric ") else str(e))
        return out

    def _read_one(self, m: Metric) -> Family:
        fam = Family(m, tuple(lb.name for lb in m.labels))
        sums: dict[tuple[str, ...], int] = {}
        for key, value in self._entries(m):
            try:
                labels = tuple(decode_label(key[lb.offset:lb.offset + lb.size], lb.decoders) for lb in m.labels)
            except Skip:
                fam.skipped += 1
                continue
            sums[labels] = sums.get(labels, 0) + value
        if m.kind != "histogram":
            fam.samples = sorted(sums.items())
            return fam
        fam.label_names = fam.label_names[:-1]
        groups: dict[tuple[str, ...], dict[int, int]] = {}
        for labels, value in sums.items():
            try:
                index = int(labels[-1])
            except ValueError:
                raise InputError(f"metric {m.name}: bucket label {m.labels[-1].name!r} decoded to {labels[-1]!r}, "
                                 f"not a bucket index (decode it with `uint`)") from None
            bucket = groups.setdefault(labels[:-1], {})
            bucket[index] = bucket.get(index, 0) + value
        fam.samples = [(labels, histogram(m, counts)) for labels, counts in sorted(groups.items())]
        return fam


def histogram(m: Metric, counts: Mapping[int, int]) -> Histogram:
    """Cumulative buckets of one label set's {bucket index: count}."""
    upper = UPPER_BOUND[m.bucket_type]
    sum_index = m.bucket_max + 1
    total = sum(c for i, c in counts.items() if i != sum_index)
    running = sum(c for i, c in counts.items() if i < m.bucket_min)
    out = []
    for i in range(m.bucket_min, m.bucket_max + 1):
        running += counts.get(i, 0)
        out.append((upper(i) * m.bucket_multiplier, running))
    out.append((math.inf, total))
    return Histogram(out, total, counts.get(sum_index, 0) * m.bucket_multiplier)


class PrometheusCollector:
    """A prometheus_client collector: every scrape reads the maps (`registry.register(PrometheusCollector(...))`)."""

    def __init__(self, reader: MetricsReader, namespace: str = "", info: list[dict[str, str]] | None = None) -> None:
        from pyebpf._lazy import optional_import

        self._core = optional_import("prometheus_client.core", "export", "serving Prometheus metrics")
        self._utils = optional_import("prometheus_client.utils", "export", "serving Prometheus metrics")
        self.reader, self.prefix, self.info = reader, f"{namespace}_" if namespace else "", info or []

    def describe(self) -> list[Any]:
        return []  # no fixed description: the registry then does not call collect() at registration

    def collect(self) -> Iterator[Any]:
        core, go = self._core, self._utils.floatToGoString
        skipped = core.GaugeMetricFamily(f"{self.prefix}decoder_skipped_keys",
                                         "Map keys a decoder (regexp) left out of a metric at this scrape",
                                         labels=["metric"])
        errors: list[str] = []
        families = self.reader.read(errors)
        for line in errors:  # one line each on stderr; the scrape still serves every other metric
            print(f"pyebpf export: error: {line}", file=sys.stderr, flush=True)
        failed = core.GaugeMetricFamily(f"{self.prefix}metric_read_errors",
                                        "Metrics that could not be read at this scrape", value=len(errors))
        for fam in families:
            m, name = fam.metric, self.prefix + fam.metric.name
            if m.kind == "counter":
                out = core.CounterMetricFamily(name, m.help, labels=list(fam.label_names))
            elif m.kind == "gauge":
                out = core.GaugeMetricFamily(name, m.help, labels=list(fam.label_names))
            else:
                out = core.HistogramMetricFamily(name, m.help, labels=list(fam.label_names))
            for labels, value in fam.samples:
                if m.kind == "histogram":
                    out.add_metric(list(labels), [(go(le), n) for le, n in value.buckets], value.sum)
                else:
                    out.add_metric(list(labels), value)
            skipped.add_metric([name], fam.skipped)
            yield out
        yield skipped
        yield failed
        if self.info:
            keys = sorted(self.info[0])
            info = core.GaugeMetricFamily(f"{self.prefix}ebpf_program_info", "Programs this exporter loaded",
                                          labels=keys)
            for row in self.info:
                info.add_metric([row[k] for k in keys], 1)
            yield info


__all__ = ["Family", "Histogram", "MetricsReader", "PrometheusCollector", "histogram", "UPPER_BOUND"]
