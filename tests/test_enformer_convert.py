"""Converter parity on the official-architecture fixture, and its error reporting."""

import keras
import numpy as np
import pytest

import kipoi_genome  # noqa: F401  (registers the serializable classes)
from kipoi_genome.cli.main import main
from kipoi_genome.convert import convert_enformer_checkpoint
from kipoi_genome.convert.enformer_checkpoint import CheckpointReader, infer_config


@pytest.fixture(scope="module")
def fixture_dir(enformer_fixture):
    return enformer_fixture


def test_inferred_config(fixture_dir):
    _, prefix = fixture_dir
    reader = CheckpointReader(prefix)
    assert reader.prefix == "model/"
    config = infer_config(reader)
    assert config == {
        "channels": 384,
        "num_transformer_layers": 2,
        "heads": {"human": 5313, "mouse": 1643},
        "num_conv_tower_blocks": 6,
        "conv_tower_filters": [256, 256, 256, 256, 384, 384],
        "pooling_type": "attention",
        "num_heads": 2,
        "key_size": 64,
    }


def test_cli_convert_reproduces_official_outputs(fixture_dir, tmp_path, capsys):
    folder, prefix = fixture_dir
    output = tmp_path / "enformer_small.keras"
    assert main(["convert", "enformer", "--checkpoint", str(prefix.parent), "--output", str(output)]) == 0
    assert "11,335,596 parameters" in capsys.readouterr().out

    model = keras.saving.load_model(output)  # no custom_objects
    x = np.eye(5, 4, dtype=np.float32)[np.load(folder / "inputs.npz")["bases"]]
    expected = np.load(folder / "expected.npz")
    out = model.predict_on_batch(x)
    assert out["human"].shape == (2, 896, 5313) and out["mouse"].shape == (2, 896, 1643)
    for organism in ("human", "mouse"):
        got = out[organism][:, :, expected[f"{organism}_track_index"]]
        want = expected[organism]
        max_rel = float(np.max(np.abs(got - want) / np.abs(want)))
        print(f"{organism}: max relative error {max_rel:.2e}")
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5)  # fixture README: CPU port
        mean = out[organism].astype(np.float64).mean(axis=(0, 1))
        np.testing.assert_allclose(mean, expected[f"{organism}_mean_per_track"], rtol=1e-4)
    trunk = model.embedding_model().predict_on_batch(x)[:, expected["trunk_bin_index"]]
    np.testing.assert_allclose(trunk, expected["trunk"], rtol=1e-3, atol=5e-4)


def test_mismatched_model_lists_every_problem(fixture_dir):
    _, prefix = fixture_dir
    with pytest.raises(ValueError) as error:
        convert_enformer_checkpoint(prefix, heads={"human": 5313}, key_size=32, sequence_length=2048, target_length=8)
    message = str(error.value)
    assert "unused: _heads/mouse/_layers/0/w" in message
    assert "mis-shaped: _trunk/_layers/2/_layers/0/_layers/0/_module/_layers/1/_q_layer/w" in message
    assert "mis-shaped: _trunk/_layers/2/_layers/1/_layers/0/_module/_layers/1/_r_w_bias" in message

    with pytest.raises(ValueError, match=r"missing: _trunk/_layers/2/_layers/2/"):
        convert_enformer_checkpoint(prefix, num_transformer_layers=3, sequence_length=2048, target_length=8)


def test_bad_checkpoint_paths(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="not a checkpoint prefix"):
        CheckpointReader(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="no TF-Hub SavedModel"):
        CheckpointReader(tmp_path)
    code = main(["convert", "enformer", "--checkpoint", str(tmp_path), "--output", str(tmp_path / "x.keras")])
    assert code == 2
    assert "no TF-Hub SavedModel" in capsys.readouterr().err
    assert not (tmp_path / "x.keras").exists()
    assert main(["convert", "enformer", "--checkpoint", str(tmp_path), "--output", "model.h5"]) == 2
