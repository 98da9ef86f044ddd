"""Directives that make one text file a whole program: maps, program type, license, name, kfunc ids.

    .map counts hash key=4 value=8 max_entries=1024 [flags=1] [pinning=by_name]
    .type xdp                  (a program type name, as `pyebpf.abi.prog_types.parse_prog_type` reads it)
    .section tracepoint/syscalls/sys_enter_openat   (a libbpf SEC() name: program type, attach type, target)
    .license "Dual BSD/GPL"
    .name my_prog
    .kfunc bpf_rcu_read_lock 12345   (so that `call bpf_rcu_read_lock` is a kfunc call with that BTF id)

The bookkeeping directives of `clang -S` output (.text, .globl, .p2align, .file, .size, .addrsig, `.type f,@function`
...) are accepted and ignored, and data sections (`.section .maps`, `.BTF`, `.rodata`, ...) are skipped to their end,
so a compiler's assembly listing of a program reads too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyebpf.abi.maps import KEYLESS_TYPES, MapSpec, MapType
from pyebpf.isa.asm_syntax import LineError, parse_int

_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s,]+')

#: Directives of compiler output that carry nothing a Program needs.
IGNORED = frozenset({
    ".text", ".globl", ".global", ".p2align", ".align", ".file", ".size", ".addrsig", ".addrsig_sym", ".loc",
    ".ident", ".weak", ".hidden", ".local", ".protected", ".cfi_sections", ".cfi_startproc", ".cfi_endproc",
    ".previous", ".popsection", ".pushsection",
})


@dataclass
class ProgramMeta:
    """Everything directives set; the assembler turns it into the Program's fields."""

    maps: dict[str, MapSpec] = field(default_factory=dict)
    prog_type: Any = None
    license: str | None = None
    name: str = ""
    expected_attach_type: Any = None
    attach_to: str | None = None
    kfuncs: dict[str, int] = field(default_factory=dict)
    in_data_section: bool = False


def _words(text: str) -> list[tuple[str, int]]:
    return [(m.group(0), m.start()) for m in _WORD.finditer(text)]


def _unquote(word: tuple[str, int]) -> str:
    """A word with C-style escapes inside double quotes, or the bare word; LineError on a broken escape."""
    text, start = word
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        except UnicodeDecodeError as e:
            raise LineError(f"bad escape in string: {e.reason}", start=start + 1 + e.start,
                            length=max(1, e.end - e.start)) from None
    return text


def _map_type(word: tuple[str, int]) -> MapType:
    text = word[0]
    n = parse_int(text)
    if n is not None:
        try:
            return MapType(n)
        except ValueError:
            pass
    else:
        key = text.upper().replace("-", "_")
        if key.startswith("BPF_MAP_TYPE_"):
            key = key[len("BPF_MAP_TYPE_"):]
        if key in MapType.__members__:
            return MapType[key]
    raise LineError(f"unknown map type {text!r}", start=word[1], length=len(text))


_MAP_KEYS = {"key": "key_size", "key_size": "key_size", "value": "value_size", "value_size": "value_size",
             "max_entries": "max_entries", "entries": "max_entries", "flags": "flags", "map_flags": "flags"}


def _map(words: list[tuple[str, int]], meta: ProgramMeta, dir_word: tuple[str, int]) -> None:
    if len(words) < 2:
        raise LineError(".map needs a name and a type: .map NAME TYPE key=4 value=8 max_entries=N",
                        start=dir_word[1], length=len(dir_word[0]))
    name = words[0]
    if name[0] in meta.maps:
        raise LineError(f"map {name[0]!r} declared twice", start=name[1], length=len(name[0]))
    mtype = _map_type(words[1])
    keyless = mtype in KEYLESS_TYPES and mtype != MapType.BLOOM_FILTER
    fields: dict[str, Any] = {"key_size": 0 if keyless else 4, "value_size": 0 if mtype == MapType.RINGBUF else 8,
                              "max_entries": 1, "flags": 0}
    pinning = None
    for text, start in words[2:]:
        key, eq, value = text.partition("=")
        if not eq:
            raise LineError(f"expected key=value, got {text!r}", start=start, length=len(text))
        if key == "pinning":
            pinning = value
            continue
        attr = _MAP_KEYS.get(key)
        if attr is None:
            raise LineError(f"unknown map attribute {key!r} (key, value, max_entries, flags, pinning)",
                            start=start, length=len(key))
        n = parse_int(value)
        if n is None or not 0 <= n <= 0xFFFFFFFF:
            raise LineError(f"bad value for {key}: {value!r}", start=start + len(key) + 1, length=max(1, len(value)))
        fields[attr] = n
    meta.maps[name[0]] = MapSpec(name[0], mtype, fields["key_size"], fields["value_size"], fields["max_entries"],
                                 fields["flags"], pinning=pinning)


def _section(words: list[tuple[str, int]], meta: ProgramMeta) -> None:
    from pyebpf.abi.prog_types import prog_type_for_section

    if not words:
        raise LineError(".section needs a name", start=0, length=8)
    sec = _unquote(words[0])
    if sec.startswith("."):
        # compiler output: .text is code; everything else (.maps, .BTF, .rodata, .debug_*) is data to skip
        meta.in_data_section = sec != ".text" and not sec.startswith(".text.")
        return
    meta.in_data_section = False
    try:
        sdef = prog_type_for_section(sec)
    except ValueError:
        raise LineError(f"unknown BPF section name {sec!r}", start=words[0][1], length=len(words[0][0])) from None
    meta.prog_type = sdef.prog_type
    meta.expected_attach_type = sdef.attach_type
    meta.attach_to = sdef.target(sec) or None


def apply_directive(text: str, meta: ProgramMeta) -> None:
    """Apply one directive line (starting with '.'); raises LineError with a span into `text`."""
    words = _words(text)
    head = words[0]
    name = head[0]
    args = words[1:]
    if meta.in_data_section and name not in (".section", ".text"):
        return
    if name == ".text":
        meta.in_data_section = False
        return
    if name in IGNORED or name.startswith(".cfi_"):
        return
    if name == ".section":
        _section(args, meta)
        return
    if name == ".map":
        _map(args, meta, head)
        return
    if name == ".type":
        if not args:
            raise LineError(".type needs a program type", start=head[1], length=len(name))
        if len(args) > 1 or args[0][0].startswith("@"):  # `.type func,@function` from clang -S
            return
        from pyebpf.abi.prog_types import parse_prog_type

        try:
            meta.prog_type = parse_prog_type(_unquote(args[0]))
        except ValueError:
            raise LineError(f"unknown program type {args[0][0]!r}", start=args[0][1],
                            length=len(args[0][0])) from None
        return
    if name == ".license":
        if len(args) != 1:
            raise LineError('.license takes one string: .license "GPL"', start=head[1], length=len(name))
        meta.license = _unquote(args[0])
        return
    if name == ".name":
        if len(args) != 1:
            raise LineError(".name takes one name", start=head[1], length=len(name))
        meta.name = _unquote(args[0])
        return
    if name == ".kfunc":
        if len(args) != 2:
            raise LineError(".kfunc takes a name and a BTF id: .kfunc bpf_rcu_read_lock 12345", start=head[1],
                            length=len(name))
        n = parse_int(args[1][0])
        if n is None or not 0 <= n <= 0x7FFFFFFF:
            raise LineError(f"bad BTF id {args[1][0]!r}", start=args[1][1], length=len(args[1][0]))
        meta.kfuncs[args[0][0]] = n
        return
    raise LineError(f"unknown directive {name!r}", start=head[1], length=len(name))


__all__ = ["ProgramMeta", "apply_directive", "IGNORED"]
