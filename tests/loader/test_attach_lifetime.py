"""Nothing left behind: XDP and tc attachments of a process that is killed (SIGKILL, SIGTERM), the SIGTERM handler
(and a user's own, chained), an old attachment in the way (AttachmentExists, replace=True), `pyebpf net`.

Every test works on a veth between two network namespaces it creates (unique names); what is on the device is read
back with `ip`/`tc` and with our own net_list."""
from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from netns import veth_pair
from test_attach_net import _child_env
from pyebpf.cli import main
from pyebpf.isa.builder import Builder
from pyebpf.loader import load
from pyebpf.loader.attach import AttachmentExists, attach_tc, attach_xdp, net_detach, net_list
from pyebpf.loader.info import link_infos
from pyebpf.testing.plugin import skip_missing_feature

pytestmark = pytest.mark.kernel


def _need_links() -> None:
    """The default (bpf_link) path needs tcx (6.6+) and XDP links (5.9+); elsewhere the default is netlink."""
    from pyebpf.loader import features

    if not (features.tcx() and features.xdp_link()):
        skip_missing_feature("no tcx or XDP links on this kernel (Linux 6.6+ / 5.9+)")

XDP_PASS, TC_ACT_OK = 2, 0

CHILD = """
import os, signal, sys, time
from pyebpf.isa.builder import Builder
from pyebpf.loader import load
from pyebpf.loader.attach import attach_tc, attach_xdp
{before}
b = Builder("xdp", name="child_xdp"); b.ret(2); x = load(b.build())
b = Builder("sched_cls", name="child_tc"); b.ret(0); t = load(b.build())
a1 = attach_xdp(x, {dev!r}, netns={ns!r}{how})
a2 = attach_tc(t, {dev!r}, "ingress", netns={ns!r}{how})
print(x.id, t.id, flush=True)
time.sleep(60)
"""


def _ip(ns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True, check=True).stdout


def _tc(ns: str, *args: str) -> str:
    return subprocess.run(["tc", "-n", ns, *args], capture_output=True, text=True, check=True).stdout


def _nothing_left(pair, ids: set[int]) -> None:
    """The kernel frees links of a dead process from a work item: wait a little, then check every view."""
    deadline = time.monotonic() + 5
    while (net_list(pair.if_b, pair.ns_b) or {li.prog_id for li in link_infos()} & ids) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert net_list(pair.if_b, pair.ns_b) == []
    assert not ({li.prog_id for li in link_infos()} & ids)
    assert "xdp" not in _ip(pair.ns_b, "link", "show", "dev", pair.if_b)
    for direction in ("ingress", "egress"):
        assert _tc(pair.ns_b, "filter", "show", "dev", pair.if_b, direction).strip() == ""
    assert "clsact" not in _tc(pair.ns_b, "qdisc", "show", "dev", pair.if_b)


def _run_child(tmp_path, pair, how: str = "", before: str = "") -> tuple[subprocess.Popen, set[int]]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(dev=pair.if_b, ns=pair.ns_b, how=how, before=before)))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=_child_env())
    line = child.stdout.readline()
    if not line:
        child.kill()
        raise AssertionError(f"child failed: {child.communicate(timeout=30)[1]}")
    ids = {int(v) for v in line.split()}
    on_dev = net_list(pair.if_b, pair.ns_b)
    assert {a.prog_id for a in on_dev} == ids and {a.hook for a in on_dev} >= {"xdp"}
    return child, ids


def _finish(child: subprocess.Popen, sig: int) -> int:
    child.send_signal(sig)
    try:
        return child.wait(timeout=30)
    finally:
        child.stdout.close()
        child.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_process_leaves_nothing_by_default(tmp_path, sig):
    """Default attachment is by bpf_link (XDP link, tcx): the kernel releases them whatever kills the process."""
    _need_links()
    with veth_pair() as pair:
        child, ids = _run_child(tmp_path, pair)
        on_dev = net_list(pair.if_b, pair.ns_b)
        assert {(a.hook, a.via) for a in on_dev} == {("xdp", "link"), ("tcx", "link")}
        code = _finish(child, sig)
        assert code in (-sig, 128 + sig)
        _nothing_left(pair, ids)


def test_sigterm_releases_netlink_attachments(tmp_path):
    """via="netlink" attachments outlive fds; SIGTERM now unwinds like SIGINT, so the exit hook removes them."""
    with veth_pair() as pair:
        child, ids = _run_child(tmp_path, pair, how=', via="netlink"')
        assert {(a.hook, a.via) for a in net_list(pair.if_b, pair.ns_b)} == {("xdp", "netlink"), ("tc", "netlink")}
        assert _finish(child, signal.SIGTERM) == 128 + signal.SIGTERM
        _nothing_left(pair, ids)


def test_a_users_sigterm_handler_is_chained_not_stolen(tmp_path):
    # (pyroute2 forks helpers and ends them with SIGTERM: they inherit the handler, so it acts in this pid only)
    before = ("MAIN = os.getpid()\n"
              "def on_term(signum, frame):\n"
              "    if os.getpid() != MAIN:\n"
              "        os._exit(0)\n"
              "    print('user handler', flush=True)\n"
              "    sys.exit(3)\n"
              "signal.signal(signal.SIGTERM, on_term)\n")
    with veth_pair() as pair:
        child, ids = _run_child(tmp_path, pair, how=', via="netlink"', before=before)
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=30)
        assert child.returncode == 3 and "user handler" in out  # the user's handler decided
        _nothing_left(pair, ids)  # ... and its sys.exit ran our exit hook


def test_old_attachment_in_the_way_says_so_and_replace_works(tmp_path, capsys):
    """A SIGKILLed netlink attacher leaves XDP and a cls_bpf filter behind (nothing runs on SIGKILL): the next
    attach names them and the way out; replace=True and `pyebpf net detach` remove them."""
    _need_links()
    with veth_pair() as pair:
        child, ids = _run_child(tmp_path, pair, how=', via="netlink"')
        _finish(child, signal.SIGKILL)
        left = net_list(pair.if_b, pair.ns_b)
        assert {a.prog_id for a in left} == ids
        stale = [a for a in left if a.hook == "tc"]
        assert len(stale) == 1 and stale[0].pyebpf and stale[0].owner_pid == child.pid and stale[0].stale
        with load(Builder("xdp", name="new_xdp").ret(XDP_PASS).build()) as x, \
                load(Builder("sched_cls", name="new_tc").ret(TC_ACT_OK).build()) as t:
            with pytest.raises(AttachmentExists) as info:
                attach_xdp(x, pair.if_b, netns=pair.ns_b)
            msg = str(info.value)
            assert info.value.errno == errno.EBUSY
            assert f"pyebpf net detach {pair.if_b} --netns {pair.ns_b}" in msg and "replace=True" in msg
            assert "child_xdp" in msg and "netlink" in msg
            with pytest.raises(AttachmentExists) as info:  # a stale filter would keep running beside tcx
                attach_tc(t, pair.if_b, "ingress", netns=pair.ns_b)
            assert info.value.errno == errno.EEXIST and "no longer running" in str(info.value)
            assert f"pyebpf process {child.pid}" in str(info.value)
            assert {a.prog_id for a in net_list(pair.if_b, pair.ns_b)} == ids  # refused: nothing changed

            with attach_xdp(x, pair.if_b, netns=pair.ns_b, replace=True) as lx, \
                    attach_tc(t, pair.if_b, "ingress", netns=pair.ns_b, replace=True) as lt:
                now = net_list(pair.if_b, pair.ns_b)
                assert {(a.hook, a.prog_id, a.via) for a in now} == {("xdp", x.id, "link"), ("tcx", t.id, "link")}
                assert lx.info().prog_id == x.id and lt.info().prog_id == t.id
                # a second XDP program is refused while ours is there, naming our link
                with load(Builder("xdp").ret(XDP_PASS).build()) as y:
                    with pytest.raises(AttachmentExists, match=f"bpf_link {lx.id}"):
                        attach_xdp(y, pair.if_b, netns=pair.ns_b)
                # the CLI sees the same and removes it
                assert main(["net", "list", pair.if_b, "--netns", pair.ns_b, "--json"]) == 0
                listed = json.loads(capsys.readouterr().out)
                assert {(a["hook"], a["prog_id"]) for a in listed} == {("xdp", x.id), ("tcx", t.id)}
                assert main(["net", "detach", pair.if_b, "--netns", pair.ns_b]) == 0
                assert "detached" in capsys.readouterr().out
                assert net_list(pair.if_b, pair.ns_b) == []
            _nothing_left(pair, ids | {x.id, t.id})


def test_net_detach_removes_netlink_xdp_and_cls_bpf_and_only_what_is_asked(capsys):
    _need_links()
    with veth_pair() as pair, load(Builder("xdp").ret(XDP_PASS).build()) as x, \
            load(Builder("sched_cls").ret(TC_ACT_OK).build()) as t:
        lx = attach_xdp(x, pair.if_b, netns=pair.ns_b, via="netlink")
        li = attach_tc(t, pair.if_b, "ingress", netns=pair.ns_b, via="netlink")
        le = attach_tc(t, pair.if_b, "egress", netns=pair.ns_b)  # tcx
        assert main(["net", "list", "--netns", pair.ns_b]) == 0
        text = capsys.readouterr().out
        assert f"{pair.if_b}(" in text and "xdp skb" in text and "tc ingress" in text and "tcx egress" in text
        assert f"[pyebpf pid " in text
        removed = net_detach(pair.if_b, pair.ns_b, hooks=("tcx", "tc"), direction="ingress")
        assert [(a.hook, a.direction) for a in removed] == [("tc", "ingress")]
        assert {(a.hook, a.direction) for a in net_list(pair.if_b, pair.ns_b)} == {("xdp", ""), ("tcx", "egress")}
        assert main(["net", "detach", pair.if_b, "--netns", pair.ns_b, "--xdp", "--json"]) == 0
        assert [a["hook"] for a in json.loads(capsys.readouterr().out)] == ["xdp"]
        assert [a.hook for a in net_list(pair.if_b, pair.ns_b)] == ["tcx"]
        for link in (lx, li, le):
            link.close()  # what net detach removed counts as already gone
        assert net_list(pair.if_b, pair.ns_b) == []
        assert main(["net", "detach", "no-such-if0", "--netns", pair.ns_b]) == 1


def test_net_list_agrees_with_bpftool_net():
    """XDP and cls_bpf as bpftool net (Debian's 7.1, which predates tcx) reports them from the kernel."""
    import shutil

    from pyebpf.testing.plugin import require_or_skip

    if shutil.which("bpftool") is None:
        require_or_skip("bpftool is not installed")
    with veth_pair() as pair, load(Builder("xdp", name="cmp_xdp").ret(XDP_PASS).build()) as x, \
            load(Builder("sched_cls", name="cmp_tc").ret(TC_ACT_OK).build()) as t:
        with attach_xdp(x, pair.if_b, netns=pair.ns_b), \
                attach_tc(t, pair.if_b, "egress", netns=pair.ns_b, via="netlink"):
            out = subprocess.run(["ip", "netns", "exec", pair.ns_b, "bpftool", "--json", "net", "show", "dev",
                                  pair.if_b], capture_output=True, text=True, check=True).stdout
            theirs = json.loads(out)[0]
            ours = net_list(pair.if_b, pair.ns_b, hooks=("xdp", "tc"))
            bpftool_mode = {"skb": "generic", "drv": "driver", "hw": "offload"}
            assert sorted((e["ifindex"], e["mode"], e["id"]) for e in theirs["xdp"]) == \
                sorted((a.ifindex, bpftool_mode[a.mode], a.prog_id) for a in ours if a.hook == "xdp")
            assert sorted((e["ifindex"], e["kind"], e["name"], e["id"]) for e in theirs["tc"]) == \
                sorted((a.ifindex, f"clsact/{a.direction}", a.filter_name, a.prog_id) for a in ours if a.hook == "tc")
