"""system/error_injection: the error-injection list fmod_ret and sleepable fentry depend on."""
from __future__ import annotations

from pyebpf.system import error_injection as ei


def test_parse_list_lines():
    text = "should_failslab\tERRNO\nopen_ctree [btrfs]\tERRNO\n\n__x64_sys_open\tERRNO\n"
    assert ei.parse_error_injection_list(text) == {"should_failslab", "open_ctree", "__x64_sys_open"}


def test_unknown_or_empty_per_build_config(monkeypatch):
    monkeypatch.setattr(ei, "ERROR_INJECTION_LIST", "/nonexistent/error_injection/list")
    for config, want in (({"CONFIG_FUNCTION_ERROR_INJECTION": "y"}, None), ({"CONFIG_BPF": "y"}, frozenset()),
                         ({}, None)):
        monkeypatch.setattr(ei, "kernel_config", lambda config=config: config)
        ei.error_injection_functions.cache_clear()
        assert ei.error_injection_functions() == want
    ei.error_injection_functions.cache_clear()
