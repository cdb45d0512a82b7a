"""Gradient x input contribution scores."""

import numpy as np
import tensorflow as tf

from kipoi_genome.interpret.targets import output_scalar


def gradient_times_input(model, one_hot, head=None, tracks=None, bins=None):
    """Gradient of the selected output sum, times the input.

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
    with tf.GradientTape() as tape:
        tape.watch(x)
        target = tf.reduce_sum(output_scalar(model(x, training=False), head, tracks, bins))
    return (tape.gradient(target, x) * x).numpy()
