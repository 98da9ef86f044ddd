"""Map contents as Prometheus metrics, configured as cloudflare's ebpf_exporter is (`pyebpf export CONFIG`).

`config` (the YAML shape, checked), `decoders` (key bytes -> label values), `collect` (maps -> metric families,
and the prometheus_client collector). Probe-agnostic: it reads any map face's raw keys and values.
"""
from pyebpf.metrics.collect import MetricsReader, PrometheusCollector, histogram
from pyebpf.metrics.config import Config, Metric, load_config, parse_config

__all__ = ["Config", "Metric", "MetricsReader", "PrometheusCollector", "histogram", "load_config", "parse_config"]
