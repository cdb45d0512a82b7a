"""`kipoi-genome export-hub`: the public command and the hub_export recipes."""

import os
import pathlib
import tarfile

import keras
import numpy as np
import pytest

from kipoi_genome.cli.export_hub import read_recipe
from kipoi_genome.cli.main import main
from kipoi_genome.models import Enformer

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_export_hub_command_from_keras_file(tmp_path, capsys):
    hub = pytest.importorskip("tensorflow_hub")
    keras.utils.set_random_seed(2)
    model = Enformer.from_preset("enformer_tiny")
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    output, package = str(tmp_path / "hub"), str(tmp_path / "tiny.tar.gz")
    # --input-length equal to the model length: no crop.
    assert main(["export-hub", "--model", path, "--output", output, "--input-length", "4096", "--tar", package]) == 0
    assert "input [None, 4096, 4] float32" in capsys.readouterr().out
    loaded = hub.load(output)
    x = np.eye(5, 4, dtype="float32")[np.random.default_rng(3).integers(0, 5, (2, 4096))]
    expected = model.predict_on_batch(x)
    got = loaded.model.predict_on_batch(x)
    assert max(float(np.max(np.abs(got[k].numpy() - expected[k]))) for k in expected) <= 1e-6
    with tarfile.open(package) as archive:
        assert "MODEL_CARD.md" in archive.getnames()
    # An existing output is refused unless --overwrite.
    assert main(["export-hub", "--model", path, "--output", output]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "missing.keras", "--output", "x"], "missing.keras: model file not found"),
        (["--model", "no_such_preset", "--output", "x"], "Unknown preset 'no_such_preset'"),
        (["--output", "x"], "--model is required"),
        (["--model", "enformer_tiny", "--output", "x", "--tar", "x.zip"], "--tar must end in .tar.gz"),
        (["--model", "enformer_tiny", "--output", "x", "--input-length", "4097"], "input_length=4097"),
    ],
)
def test_export_hub_bad_input_one_line_error(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export-hub", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not os.path.exists(tmp_path / "x")


def test_hub_export_recipes_are_complete():
    recipes = sorted((REPO / "hub_export").glob("*/export.yaml"))
    assert recipes, "hub_export/ has no recipe"
    for recipe_path in recipes:
        recipe = read_recipe(str(recipe_path))
        assert {"model", "output", "model_card", "tar"} <= set(recipe)
        card = pathlib.Path(recipe["model_card"]).read_text()
        assert "## Citation" in card and "## Licence" in card
    enformer = read_recipe(str(REPO / "hub_export" / "enformer" / "export.yaml"))
    assert enformer["input_length"] == 393_216
