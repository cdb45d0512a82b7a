"""Element-wise training losses.

Every loss here returns one value per element, with NO reduction: the trainer
(`kipoi_genome.training.trainer`) multiplies by the sample weights and divides
by the sum of the weights over the GLOBAL batch (all replicas, all workers), so
the same code gives the same number on one device and on many.
"""

import tensorflow as tf

__all__ = [
    "poisson_nll",
    "masked_sparse_categorical_crossentropy",
    "mean_squared_error",
    "get_loss",
]


def poisson_nll(y_true, y_pred, epsilon=1e-7, full=False):
    """Poisson negative log-likelihood, element-wise.

    `y_pred - y_true * log(y_pred + epsilon)`: the loss Enformer was trained
    with (`tf.keras.losses.poisson` before its mean over the last axis). With
    `full=True` the term `log(y_true!)` (constant in the prediction) is added,
    which makes the value the exact negative log-probability.

    Args:
        y_true: float tensor. Observed counts, any shape, e.g. `(B, T, C)`.
        y_pred: float tensor of the same shape. Predicted rates (>= 0).
        epsilon: float. Added inside the logarithm. Defaults to `1e-7`.
        full: bool. Adds `lgamma(y_true + 1)`. Defaults to `False`.

    Returns:
        Float32 tensor with the shape of `y_true`.
    """
    if not epsilon >= 0:
        raise ValueError(f"`epsilon` must be >= 0. Received: epsilon={epsilon}")
    y_true = tf.cast(y_true, tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    loss = y_pred - y_true * tf.math.log(y_pred + epsilon)
    if full:
        loss = loss + tf.math.lgamma(y_true + 1.0)
    return loss


def masked_sparse_categorical_crossentropy(y_true, y_pred, from_logits=True):
    """Cross-entropy per position, for (masked) language-model targets.

    Positions to leave out are given zero weight by the caller (the sample
    weights of the batch); this function never reduces.

    Args:
        y_true: integer tensor `(B, L)`. Token ids.
        y_pred: float tensor `(B, L, V)`. Logits (or probabilities when
            `from_logits=False`).
        from_logits: bool. Defaults to `True`.

    Returns:
        Float32 tensor `(B, L)`.
    """
    y_pred = tf.cast(y_pred, tf.float32)
    labels = tf.cast(y_true, tf.int32)
    if from_logits:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
    log_p = tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0))
    return -tf.gather(log_p, labels, batch_dims=len(labels.shape))


def mean_squared_error(y_true, y_pred):
    """Squared error, element-wise: `(y_pred - y_true) ** 2` as float32."""
    return tf.math.squared_difference(tf.cast(y_pred, tf.float32), tf.cast(y_true, tf.float32))


_LOSSES = {
    "poisson": poisson_nll,
    "sparse_categorical_crossentropy": masked_sparse_categorical_crossentropy,
    "mse": mean_squared_error,
}


def get_loss(name):
    """Returns the element-wise loss function registered under `name`.

    Args:
        name: str. One of `"poisson"`, `"sparse_categorical_crossentropy"`,
            `"mse"`; or a callable, returned unchanged.

    Returns:
        Callable `(y_true, y_pred) -> per-element loss`.
    """
    if callable(name):
        return name
    if name not in _LOSSES:
        raise ValueError(f"Unknown loss. Expected one of {sorted(_LOSSES)}. Received: loss={name!r}")
    return _LOSSES[name]

