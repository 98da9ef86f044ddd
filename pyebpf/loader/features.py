"""What the running kernel can do, asked of the kernel once per process (libbpf's kernel feature probes).

Each probe makes the smallest request that only a kernel with the feature answers in a telling way, and its result
is cached. Attach code asks here instead of assuming a kernel version or falling back on any error:

- `perf_link()`: BPF_LINK_CREATE(BPF_PERF_EVENT) on target fd -1: EBADF means the kernel looked for the perf
  event, so it has perf links (Linux 5.15); EINVAL means it does not know the attach type (libbpf probe_perf_link).
- `tcx()`: BPF_LINK_CREATE(BPF_TCX_INGRESS) on an ifindex that does not exist: ENODEV means the kernel looked for
  the device, so it has tcx (Linux 6.6); EINVAL means it does not.
- `xdp_link()`: a missing device gives EINVAL for XDP links too, so this probe creates an XDP link on the loopback
  device of a throw-away network namespace (one thread unshares it; it vanishes with the thread).
- `helper(prog_type, helper)`: a three-instruction program of that type calling the helper is loaded; only the
  verifier's "unknown func" / "invalid func" / "program of this type cannot use helper" mean absent (any other
  rejection is about the arguments: the helper is there), as libbpf_probe_bpf_helper decides.

The answers of `perf_link()` and `tcx()` are the kernel's, not the caller's privileges': they are also kept for the
rest of the boot (pyebpf.system.boot, keyed by the boot id and the kernel's release and version), so `pyebpf trace`
does not load a probe program on every start-up. An answer the kernel did not give (the probe program itself was
refused, e.g. without CAP_BPF) is not kept.

Tests can force an answer (`force("perf_link", False)`) to exercise fallback paths on a kernel that has the feature.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
from typing import TYPE_CHECKING, Any, Callable

from pyebpf.abi.opcodes import AluOp, InsnClass, JmpOp, Reg, Source
from pyebpf.abi.prog_types import AttachType, ProgType
from pyebpf.errors import LoaderError
from pyebpf.isa.instruction import Instruction
from pyebpf.loader import syscall as sc
from pyebpf.system import boot

if TYPE_CHECKING:
    from pyebpf.abi.helpers import HelperId

_FORCED: dict[str, bool] = {}
#: An ifindex no device has (ifindex is a positive int; the kernel allocates from 1 upwards).
_NO_SUCH_IFINDEX = 0x7FFFFFFF


def force(feature: str, value: bool | None) -> None:
    """Override a probe's answer for this process (None: ask the kernel again). For tests of fallback paths."""
    if feature not in _PROBES:
        raise LoaderError(f"unknown kernel feature {feature!r} (have {', '.join(sorted(_PROBES))})", errno.EINVAL)
    if value is None:
        _FORCED.pop(feature, None)
    else:
        _FORCED[feature] = bool(value)


def _answer(feature: str, probe: Callable[[], bool]) -> bool:
    if feature in _FORCED:
        return _FORCED[feature]
    return probe()


def _trivial_prog(prog_type: ProgType, expected_attach_type: int | None = None, call: int | None = None) -> int:
    """fd of `r0 = 0; [call helper;] r0 = 0; exit` of `prog_type` (ProgramLoadError if the kernel refuses it); the expected
    attach type and flags default to what the type needs to load at all (abi.feature_probes).

    The instructions are encoded directly rather than through the Builder: the perf-link probe runs on every
    `pyebpf trace` start-up, which must not pay for importing the builder and the helper table."""
    from pyebpf.abi.feature_probes import PROG_PROBE_ATTACH_TYPE, PROG_PROBE_FLAGS
    from pyebpf.loader.program import prog_load_with_log

    if expected_attach_type is None:
        expected_attach_type = int(PROG_PROBE_ATTACH_TYPE.get(prog_type, 0))
    r0_zero = Instruction(InsnClass.ALU64 | AluOp.MOV | Source.K, Reg.R0, 0, 0, 0)
    calls = [Instruction(InsnClass.JMP | JmpOp.CALL, 0, 0, 0, int(call))] if call is not None else []
    # r0 is set again after the call: a helper's return value must not decide return-range checks
    insns = [r0_zero, *calls, r0_zero, Instruction(InsnClass.JMP | JmpOp.EXIT)]
    code = b"".join(i.encode() for i in insns)
    fd, _ = prog_load_with_log(code, prog_type, "GPL", "pyebpf_probe", 0, None, expected_attach_type,
                               PROG_PROBE_FLAGS.get(prog_type, 0), 0, [], 0, 0, 0, [])
    return fd


def _link_create_errno(prog_type: ProgType, attach_type: AttachType, target: int, flags: int = 0) -> int | None:
    """errno of BPF_LINK_CREATE(prog of `prog_type`, target, attach_type); 0 if a link was made (and closed).
    None when the kernel refuses even the probe program (no CAP_BPF...): it has no such link for us either, but
    that is no answer about the kernel to keep."""
    try:
        fd = _trivial_prog(prog_type, attach_type if prog_type != ProgType.TRACEPOINT else 0)
    except LoaderError:
        return None
    try:
        link = sc.link_create(fd, target, attach_type, flags)
    except LoaderError as e:
        return e.errno or 0
    finally:
        os.close(fd)
    os.close(link)
    return 0


def _per_boot(feature: str, ask: Callable[[], int | None], present: int) -> bool:
    """The kernel's answer to `feature`: kept earlier in this boot, else asked (`ask()`'s errno == `present`) and
    kept when the kernel gave it."""
    kept = boot.boot_fact(feature)
    if kept is not None:
        return kept
    got = ask()
    if got is None:
        return False
    boot.keep_boot_fact(feature, got == present)
    return got == present


@functools.lru_cache(maxsize=None)
def _probe_perf_link() -> bool:
    return _per_boot("perf_link", lambda: _link_create_errno(ProgType.TRACEPOINT, AttachType.PERF_EVENT, 0xFFFFFFFF),
                     errno.EBADF)


@functools.lru_cache(maxsize=None)
def _probe_tcx() -> bool:
    return _per_boot("tcx", lambda: _link_create_errno(ProgType.SCHED_CLS, AttachType.TCX_INGRESS, _NO_SUCH_IFINDEX),
                     errno.ENODEV)


@functools.lru_cache(maxsize=None)
def _probe_xdp_link() -> bool:
    import threading

    from pyebpf.abi.netlink import CLONE_NEWNET, XdpFlags  # netlink's tables: not for the perf-link start-up path

    result: dict[str, Any] = {}

    def body() -> None:  # this thread alone moves to a new network namespace; it is freed when the thread ends
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                result["error"] = ctypes.get_errno()
                return
            got = _link_create_errno(ProgType.XDP, AttachType.XDP, 1, int(XdpFlags.SKB_MODE))
            result["errno"] = errno.EINVAL if got is None else got
        except BaseException as e:  # noqa: BLE001 - reported in the calling thread
            result["exc"] = e

    thread = threading.Thread(target=body, name="pyebpf-probe-xdp-link")
    thread.start()
    thread.join()
    if "exc" in result:
        raise result["exc"]
    if "error" in result:
        raise LoaderError("probing XDP links: unshare(CLONE_NEWNET)", result["error"])
    return result["errno"] == 0


#: Verifier messages (check_helper_call) meaning the helper does not exist or is not for this program type.
_HELPER_ABSENT = ("invalid func ", "unknown func ", "program of this type cannot use helper ")


@functools.lru_cache(maxsize=None)
def _probe_helper(prog_type: ProgType, helper: int) -> bool:
    from pyebpf.loader.program import ProgramLoadError

    try:
        fd = _trivial_prog(prog_type, call=helper)
    except ProgramLoadError as e:
        # libbpf_probe_bpf_helper: only these verifier messages mean "absent"; any other rejection (our r1 is the
        # context, which may be the wrong argument) means the verifier knew the helper and allowed the call
        return not any(m in e.log for m in _HELPER_ABSENT)
    os.close(fd)
    return True


def perf_link() -> bool:
    """BPF links on perf events (tracepoints, kprobes, uprobes) — else PERF_EVENT_IOC_SET_BPF."""
    return _answer("perf_link", _probe_perf_link)


def tcx() -> bool:
    """tcx links for tc programs — else a clsact qdisc with a cls_bpf filter through netlink."""
    return _answer("tcx", _probe_tcx)


def xdp_link() -> bool:
    """XDP through BPF_LINK_CREATE — else IFLA_XDP through netlink. Unknown (the probe cannot run): True, and the
    attach itself reports what the kernel says."""
    if "xdp_link" in _FORCED:
        return _FORCED["xdp_link"]
    try:
        return _probe_xdp_link()
    except LoaderError:
        return True


def helper(prog_type: ProgType | str, name_or_id: HelperId | int | str) -> bool:
    """Whether programs of `prog_type` may call helper `name_or_id` ("get_attach_cookie", HelperId...) here."""
    from pyebpf.abi.helpers import HelperId
    from pyebpf.abi.prog_types import parse_prog_type

    ptype = prog_type if isinstance(prog_type, ProgType) else parse_prog_type(prog_type)
    if isinstance(name_or_id, str):
        key = name_or_id.removeprefix("bpf_").upper()
        try:
            hid = int(HelperId[key])
        except KeyError:
            raise LoaderError(f"unknown helper {name_or_id!r}", errno.EINVAL) from None
    else:
        hid = int(name_or_id)
    forced = _FORCED.get(f"helper:{ptype.name.lower()}:{hid}")
    if forced is not None:
        return forced
    return _probe_helper(ptype, hid)


_PROBES = {"perf_link": _probe_perf_link, "tcx": _probe_tcx, "xdp_link": _probe_xdp_link}

__all__ = ["perf_link", "tcx", "xdp_link", "helper", "force"]
