"""Where the bpf_conformance programs are: the copy vendored in tests/data, or $PYEBPF_CONFORMANCE_DIR."""
from __future__ import annotations

import os
from pathlib import Path

_VENDORED = Path(__file__).resolve().parents[1] / "data" / "bpf_conformance" / "tests"
CONFORMANCE_DIR = Path(os.environ["PYEBPF_CONFORMANCE_DIR"]) if os.environ.get("PYEBPF_CONFORMANCE_DIR") else _VENDORED
