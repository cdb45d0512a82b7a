"""Real track names in command outputs, and --tracks patterns / --track-table on the commands.

A full Enformer is too slow to run here; the names depend only on the head
sizes, so a tiny Enformer with the published heads (5,313 human, 1,643 mouse)
stands in for it.
"""

import gzip
import importlib.resources

import h5py
import numpy as np
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.models import Enformer

FASTA = str(importlib.resources.files("kipoi_genome").joinpath("example_data", "chr20_44080000_44220000.fa"))
CONTIG = "chr20_44080000_44220000"
REGION = f"{CONTIG}:70,001-70,128"
TINY = dict(channels=48, num_transformer_layers=1, num_heads=2, sequence_length=4096, target_length=16,
            filter_divisible_by=8)


def _expected_labels(path, head):
    """`head:identifier:description` from the shared table, parsed with plain gzip."""
    with gzip.open(path, "rt") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in handle]
    return [f"{head}:{r['identifier']}:{r['description']}" for r in rows], rows


@pytest.fixture(scope="module")
def tables(shared_dir):
    return shared_dir / "data" / "enformer"


@pytest.fixture(scope="module")
def published_heads(tmp_path_factory):
    """A tiny stand-in with the published head sizes, saved as .keras."""
    path = tmp_path_factory.mktemp("models") / "published_heads.keras"
    Enformer(heads={"human": 5313, "mouse": 1643}, **TINY).save(path)
    return str(path)


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    path = tmp_path_factory.mktemp("bed") / "regions.bed"
    path.write_text(f"{CONTIG}\t18146\t18746\tr1\t0\t+\n{CONTIG}\t60000\t62000\tr2\t0\t-\n")
    return str(path)


def test_predict_tsv_and_hdf5_carry_table_names(published_heads, bed, tables, tmp_path, monkeypatch):
    monkeypatch.setenv("KIPOI_GENOME_TRACK_TABLES", str(tables))  # the official tables, offline
    human, _ = _expected_labels(tables / "targets_human.txt.gz", "human")
    mouse, _ = _expected_labels(tables / "targets_mouse.txt.gz", "mouse")
    tsv = tmp_path / "out.tsv"
    assert main(["predict", "--model", published_heads, "--fasta", FASTA, "--bed", bed, "--output", str(tsv),
                 "--no-progress"]) == 0
    lines = tsv.read_text().splitlines()
    header = lines[0].split("\t")
    assert header == ["chrom", "start", "end", "name", "strand", *human, *mouse]
    assert len(header) == 5 + 5313 + 1643 and len(lines) == 3
    assert "human:CNhs11250:CAGE:chronic myelogenous leukemia cell line:K562" == header[5 + 4828]

    h5 = tmp_path / "out.h5"
    assert main(["predict", "--model", published_heads, "--fasta", FASTA, "--bed", bed, "--output", str(h5),
                 "--no-progress"]) == 0
    with h5py.File(h5) as handle:
        assert list(handle["human"].attrs["track_names"]) == human
        assert list(handle["mouse"].attrs["track_names"]) == mouse
        assert handle["human"].shape == (2, 16, 5313)
        # The TSV holds each track's mean over bins, in the named order.
        values = np.array(lines[1].split("\t")[5:], dtype=float)
        np.testing.assert_allclose(values[:5313], handle["human"][0].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_track_table_option_and_numeric_names(published_heads, bed, tables, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KIPOI_GENOME_TRACK_TABLES", raising=False)
    human_only = tmp_path / "human_only.keras"
    Enformer(heads={"human": 5313, "extra": 3}, **TINY).save(human_only)
    out = tmp_path / "named.tsv"
    assert main(["predict", "--model", str(human_only), "--fasta", FASTA, "--bed", bed, "--output", str(out),
                 "--track-table", str(tables / "targets_human.txt.gz"), "--no-progress"]) == 0
    header = out.read_text().splitlines()[0].split("\t")
    human, _ = _expected_labels(tables / "targets_human.txt.gz", "human")
    assert header[5:] == [*human, "extra_0", "extra_1", "extra_2"]  # a head without a table keeps numbers

    capsys.readouterr()
    mouse_table = str(tables / "targets_mouse.txt.gz")
    assert main(["predict", "--model", str(human_only), "--fasta", FASTA, "--bed", bed, "--output", str(out),
                 "--track-table", mouse_table, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"kipoi-genome predict: error: {mouse_table}: 1,643 tracks; no output head has that many "
                       "(human 5,313, extra 3)")


def test_interpret_tracks_pattern_equals_indices(published_heads, tables, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KIPOI_GENOME_TRACK_TABLES", raising=False)
    _, rows = _expected_labels(tables / "targets_human.txt.gz", "human")
    k562_cage = [i for i, r in enumerate(rows) if r["description"].startswith("CAGE:") and "K562" in r["description"]]
    base = ["interpret", "--model", published_heads, "--fasta", FASTA, "--region", REGION, "--head", "human"]
    by_pattern, by_index = tmp_path / "pattern.npz", tmp_path / "index.npz"
    table = ["--track-table", str(tables / "targets_human.txt.gz")]
    assert main([*base, "--tracks", "CAGE:*K562*", *table, "--output", str(by_pattern)]) == 0
    assert main([*base, "--tracks", ",".join(map(str, k562_cage)), *table, "--output", str(by_index)]) == 0
    pattern, index = np.load(by_pattern)["scores"], np.load(by_index)["scores"]
    assert np.abs(pattern).sum() > 0
    np.testing.assert_array_equal(pattern, index)

    capsys.readouterr()
    assert main([*base, "--tracks", "CAGE:*nowhere*", *table, "--output", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("kipoi-genome interpret: error: --tracks 'CAGE:*nowhere*' matches no track description "
                       "in the table (5,313 tracks)")
    assert not (tmp_path / "x.npz").exists()


def test_score_variants_columns_carry_table_names(published_heads, tables, tmp_path, monkeypatch):
    monkeypatch.setenv("KIPOI_GENOME_TRACK_TABLES", str(tables))
    with open(FASTA) as handle:
        sequence = "".join(line.strip() for line in handle if not line.startswith(">"))
    vcf = tmp_path / "calls.vcf"
    records = []
    for pos in (20_001, 70_001):  # 1-based
        ref = sequence[pos - 1].upper()
        alt = "A" if ref != "A" else "C"
        records.append(f"{CONTIG}\t{pos}\tv{pos}\t{ref}\t{alt}\t.\tPASS\t.\n")
    vcf.write_text(f"##fileformat=VCFv4.2\n##contig=<ID={CONTIG},length=140000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(records))
    out = tmp_path / "scores.tsv"
    assert main(["score-variants", "--model", published_heads, "--fasta", FASTA, "--vcf", str(vcf),
                 "--output", str(out), "--no-progress"]) == 0
    lines = out.read_text().splitlines()
    human, _ = _expected_labels(tables / "targets_human.txt.gz", "human")
    mouse, _ = _expected_labels(tables / "targets_mouse.txt.gz", "mouse")
    assert lines[0].split("\t") == ["chrom", "pos", "id", "ref", "alt", *human, *mouse]
    assert len(lines) == 3
