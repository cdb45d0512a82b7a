"""Evaluation metrics: per-track Pearson R, token accuracies, binary classification.

Per-track Pearson correlation that is exact across replicas and workers:

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

import itertools

import numpy as np
import tensorflow as tf

__all__ = [
    "STATISTICS",
    "pearson_statistics",
    "PearsonR",
    "SparseAccuracy",
    "KmerAccuracy",
    "pearson_r_numpy",
    "auroc",
    "average_precision",
    "binary_metrics",
    "acgt_kmer_ids",
    "evaluate_masked_lm",
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
        return _weighted_hits(tf.equal(tf.argmax(y_pred, axis=-1), tf.cast(y_true, tf.int64)), sample_weight)

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


class KmerAccuracy(SparseAccuracy):
    """Masked-token accuracy with the prediction restricted to a set of ids.

    The prediction is the argmax of the logits over `candidate_ids` only
    (e.g. the `4**k` k-mers made of A, C, G, T, as a Markov chain over bases
    predicts), so special tokens and k-mers with N never win. Statistics and
    merging as `SparseAccuracy`.

    Args:
        candidate_ids: 1-D int array of the token ids allowed as predictions.
    """

    def __init__(self, candidate_ids):
        self.candidate_ids = np.asarray(candidate_ids, np.int64)
        if self.candidate_ids.ndim != 1 or not len(self.candidate_ids):
            raise ValueError(f"`candidate_ids` must be a non-empty 1-D array. Received: shape={self.candidate_ids.shape}")
        super().__init__()

    def statistics(self, y_true, y_pred, sample_weight=None):
        """`(2,)` float32: weighted correct count and weight sum (see `SparseAccuracy`)."""
        ids = tf.constant(self.candidate_ids)
        restricted = tf.gather(y_pred, ids, axis=-1)
        predicted = tf.gather(ids, tf.argmax(restricted, axis=-1))
        return _weighted_hits(tf.equal(predicted, tf.cast(y_true, tf.int64)), sample_weight)


def _weighted_hits(correct, sample_weight):
    """`[sum(w * correct), sum(w)]` of a boolean tensor and optional weights."""
    correct = tf.cast(correct, tf.float32)
    w = tf.ones_like(correct) if sample_weight is None else tf.broadcast_to(
        tf.cast(sample_weight, tf.float32), tf.shape(correct)
    )
    return tf.stack([tf.reduce_sum(w * correct), tf.reduce_sum(w)])


# ----------------------------------------------------------------------------
# Binary classification (NumPy, on whole prediction vectors)
# ----------------------------------------------------------------------------


def auroc(labels, scores):
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    ranks = rankdata(np.asarray(scores, np.float64))
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels, scores):
    """Area under the precision-recall curve as average precision (step-wise)."""
    labels = np.asarray(labels).astype(bool)
    if not labels.any():  # no positives (or no rows, e.g. an absent test split): undefined, as auroc
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    scores_sorted = np.asarray(scores, np.float64)[order]
    hits = labels[order]
    # Group ties: precision/recall evaluated at distinct thresholds.
    distinct = np.r_[np.flatnonzero(np.diff(scores_sorted)), len(hits) - 1]
    true_positives = np.cumsum(hits)[distinct]
    predicted = distinct + 1
    precision = true_positives / predicted
    recall = true_positives / max(hits.sum(), 1)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def binary_metrics(labels, probabilities, threshold=0.5):
    """AUROC, AUPRC, F1 (at `threshold`), accuracy and counts."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(probabilities) >= threshold
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return {
        "auroc": auroc(labels, probabilities),
        "auprc": average_precision(labels, probabilities),
        "f1": float(f1),
        "accuracy": float((predicted == labels).mean()),
        "n_positive": int(labels.sum()),
        "n_negative": int((~labels).sum()),
    }


# ----------------------------------------------------------------------------
# Masked language models (NumPy driver over the metric objects above)
# ----------------------------------------------------------------------------


def acgt_kmer_ids(tokenizer):
    """Ids of the `4**k` k-mers made of A, C, G, T only, and the k-mers.

    Args:
        tokenizer: `KmerTokenizer`.

    Returns:
        `(ids int array [4**k], list of k-mer strings)`, in ACGT order.
    """
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=tokenizer.k)]
    return np.array([tokenizer.token_to_id(s) for s in kmers]), kmers


def evaluate_masked_lm(model, masked_set, tokenizer, batch_size=64):
    """Masked-token accuracy and perplexity of a `LogoMaskedLM` on a masked set.

    Args:
        model: `LogoMaskedLM` (logits `[N, P, V]` at `mask_positions`).
        masked_set: `training.logo_tasks.MaskedSet` (features, labels and
            weights `[N, P]`).
        tokenizer: `KmerTokenizer` of the model.
        batch_size: int.

    Returns:
        dict: `accuracy` (`KmerAccuracy`: argmax over the `4**k` ACGT
        k-mers, as the Markov baseline), `accuracy_full_vocabulary`
        (`SparseAccuracy`), `perplexity` (full softmax) and `num_masked`.
    """
    logits = model.predict(masked_set.features, batch_size=batch_size, verbose=0)
    results = {}
    for name, metric in (("accuracy", KmerAccuracy(acgt_kmer_ids(tokenizer)[0])),
                         ("accuracy_full_vocabulary", SparseAccuracy())):
        metric.update_state(metric.statistics(masked_set.labels, logits, masked_set.weights).numpy())
        results[name] = metric.result()
    selected = masked_set.weights > 0
    labels = masked_set.labels[selected]
    selected_logits = logits[selected].astype(np.float64)  # [M, V]
    top = selected_logits.max(axis=-1, keepdims=True)
    log_probs = selected_logits - (top + np.log(np.exp(selected_logits - top).sum(axis=-1, keepdims=True)))
    nll = -log_probs[np.arange(len(labels)), labels]
    results["perplexity"] = float(np.exp(nll.mean()))
    results["num_masked"] = int(len(labels))
    return results
