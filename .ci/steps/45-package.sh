#!/usr/bin/env bash
# Packaging: cshm installed static and shared into temporary prefixes and consumed as
# users do (find_package from C and C++, pkg-config, the header alone as C11 and
# C++17 with -Wall -Wextra -pedantic -Werror, the installed tool and man page), the
# add_subdirectory embedding, and the vcpkg overlay port checked without vcpkg (its
# manifest, no deprecated helper, and the portfile run with stand-ins that configure,
# build and install this tree with the port's own options, static and dynamic).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "package: install, consumers, vcpkg port"
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends g++ pkg-config >/dev/null

work=$(mktemp -d /tmp/cshm-ci-package.XXXXXX)
trap 'rc=$?; rm -rf "$work"; step_end "$rc"' EXIT

# ---- install and consume (tests/consumer/check.sh, also run by the GitHub workflows) ----
bash tests/consumer/check.sh "$work/consumer"

# ---- the vcpkg overlay port ----------------------------------------------------------
echo
echo "=== vcpkg port: ports/cshm"
for f in ports/cshm/vcpkg.json ports/cshm/portfile.cmake ports/cshm/usage; do
  [ -f "$f" ] || { echo "FAIL: $f is missing" >&2; exit 1; }
done
# Valid JSON to a second parser too (the check script reads it with CMake's).
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' ports/cshm/vcpkg.json
for linkage in static dynamic; do
  cmake -DPORT_DIR=ports/cshm -DSOURCE_DIR="$PWD" -DWORK_DIR="$work/vcpkg-$linkage" \
    -DLINKAGE=$linkage -P tests/consumer/vcpkg_port_check.cmake
done
# The local-source variant the GitHub workflow installs with the real vcpkg.
cmake -DPORT_DIR=ports/cshm -DSOURCE_DIR="$PWD" -DOUT_DIR="$work/overlay" \
  -P tests/consumer/vcpkg_local_port.cmake
overlay="$work/overlay/cshm/portfile.cmake"
if grep -q 'vcpkg_from_github' "$overlay" || ! grep -qF "set(SOURCE_PATH \"$PWD\")" "$overlay"; then
  echo "FAIL: the local overlay port does not build this tree:" >&2
  cat "$overlay" >&2
  exit 1
fi
diff <(grep -v 'SOURCE_PATH "/' "$overlay") <(sed '/^vcpkg_from_github(/,/^)/d' ports/cshm/portfile.cmake) ||
  { echo "FAIL: the local overlay port differs from ports/cshm beyond the source" >&2; exit 1; }
echo "vcpkg port: manifest, helpers, static and dynamic installs, local overlay: passed"
