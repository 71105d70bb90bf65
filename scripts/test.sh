#!/usr/bin/env bash
# Everything the test suite needs, in one command: sets the course up with the test requirements
# (once), installs the Debian packages it uses where it may, and runs the tests.
#
#   LFW_DIR=/path/to/lfw bash scripts/test.sh          # about 4 minutes on 2 cores
#   bash scripts/test.sh tests/test_grading.py -x      # arguments go to pytest
#
# Debian packages: bubblewrap (the grader's sandbox), chromium and chromium-driver (the browser
# test). As root they are installed with apt-get; with sudo, through sudo; otherwise the script
# says what to run. Without LFW_DIR, LFW is downloaded once (or the script says why it could not
# be, and the tests that need it are skipped).
set -euo pipefail
project="$(cd "$(dirname "$0")/.." && pwd)"
source "$project/scripts/setup.sh" requirements-test.txt
cd "$project"

packages=(bubblewrap chromium chromium-driver)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" > /dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get > /dev/null; then
        echo "Not Debian or Ubuntu: install ${missing[*]} with your package manager; the tests that need them skip."
    elif [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q && apt-get install -y -q "${missing[@]}"
    elif sudo -n true 2> /dev/null; then
        sudo DEBIAN_FRONTEND=noninteractive apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    else
        echo "Missing Debian packages: ${missing[*]}. Ask an administrator to run:"
        echo "    sudo apt-get install -y ${missing[*]}"
        echo "Until then, the tests that need them skip."
    fi
fi

if [ -z "${LFW_DIR:-}" ]; then
    if found="$(python -c 'import lfw; print(lfw.lfw_root())')"; then
        export LFW_DIR="$found"
    else
        echo "LFW is not available (above: why); the tests that need it skip. Set LFW_DIR=/path/to/lfw to use a copy."
    fi
fi

# Both cores: tests/conftest.py shares the test files out between two pytest processes (a file
# stays in one). The ten slowest tests are listed at the end: the suite has a time budget
# (README, "Measured").
python -m pytest --durations=10 "$@"
