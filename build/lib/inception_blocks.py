"""The Inception-ResNet-v1 network of FaceNet, in Keras 3.

The architecture is the one of David Sandberg's FaceNet (``src/models/inception_resnet_v1.py``),
itself from Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning" (2016). The pre-trained weights ship as a frozen TensorFlow graph in
which every batch normalisation was folded into the convolution before it, so each convolution
here is a plain ``Conv2D`` with a bias.

Layer names are the variable scopes of Sandberg's graph with ``/`` written as ``.`` (Keras does
not allow ``/`` in a layer name): the graph's ``InceptionResnetV1/Repeat/block35_1/Branch_0/
Conv2d_1x1`` is the layer ``Repeat.block35_1.Branch_0.Conv2d_1x1`` here. That makes the weight
conversion (``facenet_weights.py``) a plain name mapping.

Only built-in layers are used (``Conv2D``, ``Rescaling`` for the residual scale,
``UnitNormalization`` for the final L2 normalisation, ...), so the saved architecture loads
with ``safe_mode=True``.

Data flow, for one 160x160 face crop standardised to about [-1, 1]:

    (160, 160, 3) -> stem -> 5 x Block35 -> Mixed_6a -> 10 x Block17 -> Mixed_7a
                  -> 5 x Block8 -> Block8 (no ReLU) -> average pool -> Bottleneck (512)
                  -> L2 normalisation -> (512,) unit-length embedding
"""

from quiet_tensorflow import import_tensorflow

import_tensorflow()  # before Keras loads it, without TensorFlow's start-up lines

import keras  # noqa: E402
from keras import layers  # noqa: E402

INPUT_SHAPE = (160, 160, 3)
EMBEDDING_SIZE = 512
# Epsilon of the bottleneck's batch normalisation in Sandberg's training code (slim.batch_norm).
BOTTLENECK_BN_EPSILON = 0.001


def scope_to_layer_name(scope):
    """Keras layer name for a variable scope of Sandberg's graph (``/`` becomes ``.``)."""
    return scope.replace("/", ".")


def conv(x, filters, kernel_size, name, strides=1, padding="same", activation="relu"):
    """A convolution with bias (batch norm folded in) and, by default, a ReLU."""
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        activation=activation,
        name=scope_to_layer_name(name),
    )(x)


def residual(x, branches, scale, name, activation=True):
    """Concatenate the branches, project back to x's depth, add ``scale`` times that to x.

    This is the Inception-ResNet shortcut: ``x + scale * Conv2d_1x1(concat(branches))``, with a
    ReLU after the sum unless ``activation`` is False (the very last Block8).
    """
    mixed = layers.Concatenate(axis=-1, name=scope_to_layer_name(f"{name}/concat"))(branches)
    up = conv(mixed, x.shape[-1], 1, f"{name}/Conv2d_1x1", activation=None)
    up = layers.Rescaling(scale, name=scope_to_layer_name(f"{name}/mul"))(up)
    x = layers.Add(name=scope_to_layer_name(f"{name}/add"))([x, up])
    if activation:
        x = layers.ReLU(name=scope_to_layer_name(f"{name}/Relu"))(x)
    return x


def block35(x, name, scale=0.17):
    """Inception-ResNet-A block on the 17x17x256 grid (Sandberg's ``block35``)."""
    branch_0 = conv(x, 32, 1, f"{name}/Branch_0/Conv2d_1x1")
    branch_1 = conv(x, 32, 1, f"{name}/Branch_1/Conv2d_0a_1x1")
    branch_1 = conv(branch_1, 32, 3, f"{name}/Branch_1/Conv2d_0b_3x3")
    branch_2 = conv(x, 32, 1, f"{name}/Branch_2/Conv2d_0a_1x1")
    branch_2 = conv(branch_2, 32, 3, f"{name}/Branch_2/Conv2d_0b_3x3")
    branch_2 = conv(branch_2, 32, 3, f"{name}/Branch_2/Conv2d_0c_3x3")
    return residual(x, [branch_0, branch_1, branch_2], scale, name)


def block17(x, name, scale=0.10):
    """Inception-ResNet-B block on the 8x8x896 grid (Sandberg's ``block17``)."""
    branch_0 = conv(x, 128, 1, f"{name}/Branch_0/Conv2d_1x1")
    branch_1 = conv(x, 128, 1, f"{name}/Branch_1/Conv2d_0a_1x1")
    branch_1 = conv(branch_1, 128, (1, 7), f"{name}/Branch_1/Conv2d_0b_1x7")
    branch_1 = conv(branch_1, 128, (7, 1), f"{name}/Branch_1/Conv2d_0c_7x1")
    return residual(x, [branch_0, branch_1], scale, name)


def block8(x, name, scale=0.20, activation=True):
    """Inception-ResNet-C block on the 3x3x1792 grid (Sandberg's ``block8``)."""
    branch_0 = conv(x, 192, 1, f"{name}/Branch_0/Conv2d_1x1")
    branch_1 = conv(x, 192, 1, f"{name}/Branch_1/Conv2d_0a_1x1")
    branch_1 = conv(branch_1, 192, (1, 3), f"{name}/Branch_1/Conv2d_0b_1x3")
    branch_1 = conv(branch_1, 192, (3, 1), f"{name}/Branch_1/Conv2d_0c_3x1")
    return residual(x, [branch_0, branch_1], scale, name, activation=activation)


def mixed_6a(x, name="Mixed_6a"):
    """Reduction-A: 17x17x256 -> 8x8x896."""
    branch_0 = conv(x, 384, 3, f"{name}/Branch_0/Conv2d_1a_3x3", strides=2, padding="valid")
    branch_1 = conv(x, 192, 1, f"{name}/Branch_1/Conv2d_0a_1x1")
    branch_1 = conv(branch_1, 192, 3, f"{name}/Branch_1/Conv2d_0b_3x3")
    branch_1 = conv(branch_1, 256, 3, f"{name}/Branch_1/Conv2d_1a_3x3", strides=2, padding="valid")
    branch_2 = layers.MaxPooling2D(
        3, strides=2, padding="valid", name=scope_to_layer_name(f"{name}/Branch_2/MaxPool_1a_3x3")
    )(x)
    return layers.Concatenate(axis=-1, name=name)([branch_0, branch_1, branch_2])


def mixed_7a(x, name="Mixed_7a"):
    """Reduction-B: 8x8x896 -> 3x3x1792."""
    branch_0 = conv(x, 256, 1, f"{name}/Branch_0/Conv2d_0a_1x1")
    branch_0 = conv(branch_0, 384, 3, f"{name}/Branch_0/Conv2d_1a_3x3", strides=2, padding="valid")
    branch_1 = conv(x, 256, 1, f"{name}/Branch_1/Conv2d_0a_1x1")
    branch_1 = conv(branch_1, 256, 3, f"{name}/Branch_1/Conv2d_1a_3x3", strides=2, padding="valid")
    branch_2 = conv(x, 256, 1, f"{name}/Branch_2/Conv2d_0a_1x1")
    branch_2 = conv(branch_2, 256, 3, f"{name}/Branch_2/Conv2d_0b_3x3")
    branch_2 = conv(branch_2, 256, 3, f"{name}/Branch_2/Conv2d_1a_3x3", strides=2, padding="valid")
    branch_3 = layers.MaxPooling2D(
        3, strides=2, padding="valid", name=scope_to_layer_name(f"{name}/Branch_3/MaxPool_1a_3x3")
    )(x)
    return layers.Concatenate(axis=-1, name=name)([branch_0, branch_1, branch_2, branch_3])


def inception_resnet_v1(name="inception_resnet_v1"):
    """Build the FaceNet network (random weights; see ``embeddings.load_facenet`` for trained ones).

    Returns:
        A ``keras.Model`` taking a float32 batch of standardised face crops, shape
        (batch, 160, 160, 3) with values about in [-1, 1], and returning unit-length (L2 norm 1)
        embeddings of shape (batch, 512).
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="input")
    x = conv(inputs, 32, 3, "Conv2d_1a_3x3", strides=2, padding="valid")  # 79x79x32
    x = conv(x, 32, 3, "Conv2d_2a_3x3", padding="valid")  # 77x77x32
    x = conv(x, 64, 3, "Conv2d_2b_3x3")  # 77x77x64
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="MaxPool_3a_3x3")(x)  # 38x38x64
    x = conv(x, 80, 1, "Conv2d_3b_1x1", padding="valid")  # 38x38x80
    x = conv(x, 192, 3, "Conv2d_4a_3x3", padding="valid")  # 36x36x192
    x = conv(x, 256, 3, "Conv2d_4b_3x3", strides=2, padding="valid")  # 17x17x256

    for index in range(1, 6):
        x = block35(x, f"Repeat/block35_{index}")
    x = mixed_6a(x)  # 8x8x896
    for index in range(1, 11):
        x = block17(x, f"Repeat_1/block17_{index}")
    x = mixed_7a(x)  # 3x3x1792
    for index in range(1, 6):
        x = block8(x, f"Repeat_2/block8_{index}")
    x = block8(x, "Block8", scale=1.0, activation=False)

    # Sandberg's AvgPool_1a_8x8 pools the whole 3x3 grid that a 160x160 input leaves.
    x = layers.GlobalAveragePooling2D(name="Logits.AvgPool_1a_8x8")(x)
    x = layers.Dense(EMBEDDING_SIZE, use_bias=False, name="Bottleneck")(x)
    # The bottleneck's batch norm has no scale (gamma) in Sandberg's graph.
    x = layers.BatchNormalization(
        scale=False, epsilon=BOTTLENECK_BN_EPSILON, name="Bottleneck.BatchNorm"
    )(x)
    outputs = layers.UnitNormalization(axis=-1, name="embeddings")(x)
    return keras.Model(inputs, outputs, name=name)
