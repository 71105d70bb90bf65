#!/usr/bin/env bash
# Does the pinned stack install, and does the course work, on each Python?
#
#   scripts/python_versions.sh                 # Python 3.10, 3.11, 3.12 and 3.13
#   scripts/python_versions.sh 3.12 /usr/bin/python3.13
#
# For each Python (a version, found as ~/.pyenv/versions/<version>*/bin/python or python<version>,
# or a path): copy the project (its tracked and not-ignored files, so the weights, photos and
# caches are made afresh as in a new clone) into a temporary folder, make a fresh virtual
# environment there, run README's `python -m pip install -r requirements.txt`, then
# scripts/smoke_test.py. One line per Python: install ok/FAIL, smoke ok/FAIL, seconds, and the
# pinned packages' versions. Logs stay in the folder printed at the end; each environment
# (about 2 GB) is deleted once measured, unless KEEP=1. The photos come from $LFW_DIR (default:
# the shared copy beside the clone, as in .ci/run). The exit status is 0 only if every Python passed.
set -uo pipefail
project="$(cd "$(dirname "$0")/.." && pwd)"
export LFW_DIR="${LFW_DIR:-$(cd "$project/.." && pwd)/shared/data/lfw}"
logs="$(mktemp -d /tmp/python-versions-logs.XXXXXX)"
versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(3.10 3.11 3.12 3.13)

find_python() {
    case "$1" in
        */*) echo "$1" ;;
        *) for candidate in "$HOME"/.pyenv/versions/"$1"*/bin/python; do
               [ -x "$candidate" ] && { echo "$candidate"; return; }
           done
           command -v "python$1" ;;
    esac
}

status=0
summary=()
for version in "${versions[@]}"; do
    python="$(find_python "$version")"
    name="$(basename "$version")"
    if [ -z "$python" ]; then
        summary+=("$version: no such Python")
        status=1
        continue
    fi
    full="$("$python" -c 'import platform; print(platform.python_version())')"
    work="$(mktemp -d "/tmp/python-$full.XXXXXX")"
    (cd "$project" && git ls-files -z --cached --others --exclude-standard \
        | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$work"
    echo "== Python $full: $work (logs: $logs/$full-*.log)"

    started=$SECONDS
    if (cd "$work" && "$python" -m venv .venv && .venv/bin/python -m pip install -r requirements.txt) \
        > "$logs/$full-install.log" 2>&1; then
        install="install ok"
    else
        install="install FAIL"
    fi
    install_seconds=$((SECONDS - started))

    smoke="smoke not run"
    smoke_seconds=0
    pins="$(grep -m1 '^ERROR' "$logs/$full-install.log")"
    if [ "$install" = "install ok" ]; then
        started=$SECONDS
        if (cd "$work" && .venv/bin/python scripts/smoke_test.py) > "$logs/$full-smoke.log" 2>&1; then
            smoke="smoke ok"
        else
            smoke="smoke FAIL"
        fi
        smoke_seconds=$((SECONDS - started))
        pins="$(sed -n 2p "$logs/$full-smoke.log" | sed 's/^ *//')"
        [ "$smoke" = "smoke ok" ] || pins="$pins
    $(tail -n 3 "$logs/$full-smoke.log")"
    fi
    line="Python $full: $install (${install_seconds} s), $smoke (${smoke_seconds} s)"
    echo "$line"
    summary+=("$line${pins:+
    $pins}")
    [ "$install $smoke" = "install ok smoke ok" ] || status=1
    if [ "${KEEP:-0}" = 1 ]; then
        echo "   kept: $work"
    else
        rm -rf "$work"
    fi
done

echo
echo "== summary (logs in $logs)"
printf '%s\n' "${summary[@]}"
exit $status
