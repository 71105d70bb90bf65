"""Several photos per person on LFW: nearest photo, mean embedding, k-NN, logistic regression.

The people of LFW with at least 11 photos (143; 20 of their photos at most) are enrolled with
n = 1, 2, 3, 5 and 10 photos each and probed with their other photos; 2,000 people with a single
photo are the strangers. For each way of using the n photos (``open_set.METHODS``: the nearest
photo, the mean embedding, a k-NN vote, a logistic regression on the embeddings, and
``FaceDatabase``'s default rule), averaged over 5 random draws, it prints as Markdown and writes
to JSON (``.cache/benchmarks/several_photos.json``, or ``$FACENET_CACHE_DIR``):

- rank-1 (closed set: is the right person first?);
- the people recognised at the threshold that lets in 1% of strangers, a threshold chosen on half
  of the strangers and measured on the other half;
- the people recognised and the strangers rejected at the fixed threshold
  (``settings.VERIFICATION_THRESHOLD``, for the methods that compare distances);
- what happens when 10 people join: a classifier trained before, and FaceDatabase.

The numbers are those of ``source/Face_Recognition_several_photos.ipynb`` (the same functions, the
same parameters, ``open_set.SEVERAL_PHOTOS``). The photos are embedded with the notebooks'
pipeline (flip, central crop when no face is found) and cached: the first run embeds about
4,400 photos (about 5 minutes on 2 cores), later runs take about a minute.

    python benchmarks/several_photos.py
    python benchmarks/several_photos.py --draws 2 --max-people 40   # quicker, rougher
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
    defaults = open_set.SEVERAL_PHOTOS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos-per-person", type=int, nargs="+", default=defaults["PHOTOS_PER_PERSON"])
    parser.add_argument("--min-photos", type=int, default=defaults["MIN_PHOTOS"],
                        help="people with fewer photos are not enrolled (default: 11)")
    parser.add_argument("--max-photos", type=int, default=defaults["MAX_PHOTOS"], help="photos used per person at most")
    parser.add_argument("--max-people", type=int, default=defaults["MAX_PEOPLE"], help="default: everyone with enough photos")
    parser.add_argument("--max-strangers", type=int, default=defaults["MAX_STRANGERS"])
    parser.add_argument("--draws", type=int, default=defaults["DRAWS"], help="random draws averaged")
    parser.add_argument("--far", type=float, default=defaults["FAR"], help="target false-accept rate of strangers")
    parser.add_argument("--newcomers", type=int, default=defaults["NEWCOMERS"])
    parser.add_argument("--newcomer-photos", type=int, default=defaults["NEWCOMER_PHOTOS"])
    parser.add_argument("--seed", type=int, default=defaults["SEED"])
    parser.add_argument("--threshold", type=float, default=settings.VERIFICATION_THRESHOLD)
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/several_photos.json)")
    arguments = parser.parse_args()

    started = time.perf_counter()
    root = lfw.lfw_root()
    photos = open_set.choose_people(lfw.people_with_photos(root), min_photos=arguments.min_photos,
                                    max_photos=arguments.max_photos, max_people=arguments.max_people,
                                    max_strangers=arguments.max_strangers, seed=arguments.seed)
    print(f"{len(photos.names)} people with {arguments.min_photos} photos or more, {len(photos.strangers):,} strangers, "
          f"{len(photos.all_paths()):,} photos, from {root}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", faces.SeveralFacesWarning)
        vectors = embeddings.encode_images(photos.all_paths(), embeddings.load_facenet(), on_no_face="center")
    embedding_seconds = time.perf_counter() - started

    started = time.perf_counter()
    table = open_set.several_photos_table(photos, vectors, arguments.photos_per_person, draws=arguments.draws,
                                          threshold=arguments.threshold, far=arguments.far, seed=arguments.seed)
    joining = open_set.newcomers_table(photos, vectors, arguments.newcomer_photos, arguments.newcomers,
                                       draws=arguments.draws, far=arguments.far, seed=arguments.seed)
    scoring_seconds = time.perf_counter() - started

    print(open_set.several_photos_markdown(table, arguments.threshold, arguments.far))
    print()
    print(open_set.newcomers_markdown(joining, arguments.far))
    print()
    fits = {row["method"]: row["fit_seconds"] for row in table if row["photos"] == max(arguments.photos_per_person)}
    print(f"fitting to {len(photos.names)} people x {max(arguments.photos_per_person)} photos: "
          + ", ".join(f"{method} {seconds * 1e3:.1f} ms" for method, seconds in fits.items()))
    print(f"embedding {embedding_seconds:.0f} s (cached photos are read back), scoring {scoring_seconds:.0f} s")
    report = {
        "settings": {**{key: value for key, value in vars(arguments).items() if key != "output"},
                     "flip": True, "on_no_face": "center", "logistic_c": open_set.LOGISTIC_C},
        "people": len(photos.names), "strangers": len(photos.strangers), "table": table, "newcomers": joining,
        "seconds": {"embedding": round(embedding_seconds, 1), "scoring": round(scoring_seconds, 1)},
    }
    write_results("several_photos", report, arguments.output)


if __name__ == "__main__":
    main()
