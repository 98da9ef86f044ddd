"""bpf_trace_printk / bpf_trace_vprintk / bpf_snprintf formatting with the kernel's rules.

`prepare()` mirrors bpf_bprintf_prepare() (kernel/bpf/helpers.c): it walks the format, rejects what the kernel
rejects (-EINVAL: non-printable or non-ASCII bytes, more conversions than arguments, unsupported conversions such
as %hd or %.3d, a %s not followed by NUL/space/punctuation; -ENOSPC when the binary argument buffer of
MAX_BPRINTF_BIN_ARGS bytes overflows) and fetches string and IP arguments from memory. `render()` then produces
the text as the kernel's bstr_printf() would.

Differences from the kernel, by necessity: plain %p and %pK print a deterministic stand-in for the kernel's
hashed pointer (same 16-hex-digit shape, different digits); %ps/%pS/%pB print 0x<hex> (no kallsyms).
"""
from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Callable

MAX_TRACE_PRINTK_VARARGS = 3
MAX_BPRINTF_VARARGS = 12
MAX_BPRINTF_BUF = 1024
MAX_BPRINTF_BIN_ARGS = 512

_PUNCT = frozenset(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_SPACE = frozenset(b" \t\n\v\f\r")


def _isprint(c: int) -> bool:
    return 0x20 <= c <= 0x7E


@dataclass
class Spec:
    """One conversion: flags, width, conversion letter(s), argument size, and the fetched argument."""

    flags: str
    width: int | None
    conv: str  # 'd' 'i' 'u' 'x' 'X' 'c' 's' 'p' 'pK' 'px' 'ps' 'pS' 'pB' 'pI4' 'pi4' 'pI6' 'pi6'
    size: int  # 4 or 8 for integers
    arg: object = None


class PrintfError(Exception):
    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.errno = code
        self.why = why


def prepare(fmt: bytes, args: list[int], read_str: Callable[[int, str, int], bytes | None],
            read_mem: Callable[[int, int], bytes | None]) -> list[tuple[str, Spec | None]]:
    """Validate `fmt` (without its NUL) against `args` as bpf_bprintf_prepare does.

    Returns the format as a list of (literal text, spec) pieces. `read_str(addr, kind, limit)` fetches a string
    ('s' kernel string, 'k' kernel, 'u' user) or None on fault; `read_mem(addr, n)` fetches IP address bytes
    from kernel memory or None. Raises PrintfError(errno) like the kernel's -EINVAL / -ENOSPC.
    """
    n = len(fmt)
    at = lambda j: fmt[j] if j < n else 0  # noqa: E731  (the C string's terminating NUL)
    pieces: list[tuple[str, Spec | None]] = []
    lit = bytearray()
    num_spec = 0
    used = 0  # bytes of the binary argument buffer
    have_buf = bool(args)
    i = 0
    while i < n:
        c = fmt[i]
        if (not _isprint(c) and c not in _SPACE) or c > 0x7F:
            raise PrintfError(errno.EINVAL, f"byte {c:#x} at {i} is not printable ASCII")
        if c != ord("%"):
            lit.append(c)
            i += 1
            continue
        if at(i + 1) == ord("%"):
            lit += b"%"
            i += 2
            continue
        if num_spec >= len(args):
            raise PrintfError(errno.EINVAL, f"conversion at {i} has no argument (only {len(args)} given)")
        start = i
        i += 1
        flags = ""
        while at(i) in b"0+- ":
            flags += chr(at(i))
            i += 1
        width = None
        if ord("1") <= at(i) <= ord("9"):
            j = i
            i += 1
            while ord("0") <= at(i) <= ord("9"):
                i += 1
            width = min(int(fmt[j:i]), FIELD_WIDTH_MAX)
        arg = args[num_spec]
        ch = at(i)

        def align4(u: int) -> int:
            return (u + 3) & ~3

        if ch == ord("p"):
            nxt = at(i + 1)
            if nxt in (ord("k"), ord("u")) and at(i + 2) == ord("s"):
                kind = chr(nxt)
                i += 2
                spec_conv = "s"
            elif nxt == 0 or nxt in _SPACE or nxt in _PUNCT or nxt in b"KxsS":
                conv = "p" + (chr(nxt) if nxt in b"KxsS" else "")
                if conv != "p":
                    i += 1  # past the extension letter (plain %p leaves the next character to the main loop)
                if have_buf:
                    used = align4(used)
                    if MAX_BPRINTF_BIN_ARGS - used < 8:
                        raise PrintfError(errno.ENOSPC, "printf argument buffer full")
                    used += 8
                pieces.append((lit.decode(), Spec(flags, width, conv, 8, arg)))
                lit = bytearray()
                i += 1
                if conv != "p":
                    i = _skip_alnum(fmt, i)
                num_spec += 1
                continue
            elif nxt == ord("B"):
                pieces.append((lit.decode(), Spec(flags, width, "pB", 8, arg)))
                lit = bytearray()
                if have_buf:
                    used += len(f"0x{arg:x}") + 1
                i = _skip_alnum(fmt, i + 2)
                num_spec += 1
                continue
            elif nxt in b"iI" and at(i + 2) in b"46":
                conv = "p" + chr(nxt) + chr(at(i + 2))
                size = 4 if at(i + 2) == ord("4") else 16
                if have_buf and MAX_BPRINTF_BIN_ARGS - used < size:
                    raise PrintfError(errno.ENOSPC, "printf argument buffer full")
                raw = read_mem(arg, size) if have_buf else None
                ip = raw if raw is not None else bytes(size)
                text = _format_ip(conv, ip)
                if have_buf:
                    used += len(text) + 1
                pieces.append((lit.decode(), Spec(flags, width, conv, size, text)))
                lit = bytearray()
                i = _skip_alnum(fmt, i + 3)
                num_spec += 1
                continue
            else:
                raise PrintfError(errno.EINVAL, f"unsupported %p conversion at {start}")
        elif ch == ord("s"):
            kind = "s"
            spec_conv = "s"
        elif ch == ord("c"):
            if have_buf:
                if used >= MAX_BPRINTF_BIN_ARGS:
                    raise PrintfError(errno.ENOSPC, "printf argument buffer full")
                used += 1
            pieces.append((lit.decode(), Spec(flags, width, "c", 1, arg & 0xFF)))
            lit = bytearray()
            i += 1
            num_spec += 1
            continue
        else:
            spec_conv = ""
        if spec_conv == "s":
            nxt = at(i + 1)
            if nxt != 0 and nxt not in _SPACE and nxt not in _PUNCT:
                raise PrintfError(errno.EINVAL, f"%s at {start} must be followed by a space, punctuation or the end")
            text = b""
            if have_buf:
                if used >= MAX_BPRINTF_BIN_ARGS:
                    raise PrintfError(errno.ENOSPC, "printf argument buffer full")
                room = MAX_BPRINTF_BIN_ARGS - used
                got = read_str(arg, kind, room)
                text = got if got is not None else b""
                used += len(text) + 1
            pieces.append((lit.decode(), Spec(flags, width, "s", 0, text.decode("latin-1"))))
            lit = bytearray()
            i += 1
            num_spec += 1
            continue
        size = 4
        if at(i) == ord("l"):
            size = 8
            i += 1
        if at(i) == ord("l"):
            size = 8
            i += 1
        if at(i) not in b"iduxX" or at(i) == 0:
            raise PrintfError(errno.EINVAL, f"unsupported conversion at {start}")
        if have_buf:
            used = align4(used)
            if MAX_BPRINTF_BIN_ARGS - used < size:
                raise PrintfError(errno.ENOSPC, "printf argument buffer full")
            used += size
        pieces.append((lit.decode(), Spec(flags, width, chr(at(i)), size, arg)))
        lit = bytearray()
        i += 1
        num_spec += 1
    if lit or not pieces:
        pieces.append((lit.decode(), None))
    return pieces


def _skip_alnum(fmt: bytes, i: int) -> int:
    """vsprintf skips every letter and digit after a %p extension (`%pKx` prints the pointer, not an 'x')."""
    while i < len(fmt) and chr(fmt[i]).isalnum() and fmt[i] < 0x80:
        i += 1
    return i


FIELD_WIDTH_MAX = (1 << 23) - 1
"""vsprintf clamps field widths to this."""


def _format_ip(conv: str, ip: bytes) -> str:
    if conv == "pI4":
        return ".".join(str(b) for b in ip)
    if conv == "pi4":
        return ".".join(f"{b:03d}" for b in ip)
    if conv == "pI6":
        return ":".join(ip[k:k + 2].hex() for k in range(0, 16, 2))
    return ip.hex()  # pi6


def _pad(body: str, flags: str, width: int | None, sign: str = "", zero_ok: bool = True) -> str:
    total = len(sign) + len(body)
    if width is None or total >= width:
        return sign + body
    if "-" in flags:
        return sign + body + " " * (width - total)
    if "0" in flags and zero_ok:
        return sign + "0" * (width - total) + body
    return " " * (width - total) + sign + body


def _hash_pointer(value: int) -> str:
    """Stand-in for the kernel's siphash-based %p hashing: 32 bits, printed as 16 hex digits like the kernel."""
    h = (value * 0x9E3779B97F4A7C15 + 0x5851F42D4C957F2D) & 0xFFFFFFFFFFFFFFFF
    return f"{(h >> 32) ^ (h & 0xFFFFFFFF):016x}"


def _render_spec(s: Spec) -> str:
    conv, flags, width = s.conv, s.flags, s.width
    if conv in "diuxX":
        bits = 8 * s.size
        v = int(s.arg) & ((1 << bits) - 1)  # type: ignore[call-overload]
        sign = ""
        if conv in "di":
            if v >> (bits - 1):
                v -= 1 << bits
            if v < 0:
                sign, v = "-", -v
            elif "+" in flags:
                sign = "+"
            elif " " in flags:
                sign = " "
        body = f"{v:x}" if conv == "x" else f"{v:X}" if conv == "X" else str(v)
        return _pad(body, flags, width, sign)
    if conv == "c":
        return _pad(chr(s.arg), flags, width, zero_ok=False)  # type: ignore[arg-type]
    if conv == "s":
        return _pad(str(s.arg), flags, width, zero_ok=False)
    if conv in ("pI4", "pi4", "pI6", "pi6"):
        return _pad(str(s.arg), flags, width, zero_ok=False)
    v = int(s.arg) & 0xFFFFFFFFFFFFFFFF  # type: ignore[call-overload]
    if conv == "px":
        return _pad(f"{v:016x}", flags, width if width is not None else None)
    if conv in ("ps", "pS", "pB"):
        return _pad(f"0x{v:x}", flags, width, zero_ok=False)
    # plain %p and %pK
    if v == 0 and conv == "p":
        return _pad("(null)", flags, width, zero_ok=False)
    return _pad(_hash_pointer(v), flags, width, zero_ok=False)


def render(pieces: list[tuple[str, Spec | None]]) -> str:
    """The formatted text (untruncated)."""
    out = []
    for lit, spec in pieces:
        out.append(lit)
        if spec is not None:
            out.append(_render_spec(spec))
    return "".join(out)


def format_message(fmt: bytes, args: list[int], read_str: Callable[[int, str, int], bytes | None],
                   read_mem: Callable[[int, int], bytes | None]) -> str:
    """prepare + render; raises PrintfError."""
    return render(prepare(fmt, args, read_str, read_mem))


__all__ = ["prepare", "render", "format_message", "PrintfError", "Spec", "MAX_TRACE_PRINTK_VARARGS",
           "MAX_BPRINTF_VARARGS", "MAX_BPRINTF_BUF"]
