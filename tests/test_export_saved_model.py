"""TF-Hub SavedModel export: every consumer returns the Keras model's numbers.

One tiny Enformer (`enformer_tiny`, 4,096 bp, trunk run in 1,024-bp windows as
the full model's default chunked inference does) is exported once with the
official contract (input twice the model length, centre cropped); each
consumer is compared with the Keras model on the central window.
"""

import functools
import http.server
import os
import tarfile
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from kipoi_genome.export import export_saved_model, render_model_card, write_tarball
from kipoi_genome.models import Enformer

TOL = 1e-6


def one_hot(batch, length, seed=0):
    bases = np.random.default_rng(seed).integers(0, 5, size=(batch, length))
    return np.eye(5, 4, dtype="float32")[bases]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(1)
    model = Enformer.from_preset("enformer_tiny", inference_chunk_length=1024)
    directory = str(tmp_path_factory.mktemp("hub") / "enformer_tiny")
    card = render_model_card(model)
    export_saved_model(model, directory, model_card=card)
    x = one_hot(2, 2 * model.sequence_length)
    start = model.sequence_length // 2
    expected = {k: np.asarray(v) for k, v in model.predict_on_batch(x[:, start : start + 4096]).items()}
    return {"model": model, "dir": directory, "x": x, "expected": expected, "card": card}


def max_diff(outputs, expected, keys=None):
    keys = keys or expected.keys()
    return max(float(np.max(np.abs(np.asarray(outputs[k]) - expected[k]))) for k in keys)


def test_hub_load_root_and_model_predict_on_batch(exported):
    hub = pytest.importorskip("tensorflow_hub")
    loaded = hub.load(exported["dir"])
    assert max_diff(loaded.model.predict_on_batch(exported["x"]), exported["expected"]) <= TOL
    assert max_diff(loaded(exported["x"]), exported["expected"]) <= TOL
    # The DeepMind idiom: keep only `.model`; its variables stay alive.
    model = hub.load(exported["dir"]).model
    assert max_diff(model.predict_on_batch(exported["x"]), exported["expected"]) <= TOL


def test_signature_and_input_contract(exported):
    loaded = tf.saved_model.load(exported["dir"])
    signature = loaded.signatures["serving_default"]
    spec = signature.structured_input_signature[1]["inputs"]
    assert spec.shape.as_list() == [None, 8192, 4] and spec.dtype == tf.float32
    outputs = signature(inputs=tf.constant(exported["x"]))
    assert {k: v.shape for k, v in outputs.items()} == {"human": (2, 16, 8), "mouse": (2, 16, 4)}
    assert max_diff(outputs, exported["expected"]) <= TOL
    with pytest.raises((ValueError, TypeError)):
        loaded.model.predict_on_batch(one_hot(1, 4096))  # the model length is not the contract


def test_tfsm_layer_in_keras3_model(exported):
    inputs = keras.Input((8192, 4))
    outputs = keras.layers.TFSMLayer(exported["dir"], call_endpoint="serving_default")(inputs)
    pipeline = keras.Model(inputs, {k: keras.layers.Identity(name=k)(v) for k, v in outputs.items()})
    assert max_diff(pipeline.predict_on_batch(exported["x"]), exported["expected"]) <= TOL
    default_endpoint = keras.layers.TFSMLayer(exported["dir"])  # call_endpoint="serve"
    assert max_diff(default_endpoint(exported["x"]), exported["expected"]) <= TOL


def test_hub_keras_layer_under_tf_keras(exported):
    hub = pytest.importorskip("tensorflow_hub")
    tf_keras = pytest.importorskip("tf_keras")
    layer = hub.KerasLayer(exported["dir"])
    assert max_diff(layer(exported["x"]), exported["expected"]) <= TOL
    sequential = tf_keras.Sequential(
        [tf_keras.Input((8192, 4)), hub.KerasLayer(exported["dir"], output_key="human")]
    )
    human = sequential.predict_on_batch(exported["x"])
    assert float(np.max(np.abs(human - exported["expected"]["human"]))) <= TOL


def test_keras_file_reload_matches(exported, tmp_path):
    path = str(tmp_path / "tiny.keras")
    exported["model"].save(path)
    reloaded = keras.saving.load_model(path)
    start = 2048
    outputs = reloaded.predict_on_batch(exported["x"][:, start : start + 4096])
    assert max_diff(outputs, exported["expected"]) <= TOL


def test_model_card_and_tarball_via_http(exported, tmp_path, monkeypatch):
    hub = pytest.importorskip("tensorflow_hub")
    card = open(os.path.join(exported["dir"], "MODEL_CARD.md")).read()
    assert card == exported["card"]
    for fact in ("[B, 8,192, 4]", "central 4,096", "`human`: float32 [B, 16, 8]", "128 bp", "doi.org/10.1038"):
        assert fact in card
    package = write_tarball(exported["dir"], str(tmp_path / "serve" / "enformer_tiny.tar.gz"))
    with tarfile.open(package) as archive:
        assert {"saved_model.pb", "MODEL_CARD.md"} <= set(archive.getnames())
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "serve")
    )
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/enformer_tiny.tar.gz"
        loaded = hub.load(url)
        assert max_diff(loaded.model.predict_on_batch(exported["x"]), exported["expected"]) <= TOL
    finally:
        server.shutdown()


def test_bad_arguments_give_value_errors(exported, tmp_path):
    model = exported["model"]
    with pytest.raises(ValueError, match="Received: input_length=4097"):
        export_saved_model(model, str(tmp_path / "odd"), input_length=4097)
    with pytest.raises(ValueError, match="Received: input_length=2048"):
        export_saved_model(model, str(tmp_path / "short"), input_length=2048)
    with pytest.raises(ValueError, match="not empty"):
        export_saved_model(model, exported["dir"])
    with pytest.raises(ValueError, match="must end in .tar.gz"):
        write_tarball(exported["dir"], str(tmp_path / "x.zip"))
    assert not os.path.exists(tmp_path / "odd")


@pytest.mark.parametrize("natural_head", [False, True])
def test_logo_token_model_export(tmp_path, natural_head):
    hub = pytest.importorskip("tensorflow_hub")
    from kipoi_genome.models.logo import LogoPromoterClassifier

    keras.utils.set_random_seed(5)
    tiny = dict(vocabulary_size=3138, embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=128)
    model = LogoPromoterClassifier(tiny, natural_head=natural_head)
    card = render_model_card(model)
    assert "int32 [B, L], token ids" in card
    directory = export_saved_model(model, str(tmp_path / "logo"), model_card=card)
    tokens = np.random.default_rng(1).integers(3, 3138, (10, 119)).astype("int32")
    loaded = hub.load(directory)
    got = loaded.model.predict_on_batch(tokens).numpy()
    assert float(np.max(np.abs(got - model.predict_on_batch(tokens)))) <= TOL
