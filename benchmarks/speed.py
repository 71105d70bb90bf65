"""Photos per second of each stage of the pipeline, on LFW photos.

    python benchmarks/speed.py            # 200 photos, as in the comparison with face_recognition

Measured after a warm-up batch (TensorFlow traces its functions on the first call), with no
embedding cache. Prints one line per measurement and writes them to JSON.
"""

import argparse
import time
import warnings
from pathlib import Path

import embeddings
import faces
import lfw
from benchmarks.results import write_results


def rate(count, function):
    """Photos per second of ``function()`` over ``count`` photos."""
    started = time.perf_counter()
    function()
    return count / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", type=Path, help="the results file (default: .cache/benchmarks/<name>.json)")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore", faces.SeveralFacesWarning)

    root = lfw.lfw_root()
    pairs = lfw.read_pairs(root)
    paths = sorted({pair.first for pair in pairs})[: arguments.photos]
    count, batch = len(paths), arguments.batch_size
    model = embeddings.load_facenet()

    warm = [faces.read_image(path) for path in paths[:batch]]
    crops, _, _ = faces.face_crops(warm, on_no_face="center", warn_several=False)
    embeddings.embed_crops(crops, model, flip=True, batch_size=batch)
    embeddings.embed_crops(crops[:1], model, flip=False, batch_size=1)

    images = [faces.read_image(path) for path in paths]
    all_crops, _, _ = faces.face_crops(images, on_no_face="center", warn_several=False)
    results = {
        "photos": count,
        "batch_size": batch,
        "pipeline_flip": rate(count, lambda: embeddings.encode_images(
            paths, model, batch_size=batch, flip=True, on_no_face="center", cache_dir=None, progress=False)),
        "pipeline_no_flip": rate(count, lambda: embeddings.encode_images(
            paths, model, batch_size=batch, flip=False, on_no_face="center", cache_dir=None, progress=False)),
        "detect_batched": rate(count, lambda: [faces.detect_faces(images[start:start + batch])
                                               for start in range(0, count, batch)]),
        "detect_one_by_one": rate(count, lambda: [faces.detect_faces([image]) for image in images]),
        "encode_batched_no_flip": rate(count, lambda: embeddings.embed_crops(all_crops, model, flip=False, batch_size=batch)),
        "encode_batched_flip": rate(count, lambda: embeddings.embed_crops(all_crops, model, flip=True, batch_size=batch)),
        "encode_one_by_one_no_flip": rate(count, lambda: [
            embeddings.embed_crops(all_crops[index:index + 1], model, flip=False, batch_size=1) for index in range(count)]),
    }
    for name, value in results.items():
        print(f"{name:<28}{value:8.1f}" + (" photos/s" if isinstance(value, float) else ""))
    write_results("speed", results, arguments.output)


if __name__ == "__main__":
    main()
