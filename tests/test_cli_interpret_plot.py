"""`kipoi-genome interpret` and `plot` on the shipped example DNA."""

import importlib.resources

import numpy as np
import pytest

from kipoi_genome.cli.main import main

EXAMPLE = importlib.resources.files("kipoi_genome") / "example_data"
FASTA = str(EXAMPLE / "chr20_44080000_44220000.fa")
BED = str(EXAMPLE / "example_regions.bed")
REGION = "chr20_44080000_44220000:18001-19000"


def run(*args):
    return main(["interpret", "--model", "enformer_tiny", "--fasta", FASTA, "--region", REGION, *args])


def read_bedgraph(path):
    lines = path.read_text().splitlines()
    assert lines[0].startswith("track type=bedGraph")
    return [line.split("\t") for line in lines[1:]]


def test_gradxinput_bedgraph_covers_the_input_window(tmp_path):
    out = tmp_path / "g.bedgraph"
    assert run("--head", "human", "--tracks", "0,2", "--output", str(out)) == 0
    rows = read_bedgraph(out)
    assert len(rows) == 4096  # enformer_tiny input length
    starts = [int(r[1]) for r in rows]
    assert starts[0] == 18000 + 500 - 2048 and starts == list(range(starts[0], starts[0] + 4096))
    assert any(float(r[3]) != 0 for r in rows)


def test_ism_npz_matches_bedgraph(tmp_path):
    from kipoi_genome.models import Enformer

    model = str(tmp_path / "tiny.keras")
    Enformer.from_preset("enformer_tiny").save(model)  # random weights: one model for both runs

    def run(*args):
        return main(["interpret", "--model", model, "--fasta", FASTA, "--region", REGION, *args])

    assert run("--head", "mouse", "--method", "ism", "--ism-width", "6", "--output", str(tmp_path / "i.npz")) == 0
    data = np.load(tmp_path / "i.npz")
    assert data["scores"].shape == (6, 4)
    np.testing.assert_allclose(data["per_base"], -data["scores"].sum(-1) / 3, rtol=1e-6)
    assert run("--head", "mouse", "--method", "ism", "--ism-width", "6", "--output", str(tmp_path / "i.bedgraph")) == 0
    rows = read_bedgraph(tmp_path / "i.bedgraph")
    np.testing.assert_allclose([float(r[3]) for r in rows], data["per_base"], rtol=1e-5)
    assert int(rows[0][1]) == int(data["start"])


def test_attention_npz(tmp_path):
    assert run("--method", "attention", "--output", str(tmp_path / "a.npz")) == 0
    maps = np.load(tmp_path / "a.npz")["attention"]
    assert maps.shape == (32, 32)
    np.testing.assert_allclose(maps.sum(-1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--output", "x.txt"], "--output must end in .bedgraph or .npz"),
        (["--bins", "5:1", "--output", "x.npz"], "--bins must be START:END"),
        (["--head", "human", "--tracks", "a", "--output", "x.npz"], "--tracks pattern 'a' needs a track table"),
        (["--tracks", "0", "--output", "x.npz"], "--tracks needs --head: the model has heads ['human', 'mouse']"),
    ],
)
def test_interpret_bad_arguments(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(*args) == 2
    assert message in capsys.readouterr().err


def test_plot_png(tmp_path, capsys):
    out = tmp_path / "region.png"
    args = ["plot", "--model", "enformer_tiny", "--fasta", FASTA, "--region", REGION, "--tracks", "0,1",
            "--track-names", "DNase,CAGE", "--genes", BED, "--contributions", "--output", str(out)]
    assert main(args) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert main([*args[:-1], str(tmp_path / "region.jpg")]) == 2
    assert main(["plot", "--model", "enformer_tiny", "--fasta", FASTA, "--region", "chr20:10-5", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--output must end in .png" in err and "1 <= start <= end" in err
