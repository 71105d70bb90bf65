#!/usr/bin/env bash
# Everything a student needs, in one command: sets the course up (once) and opens the notebook.
#
#   bash scripts/lab.sh                         # JupyterLab in your browser, on Face_Recognition.ipynb
#   bash scripts/lab.sh --headless              # or run it top to bottom, without a browser
#   bash scripts/lab.sh Face_Recognition_at_scale.ipynb
#
# LFW_DIR=/path/to/lfw points at a copy of Labeled Faces in the Wild you already have; without
# it, the notebook's first cell downloads LFW once (README.md, "LFW").
# --headless writes the executed notebook to executed/ (git ignores it) and goes on past the
# exercises you have not written yet, so that every test cell shows its message.
set -euo pipefail
project="$(cd "$(dirname "$0")/.." && pwd)"
source "$project/scripts/setup.sh" requirements.txt
cd "$project"

headless=0
notebooks=()
for argument in "$@"; do
    case "$argument" in
        --headless) headless=1 ;;
        *) notebooks+=("$argument") ;;
    esac
done
[ ${#notebooks[@]} -eq 0 ] && notebooks=(Face_Recognition.ipynb)

if [ "$headless" = 1 ]; then
    for notebook in "${notebooks[@]}"; do
        # iopub_timeout: on a busy machine a cell's last outputs may come seconds after the cell
        # ends; nbconvert's default (4 s) would drop them without a word.
        jupyter nbconvert --to notebook --execute --allow-errors --ExecutePreprocessor.timeout=1800 \
            --ExecutePreprocessor.iopub_timeout=60 --output-dir executed "$notebook"
    done
    echo "Executed notebooks are in executed/ (open them in JupyterLab to read every cell's output)."
else
    root=()
    [ "$(id -u)" = 0 ] && root=(--allow-root)  # Jupyter refuses root otherwise
    exec jupyter lab "${root[@]}" "${notebooks[@]}"
fi
