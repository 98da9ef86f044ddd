#!/usr/bin/env bash
# kernel-matrix.sh — run the matrix selection (or any command) under several Debian kernels, one guest per kernel.
#
#   scripts/kernel-matrix.sh                       # the selection in scripts/matrix-tests.txt, KERNELS="6.12 6.1"
#   KERNELS="6.1 6.12 bullseye:5.10" scripts/kernel-matrix.sh -- python3 -m pytest -q tests/loader/test_attach_net.py
#
# An entry of matrix-tests.txt may name kernels it is left out for (`PATH not=bullseye:5.10`, with the reason in a
# comment there); KERNEL_VM_TIMEOUT (default 1800 s) bounds each guest.
# KERNELS is a list of kernel-vm.sh -k values; "SUITE:VERSION" takes the kernel from another Debian suite (a private
# apt state directory; the host's apt sources stay as they are). One pytest per kernel: pytest start-up alone takes
# ~40 s under emulation. Each kernel's log goes to $KERNEL_VM_CACHE/logs/<kernel>.log (outside the repository) and
# its last lines are printed when it fails (one log per run and kernel: <kernel>.<pid>.log). A kernel that cannot be downloaded is reported as SKIPPED with the
# reason (never as passed); PYEBPF_MATRIX_REQUIRE=1 makes that a failure. Exit status: 0 when every kernel that ran
# passed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/.."
KERNELS=${KERNELS:-"6.12 6.1"}
[ "${1:-}" = "--" ] && shift
explicit=$#
selection_for() {  # matrix-tests.txt's entries for kernel $1: an entry's `not=K1,K2` leaves those kernels out
  local path rest
  while read -r path rest; do
    [[ -z $path || $path == \#* ]] && continue
    if [[ $rest =~ (^|[[:space:]])not=([^[:space:]]+) ]] && [[ ",${BASH_REMATCH[2]}," == *",$1,"* ]]; then
      continue
    fi
    printf '%s\n' "$path"
  done < "$HERE/matrix-tests.txt"
}
LOGS=${KERNEL_VM_CACHE:-/var/tmp/kernel-vm}/logs
mkdir -p "$LOGS"
worst=0
summary=""
for k in $KERNELS; do
  suite=""; ver=$k
  case $k in *:*) suite=${k%%:*}; ver=${k#*:} ;; esac
  log=$LOGS/${k//[:\/]/_}.$$.log  # per run: concurrent matrix runs must not overwrite each other
  if [ "$explicit" -eq 0 ]; then
    mapfile -t selection < <(selection_for "$k")
    set -- "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider -rs "${selection[@]}"
  fi
  start=$(date +%s)
  echo "== kernel $k: $*" >&2
  KERNEL_VM_SUITE=$suite "$HERE/kernel-vm.sh" -k "$ver" -t "${KERNEL_VM_TIMEOUT:-1800}" -- "$@" > "$log" 2>&1
  rc=$?
  note=""
  # The emulated guest kernel itself can die (seen once: an int3 Oops in __schedule while a trampoline was patched
  # under TCG). Such a run printed no pytest result; it runs again once, and the panic is reported, never hidden.
  if [ $rc -ne 0 ] && [ $rc -ne 3 ] && grep -q 'Kernel panic - not syncing' "$log" \
      && ! grep -qE '[0-9]+ (passed|failed|error)' "$log"; then
    echo "== kernel $k: the guest kernel panicked ($(grep -m1 -E 'Oops|BUG:' "$log" | sed 's/^\[[ 0-9.]*\] //')); running it again once" >&2
    panicked="$log"
    log=${log%.log}.retry.log
    KERNEL_VM_SUITE=$suite "$HERE/kernel-vm.sh" -k "$ver" -t "${KERNEL_VM_TIMEOUT:-1800}" -- "$@" > "$log" 2>&1
    rc=$?
    echo "== kernel $k: the run after the panic ended rc=$rc (panic log: $panicked)" >&2
    note=" (after a guest kernel panic: $panicked)"
  fi
  secs=$(( $(date +%s) - start ))
  last=$(grep -E '[0-9]+ (passed|failed|error)' "$log" | tail -1)
  if [ $rc -eq 3 ]; then
    status="SKIPPED ($(grep -m1 'kernel-vm:' "$log"))"
    [ "${PYEBPF_MATRIX_REQUIRE:-0}" = 1 ] && worst=1
  elif [ $rc -ne 0 ]; then
    status="FAILED rc=$rc"; worst=1
    tail -40 "$log" >&2
  else
    status="passed$note"
  fi
  summary+=$(printf '%-16s %-9s %5ss  %s' "$k" "${status%% *}" "$secs" "${last:-$status}")$'\n'
  echo "== kernel $k: $status in ${secs}s (log: $log)" >&2
done
printf 'kernel matrix:\n%s' "$summary"
exit $worst
