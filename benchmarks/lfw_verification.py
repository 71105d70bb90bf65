"""LFW face verification with this project's pipeline: the standard 10-fold protocol.

For every pair of ``pairs.txt`` (10 folds of 300 matching and 300 non-matching pairs) the two
photos are embedded; for each fold the threshold that maximises accuracy on the 9 other folds is
applied to it. Printed and written to JSON, for each preprocessing variant: mean accuracy +- std,
VAL (true accept rate) at FAR = 1e-3, AUC and the mean threshold.

Variants compared: crop margin (--margins), standardisation (--standardisations), flipped-image
averaging (with and without), distance (L2 or cosine) and mean subtraction (with and without).
Detections, and the embeddings of every crop and of its mirror image, are cached under
``.cache/benchmark`` (git-ignored), so a second run takes seconds.

    python benchmarks/lfw_verification.py                       # the shipped pipeline, all variants of it
    python benchmarks/lfw_verification.py --margins 0.1 0.16 0.2 --standardisations fixed per_image
"""

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
from PIL import Image

import distances
import embeddings
import faces
import lfw
import settings
from benchmarks.results import write_results

BENCHMARK_CACHE = settings.CACHE_DIR / "benchmark"


# ---------------------------------------------------------------------------------------------
# Alignment on the 5 landmarks (the --crops aligned variant; the notebook's pipeline crops the box)

# Where the 5 landmarks (eyes, nose, mouth corners) go in an aligned crop: the widely used
# ArcFace template for tight 112x112 crops (insightface), shrunk to leave FACE_MARGIN around it.
ALIGNMENT_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def similarity_transform(source, target):
    """The rotation, uniform scale and shift mapping ``source`` points onto ``target`` (least squares).

    Args:
        source, target: (K, 2) arrays of (x, y) points.

    Returns:
        A (2, 3) matrix M with target ~ M @ [x, y, 1] (Umeyama's method, no reflection).
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_mean, target - target_mean
    covariance = centred_target.T @ centred_source / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / centred_source.var(axis=0).sum()
    shift = target_mean - scale * rotation @ source_mean
    return np.column_stack([scale * rotation, shift])


def align_face(image, keypoints, margin=settings.FACE_MARGIN, size=settings.FACE_SIZE):
    """Rotate, scale and shift the photo so that the 5 landmarks land on the template.

    Args:
        image: uint8 array (H, W, 3).
        keypoints: MTCNN's dict of the 5 landmarks, (x, y) in pixels.
        margin: space around the template's face, as a fraction of its size, on each side.
        size: side of the square output, in pixels.

    Returns:
        A uint8 array (size, size, 3).
    """
    inner = size / (1 + 2 * margin)
    template = ALIGNMENT_TEMPLATE_112 * inner / 112 + (size - inner) / 2
    source = np.array([keypoints[name] for name in LANDMARKS])
    forward = np.vstack([similarity_transform(source, template), [0, 0, 1]])
    # Pillow wants the map from output pixels back to input pixels.
    backward = np.linalg.inv(forward)[:2].ravel()
    aligned = Image.fromarray(image).transform((size, size), Image.AFFINE, tuple(backward), Image.BILINEAR)
    return np.asarray(aligned, dtype=np.uint8)


def cached(path, compute):
    """Load the .npy at ``path`` or compute, save and return it."""
    if path.is_file():
        return np.load(path, allow_pickle=False)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value


def detect_all(paths, batch_size, side):
    """(N, 15) per photo: the main face's box (4), the number of faces (1), its 5 landmarks (10).

    NaN where no face was found.
    """
    from tqdm import tqdm

    boxes = np.full((len(paths), 4), np.nan)
    counts = np.zeros(len(paths), int)
    landmarks = np.full((len(paths), 10), np.nan)
    for start in tqdm(range(0, len(paths), batch_size), desc="Detecting faces", unit="batch"):
        images = [faces.read_image(path) for path in paths[start : start + batch_size]]
        found, found_counts = faces.locate_faces(images, side)  # as the pipeline finds them
        for offset, (face, count) in enumerate(zip(found, found_counts)):
            counts[start + offset] = count
            if face is not None:
                boxes[start + offset] = face["box"]
                landmarks[start + offset] = np.ravel([face["keypoints"][name] for name in LANDMARKS])
    return np.column_stack([boxes, counts, landmarks])


def crop(path, box, landmarks, margin, method):
    """One face crop: the box with a margin, or aligned on the landmarks (box crop if none); a
    dark face brightened, as the pipeline does."""
    image = faces.read_image(path)
    if np.isnan(box[0]):
        face = faces.crop_face(image, None, margin)
    elif method == "aligned":
        face = align_face(image, dict(zip(LANDMARKS, landmarks.reshape(5, 2))), margin)
    else:
        face = faces.crop_face(image, box, margin)
    return faces.brighten_dark_face(face)


def embed_all(paths, detections, model, margin, method, standardisation, batch_size):
    """(N, 2, 512): embeddings of each crop and of its mirror image (not normalised together)."""
    from tqdm import tqdm

    result = np.zeros((len(paths), 2, 512), np.float32)
    description = f"Embedding ({method} crops, margin {margin}, {standardisation})"
    for start in tqdm(range(0, len(paths), batch_size), desc=description, unit="batch"):
        crops = np.stack([
            crop(paths[index], detections[index, :4], detections[index, 5:], margin, method)
            for index in range(start, min(start + batch_size, len(paths)))
        ])
        mirrored = crops[:, :, ::-1, :]
        result[start : start + len(crops), 0] = embeddings.embed_crops(
            crops, model, flip=False, batch_size=batch_size, standardisation=standardisation
        )
        result[start : start + len(crops), 1] = embeddings.embed_crops(
            mirrored, model, flip=False, batch_size=batch_size, standardisation=standardisation
        )
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw-dir", type=Path, help="LFW folder (default: $LFW_DIR, or download)")
    parser.add_argument("--pairs", default="pairs.txt", help="pairs file inside the LFW folder")
    parser.add_argument("--margins", type=float, nargs="+", default=[settings.FACE_MARGIN])
    parser.add_argument("--standardisations", nargs="+", default=["fixed"], choices=["fixed", "per_image"])
    parser.add_argument("--crops", nargs="+", default=["box"], choices=["box", "aligned"],
                        help="box: MTCNN's box plus margin; aligned: similarity-aligned on the 5 landmarks")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--detection-side", type=int, default=settings.DETECTION_SIDE,
                        help="short side (px) of the copy MTCNN searches; 0 for the full photo")
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/lfw_verification.json)")
    arguments = parser.parse_args()

    root = arguments.lfw_dir or lfw.lfw_root()
    pairs = lfw.read_pairs(root, arguments.pairs)
    paths = sorted({pair.first for pair in pairs} | {pair.second for pair in pairs})
    index = {path: position for position, path in enumerate(paths)}
    first = np.array([index[pair.first] for pair in pairs])
    second = np.array([index[pair.second] for pair in pairs])
    same = np.array([pair.same for pair in pairs])
    folds = np.array([pair.fold for pair in pairs])
    print(f"{len(pairs)} pairs in {folds.max() + 1} folds, {len(paths)} photos, from {root}")

    photo_list = "\n".join(str(path.relative_to(root)) for path in paths)
    list_key = hashlib.sha256(photo_list.encode()).hexdigest()[:16]
    started = time.perf_counter()
    side = arguments.detection_side or 10**9
    detections = cached(
        BENCHMARK_CACHE / f"detections-v{settings.PIPELINE_VERSION}-{list_key}-{side}.npy",
        lambda: detect_all(paths, arguments.batch_size, side),
    )
    boxes, counts = detections[:, :4], detections[:, 4]
    no_face = int(np.isnan(boxes[:, 0]).sum())
    print(f"faces: none found in {no_face} photos (central crop used), several in {int((counts > 1).sum())}")

    model = embeddings.load_facenet()
    weights_key = embeddings.weights_sha256()[:16]
    results = []
    grid = [(method, margin, standardisation) for method in arguments.crops
            for margin in arguments.margins for standardisation in arguments.standardisations]
    for method, margin, standardisation in grid:
        name = f"v{settings.PIPELINE_VERSION}-{list_key}-{weights_key}-{side}-{'' if method == 'box' else 'aligned-'}{margin}-{standardisation}"
        both = cached(
            BENCHMARK_CACHE / f"embeddings-{name}.npy",
            lambda: embed_all(paths, detections, model, margin, method, standardisation, arguments.batch_size),
        )
        # Subtracting a mean changes nothing for L2 distances, so only cosine gets that variant.
        for flip, metric, subtract_mean in [(flip, metric, subtract) for flip in (False, True)
                                            for metric, subtract in (("l2", False), ("cosine", False), ("cosine", True))]:
            vectors = both[:, 0] + both[:, 1] if flip else both[:, 0].copy()
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            scores = distances.evaluate_protocol(vectors[first], vectors[second], same, folds, metric, subtract_mean)
            variant = {
                "detection_side": arguments.detection_side, "crop": method, "margin": margin,
                "standardisation": standardisation, "flip": flip, "metric": metric, "subtract_mean": subtract_mean,
            }
            results.append({"variant": variant, **scores})
            print(
                f"{method:<7} margin {margin:<5} {standardisation:<9} flip {str(flip):<5} "
                f"{metric:<6} mean-sub {str(subtract_mean):<5}  "
                f"accuracy {100 * scores['accuracy_mean']:.2f}% +- {100 * scores['accuracy_std']:.2f}  "
                f"VAL@FAR=1e-3 {100 * scores['val_at_far']:.1f}%  AUC {scores['auc']:.4f}  "
                f"threshold {scores['threshold_mean']:.3f}"
            )
    best = max(results, key=lambda result: result["accuracy_mean"])
    report = {
        "pairs": arguments.pairs, "photos": len(paths), "photos_without_face": no_face,
        "seconds": round(time.perf_counter() - started, 1), "results": results, "best": best,
    }
    write_results("lfw_verification", report, arguments.output)
    print(f"best: {best['variant']} accuracy {100 * best['accuracy_mean']:.2f}%")


if __name__ == "__main__":
    main()
