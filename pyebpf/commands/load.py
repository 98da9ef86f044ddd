"""`pyebpf load FILE.s|FILE.o`: load programs into the kernel, optionally pin and attach them.

FILE.s is assembled (`.type`/`.map` directives or --type); FILE.o is an ELF object read by pyebpf.loader.elf. Without
--pin the programs live only as long as this command: with --attach it stays attached until Ctrl-C (or --duration
seconds); without either it just checks that the kernel accepts the programs and prints their ids and tags.
--pin PATH pins the program at PATH (several programs: PATH/NAME), and with --attach pins the link too (PATH_link),
so the attachment outlives the command where the link type allows it. --pinmaps DIR pins the maps at DIR/NAME;
maps declared with pinning=by_name are reused from DIR when pinned there already (as libbpf's pin_root_path does).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

from pyebpf.errors import LoaderError
from pyebpf.commands.source import read_input


def _programs_from_source(path: str, args: argparse.Namespace) -> list[Any]:
    from pyebpf.isa.assembler import assemble
    from pyebpf.loader import load

    data = read_input(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LoaderError(f"{path}: neither an ELF object nor UTF-8 assembly text (byte {data[e.start]:#04x} at "
                          f"offset {e.start})") from None
    from pyebpf.commands.classic import classic_from_text  # tcpdump -d/-dd text, or any classic text with --classic
    cprog = classic_from_text(text, path, getattr(args, "classic", False))
    if cprog is not None:
        from pyebpf.cbpf import to_ebpf
        program = to_ebpf(cprog)
    else:
        program = assemble(text, filename=path)
    if not program.name:
        program.name = os.path.splitext(os.path.basename(path))[0]
    if args.type is None and program.prog_type is None:
        raise LoaderError(f"{path}: no program type; add `.type xdp` (or similar) or pass --type")
    pin_root = {"pin_root": args.pinmaps} if args.pinmaps else {}
    return [load(program, args.type, log_level=args.log_level, **pin_root)]


def _programs_from_elf(path: str, args: argparse.Namespace) -> list[Any]:
    from pyebpf.loader.elf import ElfObject

    # maps declared pinning=by_name are reused from (or pinned in) --pinmaps DIR, not the default /sys/fs/bpf
    obj = ElfObject(path, pin_root=args.pinmaps) if args.pinmaps else ElfObject(path)
    try:
        names = list(obj.programs)
        if args.program:
            missing = [n for n in args.program if n not in names]
            if missing:
                raise LoaderError(f"{path}: no program named {', '.join(missing)} (has {', '.join(names)})")
            names = list(args.program)
        if not names:
            raise LoaderError(f"{path}: no programs")
        prog_types = {n: args.type for n in names} if args.type else None
        obj.load(log_level=args.log_level, prog_types=prog_types, only=names)
    except BaseException:
        obj.close()
        raise
    _KEEP.append(obj)  # the object owns the maps its programs share: close it after them
    return [obj.loaded[n] for n in names if n in obj.loaded]


_KEEP: list[Any] = []


def _pin_paths(base: str, progs: list[Any]) -> list[str]:
    if len(progs) == 1:
        return [base]
    return [os.path.join(base, p.name or f"prog{i}") for i, p in enumerate(progs)]


def _handler(args: argparse.Namespace) -> int:
    path = args.file
    if not os.path.exists(path):
        raise LoaderError(f"{path}: no such file")
    with open(path, "rb") as f:
        is_elf = f.read(4) == b"\x7fELF"
    try:
        progs = _programs_from_elf(path, args) if is_elf else _programs_from_source(path, args)
    except LoaderError as e:
        if args.log_level and getattr(e, "log", ""):  # asked for the log: the whole of it, then the one-line error
            print(f"verifier log of {getattr(e, 'program_name', '') or path}:\n{e.log.rstrip()}", file=sys.stderr)
        raise
    links: list[Any] = []
    pinned: list[str] = []  # what this command pinned: unpinned again when it fails half-way
    done = False
    try:
        pins = _pin_paths(args.pin, progs) if args.pin else [None] * len(progs)
        for prog, pin in zip(progs, pins):
            if pin:
                prog.pin(pin)
                pinned.append(pin)
            if args.pinmaps:
                for name, m in prog.maps.items():
                    path_ = os.path.join(args.pinmaps, name)
                    if _pinned_map_id(path_) == m.info().id:
                        continue  # pinning=by_name reused (or just pinned) it there, or another program shares it
                    m.pin(path_)
                    pinned.append(path_)
            if args.attach is not None:
                link = prog.attach(args.attach or None)
                links.append(link)
                if pin and link.is_bpf_link:
                    link.pin(pin + "_link")
                    pinned.append(pin + "_link")
        if args.log_level:
            for prog in progs:
                if prog.log:
                    print(f"verifier log of {prog.name}:\n{prog.log.rstrip()}", file=sys.stderr)
        report = [{"id": p.info().id, "name": p.name, "type": p.prog_type.name.lower(), "tag": p.info().tag,
                   "pinned": pin, "attached": args.attach is not None} for p, pin in zip(progs, pins)]
        if args.json:
            print(json.dumps(report if len(report) > 1 else report[0]))
        else:
            for r in report:
                extra = f"  pinned {r['pinned']}" if r["pinned"] else ""
                print(f"{r['id']}: {r['type']}  name {r['name']}  tag {r['tag']}{extra}"
                      f"{'  attached' if r['attached'] else ''}")
        sys.stdout.flush()
        if links and not args.pin:
            _wait(args.duration)
        done = True
    finally:
        if not done:
            for pin_path in reversed(pinned):
                try:
                    os.unlink(pin_path)
                except OSError:
                    pass
        for link in reversed(links):
            try:
                link.close()  # a pinned link stays attached; everything else is released
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        for prog in progs:
            prog.close()
        for obj in _KEEP:
            if hasattr(obj, "close"):
                obj.close()
        _KEEP.clear()
    return 0


def _pinned_map_id(path: str) -> int | None:
    """Id of the map pinned at `path`, None if nothing (or no map) is pinned there."""
    if not os.path.exists(path):
        return None
    from pyebpf.loader.info import map_info
    from pyebpf.loader.pin import open_pinned_fd

    handle, kind = open_pinned_fd(path)
    with handle:
        return map_info(handle.fd).id if kind == "map" else None


def _wait(duration: float | None) -> None:
    """Stay attached until Ctrl-C/SIGTERM or `duration` seconds."""
    stop = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        # inside the try: a Ctrl-C that arrives right after the line a caller waits for still detaches cleanly
        print("attached; press Ctrl-C to detach", file=sys.stderr, flush=True)
        end = None if duration is None else time.monotonic() + duration
        while not stop and (end is None or time.monotonic() < end):
            time.sleep(0.1 if end is None else max(0.0, min(0.1, end - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)


def _seconds(text: str) -> float:
    """--duration: a finite number of seconds >= 0 (nan, inf and negative values are typos, not durations)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("load", help="load FILE.s / FILE.o into the kernel (pin, attach)", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="assembly source (.s) or ELF object (.o)")
    p.add_argument("--type", help="program type (xdp, socket_filter, sched_cls, tracepoint, ...)")
    p.add_argument("--program", action="append", metavar="NAME",
                   help="FILE.o: load only this program (repeatable); default: every program")
    p.add_argument("--attach", nargs="?", const="", metavar="TARGET",
                   help="attach after loading (tracepoint cat/name, ifname, ifname:egress, binary:symbol, ...); "
                        "no TARGET: the program's own")
    p.add_argument("--pin", metavar="PATH", help="pin the program in bpffs (several programs: PATH/NAME)")
    p.add_argument("--pinmaps", metavar="DIR", help="pin the program's maps in DIR/NAME")
    p.add_argument("--log-level", type=int, default=0, help="verifier log level (1, 2; 4 adds stats)")
    p.add_argument("--duration", type=_seconds, help="with --attach and no --pin: detach after this many seconds")
    p.add_argument("--json", action="store_true", help="report as JSON")
    p.add_argument("--classic", action="store_true", help="FILE is classic BPF text, loaded as the socket filter the "
                   "kernel's conversion gives (tcpdump -d/-dd output is recognised without this flag)")
    p.set_defaults(func=_handler)
