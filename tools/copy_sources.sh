# Sourced by the tools that build fastrnn in a throw-away environment
# (sanitize.sh, portable.sh, wheel_check.sh).
#
# copy_sources REPO DEST: the sources of REPO into DEST (created): the files
# git tracks and the new ones it does not ignore, so no build/ directory and
# no in-place extensions of another build; outside a git checkout, everything
# but those.
copy_sources() {
    mkdir "$2"
    if git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$1" && git ls-files -z --cached --others --exclude-standard \
            | xargs -0 cp --parents -t "$2" 2>/dev/null || true)
    else
        (cd "$1" && tar --exclude=./build --exclude='*.so' --exclude='_core*.c' -cf - .) \
            | tar -xf - -C "$2"
    fi
}
