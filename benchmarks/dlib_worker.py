"""face_recognition (dlib) encodings of photos, run in the interpreter where it is installed.

The project never depends on dlib: ``benchmarks/hard_photos.py`` and ``benchmarks/speed.py`` call
this script with ``--dlib-python`` (a Python with ``dlib-bin``, ``face-recognition-models`` and
``face_recognition``) through a subprocess. It imports only numpy, Pillow and face_recognition.

    /work/venv-dlib/bin/python benchmarks/dlib_worker.py paths.txt out.npz
    dlib_worker.run("/work/venv-dlib/bin/python", paths, "out.npz")   # the same, from the benchmarks

Input: a text file of photo paths, one a line. Output (.npz): ``encodings`` (N, 128) float64,
``found`` (N,) bool (whether dlib's HOG detector found a face; where it did not, the whole photo
is encoded as the face, as the project uses its central crop), ``seconds`` (the time of the loop
over the photos, after the models were loaded and warmed up on the first photo).
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def run(dlib_python, paths, output):
    """This script on ``paths`` in the interpreter ``dlib_python``; returns np.load(output)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(str(path) for path in paths))
        listing.flush()
        subprocess.run([dlib_python, str(Path(__file__).resolve()), listing.name, str(output)], check=True)
    return np.load(output)


def encode(path, face_recognition):
    """(128,) encoding of the main (largest) face, and whether a face was found."""
    image = np.asarray(Image.open(path).convert("RGB"))
    locations = face_recognition.face_locations(image)  # HOG, upsampled once: the library's default
    found = bool(locations)
    if found:
        # The largest face, as the project takes the main one.
        locations = [max(locations, key=lambda box: (box[2] - box[0]) * (box[1] - box[3]))]
    else:
        height, width = image.shape[:2]
        locations = [(0, width, height, 0)]  # (top, right, bottom, left): the whole photo
    return face_recognition.face_encodings(image, known_face_locations=locations)[0], found


def main():
    import face_recognition

    list_file, output = sys.argv[1], sys.argv[2]
    paths = [line for line in open(list_file).read().splitlines() if line]
    if paths:
        encode(paths[0], face_recognition)  # warm-up: the models load on first use
    encodings, found = np.zeros((len(paths), 128)), np.zeros(len(paths), bool)
    started = time.perf_counter()
    for index, path in enumerate(paths):
        encodings[index], found[index] = encode(path, face_recognition)
    seconds = time.perf_counter() - started
    np.savez(output, encodings=encodings, found=found, seconds=seconds)


if __name__ == "__main__":
    main()
