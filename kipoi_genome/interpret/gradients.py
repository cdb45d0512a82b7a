"""Gradient x input contribution scores."""

import numpy as np
import tensorflow as tf

from kipoi_genome.interpret.recompute import enformer_input_gradient
from kipoi_genome.interpret.targets import output_scalar
from kipoi_genome.models import Enformer
from kipoi_genome.models.enformer.enformer import check_input_shape


def gradient_times_input(model, one_hot, head=None, tracks=None, bins=None):
    """Gradient of the selected output sum, times the input.

    For an `Enformer` the gradient is computed with activations recomputed
    piece by piece in the backward pass (`interpret.recompute`): the same
    numbers as a plain gradient tape, within a few GB for the published
    model.

    Args:
        model: Keras model taking one-hot `[B, L, 4]` (TensorFlow backend).
        one_hot: float array `[B, L, 4]`.
        head, tracks, bins: output selection (see `output_scalar`).

    Returns:
        array `[B, L, 4]` in the model's compute dtype; sum over the last axis
        for one score per base.
    """
    x = tf.convert_to_tensor(np.asarray(one_hot), dtype=model.compute_dtype)
    if x.shape.rank != 3:
        raise ValueError(f"`one_hot` must have shape [B, L, 4]. Received: shape {tuple(x.shape)}")
    if isinstance(model, Enformer):
        check_input_shape(x, model.sequence_length)
        return enformer_input_gradient(model, x, head, tracks, bins) * x.numpy()
    with tf.GradientTape() as tape:
        tape.watch(x)
        target = tf.reduce_sum(output_scalar(model(x, training=False), head, tracks, bins))
    return (tape.gradient(target, x) * x).numpy()
