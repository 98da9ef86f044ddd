"""btf_value / btf_encode: map values typed by BTF, round-tripping through bytes (bpftool's btf_dumper rules)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.abi.btf import BTF_INT_CHAR
from pyebpf.btf.builder import BtfBuilder
from pyebpf.btf.value import btf_encode, btf_value
from pyebpf.errors import BtfError


def _btf():
    b = BtfBuilder()
    i32 = b.add_int("int", 4, signed=True)
    u64 = b.add_int("unsigned long long", 8)
    ch = b.add_int_encoded("char", 1, BTF_INT_CHAR)
    i16 = b.add_int("short", 2, signed=True)
    u32 = b.add_int("unsigned int", 4)
    comm = b.add_array(ch, u32, 16)
    arr = b.add_array(i16, u32, 3)
    st_id = b.add_struct("key", 40, [("comm", comm, 0), ("pid", i32, 128), ("count", u64, 192), ("arr", arr, 256)])
    return b.build(), st_id


BTF, KEY = _btf()
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=15)
values = st.fixed_dictionaries({
    "comm": printable, "pid": st.integers(-2**31, 2**31 - 1), "count": st.integers(0, 2**64 - 1),
    "arr": st.lists(st.integers(-2**15, 2**15 - 1), min_size=3, max_size=3)})


@settings(max_examples=60, deadline=None)
@given(values)
def test_encode_then_print_is_identity(v):
    raw = btf_encode(BTF, KEY, v)
    assert len(raw) == 40
    out = btf_value(BTF, KEY, raw)
    expected = dict(v)
    if not v["comm"]:
        expected["comm"] = ""
    assert out == expected


def test_non_string_char_array_prints_as_list_and_short_input_is_an_error():
    raw = bytearray(btf_encode(BTF, KEY, {"pid": 1}))
    raw[0:16] = bytes(range(1, 17))  # no NUL, unprintable: not a string (bpftool's is_str_array)
    assert btf_value(BTF, KEY, bytes(raw))["comm"] == list(range(1, 17))
    with pytest.raises(BtfError):
        btf_value(BTF, KEY, bytes(10))
    with pytest.raises(BtfError):
        btf_encode(BTF, KEY, {"arr": [1, 2, 3, 4]})
