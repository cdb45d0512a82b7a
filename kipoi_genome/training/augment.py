"""Sequence augmentation for track training, as tensors (usable in tf.data).

Enformer was trained with random shifts of up to 3 bp and random reverse
complements; at evaluation, predictions are averaged over the same
transformations (test-time augmentation, `tta_predict`).

One-hot order is A, C, G, T, so the complement of a one-hot vector is the
reversed channel axis, and the reverse complement reverses both axes.
"""

import tensorflow as tf

__all__ = ["reverse_complement", "shift_sequence", "augment_batch", "tta_predict"]


def reverse_complement(one_hot):
    """Reverse complement of one-hot sequences `(B, L, 4)` (or `(L, 4)`)."""
    return tf.reverse(one_hot, axis=[-2, -1])


def shift_sequence(one_hot, shifts):
    """Shifts each sequence right by `shifts[b]` bp, filling with N (zeros).

    Args:
        one_hot: tensor `(B, L, 4)`.
        shifts: int tensor `(B,)` (or scalar); negative shifts move left.

    Returns:
        Tensor `(B, L, 4)`: `out[b, i] = one_hot[b, i - shifts[b]]`, zeros
        where `i - shifts[b]` falls outside the sequence.
    """
    length = tf.shape(one_hot)[1]
    shifts = tf.broadcast_to(tf.cast(shifts, tf.int32), tf.shape(one_hot)[:1])
    source = tf.range(length)[None, :] - shifts[:, None]  # (B, L)
    valid = tf.logical_and(source >= 0, source < length)
    gathered = tf.gather(one_hot, tf.clip_by_value(source, 0, length - 1), batch_dims=1)
    return gathered * tf.cast(valid, one_hot.dtype)[..., None]


def augment_batch(one_hot, targets, seed, max_shift=3, reverse_complement_prob=0.5):
    """Random shift and reverse complement of a batch, from a stateless seed.

    Args:
        one_hot: tensor `(B, L, 4)`.
        targets: tensor `(B, T, C)` (binned, strand-symmetric tracks).
        seed: int tensor of shape `(2,)`; equal seeds give equal results.
        max_shift: int >= 0. Shifts drawn uniformly from [-max_shift, max_shift].
        reverse_complement_prob: float in [0, 1].

    Returns:
        `(one_hot, targets)` augmented; reverse-complemented examples have
        their targets reversed along the bin axis; shifts (well below a bin)
        leave targets unchanged.
    """
    if max_shift < 0:
        raise ValueError(f"`max_shift` must be >= 0. Received: max_shift={max_shift}")
    if not 0.0 <= reverse_complement_prob <= 1.0:
        raise ValueError(
            "`reverse_complement_prob` must be in [0, 1]. "
            f"Received: reverse_complement_prob={reverse_complement_prob}"
        )
    seed = tf.cast(seed, tf.int64)
    batch = tf.shape(one_hot)[0]
    if max_shift:
        shifts = tf.random.stateless_uniform(
            [batch], seed, minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32
        )
        one_hot = shift_sequence(one_hot, shifts)
    flip = tf.random.stateless_uniform([batch], seed + 1) < reverse_complement_prob
    one_hot = tf.where(flip[:, None, None], reverse_complement(one_hot), one_hot)
    targets = tf.where(flip[:, None, None], tf.reverse(targets, axis=[1]), targets)
    return one_hot, targets


def tta_predict(model, one_hot, shifts=(0,), reverse_complement_too=True):
    """Predictions averaged over shifts and reverse complements.

    Args:
        model: callable `(B, L, 4) -> {head: (B, T, C)}` (or one tensor).
        one_hot: tensor `(B, L, 4)`.
        shifts: sequence of int. Shifts in bp (sub-bin, e.g. `(-1, 0, 1)`).
        reverse_complement_too: bool. Also average over the reverse
            complement (whose predictions are reversed back along bins).

    Returns:
        Same structure as the model output, float32, averaged over the
        `len(shifts) * (2 if reverse_complement_too else 1)` passes.
    """
    if not shifts:
        raise ValueError(f"`shifts` must not be empty. Received: shifts={shifts!r}")
    passes = []
    for shift in shifts:
        shifted = one_hot if shift == 0 else shift_sequence(one_hot, tf.constant(shift))
        passes.append(tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), model(shifted, training=False)))
        if reverse_complement_too:
            out = model(reverse_complement(shifted), training=False)
            passes.append(tf.nest.map_structure(lambda t: tf.reverse(tf.cast(t, tf.float32), axis=[1]), out))
    return tf.nest.map_structure(lambda *ts: tf.add_n(list(ts)) / float(len(ts)), *passes)
