"""Enformer's pre-activation convolution block."""

import math

import keras

from kipoi_genome.layers.activations import gelu_sigmoid
from kipoi_genome.serialization import register


def sonnet_initializer(fan_in):
    """Truncated normal with stddev `1 / sqrt(fan_in)`, Sonnet's default."""
    return keras.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(fan_in))


@register
class ConvBlock(keras.layers.Layer):
    """BatchNorm -> GELU (`x * sigmoid(1.702 x)`) -> Conv1D with SAME padding.

    BatchNorm uses Enformer's constants (epsilon 1e-5, moving-average decay
    0.9) and synchronises batch statistics across replicas under a
    `tf.distribute` strategy (Sonnet's `CrossReplicaBatchNorm`). The
    convolution kernel starts from a truncated normal with stddev
    `1 / sqrt(width * C_in)` and a zero bias, as `snt.Conv1D`.

    Args:
        filters: int. Output channels.
        width: int. Odd kernel width (SAME padding is then symmetric).
        bn_epsilon: float. Defaults to 1e-5.
        bn_momentum: float. Defaults to 0.9.
        synchronized: bool. Cross-replica BatchNorm statistics. Defaults to True.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor `[B, L, C_in]`.
        training: bool; BatchNorm uses batch statistics when True.

    Returns:
        Tensor `[B, L, filters]`.
    """

    def __init__(
        self,
        filters,
        width=1,
        bn_epsilon=1e-5,
        bn_momentum=0.9,
        synchronized=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (("filters", filters), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
        self.filters = filters
        self.width = width
        self.bn_epsilon = bn_epsilon
        self.bn_momentum = bn_momentum
        self.synchronized = synchronized

    def build(self, input_shape):
        self.batch_norm = keras.layers.BatchNormalization(
            epsilon=self.bn_epsilon,
            momentum=self.bn_momentum,
            synchronized=self.synchronized,
            dtype=self.dtype_policy,
            name="batch_norm",
        )
        self.batch_norm.build(input_shape)
        self.conv = keras.layers.Conv1D(
            self.filters,
            self.width,
            padding="same",
            kernel_initializer=sonnet_initializer(self.width * input_shape[-1]),
            dtype=self.dtype_policy,
            name="conv",
        )
        self.conv.build(input_shape)

    def call(self, inputs, training=None):
        return self.conv(gelu_sigmoid(self.batch_norm(inputs, training=training)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            width=self.width,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
            synchronized=self.synchronized,
        )
        return config
