"""bpftrace-shaped diagnostics: `stdin:LINE:COL-END: ERROR: message`, the source line, `~` under the culprit."""
from __future__ import annotations

from pyebpf.errors import CompileError


class TraceError(CompileError):
    """An error in a bpftrace script, rendered as bpftrace 0.17 renders it (a CompileError: the CLI exits 1)."""

    def render(self) -> str:
        if not self.line:
            return f"{self.filename}: ERROR: {self.message}" if self.filename not in ("", "<probe>") else \
                f"ERROR: {self.message}"
        end = self.column + self.length
        text = f"{self.filename}:{self.line}:{self.column}-{end}: ERROR: {self.message}"
        if self.source_line:  # as bpftrace: a tab shows as 4 spaces, the tildes under what it shows
            shown = self.source_line.replace("\t", "    ")
            lead = len(self.source_line[:max(0, self.column - 1)].replace("\t", "    "))
            text += f"\n{shown}\n" + " " * lead + "~" * self.length
        return text


class Source:
    """The script text and its name (`stdin` for -e, as bpftrace names it), to turn offsets into errors."""

    def __init__(self, text: str, name: str = "stdin"):
        self.text = text
        self.name = name
        self.lines = text.split("\n")

    def position(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, col

    def error(self, message: str, start: int, end: int | None = None) -> TraceError:
        line, col = self.position(start)
        src = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        length = max(1, min((end if end is not None else start + 1) - start, len(src) - col + 1))
        return TraceError(message, self.name, line, col, src, length=length)


__all__ = ["TraceError", "Source"]
