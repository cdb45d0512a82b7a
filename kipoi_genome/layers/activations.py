"""Activations with the exact formulas of the published models."""

from keras import ops

from kipoi_genome.serialization import register


@register
def gelu_sigmoid(x):
    """Enformer's GELU approximation, `x * sigmoid(1.702 * x)`.

    This is neither the erf nor the tanh GELU of `keras.activations.gelu`;
    using those changes Enformer's outputs by up to 100%.

    Args:
        x: tensor of any shape.

    Returns:
        Tensor of the same shape and dtype.
    """
    return x * ops.sigmoid(ops.cast(1.702, x.dtype) * x)


