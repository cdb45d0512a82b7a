"""ConvBlock, GELU, TargetLengthCrop1D, Residual and FactorizedEmbedding."""

import keras
import numpy as np
import pytest

from kipoi_genome.layers import (
    ConvBlock,
    FactorizedEmbedding,
    Residual,
    TargetLengthCrop1D,
    gelu_erf,
    gelu_sigmoid,
)
from tests.layer_checks import assert_config_round_trip, assert_keras_round_trip

RNG = np.random.default_rng(1)


def numpy_gelu(x):
    return x / (1.0 + np.exp(-1.702 * x))


def test_gelu_sigmoid_formula():
    x = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(np.asarray(gelu_sigmoid(x.astype("float32"))), numpy_gelu(x), rtol=1e-6, atol=1e-7)
    # Not the erf GELU.
    assert abs(float(gelu_sigmoid(np.float32(1.0))) - float(keras.activations.gelu(np.float32(1.0)))) > 1e-3


def test_gelu_erf_values_and_closed_form_gradient():
    import math

    import tensorflow as tf

    x = np.linspace(-9, 9, 721)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    density = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    inputs = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = gelu_erf(inputs)
    # atol: float32 cancellation in 0.5 + 0.5 erf(x) far left.
    np.testing.assert_allclose(outputs.numpy(), x * cdf, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(outputs, inputs).numpy(), cdf + x * density, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs.numpy(), keras.activations.gelu(inputs, approximate=False).numpy(), atol=1e-6)
    dense = keras.layers.Dense(2, activation=gelu_erf)
    assert keras.layers.Dense.from_config(dense.get_config()).activation is gelu_erf


def numpy_conv_block(x, gamma, beta, mean, var, kernel, bias):
    x = x.astype(np.float64)
    h = numpy_gelu((x - mean) / np.sqrt(var + 1e-5) * gamma + beta)
    width = kernel.shape[0]
    pad = width // 2
    h = np.pad(h, ((0, 0), (pad, pad), (0, 0)))
    length = x.shape[1]
    out = sum(h[:, t : t + length] @ kernel[t] for t in range(width))
    return out + bias


@pytest.mark.parametrize("width", [1, 5])
def test_conv_block_inference_matches_numpy(width):
    x = RNG.normal(size=(2, 9, 6)).astype("float32")
    block = ConvBlock(4, width)
    block.build(x.shape)
    bn = block.batch_norm
    params = [RNG.uniform(0.5, 1.5, 6), RNG.normal(size=6), RNG.normal(size=6), RNG.uniform(0.5, 2, 6)]
    for var, value in zip((bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance), params):
        var.assign(value.astype("float32"))
    kernel, bias = RNG.normal(size=(width, 6, 4)), RNG.normal(size=4)
    block.conv.kernel.assign(kernel.astype("float32"))
    block.conv.bias.assign(bias.astype("float32"))
    expected = numpy_conv_block(x, *params, kernel, bias)
    np.testing.assert_allclose(np.asarray(block(x, training=False)), expected, rtol=1e-4, atol=1e-5)


def test_conv_block_constants_and_initialisation():
    block = ConvBlock(8, 5)
    block.build((None, 10, 16))
    assert block.batch_norm.epsilon == 1e-5
    assert block.batch_norm.momentum == 0.9
    assert block.batch_norm.synchronized
    assert not np.asarray(block.conv.bias).any()
    # Sonnet's truncated normal: stddev 1/sqrt(width * C_in), cut at 2 stddev.
    kernel = np.asarray(block.conv.kernel)
    assert np.abs(kernel).max() <= 2 / np.sqrt(5 * 16) + 1e-6
    assert block.compute_output_shape((None, 10, 16)) == (None, 10, 8)


def test_conv_block_training_uses_batch_statistics():
    x = RNG.normal(3.0, 2.0, size=(4, 16, 3)).astype("float32")
    block = ConvBlock(3, 1)
    block.build(x.shape)
    block(x, training=True)
    # Moving mean moves 10% of the way to the batch mean (momentum 0.9).
    np.testing.assert_allclose(
        np.asarray(block.batch_norm.moving_mean), 0.1 * x.mean(axis=(0, 1)), rtol=1e-4
    )


def test_conv_block_serialization(tmp_path):
    block = ConvBlock(4, 3, name="cb")
    assert_config_round_trip(block)
    assert_keras_round_trip(block, RNG.normal(size=(2, 7, 5)).astype("float32"), tmp_path)


@pytest.mark.parametrize("kwargs, message", [({"filters": 0}, "filters=0"), ({"filters": 2, "width": "3"}, "width='3'")])
def test_conv_block_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvBlock(**kwargs)


def test_target_length_crop():
    x = np.arange(2 * 10 * 1, dtype="float32").reshape(2, 10, 1)
    np.testing.assert_array_equal(np.asarray(TargetLengthCrop1D(4)(x)), x[:, 3:7])
    np.testing.assert_array_equal(np.asarray(TargetLengthCrop1D(3)(x)), x[:, 3:6])
    np.testing.assert_array_equal(np.asarray(TargetLengthCrop1D(None)(x)), x)
    assert TargetLengthCrop1D(4).compute_output_shape((None, 10, 1)) == (None, 4, 1)
    with pytest.raises(ValueError, match="shorter than target_length=12"):
        TargetLengthCrop1D(12)(x)
    with pytest.raises(ValueError, match="target_length=0"):
        TargetLengthCrop1D(0)


def test_target_length_crop_serialization(tmp_path):
    layer = TargetLengthCrop1D(4, name="crop")
    assert_config_round_trip(layer)
    assert_keras_round_trip(layer, RNG.normal(size=(2, 10, 3)).astype("float32"), tmp_path)


def test_residual(tmp_path):
    dense = keras.layers.Dense(3, name="inner")
    layer = Residual(dense, name="res")
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    out = np.asarray(layer(x))
    np.testing.assert_allclose(out, x + x @ np.asarray(dense.kernel) + np.asarray(dense.bias), rtol=1e-5, atol=1e-6)
    assert_keras_round_trip(Residual(keras.layers.Dense(3), name="res2"), x, tmp_path)
    with pytest.raises(ValueError, match="equal input and output channels"):
        Residual(keras.layers.Dense(4))(x)
    with pytest.raises(ValueError, match="layer="):
        Residual("dense")


def test_factorized_embedding(tmp_path):
    layer = FactorizedEmbedding(vocabulary_size=3138, embedding_dim=128, hidden_dim=256, name="emb")
    ids = RNG.integers(0, 3138, size=(2, 7)).astype("int32")
    out = layer(ids)
    assert out.shape == (2, 7, 256)
    # ALBERT factorisation: V*E + E*H + H parameters.
    assert layer.count_params() == 3138 * 128 + 128 * 256 + 256
    table = np.asarray(layer.token_embedding.embeddings)
    kernel, bias = np.asarray(layer.projection.kernel), np.asarray(layer.projection.bias)
    np.testing.assert_allclose(np.asarray(out), table[ids] @ kernel + bias, rtol=1e-5, atol=1e-6)
    # Tied output: logits of the embedding of token t peak at t's own row's dot product.
    logits = np.asarray(layer.logits(layer.embed(ids)))
    np.testing.assert_allclose(logits, table[ids] @ table.T, rtol=1e-5, atol=1e-6)
    assert_config_round_trip(layer)
    assert_keras_round_trip(layer, ids, tmp_path)
    with pytest.raises(ValueError, match="embedding_dim=0"):
        FactorizedEmbedding(10, 0, 4)
