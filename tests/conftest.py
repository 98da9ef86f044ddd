"""Shared test settings. The `kernel` marker comes from pyebpf's own pytest plugin (pyebpf.testing.plugin)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CI explores a fixed sequence of examples (derandomize) so that a clean clone passes or fails the same way every
# time; local runs keep exploring new examples and keep finding new cases.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True,
                          derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Test helper modules (tests/helpers/, tests/abi/rawbpf.py, tests/loader/netns.py, ...) are imported by bare name.
_TESTS = Path(__file__).resolve().parent
for _dir in [_TESTS, *sorted(p for p in _TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))]:
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))
