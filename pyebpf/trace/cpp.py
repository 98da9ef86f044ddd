"""The C preprocessor subset bpftrace 0.17 scripts use, without running cpp or clang.

- `#define NAME body` (object-like): NAME is replaced where the script uses it (the parser expands it at the
  identifier's position, so errors still point into the script). Function-like macros are not expanded: bpftrace
  0.17 reports their use as an unknown function, and so does this.
- `#undef`, `#ifdef`, `#ifndef`, `#if`/`#elif` (integer expressions, `defined`), `#else`, `#endif`, with
  BPFTRACE_HAVE_BTF defined (types come from the running kernel's BTF, as bpftrace's do when it has BTF).
- `#include <h>` / `"h"`: the header's object-like macros (AF_INET from <sys/socket.h>), read from the system's
  include directories, following its own includes and conditionals; its types are not read (struct layouts come
  from the kernel's BTF). A header that is not installed (kernel-internal ones such as <net/sock.h>) adds nothing:
  the kernel's BTF answers for its types and enum constants.
- `#error` in the script stops with its message; other directives (`#pragma`, `#warning`, `#line`) are ignored.

Directive lines and lines a conditional leaves out are blanked in place (offsets do not move). Bounded: headers
nest at most 16 deep, at most 400 files and 8 MiB are read per script.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from pyebpf.trace.errors import Source

INCLUDE_DIRS = ("/usr/local/include", f"/usr/include/{os.uname().machine}-linux-gnu", "/usr/include")
MAX_DEPTH = 16
MAX_FILES = 400
MAX_BYTES = 8 << 20
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(\w*)(.*)$")
MAX_EXPANSION = 1 << 16  # tokens an #if expression may expand to
_DEFINE = re.compile(r"([A-Za-z_]\w*)(\()?")
_EXPR_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)"
                         r"|(&&|\|\||<<|>>|<=|>=|==|!=|[-+*/%<>!~&|^()?:,])|'(\\?.)')")


@dataclass
class Macros:
    """Object-like macros (name -> body text) and function-like ones (name -> (parameters, body)): these are
    expanded in #if expressions (KERNEL_VERSION(5, 0, 0)), not in the script, as bpftrace 0.17 does."""

    objects: dict[str, str] = field(default_factory=dict)
    functions: dict[str, tuple[list[str], str]] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    """Header files read, and (prefixed "-") the paths an #include looked for and did not find: what the macros
    depend on (pyebpf.trace.cache checks them before using a compiled script again)."""

    def defined(self, name: str) -> bool:
        return name in self.objects or name in self.functions

    def define(self, name: str, body: str, params: list[str] | None = None) -> None:
        self.undef(name)
        if params is not None:
            self.functions[name] = (params, body)
        else:
            self.objects[name] = body

    def undef(self, name: str) -> None:
        self.objects.pop(name, None)
        self.functions.pop(name, None)


def predefined() -> Macros:
    m = Macros()
    m.define("BPFTRACE_HAVE_BTF", "1")  # bpftrace defines it when it has the kernel's BTF; pyebpf always reads BTF
    m.define("__linux__", "1")
    m.define("__" + os.uname().machine + "__", "1")
    return m


_LEXICAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|/\*.*?(?:\*/|$)|//[^\n]*', re.DOTALL)


def blank_comments(text: str) -> str:
    """`text` with every comment's characters but its line breaks made spaces (string literals kept as they are,
    so a "//" inside one is not a comment): lines stay where they are."""
    def blank(m: re.Match) -> str:
        g = m.group()
        return g if g.startswith('"') else re.sub(r"[^\n]", " ", g)

    return _LEXICAL.sub(blank, text)


class Preprocessor:
    def __init__(self, src: Source):
        self.src = src
        self.macros = predefined()
        self.files = 0
        self.bytes = 0

    # -- the script ----------------------------------------------------------------------------------------------
    def script(self) -> str:
        """The script with directives and left-out lines blanked (same length, same line breaks)."""
        text = self.src.text
        out: list[str] = []
        stack: list[list[bool]] = []  # per #if: [this branch active, some branch taken, enclosing active]
        offset = 0
        lines = text.split("\n")
        masked = blank_comments(text).split("\n")  # a '#' inside a comment starts no directive (cpp phase 3)
        i = 0
        while i < len(lines):
            line = lines[i]
            start = offset
            joined, n = masked[i], 1
            m = _DIRECTIVE.match(masked[i]) if not (i == 0 and line.startswith("#!")) else None
            while m and joined.endswith("\\") and i + n < len(lines):  # continued directive lines
                joined = joined[:-1] + " " + masked[i + n]
                n += 1
            if m and n > 1:
                m = _DIRECTIVE.match(joined)
            active = all(s[0] for s in stack)
            if i == 0 and line.startswith("#!"):
                out.append(" " * len(line))
            elif m:
                self._directive(m.group(1), m.group(2).strip(), stack, active, start)
                out.extend(" " * len(lines[i + k]) for k in range(n))
            else:
                out.append(line if active else re.sub(r"[^\s]", " ", line))
            for k in range(n):
                offset += len(lines[i + k]) + 1
            i += n
        if stack:
            raise self.src.error("unterminated conditional directive", len(text.rstrip()), len(text.rstrip()) + 1)
        return "\n".join(out)

    def _directive(self, name: str, rest: str, stack: list[list[bool]], active: bool, pos: int) -> None:
        if name in ("if", "ifdef", "ifndef"):
            cond = False
            if active:
                word = rest.split()[0] if rest.split() else ""
                cond = self.macros.defined(word) if name == "ifdef" else not self.macros.defined(word) \
                    if name == "ifndef" else self.evaluate(rest)
            stack.append([active and cond, active and cond, active])
            return
        if name in ("elif", "else", "endif"):
            if not stack:
                raise self.src.error(f"#{name} without #if", pos, pos + 1 + len(name))
            top = stack[-1]
            if name == "endif":
                stack.pop()
            elif name == "else":
                top[0] = top[2] and not top[1]
                top[1] = top[1] or top[0]
            else:
                top[0] = top[2] and not top[1] and self.evaluate(rest)
                top[1] = top[1] or top[0]
            return
        if not active:
            return
        if name == "define":
            self._define(rest)
        elif name == "undef":
            self.macros.undef(rest.split()[0] if rest.split() else "")
        elif name == "include":
            self.include(rest, 0)
        elif name == "error":
            raise self.src.error(f"#error {rest}".rstrip(), pos, pos + 1)
        elif name not in ("pragma", "warning", "line", ""):
            raise self.src.error(f"invalid preprocessing directive #{name}", pos, pos + 1 + len(name))

    def _define(self, rest: str) -> None:
        m = _DEFINE.match(rest)
        if not m:
            return
        if m.group(2):  # NAME(params) body: a function-like macro (expanded in #if only, as bpftrace 0.17)
            close = rest.find(")", m.end())
            if close < 0:
                return
            params = [p.strip() for p in rest[m.end():close].split(",") if p.strip()]
            if not all(p == "..." or p.isidentifier() for p in params):
                return
            self.macros.define(m.group(1), rest[close + 1:].strip(), params)
        else:
            self.macros.define(m.group(1), rest[m.end():].strip())

    # -- headers ---------------------------------------------------------------------------------------------------
    def include(self, rest: str, depth: int) -> None:
        m = re.match(r'\s*(?:<([^>]+)>|"([^"]+)")', rest)
        if not m or depth >= MAX_DEPTH:
            return
        name = m.group(1) or m.group(2)
        for d in INCLUDE_DIRS:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                self.header(path, depth + 1)
                return
            self.macros.headers.append("-" + path)

    def header(self, path: str, depth: int) -> None:
        """Read a header's macros (and its includes'), its conditionals evaluated; nothing else of it is used."""
        if self.files >= MAX_FILES or self.bytes >= MAX_BYTES:
            return
        try:
            with open(path, errors="replace") as f:
                text = f.read(MAX_BYTES - self.bytes)
        except OSError:
            return
        self.files += 1
        self.bytes += len(text)
        self.macros.headers.append(path)
        text = blank_comments(text.replace("\\\n", " "))
        stack: list[list[bool]] = []
        for line in text.split("\n"):
            m = _DIRECTIVE.match(line)
            if not m:
                continue
            name, rest = m.group(1), m.group(2).strip()
            active = all(s[0] for s in stack)
            if name in ("if", "ifdef", "ifndef", "elif", "else", "endif"):
                if name in ("elif", "else", "endif") and not stack:
                    continue
                self._directive(name, rest, stack, active, 0)
            elif active and name == "define":
                self._define(rest)
            elif active and name == "undef":
                self.macros.undef(rest.split()[0] if rest.split() else "")
            elif active and name in ("include", "include_next"):
                self.include(rest, depth)

    # -- #if expressions -----------------------------------------------------------------------------------------
    def evaluate(self, text: str) -> bool:
        """A #if expression: integers, defined(X), macros expanded (function-like ones with their arguments),
        other identifiers 0 (as cpp); what cannot be evaluated counts as false."""
        self._budget = MAX_EXPANSION
        try:
            tokens = self._expand(self._tokens(text), set())
            value, pos = _Expr(tokens).parse(0)
            return value != 0
        except (ValueError, IndexError, ZeroDivisionError, RecursionError):
            return False

    def _tokens(self, text: str) -> list[str]:
        out, pos = [], 0
        text = text.strip()
        while pos < len(text):
            m = _EXPR_TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(text[pos:])
            pos = m.end()
            if m.group(1) is not None:
                out.append(str(int(m.group(1), 0) if not re.fullmatch(r"0[0-7]+", m.group(1)) else
                               int(m.group(1), 8)))
            elif m.group(4) is not None:
                c = m.group(4)
                out.append(str(ord(c[-1]) if not c.startswith("\\") else {"n": 10, "t": 9, "0": 0}.get(c[1], 0)))
            else:
                out.append(m.group(2) or m.group(3))
        return out

    def _expand(self, tokens: list[str], busy: set[str]) -> list[str]:
        out: list[str] = []
        i = 0
        self._budget -= len(tokens) + 1  # bounded work: macros that multiply their arguments grow exponentially
        if self._budget < 0:
            raise ValueError("macro expansion too large")
        while i < len(tokens):
            t = tokens[i]
            if t == "defined":
                j = i + 1
                paren = j < len(tokens) and tokens[j] == "("
                name = tokens[j + 1] if paren else tokens[j]
                out.append("1" if self.macros.defined(name) else "0")
                i = j + (3 if paren else 1)
                continue
            if re.match(r"[A-Za-z_]", t):
                if t in self.macros.objects and t not in busy:
                    out.extend(self._expand(self._tokens(self.macros.objects[t]), busy | {t}))
                elif i + 1 < len(tokens) and tokens[i + 1] == "(":  # NAME(...): a call
                    args, i = _call_args(tokens, i + 1)
                    if t in self.macros.functions and t not in busy:
                        params, body = self.macros.functions[t]
                        out.extend(self._expand(self._substitute(params, body, args, busy), busy | {t}))
                    else:
                        out.append("0")  # not a macro: cpp's 0 for an identifier (then a parenthesis: invalid)
                else:
                    out.append("0")
                i += 1
                continue
            out.append(t)
            i += 1
        return out


    def _substitute(self, params: list[str], body: str, args: list[list[str]], busy: set[str]) -> list[str]:
        """The body's tokens with each parameter replaced by its argument, macro-expanded first (as C does when
        neither # nor ## touches it); `...` is __VA_ARGS__."""
        if len(args) == 1 and not args[0] and not params:
            args = []
        variadic = bool(params) and params[-1] == "..."
        fixed = params[:-1] if variadic else params
        if len(args) < len(fixed) or (len(args) > len(fixed) and not variadic):
            raise ValueError("wrong number of macro arguments")
        values = {p: self._expand(a, busy) for p, a in zip(fixed, args)}
        if variadic:
            rest: list[str] = []
            for k, a in enumerate(args[len(fixed):]):
                rest.extend(([","] if k else []) + self._expand(a, busy))
            values["__VA_ARGS__"] = rest
        out: list[str] = []
        for tok in self._tokens(body):
            out.extend(values.get(tok, [tok]))
        return out


def _call_args(tokens: list[str], i: int) -> tuple[list[list[str]], int]:
    """The comma-separated arguments of the call whose "(" is tokens[i]; (arguments, index of its ")")."""
    args: list[list[str]] = [[]]
    depth = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "(":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif t == ")":
            depth -= 1
            if depth == 0:
                return args, i
        elif t == "," and depth == 1:
            args.append([])
            i += 1
            continue
        args[-1].append(t)
        i += 1
    raise ValueError("unterminated macro call")


class _Expr:
    """Precedence climbing over #if tokens (C's integer operators, ternary)."""

    BINARY = {"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
              "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}

    def __init__(self, tokens: list[str]):
        self.t = tokens
        self.i = 0

    def parse(self, min_prec: int) -> tuple[int, int]:
        left = self.unary()
        while self.i < len(self.t):
            op = self.t[self.i]
            if op == "?" and min_prec == 0:
                self.i += 1
                a, _ = self.parse(0)
                if self.t[self.i] != ":":
                    raise ValueError("?")
                self.i += 1
                b, _ = self.parse(0)
                left = a if left else b
                continue
            prec = self.BINARY.get(op)
            if prec is None or prec < min_prec:
                break
            self.i += 1
            right, _ = self.parse(prec + 1)
            left = _apply(op, left, right)
        return left, self.i

    def unary(self) -> int:
        t = self.t[self.i]
        self.i += 1
        if t == "(":
            v, _ = self.parse(0)
            if self.t[self.i] != ")":
                raise ValueError(")")
            self.i += 1
            return v
        if t == "!":
            return int(not self.unary())
        if t == "~":
            return ~self.unary()
        if t == "-":
            return -self.unary()
        if t == "+":
            return self.unary()
        return int(t)


def _div(a: int, b: int) -> int:
    """C's division: truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


_OPS = {
    "||": lambda a, b: int(bool(a) or bool(b)), "&&": lambda a, b: int(bool(a) and bool(b)),
    "|": lambda a, b: a | b, "^": lambda a, b: a ^ b, "&": lambda a, b: a & b,
    "==": lambda a, b: int(a == b), "!=": lambda a, b: int(a != b), "<": lambda a, b: int(a < b),
    ">": lambda a, b: int(a > b), "<=": lambda a, b: int(a <= b), ">=": lambda a, b: int(a >= b),
    "<<": lambda a, b: a << (b & 63), ">>": lambda a, b: a >> (b & 63),
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": _div, "%": lambda a, b: a - _div(a, b) * b,
}


def _apply(op: str, a: int, b: int) -> int:
    """One operator on intmax_t (64-bit, wrapping) values, as cpp evaluates #if."""
    v = _OPS[op](a, b) & ((1 << 64) - 1)
    return v - (1 << 64) if v >= 1 << 63 else v


def preprocess(src: Source) -> tuple[str, Macros]:
    """(the script text with directives blanked, the object-like macros it defines or includes)."""
    if "#" not in src.text:
        return src.text, predefined()
    p = Preprocessor(src)
    return p.script(), p.macros


__all__ = ["preprocess", "Macros", "Preprocessor"]
