"""Everything the verifier knows about one program type, gathered in one place (aya-style), from the tables that
hold each fact once: the context layout and its access rule (abi/context.py), the R0 range at exit (context.py
RETURN_RANGES and its attach-type overrides), the helper table (abi/helpers.py, with its attach-type dependent
rows), and the expected_attach_type the load needs (abi/prog_types.py). A program type is modelled when every
part is there; verifier.api.SUPPORTED_PROG_TYPES is that set, so adding a type means filling these tables.

TRACING and LSM have no fixed context struct: R1 points to the arguments of the BTF prototype they attach to
(context.BTF_CTX_ATTACH_TYPES, read by verifier/btf_ptr.py); they are BTF_CONTEXT_PROG_TYPES, modelled for the
attach types listed there, with `context` None.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyebpf.abi import context as _ctx
from pyebpf.abi.helpers import HELPER_TABLE_PROG_TYPES, HelperId, allowed_helpers, helper_allowed
from pyebpf.abi.prog_types import DEFAULT_ATTACH_TYPES, VALID_ATTACH_TYPES, AttachType, ProgType

__all__ = ["ProgTypeSpec", "prog_type_spec", "MODELLED_PROG_TYPES", "BTF_CONTEXT_PROG_TYPES", "models"]


@dataclass(frozen=True)
class ProgTypeSpec:
    """One program type's verifier facts (answers come from the owning tables; nothing is copied here)."""

    prog_type: ProgType
    context: _ctx.ContextLayout | None  # None: the attach target's BTF prototype (btf_context_attach)
    attach_types: frozenset[AttachType] | None  # None: any expected_attach_type loads
    default_attach_type: AttachType | None
    btf_context_attach: frozenset[AttachType] | None = None

    def ctx_access_ok(self, off: int, size: int, write: bool, attach_type: AttachType | None = None,
                      privileged: bool = True) -> bool:
        return _ctx.ctx_access_ok(self.prog_type, off, size, write, attach_type=attach_type,
                                  privileged=privileged)[0]

    def return_range(self, attach_type: AttachType | None = None, hook: str | None = None,
                     returns_void: bool = False) -> _ctx.ReturnRange | None:
        return _ctx.return_range(self.prog_type, attach_type, hook=hook, returns_void=returns_void)

    def helpers(self, privileged: bool = True, attach_type: AttachType | None = None) -> frozenset[HelperId]:
        return frozenset(h for h in allowed_helpers(self.prog_type, privileged)
                         if helper_allowed(self.prog_type, h, privileged, attach_type))


def _has_rule(pt: ProgType) -> bool:
    try:
        _ctx.ctx_access_ok(pt, 0, 4, False)
    except ValueError:
        return False
    return True


MODELLED_PROG_TYPES: frozenset[ProgType] = frozenset(
    pt for pt in _ctx.CONTEXTS
    if pt in HELPER_TABLE_PROG_TYPES and pt in _ctx.RETURN_RANGES and _has_rule(pt))
"""Program types with a context, an access rule, a return-value entry and a helper table."""

BTF_CONTEXT_PROG_TYPES: frozenset[ProgType] = frozenset(
    pt for pt in _ctx.BTF_CTX_ATTACH_TYPES if pt in HELPER_TABLE_PROG_TYPES and pt in _ctx.RETURN_RANGES)
"""Program types whose context is the attach target's BTF prototype, with a helper table and a return entry."""


def models(prog_type: ProgType | int, attach_type: AttachType | int | None = None) -> bool:
    """Whether `prog_type` (loaded with `attach_type`) is modelled: a fixed-context type, or a BTF-context type
    at one of its modelled attach types."""
    try:
        pt = ProgType(prog_type)
    except ValueError:
        return False
    if pt in MODELLED_PROG_TYPES:
        return True
    return pt in BTF_CONTEXT_PROG_TYPES and attach_type in _ctx.BTF_CTX_ATTACH_TYPES[pt]


def prog_type_spec(prog_type: ProgType | int) -> ProgTypeSpec:
    """The modelled facts of `prog_type`; ValueError if it is not modelled."""
    pt = ProgType(prog_type)
    if pt in BTF_CONTEXT_PROG_TYPES:
        return ProgTypeSpec(pt, None, VALID_ATTACH_TYPES.get(pt), DEFAULT_ATTACH_TYPES.get(pt),
                            _ctx.BTF_CTX_ATTACH_TYPES[pt])
    if pt not in MODELLED_PROG_TYPES:
        raise ValueError(f"program type {pt.name} is not modelled")
    return ProgTypeSpec(pt, _ctx.CONTEXTS[pt], VALID_ATTACH_TYPES.get(pt), DEFAULT_ATTACH_TYPES.get(pt))
