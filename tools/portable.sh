#!/usr/bin/env bash
# Builds fastrnn with the kernels' portable vector code (FASTRNN_PORTABLE=1:
# the plain-C vector structs that compilers without vector extensions, such
# as MSVC, compile) in a fresh virtual environment, and runs the tests that
# compare the kernels with fastrnn.reference on it.
#
#   tools/portable.sh [pytest options and test paths]
#       default: the oracle tests (functional, accuracy, ids, threads)
#
# Exits non-zero on a build failure, a build that did not take the portable
# code, or a failing test.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
[ $# -gt 0 ] || set -- tests/test_functional.py tests/test_accuracy.py \
    tests/test_ids.py tests/test_threads.py

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

source "$repo/tools/copy_sources.sh"
copy_sources "$repo" "$work/src"

"$python" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
"$venv_python" -m pip install --quiet numpy "Cython>=3.1" "setuptools>=77" \
    "pytest>=7" "hypothesis>=6" "threadpoolctl>=3"
if ! FASTRNN_PORTABLE=1 "$venv_python" -m pip install --no-build-isolation --no-deps -v \
        "$work/src" >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    echo "portable.sh: the portable build failed" >&2
    exit 1
fi
grep -E "^\s*fastrnn: " "$work/build.log" | sed -E 's/^\s+//' | sort -u || true
# Every compile of the kernel modules must have the macro.
compiles=$(grep -c -E " -c src/fastrnn/_core[a-z0-9_]*\.c " "$work/build.log" || true)
portable=$(grep -E " -c src/fastrnn/_core[a-z0-9_]*\.c " "$work/build.log" \
    | grep -c -- "-DFASTRNN_PORTABLE_VECTORS=1" || true)
echo "portable.sh: $portable of $compiles kernel module compiles with -DFASTRNN_PORTABLE_VECTORS=1"
if [ "$compiles" -eq 0 ] || [ "$portable" -ne "$compiles" ]; then
    echo "portable.sh: the build did not take the portable vector code" >&2
    exit 1
fi
echo "portable.sh: environment and portable build took $((SECONDS - start)) s"

# The src layout keeps the copy's sources off sys.path: the build is tested.
test_start=$SECONDS
status=0
(cd "$work/src" && "$venv_python" -m pytest -p no:cacheprovider -q "$@") || status=$?
echo "portable.sh: tests took $((SECONDS - test_start)) s, $((SECONDS - start)) s in all"
exit "$status"
