"""Map lookups reused: `if t in pending: ... pending[t].tpid ... pending[t].sig` looks the key up once, as C code
keeping the value pointer would, instead of once per access.

A lookup of map M with a local variable as the key is remembered (the value pointer, and whether it is known not
NULL: inside `if k in M:`) for the code it dominates: the rest of the same statement list, and the branches of an
`if` it precedes. Whatever else might run between the lookup and a use drops it: anything writing the key
variable (every IR definition of its register is watched), any helper call given map M other than a lookup
(update, delete, output...), and the end of the construct it was made in (a branch, a loop body, an inlined
function, a conditional expression or short-circuit operand, a condition)."""
from __future__ import annotations

import ast
from contextlib import contextmanager
from typing import Any, Iterator

from pyebpf.abi.helpers import HelperId
from pyebpf.compiler.ir import Call, LocalCall, MapRef, VReg
from pyebpf.compiler.pyfront.values import Int
from pyebpf.compiler.symbols import MapInfo


class LookupsMixin:
    """Map lookups reused of `PythonFrontEnd` (a mixin; the state lives in frontend.py)."""

    def _key_var(self, key_node: ast.expr) -> VReg | None:
        """The register of a local integer variable used as a key (the only keys remembered)."""
        if isinstance(key_node, ast.Name):
            v = self.frame.vars.get(key_node.id)
            if isinstance(v, Int) and isinstance(v.op, VReg) and key_node.id in self.frame.assigned:
                return v.op
        return None

    def cached_lookup(self, info: MapInfo, key_node: ast.expr) -> tuple[VReg, bool] | None:
        var = self._key_var(key_node)
        if var is None:
            return None
        hit = self._lookups.get((info.name, id(var)))
        if hit is None:
            return None
        ptr, nonnull, vgen, mgen = hit
        if self._var_gen.get(id(var), 0) != vgen or self._map_gen.get(info.name, 0) != mgen:
            return None
        return ptr, nonnull

    def remember_lookup(self, info: MapInfo, key_node: ast.expr, ptr: VReg, nonnull: bool) -> None:
        var = self._key_var(key_node)
        if var is not None:
            self._lookups[(info.name, id(var))] = (ptr, nonnull, self._var_gen.get(id(var), 0),
                                                   self._map_gen.get(info.name, 0))

    def lookup_key(self, info: MapInfo, key_node: ast.expr) -> tuple[VReg, bool]:
        """(value pointer, known not NULL) for m[key_node]: a remembered lookup, or a new one (remembered)."""
        hit = self.cached_lookup(info, key_node)
        if hit is not None:
            return hit
        p = self.lookup(info, self.key_addr(info, key_node))
        self.remember_lookup(info, key_node, p, False)
        return p, False

    def watch_emit(self, insn: Any) -> None:
        """Called for every IR instruction emitted: invalidate what it may change."""
        for d in insn.defs():
            self._var_gen[id(d)] = self._var_gen.get(id(d), 0) + 1
        if isinstance(insn, Call) and insn.helper != HelperId.MAP_LOOKUP_ELEM:
            # a subprogram or a bpf_loop callback may change any map: its calls are not in this function's IR
            touched = list(self.maps) if isinstance(insn, LocalCall) or insn.helper == HelperId.LOOP else \
                [a.name for a in insn.args if isinstance(a, MapRef)]
            for name in touched:
                self._map_gen[name] = self._map_gen.get(name, 0) + 1

    def var_redefined(self, v: VReg) -> None:
        self._var_gen[id(v)] = self._var_gen.get(id(v), 0) + 1

    @contextmanager
    def lookup_scope(self, fresh: bool = False) -> Iterator[None]:
        """Lookups made inside are forgotten at the end (fresh: those from before are not used inside either)."""
        saved = dict(self._lookups)
        if fresh:
            self._lookups = {}
        try:
            yield
        finally:
            self._lookups = saved


__all__ = ["LookupsMixin"]
