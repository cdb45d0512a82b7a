"""Losses, metrics and schedules of `kipoi_genome.training` against NumPy references."""

import numpy as np
import pytest
from scipy import stats

from kipoi_genome.training import losses, metrics, schedules


def test_poisson_nll_matches_numpy():
    rng = np.random.default_rng(0)
    y_true = rng.poisson(3.0, size=(2, 8, 5)).astype("float32")
    y_pred = rng.uniform(0.1, 6.0, size=(2, 8, 5)).astype("float32")
    got = losses.poisson_nll(y_true, y_pred).numpy()
    expected = y_pred - y_true * np.log(y_pred + 1e-7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    full = losses.poisson_nll(y_true, y_pred, full=True).numpy()
    np.testing.assert_allclose(full, -stats.poisson.logpmf(y_true, y_pred), rtol=1e-4, atol=1e-4)


def test_poisson_nll_rejects_negative_epsilon():
    with pytest.raises(ValueError, match="epsilon=-1"):
        losses.poisson_nll(np.ones(2), np.ones(2), epsilon=-1)


def test_sparse_crossentropy_matches_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 6, 7)).astype("float32")
    labels = rng.integers(0, 7, size=(2, 6))
    got = losses.masked_sparse_categorical_crossentropy(labels, logits).numpy()
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_get_loss_unknown_name():
    with pytest.raises(ValueError, match="loss='nope'"):
        losses.get_loss("nope")


def test_pearson_r_matches_numpy_streaming_and_split():
    rng = np.random.default_rng(2)
    y_true = rng.normal(size=(6, 16, 3))
    y_pred = y_true * [1.0, -0.5, 0.0] + rng.normal(size=(6, 16, 3))
    metric = metrics.PearsonR(num_tracks=3)
    # Uneven pieces, as from replicas and batches: sums make the split irrelevant.
    for start, stop in [(0, 1), (1, 4), (4, 6)]:
        metric.update_state(metrics.pearson_statistics(y_true[start:stop], y_pred[start:stop]))
    expected = [stats.pearsonr(y_true[..., c].ravel(), y_pred[..., c].ravel())[0] for c in range(3)]
    np.testing.assert_allclose(metric.result(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics.pearson_r_numpy(y_true, y_pred), expected, rtol=1e-10)


def test_pearson_r_sample_weight_drops_positions():
    rng = np.random.default_rng(3)
    y_true = rng.normal(size=(4, 10, 2))
    y_pred = rng.normal(size=(4, 10, 2))
    weight = np.zeros((4, 10, 1))
    weight[:, :5] = 1.0
    metric = metrics.PearsonR()
    metric.update_state(metrics.pearson_statistics(y_true, y_pred, weight))
    expected = metrics.pearson_r_numpy(y_true[:, :5], y_pred[:, :5])
    np.testing.assert_allclose(metric.result(), expected, rtol=1e-5)


def test_pearson_r_stacked_replicas_and_near_constant_predictions():
    rng = np.random.default_rng(4)
    y_true = rng.poisson(4.0, size=(8, 16, 2)).astype("float32")
    # Predictions that barely vary around a large offset: raw float32 sums of
    # squares would cancel; centred statistics stay exact.
    y_pred = (100.0 + 1e-3 * y_true + 1e-3 * rng.normal(size=y_true.shape)).astype("float32")
    stacked = np.stack(
        [metrics.pearson_statistics(y_true[i : i + 2], y_pred[i : i + 2]) for i in range(0, 8, 2)]
    )
    metric = metrics.PearsonR()
    metric.update_state(stacked)  # (R, 6, C), as gathered from replicas
    np.testing.assert_allclose(metric.result(), metrics.pearson_r_numpy(y_true, y_pred), rtol=2e-3)


def test_sparse_accuracy():
    labels = np.array([[0, 1, 2, 3]])
    logits = np.eye(4)[[[0, 1, 0, 0]]]
    weight = np.array([[1.0, 1.0, 1.0, 0.0]])
    metric = metrics.SparseAccuracy()
    metric.update_state(metrics.SparseAccuracy.statistics(labels, logits, weight)[None])
    assert metric.result() == pytest.approx(2 / 3)


def test_pearson_r_validation():
    with pytest.raises(ValueError, match="shape=\\(5, 2\\)"):
        metrics.PearsonR().update_state(np.ones((5, 2)))
    with pytest.raises(ValueError, match="before any update_state"):
        metrics.PearsonR().result()


def test_linear_warmup():
    schedule = schedules.LinearWarmup(5e-4, warmup_steps=5000)
    np.testing.assert_allclose(
        [float(schedule(s)) for s in (0, 2500, 5000, 9000)], [0.0, 2.5e-4, 5e-4, 5e-4], rtol=1e-6
    )
    assert float(schedules.LinearWarmup(1e-3, 0)(0)) == pytest.approx(1e-3)
    restored = schedules.LinearWarmup.from_config(schedule.get_config())
    assert float(restored(1000)) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="warmup_steps=-1"):
        schedules.LinearWarmup(1e-3, -1)
