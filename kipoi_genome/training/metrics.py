"""Per-track Pearson correlation that is exact across replicas and workers.

Each replica computes sufficient statistics of its part of the batch
(`pearson_sufficient_statistics`, summed over batch and positions); the trainer
sums them over replicas with `strategy.reduce(SUM, ...)`; `PearsonR`
accumulates the sums over batches in float64 on the host and turns them into a
correlation per track. Because only sums cross replica boundaries, the result
does not depend on how a batch was split, which averaging per-replica
correlations would.
"""

import numpy as np
import tensorflow as tf

__all__ = ["STATISTICS", "pearson_sufficient_statistics", "PearsonR", "pearson_r_numpy"]

# Names of the sufficient statistics, in the order of the stacked tensor.
STATISTICS = ("count", "sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy")


def pearson_sufficient_statistics(y_true, y_pred, sample_weight=None):
    """Sufficient statistics of a per-track Pearson correlation.

    Args:
        y_true: float tensor `(..., C)`, e.g. `(B, T, C)`. Observed tracks.
        y_pred: float tensor of the same shape. Predicted tracks.
        sample_weight: optional float tensor broadcastable to `y_true` (e.g.
            `(B, T, 1)`), 0 to leave a position out. Defaults to all ones.

    Returns:
        Float32 tensor `(6, C)`: `count, sum_x, sum_y, sum_xx, sum_yy, sum_xy`
        per track (x = target, y = prediction), summed over all leading axes.
    """
    x = tf.cast(y_true, tf.float32)
    y = tf.cast(y_pred, tf.float32)
    if x.shape.rank is not None and x.shape.rank < 1:
        raise ValueError(f"`y_true` must have a track axis. Received: shape={x.shape}")
    w = tf.ones_like(x) if sample_weight is None else tf.broadcast_to(
        tf.cast(sample_weight, tf.float32), tf.shape(x)
    )
    axes = tf.range(tf.rank(x) - 1)
    terms = [w, w * x, w * y, w * x * x, w * y * y, w * x * y]
    return tf.stack([tf.reduce_sum(t, axis=axes) for t in terms])


class PearsonR:
    """Streaming per-track Pearson R from summed sufficient statistics.

    Args:
        num_tracks: int or None. Checked against the statistics when given.

    Example:
        >>> metric = PearsonR()
        >>> metric.update_state(np.ones((6, 3)))  # usually from the trainer
        >>> metric.result().shape
        (3,)
    """

    def __init__(self, num_tracks=None):
        if num_tracks is not None and int(num_tracks) < 1:
            raise ValueError(f"`num_tracks` must be >= 1. Received: num_tracks={num_tracks}")
        self.num_tracks = num_tracks
        self.reset_state()

    def reset_state(self):
        """Forgets every batch seen so far."""
        self._sums = None

    def update_state(self, statistics):
        """Adds statistics `(6, C)` of one (global) batch."""
        statistics = np.asarray(statistics, dtype=np.float64)
        if statistics.ndim != 2 or statistics.shape[0] != len(STATISTICS):
            raise ValueError(
                f"`statistics` must have shape (6, C). Received: shape={statistics.shape}"
            )
        if self.num_tracks is not None and statistics.shape[1] != self.num_tracks:
            raise ValueError(
                f"Expected {self.num_tracks} tracks. Received: shape={statistics.shape}"
            )
        self._sums = statistics if self._sums is None else self._sums + statistics

    @property
    def count(self):
        """Number of (weighted) positions seen per track, `(C,)`."""
        return None if self._sums is None else self._sums[0]

    def result(self):
        """Pearson R per track, `(C,)` float64; NaN where a variance is 0."""
        if self._sums is None:
            raise ValueError("PearsonR.result() called before any update_state().")
        n, sx, sy, sxx, syy, sxy = self._sums
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sxy - sx * sy / n
            var_x = sxx - sx * sx / n
            var_y = syy - sy * sy / n
            return cov / np.sqrt(var_x * var_y)


def pearson_r_numpy(y_true, y_pred):
    """Reference per-track Pearson R over all leading axes, with NumPy.

    Args:
        y_true: array `(..., C)`.
        y_pred: array of the same shape.

    Returns:
        Float64 array `(C,)`.
    """
    x = np.asarray(y_true, np.float64).reshape(-1, np.shape(y_true)[-1])
    y = np.asarray(y_pred, np.float64).reshape(-1, np.shape(y_pred)[-1])
    x = x - x.mean(0)
    y = y - y.mean(0)
    return (x * y).sum(0) / np.sqrt((x * x).sum(0) * (y * y).sum(0))
