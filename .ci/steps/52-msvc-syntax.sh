#!/usr/bin/env bash
# Windows with the compilers CI has no machine for: every Windows translation unit
# (the library, src/common and src/win32, both variants; the tool; the suites and
# their helper) compiled, not linked, by clang
# - in MSVC mode (clang-cl) for x64 and ARM64, through CMake exactly as an MSVC build
#   configures them (/W4, /WX from CSHM_WERROR, /std:c11). mingw-w64's headers stand in
#   for the Windows SDK and the UCRT; .ci/msvc/c4996.h, forced into every unit, makes
#   what MSVC deprecates (C4996: strcpy, getenv, the POSIX names, ...) fail as
#   deprecated, and pid_t and ssize_t, <unistd.h> and <pthread.h>, which the UCRT does
#   not have, fail too (.ci/msvc/syntax.cmake adds both);
# - targeting MinGW (x86_64-w64-mingw32) with the GNU warning set and -Werror;
# and reads the ARM64 code of atomic.h's acquire load and release store (they must
# order the processor, not only the compiler: .ci/msvc/atomic_probe.c).
# The benchmarks are POSIX programs and the fuzzers Linux ones (90-fuzz.sh): CMake
# adds neither on Windows. Needs only Debian's archive.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "MSVC-mode and clang-MinGW compile (x64, ARM64)"
cd "$(dirname "$0")/../.."
root=$PWD

export DEBIAN_FRONTEND=noninteractive
# mingw-w64's headers alone (no cross gcc is needed), clang, and LLVM's librarian
# (llvm-lib, for CMake's compiler checks) of the same version as clang.
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends clang mingw-w64-x86-64-dev >/dev/null
clang_major=$(clang -dumpversion | cut -d. -f1)
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "llvm-$clang_major" >/dev/null
llvm=/usr/lib/llvm-$clang_major/bin
mingw_include=/usr/share/mingw-w64/include
[ -r "$mingw_include/windows.h" ] || { echo "FAIL: no mingw-w64 headers in $mingw_include" >&2; exit 1; }

work=$(mktemp -d /tmp/cshm-ci-msvc.XXXXXX)
trap 'rc=$?; rm -rf "$work"; step_end "$rc"' EXIT

# clang in MSVC mode is clang called clang-cl.
mkdir -p "$work/bin"
ln -s "$(readlink -f "$(command -v clang)")" "$work/bin/clang-cl"

# CMocka's header for the suites (only compiled: an empty stand-in for the library
# that tests/CMakeLists.txt looks for). Debian's, from the machine or from its .deb.
mkdir -p "$work/cmocka/include" "$work/cmocka/lib"
if [ -r /usr/include/cmocka.h ]; then
  cp /usr/include/cmocka.h "$work/cmocka/include/"
else
  (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root libcmocka-dev &&
     dpkg-deb -x libcmocka-dev_*.deb deb && cp deb/usr/include/cmocka.h cmocka/include/)
fi
touch "$work/cmocka/lib/cmocka-static.lib" "$work/cmocka/lib/libcmocka-static.a"

# configure NAME PROCESSOR C_COMPILER [cmake options...]: a Windows build tree of
# objects only (CMake's checks make a static library, never a program).
configure() {
  local name=$1 processor=$2 cc=$3
  shift 3
  cmake -S . -B "$work/$name" -G Ninja -DCMAKE_SYSTEM_NAME=Windows \
    -DCMAKE_SYSTEM_PROCESSOR="$processor" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY -DCMAKE_BUILD_TYPE=Debug -DCSHM_WERROR=ON \
    -DCMAKE_FIND_ROOT_PATH="$work/cmocka" -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
    -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY \
    -DCMAKE_RC_COMPILER="$llvm/llvm-rc" "$@" >"$work/$name.configure.log" ||
    { cat "$work/$name.configure.log"; return 1; }
}
# objects NAME: compiles every object of the tree (all of them, reporting each
# failure) and says how many there were.
objects() {
  local name=$1
  local targets
  targets=$(ninja -C "$work/$name" -t targets all | awk -F: '$1 ~ /\.(obj|o)$/ { print $1 }')
  local count
  count=$(echo "$targets" | grep -c .)
  # Every Windows source of the project is among them.
  for source in src/common/cshm.c src/win32/segment.c src/win32/testpoint.c tools/cshm.c \
                tools/platform_win32.c tests/support_win32.c tests/test_win32.c \
                tests/test_win32_tool.c tests/helper.c; do
    echo "$targets" | grep -q "/${source##*/}\.obj$" ||
      { echo "FAIL: $name compiles no object for $source" >&2; return 1; }
  done
  if ninja -C "$work/$name" -k 0 -j2 $targets >"$work/$name.log" 2>&1; then
    echo "$name: $count translation units compiled, no warning"
  else
    grep -E "(error|warning):" "$work/$name.log" | sed "s|$root/||" | sort -u >&2
    echo "FAIL: $name: $(grep -c 'error:' "$work/$name.log") error(s) in $count translation units" >&2
    return 1
  fi
}

failed=0
# MSVC mode. -fgnuc-version: mingw-w64's headers spell their attributes the GNU way
# when __GNUC__ is defined and misplace __declspec otherwise (this project's sources
# test __GNUC__ only to add format attributes). USE_NO_MINGW_SETJMP_TWO_ARGS: the
# UCRT's one-argument _setjmp, which clang's <intrin.h> declares.
for arch in x64:x86_64:AMD64 arm64:aarch64:ARM64; do
  IFS=: read -r name cpu processor <<<"$arch"
  flags="--target=$cpu-pc-windows-msvc -fms-compatibility-version=19.40 -fgnuc-version=4.2.1"
  flags+=" -DUSE_NO_MINGW_SETJMP_TWO_ARGS /imsvc $mingw_include"
  configure "msvc-$name" "$processor" "$work/bin/clang-cl" "-DCMAKE_C_FLAGS_INIT=$flags" \
    -DCMAKE_AR="$llvm/llvm-lib" -DCMAKE_LINKER="$llvm/lld-link" -DCMAKE_MT="$llvm/llvm-mt" \
    -DCMAKE_PROJECT_INCLUDE="$root/.ci/msvc/syntax.cmake"
  objects "msvc-$name" || failed=1
done
# clang for MinGW, with the warnings a MinGW build gets.
configure mingw-clang AMD64 clang -DCMAKE_C_COMPILER_TARGET=x86_64-w64-mingw32 \
  -DCMAKE_AR="$llvm/llvm-ar" -DCMAKE_RANLIB="$llvm/llvm-ranlib"
objects mingw-clang || failed=1

# ---- atomic.h on ARM64: acquire and release in the instructions ----------------------
"$work/bin/clang-cl" --target=aarch64-pc-windows-msvc -fms-compatibility-version=19.40 \
  -fgnuc-version=4.2.1 -DUSE_NO_MINGW_SETJMP_TWO_ARGS /imsvc "$mingw_include" /W4 /WX /O2 \
  /std:c11 /Isrc/common /c /FA "/Fa$work/atomic_probe.s" "/Fo$work/atomic_probe.obj" \
  .ci/msvc/atomic_probe.c || failed=1
if [ -r "$work/atomic_probe.s" ]; then
  # The instructions of one function, one mnemonic and operands a line.
  body() { awk -v f="$1:" '$1 == f { on = 1; next } on && /^[a-z_.$]+[a-zA-Z0-9_.$]*:/ { exit }
                          on && $1 !~ /^[.\/]/ && NF { print }' "$work/atomic_probe.s"; }
  load=$(body cshm_probe_load) store=$(body cshm_probe_store)
  # in_order TEXT A B: a line starting with mnemonic A, then a later one with B.
  in_order() { echo "$1" | awk -v a="$2" -v b="$3" '$1 == a { seen = 1 } seen && $1 == b { ok = 1 }
                                                    END { exit !ok }'; }
  mnemonics() { echo "$1" | awk '{ print $1 }' | paste -sd' '; }
  if echo "$load" | awk '$1 == "ldar" { ok = 1 } END { exit !ok }' || in_order "$load" ldr dmb; then
    echo "ARM64 acquire load: $(mnemonics "$load")"
  else
    echo "FAIL: cshm__atomic_load_acquire is no acquire on ARM64:" >&2; echo "$load" >&2; failed=1
  fi
  if echo "$store" | awk '$1 == "stlr" { ok = 1 } END { exit !ok }' || in_order "$store" dmb str; then
    echo "ARM64 release store: $(mnemonics "$store")"
  else
    echo "FAIL: cshm__atomic_store_release is no release on ARM64:" >&2; echo "$store" >&2; failed=1
  fi
fi
exit $failed
