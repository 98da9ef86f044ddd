"""Script errors come out as bpftrace 0.17 prints them (line:col-range, message, source line, tildes)."""
import pytest

from pyebpf.trace.codegen import translate
from pyebpf.trace.errors import TraceError
from pyebpf.trace.parser import Parser


def check(text: str, **kw):
    p = Parser(text)
    return translate(p.parse(), p.src, events=lambda: [("syscalls", "sys_enter_openat")], **kw)


@pytest.mark.parametrize("text, expected", [
    ("BEGIN { @x = ; }", "stdin:1:14-15: ERROR: syntax error, unexpected ;\nBEGIN { @x = ; }\n             ~"),
    ("BEGIN { @x = foo(); }", "stdin:1:14-17: ERROR: Unknown function: foo\nBEGIN { @x = foo(); }\n             ~~~"),
    ("BEGIN { $x = 1 + }", "stdin:1:18-19: ERROR: syntax error, unexpected }\nBEGIN { $x = 1 + }\n                 ~"),
])
def test_errors_as_bpftrace_prints_them(text, expected):
    with pytest.raises(TraceError) as e:
        check(text)
    assert str(e.value) == expected


def test_kprobe_is_a_clear_error():
    with pytest.raises(TraceError, match="kprobe probes are not available"):
        check("kprobe:do_nanosleep { @ = count(); }")


def test_aggregate_kinds_cannot_mix():
    with pytest.raises(TraceError, match="Type mismatch for @x"):
        check("BEGIN { @x = count(); @x = hist(3); }")


def test_translation_declares_maps_and_records():
    tr = check('BEGIN { @c[comm, 1] = count(); @h = hist(5); printf("%d %s\\n", pid, comm); exit(); }')
    assert {m.kind for m in tr.maps.values()} == {"count", "hist"}
    assert [r.action for r in tr.records.values()] == ["printf", "exit"]
    assert "K_m0" in tr.module and "EVENTS.output" in tr.module
