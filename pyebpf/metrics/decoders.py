"""Label decoders: a label's key bytes -> the label value, in steps, as ebpf_exporter chains them.

The first decoder of a label gets the raw bytes; each later one gets the previous one's text (`uint` then
`static_map`: 1 -> "1" -> "write"). A decoder may drop the whole key (`regexp` not matching): that is filtering the
configuration asked for, counted in the exporter's own `..._decoder_skips` so nothing vanishes unseen.
"""
from __future__ import annotations

import errno as _errno
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pyebpf.errors import InputError


class Skip(Exception):
    """Raised by a decoder to leave this key out of the metric (regexp filters)."""


Value = bytes | str


def _number(value: Value, signed: bool = False) -> int:
    if isinstance(value, bytes):
        return int.from_bytes(value, "little", signed=signed)
    try:
        return int(value, 0)
    except ValueError:
        raise Skip from None


def _uint(value: Value, options: Mapping[str, Any]) -> str:
    return str(_number(value))


def _int(value: Value, options: Mapping[str, Any]) -> str:
    return str(_number(value, signed=True))


def _hex(value: Value, options: Mapping[str, Any]) -> str:
    return value.hex() if isinstance(value, bytes) else f"{_number(value):x}"


def _string(value: Value, options: Mapping[str, Any]) -> str:
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("utf-8", "replace")
    return value


def _static_map(value: Value, options: Mapping[str, Any]) -> str:
    key = _uint(value, options) if isinstance(value, bytes) else value
    table = options["static_map"]
    for k, v in table.items():
        if str(k) == key:
            return str(v)
    return f"unknown:{key}"


def _regexp(value: Value, options: Mapping[str, Any]) -> str:
    text = _string(value, options)
    if not any(re.search(p, text) for p in options["regexps"]):
        raise Skip
    return text


def _ksym(value: Value, options: Mapping[str, Any]) -> str:
    from pyebpf.system.kallsyms import kallsyms

    addr = _number(value)
    for syms in (kallsyms(), kallsyms(bpf_only=True)):
        hit = syms.containing(addr) if syms is not None else None
        if hit is not None and (hit[1] == 0 or not options.get("exact", False)):
            return hit[0]
    return f"unknown:{addr:#x}"


def _errno_name(value: Value, options: Mapping[str, Any]) -> str:
    n = _number(value)
    return _errno.errorcode.get(abs(n), f"unknown:{n}")


#: The kernel's dev_t inside the kernel: major in the top 12 bits, minor in the low 20 (MINORBITS).
MINORBITS = 20


def _majorminor(value: Value, options: Mapping[str, Any]) -> str:
    dev = _number(value)
    return f"{dev >> MINORBITS}:{dev & ((1 << MINORBITS) - 1)}"


def _check_static_map(options: Mapping[str, Any], where: str) -> None:
    table = options.get("static_map")
    if not isinstance(table, dict) or set(options) != {"static_map"}:
        raise InputError(f"{where}: static_map needs `static_map: {{value: label, ...}}`")


def _check_regexp(options: Mapping[str, Any], where: str) -> None:
    pats = options.get("regexps")
    if not isinstance(pats, list) or not pats or set(options) != {"regexps"}:
        raise InputError(f"{where}: regexp needs `regexps: [pattern, ...]`")
    for p in pats:
        try:
            re.compile(str(p))
        except re.error as e:
            raise InputError(f"{where}: bad regexp {p!r}: {e}") from None


def _no_options(options: Mapping[str, Any], where: str) -> None:
    if options:
        raise InputError(f"{where}: this decoder takes no options (got {', '.join(map(str, options))})")


def _check_ksym(options: Mapping[str, Any], where: str) -> None:
    if set(options) - {"exact"}:
        raise InputError(f"{where}: ksym takes only `exact: true|false`")


@dataclass(frozen=True)
class DecoderKind:
    decode: Callable[[Value, Mapping[str, Any]], str]
    check: Callable[[Mapping[str, Any], str], None] = _no_options


DECODERS: dict[str, DecoderKind] = {
    "uint": DecoderKind(_uint),
    "int": DecoderKind(_int),
    "hex": DecoderKind(_hex),
    "string": DecoderKind(_string),
    "static_map": DecoderKind(_static_map, _check_static_map),
    "regexp": DecoderKind(_regexp, _check_regexp),
    "ksym": DecoderKind(_ksym, _check_ksym),
    "errno": DecoderKind(_errno_name),
    "majorminor": DecoderKind(_majorminor),
}


def decode_label(raw: bytes, decoders) -> str:
    """Run a label's decoder chain over its bytes; Skip propagates."""
    value: Value = raw
    for d in decoders:
        value = DECODERS[d.name].decode(value, d.options)
    return value if isinstance(value, str) else value.hex()


__all__ = ["DECODERS", "Skip", "decode_label"]
