"""LOGO pre-training: random windows, masked tf.data, a tiny run on the trainer, resume, Markov baseline."""

import json

import numpy as np
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.tokenizers import MASK_ID, KmerTokenizer
from kipoi_genome.data.genome_windows import RandomWindows, read_contig
from kipoi_genome.data.intervals import Interval, parse_region
from kipoi_genome.training.baselines import MarkovBaseline
from kipoi_genome.training.logo_tasks import PretrainConfig, heldout_masked_set, pretrain, pretraining_dataset


@pytest.fixture()
def fasta(tmp_path):
    rng = np.random.default_rng(0)
    # A genome with structure: a few motifs repeated with mutations, plus N runs.
    motifs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(6)]
    parts = []
    for _ in range(600):
        motif = list(motifs[rng.integers(6)])
        for i in rng.integers(0, 40, 2):
            motif[i] = "ACGT"[rng.integers(4)]
        parts.append("".join(motif))
    sequence = "".join(parts)
    sequence = sequence[:5000] + "N" * 300 + sequence[5300:]
    path = tmp_path / "toy.fa"
    lines = [sequence[i : i + 60] for i in range(0, len(sequence), 60)]
    path.write_text(">chrT toy\n" + "\n".join(lines) + "\n")
    return path, sequence


def test_read_contig_and_region(fasta):
    path, sequence = fasta
    read, name = read_contig(path)
    assert name == "chrT" and read == sequence
    assert parse_region("chrT:1-1,000") == Interval("chrT", 0, 1000)  # 1-based inclusive, as samtools
    with pytest.raises(ValueError, match="Received"):
        parse_region("chrT:5-1")


def test_random_windows_skip_n_and_use_both_strands(fasta):
    path, sequence = fasta
    tokenizer = KmerTokenizer(k=3)
    windows = RandomWindows(sequence, 4000, 8000, tokenizer, window_length=101, max_n_fraction=0.0, seed=0)
    strands = set()
    for _ in range(200):
        window, strand, frame = windows.draw()
        assert "N" not in window and len(window) == 101 and 0 <= frame < 3
        strands.add(strand)
    assert strands == {0, 1}
    batch = next(iter(pretraining_dataset(windows, batch_size=4, seed=1)))
    features, labels, weights = batch
    assert features["token_ids"].shape == (4, 33)
    assert features["mask_positions"].shape == labels.shape == weights.shape == (4, 5)


def test_pretraining_dataset_rows_are_windows_of_the_region(fasta):
    """Every row is one reading frame of a window (either strand) without N; masks follow (seed, batch)."""
    _, sequence = fasta
    tokenizer = KmerTokenizer(k=3)
    windows = RandomWindows(sequence, 4000, 8000, tokenizer, window_length=101, max_n_fraction=0.0)
    region = sequence[4000:8000]
    reverse = region.translate(str.maketrans("ACGT", "TGCA"))[::-1]
    assert windows.valid_offsets.min() == 0 and "N" not in region[: 101]
    n_start = 1000  # the N run covers 5,000-5,300, i.e. offsets 1,000-1,300 of the region
    assert not ((windows.valid_offsets > n_start - 101) & (windows.valid_offsets < n_start + 300)).any()
    batches = list(pretraining_dataset(windows, batch_size=8, seed=3, first_batch=5).take(4))
    strands = set()
    for features, labels, weights in batches:
        tokens = features["token_ids"].numpy().copy()
        positions = features["mask_positions"].numpy()
        for row in range(8):
            used = weights.numpy()[row] > 0
            tokens[row, positions[row][used]] = labels.numpy()[row][used]  # undo the masking
            text = tokenizer.detokenize(tokens[row])
            assert len(text) == 33 * 3 and "N" not in text
            on_forward, on_reverse = text in region, text in reverse
            assert on_forward or on_reverse
            strands.add("+" if on_forward else "-")
    assert strands == {"+", "-"}
    # A resumed stream (first_batch=6) continues exactly.
    resumed = next(iter(pretraining_dataset(windows, batch_size=8, seed=3, first_batch=6)))
    np.testing.assert_array_equal(resumed[0]["token_ids"], batches[1][0]["token_ids"])
    np.testing.assert_array_equal(resumed[1], batches[1][1])


def test_tiny_pretraining_lowers_loss_and_resumes(fasta, tmp_path):
    path, _ = fasta
    config = PretrainConfig(
        fasta=str(path),
        output=str(tmp_path / "run"),
        holdout=6000,
        k=3,
        window_length=122,
        steps=60,
        batch_size=16,
        learning_rate=3e-3,
        warmup_steps=5,
        checkpoint_every=30,
        eval_windows=8,
        backbone=dict(embedding_dim=16, hidden_dim=32, num_heads=2, intermediate_dim=64),
        progress=False,
    )
    result = pretrain(config)
    log = np.genfromtxt(tmp_path / "run" / "log.csv", delimiter=",", names=True)
    # Starts at about ln(138) = 4.93 (uniform over the k = 3 vocabulary).
    assert log["loss"][-1] < log["loss"][0] - 0.2
    assert log["loss"][-1] < np.log(138) - 0.5
    assert result["step"] == 60 and 0.0 <= result["heldout"]["accuracy"] <= 1.0
    assert (tmp_path / "run" / "masked_lm.weights.h5").exists()
    # Resume: the step counter continues from the checkpoint.
    config.steps = 65
    assert pretrain(config)["step"] == 65


def test_cli_help_and_tiny_run(fasta, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["pretrain", "logo", "--help"])
    assert "--fasta" in capsys.readouterr().out
    path, _ = fasta
    code = main([
        "pretrain", "logo", "--fasta", str(path), "--output", str(tmp_path / "cli"),
        "--holdout", "6000", "--k", "3", "--window-length", "62", "--steps", "2",
        "--batch-size", "4", "--eval-windows", "2", "--no-progress",
        "--backbone", json.dumps(dict(embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=16)),
    ])
    assert code == 0
    assert json.loads((tmp_path / "cli" / "result.json").read_text())["step"] == 2


def test_mixed_precision_run_writes_a_float32_model(fasta, tmp_path):
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM

    path, _ = fasta
    output = tmp_path / "mixed"
    code = main([
        "pretrain", "logo", "--fasta", str(path), "--output", str(output), "--mixed-precision",
        "--holdout", "6000", "--k", "3", "--window-length", "62", "--steps", "3",
        "--batch-size", "4", "--eval-windows", "2", "--no-progress",
        "--backbone", json.dumps(dict(embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=16)),
    ])
    assert code == 0
    assert json.loads((output / "config.json").read_text())["mixed_precision"] is True
    log = np.genfromtxt(output / "log.csv", delimiter=",", names=True)
    assert np.isfinite(log["loss"]).all()
    # The saved configuration builds a float32 model that takes the weights.
    backbone_config = json.loads((output / "model_config.json").read_text())
    assert "dtype" not in backbone_config
    model = LogoMaskedLM(LogoBackbone.from_config(backbone_config))
    model.load_weights(output / "masked_lm.weights.h5")
    assert model.backbone.compute_dtype == "float32"
    assert {w.dtype for w in model.weights} == {"float32"}


def test_markov_baseline_sees_only_visible_context(fasta):
    path, sequence = fasta
    tokenizer = KmerTokenizer(k=3)
    masked = heldout_masked_set(sequence, 18000, len(sequence), tokenizer, num_windows=16, window_length=122, seed=3)
    selected = np.take_along_axis(masked.features["token_ids"], masked.features["mask_positions"], 1)
    assert (selected[masked.weights > 0] == MASK_ID).all()  # evaluation masks are all [MASK]
    unigram = MarkovBaseline(0).fit(sequence, 0, 18000).accuracy(masked, 3)
    order4 = MarkovBaseline(4).fit(sequence, 0, 18000).accuracy(masked, 3)
    assert order4 > unigram  # the motif genome is predictable from context
    # A perfectly repetitive genome is predicted perfectly from context.
    repeat = "ACGTTGCAGG" * 300
    masked = heldout_masked_set(repeat, 2000, 3000, tokenizer, num_windows=4, window_length=62, seed=0)
    assert MarkovBaseline(6).fit(repeat, 0, 2000).accuracy(masked, 3) > 0.9
