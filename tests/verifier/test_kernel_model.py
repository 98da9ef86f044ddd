"""The verifier's per-kernel model: the release table, verify(kernel=), verify_kernels' reuse of runs, and
`pyebpf verify --kernel-version/--kernels`. What each kernel actually says is test_kernel_versions.py's job."""
from __future__ import annotations

import pytest

from pyebpf.abi.kernel_versions import FACTS, HELPER_GAINS, MODELLED, NEWEST, OLDEST, REWORDS, Fact, Release, \
    fact_at, parse_release
from pyebpf.cli import main
from pyebpf.errors import InputError
from pyebpf.isa.assembler import assemble
from pyebpf.isa.features import IsaFeature, program_features
from pyebpf.verifier import verify, verify_kernels
from pyebpf.verifier.kernel_model import KernelModel, kernel_model, running_release

SDIV = "r0 = 7\nr0 s/= 2\nexit\n"
PLAIN = "r0 = 0\nexit\n"
SAMPLES = {  # programs whose answer differs between the modelled releases
    "plain": (PLAIN, "socket_filter"),
    "sdiv": (SDIV, "socket_filter"),
    "movsx": ("r1 = 5\nr0 = (s8)r1\nexit\n", "socket_filter"),
    "bswap": ("r0 = 1\nr0 = bswap16 r0\nexit\n", "socket_filter"),
    "may_goto": ("r0 = 0\nmay_goto +1\nr0 = 1\nexit\n", "socket_filter"),
    "pid_tgid_xdp": ("call bpf_get_current_pid_tgid\nr0 = 2\nexit\n", "xdp"),
    "cgrp_storage": ("r1 = 0\nr2 = 0\nr3 = 0\nr4 = 0\ncall 210\nr0 = 0\nexit\n", "socket_filter"),
    "retval": ("r0 = 2\nexit\n", "cgroup_skb"),
    "misaligned": ("*(u64 *)(r10 - 4) = 1\nr0 = 0\nexit\n", "socket_filter"),
    # a callback visited once (before 6.7) never sees its second iteration's pointer turned scalar
    "callback_second_visit": ("r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = 10\nr2 = cb ll\nr3 = r10\nr3 += -8\nr4 = 0\n"
                              "call bpf_loop\nr0 = 0\nexit\ncb:\nr3 = *(u64 *)(r2 + 0)\nif r3 != 0 goto d\n"
                              "r3 = 1\n*(u64 *)(r2 + 0) = r3\nr0 = 0\nexit\nd:\nr0 = *(u64 *)(r3 + 0)\nr0 = 0\n"
                              "exit\n", "socket_filter"),
    "callback_zero_loops": ("r1 = 0\nr2 = cb ll\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\ncb:\nr0 = 5\n"
                            "exit\n", "socket_filter"),
    # bpf_get_stack's buffer for raw tracepoints was initialised memory before 5.11
    "get_stack_raw_tp": ("r2 = r10\nr2 += -64\nr3 = 64\nr4 = 0\ncall bpf_get_stack\nr0 = 1\nexit\n",
                         "raw_tracepoint"),
}


def test_releases_parse_and_are_bounded():
    assert parse_release("6.1") == Release(6, 1)
    assert parse_release("6.1.0-57-amd64") == Release(6, 1)
    assert parse_release((6, 12)) == Release(6, 12)
    assert str(parse_release("6.18.44-generic")) == "6.18"
    for bad in ("4.19", "7.0", "six", "", "6"):
        with pytest.raises(InputError):
            parse_release(bad)


def test_fact_table_is_ordered_and_within_the_modelled_range():
    for fact, row in FACTS.items():
        sinces = [c.since for c in row.changes]
        assert sinces == sorted(sinces) and len(set(sinces)) == len(sinces), fact
        assert all(OLDEST < s <= NEWEST for s in sinces), fact
        assert all(c.why for c in row.changes), fact
        assert fact_at(fact, OLDEST) == (row.before if not sinces or sinces[0] > OLDEST else row.changes[0].value)
        assert fact_at(fact, NEWEST) == (row.changes[-1].value if row.changes else row.before)
    assert all(OLDEST < r.since <= NEWEST and r.why for r in REWORDS)
    assert all(OLDEST < g.since <= NEWEST and g.why for g in HELPER_GAINS)


def test_default_is_the_running_release():
    assert verify(assemble(PLAIN)).kernel.release == running_release()
    assert running_release() in [r for r in MODELLED] or OLDEST <= running_release() <= NEWEST


def test_instructions_follow_the_isa_table():
    """A cpu-v4 program is refused exactly by the releases isa/features.py says predate it."""
    prog = assemble(SDIV)
    (feature,) = program_features(prog.instructions)
    assert feature is IsaFeature.CPU_V4
    for release in MODELLED:
        res = verify(prog, kernel=str(release), raise_on_reject=False)
        assert res.accepted == (feature.since <= tuple(release)), release
        if not res.accepted:
            assert res.error.insn == 1 and res.error.message.endswith("uses reserved fields")


def test_unknown_helper_ids_per_release():
    prog = assemble(SAMPLES["cgrp_storage"][0])
    for release in MODELLED:
        res = verify(prog, kernel=str(release), raise_on_reject=False)
        if 210 > fact_at(Fact.LAST_HELPER_ID, release):
            assert res.error.message == "invalid func unknown#210"
        else:
            assert "unknown#" not in (res.error.message if res.error else "")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_verify_kernels_matches_one_verification_per_release(name):
    text, ptype = SAMPLES[name]
    prog = assemble(text)
    releases = [str(r) for r in MODELLED]
    together = verify_kernels(prog, releases, prog_type=ptype, log_level=1)
    assert list(together) == releases
    for release in releases:
        alone = verify(prog, prog_type=ptype, kernel=release, log_level=1, raise_on_reject=False)
        both = together[release]
        assert (both.accepted, both.processed, both.log) == (alone.accepted, alone.processed, alone.log), release
        if not alone.accepted:
            assert (both.error.message, both.error.errno, both.error.insn) == \
                (alone.error.message, alone.error.errno, alone.error.insn)


def test_releases_that_answer_alike_share_one_run(monkeypatch):
    import pyebpf.verifier.api as api
    calls = []
    real = api.verify

    def counting(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(api, "verify", counting)
    since_6_1 = [str(r) for r in MODELLED if r >= Release(6, 1)]
    api.verify_kernels(assemble(PLAIN), since_6_1)
    assert len(calls) == 1
    calls.clear()
    api.verify_kernels(assemble(SDIV), since_6_1)
    assert len(calls) == 2  # one run for the releases that decode sdiv, one for those that do not


def test_model_records_what_it_was_asked():
    m = KernelModel("6.1")
    assert m.fact(Fact.LAST_HELPER_ID) == fact_at(Fact.LAST_HELPER_ID, Release(6, 1))
    assert m.same_answers("6.1")
    assert m.same_answers(kernel_model("6.1")) and kernel_model(m).asked == {}


def test_helper_argument_types_per_release():
    from pyebpf.abi.helpers import ARG_PTR_TO_UNINIT_MEM, HelperId, proto_for
    from pyebpf.abi.kernel_versions import HELPER_ARG_CHANGES
    from pyebpf.abi.prog_types import ProgType
    newest = proto_for(ProgType.RAW_TRACEPOINT, HelperId.GET_STACK)
    assert newest.args[1] == ARG_PTR_TO_UNINIT_MEM
    old = KernelModel("5.10").helper_proto(ProgType.RAW_TRACEPOINT, HelperId.GET_STACK, newest)
    assert old.args[1] != newest.args[1] and old.args[1] == HELPER_ARG_CHANGES[0].before
    assert KernelModel("6.1").helper_proto(ProgType.RAW_TRACEPOINT, HelperId.GET_STACK, newest) is newest
    assert KernelModel("5.10").helper_proto(ProgType.KPROBE, HelperId.GET_STACK, newest) is newest
    for change in HELPER_ARG_CHANGES:
        assert OLDEST < change.since <= NEWEST and change.why


def test_callbacks_visited_once_before_6_7():
    text, ptype = SAMPLES["callback_second_visit"]
    got = {k: r.accepted for k, r in verify_kernels(assemble(text), ["6.1", "6.12"], prog_type=ptype).items()}
    assert got == {"6.1": True, "6.12": False}
    assert fact_at(Fact.CALLBACKS_ITERATED, Release(6, 6)) is False
    assert fact_at(Fact.CALLBACKS_ITERATED, Release(6, 7)) is True


def _write(tmp_path, text):
    p = tmp_path / "p.s"
    p.write_text(text)
    return str(p)


def test_cli_kernels_table(tmp_path, capsys):
    releases = [str(r) for r in MODELLED]
    assert main(["verify", _write(tmp_path, SDIV), "--kernels", ",".join(releases)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["kernel", "verdict", "insn", "message"]
    rows = {ln.split()[0]: ln.split() for ln in out[1:]}
    assert list(rows) == releases
    for release in MODELLED:
        assert rows[str(release)][1] == ("accepted" if IsaFeature.CPU_V4.since <= tuple(release) else "rejected")
    assert main(["verify", _write(tmp_path, PLAIN), "--kernels", ",".join(releases)]) == 0


def test_cli_kernel_version(tmp_path, capsys):
    path = _write(tmp_path, SDIV)
    assert main(["verify", path, "--kernel-version", str(OLDEST)]) == 1
    assert "uses reserved fields" in capsys.readouterr().err
    assert main(["verify", path, "--kernel-version", str(NEWEST)]) == 0
    assert main(["verify", path, "--kernel-version", "4.19"]) == 1
    assert "4.19" in capsys.readouterr().err
    assert main(["verify", path, "--kernels", " , "]) == 1


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_agree_with_the_running_kernel(name):
    """Inside each guest of the matrix (scripts/matrix-tests.txt) the running kernel is another release: our
    answer for it (the default) must be that kernel's verdict and closing message."""
    import errno as _errno

    from kernel_oracle import kernel_load
    from cases.oracle import kernel_reason
    from pyebpf.abi.prog_types import parse_prog_type

    text, ptype = SAMPLES[name]
    prog = assemble(text)
    kern = kernel_load(prog, int(parse_prog_type(ptype)), log_level=1)
    ours = verify(prog, prog_type=ptype, raise_on_reject=False)
    assert ours.kernel.release == running_release()
    reason = kernel_reason(kern.log, prog)
    assert ours.accepted == kern.accepted, f"kernel: {reason}, ours: {ours.error}"
    if not kern.accepted:
        assert ours.error.message in reason, f"kernel: {reason}"
        assert ours.error.errno == kern.errno, _errno.errorcode.get(kern.errno)


def test_map_types_per_release():
    from pyebpf.abi.kernel_versions import MAP_TYPE_SINCE, map_type_available_at
    from pyebpf.abi.maps import MapType
    for mtype, (since, why) in MAP_TYPE_SINCE.items():
        assert OLDEST < since <= NEWEST and why
        assert not map_type_available_at(mtype, Release(since.major, since.minor - 1) if since.minor else OLDEST)
        assert map_type_available_at(mtype, since)
    assert all(map_type_available_at(t, OLDEST) for t in MapType if t not in MAP_TYPE_SINCE)
    prog = assemble(".map b bloom_filter key=0 value=4 max_entries=16\nr1 = map[b] ll\nr0 = 0\nexit\n")
    got = verify_kernels(prog, ["5.10", "6.1"])
    assert got["6.1"].accepted and not got["5.10"].accepted
    assert got["5.10"].error.message.startswith("creating map 'b': EINVAL") and got["5.10"].error.errno == 22
    assert got["5.10"].log == "" and got["5.10"].processed == 0  # the verifier never ran


#: map types whose BPF_MAP_CREATE probe can fail on a kernel that has them, with the reason
PROBE_MAY_FAIL = {
    "ARENA": "creating an arena needs CAP_SYS_ADMIN, which the test environment may not have (EPERM)",
}


@pytest.mark.kernel
def test_map_types_agree_with_the_running_kernel():
    """The model's map types for the running release against BPF_MAP_CREATE probes of this kernel (inside each
    guest of the matrix too): a type the model says the release predates must be refused by the kernel."""
    from pyebpf.abi.maps import MapType
    from pyebpf.loader.feature_probe import map_type_available
    model = KernelModel(running_release())
    wrong = []
    for mtype in MapType:
        if mtype == MapType.UNSPEC:
            continue
        kernel_has, model_has = map_type_available(mtype), model.map_type_available(mtype)
        if model_has != kernel_has and not (model_has and mtype.name in PROBE_MAY_FAIL):
            wrong.append(f"{mtype.name}: model {model_has}, kernel {kernel_has}")
    assert not wrong, f"map types on {model.release}: " + ", ".join(wrong)
