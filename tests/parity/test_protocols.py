"""The backend-neutral API (pyebpf.abi.protocols) holds on both sides: every concrete class the VM or the kernel
loader hands out is an instance of its protocol (runtime_checkable isinstance) and its methods take the protocol's
parameters, in the same order, of the same kind, with the same defaults (inspect); extra parameters are optional."""
from __future__ import annotations

import inspect
from typing import Any

import pytest

from pyebpf import assemble
from pyebpf.abi import protocols as P
from pyebpf.abi.maps import MapType

from sides import make_map, spec_for


def protocol_methods(proto: type) -> dict[str, Any]:
    """name -> function the protocol (and the protocols it extends) declares."""
    out: dict[str, Any] = {}
    for klass in reversed(proto.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        for name, value in vars(klass).items():
            if inspect.isfunction(value) and (not name.startswith("_") or name in (
                    "__enter__", "__exit__", "__getitem__", "__setitem__", "__delitem__", "__iter__", "__len__",
                    "__contains__")):
                out[name] = value
    return out


def signature_problems(proto: type, impl: type) -> list[str]:
    """How impl's methods differ from proto's: missing, a parameter missing / of another kind / another default, or
    a required parameter the protocol does not have."""
    problems = []
    for name, want_fn in protocol_methods(proto).items():
        have_fn = inspect.getattr_static(impl, name, None)
        if have_fn is None:
            problems.append(f"{impl.__name__}.{name} missing")
            continue
        if not callable(have_fn):
            problems.append(f"{impl.__name__}.{name} is not a method")
            continue
        want = list(inspect.signature(want_fn).parameters.values())[1:]
        have = list(inspect.signature(getattr(impl, name)).parameters.values())[1:]
        have_by_name = {p.name: p for p in have}
        var_pos = any(p.kind is p.VAR_POSITIONAL for p in have)
        var_kw = any(p.kind is p.VAR_KEYWORD for p in have)
        positional = [p for p in have if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        for i, w in enumerate(want):
            if w.kind is w.VAR_POSITIONAL:
                if not var_pos:
                    problems.append(f"{impl.__name__}.{name} takes no *{w.name}")
                continue
            h = have_by_name.get(w.name)
            if h is None:
                if not (var_pos if w.kind is not w.KEYWORD_ONLY else var_kw):
                    problems.append(f"{impl.__name__}.{name} has no parameter {w.name!r}")
                continue
            if w.kind is w.POSITIONAL_OR_KEYWORD and (h.kind is not h.POSITIONAL_OR_KEYWORD or
                                                     positional.index(h) != i):
                problems.append(f"{impl.__name__}.{name}: {w.name!r} is not positional argument {i + 1}")
            if w.kind is w.KEYWORD_ONLY and h.kind not in (h.KEYWORD_ONLY, h.POSITIONAL_OR_KEYWORD):
                problems.append(f"{impl.__name__}.{name}: {w.name!r} cannot be passed by keyword")
            if w.default is not h.default and w.default != h.default:
                problems.append(f"{impl.__name__}.{name}: {w.name!r} defaults to {h.default!r}, not {w.default!r}")
        wanted = {w.name for w in want}
        for h in have:
            if h.name not in wanted and h.default is h.empty and h.kind not in (h.VAR_POSITIONAL, h.VAR_KEYWORD):
                problems.append(f"{impl.__name__}.{name} requires {h.name!r}, which the protocol does not pass")
    return problems


def test_the_checker_catches_a_difference():
    """The signature comparison is not vacuous: a class whose consume() lost a default, renamed a parameter or
    added a required one is reported."""
    class Renamed:
        def consume(self, count=None, decode=None): ...

    class Required:
        def consume(self, limit=None, decode=None, *, where): ...

    class OtherDefault:
        def consume(self, limit=0, decode=None): ...

    for impl in (Renamed, Required, OtherDefault):
        assert signature_problems(P.EventSource, impl), impl.__name__
    assert not isinstance(Renamed(), P.EventSource)  # and the runtime check wants every member


def vm_class(kind: str) -> type:
    from pyebpf.vm.maps import MAP_CLASSES

    return MAP_CLASSES[MapType[kind.upper()]]


def kernel_class(kind: str) -> type:
    from pyebpf.loader.maps import map_class_for

    return map_class_for(MapType[kind.upper()])


FAMILY_KINDS = [(family, kind) for family, (_, kinds) in P.MAP_FAMILIES.items() for kind in kinds]


@pytest.mark.parametrize("family,kind", FAMILY_KINDS, ids=[f"{f}-{k}" for f, k in FAMILY_KINDS])
@pytest.mark.parametrize("side_class", [vm_class, kernel_class], ids=["vm", "kernel"])
def test_map_classes_have_their_familys_signatures(side_class, family: str, kind: str):
    proto = P.MAP_FAMILIES[family][0]
    assert signature_problems(proto, side_class(kind)) == []


@pytest.mark.parametrize("family,kind", FAMILY_KINDS, ids=[f"{f}-{k}" for f, k in FAMILY_KINDS])
def test_map_objects_are_instances_of_their_familys_protocol(backend: str, family: str, kind: str):
    proto = P.MAP_FAMILIES[family][0]
    with make_map(backend, spec_for(kind)) as m:
        assert isinstance(m, proto) and isinstance(m, P.MapObject)


def test_program_and_result_classes_have_the_protocols_signatures():
    from pyebpf.loader.program import KernelProgram, TestRunResult
    from pyebpf.vm.vm import VM, RunResult

    for impl in (VM, KernelProgram):
        assert signature_problems(P.RunnableProgram, impl) == []
    for impl in (RunResult, TestRunResult):
        assert signature_problems(P.RunOutcome, impl) == []


def test_programs_and_results_are_instances_of_their_protocols(backend: str):
    from backends import open_program

    prog = assemble(".type xdp\nr0 = 2\nexit")
    with open_program(backend, prog) as p:
        assert isinstance(p, P.RunnableProgram)
        assert isinstance(p.run(packet=bytes(60)), P.RunOutcome)
        assert isinstance(p.test_run(bytes(60)), P.RunOutcome)
