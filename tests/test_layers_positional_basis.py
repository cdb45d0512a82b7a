"""Positional basis functions against independent float64 references."""

import math

import numpy as np
import pytest
from scipy import stats

from kipoi_genome.layers import positional_basis as pb


def reference_exponential(d, n, T):
    half_lives = [2.0 ** (3 + k * (math.log2(T) - 3) / (n - 1)) for k in range(n)]
    return np.array([[0.5 ** (abs(x) / h) for h in half_lives] for x in d])


def reference_central_mask(d, n):
    return np.array([[1.0 if 2**k - 1 > abs(x) else 0.0 for k in range(1, n + 1)] for x in d])


def reference_gamma(d, n, T):
    sd = T / (2 * n)
    out = np.zeros((len(d), n))
    for k in range(n):
        mean = T / n + k * (T - T / n) / (n - 1)
        shape, rate = (mean / sd) ** 2, mean / sd**2
        pdf = stats.gamma(a=shape, scale=1 / rate).pdf(np.abs(np.asarray(d, float)))
        out[:, k] = pdf + 1e-8
    return out / out.max(axis=0, keepdims=True)


@pytest.mark.parametrize("T", [7, 100, 1536, 2048])
def test_functions_match_reference(T):
    d = np.arange(-T + 1, T)
    n = 32
    np.testing.assert_allclose(pb.exponential(d, n, T), reference_exponential(d, n, T), rtol=1e-12)
    np.testing.assert_array_equal(pb.central_mask(d, n, T), reference_central_mask(d, n))
    np.testing.assert_allclose(pb.gamma(d, n, T), reference_gamma(d, n, T), rtol=1e-9, atol=1e-15)


def test_full_table_layout_at_enformer_length():
    T, F = 1536, 192
    table = pb.relative_positional_table(T, F)
    assert table.shape == (2 * T - 1, F)
    assert table.dtype == np.float64
    d = np.arange(-T + 1, T)
    sym = np.concatenate(
        [reference_exponential(d, 32, T), reference_central_mask(d, 32), reference_gamma(d, 32, T)], 1
    )
    np.testing.assert_allclose(table[:, :96], sym, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(table[:, 96:], np.sign(d)[:, None] * sym, rtol=1e-9, atol=1e-15)
    # Half-lives run from 8 to T: at |d| = 8 the first feature is exactly 1/2.
    assert table[T - 1 + 8, 0] == pytest.approx(0.5, abs=1e-15)
    assert table[T - 1 + 1535, 31] == pytest.approx(0.5 ** (1535 / 1536), abs=1e-15)
    # Central mask features k >= 11 are constant 1 at this length.
    assert (table[:, 32 + 10 : 64] == 1).all()
    # Per-feature (not global) normalisation: every gamma feature peaks at 1.
    np.testing.assert_allclose(table[:, 64:96].max(axis=0), 1.0, rtol=1e-12)
    # xlogy(a, 0) = -inf: the gamma features at distance 0 are ~1e-8, not the pdf limit.
    assert (table[T - 1, 64:96] < 1e-6).all()
    # sign(0) = 0.
    assert (table[T - 1, 96:] == 0).all()


def test_basis_length_decouples_parameters_from_distances():
    table = pb.relative_positional_table(100, 12, basis_length=1536)
    d = np.arange(-99, 100)
    np.testing.assert_allclose(table[:, :2], reference_exponential(d, 2, 1536), rtol=1e-12)


def test_symmetric_has_no_sign_half():
    table = pb.relative_positional_table(10, 6, symmetric=True)
    assert table.shape == (19, 6)
    np.testing.assert_array_equal(table, table[::-1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"feature_size": 100}, "divisible by the number of basis components"),
        ({"feature_size": 12, "functions": ("cosine",)}, "cosine"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pb.positional_features(np.arange(-3, 4), seq_length=4, **kwargs)
