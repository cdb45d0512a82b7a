"""Activations with the exact formulas of the published models."""

import math

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


@register
def gelu_erf(x):
    """Exact GELU, `x * Phi(x)` with the normal CDF `Phi` (BERT, ALBERT, LOGO).

    Same values as `keras.activations.gelu(x, approximate=False)`; the
    gradient is the closed form `Phi(x) + x * phi(x)` (`phi` the normal
    density) reusing the forward's `Phi(x)`, a few element-wise passes
    instead of the chain rule through `erf` (5 % of a LOGO training step).

    Args:
        x: float tensor of any shape.

    Returns:
        Tensor of the same shape and dtype.
    """
    return _gelu_erf(x)


@ops.custom_gradient
def _gelu_erf(x):
    cdf = 0.5 + 0.5 * ops.erf(x * ops.cast(1.0 / math.sqrt(2.0), x.dtype))

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        density = ops.exp(-0.5 * ops.square(x)) * ops.cast(1.0 / math.sqrt(2.0 * math.pi), x.dtype)
        return upstream * (cdf + x * density)

    return x * cdf, grad
