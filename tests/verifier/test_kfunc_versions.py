"""kfuncs per kernel release (abi/kfunc_versions.py) against what each kernel of the matrix said.

The `kfuncs` section of tests/verifier/kernels/<release>.json is generated inside each kernel by
`scripts/verifier-truth.py --corpus kfuncs`: per kfunc, whether the kernel's BTF has it and which program types'
call of it got past check_kfunc_call's set check. The table must reproduce every answer, and `verify(kernel=...)`
must refuse a kfunc the release lacks (before loading) or does not allow for the program type, as that kernel did.
"""
from __future__ import annotations

import dataclasses
import errno
import json
from pathlib import Path

import pytest

from pyebpf.abi.kernel_versions import MODELLED, NEWEST, OLDEST, parse_release
from pyebpf.abi.kfunc_versions import (KFUNC_TYPE_CHANGES, KFUNCS_SINCE, LSM_KFUNCS_SINCE, kfunc_known_at,
                                       kfunc_prog_type_at)
from pyebpf.abi.kfuncs import KFUNC_SETS, kfunc_flags
from pyebpf.abi.prog_types import parse_prog_type

KERNELS = Path(__file__).parent / "kernels"


def _truth() -> dict[str, dict]:
    out = {}
    for path in sorted(KERNELS.glob("*.json")):
        data = json.loads(path.read_text())
        if "kfuncs" in data:
            out[data["version"]] = data["kfuncs"]
    return out


TRUTH = _truth()
VERSIONS = sorted(TRUTH, key=lambda v: parse_release(v))
NEWEST_TRUTH = TRUTH.get(str(NEWEST), {})


def _rows(kfuncs: dict) -> dict[str, dict]:
    return {name: row for name, row in kfuncs.items() if not name.startswith("_")}


def _allowed(kfuncs: dict, name: str) -> set[str]:
    return set(kfuncs.get(name, {}).get("prog_types", ()))


def test_every_modelled_release_has_kfunc_truth():
    assert VERSIONS == [str(r) for r in MODELLED]


def test_table_lists_exactly_the_kfuncs_the_newest_release_lets_a_probed_type_call():
    listed = set().union(*KFUNCS_SINCE.values())
    callable_now = {name for name, row in _rows(NEWEST_TRUTH).items() if row.get("prog_types")}
    assert listed == callable_now
    assert sum(map(len, KFUNCS_SINCE.values())) == len(listed)  # each kfunc dated once
    assert all(OLDEST < rel <= NEWEST for rel in KFUNCS_SINCE)
    assert all(OLDEST < row.since <= NEWEST and row.why and row.kfuncs <= listed for row in KFUNC_TYPE_CHANGES)


def test_every_kfunc_the_verifier_models_is_dated():
    """A kfunc abi.kfuncs models but this table lacks would be refused for every release but the newest."""
    listed = set().union(*KFUNCS_SINCE.values(), *LSM_KFUNCS_SINCE.values())
    assert {name for kfuncs, _ in KFUNC_SETS for name in kfuncs} <= listed


@pytest.mark.parametrize("version", VERSIONS)
def test_lsm_only_kfuncs_are_dated_by_the_kernels_btf(version):
    """The LSM-only kfuncs (no probed type may call them): known to a release exactly where its BTF had them, and
    no probed program type allowed there (their set's filter refuses every type but LSM)."""
    rel = parse_release(version)
    rows = TRUTH[version]
    wrong = [f"{name}: known {kfunc_known_at(name, rel)}, btf {rows.get(name, {}).get('btf')}, "
             f"types {sorted(_allowed(rows, name))}"
             for name in sorted(set().union(*LSM_KFUNCS_SINCE.values()))
             if kfunc_known_at(name, rel) != bool(rows.get(name, {}).get("btf")) or _allowed(rows, name)]
    assert not wrong, wrong


@pytest.mark.parametrize("version", VERSIONS)
def test_table_reproduces_the_kernel(version):
    """For every listed kfunc and every program type the kernel could load: allowed there exactly when the table
    says the release has the kfunc, the newest release allows the type, and no type change says otherwise."""
    rel = parse_release(version)
    kfuncs = TRUTH[version]
    usable = set(kfuncs["_prog_types"]["usable"]) & set(NEWEST_TRUTH["_prog_types"]["usable"])
    wrong = []
    for name in sorted(set().union(*KFUNCS_SINCE.values())):
        now, then = _allowed(NEWEST_TRUTH, name), _allowed(kfuncs, name)
        if kfunc_known_at(name, rel) != bool(then):
            wrong.append(f"{name}: known {kfunc_known_at(name, rel)}, kernel {sorted(then)}")
            continue
        for t in sorted(usable):
            mine = kfunc_known_at(name, rel) and t in now and kfunc_prog_type_at(name, parse_prog_type(t), rel)
            if mine != (t in then):
                wrong.append(f"{name} from {t}: table {mine}, kernel {t in then}")
    assert not wrong, f"{version}: {len(wrong)} differences:\n" + "\n".join(wrong[:30])


#: program types verify() checks a kfunc call from (tracing needs an attach target, syscall/netfilter are not
#: verified by every release alike); the names are the truth files' probe types
VERIFY_TYPES = ("socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp", "perf_event",
                "cgroup_skb", "lwt_in", "sk_skb")


@pytest.mark.parametrize("version", VERSIONS)
def test_verify_for_a_release_refuses_kfuncs_as_that_kernel(version):
    """verify(prog, kernel=version) of `call kfunc; r0 = 0; exit` for every kfunc abi.kfuncs models: refused before
    loading (ESRCH) where that kernel's BTF had no such kfunc, 'calling kernel function X is not allowed' where the
    kernel refused the call for the type, and never for either reason where the kernel got past its set check."""
    from pyebpf.btf import kernel_btf_or_none
    from pyebpf.abi.btf import BtfKind
    from pyebpf.isa.assembler import assemble
    from pyebpf.verifier import verify

    btf = kernel_btf_or_none()
    if btf is None:
        pytest.skip("no vmlinux BTF here to give the kfuncs ids")  # the model itself is checked above
    ids = {btf.name(i): i for i, t in enumerate(btf.types) if t.kind == BtfKind.FUNC}
    kfuncs = TRUTH[version]
    usable = set(kfuncs["_prog_types"]["usable"])
    wrong = []
    for name in sorted({n for ks, _ in KFUNC_SETS for n in ks}):
        if name not in ids:
            continue
        prog = dataclasses.replace(assemble(f".kfunc {name} {ids[name]}\ncall {name}\nr0 = 0\nexit\n"),
                                   license="GPL")
        then = _allowed(kfuncs, name)
        for t in VERIFY_TYPES:
            if t not in usable or kfunc_flags(name, parse_prog_type(t)) is None and t in then:
                continue  # the newest release's own set (abi.kfuncs) is test_btf_kfunc_kernel's to check
            r = verify(prog, t, kernel=version, raise_on_reject=False)
            msg = r.error.message if r.error else ""
            absent = r.error is not None and r.error.errno == errno.ESRCH
            denied = "is not allowed" in msg
            if not kfuncs.get(name, {}).get("btf", bool(then)):
                ok = absent
            elif t in then:
                ok = not absent and not denied
            else:
                ok = denied
            if not ok:
                wrong.append(f"{name} from {t}: kernel {'allowed' if t in then else 'refused' if then else 'absent'}"
                             f", ours {msg or 'accepted'}")
    assert not wrong, f"{version}: {len(wrong)} differences:\n" + "\n".join(wrong[:30])
