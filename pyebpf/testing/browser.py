"""Headless Chromium for tests that check what a real browser makes of a page pyebpf writes (the explain report,
the flame graph SVG): one place that finds the browser and runs it without network or a shared profile.

A missing browser is an environment problem, so it goes through `require_or_skip`: a skip on a developer's
machine, a failure under PYEBPF_REQUIRE_KERNEL=1 (CI installs Debian's chromium through scripts/setup.sh).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pyebpf.testing.plugin import require_or_skip

#: Debian's package installs `chromium`; other distributions name it `chromium-browser`
BROWSER_NAMES = ("chromium", "chromium-browser")
#: headless, no sandbox (tests run as root), no GPU, no background requests (the pages must work offline)
HEADLESS_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")


def browser() -> str:
    """The path of the Chromium binary; skips (fails in CI) when none is installed."""
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    require_or_skip("chromium is not installed (scripts/setup.sh installs Debian's chromium)")
    raise AssertionError("unreachable")  # require_or_skip always raises


def chromium(profile_dir: Path, *args: str, check: bool = True, timeout: float = 120) -> str:
    """Run headless Chromium with `args` (e.g. `--dump-dom URL`, `--screenshot=PATH URL`) and a throw-away
    profile under `profile_dir`; its stdout (the DOM for --dump-dom)."""
    flags = [*HEADLESS_FLAGS, f"--user-data-dir={Path(profile_dir) / 'profile'}"]
    return subprocess.run([browser(), *flags, *args], capture_output=True, text=True, timeout=timeout,
                          check=check).stdout


__all__ = ["browser", "chromium", "BROWSER_NAMES", "HEADLESS_FLAGS"]
