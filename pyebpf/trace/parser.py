"""Lexer and recursive-descent parser for bpftrace 0.17's language (probes, predicates, C-like statements)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from pyebpf.trace import ast as A
from pyebpf.trace.cpp import preprocess
from pyebpf.trace.errors import Source, TraceError

MAX_SOURCE = 1 << 20
MAX_DEPTH = 200

BUILTINS = {"pid", "tid", "uid", "gid", "comm", "nsecs", "elapsed", "cpu", "cgroup", "curtask", "args", "retval",
            "func", "probe", "kstack", "ustack", "rand", "username", "numaid"} | {f"arg{i}" for i in range(10)}

_PUNCT = ["<<=", ">>=", "->", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "++", "--", "+=", "-=", "*=", "/=",
          "%=", "&=", "|=", "^=", "(", ")", "{", "}", "[", "]", ",", ";", ":", "?", ".", "=", "<", ">", "+", "-", "*",
          "/", "%", "&", "|", "^", "!", "~"]
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+|//[^\n]*|/\*.*?\*/)
  | (?P<int>0[xX][0-9a-fA-F]+|[0-9]+[eE][0-9]+|[0-9][0-9_]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<map>@[A-Za-z_0-9]*)
  | (?P<var>\$[A-Za-z_0-9]+)
  | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<punct>""" + "|".join(re.escape(p) for p in _PUNCT) + r""")
""", re.VERBOSE | re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "e": "\x1b"}


@dataclass
class Tok:
    kind: str  # int str map var ident punct probe eof
    text: str
    pos: int
    end: int
    hide: frozenset = frozenset()  # macros this token was expanded from (not expanded again)


def _unescape(src: Source, body: str, pos: int) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in _ESCAPES:
            out.append(_ESCAPES[n])
            i += 2
        elif n in "x" and re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:]):
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            out.append(chr(int(m.group(), 16)))
            i += 2 + len(m.group())
        elif n.isdigit():
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(chr(int(m.group(), 8)))
            i += 1 + len(m.group())
        else:
            raise src.error(f"invalid escape character '\\{n}'", pos + i + 1, pos + i + 3)
    return "".join(out)


class Parser:
    """Tokens are produced on demand: attach points lex differently from code (paths, wildcards, colons)."""

    def __init__(self, text: str, name: str = "stdin"):
        if len(text) > MAX_SOURCE:
            raise TraceError(f"program is too long ({len(text)} bytes, at most {MAX_SOURCE})", name)
        self.src = Source(text, name)
        # the #! line and preprocessor directives are blanked, keeping every offset (pyebpf.trace.cpp); the
        # object-like macros they define are expanded token by token where the script names them
        self.text, macros = preprocess(self.src)
        self.macros = macros.objects
        self.headers = macros.headers
        self.pending: list[Tok] = []  # tokens of a macro's body still to be returned
        self.i = 0
        self.depth = 0
        self.tok: Tok = self._lex()

    # -- lexing ---------------------------------------------------------------------------------------------------
    def _skip_ws(self) -> None:
        while True:
            m = re.compile(r"[ \t\r\n]+|//[^\n]*|/\*.*?\*/", re.DOTALL).match(self.text, self.i)
            if not m or not m.group():
                if self.text.startswith("/*", self.i):
                    raise self.src.error("unterminated comment", self.i, self.i + 2)
                return
            self.i = m.end()

    def _lex(self) -> Tok:
        tok = self._lex_one()
        while tok.kind == "ident" and tok.text in self.macros and tok.text not in tok.hide:
            self._expand(tok)
            tok = self._lex_one()
        return tok

    def _expand(self, at: Tok) -> None:
        """Queue the tokens of macro `at`, each placed at the macro's name (errors point into the script) and
        carrying the macros it came from, which are not expanded again inside it (C's rule)."""
        if len(at.hide) > 64 or len(self.pending) > 10000:
            raise self.src.error(f"macro {at.text} expands too deeply", at.pos, at.end)
        body = Parser.__new__(Parser)
        body.src, body.text, body.i, body.macros, body.pending = self.src, self.macros[at.text], 0, {}, []
        hide = at.hide | {at.text}
        toks = []
        while True:
            try:
                t = body._lex_one()
            except TraceError:
                raise self.src.error(f"cannot expand macro {at.text}: {self.macros[at.text]!r}", at.pos,
                                     at.end) from None
            if t.kind == "eof":
                break
            toks.append(Tok(t.kind, t.text, at.pos, at.end, hide))
            if len(toks) > 1000:
                raise self.src.error(f"macro {at.text} is too long", at.pos, at.end)
        self.pending[:0] = toks

    def _lex_one(self) -> Tok:
        if self.pending:
            return self.pending.pop(0)
        self._skip_ws()
        if self.i >= len(self.text):
            return Tok("eof", "", self.i, self.i)
        m = _TOKEN.match(self.text, self.i)
        if not m:
            c = self.text[self.i]
            if c == '"':
                raise self.src.error("unterminated string", self.i, len(self.text.split("\n", 1)[0]) + self.i)
            raise self.src.error(f"invalid character '{c}'", self.i, self.i + 1)
        kind = m.lastgroup or "punct"
        tok = Tok(kind, m.group(), m.start(), m.end())
        self.i = m.end()
        if kind == "str":
            tok.text = _unescape(self.src, m.group()[1:-1], m.start() + 1)
        return tok

    def _lex_attach(self) -> Tok:
        """An attach point: everything up to whitespace, ',', '{' or a '/' that starts a predicate (a '/' right
        after ':' or inside a path segment belongs to a uprobe path)."""
        self._skip_ws()
        start = j = seg = self.i
        in_path = False
        while j < len(self.text):
            c = self.text[j]
            if c in " \t\r\n,{":
                break
            # a '/' right after ':' (or after ':.' / ':..') starts a path: uprobe:/bin/bash, uprobe:./prog
            starts_path = c == "/" and seg > start and self.text[seg:j] in ("", ".", "..")
            if c == "/" and not in_path and not starts_path:
                break
            if starts_path:
                in_path = True
            if c == ":":
                in_path = False
                seg = j + 1
            j += 1
        if j == start:
            return self._lex()
        self.i = j
        return Tok("probe", self.text[start:j], start, j)

    def advance(self) -> Tok:
        t = self.tok
        self.tok = self._lex()
        return t

    def error_here(self, tok: Tok | None = None) -> TraceError:
        t = tok or self.tok
        what = "end of file" if t.kind == "eof" else (f'"{t.text}"' if t.kind == "str" else t.text)
        return self.src.error(f"syntax error, unexpected {what}", t.pos, max(t.end, t.pos + 1))

    def expect(self, text: str) -> Tok:
        if self.tok.text != text or self.tok.kind in ("str",):
            err = self.error_here()
            err.message += f", expecting {text}"
            raise TraceError(err.message, err.filename, err.line, err.column, err.source_line, length=err.length)
        return self.advance()

    def accept(self, text: str) -> bool:
        if self.tok.kind in ("punct", "ident") and self.tok.text == text:
            self.advance()
            return True
        return False

    # -- program --------------------------------------------------------------------------------------------------
    def parse(self) -> A.Program:
        self.i = 0
        probes = []
        structs = []
        self._skip_ws()
        while True:  # C definitions (`struct foo { ... };`) come before the probes, as in bpftrace 0.17
            from pyebpf.trace.cdefs import parse_definition, starts_definition

            if not starts_definition(self.text, self.i):
                break
            d, self.i = parse_definition(self.src, self.text, self.i)
            structs.append(d)
            self._skip_ws()
        self.tok = self._lex_attach()
        while self.tok.kind != "eof":
            probes.append(self.probe())
            self.tok = self._lex_attach()
        if not probes:
            raise TraceError("No probes to attach" if self.text.strip() else "syntax error, unexpected end of file",
                             self.src.name)
        return A.Program(0, len(self.text), probes, structs)

    def probe(self) -> A.Probe:
        points = []
        start = self.tok.pos
        while True:
            t = self.tok
            if t.kind not in ("probe", "ident"):
                raise self.error_here()
            points.append(A.AttachPoint(t.pos, t.end, t.text))
            # after an attach point: ',', a predicate or the block
            self._skip_ws()
            if self.text.startswith(",", self.i):
                self.i += 1
                self.tok = self._lex_attach()
                continue
            self.tok = self._lex()
            break
        pred = None
        if self.tok.text == "/" and self.tok.kind == "punct":
            self.advance()
            pred = self.expr(no_div=True)
            self.expect("/")
        body = self.block()
        return A.Probe(start, body and body[-1].end or start, points, pred, body)

    def block(self) -> list[A.Node]:
        if self.tok.text != "{":
            err = self.error_here()
            raise TraceError(err.message + ", expecting {", err.filename, err.line, err.column, err.source_line,
                             length=err.length)
        self.i = self.tok.end
        self.tok = self._lex()
        stmts: list[A.Node] = []
        while not (self.tok.kind == "punct" and self.tok.text == "}"):
            if self.tok.kind == "eof":
                raise self.error_here()
            if self.accept(";"):
                continue
            s = self.statement()
            stmts.append(s)
            if isinstance(s, (A.If, A.Unroll, A.While)):
                continue
            if not (self.tok.kind == "punct" and self.tok.text in (";", "}")):
                raise self.error_here()
        end_tok = self.tok
        # the token after '}' is read by the caller in the right mode (attach point or code)
        self.i = end_tok.end
        self.tok = Tok("punct", "}", end_tok.pos, end_tok.end)
        return stmts or []

    def _after_block(self) -> None:
        self.tok = self._lex()

    def statement(self) -> A.Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.src.error("statements nest too deeply", self.tok.pos, self.tok.end)
        try:
            return self._statement()
        finally:
            self.depth -= 1

    def _statement(self) -> A.Node:
        t = self.tok
        if t.kind == "ident" and t.text == "if":
            self.advance()
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            then = self.block()
            self._after_block()
            orelse: list[A.Node] = []
            if self.tok.kind == "ident" and self.tok.text == "else":
                self.advance()
                if self.tok.kind == "ident" and self.tok.text == "if":
                    orelse = [self.statement()]
                else:
                    orelse = self.block()
                    self._after_block()
            return A.If(t.pos, self.tok.pos, cond, then, orelse)
        if t.kind == "ident" and t.text == "unroll":
            self.advance()
            self.expect("(")
            n = self.tok
            if n.kind != "int":
                raise self.src.error("unroll value must be an integer literal", n.pos, n.end)
            self.advance()
            self.expect(")")
            count = _int(n.text)
            if not 1 <= count <= 100:
                raise self.src.error("unroll maximum value is 100" if count > 100 else
                                     "unroll minimum value is 1", t.pos, n.end + 1)
            body = self.block()
            self._after_block()
            return A.Unroll(t.pos, self.tok.pos, count, body)
        if t.kind == "ident" and t.text == "while":
            self.advance()
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            body = self.block()
            self._after_block()
            return A.While(t.pos, self.tok.pos, cond, body)
        if t.kind == "ident" and t.text in ("return", "break", "continue"):
            self.advance()
            return A.Jump(t.pos, t.end, t.text)
        if t.kind == "punct" and t.text in ("++", "--"):
            self.advance()
            target = self.postfix()
            self._check_lvalue(target)
            return A.Assign(t.pos, target.end, target, t.text, None)
        e = self.expr()
        if self.tok.kind == "punct" and self.tok.text in ("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
                                                           "<<=", ">>="):
            op = self.advance().text
            self._check_lvalue(e)
            value = self.expr()
            return A.Assign(e.pos, value.end, e, op, value)
        if self.tok.kind == "punct" and self.tok.text in ("++", "--"):
            op = self.advance()
            self._check_lvalue(e)
            return A.Assign(e.pos, op.end, e, op.text, None)
        return A.ExprStmt(e.pos, e.end, e)

    def _check_lvalue(self, e: A.Node) -> None:
        if not isinstance(e, (A.MapRef, A.Var)):
            raise self.src.error("syntax error, unexpected =", self.tok.pos, self.tok.end)

    # -- expressions ----------------------------------------------------------------------------------------------
    _LEVELS = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="), ("<<", ">>"),
               ("+", "-"), ("*", "/", "%")]

    def expr(self, no_div: bool = False) -> A.Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.src.error("expression nests too deeply", self.tok.pos, self.tok.end)
        try:
            cond = self.binary(0, no_div)
            if self.tok.kind == "punct" and self.tok.text == "?":
                self.advance()
                then = self.expr()
                self.expect(":")
                orelse = self.expr(no_div)
                return A.Ternary(cond.pos, orelse.end, cond, then, orelse)
            return cond
        finally:
            self.depth -= 1

    def binary(self, level: int, no_div: bool) -> A.Node:
        if level == len(self._LEVELS):
            return self.unary(no_div)
        left = self.binary(level + 1, no_div)
        ops = self._LEVELS[level]
        while self.tok.kind == "punct" and self.tok.text in ops and not (no_div and self.tok.text == "/"):
            op = self.advance().text
            right = self.binary(level + 1, no_div)
            left = A.Binary(left.pos, right.end, op, left, right)
        return left

    def unary(self, no_div: bool) -> A.Node:
        t = self.tok
        if t.kind == "punct" and t.text in ("!", "~", "-", "*", "&", "+"):
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.src.error("expression nests too deeply", t.pos, t.end)
            arg = self.unary(no_div)
            self.depth -= 1
            if t.text == "+":
                return arg
            return A.Unary(t.pos, arg.end, t.text, arg)
        return self.postfix()

    def postfix(self) -> A.Node:
        e = self.primary()
        while self.tok.kind == "punct" and self.tok.text in (".", "->", "["):
            op = self.advance()
            if op.text == "[":
                index = self.expr()
                end = self.expect("]").end
                e = A.Index(e.pos, end, e, index)
                continue
            name = self.tok
            if name.kind not in ("ident", "int"):
                raise self.error_here()
            self.advance()
            e = A.Field(e.pos, name.end, e, name.text, op.text == "->")
        return e

    _C_TYPES = {"struct", "union", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "int", "char", "unsigned", "long", "short", "void", "u8", "u16", "u32", "u64", "s8", "s16", "s32",
                "s64"}

    def _cast_ahead(self) -> bool:
        """After '(': a C type name and ')' follow (a cast), not an expression."""
        m = re.match(r"\s*(struct|union|enum)\s+[A-Za-z_]\w*\s*\**\s*\)|\s*(u?int(8|16|32|64)|int|char|"
                     r"unsigned\s+\w+|long|short|void|[us](8|16|32|64))\s*\**\s*\)", self.text[self.tok.pos:])
        return m is not None and self.tok.kind == "ident" and self.tok.text in self._C_TYPES

    def cast(self, start: Tok) -> A.Node:
        m = re.match(r"([^)]*)\)", self.text[self.tok.pos:])
        assert m is not None
        inner = m.group(1)
        ptr = inner.count("*")
        ctype = " ".join(inner.replace("*", " ").split())
        self.i = self.tok.pos + m.end()
        self.tok = self._lex()
        arg = self.unary(False)
        return A.Cast(start.pos, arg.end, ctype, ptr, arg)

    def sizeof(self, start: Tok) -> A.Node:
        """`sizeof(TYPE)` (a C integer type, `struct X`, pointers) or `sizeof(EXPR)`."""
        self.advance()
        if self._cast_ahead():
            m = re.match(r"([^)]*)\)", self.text[self.tok.pos:])
            assert m is not None
            inner = m.group(1)
            end = self.tok.pos + m.end()
            self.i = end
            self.tok = self._lex()
            return A.Sizeof(start.pos, end, " ".join(inner.replace("*", " ").split()), inner.count("*"), None)
        arg = self.expr()
        end = self.expect(")").end
        return A.Sizeof(start.pos, end, "", 0, arg)

    def primary(self) -> A.Node:
        t = self.tok
        if t.kind == "int":
            self.advance()
            return A.Int(t.pos, t.end, _int(t.text))
        if t.kind == "str":
            self.advance()
            return A.Str(t.pos, t.end, t.text)
        if t.kind == "var":
            self.advance()
            return A.Var(t.pos, t.end, t.text)
        if t.kind == "map":
            self.advance()
            keys: list[A.Node] = []
            end = t.end
            if self.tok.kind == "punct" and self.tok.text == "[":
                self.advance()
                keys.append(self.expr())
                while self.accept(","):
                    keys.append(self.expr())
                end = self.expect("]").end
            return A.MapRef(t.pos, end, t.text, keys)
        if t.kind == "punct" and t.text == "(":
            self.advance()
            if self._cast_ahead():
                return self.cast(t)
            e = self.expr()
            if self.tok.kind == "punct" and self.tok.text == ",":
                elems = [e]
                while self.accept(","):
                    elems.append(self.expr())
                end = self.expect(")").end
                return A.Tuple(t.pos, end, elems)
            self.expect(")")
            return e
        if t.kind == "ident":
            self.advance()
            if t.text == "sizeof" and self.tok.kind == "punct" and self.tok.text == "(":
                return self.sizeof(t)
            if self.tok.kind == "punct" and self.tok.text == "(":
                self.advance()
                args: list[A.Node] = []
                if not (self.tok.kind == "punct" and self.tok.text == ")"):
                    args.append(self.expr())
                    while self.accept(","):
                        args.append(self.expr())
                end = self.expect(")").end
                return A.Call(t.pos, end, t.text, args)
            return A.Builtin(t.pos, t.end, t.text)
        raise self.error_here()


def _int(text: str) -> int:
    if "e" in text.lower() and not text.lower().startswith("0x"):
        mant, _, exp = text.lower().partition("e")
        return int(mant) * 10 ** min(int(exp), 19)
    return int(text.replace("_", ""), 0) if not re.fullmatch(r"0[0-7]+", text) else int(text, 8)


def parse(text: str, name: str = "stdin") -> A.Program:
    return Parser(text, name).parse()


__all__ = ["parse", "Parser", "BUILTINS"]
