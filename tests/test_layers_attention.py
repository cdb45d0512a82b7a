"""AttentionPool1D, relative_shift and RelativeMultiHeadAttention vs NumPy float64."""

import numpy as np
import pytest

from kipoi_genome.layers import AttentionPool1D, RelativeMultiHeadAttention, relative_shift
from kipoi_genome.layers import positional_basis
from tests.layer_checks import assert_config_round_trip, assert_keras_round_trip

RNG = np.random.default_rng(0)


def numpy_attention_pool(x, w, pool):
    b, length, c = x.shape
    windows = x.reshape(b, length // pool, pool, c).astype(np.float64)
    logits = windows @ w.astype(np.float64)
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    return (windows * weights).sum(axis=2)


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("scale", [1.0, 40.0])  # 40: saturated weights (near max pooling)
@pytest.mark.parametrize("pool_size", [2, 3])
def test_attention_pool_matches_numpy(pool_size, scale, per_channel):
    x = RNG.normal(size=(2, 12, 5)).astype("float32")
    layer = AttentionPool1D(pool_size=pool_size, per_channel=per_channel)
    layer.build(x.shape)
    w = (scale * RNG.normal(size=(5, 5 if per_channel else 1))).astype("float32")
    layer.logit_dense.kernel.assign(w)
    out = np.asarray(layer(x))
    assert out.shape == (2, 12 // pool_size, 5)
    assert layer.compute_output_shape(x.shape) == (2, 12 // pool_size, 5)
    np.testing.assert_allclose(out, numpy_attention_pool(x, w, pool_size), rtol=1e-5, atol=1e-6)


def test_attention_pool_initial_weights_and_semantics():
    layer = AttentionPool1D()
    x = RNG.normal(size=(1, 4, 3)).astype("float32")
    layer.build(x.shape)
    np.testing.assert_array_equal(np.asarray(layer.logit_dense.kernel), 2 * np.eye(3))
    # Scale 0 is average pooling.
    avg = AttentionPool1D(w_init_scale=0.0)
    np.testing.assert_allclose(np.asarray(avg(x)), x.reshape(1, 2, 2, 3).mean(2), rtol=1e-6)


def test_attention_pool_serialization(tmp_path):
    layer = AttentionPool1D(pool_size=2, per_channel=False, w_init_scale=1.5, name="pool")
    assert_config_round_trip(layer)
    assert_keras_round_trip(layer, RNG.normal(size=(2, 8, 4)).astype("float32"), tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pool_size": 0}, "pool_size=0"),
        ({"pool_size": 2.5}, "pool_size=2.5"),
        ({"w_init_scale": "big"}, "w_init_scale='big'"),
    ],
)
def test_attention_pool_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttentionPool1D(**kwargs)


def test_attention_pool_rejects_odd_length():
    with pytest.raises(ValueError, match="length=7"):
        AttentionPool1D()(np.zeros((1, 7, 2), "float32"))


@pytest.mark.parametrize("T", [1, 4, 9])
def test_relative_shift_matches_gather(T):
    x = RNG.normal(size=(2, 3, T, 2 * T - 1)).astype("float32")
    i, j = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    expected = x[..., i, j - i + T - 1]
    np.testing.assert_array_equal(np.asarray(relative_shift(x)), expected)


def numpy_relative_attention(layer, x):
    """Float64 forward of RelativeMultiHeadAttention from its weights, by distance."""
    x = x.astype(np.float64)
    b, T, _ = x.shape
    H, K = layer.num_heads, layer.key_size
    get = lambda v: np.asarray(v).astype(np.float64)  # noqa: E731
    q = (x @ get(layer.query_dense.kernel)).reshape(b, T, H, K) * K**-0.5
    k = (x @ get(layer.key_dense.kernel)).reshape(b, T, H, K)
    V = get(layer.value_dense.kernel).shape[1] // H
    v = (x @ get(layer.value_dense.kernel)).reshape(b, T, H, V)
    table = positional_basis.relative_positional_table(T, layer._num_features)
    r = (table @ get(layer.relative_key_dense.kernel)).reshape(2 * T - 1, H, K)
    u, w = get(layer.r_w_bias), get(layer.r_r_bias)
    logits = np.zeros((b, H, T, T))
    for i in range(T):
        for j in range(T):
            logits[:, :, i, j] = ((q[:, i] + u) * k[:, j]).sum(-1) + (
                (q[:, i] + w) * r[j - i + T - 1]
            ).sum(-1)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = np.einsum("bhij,bjhv->bihv", weights, v).reshape(b, T, H * V)
    return out @ get(layer.output_dense.kernel) + get(layer.output_dense.bias), weights


def test_relative_attention_matches_numpy():
    x = RNG.normal(size=(2, 7, 24)).astype("float32")
    layer = RelativeMultiHeadAttention(num_heads=2, key_size=4, zero_initialize=False)
    layer.build(x.shape)
    for weight in (layer.r_w_bias, layer.r_r_bias, layer.output_dense.bias):
        weight.assign(RNG.normal(size=weight.shape).astype("float32"))
    out, scores = layer(x, return_attention_scores=True)
    expected, expected_scores = numpy_relative_attention(layer, x)
    assert out.shape == (2, 7, 24)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(scores), expected_scores, rtol=1e-4, atol=1e-6)


def test_relative_attention_weights_and_initialisation():
    layer = RelativeMultiHeadAttention(num_heads=2, key_size=4)
    layer.build((None, 5, 24))
    shapes = {w.path.split("/")[-2] + "/" + w.name: tuple(w.shape) for w in layer.weights}
    assert shapes["query/kernel"] == (24, 8)
    assert shapes["value/kernel"] == (24, 24)
    assert shapes["relative_key/kernel"] == (12, 8)  # 12 = 24 / 2 heads, 6 components
    assert tuple(layer.r_w_bias.shape) == (2, 4)
    # Zero-initialised output projection: the attention residual starts as identity.
    assert not np.asarray(layer.output_dense.kernel).any()
    assert layer(np.ones((1, 5, 24), "float32")).shape == (1, 5, 24)


def test_relative_attention_dropout_only_in_training():
    x = RNG.normal(size=(1, 6, 12)).astype("float32")
    layer = RelativeMultiHeadAttention(
        num_heads=1, key_size=3, attention_dropout=0.5, zero_initialize=False, seed=1
    )
    a, b = layer(x, training=False), layer(x, training=False)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(layer(x, training=True)), np.asarray(a))


def test_relative_attention_serialization(tmp_path):
    layer = RelativeMultiHeadAttention(
        num_heads=2,
        key_size=4,
        positional_basis_length=16,
        attention_dropout=0.1,
        zero_initialize=False,
        name="mha",
    )
    assert_config_round_trip(layer)
    assert_keras_round_trip(layer, RNG.normal(size=(2, 6, 24)).astype("float32"), tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_heads": 0, "key_size": 4}, "num_heads=0"),
        ({"num_heads": 2, "key_size": -1}, "key_size=-1"),
        ({"num_heads": 2, "key_size": 4, "attention_dropout": 1.5}, "attention_dropout=1.5"),
        ({"num_heads": 2, "key_size": 4, "num_relative_position_features": 10}, "=10"),
        ({"num_heads": 2, "key_size": 4, "relative_position_functions": ["sine"]}, "sine"),
    ],
)
def test_relative_attention_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RelativeMultiHeadAttention(**kwargs)


def test_relative_attention_needs_static_length():
    import tensorflow as tf

    layer = RelativeMultiHeadAttention(num_heads=2, key_size=4)
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 24))])
    with pytest.raises(ValueError, match="static sequence length"):
        traced.get_concrete_function()
