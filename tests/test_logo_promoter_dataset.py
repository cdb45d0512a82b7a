"""Promoter data set builder, metrics and the k-mer baseline."""

import numpy as np
import pandas as pd
import pytest

from kipoi_genome.data.promoters import build_promoter_dataset, check_promoter_dataset, gc_fraction
from kipoi_genome.training.baselines import KmerLogisticRegression
from kipoi_genome.training.metrics import auroc, average_precision, binary_metrics

MOTIF = "TATAAAAGGCGCGCCGCGG"


@pytest.fixture(scope="module")
def contig():
    rng = np.random.default_rng(0)
    sequence = np.array(list("ACGT"))[rng.integers(0, 4, 400_000)]
    sequence[150_000:151_000] = "N"
    records = []
    for i, tss in enumerate(range(3_000, 395_000, 9_000)):
        strand = "+" if i % 2 else "-"
        # A promoter motif just upstream of the TSS, on the gene's strand.
        if strand == "+":
            sequence[tss - 40 : tss - 40 + len(MOTIF)] = list(MOTIF)
        else:
            rc = MOTIF.translate(str.maketrans("ACGT", "TGCA"))[::-1]
            sequence[tss + 40 - len(MOTIF) + 1 : tss + 41] = list(rc)
        records.append(("chrT", tss, f"g{i}", strand, "protein_coding" if i % 5 else "pseudogene"))
    # A second TSS 100 bp from one of the first: its window overlaps -> dropped.
    records.append(("chrT", 12_100, "dup", "-", "protein_coding"))
    tss = pd.DataFrame(records, columns=["chrom", "tss", "name", "strand", "gene_type"])
    return "".join(sequence), tss


def test_build_promoter_dataset(contig):
    sequence, tss = contig
    table = build_promoter_dataset(
        sequence, "chrT", tss, test_length=100_000, valid_length=50_000, min_tss_distance=2_000,
        num_candidates=20_000,
    )
    assert check_promoter_dataset(table)
    positives = table[table["label"] == 1]
    assert set(positives["gene_type"]) == {"protein_coding"}
    assert "dup" not in set(positives["name"])
    assert (table["sequence"].str.len() == 600).all() and not table["sequence"].str.contains("N").any()
    # Strand-aware: the motif sits 40 bp upstream of the TSS (index 200) on every positive.
    assert (positives["sequence"].str[160 : 160 + len(MOTIF)] == MOTIF).all()
    # Splits by position, balanced, GC-matched negatives.
    for split, (lo, hi) in {"train": (0, 250_000), "valid": (250_000, 300_000), "test": (300_000, 400_000)}.items():
        part = table[table["split"] == split]
        assert part["start"].min() >= lo and part["end"].max() <= hi
        assert (part["label"] == 1).sum() == (part["label"] == 0).sum() > 0
    gc = table.groupby("label")["gc"].mean()
    assert abs(gc[0] - gc[1]) < 0.02
    assert gc_fraction("GGCCAT") == pytest.approx(4 / 6)


def test_metrics_known_values():
    labels = np.array([1, 0, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    assert auroc(labels, scores) == pytest.approx(3 / 6)  # 3 of 6 positive-negative pairs ordered
    # Precision at each positive: 1/1, 2/3, 3/5 -> AP = (1 + 2/3 + 3/5) / 3.
    assert average_precision(labels, scores) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    metrics = binary_metrics(labels, scores)
    assert metrics["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert auroc([0, 1], [0.3, 0.3]) == 0.5


def test_kmer_logistic_regression_learns_a_motif():
    rng = np.random.default_rng(1)

    def sample(label):
        s = "".join(rng.choice(list("ACGT"), 200))
        return s[:60] + "GGGCGGGGCGGG" * 3 + s[96:] if label else s

    labels = rng.integers(0, 2, 400)
    sequences = [sample(y) for y in labels]
    model = KmerLogisticRegression(ks=(3, 4), cs=(0.01, 1.0))
    model.fit(sequences[:300], labels[:300], sequences[300:350], labels[300:350])
    assert auroc(labels[350:], model.predict_proba(sequences[350:])) > 0.9
