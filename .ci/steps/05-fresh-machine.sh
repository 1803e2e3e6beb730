#!/usr/bin/env bash
# The README's test command on a fresh Debian 12: a minimal system with only a C
# compiler, make and CMake (no CMocka, no ninja, no pkg-config), built with debootstrap
# from the Debian archive this machine uses, and the command run in it as root with
# nothing typed before. It must install CMocka itself (and say so) and pass.
# The chroot runs in its own mount, IPC and PID namespaces: its /dev/shm and SysV
# objects are its own, and every process it starts ends with it.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "fresh machine (README test command in a new Debian 12)"

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends debootstrap util-linux git >/dev/null

# The archive this machine's apt uses (deb822 or one-line sources).
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "no Debian archive in /etc/apt: cannot build a fresh system"; exit 1; }

work=$(mktemp -d /tmp/cshm-fresh.XXXXXX)
cleanup() {
  rc=$?
  # Every mount lived in the chroot's own mount namespace, gone with it; never
  # cross into another file system while removing.
  rm -rf --one-file-system "$work"
  step_end "$rc"
}
trap cleanup EXIT

root=$work/root
echo "debootstrap bookworm (minbase + gcc, libc6-dev, make, cmake)"
debootstrap --variant=minbase --include=gcc,libc6-dev,make,cmake bookworm "$root" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
for absent in cmocka.h; do
  if [ -e "$root/usr/include/$absent" ]; then echo "the fresh system has $absent already"; exit 1; fi
done
if chroot "$root" sh -c 'command -v ninja || command -v pkg-config'; then
  echo "the fresh system is not minimal"; exit 1
fi

# The committed tree, as a clean clone has it.
mkdir -p "$root/src/cshm"
git archive HEAD | tar -x -C "$root/src/cshm"

log=$work/test.log
set +e
unshare --mount --ipc --pid --fork --propagation private sh -c '
  set -e
  root=$1
  mount -t proc proc "$root/proc"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
  exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root CI=true \
    sh -c "cd /src/cshm && scripts/test"
' sh "$root" >"$log" 2>&1
rc=$?
set -e
grep -E '^scripts/test:' "$log" || true
tail -4 "$log"
if [ "$rc" -ne 0 ]; then
  echo "the README test command failed on the fresh system (exit $rc):"
  tail -60 "$log"
  exit 1
fi
grep -q '^scripts/test: CMocka not found: installing libcmocka-dev with apt-get' "$log" ||
  { echo "scripts/test did not say that it installs CMocka"; exit 1; }
grep -q '^scripts/test: CMocka installed' "$log" || { echo "CMocka was not installed"; exit 1; }
grep -Eq '^100% tests passed, 0 tests failed out of [1-9]' "$log" ||
  { echo "ctest did not report a passing run"; exit 1; }
