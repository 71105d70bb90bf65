#!/usr/bin/env bash
# Sets up the course in .venv, once, and again whenever a requirements file changes. Sourced by
# scripts/lab.sh (students: requirements.txt) and scripts/test.sh (requirements-test.txt):
#
#   source scripts/setup.sh requirements.txt
#
# Picks a Python from 3.13 down to 3.10 ($PYTHON if set), makes .venv, installs the requirements
# with pip, and turns off JupyterLab's question about fetching Jupyter news (a setting inside
# .venv, nothing in your home folder). Leaves the virtual environment active.
set -euo pipefail
project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="${1:-requirements.txt}"

pick_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3.10 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" > /dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2> /dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "This course needs Python 3.10 to 3.13 (TensorFlow 2.21 has no wheel for other versions)." >&2
    echo "Install one (python.org, your package manager or pyenv), or name it: PYTHON=/path/to/python3.12 $0" >&2
    return 1
}

if [ ! -x "$project/.venv/bin/python" ]; then
    python="$(pick_python)"
    echo "Making the virtual environment .venv with $("$python" --version) ..."
    "$python" -m venv "$project/.venv"
fi
# shellcheck disable=SC1091
source "$project/.venv/bin/activate"

stamp="$project/.venv/.installed-$(basename "$requirements")"
wanted="$(cd "$project" && cat requirements*.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2> /dev/null)" != "$wanted" ]; then
    echo "Installing $requirements into .venv (the first time: a few minutes, about 3 GB) ..."
    (cd "$project" && python -m pip install --disable-pip-version-check -q -r "$requirements")
    echo "$wanted" > "$stamp"
fi

# JupyterLab asks at its first start whether to fetch Jupyter news: not here.
settings="$project/.venv/share/jupyter/lab/settings"
mkdir -p "$settings"
cat > "$settings/overrides.json" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}
}
JSON
