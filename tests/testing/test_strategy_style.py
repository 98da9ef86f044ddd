"""One strategy style in pyebpf.testing (issue 17): every exported strategy is a function returning a strategy, and
every packet builder takes keyword arguments only, in one order — src, dst, then ports / protocol, then payload."""
from __future__ import annotations

import inspect
import struct

import pytest
from hypothesis import given, settings, strategies as st

from pyebpf.testing import inputs, strategies
from pyebpf.testing.inputs import EtherType, IpProto

BUILDERS = [inputs.ethernet, inputs.ipv4, inputs.ipv6, inputs.udp, inputs.tcp]
#: The arguments a builder's first positions must be, in this order (what follows src/dst is the builder's own).
ORDER = {"ethernet": ["src", "dst", "ethertype", "payload"], "ipv4": ["src", "dst", "proto", "payload"],
         "ipv6": ["src", "dst", "next_header", "payload"], "udp": ["src", "dst", "sport", "dport", "payload"],
         "tcp": ["src", "dst", "sport", "dport", "payload"]}


@pytest.mark.parametrize("module", [inputs, strategies], ids=["inputs", "strategies"])
def test_no_exported_name_is_a_bare_strategy_object(module):
    """`ports` and friends were OneOfStrategy objects next to `packets()` functions: calling one raised
    `'OneOfStrategy' object is not callable`."""
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, st.SearchStrategy), f"{module.__name__}.{name} is a strategy, not a function"


@pytest.mark.parametrize("name", ["mac_addresses", "ipv4_addresses", "ipv6_addresses", "ports", "payloads",
                                  "packets", "ethernet_frames", "ipv4_packets", "ipv6_packets", "corrupted",
                                  "xdp_contexts", "skb_contexts", "syscall_args", "raw_tp_args", "pt_regs"])
def test_input_strategies_are_functions_returning_strategies(name):
    assert isinstance(getattr(inputs, name)(), st.SearchStrategy)


@pytest.mark.parametrize("name", ["regs", "int16s", "int32s", "int64s", "instructions", "programs",
                                  "alu_instructions", "jump_instructions", "memory_instructions", "lddw_instructions"])
def test_instruction_strategies_are_functions_returning_strategies(name):
    assert isinstance(getattr(strategies, name)(), st.SearchStrategy)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_builders_take_keywords_only_in_one_order(builder):
    params = list(inspect.signature(builder).parameters.values())
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    expected = ORDER[builder.__name__]
    assert [p.name for p in params[:len(expected)]] == expected
    with pytest.raises(TypeError):
        builder(b"\0" * 4, b"\0" * 4, 1, b"")  # the old positional orders no longer mean something else


@settings(max_examples=40, deadline=None)
@given(inputs.ipv4_addresses(), inputs.ipv4_addresses(), inputs.ports(), inputs.ports(), inputs.payloads(),
       inputs.mac_addresses(), inputs.mac_addresses())
def test_keyword_builders_put_each_field_where_the_wire_format_says(src, dst, sport, dport, payload, smac, dmac):
    seg = inputs.udp(src=src, dst=dst, sport=sport, dport=dport, payload=payload)
    pkt = inputs.ipv4(src=src, dst=dst, proto=IpProto.UDP, payload=seg)
    frame = inputs.ethernet(src=smac, dst=dmac, ethertype=EtherType.IP, payload=pkt)
    assert frame[:6] == dmac and frame[6:12] == smac and struct.unpack_from("!H", frame, 12)[0] == EtherType.IP
    assert (frame[14 + 12:14 + 16], frame[14 + 16:14 + 20], frame[14 + 9]) == (src, dst, IpProto.UDP)
    assert struct.unpack_from("!HHH", frame, 34) == (sport, dport, 8 + len(payload))
    assert frame[42:] == payload
    pseudo = src + dst + struct.pack("!BBH", 0, IpProto.UDP, len(seg))
    assert inputs.inet_checksum(pseudo + seg) == 0
    t = inputs.tcp(src=src, dst=dst, sport=sport, dport=dport, payload=payload)
    assert struct.unpack_from("!HH", t) == (sport, dport) and t[20:] == payload
    assert inputs.inet_checksum(src + dst + struct.pack("!BBH", 0, IpProto.TCP, len(t)) + t) == 0
