"""LogoBackbone: official parameter counts, masking, attention direction, config."""

import keras
import numpy as np
import pytest

from kipoi_genome.models.logo import LogoBackbone
from kipoi_genome.models.logo.logo_layers import LogoTransformerBlock

TINY = dict(
    vocabulary_size=138,
    embedding_dim=8,
    hidden_dim=16,
    num_heads=2,
    intermediate_dim=32,
    max_sequence_length=32,
)


def inputs(token_ids):
    token_ids = np.asarray(token_ids, dtype="int32")
    return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids)}


def test_official_parameter_counts():
    """LOGO.md §2.1: backbone 1,290,496; LOGO-919 1,526,679; LOGO-2002 1,870,546."""
    backbone = LogoBackbone()  # k = 5, E 128, H 256, 512 positions, shared block
    assert backbone.count_params() == 1_290_496
    assert backbone.count_params() + 256 * 919 + 919 == 1_526_679
    backbone_2kb = LogoBackbone(max_sequence_length=1024)
    assert backbone_2kb.count_params() + 256 * 2002 + 2002 == 1_870_546
    # Per-layer counts of the table in LOGO.md.
    sizes = {w.path: int(np.prod(w.shape)) for w in backbone.weights}
    assert sizes["embeddings/token_embedding/token_embedding/embeddings"] == 401_664
    assert sizes["embeddings/position_embedding"] == 65_536
    attention = sum(v for k, v in sizes.items() if "/attention/" in k)
    feedforward = sum(v for k, v in sizes.items() if "/feedforward_" in k and "norm" not in k)
    assert (attention, feedforward) == (263_168, 525_568)


def test_unshared_blocks_and_conv_options():
    shared = LogoBackbone(**TINY)
    unshared = LogoBackbone(**TINY, num_blocks=2)
    block = sum(int(np.prod(w.shape)) for w in shared.transformer_blocks[0].weights)
    assert unshared.count_params() == shared.count_params() + block
    conv = LogoBackbone(**TINY, conv_embedding=True, conv_feedforward=True)
    names = [w.path for w in conv.weights]
    assert any("token_conv_5" in n for n in names) and any("feedforward_conv" in n for n in names)
    assert conv(inputs(np.ones((2, 7)))).shape == (2, 7, 16)


@pytest.mark.parametrize("options", [{}, {"conv_embedding": True}], ids=["plain", "conv_embedding"])
def test_output_shape_padding_and_bidirectional_attention(options):
    backbone = LogoBackbone(**TINY, **options)
    rng = np.random.default_rng(0)
    tokens = rng.integers(35, 135, size=(2, 10))
    out = keras.ops.convert_to_numpy(backbone(inputs(tokens)))
    assert out.shape == (2, 10, 16)
    # Padding (id 0) appended at the end does not change the real positions.
    padded = np.concatenate([tokens, np.zeros((2, 5), int)], axis=1)
    out_padded = keras.ops.convert_to_numpy(backbone(inputs(padded)))
    np.testing.assert_allclose(out_padded[:, :10], out, atol=1e-5)
    # An interior id 0 (a k-mer starting with N) keeps its embedding; trailing
    # padding never matters, whatever the id-0 embedding is.
    interior = padded.copy()
    interior[:, 4] = 0
    out_interior = keras.ops.convert_to_numpy(backbone(inputs(interior)))
    alone = keras.ops.convert_to_numpy(backbone(inputs(interior[:, :10])))
    np.testing.assert_allclose(out_interior[:, :10], alone, atol=1e-5)
    table = backbone.token_embedding.token_embedding.embeddings
    values = keras.ops.convert_to_numpy(table).copy()
    values[0] += np.linspace(-3.0, 3.0, 8)  # the id-0 embedding moves (not by a constant: LayerNorm)
    table.assign(values)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(backbone(inputs(padded)))[:, :10], out, atol=1e-5)
    moved = keras.ops.convert_to_numpy(backbone(inputs(interior)))[:, :10]
    assert np.abs(moved - out_interior[:, :10]).max() > 1e-3
    # No causal mask: changing the last token changes the first output.
    changed = tokens.copy()
    changed[:, -1] = 40
    out_changed = keras.ops.convert_to_numpy(backbone(inputs(changed)))
    assert np.abs(out_changed[:, 0] - out[:, 0]).max() > 1e-4


def test_config_round_trip_and_saving(tmp_path):
    backbone = LogoBackbone(**TINY, num_passes=4, num_blocks=2, dropout=0.1)
    config = backbone.get_config()
    restored = LogoBackbone.from_config(config)
    assert restored.get_config() == config
    assert backbone.k == 3
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    loaded = keras.saving.load_model(path)
    x = inputs(np.arange(35, 47).reshape(2, 6))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(backbone(x)), atol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_heads=3), "hidden_dim=16, num_heads=3"),
        (dict(num_passes=3, num_blocks=2), "num_passes=3, num_blocks=2"),
        (dict(max_sequence_length=0), "max_sequence_length=0"),
        (dict(dropout=1.5), "dropout=1.5"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f"Received: .*{message}"):
        LogoBackbone(**{**TINY, **kwargs})


def _numpy_layer_norm(x, gamma, beta, epsilon=1e-12):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + epsilon) * gamma + beta


def test_transformer_block_matches_numpy_float64():
    import math

    rng = np.random.default_rng(7)
    block = LogoTransformerBlock(hidden_dim=16, num_heads=2, intermediate_dim=32)
    block.build((None, None, 16))
    block.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in block.get_weights()])
    x = rng.normal(size=(3, 9, 16)).astype("float32")
    padding = np.ones((3, 9), bool)
    padding[1, 5:] = False
    padding[2, 1:] = False
    got = np.asarray(block(x, padding_mask=padding))

    w = {v.path.split("/", 1)[1]: np.asarray(v, np.float64) for v in block.weights}
    h = x.astype(np.float64)

    def heads(name):  # [B, T, heads, size]
        return np.einsum("bth,hnd->btnd", h, w[f"attention/{name}/kernel"]) + w[f"attention/{name}/bias"]

    scores = np.einsum("btnd,bsnd->bnts", heads("query") / math.sqrt(8), heads("key"))
    scores = np.where(padding[:, None, None, :], scores, -np.inf)
    probabilities = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    context = np.einsum("bnts,bsnd->btnd", probabilities, heads("value"))
    attended = np.einsum("btnd,ndh->bth", context, w["attention/attention_output/kernel"])
    attended += w["attention/attention_output/bias"]
    h = _numpy_layer_norm(h + attended, w["attention_layer_norm/gamma"], w["attention_layer_norm/beta"])
    inner = h @ w["feedforward_intermediate/kernel"] + w["feedforward_intermediate/bias"]
    inner = inner * 0.5 * (1 + np.vectorize(math.erf)(inner / math.sqrt(2)))
    y = inner @ w["feedforward_output/kernel"] + w["feedforward_output/bias"]
    expected = _numpy_layer_norm(h + y, w["feedforward_layer_norm/gamma"], w["feedforward_layer_norm/beta"])
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5)
    # The same arithmetic as calling the Keras MultiHeadAttention on its weights.
    keras_attention = np.asarray(block.attention(x, x, attention_mask=padding[:, None, :]))
    key_bias = np.where(padding, 0.0, -1e9)[:, None, None, :].astype("float32")
    np.testing.assert_allclose(np.asarray(block._self_attention(x, x, key_bias)), keras_attention, atol=1e-6)
    # Outputs at selected positions only (a masked LM's last pass): the same
    # rows of the float64 reference, repeated and padded positions included.
    positions = np.array([[8, 0, 3], [4, 4, 7], [0, 2, 1]])
    subset = np.asarray(block(x, padding_mask=padding, query_positions=positions))
    assert subset.shape == (3, 3, 16) == block.compute_output_shape((3, 9, 16), (3, 9), (3, 3))
    symbolic = block(keras.Input((None, 16)), query_positions=keras.Input((5,), dtype="int32"))
    assert tuple(symbolic.shape) == (None, 5, 16)
    np.testing.assert_allclose(subset, np.take_along_axis(expected, positions[..., None], 1), rtol=0, atol=2e-5)
    conv = LogoTransformerBlock(hidden_dim=16, num_heads=2, intermediate_dim=32, conv_feedforward=True)
    with pytest.raises(ValueError, match="conv_feedforward"):
        conv(x, query_positions=positions)
