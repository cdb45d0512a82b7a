"""Shared checks for layer tests: config round trip and `.keras` round trip."""

import keras
import numpy as np


def assert_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def assert_keras_round_trip(layer, inputs, tmp_path, atol=0.0):
    """Wraps `layer` in a model, saves `.keras`, reloads with no custom_objects."""
    array = np.asarray(inputs)
    model_input = keras.Input(array.shape[1:], dtype=str(array.dtype))
    model = keras.Model(model_input, layer(model_input))
    expected = model.predict_on_batch(array)
    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    got = loaded.predict_on_batch(array)
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
    return loaded
