#!/usr/bin/env bash
# Builds fastrnn with AddressSanitizer + UndefinedBehaviorSanitizer
# (FASTRNN_SANITIZE=1) in a fresh virtual environment and runs
# tools/fuzz_kernels.py under it: random forward/backward problems against
# fastrnn.reference in every kernel build on one and two threads, invalid
# inputs, and the races on ids and lengths.
#
#   tools/sanitize.sh [fuzz_kernels.py options]     default: --seconds 20
#   e.g. tools/sanitize.sh --seconds 300 --seed 7
#        tools/sanitize.sh --no-races
#
# Needs GCC (or Clang) with libasan and libubsan. Exits non-zero on a build
# failure, a sanitizer report, or any failure that fuzz_kernels.py reports.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
[ $# -gt 0 ] || set -- --seconds 20

cc=${CC:-gcc}
asan=$("$cc" -print-file-name=libasan.so)
ubsan=$("$cc" -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
    if [ ! -e "$lib" ]; then
        echo "sanitize.sh: $cc has no $lib (install the compiler's sanitizer runtimes)" >&2
        exit 2
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

source "$repo/tools/copy_sources.sh"
copy_sources "$repo" "$work/src"

"$python" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
"$venv_python" -m pip install --quiet numpy "Cython>=3.1" "setuptools>=77"
if ! FASTRNN_SANITIZE=1 "$venv_python" -m pip install --no-build-isolation -v "$work/src" \
        >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    echo "sanitize.sh: the sanitizer build failed" >&2
    exit 1
fi
grep -m1 "fastrnn: sanitizer build" "$work/build.log" || {
    echo "sanitize.sh: the build did not take the sanitizer flags" >&2
    exit 1
}
echo "sanitize.sh: environment and sanitizer build took $((SECONDS - start)) s"

# Python itself is not instrumented: the ASan runtime must be loaded first,
# and its leak check is off (the interpreter does not free everything at exit).
# Any UBSan report stops the process like an ASan report does.
fuzz_start=$SECONDS
status=0
(cd "$work" && \
    LD_PRELOAD="$asan $ubsan" \
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$venv_python" "$repo/tools/fuzz_kernels.py" "$@") 2>&1 | tee "$work/fuzz.log" \
    || status=$?
if grep -q -E "runtime error:|ERROR: AddressSanitizer" "$work/fuzz.log"; then
    echo "sanitize.sh: sanitizer report above" >&2
    [ "$status" -ne 0 ] || status=1
fi
echo "sanitize.sh: fuzz took $((SECONDS - fuzz_start)) s, $((SECONDS - start)) s in all"
exit "$status"
