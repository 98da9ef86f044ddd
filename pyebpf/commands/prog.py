"""`pyebpf prog list|show|dump|pin|attach|detach`: the kernel's programs, in the spirit of `bpftool prog`.

Programs are named by id (`5` or `id 5`), pinned path (`/sys/fs/bpf/x` or `pinned PATH`), `name NAME` or `tag TAG`.
`pin PROG FILE` pins a program; `attach PROG TARGET --pin FILE` attaches it the way its type says (the SEC() table:
'syscalls/sys_enter_openat', 'cpu-clock:99', 'eth0', 'CGROUP:ingress' ...) and pins the link so the attachment
outlives this command; `detach PROG` detaches every BPF link running the program (BPF_LINK_DETACH).
`dump --xlated` prints the translated instructions in the verifier's dialect; `dump --jited` disassembles the JIT
image with capstone. Every listing has `--json`.
"""
from __future__ import annotations

import argparse
import json
import time

from pyebpf.commands.source import object_id
from pyebpf.errors import LoaderError


def _when(info) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(info.loaded_at))


def type_word(name: str) -> str:
    """bpftool's `%s  ` of a type name, `type %u  ` for a number it has no name for."""
    return f"type {name}" if name.isdigit() else name


def format_prog(info, name: str | None = None) -> str:
    """bpftool 7.1's plain `prog show` layout (print_prog_plain); `name` is the full name (prog_full_name)."""
    head = f"{info.id}: {type_word(info.type_name)}  "
    if info.name:
        head += f"name {name or info.name}  "
    head += f"tag {info.tag}"
    if info.gpl_compatible:
        head += "  gpl"
    if info.run_time_ns:
        head += f" run_time_ns {info.run_time_ns} run_cnt {info.run_cnt}"
    if info.recursion_misses:
        head += f" recursion_misses {info.recursion_misses}"
    lines = [head]
    if info.load_time:
        lines.append(f"\tloaded_at {_when(info)}  uid {info.created_by_uid}")
    third = f"\txlated {info.xlated_prog_len}B"
    third += f"  jited {info.jited_prog_len}B" if info.jited_prog_len else "  not jited"
    if info.memlock:
        third += f"  memlock {info.memlock}B"
    if info.map_ids:
        third += "  map_ids " + ",".join(map(str, info.map_ids))
    lines.append(third)
    if info.btf_id:
        lines.append(f"\tbtf_id {info.btf_id}")
    return "\n".join(lines)


def prog_json(info, name: str | None = None) -> dict:
    """bpftool 7.1's `prog show --json` object."""
    out = info.as_json()
    if name:
        out["name"] = name
    return out


def each_prog():
    """(ProgInfo, full name) of every program alive, by id (one fd open at a time)."""
    import os

    from pyebpf.loader import syscall as sc
    from pyebpf.loader.info import prog_full_name, prog_info

    for prog_id in sc.iter_ids("prog"):
        try:
            fd = sc.get_fd_by_id("prog", prog_id)
        except LoaderError:
            continue  # unloaded between GET_NEXT_ID and GET_FD_BY_ID
        try:
            info = prog_info(fd)
            yield info, prog_full_name(fd, info)
        finally:
            os.close(fd)


def open_prog_fd(spec: list[str]):
    """An FdHandle for the program named by `spec` (see the module docstring)."""
    from pyebpf.loader import syscall as sc
    from pyebpf.loader.fdguard import FdHandle
    from pyebpf.loader.info import prog_infos
    from pyebpf.loader.pin import open_pinned_fd

    if not spec:
        raise LoaderError("name a program: ID, PATH, 'id N', 'pinned PATH', 'name NAME' or 'tag TAG'")
    kind, value = (spec[0], spec[1]) if len(spec) >= 2 else (None, spec[0])
    if kind is None:
        kind = "id" if object_id(value) is not None else "pinned"
    if kind == "id":
        if object_id(value) is None:
            raise LoaderError(f"bad program id {value!r}")
        return FdHandle(sc.get_fd_by_id("prog", object_id(value)))
    if kind == "pinned":
        handle, what = open_pinned_fd(value)
        if what != "prog":
            handle.close()
            raise LoaderError(f"{value} is a pinned {what}, not a program")
        return handle
    if kind in ("name", "tag"):
        matches = [i.id for i in prog_infos() if getattr(i, kind) == value]
        if not matches:
            raise LoaderError(f"no program with {kind} {value!r}")
        if len(matches) > 1:
            raise LoaderError(f"{len(matches)} programs have {kind} {value!r} (ids {matches}); use an id")
        return FdHandle(sc.get_fd_by_id("prog", matches[0]))
    raise LoaderError(f"unknown program selector {kind!r} (use id, pinned, name or tag)")


def _list(args: argparse.Namespace) -> int:
    rows = list(each_prog())
    if args.json:
        print(json.dumps([prog_json(info, name) for info, name in rows]))
    else:
        for info, name in rows:
            print(format_prog(info, name))
    return 0


def _show(args: argparse.Namespace) -> int:
    if not args.target:
        return _list(args)
    from pyebpf.loader.info import prog_full_name, prog_info

    with open_prog_fd(args.target) as h:
        info = prog_info(h.fd)
        name = prog_full_name(h.fd, info)
    print(json.dumps(prog_json(info, name)) if args.json else format_prog(info, name))
    return 0


def _dump(args: argparse.Namespace) -> int:
    from pyebpf.loader.info import prog_info
    from pyebpf.loader.jit_dump import jited_functions, xlated_disassembly, xlated_program

    jited = args.jited
    with open_prog_fd(args.target) as h:
        info = prog_info(h.fd, xlated=not jited, jited=jited)
        if args.json:
            if jited:
                out = [{"name": f.name, "insns": [{"pc": hex(i.address), "operation": i.mnemonic,
                                                   "operands": i.op_str, "opcodes": i.raw.hex()}
                                                  for i in f.insns]} for f in jited_functions(h.fd, info)]
            else:
                from pyebpf.isa.disassembler import format_instruction

                out = [{"slot": slot, "opcode": insn.opcode, "dst": insn.dst, "src": insn.src, "off": insn.off,
                        "imm": insn.imm, "disasm": format_instruction(insn, "kernel")}
                       for slot, insn in xlated_program(h.fd, info).by_slot()]
            print(json.dumps(out))
            return 0
        if jited:
            from pyebpf.loader.jit_dump import jited_disassembly

            print(jited_disassembly(h.fd, info, opcodes=args.opcodes), end="")
        else:
            print(xlated_disassembly(h.fd, info), end="")
    return 0


def _pin(args: argparse.Namespace) -> int:
    from pyebpf.loader.pin import pin_fd

    if len(args.target) < 2:
        raise LoaderError("prog pin PROG FILE")
    with open_prog_fd(args.target[:-1]) as h:
        pin_fd(h.fd, args.target[-1])
    if args.json:
        print("null")
    return 0


class _Loaded:
    """A program opened by id/pin, shaped as the attach table expects (fd, prog_type)."""

    def __init__(self, fd: int, prog_type) -> None:
        self.fd, self.prog_type = fd, prog_type


def _attach(args: argparse.Namespace) -> int:
    from pyebpf.abi.prog_types import ProgType
    from pyebpf.loader.attach import attach
    from pyebpf.loader.info import prog_info

    if len(args.target) < 2:
        raise LoaderError("prog attach PROG TARGET --pin FILE")
    with open_prog_fd(args.target[:-1]) as h:
        info = prog_info(h.fd)
        link = attach(_Loaded(h.fd, ProgType(info.type)), args.target[-1])
        try:
            if not link.is_bpf_link:
                raise LoaderError(f"{link.kind} attachments here are not BPF links: nothing to pin, and the hook "
                                  f"would go when this command exits; use `pyebpf load --attach` instead")
            link.pin(args.pin)
            link_id = link.info().id
        finally:
            link.close()
    print(json.dumps({"link_id": link_id, "pinned": args.pin}) if args.json else f"link {link_id} pinned at {args.pin}")
    return 0


def _detach(args: argparse.Namespace) -> int:
    from pyebpf.loader import syscall as sc
    from pyebpf.loader.info import link_infos, prog_info

    with open_prog_fd(args.target) as h:
        prog_id = prog_info(h.fd).id
    detached = []
    for link in link_infos():
        if link.prog_id == prog_id:
            from pyebpf.loader.fdguard import FdHandle

            with FdHandle(sc.get_fd_by_id("link", link.id)) as lh:
                sc.link_detach(lh.fd)
            detached.append(link.id)
    if not detached:
        raise LoaderError(f"program {prog_id} runs in no BPF link (older hooks: `pyebpf net detach`, or close the "
                          f"process that attached it)")
    print(json.dumps({"detached_links": detached}) if args.json else
          f"detached links {', '.join(map(str, detached))}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("prog", help="list, show and dump programs loaded in the kernel",
                              description=__doc__)
    sub = p.add_subparsers(dest="prog_command", metavar="{list,show,dump,pin,attach,detach}")
    sub.required = True
    lp = sub.add_parser("list", help="every loaded program")
    lp.add_argument("--json", action="store_true", help="JSON like `bpftool prog show --json`")
    lp.set_defaults(func=_list)
    sp = sub.add_parser("show", help="one program (all when no target)")
    sp.add_argument("target", nargs="*", help="ID | PATH | id N | pinned PATH | name NAME | tag TAG")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=_show)
    dp = sub.add_parser("dump", help="translated (--xlated, default) or JIT (--jited) instructions")
    dp.add_argument("target", nargs="+", help="ID | PATH | id N | pinned PATH | name NAME | tag TAG")
    mode = dp.add_mutually_exclusive_group()
    mode.add_argument("--xlated", action="store_true", help="the verifier's output, in kernel syntax (default)")
    mode.add_argument("--jited", action="store_true", help="machine code disassembled with capstone")
    dp.add_argument("--no-opcodes", dest="opcodes", action="store_false", help="hide raw bytes of JIT code")
    dp.add_argument("--json", action="store_true")
    dp.set_defaults(func=_dump)
    pp = sub.add_parser("pin", help="pin a program: PROG FILE")
    pp.add_argument("target", nargs="+", metavar="PROG FILE")
    pp.add_argument("--json", action="store_true")
    pp.set_defaults(func=_pin)
    ap = sub.add_parser("attach", help="attach by the SEC() table and pin the link: PROG TARGET --pin FILE")
    ap.add_argument("target", nargs="+", metavar="PROG TARGET")
    ap.add_argument("--pin", required=True, metavar="FILE", help="where to pin the link (it outlives the command)")
    ap.add_argument("--json", action="store_true")
    ap.set_defaults(func=_attach)
    tp = sub.add_parser("detach", help="detach every BPF link running the program: PROG")
    tp.add_argument("target", nargs="+", metavar="PROG")
    tp.add_argument("--json", action="store_true")
    tp.set_defaults(func=_detach)
