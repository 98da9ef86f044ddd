"""The C preprocessor subset of bpftrace scripts (pyebpf.trace.cpp), without the kernel: object-like macros
expanded at their use (errors keep the script's positions), C's no-re-expansion rule, conditionals, #if
arithmetic, macros read from an installed header, bounded and error-reporting on bad input."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.trace import ast as A
from pyebpf.trace.cpp import Preprocessor, preprocess
from pyebpf.trace.errors import Source, TraceError
from pyebpf.trace.parser import parse


def value_of(script: str) -> A.Node:
    """The value assigned by the script's first statement (`@ = EXPR;`)."""
    return parse(script).probes[0].body[0].value


def test_object_macros_expand_where_used():
    v = value_of("#define FOO 40\n#define BAR (FOO + 2)\nBEGIN { @ = BAR * 1; }")
    assert isinstance(v, A.Binary) and v.op == "*"
    inner = v.left
    assert isinstance(inner, A.Binary) and inner.op == "+" and inner.left.value == 40 and inner.right.value == 2
    # every token of the expansion sits at the macro's name in the script
    pos = "#define FOO 40\n#define BAR (FOO + 2)\nBEGIN { @ = ".__len__()
    assert inner.left.pos == pos and inner.left.end == pos + 3


def test_a_macro_is_not_expanded_inside_itself():
    v = value_of("#define A A + 1\nBEGIN { @ = A; }")
    assert isinstance(v, A.Binary) and isinstance(v.left, A.Builtin) and v.left.name == "A"


def test_function_like_macros_are_not_expanded_as_in_bpftrace():
    v = value_of("#define TWICE(x) ((x) * 2)\nBEGIN { @ = TWICE(5); }")
    assert isinstance(v, A.Call) and v.name == "TWICE"


def test_string_macro_and_redefinition_and_undef():
    assert value_of('#define S "hi"\nBEGIN { @ = S; }').value == "hi"
    assert value_of("#define X 1\n#define X 2\nBEGIN { @ = X; }").value == 2
    v = value_of("#define X 1\n#undef X\nBEGIN { @ = X; }")
    assert isinstance(v, A.Builtin) and v.name == "X"


@pytest.mark.parametrize("cond, taken", [
    ("#ifdef BPFTRACE_HAVE_BTF", True), ("#ifndef BPFTRACE_HAVE_BTF", False), ("#if 0", False),
    ("#if 1 + 2 * 3 == 7", True), ("#if defined(NOPE) || (8 >> 1) == 4", True), ("#if !defined NOPE && 0", False),
    ("#if 1 ? 0 : 1", False), ("#if -7 / 2 == -3", True), ("#if UNKNOWN_NAME", False), ("#if FUNC(1) + 1", True),
])
def test_conditionals(cond, taken):
    script = f"{cond}\nBEGIN {{ @ = 1; }}\n#else\nBEGIN {{ @ = 2; }}\n#endif"
    assert value_of(script).value == (1 if taken else 2)


@pytest.mark.parametrize("defs, cond, taken", [
    ("#define TWICE(x) ((x) * 2)", "#if TWICE(2) == 4", True),
    ("#define ADD(a, b) ((a) + (b))", "#if ADD(1, ADD(2, 3)) == 6", True),      # nested calls
    ("#define ADD(a, b) ((a) + (b))\n#define N 5", "#if ADD(N, (1, 2)) == 7", False),  # (1, 2): one argument
    ("#define V(...) (__VA_ARGS__ + 0)", "#if V(4) == 4", True),                 # variadic
    ("#define F(a, ...) (a)", "#if F(3, 4, 5) == 3", True),
    ("#define Z() 9", "#if Z() == 9", True),                                     # no parameters
    ("#define F(x) x\n#undef F", "#if F(1)", False),                             # undefined again: 0
    ("#define KV(a, b, c) (((a) << 16) + ((b) << 8) + (c))", "#if KV(5, 10, 0) > KV(4, 19, 0)", True),
    ("#define F(x) G(x)\n#define G(x) (x + 1)", "#if F(1) == 2", True),           # rescanned
    ("#define F(x) F(x)", "#if F(1)", False),                                    # not expanded inside itself
    ("#define TWO(x) x x", "#if TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(TWO(1)))))))))))))))))",
     False),                                                                     # bounded: too large is false
])
def test_function_like_macros_in_conditionals(defs, cond, taken):
    script = f"{defs}\n{cond}\nBEGIN {{ @ = 1; }}\n#else\nBEGIN {{ @ = 2; }}\n#endif"
    assert value_of(script).value == (1 if taken else 2)


def test_elif_chain_and_nesting():
    script = ("#if 0\nBEGIN { @ = 1; }\n#elif 0\nBEGIN { @ = 2; }\n#elif 1\n#if 0\nBEGIN { @ = 3; }\n#else\n"
              "BEGIN { @ = 4; }\n#endif\n#else\nBEGIN { @ = 5; }\n#endif")
    assert value_of(script).value == 4


def test_blanking_keeps_offsets():
    src = Source("#!/usr/bin/env bpftrace\n#define X 1\n#if 0\nfoo bar\n#endif\nBEGIN { }")
    text, macros = preprocess(src)
    assert len(text) == len(src.text) and text.count("\n") == src.text.count("\n")
    assert text.endswith("BEGIN { }") and "foo" not in text and macros.objects["X"] == "1"


def test_header_macros_come_from_installed_headers():
    if not any(os.path.exists(os.path.join(d, "sys/socket.h")) for d in ("/usr/include",
                                                                          "/usr/include/x86_64-linux-gnu")):
        pytest.skip("no <sys/socket.h> installed")
    import socket

    v = value_of("#include <sys/socket.h>\nBEGIN { @ = AF_INET6; }")
    assert isinstance(v, A.Int) and v.value == socket.AF_INET6
    # a header that is not installed (kernel-internal) adds nothing and is no error: BTF answers for its types
    assert value_of("#include <net/sock.h>\nBEGIN { @ = 1; }").value == 1


@pytest.mark.parametrize("script, message", [
    ("#if 1\nBEGIN { }", "unterminated conditional directive"),
    ("#endif\nBEGIN { }", "#endif without #if"),
    ("#error stop here\nBEGIN { }", "#error stop here"),
    ("#frobnicate\nBEGIN { }", "invalid preprocessing directive #frobnicate"),
    ('#define Q "unterminated\nBEGIN { @ = Q; }', "cannot expand macro Q"),
])
def test_bad_directives_are_errors_at_their_line(script, message):
    with pytest.raises(TraceError) as e:
        parse(script)
    assert message in str(e.value) and "Traceback" not in str(e.value)


def test_deep_macro_chains_are_bounded():
    defs = "".join(f"#define M{i} M{i + 1}\n" for i in range(200))
    with pytest.raises(TraceError, match="expands too deeply"):
        parse(defs + "BEGIN { @ = M0; }")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="#ifdenl01 ()+!&|\n", max_size=80))
def test_any_directive_soup_is_an_answer_or_a_trace_error(text):
    try:
        Preprocessor(Source(text + "\nBEGIN { }")).script()
    except TraceError:
        pass


def test_a_hash_inside_a_comment_is_no_directive():
    # (gethostlatency.bt has "# need modifications ..." inside its header comment)
    script = '/*\n # need modifications\n */\n#define X 3 /* three */\nBEGIN { printf("a // b # c"); @ = X; }'
    assert value_of(script.replace('printf("a // b # c"); ', "")).value == 3
    body = parse(script).probes[0].body
    assert body[0].expr.args[0].value == "a // b # c" and body[1].value.value == 3
