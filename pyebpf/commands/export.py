"""`pyebpf export CONFIG [--listen ADDR:PORT]`: load the configured programs and serve their maps as Prometheus
metrics (counters, gauges, histograms), the way cloudflare's ebpf_exporter does; docs/export.md has the format.

Programs come from Python probe files, ELF objects or assembly, named in CONFIG's `programs:`. Every scrape of
/metrics reads the maps afresh. The command runs until SIGTERM/SIGINT (or --duration S), then stops the HTTP
server, detaches and closes everything; a failure half-way releases what was already loaded.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from pyebpf.errors import InputError, LoaderError

DEFAULT_LISTEN = "127.0.0.1:9435"  # ebpf_exporter's port; loopback unless asked otherwise


class _Loaded:
    """Everything one config loaded: maps by name, program info rows, and the closers in reverse order."""

    def __init__(self) -> None:
        self.maps: dict[str, Any] = {}
        self.info: list[dict[str, str]] = []
        self._closers: list[Any] = []

    def add_maps(self, maps: dict[str, Any], where: str) -> None:
        for name, m in maps.items():
            if name in self.maps and self.maps[name] is not m:
                raise InputError(f"{where}: map name {name!r} is also a map of an earlier program entry")
            self.maps[name] = m

    def add_program(self, prog: Any, config: str) -> None:
        info = prog.info()
        self.info.append({"config": config, "id": str(info.id), "program": prog.name or info.name, "tag": info.tag})

    def keep(self, closer: Any) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            try:
                self._closers.pop().close()
            except Exception:  # noqa: BLE001 - best effort on the way out; every closer still runs
                pass


def _load_probe(src, path: str, loaded: _Loaded, config: str) -> None:
    from pyebpf.probe.module import load_module, maps_of, probes_of
    from pyebpf.probe.probe import load_all

    module = load_module(path)
    probes = probes_of(module)
    if not probes:
        raise InputError(f"{path}: defines no @probe functions")
    for lp in load_all(probes, attach=src.attach or True):
        loaded.keep(lp)
        loaded.add_program(lp.kernel, config)
    loaded.add_maps({name: _ProbeMapFace(m) for name, m in maps_of(module).items()}, path)


class _ProbeMapFace:
    """A Python probe's map as the reader wants it: the kernel map behind it while loaded."""

    def __init__(self, probe_map: Any) -> None:
        self._m = probe_map

    def __getattr__(self, name: str) -> Any:
        return getattr(self._m.backend, name)


def _load_object(src, path: str, loaded: _Loaded, config: str) -> None:
    from pyebpf.loader.elf import ElfObject

    obj = ElfObject(path)
    loaded.keep(obj)
    names = list(src.programs) or list(obj.programs)
    missing = [n for n in names if n not in obj.programs]
    if missing:
        raise InputError(f"{path}: no program named {', '.join(missing)} (has {', '.join(obj.programs)})")
    obj.load(only=names)
    for name in names:
        prog = obj.loaded[name]
        loaded.keep(prog.attach(src.attach) if src.attach else prog.attach())
        loaded.add_program(prog, config)
    loaded.add_maps(obj.maps, path)


def _load_asm(src, path: str, loaded: _Loaded, config: str) -> None:
    from pyebpf.commands.source import read_source
    from pyebpf.isa.assembler import assemble
    from pyebpf.loader import load

    text, name = read_source(path)
    program = assemble(text, filename=name)
    if not program.name:
        program.name = os.path.splitext(os.path.basename(path))[0][:15]
    prog = load(program)
    loaded.keep(prog)
    loaded.keep(prog.attach(src.attach) if src.attach else prog.attach())
    loaded.add_program(prog, config)
    loaded.add_maps(dict(prog.maps), path)


LOADERS = {"probe": _load_probe, "object": _load_object, "asm": _load_asm}


def load_programs(config, base: str, config_name: str) -> _Loaded:
    """Load and attach every `programs:` entry (paths relative to `base`); on failure release them all."""
    loaded = _Loaded()
    try:
        for src in config.programs:
            path = src.path if os.path.isabs(src.path) else os.path.join(base, src.path)
            if not os.path.isfile(path):
                raise InputError(f"{config_name}: {src.kind} file {path}: no such file")
            LOADERS[src.kind](src, path, loaded, config_name)
    except BaseException:
        loaded.close()
        raise
    return loaded


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--listen {text!r}: expected ADDR:PORT (e.g. 127.0.0.1:9435, port 0 picks one)")
    return host.strip("[]") or "127.0.0.1", int(port)


class _Stop(Exception):
    pass


def _handler(args: argparse.Namespace) -> int:
    from pyebpf._lazy import optional_import
    from pyebpf.metrics import MetricsReader, PrometheusCollector, load_config

    prom = optional_import("prometheus_client", "export", "serving Prometheus metrics")
    host, port = parse_listen(args.listen)
    config = load_config(args.config)
    config_name = os.path.splitext(os.path.basename(args.config))[0]
    if not config.programs and not args.maps_from_pins:
        raise InputError(f"{args.config}: no `programs:` to load (or pass --pinned-maps DIR)")
    state = {"stopping": False}

    def on_signal(signum: int, frame: Any) -> None:
        if not state["stopping"]:  # once: a second signal must not cut the clean-up short
            state["stopping"] = True
            raise _Stop

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    loaded = None
    server = None
    try:
        loaded = load_programs(config, os.path.dirname(os.path.abspath(args.config)), config_name)
        if args.maps_from_pins:
            loaded.add_maps(_pinned_maps(args.maps_from_pins, loaded), args.maps_from_pins)
        reader = MetricsReader(config.metrics, loaded.maps)
        registry = prom.CollectorRegistry(auto_describe=False)
        registry.register(PrometheusCollector(reader, args.namespace, loaded.info))
        try:
            server, _thread = prom.start_http_server(port, host, registry)
        except OSError as e:
            raise LoaderError(f"--listen {args.listen}: {e.strerror or e}", e.errno) from None
        addr, bound = server.server_address[:2]
        addr = f"[{addr}]" if ":" in addr else addr  # an IPv6 address in a URL
        print(f"serving {len(config.metrics)} metric{'s' if len(config.metrics) != 1 else ''} on "
              f"http://{addr}:{bound}/metrics", flush=True)
        _wait(args.duration)
    except _Stop:
        pass
    finally:
        state["stopping"] = True
        if server is not None:
            server.shutdown()
            server.server_close()
        if loaded is not None:
            loaded.close()
        for s, h in previous.items():
            signal.signal(s, h)
    return 0


def _wait(duration: float | None) -> None:
    end = None if duration is None else time.monotonic() + duration
    while end is None or time.monotonic() < end:
        time.sleep(1.0 if end is None else min(1.0, max(0.0, end - time.monotonic())))


def _pinned_maps(directory: str, loaded: _Loaded) -> dict[str, Any]:
    """Every map pinned directly in `directory`, by file name (maps another process keeps loaded)."""
    from pyebpf.loader.maps import KernelMap
    from pyebpf.loader.pin import open_pinned_fd

    out = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise InputError(f"--pinned-maps {directory}: {e.strerror}") from None
    for name in names:
        handle, what = open_pinned_fd(os.path.join(directory, name))
        if what != "map":
            handle.close()
            continue
        m = KernelMap.from_fd(handle)
        loaded.keep(m)
        out[name] = m
    return out


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="serve map contents as Prometheus metrics (ebpf_exporter's config)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", metavar="CONFIG", help="YAML: programs to load and metrics to serve (docs/export.md)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="ADDR:PORT",
                   help=f"where to serve /metrics (default {DEFAULT_LISTEN}; port 0 picks a free one)")
    p.add_argument("--namespace", default="ebpf_exporter",
                   help="metric name prefix (default ebpf_exporter, so dashboards made for it carry over; '' none)")
    p.add_argument("--pinned-maps", dest="maps_from_pins", metavar="DIR",
                   help="also read the maps pinned in DIR (by file name), e.g. kept by another loader")
    p.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds (default: until signalled)")
    p.set_defaults(func=_handler)
