"""Photos per second of each stage of the pipeline, on LFW photos.

    python benchmarks/speed.py            # 200 photos, as in the comparison with face_recognition
    python benchmarks/speed.py --dlib-python /path/to/venv-dlib/bin/python   # and face_recognition on them
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/speed.py ...   # TensorFlow without AVX-512 / AMX

Measured after a warm-up batch (TensorFlow traces its functions on the first call), with no
embedding cache. Prints one line per measurement and writes them to JSON. With ``--dlib-python``
(a Python with face_recognition: see ``benchmarks/dlib_worker.py``) face_recognition encodes the
same photos in that interpreter, one after the other (its models loaded and warmed up first), and
the ratio of photos per second is printed: the pipeline (flip included) against face_recognition.
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import embeddings
import faces
import lfw
from benchmarks import dlib_worker
from benchmarks.results import write_results


def rate(count, function):
    """Photos per second of ``function()`` over ``count`` photos."""
    started = time.perf_counter()
    function()
    return count / (time.perf_counter() - started)


def dlib_rate(paths, dlib_python):
    """Photos per second of face_recognition (HOG detection, then its 128-d encoding) on ``paths``."""
    with tempfile.TemporaryDirectory() as folder:
        return len(paths) / float(dlib_worker.run(dlib_python, paths, Path(folder) / "encodings.npz")["seconds"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dlib-python", help="a Python with face_recognition, to time it on the same photos")
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
    if arguments.dlib_python:
        results["face_recognition"] = dlib_rate(paths, arguments.dlib_python)
        results["pipeline_flip_over_face_recognition"] = results["pipeline_flip"] / results["face_recognition"]
    for name, value in results.items():
        unit = "x" if name.endswith("_over_face_recognition") else " photos/s" if isinstance(value, float) else ""
        print(f"{name:<36}{value:8.1f}{unit}")
    write_results("speed", results, arguments.output)


if __name__ == "__main__":
    main()
