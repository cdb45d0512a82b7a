"""A `.keras` Enformer written by an earlier version loads with the same weights and outputs.

`tests/data/enformer_small.keras` was written at commit 387715c (before the
constructor was rebuilt from stage factories) by
`tests/data/make_enformer_keras_fixture.py`, with every weight perturbed so
each one moves the outputs; `enformer_small_outputs.npz` holds its inputs and
the whole-sequence outputs and embeddings computed then.
"""

import os
import zipfile

import h5py
import keras
import numpy as np
import pytest

from kipoi_genome.models import Enformer
from kipoi_genome.models.enformer import chunked_inference
from kipoi_genome.models.enformer.chunked_inference import embed, model_windows, predict_on_batch

DATA = os.path.join(os.path.dirname(__file__), "data")
SAVED = os.path.join(DATA, "enformer_small.keras")


def _h5_layout(path):
    """Dataset name -> shape inside a `.keras` file's `model.weights.h5`."""
    layout = {}
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as raw:
        with h5py.File(raw, "r") as weights:
            weights.visititems(
                lambda name, item: layout.__setitem__(name, item.shape)
                if isinstance(item, h5py.Dataset)
                else None
            )
    return layout


@pytest.fixture(scope="module")
def saved():
    return keras.saving.load_model(SAVED), np.load(os.path.join(DATA, "enformer_small_outputs.npz"))


def test_earlier_file_loads_with_its_outputs(saved):
    model, expected = saved
    assert isinstance(model, Enformer)
    assert model.inference_chunk_length == 128 and model.tower_filters == [12, 24]
    x = expected["x"]
    whole = keras.Model(model.input, model.output).predict_on_batch(x)
    for organism in ("human", "mouse"):
        np.testing.assert_allclose(whole[organism], expected[f"output_{organism}"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.embedding_model().predict_on_batch(x), expected["embeddings"], rtol=1e-5, atol=1e-6
    )


def test_weight_layout_unchanged(saved, tmp_path):
    model, _ = saved
    # The same configuration built by today's constructor saves the same
    # datasets (names and shapes) as the earlier file, and its variables
    # have the same paths in the same order.
    fresh = Enformer(**{k: v for k, v in model.get_config().items() if k not in ("name", "trainable")})
    path = tmp_path / "fresh.keras"
    fresh.save(path)
    assert _h5_layout(path) == _h5_layout(SAVED)
    assert [v.path for v in fresh.weights] == [v.path for v in model.weights]
    fresh.set_weights(model.get_weights())
    x = np.load(os.path.join(DATA, "enformer_small_outputs.npz"))["x"]
    np.testing.assert_array_equal(
        keras.Model(fresh.input, fresh.output).predict_on_batch(x)["human"],
        keras.Model(model.input, model.output).predict_on_batch(x)["human"],
    )


def test_windowed_inference_of_the_earlier_file_equals_its_outputs(saved):
    model, expected = saved
    # 128-bp windows; receptive field 7 + 2 * 2 + 2 * 4 = 19 bp, halo rounded up to 3 bins of 8 bp.
    assert model_windows(model) == [(0, 152, 0, 128), (104, 280, 128, 256), (232, 408, 256, 384), (360, 512, 384, 512)]
    x = expected["x"]
    got = predict_on_batch(model, x)
    for organism in ("human", "mouse"):
        scale = np.abs(expected[f"output_{organism}"]).max()
        np.testing.assert_allclose(got[organism], expected[f"output_{organism}"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(
        np.asarray(embed(model, x)), expected["embeddings"], rtol=0, atol=1e-5 * np.abs(expected["embeddings"]).max()
    )
    # The model itself is the plain functional graph: its call is the whole-sequence pass.
    np.testing.assert_allclose(
        np.asarray(model(x)["human"]), expected["output_human"], rtol=1e-5, atol=1e-6
    )
    # One trace serves every batch size.
    predict_on_batch(model, x[:1])
    (traced,) = chunked_inference._COMPILED[model].values()
    assert traced.experimental_get_tracing_count() == 1


def test_models_without_windows_run_their_own_predict_on_batch():
    inputs = keras.Input((10, 4))
    plain = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    x = np.random.default_rng(0).normal(size=(3, 10, 4)).astype("float32")
    np.testing.assert_array_equal(predict_on_batch(plain, x), plain.predict_on_batch(x))
    with pytest.raises(ValueError, match="Embeddings need an Enformer. Received: Functional"):
        embed(plain, x)
