"""Everything outside the subset is a CompileError at file:line:col with a caret and a hint — never a traceback."""
from __future__ import annotations

import os
import tempfile
import uuid

import pytest

from pyebpf.errors import CompileError
from pyebpf.probe.module import load_module

HEADER = """import ctypes
from pyebpf.probe import probe, HashMap, Array, RingBuf, u8, u32, u64, s64, pid, comm, printk
counts = HashMap(u32, u64)
arr = Array(u64, max_entries=4)

class Big(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char * 600)]

class Key(ctypes.Structure):
    _fields_ = [("a", ctypes.c_uint32)]

def helper_recursive(x):
    return helper_recursive(x)

from pyebpf.probe import LinearHistogram, PerfEventArray, ProgArray, kptr, loop, noinline
lh = LinearHistogram(0, 10, 1)
pe = PerfEventArray(Key)
progs = ProgArray(4)
svals = HashMap(u32, Key)

@noinline
def sub_rec(x):
    return sub_rec(x)

@noinline
def sub6(a, b, c, d, e, f):
    return a

def two_args(a, b):
    return a

"""
_DIR = tempfile.mkdtemp(prefix="pyebpf-errors-")

# (body of the probe (each line indented by 4 in the file), section, message fragment, hint fragment, marked line
# index within the body, column of the caret in that line (1-based, counting the 4-space indent))
CASES = [
    ("x = u64(ctx.args[0]) / 2", "raw_tp/sys_enter", "operator / is not supported", "use //", 0, 9),
    ("x = 1.5", "raw_tp/sys_enter", "floating point", "integers", 0, 9),
    ("x = [1, 2]", "raw_tp/sys_enter", "a list is not supported", "map", 0, 9),
    ("x = {}", "raw_tp/sys_enter", "a dict is not supported", "HashMap", 0, 9),
    ("try:\n    pass\nexcept Exception:\n    pass", "raw_tp/sys_enter", "`try` statements", "exceptions", 0, 5),
    ("import os", "raw_tp/sys_enter", "`import` statements", "module level", 0, 5),
    ("print(pid())", "raw_tp/sys_enter", "print() does not exist", "printk", 0, 5),
    ("x = u64(ctx.args[0]) ** 2", "raw_tp/sys_enter", "operator ** is only supported between constants", "<<", 0,
     9),
    ("f = lambda: 1", "raw_tp/sys_enter", "lambda is not supported", "module level", 0, 9),
    ("with open('x'):\n    pass", "raw_tp/sys_enter", "`with` statements", "context managers", 0, 5),
    ("for x in [1, 2]:\n    pass", "raw_tp/sys_enter", "only over range", "range(N)", 0, 14),
    ("x = nothing_here", "raw_tp/sys_enter", "'nothing_here' is not defined", "", 0, 9),
    ("if ctx.args[0]:\n    y = 1\nreturn y", "raw_tp/sys_enter", "may be used before it is assigned", "assign y",
     2, 12),
    ("return helper_recursive(1)", "raw_tp/sys_enter", "recursion is not possible", "bounded loop", -1, 0),  # at the call inside the helper
    ("class C:\n    pass", "raw_tp/sys_enter", "`classdef` statements", "module level", 0, 5),
    ("global counts", "raw_tp/sys_enter", "`global` statements", "map", 0, 5),
    ("return 'text'", "raw_tp/sys_enter", "expected an integer, got a string", "", 0, 12),
    ("return ctx.nope", "raw_tp/sys_enter", "has no field 'nope'", "args", 0, 12),
    ("counts[Key(1)] = 1", "raw_tp/sys_enter", "the key must be a", "", 0, 12),
    ("del arr[0]", "raw_tp/sys_enter", "cannot be deleted", "store 0", 0, 9),
    ("x = comm() + 1", "raw_tp/sys_enter", "expected an integer", "", 0, 9),
    ("s = 'hi'", "raw_tp/sys_enter", "expected an integer, got a string", "", 0, 9),
    ("printk(pid())", "raw_tp/sys_enter", "string literal or an f-string", "", 0, 12),
    ("b = Big()\nreturn 0", "raw_tp/sys_enter", "bytes of stack", "per-CPU array", -1, 0),
    ("while pid():\n    pass\nelse:\n    pass", "raw_tp/sys_enter", "while ... else", "flag", 0, 5),
    ("a, b = 1, 2", "raw_tp/sys_enter", "tuple unpacking", "its own line", 0, 5),
    ("x: int = 1", "raw_tp/sys_enter", "annotations must name an integer type", "u8..u64", 0, 8),
    ("counts.pop(1)", "raw_tp/sys_enter", "m.pop() is not supported", "del m[k]", 0, 5),
    ("a = b = 1", "raw_tp/sys_enter", "chained assignment", "one name", 0, 5),
    ("i = pid()\nreturn ctx.args[i]", "raw_tp/sys_enter", "the index must be a constant", "args[1]", 1, 21),
    ("return pid() is pid()", "raw_tp/sys_enter", "`is` is not supported", "==", 0, 12),
    ("return 1 << 70000000000000000000000", "raw_tp/sys_enter", "does not fit in 64 bits", "", 0, 17),
    ("x = f'{pid()}'", "raw_tp/sys_enter", "f-strings are only allowed as printk", "printk", 0, 9),
    ("for i in range(0, 10, pid()):\n    pass", "raw_tp/sys_enter", "constant, non-zero step", "", 0, 14),
    ("return ctx.header(Key)", "raw_tp/sys_enter", "needs a packet program", "", 0, 12),
    ("return x := 1", "raw_tp/sys_enter", "syntax error", "", -2, 0),
    ("return sub_rec(1)", "raw_tp/sys_enter", "recursion is not possible", "", -1, 0),
    ("return sub6(1, 2, 3, 4, 5, 6)", "raw_tp/sys_enter", "at most 5 positional arguments", "", 0, 12),
    ("lh.record(1, 2)", "raw_tp/sys_enter", "hist.record(value) takes one value", "key=", 0, 5),
    ("pe.output()", "raw_tp/sys_enter", "takes one record", "", 0, 5),
    ("progs.call()", "raw_tp/sys_enter", "takes the slot", "", 0, 5),
    ("return kptr(1, pid())", "raw_tp/sys_enter", 'kptr(address, "struct NAME")', "", 0, 12),
    ("v = svals.get(1, 2)", "raw_tp/sys_enter", "takes no default", "", 0, 22),
    ("return ctx.args[0].field", "raw_tp/sys_enter", "has no attribute 'field'", "", 0, 12),
    ("return loop(10)", "raw_tp/sys_enter", "loop(n, body) takes a count", "return 0 (go on)", 0, 12),
    ("return loop(10, counts)", "raw_tp/sys_enter", "must be a function of the module", "", 0, 21),
    ("return loop(10, two_args)", "raw_tp/sys_enter", "takes the iteration index only", "", 0, 21),
]


def compile_body(body: str, section: str) -> tuple[str, int]:
    """Write a module whose probe has `body`; returns (path, line number of the body's first line)."""
    src = HEADER + f'@probe("{section}")\ndef p(ctx):\n' + "".join(f"    {ln}\n" for ln in body.splitlines())
    path = os.path.join(_DIR, f"e{uuid.uuid4().hex}.py")
    with open(path, "w") as fh:
        fh.write(src)
    return path, HEADER.count("\n") + 3


@pytest.mark.parametrize("body,section,message,hint,line_idx,col", CASES, ids=[c[2][:40] for c in CASES])
def test_compile_error(body, section, message, hint, line_idx, col):
    path, first = compile_body(body, section)
    with pytest.raises(CompileError) as info:
        mod = load_module(path)
        mod.p.compile()
    e = info.value
    assert message in e.message
    if hint:
        assert hint in e.hint
    assert e.filename == path
    text = str(e)
    assert text.startswith(f"{path}:{e.line}:{e.column}: error: ")
    if line_idx >= 0:
        assert e.line == first + line_idx
        assert e.column == col
        lines = text.splitlines()
        assert lines[1].strip() == body.splitlines()[line_idx].strip()
        assert lines[2].index("^") - 4 == col - 1  # the caret sits under the column
    elif line_idx == -2:
        assert e.line >= first


def test_unknown_section():
    from pyebpf.probe import probe

    @probe("nonsense/section")
    def p(ctx):
        return 0

    with pytest.raises(CompileError, match="unknown section"):
        p.compile()


def test_calling_a_probe_in_python_is_a_clear_error():
    from pyebpf.probe import pid, probe

    @probe("raw_tp/sys_enter")
    def p(ctx):
        return 0

    with pytest.raises(TypeError, match="use p.run"):
        p(None)
    with pytest.raises(CompileError, match="only has a meaning inside a probe"):
        pid()


def test_cli_reports_compile_error_without_traceback(capsys):
    from pyebpf.cli import main

    path, first = compile_body("x = 1.5", "raw_tp/sys_enter")
    assert main(["probe", path, "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{first}:9: error: floating point" in err
    assert "Traceback" not in err


def test_deep_nesting_is_a_compile_error():
    body = "x = " + "(" * 400 + "1" + " + 1)" * 400
    path, _ = compile_body(body, "raw_tp/sys_enter")
    with pytest.raises(CompileError) as info:
        load_module(path).p.compile()
    assert "nest" in str(info.value)


def test_huge_loop_bound_is_a_compile_error():
    path, first = compile_body("for i in range(10 ** 9):\n    pass", "raw_tp/sys_enter")
    with pytest.raises(CompileError, match="more than"):
        load_module(path).p.compile()
