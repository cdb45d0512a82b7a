"""`import kipoi_genome` is enough, in a fresh interpreter.

After `import kipoi_genome, keras` (and nothing else from the package),
`keras.saving.load_model` reads every kind of `.keras` file this package
writes: an Enformer converted from the official-architecture fixture, a LOGO
preset, and a compiled model of our layers whose optimizer holds our
learning-rate schedule. The fresh interpreter's outputs must equal the
outputs of the models that wrote the files. The package import stays quiet
(TensorFlow's import noise captured) with TF_CPP_MIN_LOG_LEVEL unset, so the
CLI's one-line error contract (docs/errors.md) holds.
"""

import ast
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import kipoi_genome
from kipoi_genome.convert import convert_enformer_checkpoint
from kipoi_genome.layers import AttentionPool1D, ConvBlock, Residual, TargetLengthCrop1D
from kipoi_genome.models import LogoPromoterClassifier
from kipoi_genome.training.schedules import LinearWarmup

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE_FASTA = os.path.join(os.path.dirname(kipoi_genome.__file__), "example_data", "chr20_44080000_44220000.fa")

# Loads each .keras file after `import kipoi_genome, keras` only, and saves
# its outputs; LOGO through `predict_sequences`, a method of our class.
LOAD_SCRIPT = """
import sys
import kipoi_genome, keras
import numpy as np

folder = sys.argv[1]
inputs = np.load(folder + "/inputs.npz")
unregistered = [n for n in inputs["registered"] if keras.saving.get_registered_object("kipoi_genome>" + n) is None]
enformer = keras.saving.load_model(folder + "/enformer.keras")
logo = keras.saving.load_model(folder + "/logo.keras")
trained = keras.saving.load_model(folder + "/trained.keras")
np.savez(
    folder + "/fresh.npz",
    enformer_class=type(enformer).__name__,
    **{"enformer_" + k: v for k, v in enformer.predict_on_batch(inputs["one_hot"]).items()},
    logo=np.asarray(logo.predict_sequences(list(inputs["sequences"]))),
    logo_class=type(logo).__name__,
    trained=trained.predict_on_batch(inputs["one_hot"]),
    schedule_class=type(trained.optimizer._learning_rate).__name__,
    unregistered=np.array(unregistered, dtype=str),
)
"""


def _registered_names():
    """Names of the classes and functions decorated with `@register` anywhere in the package."""
    names = set()
    for path in pathlib.Path(kipoi_genome.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                if any(isinstance(d, ast.Name) and d.id == "register" for d in node.decorator_list):
                    names.add(node.name)
    return sorted(names)


def _fresh_env():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user has: the package's default applies
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _small_trained_model(length):
    """A compiled functional model of our layers; its optimizer holds a LinearWarmup."""
    inputs = keras.Input((length, 4))
    x = ConvBlock(8, 5, name="stem")(inputs)
    x = Residual(ConvBlock(8, 1, name="pointwise"), name="residual")(x)
    x = AttentionPool1D(pool_size=2, name="pool")(x)
    x = TargetLengthCrop1D(length // 2 - 4, name="crop")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softplus", name="head")(x))
    model.compile(optimizer=keras.optimizers.Adam(LinearWarmup(1e-3, warmup_steps=10)), loss="poisson")
    rng = np.random.default_rng(0)
    x_train = np.eye(4, dtype="float32")[rng.integers(0, 4, (8, length))]
    model.fit(x_train, rng.poisson(1.0, (8, length // 2 - 4, 3)).astype("float32"), epochs=1, verbose=0)
    return model


def test_load_model_after_import_kipoi_genome_only(enformer_fixture, tmp_path):
    folder, prefix = enformer_fixture
    length = 4096
    bases = np.load(folder / "inputs.npz")["bases"]
    centre = bases.shape[1] // 2
    one_hot = np.eye(5, 4, dtype=np.float32)[bases[:, centre - length // 2 : centre + length // 2]]

    enformer = convert_enformer_checkpoint(prefix, sequence_length=length, target_length=16)
    enformer.save(tmp_path / "enformer.keras")
    logo = LogoPromoterClassifier.from_preset("logo_promoter_chr20")
    logo.save(tmp_path / "logo.keras")
    trained = _small_trained_model(length)
    trained.save(tmp_path / "trained.keras")

    fasta = "".join(open(EXAMPLE_FASTA).read().split("\n")[1:])
    sequences = [fasta[10_000:10_600], fasta[50_000:50_600].lower(), fasta[90_000:90_600]]
    registered = _registered_names()
    assert {"Enformer", "LogoPromoterClassifier", "KmerTokenizer", "LinearWarmup", "ConvBlock"} <= set(registered)
    np.savez(tmp_path / "inputs.npz", one_hot=one_hot, sequences=np.array(sequences), registered=np.array(registered))

    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_fresh_env(), timeout=600,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert result.stderr.decode() == ""  # the package import is quiet
    fresh = np.load(tmp_path / "fresh.npz")

    assert str(fresh["enformer_class"]) == "Enformer" and str(fresh["logo_class"]) == "LogoPromoterClassifier"
    assert str(fresh["schedule_class"]) == "LinearWarmup"
    assert list(fresh["unregistered"]) == []  # every @register class is known after `import kipoi_genome`
    expected = enformer.predict_on_batch(one_hot)
    assert expected["human"].shape == (2, 16, 5313) and expected["mouse"].shape == (2, 16, 1643)
    for head in ("human", "mouse"):
        np.testing.assert_array_equal(fresh[f"enformer_{head}"], expected[head])
    probabilities = np.asarray(logo.predict_sequences(sequences))
    assert probabilities.shape == (3,) and np.all((probabilities > 0) & (probabilities < 1))
    np.testing.assert_array_equal(fresh["logo"], probabilities)
    np.testing.assert_array_equal(fresh["trained"], trained.predict_on_batch(one_hot))


@pytest.mark.parametrize(
    "args, stdout, stderr",
    [
        (["--version"], f"kipoi-genome {kipoi_genome.__version__}\n", ""),
        (["predict", "--bed", "{tmp}/missing.bed", "--output", "{tmp}/out.tsv"], "",
         "kipoi-genome predict: error: {tmp}/missing.bed: BED file not found\n"),
    ],
    ids=["version", "bad-input"],
)
def test_cli_is_quiet_without_tf_cpp_min_log_level(args, stdout, stderr, tmp_path):
    """The package import (TensorFlow included) prints nothing before the CLI's own line."""
    args = [arg.format(tmp=tmp_path) for arg in args]
    result = subprocess.run(
        [sys.executable, "-m", "kipoi_genome.cli.main", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_fresh_env(), timeout=300,
    )
    assert result.stdout.decode() == stdout
    assert result.stderr.decode() == stderr.format(tmp=tmp_path)
    assert result.returncode == (0 if args == ["--version"] else 2)
    assert os.listdir(tmp_path) == []
