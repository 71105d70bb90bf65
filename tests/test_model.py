"""The Keras network against Sandberg's frozen graph, and the weights file's safety checks."""

import json
import shutil

import numpy as np
import pytest

import facenet_weights
import inception_blocks


@pytest.fixture(scope="module")
def frozen_graph_session():
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(facenet_weights.frozen_graph_path().read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return tf.compat.v1.Session(graph=graph)


def test_keras_model_matches_frozen_graph(model, frozen_graph_session):
    batch = np.random.default_rng(7).uniform(-1, 1, (4, 160, 160, 3)).astype(np.float32)
    # The frozen graph's flatten has batch size 1 baked in, so it runs one crop at a time.
    expected = np.concatenate(
        [frozen_graph_session.run("embeddings:0", {"input:0": crop[None]}) for crop in batch]
    )
    actual = model.predict(batch, verbose=0)
    assert actual.shape == (4, 512)
    assert np.abs(actual - expected).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(actual, axis=1), 1.0, atol=1e-5)


def test_parameter_count_equals_the_graphs_weights(model):
    constants, _ = facenet_weights.read_graph_constants(facenet_weights.frozen_graph_path())
    learned = ("/weights", "/biases", "_bn_offset", "/beta", "/moving_mean", "/moving_variance")
    expected = sum(array.size for name, array in constants.items() if name.endswith(learned))
    assert model.count_params() == expected
    assert 23.4e6 < expected < 23.6e6


def test_architecture_file_loads_in_safe_mode_and_is_up_to_date(tmp_path):
    import keras

    text = facenet_weights.ARCHITECTURE_PATH.read_text()
    assert "Lambda" not in text
    loaded = keras.saving.deserialize_keras_object(json.loads(text), safe_mode=True)
    assert loaded.count_params() == inception_blocks.inception_resnet_v1().count_params()
    keras.models.model_from_json(text)  # the documented way loads too
    fresh = tmp_path / "model.json"
    facenet_weights.write_architecture(fresh)
    assert json.loads(fresh.read_text()) == json.loads(text), (
        "keras-facenet-h5/model.json is stale: run python facenet_weights.py --write-architecture"
    )


def test_truncated_weights_are_refused_then_rebuilt(tmp_path):
    weights = tmp_path / "w.weights.h5"
    record = tmp_path / "w.weights.json"
    shutil.copy(facenet_weights.WEIGHTS_PATH, weights)
    shutil.copy(facenet_weights.WEIGHTS_RECORD_PATH, record)
    assert facenet_weights.check_weights(weights, record) == json.loads(record.read_text())["sha256"]
    with open(weights, "r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    with pytest.raises(facenet_weights.WeightsError, match="truncated or modified"):
        facenet_weights.check_weights(weights, record)
    digest = facenet_weights.ensure_weights(weights, record, verbose=False)
    assert facenet_weights.check_weights(weights, record) == digest
    assert not list(tmp_path.glob("tmp*")), "the conversion left a temporary file behind"


def test_missing_weights_say_how_to_build_them(tmp_path):
    with pytest.raises(facenet_weights.WeightsError, match="python facenet_weights.py"):
        facenet_weights.check_weights(tmp_path / "none.weights.h5", tmp_path / "none.json")
