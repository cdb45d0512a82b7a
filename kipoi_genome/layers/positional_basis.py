"""Relative positional basis functions of Enformer, in float64 NumPy.

Each function maps relative distances to basis features, following the
post-2022-05 official code (google-deepmind/deepmind-research,
enformer/attention_module.py). The tables are computed in float64 because the
gamma log-density subtracts terms of magnitude ~2.6e4, where float32 loses
about 1e-3 relative accuracy. Layers convert the finished table to their
compute dtype once.

All functions take `positions`, a 1-D integer array of signed distances, and
return an array of shape `[len(positions), feature_size]`.
"""

import math

import numpy as np
from scipy import special

MIN_HALF_LIFE_LOG2 = 3.0  # shortest half-life 2**3 = 8 tokens


def _check_feature_size(name, feature_size):
    if not isinstance(feature_size, (int, np.integer)) or feature_size <= 0:
        raise ValueError(
            f"`{name}` needs a positive integer `feature_size`. "
            f"Received: feature_size={feature_size!r}"
        )


def exponential(positions, feature_size, seq_length):
    """Exponentially decaying features, `2 ** (-|d| / half_life_k)`.

    Half-lives are `2 ** linspace(3, log2(seq_length), feature_size)`, i.e.
    8 .. T (the official code passes `min_half_life=3.0` as the log2 start).

    Args:
        positions: int array `[P]` of relative distances.
        feature_size: number of basis functions n.
        seq_length: token count T; sets the longest half-life.

    Returns:
        float64 array `[P, n]`.
    """
    _check_feature_size("exponential", feature_size)
    abs_pos = np.abs(np.asarray(positions, dtype=np.float64))[:, None]
    max_range = math.log(seq_length) / math.log(2.0)
    half_life = np.power(
        2.0, np.linspace(MIN_HALF_LIFE_LOG2, max_range, feature_size)
    )[None, :]
    return np.exp(-math.log(2.0) / half_life * abs_pos)


def central_mask(positions, feature_size, seq_length=None):
    """Box features, `1 if 2 ** k - 1 > |d| else 0` for k = 1..n.

    Does not depend on the sequence length (`seq_length` is accepted for a
    uniform signature).

    Returns:
        float64 array `[P, n]`.
    """
    del seq_length
    _check_feature_size("central_mask", feature_size)
    abs_pos = np.abs(np.asarray(positions, dtype=np.float64))[:, None]
    widths = np.power(2.0, np.arange(1, feature_size + 1, dtype=np.float64)) - 1.0
    return (widths[None, :] > abs_pos).astype(np.float64)


def _gamma_pdf(x, concentration, rate):
    # xlogy(a, 0) = -inf for a != 0 (TF/SciPy semantics), so pdf(0) = 0.
    log_unnormalized = special.xlogy(concentration - 1.0, x) - rate * x
    log_normalization = special.gammaln(concentration) - concentration * np.log(rate)
    return np.exp(log_unnormalized - log_normalization)


def gamma(positions, feature_size, seq_length):
    """Gamma-density features normalised by their per-feature maximum.

    Means are `linspace(T / n, T, n)` with standard deviation `T / (2 n)`;
    each feature is divided by its own maximum over `positions` (the
    post-2022-05 official form, not the global maximum).

    Returns:
        float64 array `[P, n]`.
    """
    _check_feature_size("gamma", feature_size)
    abs_pos = np.abs(np.asarray(positions, dtype=np.float64))[:, None]
    stddev = seq_length / (2.0 * feature_size)
    mean = np.linspace(seq_length / feature_size, seq_length, feature_size)[None, :]
    concentration = (mean / stddev) ** 2
    rate = mean / stddev**2
    probabilities = _gamma_pdf(abs_pos, concentration, rate) + 1e-8
    return probabilities / np.max(probabilities, axis=0, keepdims=True)


BASIS_FUNCTIONS = {
    "exponential": exponential,
    "central_mask": central_mask,
    "gamma": gamma,
}


def positional_features(
    positions,
    feature_size,
    seq_length,
    functions=("exponential", "central_mask", "gamma"),
    symmetric=False,
):
    """Concatenated basis features for relative distances.

    With `symmetric=False` the table is `[f_1 .. f_m | sign(d) * (f_1 .. f_m)]`,
    so each function contributes `feature_size / (2 m)` features;
    `sign(0) = 0`.

    Args:
        positions: int array `[P]` of relative distances.
        feature_size: total number of features F.
        seq_length: token count T used by the length-dependent functions.
        functions: names from `BASIS_FUNCTIONS`.
        symmetric: whether to leave out the sign-multiplied half.

    Returns:
        float64 array `[P, F]`.
    """
    unknown = [f for f in functions if f not in BASIS_FUNCTIONS]
    if unknown or not functions:
        raise ValueError(
            f"`functions` must be a non-empty subset of {sorted(BASIS_FUNCTIONS)}. "
            f"Received: functions={functions!r}"
        )
    num_components = len(functions) * (1 if symmetric else 2)
    if feature_size % num_components:
        raise ValueError(
            f"`feature_size` must be divisible by the number of basis components "
            f"({num_components}). Received: feature_size={feature_size}"
        )
    num_basis = feature_size // num_components
    positions = np.asarray(positions)
    embeddings = np.concatenate(
        [BASIS_FUNCTIONS[f](positions, num_basis, seq_length) for f in functions],
        axis=-1,
    )
    if not symmetric:
        signs = np.sign(positions).astype(np.float64)[:, None]
        embeddings = np.concatenate([embeddings, signs * embeddings], axis=-1)
    return embeddings


def relative_positional_table(seq_length, feature_size, basis_length=None, **kwargs):
    """Table for all distances `-(T-1) .. T-1` of a length-T sequence.

    Args:
        seq_length: token count T of the attended sequence.
        feature_size: total number of features F.
        basis_length: length that parameterises the basis (half-lives, gamma
            means); defaults to T. Set it to the training length to run a
            trained model at another length with the same basis.
        **kwargs: `functions` and `symmetric`, see `positional_features`.

    Returns:
        float64 array `[2T - 1, F]`.
    """
    distances = np.arange(-seq_length + 1, seq_length)
    return positional_features(
        distances, feature_size, basis_length or seq_length, **kwargs
    )
