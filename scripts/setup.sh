#!/usr/bin/env bash
# Installs everything pyebpf needs on a fresh Debian machine: the package with its test, jit, net and export extras,
# and, when root, the system tools the tests compare against (clang, llvm-objdump, bpftool, bpftrace, iproute2,
# tcpdump, chromium, prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    for tool in clang llvm-objdump bpftool bpftrace ip tcpdump chromium prometheus; do
        command -v "$tool" >/dev/null || need+=("$tool")
    done
    # systemtap-sdt-dev brings <sys/sdt.h> for the USDT test programs.
    [ -f /usr/include/x86_64-linux-gnu/sys/sdt.h ] || [ -f /usr/include/sys/sdt.h ] || need+=(systemtap-sdt-dev)
    # libbpf-dev brings bpf_helpers.h for the C test programs; linux-libc-dev the uapi headers.
    [ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
    # the kernel's verifier selftests (tests/verifier/selftests) come from the kernel source package
    compgen -G "/usr/src/linux-source-*.tar.xz" >/dev/null || need+=(linux-source-6.12)
    if [ ${#need[@]} -gt 0 ]; then
        echo "setup: installing system packages for: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends clang llvm bpftool bpftrace iproute2 libbpf-dev \
            linux-libc-dev libc6-dev tcpdump systemtap-sdt-dev chromium prometheus >/dev/null
        # chromium: explain's HTML and the flame graph tests; prometheus: the server scraping `pyebpf export` in its test
        compgen -G "/usr/src/linux-source-*.tar.xz" >/dev/null \
            || apt-get install -y -qq --no-install-recommends linux-source-6.12 gcc >/dev/null || true
    fi
fi
"$PY" -m pip install -q --disable-pip-version-check -e ".[test,jit,net,export]"

# bpffs and tracefs are where pinning and tracepoints live; mount them when we may and they are absent.
if [ "$(id -u)" = 0 ]; then
    mountpoint -q /sys/fs/bpf 2>/dev/null || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
    if [ ! -d /sys/kernel/tracing/events ]; then
        mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
    fi
fi
