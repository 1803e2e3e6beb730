#!/usr/bin/env bash
# Windows: the library, the tool and the suites cross-compiled with mingw-w64
# (warnings as errors), CMocka cross-built from Debian's source package, and the
# whole ctest suite run under Wine (CMAKE_CROSSCOMPILING_EMULATOR), in a Wine
# prefix of its own that is removed afterwards. Needs only Debian's archive.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "windows (mingw-w64, Wine)"
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
# The x86-64 C cross compiler alone (not the mingw-w64 metapackage's i686 and C++
# compilers), the 64-bit Wine loader, and dpkg-source for `apt-get source`.
apt-get install -y -qq --no-install-recommends \
  gcc-mingw-w64-x86-64-win32 wine64 dpkg-dev xz-utils >/dev/null

work=$(mktemp -d /tmp/cshm-ci-windows.XXXXXX)
# Wine's prefix and its server's socket directory (under TMPDIR) are this run's own.
export WINEPREFIX="$work/wine" TMPDIR="$work/tmp" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export LANG=C.UTF-8 # Wine converts arguments and environment from this locale
mkdir -p "$TMPDIR"
wine=/usr/lib/wine/wine64
cleanup() {
  if [ -d "$WINEPREFIX" ]; then
    /usr/lib/wine/wineserver -k 2>/dev/null || true # this prefix's server only
    /usr/lib/wine/wineserver -w 2>/dev/null || true
  fi
  rm -rf "$work"
}
# A subshell with its own EXIT trap: step_timer's trap still reports the duration.
(
  trap cleanup EXIT

  # ---- CMocka for Windows: Debian's source, cross-built static, once per run ----------
  # A private apt configuration with one deb-src line for the machine's own Debian
  # mirror and release: the machine's apt setup is left as it was.
  mirror=
  for list in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -z "$mirror" ] && [ -r "$list" ] || continue
    mirror=$(awk '($1 == "URIs:" || $1 == "deb") && $2 ~ /\/debian\/?$/ {
                    sub(/\/$/, "", $2); print $2; exit }' "$list")
  done
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
  echo "deb-src $mirror $codename main" >"$work/apt/sources.list"
  apt_src=(-o Dir::Etc::SourceList="$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache"
           -o APT::Sandbox::User=root)
  apt-get "${apt_src[@]}" update -qq
  (cd "$work/src" && apt-get "${apt_src[@]}" source -qq cmocka >/dev/null)
  toolchain=$PWD/cmake/toolchains/mingw-w64-x86_64.cmake
  cmake -S "$(echo "$work"/src/cmocka-*/)" -B "$work/cmocka-build" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS=-D__USE_MINGW_ANSI_STDIO=1 -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF \
    -DUNIT_TESTING=OFF -DCMAKE_INSTALL_PREFIX="$work/cmocka" >/dev/null
  cmake --build "$work/cmocka-build" >/dev/null
  cmake --install "$work/cmocka-build" >/dev/null

  # ---- cshm ---------------------------------------------------------------------------
  "$wine" --version
  "$wine" wineboot --init >/dev/null 2>&1 # make the prefix once, not in every test
  rm -rf build/windows
  cmake -S . -B build/windows -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_BUILD_TYPE=Debug -DCSHM_WERROR=ON -DCMAKE_FIND_ROOT_PATH="$work/cmocka" >/dev/null
  cmake --build build/windows
  ctest --test-dir build/windows --output-on-failure --no-tests=error -j2
  grep -h "^chaos:" build/windows/Testing/Temporary/LastTest.log || true # the run's figures
)
