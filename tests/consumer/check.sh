#!/usr/bin/env bash
# Installs cshm, static and shared, each into a temporary prefix of its own, and uses
# it the ways its users do: find_package from C and from C++, pkg-config, the header
# alone under the strictest warnings, the installed tool; then embeds the source tree
# with add_subdirectory. Consumers define nothing for static or shared.
#
# Run by .ci/steps/45-package.sh (Debian) and by the GitHub workflows (Linux, macOS,
# Windows: MSVC from Git Bash, MinGW from MSYS2). Needs bash >= 3.2, CMake, a C and a
# C++ compiler; pkg-config unless CSHM_PKGCONFIG=0.
#
#   tests/consumer/check.sh [WORKDIR]        (default: a new temporary directory)
#
# Environment:
#   CMAKE_GENERATOR[_PLATFORM]  as CMake reads them (default: Ninja when installed)
#   CSHM_KINDS                  "static shared" (default), or one of them
#   CSHM_PKGCONFIG              1 (default): test cshm.pc; 0: skip (MSVC)
#   CSHM_HEADERTEST_CC          compilers for the direct header test: "cc c++" by default
#                               (plus clang/clang++ when present); "" to skip (MSVC:
#                               the CMake consumer compiles the header with /W4 /WX)
#   CSHM_EMBED                  1 (default): also the add_subdirectory embedding
set -euo pipefail

# Native paths for native tools (Git Bash and MSYS2 on Windows: D:/a/..., not /d/a/...),
# and POSIX ones for PATH (whose separator is the colon).
native() { if command -v cygpath >/dev/null 2>&1; then cygpath -m "$1"; else printf '%s\n' "$1"; fi; }
posix() { if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi; }
say() { printf '\n=== consumer check: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# exe DIR NAME: the built executable (single- or multi-config generator, .exe or not).
exe() {
  local f
  for f in "$1/$2" "$1/$2.exe" "$1/Release/$2" "$1/Release/$2.exe"; do
    if [ -f "$f" ]; then printf '%s\n' "$f"; return 0; fi
  done
  fail "no $2 was built in $1"
}

root=$(native "$(cd "$(dirname "$0")/../.." && pwd)")
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/cshm-consumer.XXXXXX")}
mkdir -p "$work"
work=$(native "$(cd "$work" && pwd)")
[ -n "${CMAKE_GENERATOR:-}" ] || unset CMAKE_GENERATOR
[ -n "${CMAKE_GENERATOR_PLATFORM:-}" ] || unset CMAKE_GENERATOR_PLATFORM
if [ -z "${CMAKE_GENERATOR:-}" ] && command -v ninja >/dev/null 2>&1; then
  export CMAKE_GENERATOR=Ninja
fi
kinds=${CSHM_KINDS:-static shared}
pkgconfig=${CSHM_PKGCONFIG:-1}
embed=${CSHM_EMBED:-1}
if [ -z "${CSHM_HEADERTEST_CC+set}" ]; then
  CSHM_HEADERTEST_CC="cc c++"
  command -v clang >/dev/null 2>&1 && CSHM_HEADERTEST_CC="$CSHM_HEADERTEST_CC clang clang++"
fi

version_h="$root/include/cshm/version.h"
major=$(sed -n 's/^#define CSHM_VERSION_MAJOR \([0-9]*\).*/\1/p' "$version_h")
minor=$(sed -n 's/^#define CSHM_VERSION_MINOR \([0-9]*\).*/\1/p' "$version_h")
patch=$(sed -n 's/^#define CSHM_VERSION_PATCH \([0-9]*\).*/\1/p' "$version_h")
version="$major.$minor.$patch"
case "$(uname -s)" in
  MINGW*|MSYS*|CYGWIN*|UCRT*|CLANG*|*_NT-*) windows=1 ;;
  *) windows=0 ;;
esac
[ "$(uname -s)" = Darwin ] && macos=1 || macos=0
echo "cshm $version; generator: ${CMAKE_GENERATOR:-the default}; work: $work"

for kind in $kinds; do
  if [ "$kind" = shared ]; then shared=ON; else shared=OFF; fi
  build="$work/build-$kind"
  prefix="$work/prefix-$kind"
  run_path="$(posix "$prefix/bin"):$PATH" # the DLL, on Windows

  say "$kind: build and install into $prefix"
  # Configured for one prefix, installed into another: everything installed must be
  # relocatable (the CMake package and cshm.pc find their prefix themselves).
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=$shared \
    -DCSHM_BUILD_TESTS=OFF -DCSHM_BUILD_TOOLS=ON -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_INSTALL_PREFIX="$work/not-the-prefix" >"$work/configure-$kind.log" ||
    { cat "$work/configure-$kind.log"; fail "configure ($kind)"; }
  cmake --build "$build" --config Release
  cmake --install "$build" --config Release --prefix "$prefix"

  say "$kind: installed files"
  for f in include/cshm/cshm.h include/cshm/version.h include/cshm/cshm_export.h \
           include/cshm/cshm_config.h lib/cmake/cshm/cshmConfig.cmake \
           lib/cmake/cshm/cshmConfigVersion.cmake lib/cmake/cshm/cshmTargets.cmake \
           lib/pkgconfig/cshm.pc share/man/man1/cshm.1; do
    [ -f "$prefix/$f" ] || fail "$kind: $f is not installed"
  done
  if [ "$windows" = 1 ]; then tool="$prefix/bin/cshm.exe"; else tool="$prefix/bin/cshm"; fi
  [ -f "$tool" ] || fail "$kind: the tool is not installed"
  # The static/shared choice is baked into the installed configuration header.
  if grep -q '^#define CSHM_STATIC_DEFINE' "$prefix/include/cshm/cshm_config.h"; then
    [ "$kind" = static ] || fail "shared: cshm_config.h says static"
  else
    [ "$kind" = shared ] || fail "static: cshm_config.h does not define CSHM_STATIC_DEFINE"
  fi
  if grep -q 'INTERFACE_COMPILE_DEFINITIONS' "$prefix"/lib/cmake/cshm/cshmTargets*.cmake; then
    fail "$kind: the exported target makes consumers define something"
  fi
  # Nothing installed points back into the build or the source tree.
  if grep -rlF -e "$build" -e "$root" "$prefix/lib/cmake" "$prefix/lib/pkgconfig" "$prefix/include"; then
    fail "$kind: installed files name the build or source tree"
  fi
  ls -l "$prefix/lib" "$prefix/bin"
  if [ "$kind" = shared ]; then
    if [ "$windows" = 1 ]; then
      [ -f "$prefix/bin/cshm.dll" ] || [ -f "$prefix/bin/libcshm.dll" ] || fail "no DLL in bin/"
    elif [ "$macos" = 1 ]; then
      [ -f "$prefix/lib/libcshm.$major.dylib" ] || fail "no libcshm.$major.dylib (SOVERSION)"
    else
      [ -f "$prefix/lib/libcshm.so.$major" ] || fail "no libcshm.so.$major (SOVERSION)"
      [ -f "$prefix/lib/libcshm.so.$version" ] || fail "no libcshm.so.$version (VERSION)"
    fi
  else
    if ls "$prefix"/lib/*.so* "$prefix"/lib/*.dylib "$prefix"/bin/*.dll >/dev/null 2>&1; then
      fail "static: a shared library was installed"
    fi
  fi

  say "$kind: the installed tool"
  out=$(PATH="$run_path" "$tool" --version)
  [ "$out" = "cshm $version" ] || fail "cshm --version printed '$out'"
  echo "$out"

  say "$kind: find_package(cshm $major.$minor CONFIG) from C and C++"
  cmake -S "$root/tests/consumer" -B "$work/find-$kind" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DCSHM_REQUIRE_VERSION="$major.$minor" \
    -DCSHM_EXPECT_SHARED=$shared
  cmake --build "$work/find-$kind" --config Release
  PATH="$run_path" "$(exe "$work/find-$kind" consumer)"
  PATH="$run_path" "$(exe "$work/find-$kind" consumer_cxx)"

  say "$kind: find_package(cshm $((major + 1)).0) must not accept $version (SameMajorVersion)"
  if cmake -S "$root/tests/consumer" -B "$work/find-next-$kind" -DCMAKE_PREFIX_PATH="$prefix" \
       -DCSHM_REQUIRE_VERSION="$((major + 1)).0" >"$work/find-next-$kind.log" 2>&1; then
    cat "$work/find-next-$kind.log"
    fail "find_package(cshm $((major + 1)).0) accepted cshm $version"
  fi
  grep -q "$version" "$work/find-next-$kind.log" || fail "no version message from find_package"
  echo "refused, as it should be"

  if [ -n "$CSHM_HEADERTEST_CC" ]; then
    say "$kind: cshm.h alone as C11 and C++17, -Wall -Wextra -pedantic -Werror"
    for cc in $CSHM_HEADERTEST_CC; do
      command -v "$cc" >/dev/null 2>&1 || fail "no compiler $cc"
      case "$cc" in
        *++) src="$root/tests/consumer/headertest.cpp"; std=-std=c++17 ;;
        *) src="$root/tests/consumer/headertest.c"; std=-std=c11 ;;
      esac
      "$cc" $std -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$prefix/include" "$src"
      echo "$cc $std: ok"
    done
  fi

  if [ "$pkgconfig" = 1 ]; then
    say "$kind: pkg-config"
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    pc_version=$(pkg-config --modversion cshm)
    [ "$pc_version" = "$version" ] || fail "pkg-config --modversion cshm: $pc_version"
    pkg-config --validate cshm
    pc_cflags=$(pkg-config --cflags cshm)
    case " $pc_cflags " in *" -D"*) fail "cshm.pc makes consumers define something: $pc_cflags" ;; esac
    if [ "$kind" = static ]; then
      pc_libs=$(pkg-config --libs --static cshm)
    else
      pc_libs="$(pkg-config --libs cshm) -Wl,-rpath,$(pkg-config --variable=libdir cshm)"
      [ "$windows" = 1 ] && pc_libs=$(pkg-config --libs cshm)
    fi
    echo "cflags: $pc_cflags"
    echo "libs:   $pc_libs"
    # shellcheck disable=SC2086 # pkg-config output is a list of words
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror $pc_cflags "$root/tests/consumer/consumer.c" $pc_libs \
      -o "$work/consumer-pc-$kind"
    PATH="$run_path" "$work/consumer-pc-$kind"
    unset PKG_CONFIG_PATH
  fi
done

if [ "$embed" = 1 ]; then
  say "add_subdirectory embedding (no tests, no tool, no CMocka)"
  cmake -S "$root/tests/consumer" -B "$work/embed" -DCMAKE_BUILD_TYPE=Release \
    -DCSHM_SOURCE_DIR="$root"
  cmake --build "$work/embed" --config Release
  "$(exe "$work/embed" consumer)"
  "$(exe "$work/embed" consumer_cxx)"
  if [ -e "$work/embed/cshm/tests" ] || [ -e "$work/embed/cshm/tools" ]; then
    fail "add_subdirectory built the tests or the tool"
  fi
fi
say "passed: $kinds$([ "$embed" = 1 ] && echo ", embedding")"
