"""Shared fixtures: the pre-trained model and the LFW folder."""

import os

import pytest


def pytest_configure(config):
    import quiet_tensorflow

    quiet_tensorflow.import_tensorflow()  # now, without its start-up lines about CUDA


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
