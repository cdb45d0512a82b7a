"""LOGO pre-training on several contigs / FASTAs: proportional draws, held-out regions, resume, warm start."""

import json

import numpy as np
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data.genome_windows import (
    RandomWindows,
    RegionWindows,
    genome_regions,
    parse_holdout,
    read_contigs,
    window_draws,
)
from kipoi_genome.tokenizers import KmerTokenizer
from kipoi_genome.training.baselines import MarkovBaseline
from kipoi_genome.training.logo_tasks import pretraining_dataset, warm_start

TINY = dict(embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=16)
LENGTHS = {"chrA": 30_000, "chrB": 12_000}


def _motif_genome(rng, length, alphabet):
    motifs = ["".join(rng.choice(list(alphabet), 40)) for _ in range(5)]
    return "".join(motifs[i] for i in rng.integers(0, 5, length // 40 + 1))[:length]


@pytest.fixture()
def two_fastas(tmp_path):
    """Two FASTAs: chrA (30 kb, an N run at 10,000-12,000) and chrB (12 kb); chrB's text has no T."""
    rng = np.random.default_rng(5)
    chr_a = _motif_genome(rng, LENGTHS["chrA"], "ACGT")
    chr_a = chr_a[:10_000] + "N" * 2_000 + chr_a[12_000:]
    chr_b = _motif_genome(rng, LENGTHS["chrB"], "ACG")
    paths = []
    for name, sequence in (("chrA", chr_a), ("chrB", chr_b)):
        path = tmp_path / f"{name}.fa"
        path.write_text(f">{name}\n" + "\n".join(sequence[i : i + 60] for i in range(0, len(sequence), 60)) + "\n")
        paths.append(path)
    return paths, {"chrA": chr_a, "chrB": chr_b}


def _sampler(sequences, regions, k=3, window_length=62, max_n_fraction=0.05):
    tokenizer = KmerTokenizer(k=k)
    return RegionWindows([
        RandomWindows(sequences[contig], start, end, tokenizer, window_length, max_n_fraction)
        for contig, start, end in regions
    ])


def test_parse_holdout_and_genome_regions():
    assert parse_holdout(None) == 10_000_000 and parse_holdout(["7000"]) == 7000
    assert parse_holdout(["9000", "chrB=3,000"]) == {"*": 9000, "chrB": 3000}
    assert parse_holdout(["chrB=3000"]) == {"*": 10_000_000, "chrB": 3000}
    for bad in (["0"], ["x"], ["=5"], ["chrB=-1"]):
        with pytest.raises(ValueError, match="--holdout"):
            parse_holdout(bad)
    train, held = genome_regions(LENGTHS, holdout={"*": 5000, "chrB": 3000})
    assert train == [("chrA", 0, 25_000), ("chrB", 0, 9_000)]
    assert held == [("chrA", 25_000, 30_000), ("chrB", 9_000, 12_000)]
    # Explicit regions (1-based inclusive) replace the holdout rule.
    train, held = genome_regions(LENGTHS, ["chrA:1-20000", "chrB:1-6000"], ["chrB:6001-12000"])
    assert train == [("chrA", 0, 20_000), ("chrB", 0, 6_000)] and held == [("chrB", 6_000, 12_000)]
    with pytest.raises(ValueError, match="overlaps"):
        genome_regions(LENGTHS, ["chrA:1-20000"], ["chrA:19001-30000"])
    with pytest.raises(ValueError, match="chrC:1-10"):
        genome_regions(LENGTHS, ["chrC:1-10"])
    with pytest.raises(ValueError, match="chrB:1-0"):  # a holdout as long as the contig
        genome_regions(LENGTHS, holdout={"*": 5000, "chrB": 12_000})
    with pytest.raises(ValueError, match="chrZ"):
        genome_regions(LENGTHS, holdout={"chrZ": 10})


def test_read_contigs_from_several_fastas(two_fastas):
    paths, sequences = two_fastas
    assert read_contigs(paths) == sequences
    assert list(read_contigs(paths, ["chrB", "chrA"])) == ["chrB", "chrA"]
    with pytest.raises(ValueError, match="contig='chrC'"):
        read_contigs(paths, ["chrC"])
    with pytest.raises(ValueError, match="once"):
        read_contigs(paths, ["chrA", "chrA"])


def test_draws_cover_both_contigs_in_proportion_and_never_enter_a_held_out_region(two_fastas):
    _, sequences = two_fastas
    train, _ = genome_regions(LENGTHS, holdout={"*": 5000, "chrB": 3000})
    windows = _sampler(sequences, train)
    counts = [len(part.valid_offsets) for part in windows.parts]
    # Usable windows, counted directly: at most 5 % N (3 of 62 bp); chrA's N run removes ~2,050 of them.
    usable = [sum(sequences[c][i : i + 62].count("N") <= 3 for i in range(s, e - 62 + 1)) for c, s, e in train]
    assert counts == usable and counts[1] == 9_000 - 62 + 1 and counts[0] < 25_000 - 2_000
    batch_size, batches = 64, 60
    offsets = np.concatenate([
        draw["offsets"].numpy() for draw in window_draws(windows, batch_size, seed=4).take(batches)
    ])
    part, local = windows.locate(offsets)
    expected = counts[1] / sum(counts)
    observed = np.mean(part == 1)
    sd = np.sqrt(expected * (1 - expected) / len(offsets))
    assert abs(observed - expected) < 4 * sd, (observed, expected)  # 3,840 draws: chrB ~ 26.6 %
    for index, (contig, start, end) in enumerate(train):
        starts = start + local[part == index]
        assert starts.min() >= start and (starts + 62).max() <= end  # never into chrA:25,001- or chrB:9,001-
    # The tokens of every row are one window of its contig's training region (either strand).
    tokenizer = windows.tokenizer
    reverse = {c: s.translate(str.maketrans("ACGT", "TGCA"))[::-1] for c, s in sequences.items()}
    seen = set()
    for features, labels, weights in pretraining_dataset(windows, batch_size=16, seed=4).take(3):
        tokens = features["token_ids"].numpy().copy()
        positions = features["mask_positions"].numpy()
        for row in range(16):
            used = weights.numpy()[row] > 0
            tokens[row, positions[row][used]] = labels.numpy()[row][used]
            text = tokenizer.detokenize(tokens[row])
            n = {c: len(sequence) for c, sequence in sequences.items()}
            hits = [c for c, s, e in train if text in sequences[c][s:e] or text in reverse[c][n[c] - e : n[c] - s]]
            assert hits, text
            seen.update(hits)
    assert seen == {"chrA", "chrB"}


def test_multi_contig_stream_resumes_exactly_and_one_region_is_the_old_stream(two_fastas):
    _, sequences = two_fastas
    train, _ = genome_regions(LENGTHS, holdout=4000)
    windows = _sampler(sequences, train)
    full = list(pretraining_dataset(windows, batch_size=8, seed=2).take(6))
    resumed = list(pretraining_dataset(windows, batch_size=8, seed=2, first_batch=4).take(2))
    for a, b in zip(full[4:], resumed):
        np.testing.assert_array_equal(a[0]["token_ids"], b[0]["token_ids"])
        np.testing.assert_array_equal(a[1], b[1])
    # One region: exactly the single-contig stream of RandomWindows (runs started before resume the same).
    single = RandomWindows(sequences["chrA"], 0, 26_000, KmerTokenizer(k=3), 62)
    wrapped = RegionWindows([single])
    for a, b in zip(pretraining_dataset(single, 8, seed=1).take(2), pretraining_dataset(wrapped, 8, seed=1).take(2)):
        np.testing.assert_array_equal(a[0]["token_ids"], b[0]["token_ids"])


def test_markov_counts_on_several_regions_are_the_summed_counts(two_fastas):
    _, sequences = two_fastas
    a, b = sequences["chrA"][:20_000], sequences["chrB"][:8_000]
    together = MarkovBaseline(4).fit_regions([(sequences["chrA"], 0, 20_000), (sequences["chrB"], 0, 8_000)])
    joined = MarkovBaseline(4).fit(a + "N" + b)  # an N splits the runs: the same k-mers counted
    for mine, theirs in zip(together.log_probs, joined.log_probs):
        np.testing.assert_allclose(mine, theirs)
    order2 = together.truncated(2)
    assert order2.order == 2 and len(order2.log_probs) == 3
    np.testing.assert_allclose(order2.log_probs[2], MarkovBaseline(2).fit(a + "N" + b).log_probs[2])


def test_pretrain_two_fastas_warm_start_and_evaluate_through_the_cli(two_fastas, tmp_path, capsys):
    from kipoi_genome.models.logo import LogoBackbone, LogoMaskedLM

    paths, sequences = two_fastas
    common = ["--k", "3", "--window-length", "62", "--batch-size", "4", "--eval-windows", "4", "--no-progress"]
    genome = ["--fasta", str(paths[0]), "--fasta", str(paths[1]), "--holdout", "5000", "--holdout", "chrB=3000"]
    first = tmp_path / "first"
    assert main(["pretrain", "logo", *genome, "--output", str(first), "--steps", "3", *common,
                 "--backbone", json.dumps(TINY)]) == 0
    result = json.loads((first / "result.json").read_text())
    assert set(result["heldout"]) == {"heldout_chrA", "heldout_chrB"}
    assert result["heldout"]["heldout_chrA"]["region"] == "chrA:25001-30000"
    assert result["heldout"]["heldout_chrB"]["region"] == "chrB:9001-12000"
    assert result["heldout"]["heldout_chrB"]["num_masked"] == 4 * 3  # 15 % of 20 tokens per window
    header = (first / "log.csv").read_text().splitlines()[0].split(",")
    assert header[4:] == ["heldout_chrA_accuracy", "heldout_chrA_perplexity",
                          "heldout_chrB_accuracy", "heldout_chrB_perplexity"]

    # Warm start: the source's weights before step 0, its backbone config (no --backbone needed).
    args, load = warm_start(first, {}, 3, 62)
    model = LogoMaskedLM(LogoBackbone(**args))
    load(model)
    source = LogoMaskedLM(LogoBackbone.from_config(json.loads((first / "model_config.json").read_text())))
    source.load_weights(first / "masked_lm.weights.h5")
    for mine, theirs in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    second = tmp_path / "second"
    capsys.readouterr()
    assert main(["pretrain", "logo", *genome, "--output", str(second), "--steps", "2", *common,
                 "--init-from", str(first / "masked_lm.weights.h5")]) == 0
    assert json.loads((second / "config.json").read_text())["init_from"].endswith("masked_lm.weights.h5")
    # A contradicting configuration is refused with one line; so is an unknown source.
    for extra, expected in ((["--backbone", json.dumps({**TINY, "hidden_dim": 32})], "hidden_dim=32 (source: 16)"),
                            (["--k", "4"], "vocabulary_size=638 (source: 138)")):
        code = main(["pretrain", "logo", *genome, "--output", str(tmp_path / "bad"), "--steps", "1",
                     *common, "--init-from", str(first), *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2 and expected in err and len(err.splitlines()) == 1, err
    code = main(["pretrain", "logo", *genome, "--output", str(tmp_path / "bad"), "--init-from", "nothing.h5"])
    assert code == 2 and "nothing.h5" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()

    # logo-evaluate on both held-out regions, Markov orders counted on both training regions.
    capsys.readouterr()
    assert main(["pretrain", "logo-evaluate", *genome, "--model", str(first / "masked_lm.keras"),
                 "--windows", "6", "--window-length", "62", "--orders", "2,4"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert list(evaluation["regions"]) == ["chrA:25001-30000", "chrB:9001-12000"]
    assert evaluation["train_regions"] == ["chrA:1-25000", "chrB:1-9000"]
    from kipoi_genome.training.logo_tasks import heldout_masked_set

    chain = MarkovBaseline(4).fit_regions([(sequences["chrA"], 0, 25_000), (sequences["chrB"], 0, 9_000)])
    heldout = heldout_masked_set(sequences["chrB"], 9_000, 12_000, KmerTokenizer(k=3), 6, 62, seed=1234)
    region = evaluation["regions"]["chrB:9001-12000"]
    assert region["num_masked"] == heldout.weights.sum() == 6 * 3
    assert region["markov_order_4"]["accuracy"] == pytest.approx(chain.accuracy(heldout, 3))
    order2 = MarkovBaseline(2).fit(sequences["chrA"][:25_000] + "N" + sequences["chrB"][:9_000])
    assert region["markov_order_2"]["accuracy"] == pytest.approx(order2.accuracy(heldout, 3))
