"""Shared fixtures: the pre-trained model and the LFW folder."""

import os

import pytest


def pytest_configure(config):
    import quiet_tensorflow

    quiet_tensorflow.import_tensorflow()  # now, without its start-up lines about CUDA
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        # The controller of a run on several processes (pytest -n): the weights' conversion
        # (about 20 s, the first time) and the notebook's photos, once, before the workers start,
        # instead of once in each worker at the same time.
        import facenet_weights

        facenet_weights.ensure_weights()
        import face_database
        import lfw

        if os.environ.get(lfw.LFW_DIR_ENV):
            try:
                face_database.ensure_images()
            except (OSError, ValueError):
                pass  # the tests that need LFW say what is wrong with it, each on its own


@pytest.fixture(scope="session")
def model():
    import embeddings

    return embeddings.load_facenet()


@pytest.fixture(scope="session")
def lfw_dir():
    """The LFW folder named by $LFW_DIR (CI sets it); these tests never download LFW."""
    import lfw

    if not os.environ.get(lfw.LFW_DIR_ENV):
        pytest.skip(f"set {lfw.LFW_DIR_ENV} to an LFW folder to run this test")
    return lfw.lfw_root(download=False)


@pytest.fixture(scope="session")
def lfw_photo(lfw_dir):
    """path(name, number) -> an LFW photo path."""
    import lfw

    return lambda name, number=1: lfw.photo_path(lfw_dir, name, number)
