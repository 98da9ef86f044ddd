#!/usr/bin/env bash
# The main job: set up a fresh machine, then run `pyebpf demo` (assemble, verify, simulate, load where permitted).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" -m pyebpf demo "$@"
