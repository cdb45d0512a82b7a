"""Central crop along the sequence axis."""

import keras

from kipoi_genome.serialization import register


@register
class TargetLengthCrop1D(keras.layers.Layer):
    """Keeps the central `target_length` positions of a sequence.

    `(L - target_length) // 2` positions are dropped on the left and the rest
    on the right. `target_length=None` keeps everything.

    Args:
        target_length: int or None.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor `[B, L, C]` with `L >= target_length`.

    Returns:
        Tensor `[B, target_length, C]`.
    """

    def __init__(self, target_length, **kwargs):
        super().__init__(**kwargs)
        if target_length is not None and (
            not isinstance(target_length, int) or isinstance(target_length, bool) or target_length < 1
        ):
            raise ValueError(
                "`target_length` must be a positive integer or None. "
                f"Received: target_length={target_length!r}"
            )
        self.target_length = target_length

    def _trim(self, length):
        if length < self.target_length:
            raise ValueError(
                f"Sequence length {length} is shorter than target_length={self.target_length}."
            )
        return (length - self.target_length) // 2

    def call(self, inputs):
        if self.target_length is None:
            return inputs
        length = inputs.shape[1]
        if length is None:
            length = keras.ops.shape(inputs)[1]
            start = (length - self.target_length) // 2
        else:
            start = self._trim(length)
        return inputs[:, start : start + self.target_length]

    def compute_output_shape(self, input_shape):
        if self.target_length is None:
            return tuple(input_shape)
        if input_shape[1] is not None:
            self._trim(input_shape[1])
        return (input_shape[0], self.target_length, *input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config.update(target_length=self.target_length)
        return config
