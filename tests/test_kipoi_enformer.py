"""Kipoi: the adapter on a tiny Enformer, and `kipoi test` / `kipoi predict` on model_defs/Enformer.

The model_defs run uses the shared official-architecture fixture (converted
once here) through `$KIPOI_GENOME_ENFORMER_WEIGHTS`; it has the published
input and output shapes, so the spec's schema is checked for real.
"""

import functools
import hashlib
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest

from kipoi_genome.models import Enformer
from kipoi_genome.models.enformer.chunked_inference import predict_on_batch

kipoi = pytest.importorskip("kipoi", reason="kipoi not installed: pip install -e '.[kipoi]'")
adapter = pytest.importorskip("kipoi_genome.export.kipoi.adapter")

REPO = pathlib.Path(__file__).resolve().parents[1]
TOL = 1e-6


def one_hot(batch, length, seed=0):
    bases = np.random.default_rng(seed).integers(0, 5, size=(batch, length))
    return np.eye(5, 4, dtype="float32")[bases]


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    keras.utils.set_random_seed(4)
    model = Enformer.from_preset("enformer_tiny")
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    model.save(str(path))
    return model, str(path)


def max_diff(got, want):
    return max(float(np.max(np.abs(got[k] - np.asarray(want[k])))) for k in want)


def test_adapter_crops_centre_and_returns_numpy_dict(tiny_file, monkeypatch, tmp_path):
    model, path = tiny_file
    monkeypatch.chdir(tmp_path)
    wrapped = adapter.EnformerModel(weights=path)
    x = one_hot(2, 8192)
    got = wrapped.predict_on_batch(x)
    assert all(isinstance(v, np.ndarray) for v in got.values())
    assert max_diff(got, model.predict_on_batch(x[:, 2048:6144])) <= TOL
    assert max_diff(wrapped.predict_on_batch(x[:, 2048:6144]), got) == 0
    with pytest.raises(ValueError, match="Received: length 4097"):
        wrapped.predict_on_batch(one_hot(1, 4097))


def test_adapter_weights_without_extension_env_override_and_errors(tiny_file, monkeypatch, tmp_path):
    model, path = tiny_file
    monkeypatch.chdir(tmp_path)
    plain = tmp_path / "0123abcd"  # how kipoi names {url, md5} downloads
    shutil.copyfile(path, plain)
    wrapped = adapter.KerasModel(weights=str(plain))
    assert wrapped.weights_path == str(plain) + ".keras"
    x = one_hot(1, 4096)
    assert max_diff(wrapped.predict_on_batch(x), model.predict_on_batch(x)) <= TOL
    monkeypatch.setenv("KIPOI_GENOME_ENFORMER_WEIGHTS", path)
    assert adapter.EnformerModel(weights="does_not_exist.keras").weights_path == path
    monkeypatch.delenv("KIPOI_GENOME_ENFORMER_WEIGHTS")
    with pytest.raises(FileNotFoundError, match="KIPOI_GENOME_ENFORMER_WEIGHTS"):
        adapter.EnformerModel(weights="does_not_exist.keras")
    with pytest.raises(ValueError, match="md5"):
        adapter.KerasModel(weights="https://example.org/x.keras")


def test_kipoi_get_model_downloads_url_weights(tiny_file, tmp_path):
    """kipoi's own `{url, md5}` download (saved without extension) loads through the adapter."""
    model, path = tiny_file
    served = tmp_path / "served"
    served.mkdir()
    shutil.copyfile(path, served / "tiny.keras")
    md5 = hashlib.md5((served / "tiny.keras").read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    model_dir = tmp_path / "TinyEnformer"
    model_dir.mkdir()
    shutil.copyfile(REPO / "model_defs" / "Enformer" / "model.py", model_dir / "model.py")
    url = f"http://127.0.0.1:{server.server_address[1]}/tiny.keras"
    (model_dir / "model.yaml").write_text(
        "defined_as: model.EnformerModel\n"
        f"args:\n  weights:\n    url: {url}\n    md5: {md5}\n"
        "info:\n  doc: tiny test model\n"
        "schema:\n  inputs:\n    shape: (8192, 4)\n"
        "  targets:\n    human:\n      shape: (16, 8)\n    mouse:\n      shape: (16, 4)\n"
    )
    try:
        loaded = kipoi.get_model(str(model_dir), source="dir", with_dataloader=False)
    finally:
        server.shutdown()
    assert loaded.weights_path.endswith(f"{md5}.keras")
    x = one_hot(1, 8192, seed=5)
    assert max_diff(loaded.predict_on_batch(x), model.predict_on_batch(x[:, 2048:6144])) <= TOL


def test_import_kipoi_genome_does_not_import_or_patch_kipoi():
    code = (
        "import sys, numpy as np, kipoi_genome, kipoi_genome.models, kipoi_genome.export;"
        "assert 'kipoi' not in sys.modules, 'kipoi imported';"
        "assert 'string_' not in np.__dict__, 'numpy patched'"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(REPO))


# --- kipoi test / kipoi predict on model_defs/Enformer ------------------------------


@pytest.fixture(scope="module")
def fixture_weights(enformer_fixture, tmp_path_factory):
    from kipoi_genome.convert import convert_enformer_checkpoint

    _, prefix = enformer_fixture
    path = str(tmp_path_factory.mktemp("enformer_small") / "enformer_small.keras")
    convert_enformer_checkpoint(str(prefix)).save(path)
    return path


def run_kipoi(*args, weights, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KIPOI_GENOME_ENFORMER_WEIGHTS": weights}
    result = subprocess.run(
        [sys.executable, "-m", "kipoi", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_kipoi_test_and_predict_model_defs_enformer(fixture_weights, tmp_path):
    result = run_kipoi("test", "model_defs/Enformer", "--source", "dir", weights=fixture_weights, cwd=REPO)
    assert "Successfully ran test_predict" in result.stdout + result.stderr
    examples = REPO / "dataloaders" / "enformer_intervals" / "example_files"
    args = {"intervals_file": str(examples / "intervals.bed"), "fasta_file": str(examples / "genome.fa")}
    output = tmp_path / "enformer.h5"
    run_kipoi(
        "predict", "model_defs/Enformer", "--source", "dir", "--dataloader_args", repr(args).replace("'", '"'),
        "--keep_inputs", "--keep_metadata", "-o", str(output), weights=fixture_weights, cwd=REPO,
    )
    import h5py

    with h5py.File(output) as h5:
        inputs = h5["inputs"][:]
        preds = {k: h5["preds"][k][:] for k in ("human", "mouse")}
        assert [s.decode() if isinstance(s, bytes) else s for s in h5["metadata/ranges/id"][:]] == ["region_1"]
    assert inputs.shape == (1, 393_216, 4) and preds["human"].shape == (1, 896, 5313)
    model = keras.saving.load_model(fixture_weights)
    expected = predict_on_batch(model, inputs[:, 98_304 : 98_304 + 196_608])
    assert max_diff(preds, expected) <= TOL
