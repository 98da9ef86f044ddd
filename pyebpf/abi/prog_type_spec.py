"""Everything the verifier knows about one program type, gathered in one place (aya-style), from the tables that
hold each fact once: the context layout and its access rule (abi/context.py), the R0 range at exit (context.py
RETURN_RANGES and its attach-type overrides), the helper table (abi/helpers.py, with its attach-type dependent
rows), and the expected_attach_type the load needs (abi/prog_types.py). A program type is modelled when every
part is there; verifier.api.SUPPORTED_PROG_TYPES is that set, so adding a type means filling these tables.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyebpf.abi import context as _ctx
from pyebpf.abi.helpers import HELPER_TABLE_PROG_TYPES, HelperId, allowed_helpers, helper_allowed
from pyebpf.abi.prog_types import DEFAULT_ATTACH_TYPES, VALID_ATTACH_TYPES, AttachType, ProgType

__all__ = ["ProgTypeSpec", "prog_type_spec", "MODELLED_PROG_TYPES"]


@dataclass(frozen=True)
class ProgTypeSpec:
    """One program type's verifier facts (answers come from the owning tables; nothing is copied here)."""

    prog_type: ProgType
    context: _ctx.ContextLayout
    attach_types: frozenset[AttachType] | None  # None: any expected_attach_type loads
    default_attach_type: AttachType | None

    def ctx_access_ok(self, off: int, size: int, write: bool, attach_type: AttachType | None = None,
                      privileged: bool = True) -> bool:
        return _ctx.ctx_access_ok(self.prog_type, off, size, write, attach_type=attach_type,
                                  privileged=privileged)[0]

    def return_range(self, attach_type: AttachType | None = None) -> _ctx.ReturnRange | None:
        return _ctx.return_range(self.prog_type, attach_type)

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


def prog_type_spec(prog_type: ProgType | int) -> ProgTypeSpec:
    """The modelled facts of `prog_type`; ValueError if it is not modelled."""
    pt = ProgType(prog_type)
    if pt not in MODELLED_PROG_TYPES:
        raise ValueError(f"program type {pt.name} is not modelled")
    return ProgTypeSpec(pt, _ctx.CONTEXTS[pt], VALID_ATTACH_TYPES.get(pt), DEFAULT_ATTACH_TYPES.get(pt))
