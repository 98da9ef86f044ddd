"""The translator without the kernel: parsing of casts, tuples and indexing; the string comparisons it generates
(evaluated as Python over NUL-padded buffers, the layout comm()/str() give in the probe); errors at their
positions; per-CPU maps for additive aggregations; output of stacks, tuples, buffers, print(@m, top, div)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.trace import ast as A
from pyebpf.trace.codegen import Translator, translate
from pyebpf.trace.errors import TraceError
from pyebpf.trace.output import Buf, MapPrinter, Stack, Tup, format_printf
from pyebpf.trace.parser import Parser, parse

EVENTS = [("syscalls", "sys_enter_openat"), ("sched", "sched_switch")]


def check(text: str, **kw):
    p = Parser(text)
    return translate(p.parse(), p.src, events=lambda: EVENTS, **kw)


def test_casts_tuples_and_indexing_parse():
    body = parse('BEGIN { $t = (struct task_struct *)curtask; @x = (1, "a", (uint8)$y); '
                 '@z = $t->real_parent->pid + args->a[2]; }').probes[0].body
    cast = body[0].value
    assert isinstance(cast, A.Cast) and (cast.type, cast.ptr) == ("struct task_struct", 1)
    tup = body[1].value
    assert isinstance(tup, A.Tuple) and len(tup.elems) == 3 and isinstance(tup.elems[2], A.Cast)
    field = body[2].value.left
    assert isinstance(field, A.Field) and field.arrow and field.name == "pid"
    assert isinstance(body[2].value.right, A.Index)
    assert isinstance(parse("BEGIN { @ = (1 + 2) * 3; }").probes[0].body[0].value, A.Binary)


_buf = st.binary(max_size=12).filter(lambda b: b"\0" not in b)


@settings(max_examples=200)
@given(a=_buf, b=_buf, asize=st.integers(1, 16), bsize=st.integers(1, 16))
def test_string_equality_is_c_string_equality(a: bytes, b: bytes, asize: int, bsize: int):
    """What str()/comm() leave in a buffer of `size` bytes (at most size-1 characters, NUL-padded) compares
    equal exactly when the C strings are equal; a literal against a buffer likewise."""
    tr = Translator(A.Program(0, 0, []), None)  # type: ignore[arg-type]
    sa, sb = a[:asize - 1], b[:bsize - 1]
    env = {"x": list(sa.ljust(asize, b"\0")), "y": list(sb.ljust(bsize, b"\0"))}
    assert bool(eval(tr._bytes_equal("x", None, asize, "y", None, bsize, None), env)) == (sa == sb)
    assert bool(eval(tr._bytes_equal("x", None, asize, None, b, len(b) + 1, None), env)) == (sa == b)
    n = max(1, len(b))
    assert bool(eval(tr._bytes_equal("x", None, asize, None, b, len(b) + 1, n), env)) == \
        (sa[:n] == b[:n] or (sa.ljust(n, b"\0")[:n] == b.ljust(n, b"\0")[:n]))


def test_additive_aggregations_use_per_cpu_hashes():
    tr = check("tracepoint:syscalls:sys_enter_openat { @c[comm] = count(); @s = sum(1); @h = hist(2); "
               "@m = max(3); @v = 4; }")
    kinds = {m.name: m.percpu for m in tr.maps.values()}
    assert kinds == {"@c": True, "@s": True, "@h": True, "@m": False, "@v": False}
    assert tr.module.count("PerCpuHashMap(") == 3


@pytest.mark.parametrize("text, message", [
    ("tracepoint:syscalls:sys_enter_openat { @ = retval; }", "The retval builtin can only be used with"),
    ("tracepoint:syscalls:sys_enter_openat { @c = count(); @x = @c + 1; }", "per-CPU count() map"),
    ("BEGIN { print(@nope); }", "Undefined map: @nope"),
    ("BEGIN { $s = \"a\"; $s = \"b\"; }", "assigns non-integer variables once"),
    ("BEGIN { @ = \"a\" < \"b\"; }", "strings compare with == and != only"),
    ("BEGIN { signal(\"KILL\"); }", "signal() is an unsafe function being used in safe mode"),
    ("BEGIN { @ = cpid; }", "cpid cannot be used without child command"),
    ("BEGIN { @ = (1, 2); @ = 3; }", "Type mismatch for @: trying to assign value of type 'int64' when map "
                                      "already contains a value of type '(int64, int64)'"),
    ("BEGIN { @ = 3; @ = \"s\"; }", "Type mismatch for @: trying to assign value of type 'string[2]'"),
    ("kprobe:vfs_read { @ = count(); }", "kprobe probes are not available on this kernel"),
    ("interval:h:1 { @ = count(); }", "interval probe must have unit of time"),
    ("software:nope:1 { @ = count(); }", "nope is not a software probe"),
    ("tracepoint:syscalls:sys_enter_openat { @ = arg0; }", "The arg0 builtin can only be used with"),
])
def test_errors_name_the_problem(text: str, message: str):
    with pytest.raises(TraceError) as e:
        check(text)
    assert message in str(e.value)
    assert str(e.value).startswith("stdin:1:")


def test_print_top_div_and_value_records():
    tr = check("BEGIN { @c[1] = count(); print(@c, 3, 2); print(5); print(comm); printf(\"%r\\n\", buf(0, 4)); }")
    recs = {r.action: r for r in tr.records.values()}
    assert (recs["print"].top, recs["print"].div) == (3, 2)
    assert [t.kind for t in recs["value"].types] in (["int"], ["str"])
    assert recs["printf"].types[0].kind == "buf"


def test_cpid_and_literal_keys_in_the_module():
    tr = check('BEGIN { @[cpid, "lit"] = count(); }', cpid=4242)
    assert "4242" in tr.module and "const_bytes(b'lit', 4)" in tr.module


def test_output_shapes():
    st_ = Stack(["a+1", "b+2"])
    assert st_.text(4) == "\n    a+1\n    b+2\n" and format_printf("%s|", [st_]) == "\n        a+1\n        b+2\n|"
    assert MapPrinter("@k", "count").text({(st_, 7): 3}) == "@k[\n    a+1\n    b+2\n, 7]: 3\n"
    assert str(Tup((1, "ab"))) == "(1, ab)" and str(Buf(b"a\x01\xff")) == "a\\x01\\xff"
    p = MapPrinter("@c", "count", top=2, div=10)
    assert p.text({(1,): 10, (2,): 35, (3,): 20}) == "@c[3]: 2\n@c[2]: 3\n"
    assert json.loads(MapPrinter("@a", "avg").json({(): (9, 2)})) == {"type": "stats", "data": {"@a": 4}}


def test_signal_names_and_numbers_with_unsafe():
    tr = check('BEGIN { signal("KILL"); signal(15); }', unsafe=True)
    assert "send_signal(9)" in tr.module and "send_signal(15)" in tr.module
    with pytest.raises(TraceError, match="NOPE: invalid signal"):
        check('BEGIN { signal("NOPE"); }', unsafe=True)
