"""pytest plugin shipped with pyebpf (entry point `pytest11`).

Registers the `kernel` marker. A test marked `kernel` runs only where bpf() is permitted; elsewhere it is skipped with
the reason, except under PYEBPF_REQUIRE_KERNEL=1 (CI), where being unable to reach the kernel fails the test. A test
that needs a kernel *feature* this kernel lacks (kprobes, fentry) calls `skip_missing_feature(reason)`: that is a
property of the kernel under test, so it skips even in CI, with the reason shown.
"""
from __future__ import annotations

import pytest

from pyebpf.testing.kernel_probe import bpf_unavailable_reason, require_kernel_env


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kernel: needs bpf() in the running kernel (root / CAP_BPF)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kernel") is None:
        return
    reason = bpf_unavailable_reason()
    if reason is None:
        return
    if require_kernel_env():
        pytest.fail(f"PYEBPF_REQUIRE_KERNEL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def skip_missing_feature(reason: str) -> None:
    """Skip because the kernel under test lacks a feature (e.g. CONFIG_KPROBES off); allowed even in CI."""
    pytest.skip(f"kernel feature missing: {reason}")


def require_or_skip(reason: str) -> None:
    """Skip for an environment problem (no permission, no tool); a failure under PYEBPF_REQUIRE_KERNEL=1."""
    if require_kernel_env():
        pytest.fail(f"PYEBPF_REQUIRE_KERNEL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


# Fixtures (pyebpf.testing.fixtures): importing them into the plugin module registers them with pytest.
from pyebpf.testing.fixtures import differential, ebpf_engine, ebpf_vm, kernel_loader, netns  # noqa: E402,F401
