"""Per-track Pearson correlation that is exact across replicas and workers.

Each replica computes statistics of its share of the batch, centred on its
own means (`pearson_statistics`: count, means, sums of squared deviations and
co-deviations per track); the trainer gathers them from all replicas and
workers; `PearsonR` merges them in float64 on the host with the parallel
update of Chan et al. (1979). Only the pooled statistics define the result, so
it does not depend on how a batch was split across replicas (averaging
per-replica correlations would), and centring avoids the float32 cancellation
of raw sums of squares when predictions barely vary.

Metric protocol used by the trainer (`task.Task.eval_metrics`):
`statistics(y_true, y_pred, sample_weight) -> tensor` per replica;
`update_state(stacked)` with the statistics of all replicas stacked on a new
leading axis (or a single one without it); `result()`; `reset_state()`.
"""

import numpy as np
import tensorflow as tf

__all__ = [
    "STATISTICS",
    "pearson_statistics",
    "PearsonR",
    "SparseAccuracy",
    "pearson_r_numpy",
]

# Names of the statistics, in the order of the stacked tensor.
STATISTICS = ("count", "mean_x", "mean_y", "m2_x", "m2_y", "c_xy")


def pearson_statistics(y_true, y_pred, sample_weight=None):
    """Centred statistics of a per-track Pearson correlation.

    Args:
        y_true: float tensor `(..., C)`, e.g. `(B, T, C)`. Observed tracks (x).
        y_pred: float tensor of the same shape. Predictions (y).
        sample_weight: optional float tensor broadcastable to `y_true` (e.g.
            `(B, T, 1)`), 0 to leave a position out. Defaults to all ones.

    Returns:
        Float32 tensor `(6, C)`: weight sum `n`, weighted means of x and y,
        `sum w (x - mean_x)^2`, `sum w (y - mean_y)^2` and
        `sum w (x - mean_x)(y - mean_y)` per track, over all leading axes.
        Zero weight gives zeros.
    """
    x = tf.cast(y_true, tf.float32)
    y = tf.cast(y_pred, tf.float32)
    if x.shape.rank is not None and x.shape.rank < 1:
        raise ValueError(f"`y_true` must have a track axis. Received: shape={x.shape}")
    w = tf.ones_like(x) if sample_weight is None else tf.broadcast_to(
        tf.cast(sample_weight, tf.float32), tf.shape(x)
    )
    axes = tf.range(tf.rank(x) - 1)
    n = tf.reduce_sum(w, axis=axes)
    mean_x = tf.math.divide_no_nan(tf.reduce_sum(w * x, axis=axes), n)
    mean_y = tf.math.divide_no_nan(tf.reduce_sum(w * y, axis=axes), n)
    dx = x - mean_x
    dy = y - mean_y
    return tf.stack(
        [
            n,
            mean_x,
            mean_y,
            tf.reduce_sum(w * dx * dx, axis=axes),
            tf.reduce_sum(w * dy * dy, axis=axes),
            tf.reduce_sum(w * dx * dy, axis=axes),
        ]
    )


def _merge(a, b):
    """Chan et al. merge of two `(6, C)` float64 statistics."""
    n_a, mx_a, my_a, sxx_a, syy_a, sxy_a = a
    n_b, mx_b, my_b, sxx_b, syy_b, sxy_b = b
    n = n_a + n_b
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(n > 0, n_b / np.where(n > 0, n, 1.0), 0.0)
    dmx = mx_b - mx_a
    dmy = my_b - my_a
    cross = n_a * frac  # n_a * n_b / n
    return np.stack(
        [
            n,
            mx_a + dmx * frac,
            my_a + dmy * frac,
            sxx_a + sxx_b + dmx * dmx * cross,
            syy_a + syy_b + dmy * dmy * cross,
            sxy_a + sxy_b + dmx * dmy * cross,
        ]
    )


class PearsonR:
    """Streaming per-track Pearson R from merged centred statistics.

    Args:
        num_tracks: int or None. Checked against the statistics when given.

    Example:
        >>> y = np.arange(12.0).reshape(2, 2, 3)
        >>> metric = PearsonR()
        >>> metric.update_state(pearson_statistics(y, 2 * y + 1))
        >>> metric.result().round(6).tolist()
        [1.0, 1.0, 1.0]
    """

    def __init__(self, num_tracks=None):
        if num_tracks is not None and int(num_tracks) < 1:
            raise ValueError(f"`num_tracks` must be >= 1. Received: num_tracks={num_tracks}")
        self.num_tracks = num_tracks
        self.reset_state()

    def reset_state(self):
        """Forgets every batch seen so far."""
        self._state = None

    @staticmethod
    def statistics(y_true, y_pred, sample_weight=None):
        """Per-replica statistics `(6, C)`; see `pearson_statistics`."""
        return pearson_statistics(y_true, y_pred, sample_weight)

    def update_state(self, statistics):
        """Merges statistics `(6, C)`, or `(R, 6, C)` stacked over replicas."""
        statistics = np.asarray(statistics, dtype=np.float64)
        shape = statistics.shape
        if statistics.ndim == 2:
            statistics = statistics[None]
        if statistics.ndim != 3 or statistics.shape[1] != len(STATISTICS):
            raise ValueError(
                f"`statistics` must have shape (6, C) or (R, 6, C). Received: shape={shape}"
            )
        if self.num_tracks is not None and statistics.shape[2] != self.num_tracks:
            raise ValueError(
                f"Expected {self.num_tracks} tracks. Received: shape={statistics.shape}"
            )
        for part in statistics:
            self._state = part if self._state is None else _merge(self._state, part)

    @property
    def count(self):
        """Total weight (number of positions) seen per track, `(C,)`."""
        return None if self._state is None else self._state[0]

    def result(self):
        """Pearson R per track, `(C,)` float64; NaN where a variance is 0."""
        if self._state is None:
            raise ValueError("PearsonR.result() called before any update_state().")
        _, _, _, sxx, syy, sxy = self._state
        with np.errstate(invalid="ignore", divide="ignore"):
            return sxy / np.sqrt(sxx * syy)


class SparseAccuracy:
    """Weighted accuracy of argmax predictions (e.g. masked-LM tokens).

    Statistics are `[sum(w * correct), sum(w)]`, added over replicas and
    batches; `result()` is their ratio.
    """

    def __init__(self):
        self.reset_state()

    def reset_state(self):
        """Forgets every batch seen so far."""
        self._sums = np.zeros(2)

    @staticmethod
    def statistics(y_true, y_pred, sample_weight=None):
        """`(2,)` float32: weighted correct count and weight sum.

        Args:
            y_true: integer tensor `(B, ...)`.
            y_pred: float tensor `(B, ..., V)` of logits or probabilities.
            sample_weight: optional tensor broadcastable to `y_true`.
        """
        labels = tf.cast(y_true, tf.int64)
        correct = tf.cast(tf.equal(tf.argmax(y_pred, axis=-1), labels), tf.float32)
        w = tf.ones_like(correct) if sample_weight is None else tf.broadcast_to(
            tf.cast(sample_weight, tf.float32), tf.shape(correct)
        )
        return tf.stack([tf.reduce_sum(w * correct), tf.reduce_sum(w)])

    def update_state(self, statistics):
        """Adds statistics `(2,)`, or `(R, 2)` stacked over replicas."""
        statistics = np.asarray(statistics, dtype=np.float64)
        if statistics.shape[-1:] != (2,) or statistics.ndim > 2:
            raise ValueError(
                f"`statistics` must have shape (2,) or (R, 2). Received: shape={statistics.shape}"
            )
        self._sums = self._sums + statistics.reshape(-1, 2).sum(0)

    def result(self):
        """Accuracy as a float (NaN before any weight)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(self._sums[0] / self._sums[1])


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
