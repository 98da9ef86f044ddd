"""A probe reading struct sock fields through an anonymous union, compiled against the running kernel's BTF."""
from __future__ import annotations

from pyebpf.probe import HashMap, kptr, probe, u32, u64

ports = HashMap(u32, u64, max_entries=16)


@probe("raw_tp/inet_sock_set_state")
def sock_ports(ctx):
    sk = kptr(ctx.args[0], "struct sock")
    ports[sk.__sk_common.skc_dport] = sk.__sk_common.skc_family
