"""Reading a probe function's source: its AST and where it came from, for file:line:col diagnostics."""
from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, Callable

from pyebpf.errors import CompileError


def parse_function(fn: Callable[..., Any]) -> tuple[ast.FunctionDef, str, int, int, list[str]]:
    """The function's AST with where it came from: (def node, filename, first line, indentation removed, lines)."""
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or "<probe>"
    except (OSError, TypeError) as e:
        raise CompileError(f"cannot read the source of {getattr(fn, '__name__', fn)!r}: {e}",
                           hint="probes must be defined in a file (not typed at an interactive prompt)") from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    shift = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
    try:
        tree = ast.parse(dedented)
    except SyntaxError as e:
        raise CompileError(f"syntax error: {e.msg}", filename, first + (e.lineno or 1) - 1, (e.offset or 1) + shift)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        raise CompileError(f"{getattr(fn, '__name__', fn)!r} is not a plain function", filename, first, 1)
    return fdef, filename, first, shift, [ln.rstrip("\n") for ln in lines]
