#!/usr/bin/env bash
# The test command: set up a fresh machine, then run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rc=0
"${PYTHON:-python3}" -m pytest -q "$@" || rc=$?
# The kernel matrix (other kernels booted in QEMU; see docs/kernels.md): set PYEBPF_KERNEL_MATRIX="6.12 6.1" to run
# scripts/matrix-tests.txt inside each of them after the host suite (.ci/run does).
if [ -n "${PYEBPF_KERNEL_MATRIX:-}" ]; then
    KERNELS=$PYEBPF_KERNEL_MATRIX bash scripts/kernel-matrix.sh || rc=1
fi
exit $rc
