"""`chunked_inference.embed`, `predict --output-embeddings`, `predict --format bigwig` and Parquet outputs."""

import h5py
import keras
import numpy as np
import pandas as pd
import pyBigWig
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.models import Enformer
from kipoi_genome.models.enformer.chunked_inference import embed, predict_on_batch

LENGTH, BINS, BIN = 2048, 8, 128


def tiny_enformer(**kwargs):
    return Enformer(
        channels=48, num_transformer_layers=1, num_heads=2, heads={"human": 3, "mouse": 2},
        sequence_length=LENGTH, target_length=BINS, filter_divisible_by=8, **kwargs,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model = tiny_enformer()
    path = tmp_path_factory.mktemp("outputs") / "tiny.keras"
    model.save(path)
    return model, str(path)


def random_one_hot(batch, seed=0):
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(batch, LENGTH))]
    x[:, :100] = 0.0  # a run of N
    return x


@pytest.mark.parametrize("chunk", [None, 512])
def test_embed_equals_trunk_output_of_forward_pass(chunk):
    model = tiny_enformer(inference_chunk_length=chunk)
    x = random_one_hot(2)
    embeddings = np.asarray(embed(model, x))
    assert embeddings.shape == (2, BINS, 2 * 48)
    # The tensor entering the heads in the model's own functional graph.
    trunk = keras.Model(model.input, model.get_layer("head_human").input)
    np.testing.assert_allclose(embeddings, trunk.predict_on_batch(x), rtol=1e-4, atol=1e-5)
    predictions = predict_on_batch(model, x)
    for organism in ("human", "mouse"):
        heads = np.asarray(model.get_layer(f"head_{organism}")(embeddings))
        np.testing.assert_allclose(heads, predictions[organism], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="sequence length 2048"):
        embed(model, x[:, :1024])


@pytest.mark.large
def test_embed_published_size():
    model = Enformer.from_preset("enformer", load_weights=False)
    embeddings = embed(model, np.zeros((1, 196_608, 4), np.float32))
    assert tuple(embeddings.shape) == (1, 896, 3072)


def write_fasta(path, contigs):
    lines = []
    for name, sequence in contigs.items():
        lines.append(f">{name}")
        lines += [sequence[i : i + 60] for i in range(0, len(sequence), 60)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def one_hot(sequence):
    x = np.zeros((len(sequence), 4), np.float32)
    for i, base in enumerate(sequence):
        if base in "ACGT":
            x[i, "ACGT".index(base)] = 1.0
    return x


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = np.random.default_rng(3)
    contigs = {name: "".join(rng.choice(list("ACGT"), size)) for name, size in (("c1", 6000), ("c2", 3000))}
    folder = tmp_path_factory.mktemp("genome")
    fasta = write_fasta(folder / "g.fa", contigs)
    # c1: one region near the start (bins before 0 dropped), two overlapping
    # regions, and one at the end (last bin past the end dropped / clipped);
    # c2 listed first in the BED to check FASTA-index ordering.
    bed = folder / "r.bed"
    bed.write_text(
        "c2\t1400\t1600\tr5\t0\t+\n"
        "c1\t100\t300\tr1\t0\t+\n"
        "c1\t2000\t2200\tr2\t0\t-\n"
        "c1\t2500\t2700\tr3\t0\t+\n"
        "c1\t5700\t5950\tr4\t0\t+\n"
    )
    return contigs, fasta, str(bed)


def expected_bins(model, contigs, bed_lines, track):
    """(chrom, start, end, value) per written bin, by the documented rule, computed independently."""
    entries, starts, texts = [], [], []
    for line in bed_lines:
        chrom, start, end = line.split("\t")[:3]
        centre = int(start) + (int(end) - int(start)) // 2
        window_start = centre - LENGTH // 2
        sequence = contigs[chrom]
        starts.append((chrom, window_start))
        texts.append("".join(sequence[p] if 0 <= p < len(sequence) else "N" for p in range(window_start, window_start + LENGTH)))
    predictions = model.predict_on_batch(np.stack([one_hot(t) for t in texts]))["human"][:, :, track]
    for (chrom, window_start), values in zip(starts, predictions):
        sequence = contigs[chrom]
        for i in range(BINS):
            lo = window_start + (LENGTH - BINS * BIN) // 2 + i * BIN
            entries.append((chrom, lo, min(lo + BIN, len(sequence)), float(values[i])))
    kept = []
    for chrom in contigs:
        last = 0
        for chrom_, lo, hi, value in sorted(e for e in entries if e[0] == chrom):
            if lo < 0 or lo >= len(contigs[chrom]) or lo < last:
                continue
            kept.append((chrom_, lo, hi, value))
            last = hi
    return kept


def test_predict_bigwig_bin_for_bin(tiny, genome, tmp_path, capsys):
    model, path = tiny
    contigs, fasta, bed = genome
    out = tmp_path / "tracks"
    assert main(["predict", "--model", path, "--fasta", fasta, "--bed", bed, "--output", str(out),
                 "--format", "bigwig", "--tracks", "0,2", "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["human_0.bw", "human_2.bw"]
    assert "bins overlapping an earlier region were left out" in capsys.readouterr().err
    lines = open(bed).read().splitlines()
    for track in (0, 2):
        bw = pyBigWig.open(str(out / f"human_{track}.bw"))
        assert bw.chroms() == {"c1": 6000, "c2": 3000}
        got = [(chrom, lo, hi, value) for chrom in ("c1", "c2") for lo, hi, value in bw.intervals(chrom)]
        bw.close()
        expected = expected_bins(model, contigs, lines, track)
        assert [g[:3] for g in got] == [e[:3] for e in expected]
        assert got[-1][:3] == ("c2", 1500 - 512 + 7 * BIN, 1500 - 512 + 8 * BIN)
        assert ("c1", 5953, 6000) in [g[:3] for g in got]  # clipped at the contig end
        np.testing.assert_allclose([g[3] for g in got], [e[3] for e in expected], rtol=1e-5, atol=1e-6)


def test_predict_embeddings_h5_npy_and_parquet(tiny, genome, tmp_path):
    model, path = tiny
    contigs, fasta, bed = genome
    lines = open(bed).read().splitlines()
    h5_path, npy_path = tmp_path / "emb.h5", tmp_path / "emb.npy"
    args = ["predict", "--model", path, "--fasta", fasta, "--bed", bed, "--no-progress"]
    assert main([*args, "--output-embeddings", str(h5_path)]) == 0
    assert main([*args, "--output-embeddings", str(npy_path), "--output", str(tmp_path / "p.parquet")]) == 0
    windows = []
    for line in lines:
        chrom, start, end = line.split("\t")[:3]
        lo = int(start) + (int(end) - int(start)) // 2 - LENGTH // 2
        windows.append("".join(contigs[chrom][p] if 0 <= p < len(contigs[chrom]) else "N" for p in range(lo, lo + LENGTH)))
    x = np.stack([one_hot(w) for w in windows])
    expected = keras.Model(model.input, model.get_layer("final_gelu").output).predict_on_batch(x)
    with h5py.File(h5_path) as h5:
        np.testing.assert_allclose(h5["embeddings"][:], expected, rtol=1e-4, atol=1e-5)
        assert [v.decode() for v in h5["name"][:]] == ["r5", "r1", "r2", "r3", "r4"]
        assert list(h5["start"][:]) == [1400, 100, 2000, 2500, 5700]
    np.testing.assert_allclose(np.load(npy_path), expected, rtol=1e-4, atol=1e-5)

    table = pd.read_parquet(tmp_path / "p.parquet")
    assert list(table.columns) == ["chrom", "start", "end", "name", "strand", "human_0", "human_1", "human_2",
                                   "mouse_0", "mouse_1"]
    predictions = predict_on_batch(model, x)
    np.testing.assert_allclose(table[["human_0", "human_1", "human_2"]].to_numpy(), predictions["human"].mean(axis=1),
                               rtol=1e-5)


def test_bad_output_names_exit_2(tiny, genome, tmp_path, capsys):
    _, path = tiny
    _, fasta, bed = genome
    args = ["predict", "--model", path, "--fasta", fasta, "--bed", bed, "--no-progress"]
    assert main([*args, "--output-embeddings", str(tmp_path / "e.csv")]) == 2
    assert "--output-embeddings must end in .h5 or .npy" in capsys.readouterr().err
    assert main([*args, "--format", "bigwig"]) == 2
    assert "--format bigwig needs an --output folder" in capsys.readouterr().err
    assert main([*args, "--format", "bigwig", "--output", str(tmp_path / "t"), "--tracks", "7"]) == 2
    assert "--tracks '7': the head has tracks 0-2" in capsys.readouterr().err
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())
