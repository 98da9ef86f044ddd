"""`pyebpf run FILE [--type T] [--ctx JSON | --packet HEX | --mem HEX] [--engine E] [--trace] [--json]`.

Run a program once in the simulator. FILE is assembly text (.s/.asm/.S, any dialect), hex text (.hex, one or more
slots per line), a clang-compiled ELF object (`--prog NAME` picks the program; global data starts with the
object's values), or raw instruction bytes (anything else); `-` reads assembly from stdin. Prints r0 and the
verdict's name when the context names one (`action: PASS` for XdpAction/TcAction), the number of instructions
executed, the packet after the run when the program changed it, printk lines and emitted records;
`--trace` prints every executed instruction with the registers it changed; `--json` prints one JSON object.

--ctx takes a JSON object: {"packet": "HEX", ...} (extra keys go to the context builder), {"raw": "HEX"} (raw
context bytes), or the fields of the program type's context builder (pyebpf.vm.context.default_context), e.g.
{"id": 257, "args": [1, 2, 3]} for a syscall tracepoint or {"regs": {"di": 1}} for a kprobe.
"""
from __future__ import annotations

import argparse
import enum
import json
from typing import Any

from pyebpf.commands import classic
from pyebpf.errors import PyebpfError, VmError

ASM_SUFFIXES = (".s", ".S", ".asm", ".bpf")


class RunInputError(PyebpfError, ValueError):
    """Bad command-line input for `pyebpf run` (unreadable hex, bad JSON)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run a program in the simulator",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="assembly (.s/.asm), hex (.hex), an ELF object or raw bytes; "
                                               "- for stdin asm")
    p.add_argument("--prog", metavar="NAME", help="which program of an ELF object (default: the only one)")
    p.add_argument("--type", metavar="TYPE", help="program type (xdp, tc, socket_filter, kprobe, ...)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--ctx", metavar="JSON", help="context as JSON")
    src.add_argument("--packet", metavar="HEX", help="packet bytes in hex (default context of the type)")
    src.add_argument("--mem", metavar="HEX", help="memory block: r1 = pointer, r2 = length (conformance style)")
    p.add_argument("--engine", choices=("interp", "compiled"), default="interp")
    p.add_argument("--max-insns", type=int, default=1_000_000, help="instruction budget (default 1000000)")
    p.add_argument("--trace", action="store_true", help="print each executed instruction and changed registers")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    classic.add_flags(p, seccomp=True)
    p.set_defaults(func=handler)


def _hex(text: str, what: str) -> bytes:
    cleaned = "".join(text.replace("0x", "").replace(":", "").split())
    try:
        return bytes.fromhex(cleaned)
    except ValueError as e:
        raise RunInputError(f"{what}: not hex ({e})") from None


def load_program(path: str, prog_name: str | None = None, classic_: bool = False, seccomp: bool = False) -> Any:
    """Program from assembly, hex, raw bytes or an ELF object, decided by the file name and magic; classic BPF
    (with `classic_`/`seccomp`, or tcpdump's output on its own) becomes the eBPF the kernel's conversion gives."""
    from pyebpf.commands.source import decode_source
    from pyebpf.isa.assembler import assemble
    from pyebpf.isa.program import Program

    data, name = classic.read_bytes(path)
    converted = classic.ebpf_from_data(data, name, classic_, seccomp)
    if converted is not None:
        return converted
    if path == "-" or path.endswith(ASM_SUFFIXES):
        return assemble(decode_source(data, name), filename=name)
    if path.endswith(".hex"):
        return Program.from_hex(data.decode("ascii", "replace"))
    if data[:4] == b"\x7fELF":
        return load_elf_program(path, prog_name)
    return Program.from_bytes(data)


def load_elf_program(path: str, prog_name: str | None) -> Any:
    """One program of a clang-compiled object; its global data sections' MapSpecs carry their initial values
    (MapSpec.initial), which the VM writes when it creates the maps."""
    from pyebpf.loader.elf import load_elf

    obj = load_elf(path)
    try:
        names = list(obj.programs)
        if prog_name is None:
            if len(names) != 1:
                raise RunInputError(f"{path} has {len(names)} programs ({', '.join(names)}): choose one with --prog")
            prog_name = names[0]
        if prog_name not in obj.programs:
            raise RunInputError(f"{path} has no program {prog_name!r} (it has {', '.join(names)})")
        return obj.programs[prog_name]
    finally:
        obj.close()


def _context(args: argparse.Namespace, prog_type: Any) -> dict[str, Any]:
    """VM.run's keywords for the context the flags describe. Context builders check their fields here, before
    anything runs, and bad ones are one `--ctx: ...` line naming the field."""
    if args.packet is not None:
        return {"packet": _hex(args.packet, "--packet")}
    if args.mem is not None:
        return {"mem": _hex(args.mem, "--mem")}
    if args.ctx is None:
        return {}
    try:
        obj = json.loads(args.ctx)
    except json.JSONDecodeError as e:
        raise RunInputError(f"--ctx: not JSON ({e})") from None
    if not isinstance(obj, dict):
        raise RunInputError("--ctx: expected a JSON object")
    from pyebpf.vm.context import ContextError, default_context, for_packet

    try:
        if "packet" in obj:
            extra = {k: v for k, v in obj.items() if k != "packet"}
            packet = _hex(str(obj["packet"]), "--ctx packet")
            return {"ctx": for_packet(prog_type, packet, **extra), "packet_in": packet} if extra else \
                {"packet": packet}
        if "raw" in obj:
            if len(obj) > 1:
                raise RunInputError(f"--ctx: \"raw\" gives the whole context; drop "
                                    f"{', '.join(sorted(k for k in obj if k != 'raw'))}")
            return {"ctx": _hex(str(obj["raw"]), "--ctx raw")}
        return {"ctx": default_context(prog_type, None, **obj)}
    except ContextError as e:
        raise RunInputError(f"--ctx: {e}") from None


def handler(args: argparse.Namespace) -> int:
    from pyebpf.abi.prog_types import parse_prog_type
    from pyebpf.vm.vm import VM

    prog_type = parse_prog_type(args.type) if args.type is not None else None
    program = load_program(args.file, args.prog, args.classic, args.seccomp)
    if prog_type is None:
        prog_type = program.prog_type
    kw = {"ctx": classic.seccomp_context(args.ctx)} if args.seccomp else _context(args, prog_type)
    packet_in = kw.pop("packet_in", kw.get("packet"))
    vm = VM(program, engine=args.engine, prog_type=prog_type, max_insns=args.max_insns)
    try:
        result = vm.run(trace=args.trace, **kw)
    except VmError as e:
        if args.json:
            print(json.dumps({"error": e.message, "pc": e.pc, "insn": e.insn_text, "address": e.address}))
            return 1
        raise
    if args.json:
        out: dict[str, Any] = {"r0": result.r0, "r0_hex": f"{result.r0:#x}", "insns": result.insns}
        if isinstance(result.action, enum.Enum):
            out["action"] = result.action.name
        if result.packet is not None:
            out["packet"] = result.packet.hex()
        if result.mem is not None:
            out["mem"] = result.mem.hex()
        out["printk"] = result.printk
        out["ring"] = [getattr(r, "data", r).hex() if isinstance(getattr(r, "data", r), bytes) else str(r)
                       for r in result.ring]
        out["perf"] = [getattr(r, "data", b"").hex() for r in result.perf]
        if result.trace is not None:
            out["trace"] = [{"pc": s.pc, "insn": s.text, "changed": {f"r{i}": v for i, v in s.changed.items()}}
                            for s in result.trace]
        print(json.dumps(out))
        return 0
    if result.trace is not None:
        for step in result.trace:
            print(step)
    print(f"r0 = {result.r0:#x} ({result.r0})")
    if isinstance(result.action, enum.Enum):  # the verdict's name (XDP_PASS, TC_ACT_SHOT, ...)
        print(f"action: {result.action.name}")
    print(f"instructions executed: {result.insns}")
    if result.packet is not None and result.packet != packet_in:
        print(f"packet: {result.packet.hex()}")
    if result.mem:
        print(f"mem: {result.mem.hex()}")
    for line in result.printk:
        print(f"printk: {line.rstrip(chr(10))}")
    for rec in result.ring:
        print(f"ringbuf {getattr(rec, 'map', '')}: {getattr(rec, 'data', b'').hex()}")
    for rec in result.perf:
        print(f"perf {getattr(rec, 'map', '')} cpu {getattr(rec, 'cpu', 0)}: {getattr(rec, 'data', b'').hex()}")
    return 0
