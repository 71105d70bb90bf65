"""Shared fixtures: the pre-trained model and the LFW folder."""

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Both cores by default: ``python -m pytest`` runs as ``-n auto --dist loadfile`` (each test
    file in one worker process, so that its module-wide set-up is made once) where pytest-xdist
    is installed, unless ``-n`` was given, a debugger asked for, or a submission is being graded
    (the grading plugin's ``--submission``). Runs before pytest-xdist reads these options."""
    option = config.option
    if (getattr(option, "numprocesses", 0) is not None or getattr(option, "submission", None)
            or config.getoption("usepdb", False) or os.environ.get("PYTEST_XDIST_WORKER")):
        return
    option.numprocesses = "auto"
    if option.dist == "no":
        option.dist = "loadfile"
        option.loadscopereorder = False  # the order below, not the number of tests per file


# Test files in the order they are handed to the workers: the slowest first (measured with
# --durations), so that each worker starts on a slow one and the short ones fill in at the end.
SLOWEST_FIRST = ["test_grading.py", "test_notebooks.py", "test_browser.py", "test_grading_limits.py",
                 "test_several_photos.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOWEST_FIRST)))  # stable: files stay whole


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
