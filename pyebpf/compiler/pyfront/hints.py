"""Diagnostic tables: operator names, descriptions of unsupported nodes and what to write instead."""
from __future__ import annotations

import ast


def describe(node: ast.AST) -> str:
    return {"List": "a list", "Dict": "a dict", "Set": "a set", "Tuple": "a tuple", "Lambda": "lambda",
            "ListComp": "a list comprehension", "DictComp": "a dict comprehension", "SetComp": "a set comprehension",
            "GeneratorExp": "a generator expression", "Await": "await", "Yield": "yield", "YieldFrom": "yield",
            "Starred": "*unpacking", "NamedExpr": "the walrus operator :=", "Slice": "slicing"}.get(
        type(node).__name__, type(node).__name__)


BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.FloorDiv: "div", ast.Mod: "mod", ast.LShift: "lsh",
           ast.RShift: "rsh", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor"}
OPNAMES = {ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}
CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}


def binop_hint(op: ast.operator) -> str:
    if isinstance(op, ast.Div):
        return "eBPF has no floating point: use // for integer division"
    if isinstance(op, ast.Pow):
        return "write the multiplication out, or use << for powers of two"
    return "supported: + - * // % << >> & | ^"


STMT_HINTS = {
    "Try": "there are no exceptions in eBPF: check values with if", "Raise": "return a value instead",
    "With": "no context managers in probes", "Import": "import at module level; probes use what the module names",
    "ImportFrom": "import at module level", "Global": "use a map for state shared between runs",
    "Nonlocal": "use a map for state shared between runs", "ClassDef": "define classes at module level",
    "FunctionDef": "define helper functions at module level: they are inlined",
    "AsyncFunctionDef": "probes are not async", "Assert": "use if ...: return", "Match": "use if/elif",
    "AsyncFor": "probes are not async", "AsyncWith": "probes are not async",
}
EXPR_HINTS = {
    "List": "use a map, or a ctypes array field in a Structure", "Dict": "use HashMap(...) at module level",
    "Set": "use a HashMap with the items as keys", "Tuple": "use a ctypes Structure",
    "Lambda": "define a function at module level (it is inlined)", "ListComp": "use a for loop over range(N)",
    "DictComp": "use a for loop and a map", "SetComp": "use a for loop and a map", "GeneratorExp": "use a for loop",
    "NamedExpr": "assign on its own line", "Slice": "index one element at a time",
    "Starred": "pass arguments one by one",
}
