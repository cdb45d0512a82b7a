"""Softmax (attention) pooling over windows, as in Enformer."""

import keras
from keras import ops

from kipoi_genome.serialization import register


@register
class AttentionPool1D(keras.layers.Layer):
    """Pools non-overlapping windows with softmax weights from the input.

    For each window of `pool_size` positions the layer computes logits
    `x @ W` (bias-free, one logit per channel when `per_channel=True`), takes a
    softmax over the positions of the window and returns the weighted sum of
    the inputs. `W` starts as `w_init_scale * I`: scale 0 is average pooling,
    large scales approach max pooling. The length must be divisible by
    `pool_size` (the official module does not pad).

    Args:
        pool_size: int. Window length and stride. Defaults to 2.
        per_channel: bool. One logit per channel (a `C x C` weight) instead of
            one per position (a `C x 1` weight). Defaults to True.
        w_init_scale: float. Scale of the identity initialiser. Defaults to
            2.0, as in Enformer.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor `[B, L, C]`, L divisible by `pool_size`.

    Returns:
        Tensor `[B, L / pool_size, C]`.

    Reference:
        Avsec et al. 2021, Nat Methods 18:1196 (`SoftmaxPooling1D`).
    """

    def __init__(self, pool_size=2, per_channel=True, w_init_scale=2.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(pool_size, int) or isinstance(pool_size, bool) or pool_size < 1:
            raise ValueError(
                f"`pool_size` must be a positive integer. Received: pool_size={pool_size!r}"
            )
        if not isinstance(w_init_scale, (int, float)):
            raise ValueError(
                f"`w_init_scale` must be a number. Received: w_init_scale={w_init_scale!r}"
            )
        self.pool_size = pool_size
        self.per_channel = bool(per_channel)
        self.w_init_scale = float(w_init_scale)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "AttentionPool1D expects inputs of shape [batch, length, channels] "
                f"with known channels. Received: input_shape={input_shape}"
            )
        channels = input_shape[-1]
        self.logit_dense = keras.layers.Dense(
            channels if self.per_channel else 1,
            use_bias=False,
            kernel_initializer=keras.initializers.Identity(gain=self.w_init_scale),
            dtype=self.dtype_policy,
            name="logit_dense",
        )
        self.logit_dense.build(input_shape)

    def call(self, inputs):
        length, channels = ops.shape(inputs)[1], ops.shape(inputs)[2]
        if isinstance(length, int) and length % self.pool_size:
            raise ValueError(
                f"AttentionPool1D needs a length divisible by pool_size={self.pool_size}. "
                f"Received: length={length}"
            )
        # [B, L, C] -> [B, L / p, p, C]
        windows = ops.reshape(inputs, (-1, length // self.pool_size, self.pool_size, channels))
        if self.pool_size == 2:
            # A softmax over two logits is the sigmoid of their difference, and
            # the logits are linear and bias-free: l0 - l1 = (x0 - x1) @ W. Same
            # result with half the matmul and fewer full-size temporaries.
            first, second = windows[:, :, 0], windows[:, :, 1]
            difference = first - second
            return second + ops.sigmoid(self.logit_dense(difference)) * difference
        # Softmax over the p positions of each window, written out: a softmax
        # op over a short middle axis is several times slower on CPU (oneDNN).
        logits = self.logit_dense(windows)
        exponentials = ops.exp(logits - ops.max(logits, axis=-2, keepdims=True))
        return ops.sum(windows * exponentials, axis=-2) / ops.sum(exponentials, axis=-2)

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        return (
            input_shape[0],
            None if length is None else length // self.pool_size,
            input_shape[2],
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            per_channel=self.per_channel,
            w_init_scale=self.w_init_scale,
        )
        return config
