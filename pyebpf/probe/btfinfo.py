"""BTF func_info and line_info from the Python source, so the kernel's own verifier log shows the probe's Python
lines (`; counts[pid()] += 1 @ probe.py:9`) and a rejection can be reported at the line it came from."""
from __future__ import annotations

import os
from typing import Any

from pyebpf.compiler.api import CompiledProbe


def line_records(compiled: CompiledProbe, filename: str, source: dict[int, str], def_line: int
                 ) -> list[tuple[int, str, str, int, int]]:
    """(slot, file, line text, line, col) per source position change: first at slot 0, slots strictly
    increasing, never inside an lddw (what the kernel's check_btf_line demands)."""
    program = compiled.program
    by_slot: dict[int, tuple[int, int]] = {0: (def_line, 1)}
    for idx, line, col in compiled.lines:
        if idx >= len(program):
            continue
        by_slot[program.slot_of(idx)] = (line, col)
    for _name, start in compiled.functions[1:]:  # the kernel wants a line record at every subprogram's start
        if start not in by_slot:
            later = [s for s in by_slot if s > start]
            by_slot[start] = by_slot[min(later)] if later else by_slot[max(s for s in by_slot if s < start)]
    out = []
    for slot in sorted(by_slot):
        line, col = by_slot[slot]
        out.append((slot, filename, source.get(line, "").strip(), line, col))
    return out


def build(compiled: CompiledProbe, filename: str, source: dict[int, str], def_line: int) -> tuple[bytes, list, list]:
    """(BTF blob, func_info [(insn_off, type_id)], line_info [(insn_off, file_off, line_off, line_col)])."""
    from pyebpf.abi.btf import BtfFuncLinkage
    from pyebpf.btf.builder import BtfBuilder

    b = BtfBuilder()
    int_id = b.add_int("int", 4, signed=True)
    ctx_ptr = b.add_ptr(0)
    proto = b.add_func_proto(int_id, [("ctx", ctx_ptr)])
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in (compiled.program.name or "probe")) or "probe"
    func = b.add_func(name, proto, BtfFuncLinkage.GLOBAL)
    funcs = [(0, func)]
    long_id = b.add_int("long", 8, signed=True)
    for sub_name, start in compiled.functions[1:]:  # static: the kernel verifies them at their call sites
        params = compiled.subprogram_params.get(sub_name, 0)
        sproto = b.add_func_proto(long_id, [(f"a{i}", long_id) for i in range(params)])
        funcs.append((start, b.add_func(sub_name, sproto, BtfFuncLinkage.STATIC)))
    lines = []
    for slot, fname, text, line, col in line_records(compiled, filename, source, def_line):
        lines.append((slot, b.string(os.path.basename(fname)), b.string(text), (line << 10) | min(col, 0x3FF)))
    return b.encode(), funcs, lines


def load_with_lines(probe: Any, kmaps: dict[str, Any], log_level: int = 0) -> Any:
    """pyebpf.loader.load with the probe's BTF line info (falls back to a plain load if the kernel refuses BTF)."""
    import inspect

    from pyebpf.errors import LoaderError
    from pyebpf.loader import load
    from pyebpf.loader import syscall as sc

    c = probe.compiled
    try:
        lines, first = inspect.getsourcelines(probe.fn)
        filename = inspect.getsourcefile(probe.fn) or "probe.py"
        source = {first + i: text.rstrip("\n") for i, text in enumerate(lines)}
        for fr_fn in _inlined_functions(probe):
            flines, ffirst = inspect.getsourcelines(fr_fn)
            source.update({ffirst + i: t.rstrip("\n") for i, t in enumerate(flines)})
        def_line = next((n for n, t in sorted(source.items()) if t.lstrip().startswith("def ")), first)
        blob, func_info, line_info = build(c, filename, source, def_line)
        fd, _ = sc.btf_load(blob)
    except (OSError, TypeError, LoaderError):
        return load(c.program, maps=kmaps, log_level=log_level)
    try:
        return load(c.program, maps=kmaps, log_level=log_level, btf=fd, func_info=func_info, line_info=line_info)
    finally:
        os.close(fd)  # the loaded program holds its own reference to the BTF


def _inlined_functions(probe: Any) -> list[Any]:
    """Functions of the probe's module (their lines may appear in line info when inlined from the same file)."""
    import inspect

    mod_globals = getattr(probe.fn, "__globals__", {})
    out = []
    for v in mod_globals.values():
        if inspect.isfunction(v) and v is not probe.fn and getattr(v, "__module__", None) == probe.fn.__module__:
            out.append(v)
    return out


__all__ = ["build", "line_records", "load_with_lines"]
