"""Shared fixtures: the pre-trained model and the LFW folder."""

import os

import pytest


def pytest_configure(config):
    import quiet_tensorflow

    quiet_tensorflow.import_tensorflow()  # now, without its start-up lines about CUDA


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading students' notebooks (tests/grading)")
    group.addoption("--submission", help="a student's notebook, or a folder of notebooks, to grade")
    group.addoption("--grade-report", help="write the grades as JSON here (and a CSV gradebook for a folder)")
    group.addoption("--time-limit", type=float, help="seconds each exercise may run (default 90)")
    group.addoption("--workers", type=int, help="exercises graded at a time (default: the number of cores)")
    group.addoption("--no-sandbox", action="store_true",
                    help="grade without bubblewrap (UNSAFE: a submission could read and change your files)")


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
