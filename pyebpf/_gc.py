"""Stdlib-only plumbing beside `errors`: building many objects at once without the cyclic collector in between.

Decoding an instruction stream or a pass of event records makes tens of thousands of acyclic, GC-tracked objects
(tuples, ctypes instances) in one go. Every 700 allocations the collector would run, and as the survivors pile up
it collects older generations too, traversing the whole heap (which a large program or trace keeps big): that cost
more than the decoding itself. Pausing it while such a batch is made leaves one collection of the batch after.
"""
from __future__ import annotations

import gc
from typing import Any, Callable


def collector_paused(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) with Python's cyclic garbage collector paused (when it was enabled); it runs again afterwards."""
    if not gc.isenabled():
        return fn(*args)
    gc.disable()
    try:
        return fn(*args)
    finally:
        gc.enable()


__all__ = ["collector_paused"]
