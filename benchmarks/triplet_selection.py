"""Random triplets vs online semi-hard negatives: the notebook's section 7 training, several seeds.

Runs the code cells of ``source/Face_Recognition.ipynb`` tagged ``triplet-training`` (the data,
the training step and the two trainings), with that notebook's solution of ``triplet_loss``, once
per seed: the seed sets the head's initial weights, the batches and the random choices, the same
for both ways of choosing triplets. Prints, for each seed, the held-out AUC and VAL at FAR = 1%
of both after 50 steps and at the end, and when each ran out of triplets with a loss above zero;
writes them to JSON.

    python benchmarks/triplet_selection.py              # seeds 0 1 2
    python benchmarks/triplet_selection.py --seeds 0    # what the notebook shows
"""

import argparse
import re
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat
import numpy as np

import embeddings
import fr_utils
import lfw
import plots
import quiet_tensorflow
import triplet_training
from benchmarks.results import write_results

tf = quiet_tensorflow.import_tensorflow()

NOTEBOOK = Path(__file__).resolve().parents[1] / "source" / "Face_Recognition.ipynb"
TAG = "triplet-training"


def notebook_code():
    """(the triplet_loss cell with its solution, the tagged cells) of the source notebook."""
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    loss = next(cell.source for cell in cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "triplet_loss")
    tagged = [cell.source for cell in cells if TAG in cell.metadata.get("tags", [])]
    if len(tagged) != 3 or sum(len(re.findall(r"^SEED = \d+", source, re.M)) for source in tagged) != 1:
        raise SystemExit(f"{NOTEBOOK.name}: expected 3 cells tagged {TAG!r}, one with a line 'SEED = <n>'.")
    return loss, tagged


def first_step_at_or_below(values, limit):
    """The first step whose value is at most ``limit`` (None if never)."""
    below = np.flatnonzero(np.asarray(values) <= limit)
    return int(below[0]) if len(below) else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/<name>.json)")
    arguments = parser.parse_args()

    loss_cell, cells = notebook_code()
    namespace = {"np": np, "tf": tf, "fr_utils": fr_utils, "lfw": lfw, "plots": plots,
                 "triplet_training": triplet_training, "lfw_dir": lfw.lfw_root(), "model": embeddings.load_facenet()}
    exec(loss_cell, namespace)
    results = []
    for seed in arguments.seeds:
        started = time.perf_counter()
        for source in cells:
            exec(re.sub(r"^SEED = \d+", f"SEED = {seed}", source, flags=re.M), namespace)
        seconds = time.perf_counter() - started
        before = triplet_training.pair_scores(
            triplet_training.embedding_head(namespace["train_features"].shape[1], seed)(namespace["held_out_features"]),
            namespace["held_out_labels"])
        row = {"seed": seed, "seconds": round(seconds, 1), "before": before}
        for name, history in namespace["histories"].items():
            row[name] = {
                "steps": len(history["loss"]),
                "auc_50_steps": history["auc"][2], "val_50_steps": history["val"][2],
                "auc": history["auc"][-1], "val": history["val"][-1],
                "first_step_with_at_most_100_active": first_step_at_or_below(history["active"], 100),
                "first_step_with_at_most_10_active": first_step_at_or_below(history["active"], 10),
                "auc_every_25_steps": [round(value, 4) for value in history["auc"]],
            }
        results.append(row)
        print(f"seed {seed} ({seconds:.0f} s): before training AUC {before['auc']:.3f} VAL@FAR=1% {before['val']:.1%}")
        for name in namespace["histories"]:
            scores = row[name]
            print(f"  {name:<20} after 50 steps: AUC {scores['auc_50_steps']:.3f} VAL@FAR=1% {scores['val_50_steps']:6.1%}; "
                  f"after {scores['steps']}: AUC {scores['auc']:.3f} VAL@FAR=1% {scores['val']:6.1%}  "
                  f"(triplets with a loss above zero: "
                  f"100 or fewer from step {scores['first_step_with_at_most_100_active']}, "
                  f"10 or fewer from step {scores['first_step_with_at_most_10_active']})")
    print("mean over seeds " + ", ".join(str(seed) for seed in arguments.seeds) + ":")
    for name in namespace["histories"]:
        means = {key: np.mean([row[name][key] for row in results]) for key in ("auc_50_steps", "val_50_steps", "auc", "val")}
        print(f"  {name:<20} after 50 steps: AUC {means['auc_50_steps']:.3f} VAL@FAR=1% {means['val_50_steps']:6.1%}; "
              f"at the end: AUC {means['auc']:.3f} VAL@FAR=1% {means['val']:6.1%}")
    write_results("triplet_selection", results, arguments.output)


if __name__ == "__main__":
    main()
