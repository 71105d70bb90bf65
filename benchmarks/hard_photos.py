"""Hard photos: LFW pairs made hard (tight crops, dark, side-lit, grey, small, turned, dark and
side-lit at once), this project against face_recognition (dlib), side by side.

For a subset of LFW's ``pairs.txt`` (the first ``--pairs-per-fold`` / 2 matching and non-matching
pairs of each of the 10 folds), each condition turns every photo into a hard one (seeded, so the
same photos every run), written as PNG under ``$FACENET_CACHE_DIR/hard_photos`` (never in the
repository). Optionally the ORL (AT&T) faces too (``--orl-dir``: 40 people, 10 grey 92x112 tight
crops each), in 10 folds of 4 people.

For each condition and system: 10-fold accuracy (threshold chosen on 9 folds), ROC AUC, true
accept rate at 1% false accepts (threshold chosen on 9 folds), and the photos where no face was
found. This project runs through its public API, ``fr_utils.encode_images`` with its default
options (but the central crop where no face is found, instead of an error) and no cache;
face_recognition runs in another interpreter (``--dlib-python``, see ``benchmarks/dlib_worker.py``),
its encodings cached (they do not change with this project). Prints a Markdown table; writes JSON.

    export LFW_DIR=/path/to/lfw FACENET_CACHE_DIR=/tmp/facenet-cache
    python -m benchmarks.hard_photos --dlib-python /work/venv-dlib/bin/python --orl-dir /path/to/att_faces
    python -m benchmarks.hard_photos --conditions tight70 side_light --pairs-per-fold 30   # quicker
"""

import argparse
import hashlib
import io
import itertools
import subprocess
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

import distances
import faces
import files
import fr_utils
import lfw
import settings
from benchmarks import dlib_worker
from benchmarks.results import markdown_table, write_results

WORK_DIR = settings.CACHE_DIR / "hard_photos"
SEED = 18
FAR = 0.01


# ---------------------------------------------------------------------------------------------
# Conditions: uint8 (H, W, 3) photo, seeded generator -> uint8 (h, w, 3) hard photo


def central(image, side):
    """The central side x side pixels (LFW's deep-funneled faces fill about the central 110 px)."""
    height, width = image.shape[:2]
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def grey(image):
    """Luminance (ITU-R 601) in all three channels."""
    luminance = np.asarray(Image.fromarray(image).convert("L"))
    return np.stack([luminance] * 3, axis=-1)


def dark(image, rng):
    """Under-exposed: gamma 1.8, a third of the light, and sensor noise (sigma 3 levels)."""
    pixels = 255.0 * 0.35 * (image / 255.0) ** 1.8
    return np.clip(pixels + rng.normal(0, 3.0, image.shape), 0, 255).astype(np.uint8)


def side_light(image, rng, darkest=0.08):
    """Light from one side (left or right, seeded): brightness falls from 1 to ``darkest`` across
    the photo, steeply (squared) as a lamp's light falls off."""
    width = image.shape[1]
    ramp = darkest + (1 - darkest) * np.linspace(1.0, 0.0, width) ** 2
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    return np.clip(image * ramp[None, :, None], 0, 255).astype(np.uint8)


def low_resolution(image, side=40):
    """Shrunk to side x side (a face of about 18 px), then back to the photo's size."""
    height, width = image.shape[:2]
    small = Image.fromarray(image).resize((side, side), Image.BOX)
    return np.asarray(small.resize((width, height), Image.BICUBIC))


def rotated(image, rng):
    """Turned by 10-20 degrees either way (seeded), corners filled with the photo's mean colour."""
    angle = rng.uniform(10, 20) * rng.choice([-1, 1])
    fill = tuple(int(value) for value in image.reshape(-1, 3).mean(axis=0))
    return np.asarray(Image.fromarray(image).rotate(angle, Image.BILINEAR, fillcolor=fill))


CONDITIONS = {
    "original": lambda image, rng: image,
    "tight100": lambda image, rng: central(image, 100),
    "tight70": lambda image, rng: central(image, 70),
    "dark": dark,
    "side_light": side_light,
    "grey": lambda image, rng: grey(image),
    "low_res": lambda image, rng: low_resolution(image),
    "rotated": rotated,
    # Like the light sets: a grey tight crop lit from one side.
    "tight_grey_side_light": lambda image, rng: side_light(grey(central(image, 120)), rng),
    # Night: a quarter of the light, gamma 2, and light falling to 5% across the face.
    "dark_side_light": lambda image, rng: side_light(
        (255.0 * 0.25 * (image / 255.0) ** 2.0).astype(np.uint8), rng, darkest=0.05),
}


def make_hard(paths, condition, folder):
    """Write each photo under ``condition`` as PNG into ``folder``; returns the new paths."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for path in paths:
        target = folder / f"{path.stem}.png"
        if not target.is_file():
            rng = np.random.default_rng([SEED, zlib.crc32(f"{condition}/{path.name}".encode())])
            image = CONDITIONS[condition](faces.read_image(path), rng)
            png = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(image)).save(png, format="PNG")
            files.atomic_write(target, png.getvalue())  # complete or absent, for a run in parallel
        made.append(target)
    return made


# ---------------------------------------------------------------------------------------------
# Pairs


def lfw_subset(root, per_fold):
    """The first per_fold / 2 matching and per_fold / 2 non-matching pairs of each fold."""
    chosen, taken = [], {}
    for pair in lfw.read_pairs(root):
        key = (pair.fold, pair.same)
        if taken.get(key, 0) < per_fold // 2:
            taken[key] = taken.get(key, 0) + 1
            chosen.append(pair)
    return chosen


def orl_pairs(orl_dir, per_fold):
    """Pairs of ORL photos in 10 folds of 4 people: per_fold / 2 matching, per_fold / 2 not."""
    rng = np.random.default_rng(SEED)
    people = sorted((path for path in Path(orl_dir).iterdir() if path.is_dir()), key=lambda p: int(p.name[1:]))
    order = rng.permutation(len(people))
    pairs = []
    for fold in range(10):
        members = [people[index] for index in order[fold * len(people) // 10 : (fold + 1) * len(people) // 10]]
        photos = {person: sorted(person.glob("*.pgm")) for person in members}
        matching = [(a, b) for person in members for a, b in itertools.combinations(photos[person], 2)]
        different = [(a, b) for one, other in itertools.combinations(members, 2)
                     for a in photos[one] for b in photos[other]]
        for candidates, same in ((matching, True), (different, False)):
            for index in rng.choice(len(candidates), per_fold // 2, replace=False):
                pairs.append(lfw.Pair(*candidates[index], same, fold))
    return pairs


# ---------------------------------------------------------------------------------------------
# The two systems


def project_embeddings(paths, model):
    """(N, 512) embeddings through the public API, and the photos where no face was found."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", faces.FaceWarning)
        vectors = fr_utils.encode_images(paths, model, on_no_face="center", cache_dir=None, progress=False)
        missed = 0
        for start in range(0, len(paths), 32):
            images = [faces.read_image(path) for path in paths[start : start + 32]]
            _, boxes, _ = faces.face_crops(images, on_no_face="center", warn_several=False)
            missed += sum(box is None for box in boxes)
    return vectors, missed


def dlib_embeddings(paths, dlib_python):
    """(N, 128) face_recognition encodings (cached by the photos' bytes), faces not found, seconds."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    cache = WORK_DIR / "dlib" / f"{digest.hexdigest()[:20]}.npz"
    if cache.is_file():
        data = np.load(cache)
    else:
        cache.parent.mkdir(parents=True, exist_ok=True)
        data = dlib_worker.run(dlib_python, paths, cache)
    return data["encodings"], int((~data["found"]).sum()), float(data["seconds"])


def scores(vectors, index, pairs):
    """10-fold accuracy, AUC and TAR at FAR 1% of the pairs, L2 distance."""
    first = vectors[[index[pair.first] for pair in pairs]]
    second = vectors[[index[pair.second] for pair in pairs]]
    same = np.array([pair.same for pair in pairs])
    folds = np.array([pair.fold for pair in pairs])
    result = distances.evaluate_protocol(first, second, same, folds, far=FAR)
    return {"accuracy": result["accuracy_mean"], "auc": result["auc"], "tar_at_far": result["val_at_far"],
            "threshold": result["threshold_mean"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    parser.add_argument("--pairs-per-fold", type=int, default=60, help="LFW pairs per fold (10 folds), half matching")
    parser.add_argument("--orl-dir", type=Path, help="the ORL (AT&T) faces folder (s1..s40); skipped without it")
    parser.add_argument("--dlib-python", help="a Python with face_recognition; its column is skipped without it")
    parser.add_argument("--systems", nargs="+", default=["project", "dlib"], choices=["project", "dlib"])
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/hard_photos.json)")
    arguments = parser.parse_args()

    dlib_python = arguments.dlib_python if "dlib" in arguments.systems else None
    if dlib_python and subprocess.run([dlib_python, "-c", "import face_recognition"], capture_output=True).returncode:
        print(f"face_recognition does not import in {dlib_python}: its column is skipped.")
        dlib_python = None
    elif not dlib_python and "dlib" in arguments.systems:
        print("No --dlib-python given: the face_recognition (dlib) column is skipped.")

    root = lfw.lfw_root()
    pairs = lfw_subset(root, arguments.pairs_per_fold)
    originals = sorted({pair.first for pair in pairs} | {pair.second for pair in pairs})
    print(f"{len(pairs)} LFW pairs, {len(originals)} photos, conditions: {' '.join(arguments.conditions)}")
    sets = [(condition, pairs, originals) for condition in arguments.conditions]
    if arguments.orl_dir:
        orl = orl_pairs(arguments.orl_dir, arguments.pairs_per_fold)
        sets.append(("orl", orl, sorted({pair.first for pair in orl} | {pair.second for pair in orl})))

    model = fr_utils.load_facenet() if "project" in arguments.systems else None
    rows = []
    for condition, condition_pairs, photos in sets:
        started = time.perf_counter()
        paths = photos if condition == "orl" else make_hard(photos, condition, WORK_DIR / condition)
        index = dict(zip(photos, range(len(photos))))
        row = {"condition": condition, "photos": len(photos), "pairs": len(condition_pairs)}
        if model is not None:
            vectors, missed = project_embeddings(paths, model)
            row["project"] = {**scores(vectors, index, condition_pairs), "no_face": missed,
                              "seconds": round(time.perf_counter() - started, 1)}
        if dlib_python:
            encodings, missed, seconds = dlib_embeddings(paths, dlib_python)
            row["dlib"] = {**scores(encodings, index, condition_pairs), "no_face": missed, "seconds": round(seconds, 1)}
        rows.append(row)
        print(f"{condition}: {row}", flush=True)

    def cell(result, photos):
        if result is None:
            return "-"
        return (f"{result['accuracy']:.3f} / {result['auc']:.3f} / {result['tar_at_far']:.3f} / "
                f"{result['no_face']}/{photos}")

    table = [{"condition": row["condition"], "pairs": row["pairs"],
              "project": cell(row.get("project"), row["photos"]), "dlib": cell(row.get("dlib"), row["photos"])}
             for row in rows]
    print("\n10-fold accuracy / ROC AUC / TAR at FAR 1% / photos with no face found\n")
    print(markdown_table(table, ["condition", "pairs", "project", "dlib"],
                         ["condition", "pairs", "this project", "face_recognition (dlib)"]))
    write_results("hard_photos", {"seed": SEED, "far": FAR, "rows": rows}, arguments.output)


if __name__ == "__main__":
    main()
