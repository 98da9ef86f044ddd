"""Probe files: import a Python file as a module and find its probes and maps (for `pyebpf probe FILE.py`)."""
from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from pyebpf.errors import CompileError
from pyebpf.probe.maps import ProbeMap
from pyebpf.probe.probe import Probe


def load_module(path: str) -> ModuleType:
    """Import `path` under a unique module name; a syntax or import error becomes a CompileError at its line."""
    if not os.path.isfile(path):
        raise CompileError(f"no such file: {path}", path)
    name = f"pyebpf_probe_{os.urandom(6).hex()}"  # (not uuid: its import costs start-up time)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CompileError(f"cannot import {path} (is it a .py file?)", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect.getsource finds the file through the module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[name]
        raise CompileError(f"syntax error: {e.msg}", path, e.lineno or 0, e.offset or 0,
                           (e.text or "").rstrip("\n")) from None
    except CompileError:
        del sys.modules[name]
        raise
    except Exception as e:  # noqa: BLE001 - the user's module failed at import: say where, not a traceback
        del sys.modules[name]
        tb = e.__traceback__
        line = 0
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == os.path.abspath(path) or tb.tb_frame.f_code.co_filename == path:
                line = tb.tb_lineno
            tb = tb.tb_next
        raise CompileError(f"importing {path} failed: {type(e).__name__}: {e}", path, line, 1) from None
    return module


def probes_of(module: ModuleType) -> list[Probe]:
    return [v for v in vars(module).values() if isinstance(v, Probe)]


def maps_of(module: ModuleType) -> dict[str, ProbeMap]:
    return {k: v for k, v in vars(module).items() if isinstance(v, ProbeMap)}


__all__ = ["load_module", "probes_of", "maps_of"]
