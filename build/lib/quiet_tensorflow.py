"""TensorFlow, imported without the lines its C++ core prints at start-up on a machine with no GPU.

On import, TensorFlow 2.21 prints "All log messages before absl::InitializeLog() is called are
written to STDERR", "Could not find cuda drivers on your machine" and "failed call to cuInit":
harmless on the CPU, and confusing at the top of a student's notebook. TF_CPP_MIN_LOG_LEVEL does
not reach them (they come before TensorFlow reads it), so ``import_tensorflow`` sends the
process's standard error to /dev/null while TensorFlow loads and probes for GPUs. Every module
of this project that needs TensorFlow or Keras imports it through here first.
"""

import os
import sys


def import_tensorflow():
    """Import TensorFlow quietly (once per process); Python errors still surface as exceptions.

    Returns:
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe, and its messages, happen now
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return tf
