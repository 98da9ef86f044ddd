"""The running kernel's error-injection list (/sys/kernel/debug/error_injection/list: ALLOW_ERROR_INJECTION()
functions): which kernel functions fmod_ret programs may modify and sleepable fentry/fexit may attach to
(bpf_check_attach_target's within_error_injection_list()). Needs debugfs; None when it cannot be read."""
from __future__ import annotations

import functools

from pyebpf.system.kconfig import kernel_config

ERROR_INJECTION_LIST = "/sys/kernel/debug/error_injection/list"
_MAX_BYTES = 4 << 20  # a few thousand short lines


def parse_error_injection_list(text: str) -> frozenset[str]:
    """`<function>\\t<ERRNO|NULL|...>` lines -> the function names (a module's `[mod]` suffix dropped)."""
    return frozenset(line.split()[0] for line in text.splitlines() if line.strip())


@functools.lru_cache(maxsize=1)
def error_injection_functions() -> frozenset[str] | None:
    """The functions on the running kernel's error-injection list: none when the kernel is built without
    CONFIG_FUNCTION_ERROR_INJECTION; None (unknown) when debugfs does not show the list and the build config is not
    readable either."""
    try:
        with open(ERROR_INJECTION_LIST) as f:
            return parse_error_injection_list(f.read(_MAX_BYTES))
    except OSError:
        pass
    config = kernel_config()
    if config and config.get("CONFIG_FUNCTION_ERROR_INJECTION") != "y":
        return frozenset()  # within_error_injection_list() is false for every function
    return None


__all__ = ["ERROR_INJECTION_LIST", "parse_error_injection_list", "error_injection_functions"]
