"""The compiled-script cache (pyebpf.trace.cache) and its artifacts (pyebpf.trace.artifact): a script run again
loads what was compiled without importing the compiler, with this run's `cpid`; a damaged, stale or foreign entry
is never used; every field read back is checked."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyebpf.trace import cache
from pyebpf.trace.artifact import Artifact, BadArtifact

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = ('BEGIN { printf("hi\\n"); } tracepoint:syscalls:sys_enter_openat /pid == cpid/ '
          '{ @[comm] = count(); @h = hist(pid); @a = avg(pid); @t[pid, comm] = max(cpid); printf("x %d %s\\n", '
          'pid == cpid, comm); exit(); }')


def _compiled_json() -> dict:
    from pyebpf.trace.runner import compile_script

    return json.loads(json.dumps(compile_script(SCRIPT, cpid=1234).artifact.to_json()))


@pytest.fixture(scope="module")
def art_json() -> dict:
    if not os.path.isdir("/sys/kernel/tracing/events/syscalls") and not os.path.isdir(
            "/sys/kernel/debug/tracing/events/syscalls"):
        pytest.skip("needs the syscalls tracepoints' formats (tracefs)")
    try:
        return _compiled_json()
    except PermissionError:
        pytest.skip("tracefs is not readable here")


def test_artifact_round_trip(art_json):
    art = Artifact.from_json(copy.deepcopy(art_json))
    assert json.loads(json.dumps(art.to_json())) == art_json
    p = [i for i, x in enumerate(art.programs) if x.target.kind == "tracepoint"][0]
    assert art.programs[p].consts.get("cpid"), "cpid is read from .rodata, patched at load"
    prog = art.program(p, {"cpid": 99, "start": 5})
    rodata = prog.maps[".rodata"].initial
    assert all(rodata[o:o + 8] == (99).to_bytes(8, "little") for o in art.programs[p].consts["cpid"])


@pytest.mark.parametrize("damage", [
    lambda a: a["programs"][0]["insns"][0].__setitem__(0, 256),             # no such opcode byte
    lambda a: a["programs"][0]["insns"][0].__setitem__(1, 16),              # no such register
    lambda a: a["programs"][0].__setitem__("prog_type", "5"),               # wrong type
    lambda a: a["globals"].pop("EVENTS"),                                    # no event ring buffer
    lambda a: a["globals"].pop("LOST"),                                      # no lost-record counter
    lambda a: a["shared"][a["globals"]["LOST"]].__setitem__("value_size", 4),  # a counter that is not a u64
    lambda a: next(iter(a["shared"].values())).__setitem__("type", 99999),  # no such map type
    lambda a: a["classes"].__setitem__("R1", ["struct", "R1", [["id", "c_double"]], 8]),  # not a known scalar
    lambda a: a["classes"].__setitem__("R1", ["struct", "R1", [["id", "c_long"]], 9]),    # size disagrees
    lambda a: a["records"][0].__setitem__(1, "exec"),                        # no such record action
    lambda a: a.__setitem__("programs", {}),
])
def test_artifact_damage_is_refused(art_json, damage):
    bad = copy.deepcopy(art_json)
    damage(bad)
    with pytest.raises(BadArtifact):
        Artifact.from_json(bad)


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    else:
        yield path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_field_is_refused_or_still_well_formed(art_json, data):
    """A leaf replaced by another JSON value: from_json refuses it with BadArtifact or gives an artifact that
    writes back what it read, never another exception."""
    bad = copy.deepcopy(art_json)
    paths = list(_leaves(bad))
    path = data.draw(st.sampled_from(paths))
    value = data.draw(st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.text(max_size=8),
                                st.lists(st.integers(), max_size=3)))
    node = bad
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    try:
        art = Artifact.from_json(bad)
    except BadArtifact:
        return
    assert isinstance(art.to_json(), dict)


def test_cache_entries_ignored_when_damaged_or_stale(art_json, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYEBPF_NO_CACHE", raising=False)
    art = Artifact.from_json(copy.deepcopy(art_json))
    dep = tmp_path / "header.h"
    dep.write_text("#define X 1\n")
    k = cache.key(SCRIPT, unsafe=False, cpid=True)
    assert cache.store(k, art, cache.snapshot([], [str(dep)]))
    assert cache.load(k) is not None
    assert cache.load(cache.key(SCRIPT, unsafe=True, cpid=True)) is None  # other options: another entry
    path = cache.path_of(k)
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[:-10])  # truncated: the checksum disagrees
    assert cache.load(k) is None
    open(path, "wb").write(raw.replace(b'"c_long"', b'"c_lonh"', 1))  # changed: the checksum disagrees
    assert cache.load(k) is None
    open(path, "wb").write(raw)
    assert cache.load(k) is not None
    dep.write_text("#define X 2\n")  # a header the script included changed
    os.utime(dep, ns=(1, 1))
    assert cache.load(k) is None
    monkeypatch.setenv("PYEBPF_NO_CACHE", "1")
    assert cache.load(k) is None


def _run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """`pyebpf trace` in a child whose last stderr line says whether the compiler was imported."""
    code = ("import runpy, sys\nsys.argv = ['pyebpf', 'trace', *sys.argv[1:]]\ntry:\n"
            "    runpy.run_module('pyebpf', run_name='__main__')\nexcept SystemExit as e:\n    rc = e.code\n"
            "print('compiler imported:', 'pyebpf.compiler' in sys.modules, file=sys.stderr)\nsys.exit(rc)\n")
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_CACHE_HOME=str(tmp_path))
    env.pop("PYEBPF_NO_CACHE", None)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.kernel
def test_second_run_loads_from_the_cache_with_its_own_cpid(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    runs = [_run(tmp_path, "-c", "/bin/true", "-e", SCRIPT) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "hi\n" in r.stdout and "x 1 true\n" in r.stdout, r.stdout  # the filter saw this run's child
        assert "@[true]: " in r.stdout and "@t[" in r.stdout
    assert runs[0].stderr.strip().endswith("compiler imported: True")
    assert runs[1].stderr.strip().endswith("compiler imported: False"), "the second run compiled again"
    entries = [f for f in os.listdir(tmp_path / "pyebpf") if f.startswith("trace-prog-")]
    assert len(entries) == 1
    # a damaged entry is compiled again (and rewritten), not used
    path = tmp_path / "pyebpf" / entries[0]
    path.write_bytes(path.read_bytes()[:100])
    r = _run(tmp_path, "-c", "/bin/true", "-e", SCRIPT)
    assert r.returncode == 0 and "x 1 true\n" in r.stdout and r.stderr.strip().endswith("compiler imported: True")
    r = _run(tmp_path, "-c", "/bin/true", "-e", SCRIPT)
    assert r.returncode == 0 and r.stderr.strip().endswith("compiler imported: False")


def test_dependencies_are_checked_again(tmp_path, monkeypatch):
    """Each kind of fact a compilation read from the machine: still as recorded (fresh), or changed (stale)."""
    from pyebpf.trace.probes import tracepoint_events

    try:
        names = [f"tracepoint:{c}:{n}" for c, n in tracepoint_events("syscalls") if n.startswith("sys_enter_open")]
    except OSError:
        pytest.skip("no tracefs here")
    assert cache.fresh([["tracepoints", "syscalls", "sys_enter_open*", names]])
    assert not cache.fresh([["tracepoints", "syscalls", "sys_enter_open*", names[:-1]]])  # one more now
    binary = tmp_path / "prog"
    binary.write_bytes(b"\x7fELF")
    monkeypatch.chdir(tmp_path)
    deps = cache.snapshot([["binary", "./prog", str(binary)]], [])
    assert cache.fresh(deps)
    monkeypatch.chdir("/")  # ./prog is another file (none) from another directory
    assert not cache.fresh(deps)
    monkeypatch.chdir(tmp_path)
    binary.write_bytes(b"\x7fELF rebuilt")
    assert not cache.fresh(deps)
    assert cache.fresh(cache.snapshot([["boot"]], []))
    assert not cache.fresh([["boot", "another-boot"]])
    assert not cache.fresh([["unknown-kind", 1]]) and not cache.fresh("not a list") and not cache.fresh([[]])
