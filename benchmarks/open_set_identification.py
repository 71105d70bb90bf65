"""Open-set identification on the full LFW: galleries of K people, their probes, and every stranger.

Each person with at least two photos (1,680) can be enrolled: one photo in the gallery, another
as a probe. The 4,069 people with a single photo are strangers, never enrolled. For each gallery
size K (galleries below the largest drawn ``--trials`` times at random and averaged) prints and
writes to JSON: the rank-1 identification rate, the identification rate and the strangers'
false-accept rate at the fixed threshold (``settings.VERIFICATION_THRESHOLD``), the threshold that
lets in 1% of the strangers, and the time per probe of a brute-force search and of scikit-learn's
``NearestNeighbors``. The photos are embedded with the notebooks' pipeline (flip, central crop
when no face is found) and cached, as in ``Face_Recognition_at_scale.ipynb``, whose table this is.

    python benchmarks/open_set_identification.py                 # K = 12, 100, 1000 and 1,680
    python benchmarks/open_set_identification.py --sizes 12 100  # 0 stands for everyone
"""

import argparse
import time
import warnings
from pathlib import Path

import embeddings
import faces
import lfw
import open_set
import settings
from benchmarks.results import write_results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 100, 1000, 0],
                        help="gallery sizes; 0 for everyone with two photos or more")
    parser.add_argument("--max-strangers", type=int, help="default: every person with a single photo")
    parser.add_argument("--trials", type=int, default=10, help="random galleries averaged per size below the largest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=settings.VERIFICATION_THRESHOLD)
    parser.add_argument("--far", type=float, default=0.01, help="target false-accept rate of strangers")
    parser.add_argument("--algorithm", default="auto", help="NearestNeighbors' algorithm (auto, ball_tree, ...)")
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/<name>.json)")
    arguments = parser.parse_args()

    sizes = [size or None for size in arguments.sizes]
    largest = None if None in sizes else max(sizes)
    root = lfw.lfw_root()
    photos = open_set.choose_photos(lfw.people_with_photos(root), max_people=largest,
                                    max_strangers=arguments.max_strangers, seed=arguments.seed)
    print(f"{len(photos.names):,} people to enrol, {len(photos.strangers):,} strangers, "
          f"{len(photos.all_paths()):,} photos, from {root}")
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", faces.SeveralFacesWarning)
        vectors = embeddings.encode_images(photos.all_paths(), embeddings.load_facenet(), on_no_face="center")
    embedding_seconds = time.perf_counter() - started

    started = time.perf_counter()
    table = open_set.gallery_sizes_table(photos, vectors, sizes, threshold=arguments.threshold,
                                         far=arguments.far, trials=arguments.trials, seed=arguments.seed,
                                         algorithm=arguments.algorithm)
    gallery, _, strangers = photos.split(vectors)
    pair_far = open_set.pair_false_accept_rate(gallery, strangers[:500], arguments.threshold)
    scoring_seconds = time.perf_counter() - started

    print(open_set.format_table(table, arguments.threshold, arguments.far))
    print(f"1:1 false-accept rate at {arguments.threshold}: {pair_far:.3%} of (stranger, gallery person) pairs; "
          "1 - (1 - p)^K = " + ", ".join(
              f"{open_set.expected_stranger_far(pair_far, row['people']):.1%} (K = {row['people']:,})" for row in table))
    print(f"embedding {embedding_seconds:.0f} s (cached photos are read back), scoring and timing {scoring_seconds:.0f} s")
    report = {
        "settings": {**{key: value for key, value in vars(arguments).items() if key != "output"},
                     "flip": True, "on_no_face": "center"},
        "people_enrolled": len(photos.names), "strangers": len(photos.strangers),
        "pair_far": pair_far, "table": table,
        "seconds": {"embedding": round(embedding_seconds, 1), "scoring": round(scoring_seconds, 1)},
    }
    write_results("open_set_identification", report, arguments.output)


if __name__ == "__main__":
    main()
