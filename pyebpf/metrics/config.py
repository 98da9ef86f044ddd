"""The exporter's configuration: which maps become which Prometheus metrics, in cloudflare ebpf_exporter's shape.

    programs:                      # what `pyebpf export` loads (paths relative to the config file)
      - probe: openat.py           # a Python probe file: every @probe loaded and attached
      - object: biolatency.bpf.o   # an ELF object: programs attached by their SEC() names
      - asm: count.s               # assembly; `attach:` names the target when its section does not
    metrics:
      counters:                    # also `gauges:`; one metric per map, named `name`, read from map `map` (= name)
        - name: openat_total
          map: opens
          help: openat() calls by process
          labels:                  # the key's bytes, in order: `size` bytes each (`offset` to skip padding)
            - {name: pid, size: 4, decoders: [{name: uint}]}
            - {name: comm, size: 16, decoders: [{name: string}]}
      histograms:                  # the key's last label is the bucket index
        - name: latency_seconds
          bucket_type: log2        # exp2: le = 2^i; log2: le = 2^(i+1)-1 (floor-log2 buckets); linear: le = i
          bucket_min: 0
          bucket_max: 26           # key bucket_max + 1, when present, holds the sum (ebpf_exporter's rule)
          bucket_multiplier: 1e-9  # nanoseconds to seconds
          labels: [{name: bucket, size: 4, decoders: [{name: uint}]}]

Everything is checked up front: a wrong field is an InputError naming its place (`metrics.counters[0].labels[1]:
...`), never a traceback or a metric silently missing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from pyebpf.errors import InputError

#: A valid Prometheus metric / label name (the exposition format's rule).
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
KINDS = ("counters", "gauges", "histograms")
BUCKET_TYPES = ("exp2", "log2", "linear")
PROGRAM_KINDS = ("probe", "object", "asm")
MAX_LABEL_BYTES = 4096  # a key is at most a page here; bounds decoding on hostile configs
#: Bounds on list lengths, so a YAML file of aliases (`[*a, *a, ...]`) cannot make the checks run for hours.
MAX_METRICS, MAX_LABELS, MAX_DECODERS, MAX_PROGRAMS = 1024, 64, 16, 256


def _bounded(items: list, limit: int, where: str, what: str) -> list:
    if len(items) > limit:
        raise InputError(f"{where}: {len(items)} {what}; at most {limit}")
    return items


@dataclass(frozen=True)
class Decoder:
    """One step turning a label's bytes (first step) or the previous step's string into the label value."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Label:
    name: str
    offset: int
    size: int
    decoders: tuple[Decoder, ...]


@dataclass(frozen=True)
class Metric:
    kind: str          # "counter" | "gauge" | "histogram"
    name: str
    map: str
    help: str
    labels: tuple[Label, ...]
    bucket_type: str = "exp2"
    bucket_min: int = 0
    bucket_max: int = 0
    bucket_multiplier: float = 1.0

    @property
    def key_size(self) -> int:
        """The key bytes the labels cover (the map's key must be exactly this long)."""
        return max((lb.offset + lb.size for lb in self.labels), default=0)


@dataclass(frozen=True)
class ProgramSource:
    kind: str          # "probe" | "object" | "asm"
    path: str
    attach: str | None = None
    programs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    programs: tuple[ProgramSource, ...]
    metrics: tuple[Metric, ...]


def _need(obj: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(obj, kind) or isinstance(obj, bool) and kind is not bool:
        raise InputError(f"{where}: {what}")
    return obj


def _keys(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InputError(f"{where}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(str, unknown))} "
                         f"(known: {', '.join(sorted(allowed))})")


def _decoder(obj: Any, where: str) -> Decoder:
    from pyebpf.metrics.decoders import DECODERS

    _need(obj, dict, where, "a decoder is a mapping with a `name`")
    name = obj.get("name")
    if name not in DECODERS:
        raise InputError(f"{where}: unknown decoder {name!r} (known: {', '.join(sorted(DECODERS))})")
    options = {k: v for k, v in obj.items() if k != "name"}
    DECODERS[name].check(options, where)
    return Decoder(name, options)


def _labels(items: Any, where: str) -> tuple[Label, ...]:
    _bounded(_need(items if items is not None else [], list, where, "labels is a list"), MAX_LABELS, where, "labels")
    out: list[Label] = []
    end = 0
    for i, obj in enumerate(items or []):
        at = f"{where}[{i}]"
        _need(obj, dict, at, "a label is a mapping with `name`, `size` and `decoders`")
        _keys(obj, {"name", "size", "offset", "decoders"}, at)
        name = obj.get("name")
        if not isinstance(name, str) or not LABEL_NAME.match(name) or name.startswith("__"):
            raise InputError(f"{at}: label name {name!r} is not a Prometheus label name")
        if name in {lb.name for lb in out}:
            raise InputError(f"{at}: label {name!r} appears twice")
        size = _need(obj.get("size"), int, at, "`size` (bytes of the key) must be an integer")
        if not 0 < size <= MAX_LABEL_BYTES:
            raise InputError(f"{at}: size {size} out of range 1..{MAX_LABEL_BYTES}")
        offset = obj.get("offset", end)
        _need(offset, int, at, "`offset` must be an integer")
        if offset < end:
            raise InputError(f"{at}: offset {offset} overlaps the previous label (which ends at byte {end})")
        decoders = _need(obj.get("decoders"), list, at, "`decoders` must be a non-empty list")
        if not decoders:
            raise InputError(f"{at}: `decoders` must be a non-empty list")
        _bounded(decoders, MAX_DECODERS, at, "decoders")
        out.append(Label(name, offset, size,
                         tuple(_decoder(d, f"{at}.decoders[{j}]") for j, d in enumerate(decoders))))
        end = offset + size
    return tuple(out)


def _metric(obj: Any, kind: str, where: str) -> Metric:
    _need(obj, dict, where, "a metric is a mapping with `name`, `help` and `labels`")
    fields = {"name", "map", "help", "labels"}
    if kind == "histogram":
        fields |= {"bucket_type", "bucket_min", "bucket_max", "bucket_multiplier"}
    _keys(obj, fields, where)
    name = obj.get("name")
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        raise InputError(f"{where}: metric name {name!r} is not a Prometheus metric name")
    map_name = obj.get("map", name)
    _need(map_name, str, where, "`map` names the map to read")
    help_text = obj.get("help", name)
    _need(help_text, str, where, "`help` is text")
    labels = _labels(obj.get("labels"), f"{where}.labels")
    if kind != "histogram":
        return Metric(kind, name, map_name, help_text, labels)
    if not labels:
        raise InputError(f"{where}: a histogram's key needs at least the bucket label (the last one)")
    btype = obj.get("bucket_type", "exp2")
    if btype not in BUCKET_TYPES:
        raise InputError(f"{where}: bucket_type {btype!r} (known: {', '.join(BUCKET_TYPES)})")
    bmin = _need(obj.get("bucket_min", 0), int, where, "bucket_min must be an integer")
    bmax = _need(obj.get("bucket_max"), int, where, "bucket_max (the last bucket index) must be an integer")
    if not 0 <= bmin < bmax <= 1024:
        raise InputError(f"{where}: need 0 <= bucket_min < bucket_max <= 1024, got {bmin}..{bmax}")
    mult = _need(obj.get("bucket_multiplier", 1), (int, float), where, "bucket_multiplier must be a number")
    if not mult > 0:
        raise InputError(f"{where}: bucket_multiplier must be > 0")
    return Metric(kind, name, map_name, help_text, labels, btype, bmin, bmax, float(mult))


def _program(obj: Any, where: str) -> ProgramSource:
    _need(obj, dict, where, f"a program entry is a mapping with one of {', '.join(PROGRAM_KINDS)}")
    _keys(obj, set(PROGRAM_KINDS) | {"attach", "programs"}, where)
    kinds = [k for k in PROGRAM_KINDS if k in obj]
    if len(kinds) != 1:
        raise InputError(f"{where}: name exactly one of {', '.join(PROGRAM_KINDS)}")
    path = _need(obj[kinds[0]], str, where, f"`{kinds[0]}` is a file path")
    attach = obj.get("attach")
    if attach is not None:
        _need(attach, str, where, "`attach` is a target such as syscalls/sys_enter_openat")
    names = obj.get("programs", [])
    _need(names, list, where, "`programs` lists program names of the object")
    if not all(isinstance(n, str) for n in names):
        raise InputError(f"{where}: `programs` lists program names of the object")
    return ProgramSource(kinds[0], path, attach, tuple(names))


def parse_config(obj: Any, where: str = "config") -> Config:
    """A parsed YAML/JSON document -> Config, every field checked."""
    _need(obj, dict, where, "the configuration is a mapping with `metrics` (and `programs`)")
    _keys(obj, {"programs", "metrics"}, where)
    programs = _bounded(_need(obj.get("programs", []), list, f"{where}.programs", "a list"), MAX_PROGRAMS,
                        f"{where}.programs", "programs")
    metrics = _need(obj.get("metrics"), dict, f"{where}.metrics", "a mapping of counters/gauges/histograms")
    _keys(metrics, set(KINDS), f"{where}.metrics")
    out: list[Metric] = []
    for kind in KINDS:
        items = _bounded(_need(metrics.get(kind, []), list, f"{where}.metrics.{kind}", "a list of metrics"),
                         MAX_METRICS, f"{where}.metrics.{kind}", "metrics")
        for i, obj in enumerate(items):
            m = _metric(obj, kind[:-1], f"{where}.metrics.{kind}[{i}]")
            if m.name in {o.name for o in out}:
                raise InputError(f"{where}.metrics.{kind}[{i}]: metric {m.name!r} defined twice")
            out.append(m)
    if not out:
        raise InputError(f"{where}.metrics: no counters, gauges or histograms")
    return Config(tuple(_program(p, f"{where}.programs[{i}]") for i, p in enumerate(programs)), tuple(out))


def load_config(path: str) -> Config:
    """Read a YAML (or JSON, which is YAML) file; a syntax error names the line."""
    from pyebpf._lazy import optional_import

    yaml = optional_import("yaml", "export", "reading exporter configurations")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read((1 << 20) + 1)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    if len(text) > 1 << 20:
        raise InputError(f"{path}: larger than 1 MiB; not a configuration")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        place = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise InputError(f"{path}{place}: not YAML: {getattr(e, 'problem', None) or e}") from None
    return parse_config(doc, path)


__all__ = ["Config", "Decoder", "Label", "Metric", "ProgramSource", "load_config", "parse_config"]
