#!/usr/bin/env bash
# kernel-vm.sh — run a command as root inside ANOTHER Linux kernel (a Debian linux-image package) booted in QEMU.
# This machine's / is shared read-only over 9p with a tmpfs overlay on top: the guest may write anywhere, and
# nothing reaches the host. Made for eBPF tests that need kprobes/kretprobes/fentry, or a second kernel verifier.
#
#   scripts/kernel-vm.sh [-k KERNEL] [-m MEM] [-c CPUS] [-t SECONDS] [-v] -- COMMAND [ARGS...]
#
#   -k KERNEL  "6.1" / "6.12" / "5.10" (the newest such -amd64 package apt knows), or the Debian package's exact
#              suffix, e.g. 6.1.0-57-amd64 (= linux-image-6.1.0-57-amd64). Default 6.1. Any
#              linux-image-<KERNEL> that apt can see works. Bookworm has 6.1.0-*-amd64, and bookworm-security
#              has 6.12.*+deb12-amd64. KERNEL_VM_SUITE=bullseye fetches 5.10.0-*-amd64 through a private apt
#              state directory, so the host's apt sources stay as they are. Use the plain -amd64 flavour
#              (-cloud-amd64 has no 9p). KERNEL may also be a dpkg -x tree: boot/vmlinuz-*, lib/modules/*.
#   -m MEM     guest memory (default 2G)   -c CPUS  vCPUs (default: host cores)   -t  timeout (default 1800 s)
#   -v         show the guest kernel's boot messages
#
# COMMAND runs in the current directory with the caller's environment, as root. /proc, /sys, tracefs, debugfs,
# bpffs and cgroup2 are mounted, and so is /lib/modules/$(uname -r), so modprobe works. The script exits with
# COMMAND's status, 124 if the guest gave none, 3 if the kernel cannot be
# found or downloaded (the matrix reports that as SKIPPED). It needs root on the host, because / is exported over 9p.
# Acceleration: KVM when /proc/cpuinfo shows vmx/svm, else TCG, which is software and about 6-10x slower
# (KERNEL_VM_ACCEL=kvm|tcg overrides this). Cache: $KERNEL_VM_CACHE (default /var/tmp/kernel-vm), about
# 400 MB per kernel.
set -euo pipefail

KERNEL=6.1 MEM=2G CPUS=$(nproc) TIMEOUT=1800 VERBOSE=0
CACHE=${KERNEL_VM_CACHE:-/var/tmp/kernel-vm}
while getopts "k:m:c:t:vh" o; do
  case $o in
    k) KERNEL=$OPTARG ;; m) MEM=$OPTARG ;; c) CPUS=$OPTARG ;; t) TIMEOUT=$OPTARG ;; v) VERBOSE=1 ;;
    *) sed -n '2,23p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "kernel-vm: no command given (see $0 -h)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "kernel-vm: must run as root (the guest sees / through 9p as root)" >&2; exit 2; }

MISSING=""
need() { command -v "$1" >/dev/null 2>&1 || MISSING="$MISSING $2"; }
need qemu-system-x86_64 qemu-system-x86; need busybox busybox-static; need depmod kmod; need xz xz-utils
if [ -n "$MISSING" ]; then
  echo "kernel-vm: apt-get install$MISSING" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
fi

# ---- the kernel: apt-get download + dpkg -x (it is never installed as this host's kernel) -------------------------
mkdir -p "$CACHE"
APTO=()
if [ -n "${KERNEL_VM_SUITE:-}" ] && [ ! -d "$KERNEL" ]; then
  A=$CACHE/apt-$KERNEL_VM_SUITE
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian" \
    "$KERNEL_VM_SUITE main" > "$A/sources.list"
  APTO=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache")
  ls "$A/lists" | grep -q Packages || apt-get "${APTO[@]}" update -qq >&2 ||
    { echo "kernel-vm: cannot reach the $KERNEL_VM_SUITE archive" >&2; exit 3; }
fi
if [[ $KERNEL =~ ^[0-9]+\.[0-9]+$ ]]; then  # "6.1" -> the newest linux-image-6.1.*-amd64 apt knows
  want=$KERNEL
  KERNEL=$(apt-cache "${APTO[@]}" search --names-only "^linux-image-${want//./\\.}[.-][0-9a-z.+-]*-amd64\$" |
           awk '{print $1}' | grep -vE -- '-(rt|cloud)-amd64$|unsigned|dbg' | sed 's/^linux-image-//' | sort -V | tail -1)
  [ -n "$KERNEL" ] || { echo "kernel-vm: apt knows no linux-image-$want.*-amd64" >&2; exit 3; }
fi
if [ -d "$KERNEL" ]; then
  KROOT=$(cd "$KERNEL" && pwd)
else
  KROOT=$CACHE/$KERNEL
  if [ ! -d "$KROOT/boot" ]; then
    dl=$(mktemp -d "$CACHE/dl.XXXX")
    (cd "$dl" && apt-get "${APTO[@]}" download "linux-image-$KERNEL" >/dev/null 2>&1) ||
      (cd "$dl" && apt-get "${APTO[@]}" update -qq && apt-get "${APTO[@]}" download "linux-image-$KERNEL") >&2 ||
      { echo "kernel-vm: no package linux-image-$KERNEL (apt-cache search linux-image | grep -v dbg)" >&2
        rm -rf "$dl"; exit 3; }
    rm -rf "$KROOT.part"; mkdir -p "$KROOT.part"
    dpkg -x "$dl"/linux-image-*.deb "$KROOT.part" && rm -rf "$dl" && mv "$KROOT.part" "$KROOT"
  fi
fi
VMLINUZ=$(ls "$KROOT"/boot/vmlinuz-* | head -1)
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$KROOT/lib/modules/$KVER
grep -q '^CONFIG_9P_FS=' "$KROOT/boot/config-$KVER" ||
  { echo "kernel-vm: $KVER has no 9p (CONFIG_9P_FS); use the plain -amd64 flavour, not -cloud-amd64" >&2; exit 2; }
[ -f "$MODDIR/modules.dep" ] || depmod -b "$KROOT" "$KVER"

# ---- initramfs: static busybox and the modules that mount / over 9p with an overlay ------------------------------
INITRD=$KROOT/initrd-kernel-vm.cpio.gz
if [ ! -f "$INITRD" ] || [ "$0" -nt "$INITRD" ]; then
  ir=$(mktemp -d "$CACHE/initrd.XXXX")
  mkdir -p "$ir"/{bin,dev,proc,sys,newroot,lower,upper,mods}
  BB=$(command -v busybox)
  if ldd "$BB" >/dev/null 2>&1; then echo "kernel-vm: $BB is dynamic; apt-get install busybox-static" >&2; exit 2; fi
  cp "$BB" "$ir/bin/busybox"
  : > "$ir/mods/order"
  # modules not built in, in dependency order (built-in ones print no insmod line)
  modprobe -d "$KROOT" -S "$KVER" --show-depends -a 9p 9pnet_virtio virtio_pci overlay 2>/dev/null |
    awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r ko; do
      base=$(basename "$ko"); base=${base%.xz}; base=${base%.zst}
      case $ko in *.xz) xz -dc "$ko" > "$ir/mods/$base" ;; *.zst) zstd -qdc "$ko" > "$ir/mods/$base" ;;
                  *) cp "$ko" "$ir/mods/$base" ;; esac
      echo "$base" >> "$ir/mods/order"
    done
  cat > "$ir/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do insmod /mods/$m || echo "kernel-vm: insmod $m failed"; done
o="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$o,ro,cache=loose" hostroot /lower || { echo "kernel-vm: cannot mount hostroot"; poweroff -f; }
mount -t tmpfs -o mode=0755 tmpfs /upper && mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot ||
  { echo "kernel-vm: overlay failed, the root is read-only"; mount --bind /lower /newroot; }
R=/newroot
# the kernel's module autoloader (rtnl-link-veth, sch_clsact ...) runs modprobe in this initramfs root: hand it to
# the host's kmod inside the new root, where the guest's modules are mounted
printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe "$@"\n' > /bin/modprobe-root && chmod +x /bin/modprobe-root
echo /bin/modprobe-root > /proc/sys/kernel/modprobe
mount -t proc proc $R/proc; mount -t sysfs sysfs $R/sys; mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm; mount -t devpts devpts $R/dev/pts; mount -t tmpfs tmpfs $R/dev/shm
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
mkdir -p $R/run/vmio $R/lib/modules/$(uname -r)
mount -t 9p -o "$o" vmio $R/run/vmio
mount -t 9p -o "$o,ro" kmods $R/lib/modules/$(uname -r)
ip link set lo up 2>/dev/null; hostname kernel-vm
sh=/bin/bash; [ -x $R/bin/bash ] || sh=/bin/sh
chroot $R $sh /run/vmio/cmd.sh < /dev/console > /dev/console 2>&1
echo $? > $R/run/vmio/rc
sync; poweroff -f
INIT
  chmod +x "$ir/init"
  (cd "$ir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD.tmp" && mv "$INITRD.tmp" "$INITRD"
  rm -rf "$ir"
fi

# ---- the run: the command script and its exit status go through a shared read-write directory ------------------
RUN=$(mktemp -d "$CACHE/run.XXXX")
trap 'rm -rf "$RUN"' EXIT
{
  export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_|HOSTNAME|TMPDIR|XDG_RUNTIME_DIR|SSH_[A-Z_]*|DISPLAY)='
  echo "export TERM=dumb PYTHONDONTWRITEBYTECODE=1 KERNEL_VM=$(printf %q "$KVER")"
  echo "cd $(printf %q "$PWD") || exit 125"
  printf '%q ' "$@"; echo
} > "$RUN/cmd.sh"

ACCEL=${KERNEL_VM_ACCEL:-}
if [ -z "$ACCEL" ]; then
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
if [ "$ACCEL" = kvm ]; then ACC=(-enable-kvm -cpu host)
else ACC=(-accel tcg,thread=multi -cpu "${KERNEL_VM_CPU:-max,-erms,-fsrm}"); fi  # TCG emulates rep stosb slowly
APPEND="console=ttyS0 panic=-1 rdinit=/init"
[ "$VERBOSE" = 1 ] || APPEND="$APPEND quiet loglevel=1"
share() {  # id, host path, extra fsdev options
  echo "-fsdev local,id=$1,path=$2,security_model=none,multidevs=remap$3 -device virtio-9p-pci,fsdev=$1,mount_tag=$1"
}
# shellcheck disable=SC2046
timeout --foreground "$TIMEOUT" qemu-system-x86_64 "${ACC[@]}" -m "$MEM" -smp "$CPUS" \
  -display none -no-reboot -nodefaults -serial stdio -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND" \
  $(share hostroot / ,readonly=on) $(share vmio "$RUN" "") $(share kmods "$MODDIR" ,readonly=on) \
  </dev/null | tr -d '\r' | { if [ "$VERBOSE" = 1 ]; then cat; else grep -v '\] reboot: Power down$'; fi; } || true
if [ -f "$RUN/rc" ]; then exit "$(cat "$RUN/rc")"; fi
echo "kernel-vm: the guest reported no exit status (boot failure, or timeout after ${TIMEOUT}s; try -v)" >&2
exit 124
