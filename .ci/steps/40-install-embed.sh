#!/usr/bin/env bash
# A consumer of an installed cshm (static and shared) defines nothing; a project that
# embeds cshm with add_subdirectory builds without tests, tool or CMocka.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "install and embed"
work=$(mktemp -d /tmp/cshm-ci-install.XXXXXX)
trap 'rc=$?; rm -rf "$work"; step_end "$rc"' EXIT
for kind in static shared; do
  shared=$([ $kind = shared ] && echo ON || echo OFF)
  cmake -S . -B "$work/build-$kind" -G Ninja -DCSHM_BUILD_TESTS=OFF -DBUILD_SHARED_LIBS=$shared \
    -DCMAKE_INSTALL_PREFIX="$work/prefix-$kind" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
  cmake --build "$work/build-$kind" >/dev/null
  cmake --install "$work/build-$kind" >/dev/null
  lib=$([ $kind = shared ] && echo "-L$work/prefix-$kind/lib -lcshm -Wl,-rpath,$work/prefix-$kind/lib" \
                            || echo "$work/prefix-$kind/lib/libcshm.a -lpthread")
  # shellcheck disable=SC2086
  cc -std=c11 -Wall -Wextra -Werror -I"$work/prefix-$kind/include" tests/consumer/consumer.c $lib \
    -o "$work/consumer-$kind"
  "$work/consumer-$kind"
  "$work/prefix-$kind/bin/cshm" --version
done
cmake -S tests/consumer -B "$work/embed" -G Ninja -DCSHM_SOURCE_DIR="$PWD" >/dev/null
cmake --build "$work/embed" >/dev/null
"$work/embed/consumer"
if [ -e "$work/embed/cshm/tests" ] || [ -e "$work/embed/cshm/tools" ]; then
  echo "FAIL: add_subdirectory built the tests or the tool" >&2
  exit 1
fi
