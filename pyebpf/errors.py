"""Typed errors shared by every layer.

Each error carries where it happened (instruction index, line and column, errno) and a one-line message, so the
CLI can print it without a traceback and tests can assert on the fields rather than on text.
"""
from __future__ import annotations

import errno as _errno
from typing import Any


class PyebpfError(Exception):
    """Base of every error pyebpf raises on purpose."""


class DecodeError(PyebpfError):
    """Bytes that are not a well-formed eBPF instruction stream (as the kernel would reject them)."""

    def __init__(self, message: str, slot: int | None = None, offset: int | None = None):
        self.message = message
        self.slot = slot
        self.offset = offset
        where = f"slot {slot} (byte offset {offset}): " if slot is not None else ""
        super().__init__(f"{where}{message}")


class AsmDiagnostic:
    """One problem found by the assembler, with its position (1-based line and column).

    A plain immutable value class rather than a frozen dataclass: `dataclasses` imports `inspect` (~10 ms), and this
    module is imported by every command, including `pyebpf trace`, whose start-up is measured against bpftrace."""

    __slots__ = ("line", "column", "message", "source_line", "length")
    _FIELDS = __slots__

    line: int
    column: int
    message: str
    source_line: str
    length: int

    def __init__(self, line: int, column: int, message: str, source_line: str = "", length: int = 1):
        for name, value in zip(self._FIELDS, (line, column, message, source_line, length)):
            object.__setattr__(self, name, value)

    def _astuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: AsmDiagnostic is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: AsmDiagnostic is immutable")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._astuple() == other._astuple()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._astuple())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{self.__class__.__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, self._astuple())

    def render(self, filename: str = "<input>") -> str:
        head = f"{filename}:{self.line}:{self.column}: error: {self.message}"
        if not self.source_line:
            return head
        # A long line is shown as a window around the column, so a hostile megabyte line gives a short message.
        start = max(0, min(self.column - 1 - 40, len(self.source_line) - 120)) if len(self.source_line) > 120 else 0
        shown = self.source_line[start:start + 120]
        lead = "..." if start else ""
        tail = "..." if start + 120 < len(self.source_line) else ""
        caret_at = max(0, self.column - 1 - start)
        width = max(0, min(self.length, len(shown) - caret_at) - 1)
        caret = " " * (len(lead) + caret_at) + "^" + "~" * width
        return f"{head}\n    {lead}{shown}{tail}\n    {caret}"


MAX_DIAGNOSTICS = 100
"""Diagnostics one AsmError keeps: a hostile file with an error on each of 100,000 lines gets a message of
bounded size (the first ones, then how many more), not megabytes."""


class AsmError(PyebpfError):
    """Assembly text with one or more errors; `diagnostics` lists every one found, not only the first (up to
    MAX_DIAGNOSTICS, then one line saying how many more there were; `omitted` counts those the caller dropped)."""

    def __init__(self, diagnostics: list[AsmDiagnostic] | AsmDiagnostic | str, filename: str = "<input>",
                 omitted: int = 0):
        if isinstance(diagnostics, str):
            diagnostics = [AsmDiagnostic(0, 0, diagnostics)]
        elif isinstance(diagnostics, AsmDiagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        if len(self.diagnostics) > MAX_DIAGNOSTICS:
            omitted += len(self.diagnostics) - MAX_DIAGNOSTICS
            del self.diagnostics[MAX_DIAGNOSTICS:]
        if omitted:
            last = self.diagnostics[-1] if self.diagnostics else AsmDiagnostic(0, 0, "")
            self.diagnostics.append(AsmDiagnostic(
                last.line, last.column, f"{omitted} more errors not shown (first {len(self.diagnostics)} above)"))
        self.filename = filename
        first = self.diagnostics[0] if self.diagnostics else AsmDiagnostic(0, 0, "assembly failed")
        self.line, self.column, self.message = first.line, first.column, first.message
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render(self.filename) for d in self.diagnostics)


class InputError(PyebpfError, ValueError):
    """Input a command refuses to read: larger than its cap (e.g. `pyebpf asm /dev/zero`), or not a regular input."""


class CompileError(PyebpfError):
    """Source the probe compiler cannot translate: where (file:line:col, 1-based), what is wrong, what to write
    instead. `str()` is one `file:line:col: error: ...` line followed by the source line, a caret and the hint."""

    def __init__(self, message: str, filename: str = "<probe>", line: int = 0, column: int = 0,
                 source_line: str = "", hint: str = "", length: int = 1):
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column
        self.source_line = source_line
        self.hint = hint
        self.length = max(1, length)
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.filename}:{self.line}:{self.column}: error: {self.message}"
        if self.source_line:
            caret = " " * max(0, self.column - 1) + "^" + "~" * (self.length - 1)
            text += f"\n    {self.source_line}\n    {caret}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class BuildError(PyebpfError):
    """A program built with the Python builder is inconsistent (unknown label, unbound register, ...)."""


class VerifierError(PyebpfError):
    """The verifier rejected a program; `insn` is the instruction index (slot) and `errno` the kernel's class."""

    def __init__(self, message: str, insn: int | None = None, errno: int = _errno.EACCES, log: str = ""):
        self.message = message
        self.insn = insn
        self.errno = errno
        self.log = log
        where = f"insn {insn}: " if insn is not None else ""
        super().__init__(f"{where}{message} ({_errno.errorcode.get(errno, errno)})")


class VmError(PyebpfError):
    """The simulator stopped on a fault: pc (slot), the instruction in text, and the faulting address if any."""

    def __init__(self, message: str, pc: int | None = None, insn_text: str = "", address: int | None = None):
        self.message = message
        self.pc = pc
        self.insn_text = insn_text
        self.address = address
        parts = []
        if pc is not None:
            parts.append(f"pc {pc}")
        if insn_text:
            parts.append(f"`{insn_text}`")
        if address is not None:
            parts.append(f"address {address:#x}")
        where = (" at " + " ".join(parts)) if parts else ""
        super().__init__(f"{message}{where}")


class LoaderError(PyebpfError):
    """A bpf()/perf/netlink call failed: `errno` and its name, and for program loads the kernel's verifier log."""

    def __init__(self, message: str, errno: int | None = None, log: str = ""):
        self.message = message
        self.errno = errno
        self.log = log
        name = _errno.errorcode.get(errno, str(errno)) if errno is not None else None
        text = f"{message}: {name}" if name else message
        if errno is not None:
            import os

            text += f" ({os.strerror(errno)})"
        super().__init__(text)

    @property
    def errno_name(self) -> str | None:
        return _errno.errorcode.get(self.errno) if self.errno is not None else None


class MissingExtraError(LoaderError):
    """A feature needs an optional dependency that is not installed; `extra` is the pip extra that brings it."""

    def __init__(self, feature: str, package: str, extra: str):
        self.feature, self.package, self.extra = feature, package, extra
        super().__init__(f"{feature} needs {package}, which is not installed: pip install 'pyebpf-toolkit[{extra}]'")


class ElfError(LoaderError):
    """An ELF object that cannot be read or loaded (missing section, bad relocation, bad BTF)."""


class BtfError(ElfError):
    """BTF that cannot be parsed, or a type it does not have (an ElfError because most BTF comes in an object)."""


class MapError(PyebpfError):
    """A map operation failed with the kernel's errno (ENOENT, EEXIST, E2BIG, ...), in the VM or the kernel."""

    def __init__(self, message: str, errno: int):
        self.message = message
        self.errno = errno
        super().__init__(f"{message}: {_errno.errorcode.get(errno, errno)}")


__all__ = [
    "PyebpfError", "DecodeError", "AsmDiagnostic", "AsmError", "BuildError", "CompileError", "VerifierError",
    "VmError", "LoaderError", "ElfError", "BtfError", "MapError",
]
