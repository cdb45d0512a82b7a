"""Enformer model: configuration, shapes, training step, saving, input checks."""

import keras
import numpy as np
import pytest

from kipoi_genome.models import Enformer, list_presets
from kipoi_genome.models.enformer.chunked_inference import conv_halo, conv_windows, forward, model_windows, predict_on_batch
from kipoi_genome.models.enformer.enformer import exponential_linspace_int

TINY = dict(
    channels=48,
    num_transformer_layers=1,
    num_heads=2,
    heads={"human": 5, "mouse": 3},
    sequence_length=2048,
    target_length=8,
    filter_divisible_by=8,
)


def one_hot(batch, length, seed=0):
    bases = np.random.default_rng(seed).integers(0, 5, size=(batch, length))
    return np.eye(5, 4, dtype="float32")[bases]


def test_tower_filters_match_official_rounding():
    assert exponential_linspace_int(768, 1536, 6, 128) == [768, 896, 1024, 1152, 1280, 1536]
    # The fixture's config: half-even rounding makes 1.5 -> 2.
    assert exponential_linspace_int(192, 384, 6, 128) == [256, 256, 256, 256, 384, 384]
    assert exponential_linspace_int(16, 32, 6, 128) == [0, 0, 0, 0, 0, 0]


def test_full_preset_parameter_counts():
    model = Enformer.from_preset("enformer", load_weights=False)
    assert model.count_params() == 251_221_292
    assert model.tower_filters == [768, 896, 1024, 1152, 1280, 1536]
    assert model.input_shape == (None, 196_608, 4)
    assert {k: tuple(v.shape) for k, v in model.output.items()} == {
        "human": (None, 896, 5313),
        "mouse": (None, 896, 1643),
    }
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert non_trainable == 29_696  # BatchNorm moving statistics
    del model
    assert Enformer.from_preset("enformer_human").count_params() == 246_172_353
    assert {"enformer", "enformer_human", "enformer_tiny"} <= set(list_presets())


def test_tiny_forward_shapes_and_positivity():
    model = Enformer(**TINY)
    out = model(one_hot(2, 2048))
    assert set(out) == {"human", "mouse"}
    assert out["human"].shape == (2, 8, 5)
    assert out["mouse"].shape == (2, 8, 3)
    assert float(np.min(out["human"])) > 0  # softplus
    assert model.embedding_model()(one_hot(1, 2048)).shape == (1, 8, 96)


def test_max_pooling_and_untrimmed_variants():
    model = Enformer(**{**TINY, "pooling_type": "max", "target_length": None})
    assert model(one_hot(1, 2048))["human"].shape == (1, 16, 5)
    assert not any("pool" in w.path for w in model.weights)


def test_one_training_step_reduces_poisson_loss():
    keras.utils.set_random_seed(0)
    model = Enformer(**{**TINY, "heads": {"human": 2}, "dropout_rate": 0.0})
    x = one_hot(4, 2048, seed=1)
    y = {"human": np.random.default_rng(2).poisson(2.0, size=(4, 8, 2)).astype("float32")}
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={"human": "poisson"})
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    weights_before = [np.array(w) for w in model.trainable_weights]
    model.fit(x, y, epochs=3, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(after) and after < before
    changed = [not np.array_equal(a, np.asarray(b)) for a, b in zip(weights_before, model.trainable_weights)]
    assert all(changed)


def test_keras_round_trip_identical(tmp_path):
    model = Enformer(**TINY)
    x = one_hot(2, 2048)
    expected = model.predict_on_batch(x)
    path = tmp_path / "tiny.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Enformer)
    assert loaded.get_config() == model.get_config()
    got = loaded.predict_on_batch(x)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 2048), "rank 3"),
        ((2, 1024, 4), "sequence length 2048.*length 1024"),
        ((2, 2048, 5), "4 channels.*5 channels"),
    ],
)
def test_wrong_input_shape_raises(shape, message):
    model = Enformer(**TINY)
    with pytest.raises(ValueError, match=message):
        model(np.zeros(shape, "float32"))


@pytest.mark.parametrize(
    "override, message",
    [
        ({"channels": 50}, "divisible by 6"),
        ({"num_heads": 0}, "num_heads=0"),
        ({"pooling_type": "mean"}, "pooling_type='mean'"),
        ({"sequence_length": 2000}, "divisible by 128"),
        ({"target_length": 17}, "target_length=17"),
        ({"filter_divisible_by": 128}, "positive widths"),
        ({"heads": {"human": 0}}, "heads="),
        ({"conv_tower_filters": [8, 16, 48]}, "6 positive widths"),
        ({"inference_chunk_length": 1000}, "multiple of 128.*inference_chunk_length=1000"),
        ({"inference_chunk_length": 0}, "inference_chunk_length=0"),
    ],
)
def test_invalid_config_raises(override, message):
    with pytest.raises(ValueError, match=message):
        Enformer(**{**TINY, **override})


def test_conv_windows_tile_the_sequence_with_aligned_halos():
    # Stem k=15 (7 bp) + tower k=5 at 2, 4, ..., 64 bp per position (2 * 126 bp).
    assert conv_halo([768, 896, 1024, 1152, 1280, 1536]) == 259
    chunks = conv_windows(196_608, 32_768, 259, 128)
    assert len(chunks) == 6
    assert chunks[0] == (0, 33_152, 0, 32_768)  # halo 259 -> 384 (3 bins)
    assert chunks[1] == (32_384, 65_920, 32_768, 65_536)
    assert chunks[-1] == (163_456, 196_608, 163_840, 196_608)
    assert [c[2] for c in chunks[1:]] == [c[3] for c in chunks[:-1]]
    assert all(start % 128 == 0 and stop % 128 == 0 for start, stop, _, _ in chunks)
    assert conv_windows(2048, 1000, 0, 128) == [(0, 1000, 0, 1000), (1000, 2000, 1000, 2000), (2000, 2048, 2000, 2048)]
    assert conv_windows(2048, 2048, 259, 128) is None
    assert conv_windows(2048, None, 259, 128) is None


def _perturbed_pair(**config):
    """Two models with the same non-trivial weights (moving statistics included)."""
    chunked = Enformer(**{**TINY, **config, "inference_chunk_length": 512})
    whole = Enformer(**{**TINY, **config, "inference_chunk_length": None})
    rng = np.random.default_rng(3)
    weights = [w + rng.normal(0, 0.2, w.shape).astype(w.dtype) for w in chunked.get_weights()]
    weights = [np.abs(w) if "variance" in v.path else w for w, v in zip(weights, chunked.weights)]
    chunked.set_weights(weights)
    whole.set_weights(weights)
    return chunked, whole


def test_chunked_inference_equals_whole_sequence_pass():
    chunked, whole = _perturbed_pair()
    assert len(model_windows(chunked)) == 4
    x = one_hot(2, 2048, seed=4)
    expected = whole.predict_on_batch(x)
    for got in (predict_on_batch(chunked, x), forward(chunked, x)):
        for key in expected:
            scale = np.abs(expected[key]).max()
            np.testing.assert_allclose(np.asarray(got[key]), expected[key], rtol=0, atol=1e-5 * scale)
    # A halo one bin short of the 259-bp receptive field changes the outputs.
    windows = [(s + 128 * (s > 0), e - 128 * (e < 2048), a, b) for s, e, a, b in model_windows(chunked)]
    assert np.abs(forward(chunked, x, windows)["human"] - expected["human"]).max() > 1e-3 * np.abs(expected["human"]).max()


def test_training_pass_is_never_chunked():
    # Batch statistics are over the whole sequence, so training ignores chunking.
    chunked, whole = _perturbed_pair(dropout_rate=0.0, attention_dropout_rate=0.0, positional_dropout_rate=0.0)
    x = one_hot(2, 2048, seed=5)
    got, expected = chunked(x, training=True), whole(x, training=True)
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(expected[key]), rtol=1e-6, atol=1e-6)
