"""pyebpf.metrics without a kernel: the config checks, the decoders, histograms against a model of the observations,
and what prometheus_client serves from VM maps (parsed back with its own text parser)."""
from __future__ import annotations

import math
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyebpf.abi.maps import MapSpec, MapType
from pyebpf.errors import InputError
from pyebpf.metrics import MetricsReader, PrometheusCollector, histogram, parse_config
from pyebpf.metrics.decoders import DECODERS, Skip, decode_label
from pyebpf.metrics.config import Decoder
from pyebpf.vm.maps import create_map

prom = pytest.importorskip("prometheus_client", reason="the [export] extra (scripts/setup.sh installs it)")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

PROC_LABELS = [{"name": "pid", "size": 4, "decoders": [{"name": "uint"}]},
               {"name": "comm", "size": 16, "decoders": [{"name": "string"}]}]


def counter_config(**over) -> dict:
    metric = {"name": "opens_total", "map": "opens", "help": "opens", "labels": PROC_LABELS, **over}
    return {"metrics": {"counters": [metric]}}


def proc_key(pid: int, comm: bytes) -> bytes:
    return struct.pack("<I16s", pid, comm)


def vm_map(name: str, key_size: int, value_size: int, kind: MapType = MapType.HASH, ncpus: int | None = None):
    return create_map(MapSpec(name, kind, key_size, value_size, 64), ncpus)


@pytest.mark.parametrize("config, message", [
    ({}, r"config.metrics: a mapping"),
    ({"metrics": {}}, r"no counters, gauges or histograms"),
    ({"metrics": {"counter": []}}, r"unknown field counter"),
    (counter_config(name="bad name"), r"counters\[0\]: metric name 'bad name'"),
    (counter_config(labels=[{"name": "pid", "size": 4}]), r"labels\[0\]: `decoders` must be a non-empty list"),
    (counter_config(labels=[{"name": "pid", "size": 0, "decoders": [{"name": "uint"}]}]), r"size 0 out of range"),
    (counter_config(labels=[{"name": "pid", "size": True, "decoders": [{"name": "uint"}]}]), r"must be an integer"),
    (counter_config(labels=[{"name": "pid", "size": 4, "decoders": [{"name": "nope"}]}]),
     r"labels\[0\].decoders\[0\]: unknown decoder 'nope'"),
    (counter_config(labels=[{"name": "a", "size": 4, "decoders": [{"name": "uint"}]},
                            {"name": "b", "size": 4, "offset": 2, "decoders": [{"name": "uint"}]}]),
     r"labels\[1\]: offset 2 overlaps"),
    (counter_config(labels=[{"name": "a", "size": 4, "decoders": [{"name": "static_map"}]}]), r"static_map needs"),
    (counter_config(labels=[{"name": "a", "size": 4, "decoders": [{"name": "regexp", "regexps": ["("]}]}]),
     r"bad regexp"),
    ({"metrics": {"histograms": [{"name": "h", "bucket_max": 0, "labels": PROC_LABELS[:1]}]}},
     r"0 <= bucket_min < bucket_max"),
    ({"metrics": {"histograms": [{"name": "h", "bucket_max": 3, "bucket_type": "exp10", "labels": PROC_LABELS[:1]}]}},
     r"bucket_type 'exp10'"),
    ({"programs": [{"probe": "a.py", "asm": "b.s"}], **counter_config()}, r"programs\[0\]: name exactly one"),
    ({"metrics": {"counters": [counter_config()["metrics"]["counters"][0]] * 2}}, r"'opens_total' defined twice"),
])
def test_bad_configs_name_the_place(config, message):
    with pytest.raises(InputError, match=message):
        parse_config(config)


def test_decoders_chain_from_bytes_to_text():
    def run(raw, *decoders):
        return decode_label(raw, [Decoder(d[0], d[1] if len(d) > 1 else {}) for d in decoders])

    assert run((7).to_bytes(4, "little"), ("uint",)) == "7"
    assert run((-2 & 0xFFFF).to_bytes(2, "little"), ("int",)) == "-2"
    assert run(b"cat\0junk\0\0", ("string",)) == "cat"
    assert run((1).to_bytes(4, "little"), ("uint",), ("static_map", {"static_map": {0: "read", 1: "write"}})) == "write"
    assert run((9).to_bytes(4, "little"), ("static_map", {"static_map": {0: "read"}})) == "unknown:9"
    assert run((2).to_bytes(8, "little"), ("uint",), ("errno",)) == "ENOENT"
    assert run(((8 << 20) | 17).to_bytes(4, "little"), ("majorminor",)) == "8:17"
    assert run(b"\x01\xff", ("hex",)) == "01ff"
    with pytest.raises(Skip):
        run(b"bash\0", ("regexp", {"regexps": ["^python"]}))
    assert set(DECODERS) >= {"uint", "string", "static_map", "regexp", "ksym", "errno"}


def test_ksym_names_a_kernel_function():
    from pyebpf.system.kallsyms import kallsyms

    syms = kallsyms()
    if syms is None:
        pytest.skip("kallsyms addresses are hidden here (kptr_restrict)")
    addr = syms.address("schedule")
    assert decode_label((addr + 3).to_bytes(8, "little"), [Decoder("ksym")]) == "schedule"


BUCKETS = st.dictionaries(st.integers(0, 40), st.integers(0, 10**6), max_size=20)


@settings(max_examples=80, deadline=None)
@given(counts=BUCKETS, bmin=st.integers(0, 5), span=st.integers(1, 30),
       btype=st.sampled_from(["exp2", "log2", "linear"]))
def test_histogram_is_cumulative_and_counts_every_observation(counts, bmin, span, btype):
    """A model: each bucket's cumulative count is every observation whose bucket index is <= it, `+Inf` and
    `_count` every observation (the sum key bucket_max+1 aside), bounds strictly increasing."""
    bmax = bmin + span
    metric = parse_config({"metrics": {"histograms": [{
        "name": "h", "bucket_type": btype, "bucket_min": bmin, "bucket_max": bmax, "bucket_multiplier": 0.5,
        "labels": [{"name": "bucket", "size": 4, "decoders": [{"name": "uint"}]}]}]}}).metrics[0]
    h = histogram(metric, counts)
    observations = {i: c for i, c in counts.items() if i != bmax + 1}
    assert h.count == sum(observations.values()) == h.buckets[-1][1]
    assert h.buckets[-1][0] == math.inf and len(h.buckets) == span + 2
    for (le, cum), i in zip(h.buckets, range(bmin, bmax + 1)):
        assert cum == sum(c for j, c in observations.items() if j <= i)
    les = [le for le, _ in h.buckets]
    assert les == sorted(les) and len(set(les)) == len(les)
    assert h.sum == counts.get(bmax + 1, 0) * 0.5


def test_log2_bounds_hold_every_value_of_their_bucket():
    """log2 buckets are floor(log2(v)) (Log2Histogram, bpftrace): v's bucket bound is >= v, the one below < v, so
    Prometheus's `le` (observations <= le) is exact for integers."""
    metric = parse_config({"metrics": {"histograms": [{
        "name": "h", "bucket_type": "log2", "bucket_max": 40,
        "labels": [{"name": "bucket", "size": 4, "decoders": [{"name": "uint"}]}]}]}}).metrics[0]
    for v in [1, 2, 3, 7, 8, 100, 4095, 4096, 10**9]:
        i = v.bit_length() - 1
        h = histogram(metric, {i: 1})
        at = next(k for k, (le, n) in enumerate(h.buckets) if n)
        assert h.buckets[at][0] >= v > (h.buckets[at - 1][0] if at else -1)


def scrape(reader: MetricsReader, namespace: str = "t") -> dict:
    registry = prom.CollectorRegistry(auto_describe=False)
    registry.register(PrometheusCollector(reader, namespace))
    text = prom.generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_counter_from_a_struct_key_served_by_prometheus_client():
    opens = vm_map("opens", 20, 8)
    opens.update_raw(proc_key(10, b"cat"), (5).to_bytes(8, "little"))
    opens.update_raw(proc_key(11, b"bash"), (7).to_bytes(8, "little"))
    reader = MetricsReader(parse_config(counter_config()).metrics, {"opens": opens})
    fams = scrape(reader)
    samples = {tuple(sorted(s.labels.items())): s.value for s in fams["t_opens"].samples if s.name.endswith("_total")}
    assert samples == {(("comm", "cat"), ("pid", "10")): 5.0, (("comm", "bash"), ("pid", "11")): 7.0}
    assert fams["t_opens"].type == "counter"
    opens.update_raw(proc_key(10, b"cat"), (6).to_bytes(8, "little"))  # read afresh at every scrape
    assert {s.value for s in scrape(reader)["t_opens"].samples if s.labels.get("pid") == "10"} == {6.0}


def test_percpu_values_are_summed_and_keys_with_equal_labels_added():
    m = vm_map("cpu", 4, 8, MapType.PERCPU_HASH, ncpus=3)
    m.update_raw((1).to_bytes(4, "little"), b"".join(n.to_bytes(8, "little") for n in (1, 2, 3)))
    m.update_raw((0x101).to_bytes(4, "little"), b"".join(n.to_bytes(8, "little") for n in (10, 0, 0)))
    config = {"metrics": {"gauges": [{"name": "g", "map": "cpu", "labels": [
        {"name": "low", "size": 1, "decoders": [{"name": "uint"}]},
        {"name": "x", "size": 2, "offset": 2, "decoders": [{"name": "uint"}]}]}]}}
    fam = scrape(MetricsReader(parse_config(config).metrics, {"cpu": m}))["t_g"]
    # offset 2: byte 1 is padding no label reads, so keys 0x001 and 0x101 both decode to low=1, x=0
    assert [(s.labels, s.value) for s in fam.samples] == [({"low": "1", "x": "0"}, 16.0)]


def test_histogram_served_with_le_buckets_sum_and_count():
    h = vm_map("lat", 8, 8)
    for pid, bucket, n in [(5, 0, 1), (5, 3, 2), (5, 9, 4), (5, 5, 1000), (6, 1, 3)]:  # bucket 5: the sum key
        h.update_raw(struct.pack("<II", pid, bucket), n.to_bytes(8, "little"))
    config = {"metrics": {"histograms": [{"name": "lat_seconds", "map": "lat", "bucket_type": "log2",
                                          "bucket_max": 4, "bucket_multiplier": 0.001, "labels": [
                                              {"name": "pid", "size": 4, "decoders": [{"name": "uint"}]},
                                              {"name": "bucket", "size": 4, "decoders": [{"name": "uint"}]}]}]}}
    fam = scrape(MetricsReader(parse_config(config).metrics, {"lat": h}))["t_lat_seconds"]
    got = {(s.name, s.labels.get("pid"), s.labels.get("le")): s.value for s in fam.samples}
    assert fam.type == "histogram"
    assert [got[("t_lat_seconds_bucket", "5", le)] for le in ("0.001", "0.003", "0.007", "0.015", "0.031", "+Inf")] \
        == [1, 1, 1, 3, 3, 7]  # bucket 9 > bucket_max: only in +Inf
    assert got[("t_lat_seconds_count", "5", None)] == 7 and got[("t_lat_seconds_sum", "5", None)] == 1.0
    assert got[("t_lat_seconds_bucket", "6", "0.003")] == 3 and got[("t_lat_seconds_sum", "6", None)] == 0


def test_regexp_skips_are_counted_not_lost():
    opens = vm_map("opens", 20, 8)
    opens.update_raw(proc_key(1, b"python3"), (2).to_bytes(8, "little"))
    opens.update_raw(proc_key(2, b"bash"), (3).to_bytes(8, "little"))
    labels = [PROC_LABELS[0], {"name": "comm", "size": 16, "decoders": [{"name": "regexp", "regexps": ["^py"]}]}]
    fams = scrape(MetricsReader(parse_config(counter_config(labels=labels)).metrics, {"opens": opens}))
    assert [s.labels["comm"] for s in fams["t_opens"].samples if s.name.endswith("_total")] == ["python3"]
    assert [s.value for s in fams["t_decoder_skipped_keys"].samples] == [1.0]


@pytest.mark.parametrize("maps, message", [
    ({}, r"no map named 'opens'"),
    ({"opens": vm_map("opens", 24, 8)}, r"24-byte keys but the labels cover 20 bytes"),
    ({"opens": vm_map("opens", 20, 16)}, r"16-byte values"),
])
def test_maps_that_do_not_fit_the_config_are_refused(maps, message):
    with pytest.raises(InputError, match=message):
        MetricsReader(parse_config(counter_config()).metrics, maps)


@pytest.mark.parametrize("text, message", [
    (None, r"no such file|No such file"),
    ("metrics: [unclosed", r"cfg.yaml:1:\d+: not YAML"),
    ("- 1\n- 2\n", r"the configuration is a mapping"),
    ("metrics:\n  counters:\n" + "".join(f"    - {{name: m{i}, labels: []}}\n" for i in range(1100)),
     r"1100 metrics; at most 1024"),
    (b"\xff\xfe\x00garbage", r"cfg.yaml: 'utf-8' codec can't decode"),
    ("metrics: {counters: [{name: x, labels: [{name: l, size: 1, decoders: [" + ", ".join(
        ["{name: uint}"] * 20) + "]}]}]}\n", r"20 decoders; at most 16"),
])
def test_config_files_that_are_not_configs_are_one_line_errors(tmp_path, capsys, text, message):
    from pyebpf.cli import main

    path = tmp_path / "cfg.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    assert main(["export", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pyebpf export: error: ") and "Traceback" not in err
    assert re.search(message, err), err


def test_array_map_gauge_has_every_index():
    """An array map has every index from creation: each is a sample (zeros too), labelled by its index."""
    arr = vm_map("slots", 4, 4, MapType.ARRAY)
    arr.update_raw((2).to_bytes(4, "little"), (9).to_bytes(4, "little"))
    config = {"metrics": {"gauges": [{"name": "slot_value", "map": "slots", "labels": [
        {"name": "slot", "size": 4, "decoders": [{"name": "uint"}]}]}]}}
    fam = scrape(MetricsReader(parse_config(config).metrics, {"slots": arr}))["t_slot_value"]
    values = {s.labels["slot"]: s.value for s in fam.samples}
    assert fam.type == "gauge" and len(values) == 64 and values["2"] == 9.0 and values["0"] == 0.0


def test_a_metric_that_cannot_be_read_is_left_out_with_one_line(capsys):
    """A bucket label decoded to text is no bucket index: that histogram is left out of the scrape (one line on
    stderr, metric_read_errors 1), the other metrics are still served."""
    opens = vm_map("opens", 20, 8)
    opens.update_raw(proc_key(10, b"cat"), (5).to_bytes(8, "little"))
    h = vm_map("h", 4, 8)
    h.update_raw(b"ab\0\0", (1).to_bytes(8, "little"))
    config = counter_config()
    config["metrics"]["histograms"] = [{"name": "h", "bucket_max": 3, "labels": [
        {"name": "bucket", "size": 4, "decoders": [{"name": "string"}]}]}]
    fams = scrape(MetricsReader(parse_config(config).metrics, {"opens": opens, "h": h}))
    assert "t_h" not in fams and [s.value for s in fams["t_metric_read_errors"].samples] == [1.0]
    assert [s.value for s in fams["t_opens"].samples if s.name.endswith("_total")] == [5.0]
    err = capsys.readouterr().err
    assert err == "pyebpf export: error: metric h: bucket label 'bucket' decoded to 'ab', not a bucket index " \
                  "(decode it with `uint`)\n"
