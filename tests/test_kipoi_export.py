"""`kipoi-genome export-kipoi`: rendered directories pass `kipoi test` and predict the Keras numbers."""

import os
import pathlib
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import yaml

from kipoi_genome.cli.main import main
from kipoi_genome.export.kipoi.spec import interval_dataloader_spec, md5sum
from kipoi_genome.models import Enformer
from kipoi_genome.models.enformer import SEQUENCE_LENGTH, TARGET_LENGTH
from kipoi_genome.models.enformer.enformer import HEADS

pytest.importorskip("kipoi", reason="kipoi not installed: pip install -e '.[kipoi]'")

REPO = pathlib.Path(__file__).resolve().parents[1]
TOL = 1e-6


def kipoi_cli(*args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KIPOI_GENOME_ENFORMER_WEIGHTS", None)
    result = subprocess.run([sys.executable, "-m", "kipoi", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def tsv_preds(path, heads):
    """`preds/<head>/<bin>/<track>` columns of a kipoi TSV -> dict of [N, bins, tracks]."""
    lines = pathlib.Path(path).read_text().splitlines()
    names = lines[0].split("\t")
    values = [line.split("\t") for line in lines[1:]]
    out = {head: np.zeros((len(values), *shape), "float64") for head, shape in heads.items()}
    for column, name in enumerate(names):
        parts = name.split("/")
        if parts[0] == "preds":
            for row, fields in enumerate(values):
                out[parts[1]][row, int(parts[2]), int(parts[3])] = float(fields[column])
    return out


def test_export_kipoi_tiny_passes_kipoi_test_and_predict(tmp_path, capsys):
    keras.utils.set_random_seed(6)
    model = Enformer.from_preset("enformer_tiny")
    weights = str(tmp_path / "tiny.keras")
    model.save(weights)
    out = str(tmp_path / "TinyEnformer")
    assert main(["export-kipoi", "--model", weights, "--output", out]) == 0
    assert sorted(os.listdir(out)) == [
        "dataloader.py", "dataloader.yaml", "example_files", "model.py", "model.yaml", "tiny.keras"
    ]
    spec = yaml.safe_load(pathlib.Path(out, "model.yaml").read_text())
    assert spec["args"] == {"weights": "tiny.keras"}  # a copy inside the directory, named relative to it
    assert spec["schema"]["inputs"]["shape"] == "(8192, 4)"
    assert spec["schema"]["targets"]["human"]["shape"] == "(16, 8)"

    assert "Successfully ran test_predict" in kipoi_cli("test", out, "--source", "dir", cwd=tmp_path)
    examples = pathlib.Path(out, "example_files")
    args = f'{{"intervals_file": "{examples / "intervals.bed"}", "fasta_file": "{examples / "genome.fa"}"}}'
    kipoi_cli(
        "predict", out, "--source", "dir", "--dataloader_args", args, "--keep_inputs", "--keep_metadata",
        "-o", str(tmp_path / "p.tsv"), str(tmp_path / "p.h5"), cwd=tmp_path,
    )
    with h5py.File(tmp_path / "p.h5") as h5:
        inputs = h5["inputs"][:]
        h5_preds = {k: h5["preds"][k][:] for k in ("human", "mouse")}
    expected = model.predict_on_batch(inputs[:, 2048:6144])
    assert inputs.shape == (1, 8192, 4)
    for head in ("human", "mouse"):
        assert float(np.max(np.abs(h5_preds[head] - expected[head]))) <= TOL
    from_tsv = tsv_preds(tmp_path / "p.tsv", {"human": (16, 8), "mouse": (16, 4)})
    for head in ("human", "mouse"):
        assert float(np.max(np.abs(from_tsv[head] - expected[head]))) <= TOL


def test_export_kipoi_publish_form_and_errors(tmp_path, capsys):
    keras.utils.set_random_seed(7)
    weights = str(tmp_path / "tiny.keras")
    Enformer.from_preset("enformer_tiny").save(weights)
    out = str(tmp_path / "published")
    url = "https://example.org/releases/tiny.keras"
    assert main(["export-kipoi", "--model", weights, "--output", out, "--weights-url", url]) == 0
    spec = yaml.safe_load(pathlib.Path(out, "model.yaml").read_text())
    assert spec["args"] == {"weights": url, "md5": md5sum(weights)}
    capsys.readouterr()
    for argv, message in [
        (["--model", weights, "--output", out], "not empty"),
        (["--model", "enformer_tiny", "--output", str(tmp_path / "x")], "ships no weights"),
        (["--model", weights, "--output", str(tmp_path / "x"), "--weights-url", "ftp://a/b"], "http(s) URL"),
        (["--model", weights, "--output", str(tmp_path / "x"), "--input-length", "4097"], "input_length=4097"),
    ]:
        assert main(["export-kipoi", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_committed_enformer_spec_matches_the_model_and_renderer():
    spec = yaml.safe_load((REPO / "model_defs" / "Enformer" / "model.yaml").read_text())
    assert spec["schema"]["inputs"]["shape"] == f"({2 * SEQUENCE_LENGTH}, 4)"
    assert {k: v["shape"] for k, v in spec["schema"]["targets"].items()} == {
        head: f"({TARGET_LENGTH}, {tracks})" for head, tracks in HEADS.items()
    }
    for key in ("authors", "doc", "cite_as", "license"):
        assert spec["info"][key]
    dataloader = yaml.safe_load((REPO / "dataloaders" / "enformer_intervals" / "dataloader.yaml").read_text())
    rendered = interval_dataloader_spec(2 * SEQUENCE_LENGTH)
    assert dataloader["args"].keys() == rendered["args"].keys()
    for name, arg in rendered["args"].items():
        assert dataloader["args"][name].get("default") == arg.get("default"), name
    assert dataloader["output_schema"]["inputs"]["shape"] == rendered["output_schema"]["inputs"]["shape"]


def test_interval_kmer_dataloader_tokens():
    """The k-mer Kipoi dataloader gives the tokenizer's ids of each resized window, batched by kipoi."""
    from kipoi_genome.data import FastaExtractor
    from kipoi_genome.export.kipoi.dataloaders import IntervalKmer
    from kipoi_genome.tokenizers import KmerTokenizer
    from tests.conftest import TEST_DATA

    dataset = IntervalKmer(TEST_DATA / "tiny.bed", TEST_DATA / "tiny.fa", k=3, auto_resize_len=20)
    sample = dataset[0]
    assert sample["inputs"].dtype == np.int32
    assert sample["inputs"].shape == (3, (20 - 2) // 3)
    window = dataset.intervals[0]
    assert window.width == 20
    sequence = FastaExtractor(TEST_DATA / "tiny.fa").extract(window.chrom, window.start, window.end)
    np.testing.assert_array_equal(sample["inputs"], KmerTokenizer(k=3).tokenize(sequence))
    batches = list(dataset.batch_iter(batch_size=5))
    assert batches[0]["inputs"].shape == (5, 3, 6)

