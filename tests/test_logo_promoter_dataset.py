"""Promoter data set builder (negative kinds gc, gc_cpg, shuffled), metrics and the k-mer baseline."""

import collections
import json

import keras
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kipoi_genome.cli.main import main
from kipoi_genome.data.genome_windows import read_contig
from kipoi_genome.data.promoters import (
    build_promoter_dataset,
    check_promoter_dataset,
    cpg_count,
    gc_fraction,
    matched_positives,
    matching_report,
    parse_shifts,
    read_tss_bed,
)
from kipoi_genome.models import LogoPromoterClassifier
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


# Negative kinds ----------------------------------------------------------------------


def _dinucleotides(sequence):
    return collections.Counter(sequence[i : i + 2] for i in range(len(sequence) - 1))


def _pairs(table, kind, prefix):
    """(positive, negative) rows paired through the negative's name."""
    positives = table[table["label"] == 1].set_index("name")
    negatives = table[table["negative_kind"] == kind]
    return [(positives.loc[name[len(prefix):]], row) for name, row in zip(negatives["name"], negatives.itertuples())]


def test_negative_kinds_on_a_synthetic_contig(contig):
    sequence, tss = contig
    options = dict(test_length=100_000, valid_length=50_000, min_tss_distance=2_000, num_candidates=20_000)
    default = build_promoter_dataset(sequence, "chrT", tss, **options)
    table = build_promoter_dataset(sequence, "chrT", tss, negatives="gc,gc_cpg,shuffled", **options)
    assert check_promoter_dataset(table)
    # The gc rows (and positives) are the default table's, whatever else is asked for.
    kept = table[table["negative_kind"].isin(["", "gc"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, default)
    assert set(default["negative_kind"]) == {"", "gc"}
    assert (table["cpg"] == table["sequence"].map(lambda s: s.count("CG"))).all()
    positives = table[table["label"] == 1]
    counts = table.groupby(["split", "negative_kind"], observed=True).size()
    for split in ("train", "valid", "test"):
        n = (positives["split"] == split).sum()
        assert counts[split, "gc"] == counts[split, "shuffled"] == n
        assert 0 < counts[split, "gc_cpg"] <= n
    # gc_cpg: every pair within GC 0.02 and CpG max(2, 10 %), in the positive's split, >= 2 kb from every TSS.
    pairs = _pairs(table, "gc_cpg", "neg_gc_cpg_")
    assert len(pairs) == counts[:, "gc_cpg"].sum()
    for positive, negative in pairs:
        assert abs(negative.gc - positive["gc"]) <= 0.02 + 1e-12
        assert abs(negative.cpg - positive["cpg"]) <= max(2, 0.1 * positive["cpg"])
        assert negative.split == positive["split"]
        assert np.abs(tss["tss"].to_numpy() - negative.start).min() >= 2_000
        assert np.abs(tss["tss"].to_numpy() - negative.end).min() >= 2_000
    # shuffled: the positive's coordinates, split, exact dinucleotide counts; another sequence; no motif left.
    for positive, negative in _pairs(table, "shuffled", "shuffled_"):
        assert (negative.start, negative.end, negative.split) == (positive["start"], positive["end"], positive["split"])
        assert _dinucleotides(negative.sequence) == _dinucleotides(positive["sequence"])
        assert negative.sequence != positive["sequence"] and negative.gc == positive["gc"]
    shuffled = table[table["negative_kind"] == "shuffled"]
    assert not (shuffled["sequence"].str[160 : 160 + len(MOTIF)] == MOTIF).any()
    report = matching_report(table)
    assert report.loc[("test", "shuffled"), "cpg_difference"] == 0
    assert abs(report.loc[("train", "gc_cpg"), "gc_difference"]) <= 0.02


def test_check_promoter_dataset_catches_a_leaking_or_altered_shuffle(contig):
    sequence, tss = contig
    table = build_promoter_dataset(sequence, "chrT", tss, test_length=100_000, valid_length=50_000,
                                   min_tss_distance=2_000, num_candidates=20_000, negatives=("shuffled",))
    assert set(table["negative_kind"]) == {"", "shuffled"} and check_promoter_dataset(table)
    row = table.index[table["negative_kind"] == "shuffled"][0]
    moved = table.copy()
    moved["split"] = moved["split"].astype(str)
    moved.loc[row, "split"] = "test" if moved.loc[row, "split"] != "test" else "train"
    with pytest.raises(ValueError, match="is in split"):
        check_promoter_dataset(moved)
    altered = table.copy()
    text = altered.loc[row, "sequence"]
    altered.loc[row, "sequence"] = text[:300] + ("C" if text[300] == "A" else "A") + text[301:]  # one base changed
    with pytest.raises(ValueError, match="dinucleotide counts"):
        check_promoter_dataset(altered)
    with pytest.raises(ValueError, match="Received: 'gc,random'"):
        build_promoter_dataset(sequence, "chrT", tss, negatives="gc,random")


def _reverse_complement(text):
    return text.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def test_train_shifts_copy_train_windows_along_their_strand(contig):
    sequence, tss = contig
    options = dict(test_length=100_000, valid_length=50_000, min_tss_distance=2_000, num_candidates=20_000,
                   negatives="gc,gc_cpg,shuffled")
    design = build_promoter_dataset(sequence, "chrT", tss, **options)
    table = build_promoter_dataset(sequence, "chrT", tss, train_shifts=(-30, 45), **options)
    assert check_promoter_dataset(table)
    # The design's rows are unchanged by the option; copies are train rows only.
    pd.testing.assert_frame_equal(table[table["shift"] == 0].reset_index(drop=True), design)
    copies = table[table["shift"] != 0]
    assert set(copies["split"]) == {"train"} and set(copies["shift"]) == {-30, 45}
    train = design[(design["split"] == "train")].set_index("name")
    genomic = copies[copies["negative_kind"] != "shuffled"]
    # Every train positive is copied at both offsets here (none is near the train region's end or an N).
    assert len(genomic[genomic["label"] == 1]) == 2 * (train["label"] == 1).sum() > 0
    sites = np.sort(tss["tss"].to_numpy())
    for row in genomic.itertuples():
        name, shift = row.name.rsplit("@", 1)
        source = train.loc[name]
        assert int(shift) == row.shift and row.strand == source["strand"] and row.label == source["label"]
        step = row.shift if row.strand == "+" else -row.shift
        assert (row.start, row.end) == (source["start"] + step, source["end"] + step)
        window = sequence[row.start : row.end]
        assert row.sequence == (window if row.strand == "+" else _reverse_complement(window))
        assert row.cpg == row.sequence.count("CG") and row.gc == pytest.approx(gc_fraction(row.sequence))
        if row.label == 0:
            assert np.abs(sites - row.start).min() >= 2_000 and np.abs(sites - row.end).min() >= 2_000
    # A shifted positive moves its TSS: the motif 40 bp upstream of the TSS sits at 160 - shift.
    shifted_positives = genomic[genomic["label"] == 1]
    for shift in (-30, 45):
        part = shifted_positives[shifted_positives["shift"] == shift]
        assert (part["sequence"].str[160 - shift : 160 - shift + len(MOTIF)] == MOTIF).all()
    # Each shifted positive has its own shuffle, with its dinucleotide counts.
    shuffles = copies[copies["negative_kind"] == "shuffled"].set_index("name")
    assert len(shuffles) == len(shifted_positives)
    for row in shifted_positives.itertuples():
        shuffle = shuffles.loc["shuffled_" + row.name]
        assert shuffle["sequence"] != row.sequence
        assert _dinucleotides(shuffle["sequence"]) == _dinucleotides(row.sequence)
    # matching_report describes the design only.
    pd.testing.assert_frame_equal(matching_report(table), matching_report(design))
    leaked = table.copy()
    leaked["split"] = leaked["split"].astype(str)
    leaked.loc[leaked.index[leaked["shift"] != 0][0], "split"] = "valid"
    with pytest.raises(ValueError, match="not in the train split"):
        check_promoter_dataset(leaked)


@pytest.mark.parametrize("text", ["0,20", "20,20", "300", "-20,x", ","])
def test_parse_shifts_rejects_bad_offsets(text):
    with pytest.raises(ValueError, match=f"Received: {text!r}"):
        parse_shifts(text)


def test_parse_shifts():
    assert parse_shifts("-60,-20,20,60") == (-60, -20, 20, 60) and parse_shifts("") == ()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="-+0123456789, x", max_size=20))
def test_parse_shifts_gives_valid_offsets_or_a_value_error(text):
    try:
        shifts = parse_shifts(text)
    except ValueError as error:
        assert repr(text) in str(error)
        return
    assert len(set(shifts)) == len(shifts) and all(0 < abs(s) < 300 for s in shifts)


# The commands ---------------------------------------------------------------------

TINY = dict(vocabulary_size=3138, embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=32,
            max_sequence_length=128)


@pytest.fixture(scope="module")
def genome_files(contig, tmp_path_factory):
    sequence, tss = contig
    folder = tmp_path_factory.mktemp("promoter_genome")
    fasta, bed = folder / "genome.fa", folder / "tss.bed"
    fasta.write_text(">chrT\n" + "\n".join(sequence[i : i + 60] for i in range(0, len(sequence), 60)) + "\n")
    bed.write_text("".join(f"chrT\t{r.tss}\t{r.tss + 1}\t{r.name}\t0\t{r.strand}\t{r.gene_type}\n"
                           for r in tss.itertuples()))
    return fasta, bed


def _pair_auroc(positive_scores, negative_scores):
    """AUROC by its definition: the fraction of (positive, negative) pairs ordered right, ties half."""
    p, n = np.asarray(positive_scores, float)[:, None], np.asarray(negative_scores, float)[None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def test_promoters_build_and_evaluate_through_the_cli(genome_files, tmp_path, capsys):
    fasta, bed = genome_files
    table_path = tmp_path / "promoters.csv.gz"
    assert main([
        "promoters", "build", "--fasta", str(fasta), "--tss", str(bed), "--output", str(table_path),
        "--test-length", "100000", "--valid-length", "50000", "--min-tss-distance", "2000",
        "--negatives", "shuffled,gc_cpg",
    ]) == 0
    report = capsys.readouterr().out
    assert "gc_cpg" in report and "cpg_difference" in report
    table = pd.read_csv(table_path, keep_default_na=False)
    assert list(table.columns) == ["chrom", "start", "end", "strand", "name", "gene_type", "label", "negative_kind",
                                   "gc", "cpg", "split", "shift", "sequence"]
    assert (table["shift"] == 0).all()
    assert set(table["negative_kind"]) == {"", "gc_cpg", "shuffled"} and check_promoter_dataset(table)

    keras.utils.set_random_seed(5)
    model = LogoPromoterClassifier(TINY, pooling="mean")
    model_path = tmp_path / "tiny.keras"
    model.save(model_path)
    output = tmp_path / "eval.json"
    assert main(["promoters", "evaluate", "--model", str(model_path), "--data", str(table_path), "--output",
                 str(output), "--scores", str(tmp_path / "scores.tsv"), "--no-progress"]) == 0
    result = json.loads(output.read_text())
    test = table[table["split"] == "test"]
    scores = pd.Series(model.predict_sequences(list(test["sequence"])), index=test.index)
    positive = test["label"] == 1
    for kind in ("gc_cpg", "shuffled"):
        negative = test["negative_kind"] == kind
        entry = result["by_negative_kind"][kind]
        assert (entry["n_positive"], entry["n_negative"]) == (positive.sum(), negative.sum())
        assert entry["auroc"] == pytest.approx(_pair_auroc(scores[positive], scores[negative]), abs=1e-6)
        spearman = scores[negative].rank().corr(test.loc[negative, "cpg"].rank())
        assert entry["spearman_cpg"] == pytest.approx(spearman, abs=1e-6)
        drawn_for = positive & test["name"].isin(test.loc[negative, "name"].str.split("_").str[-1])
        assert entry["matched_positives"]["n_positive"] == drawn_for.sum() > 0
        assert entry["matched_positives"]["auroc"] == pytest.approx(
            _pair_auroc(scores[drawn_for], scores[negative]), abs=1e-6)
    assert result["all_negatives"]["auroc"] == pytest.approx(_pair_auroc(scores[positive], scores[~positive]), abs=1e-6)
    written = pd.read_csv(tmp_path / "scores.tsv", sep="\t", keep_default_na=False)
    assert len(written) == len(test) and "sequence" not in written.columns
    np.testing.assert_allclose(written["probability"], scores, rtol=1e-5)


def test_promoters_bad_inputs_exit_2_with_one_line(genome_files, tmp_path, capsys):
    fasta, bed = genome_files
    out = tmp_path / "p.csv"
    code = main(["promoters", "build", "--fasta", str(fasta), "--tss", str(bed), "--output", str(out),
                 "--negatives", "gc,dinucleotide"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'gc,dinucleotide'" in err[0] and not out.exists()
    code = main(["promoters", "build", "--fasta", str(fasta), "--tss", str(bed), "--output", str(out),
                 "--train-shifts", "20,0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'20,0'" in err[0] and not out.exists()
    table = tmp_path / "t.csv"
    table.write_text("sequence,label,split,cpg\nACGTACGTAC,1,test,3\nACGTACGTAA,0,test,many\n")
    code = main(["promoters", "evaluate", "--model", "logo_promoter_chr20", "--data", str(table)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "t.csv:3: cpg must be a number (value 'many')" in err[0]
    table.write_text("sequence,label,split\nACGTACGTAC,1,test\nACGTACGTAA,0,test\n")
    code = main(["promoters", "evaluate", "--model", "logo_5mer_chr20_mlm", "--data", str(table)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "promoters evaluate runs a LOGO sequence classifier" in err[-1]


# Real data: GRCh37 chr20 and its GENCODE TSSs ---------------------------------------


@pytest.fixture(scope="module")
def chr20_tables(shared_dir):
    sequence, contig = read_contig(str(shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"))
    tss = read_tss_bed(shared_dir / "data" / "annotation" / "GRCh37_chr20_gencode_tss.bed")
    default = build_promoter_dataset(sequence, contig, tss)
    table = build_promoter_dataset(sequence, contig, tss, negatives=("gc", "gc_cpg", "shuffled"))
    return default, table, tss


def test_chr20_negatives_match_the_positives_gc_and_cpg(chr20_tables):
    default, table, tss = chr20_tables
    assert check_promoter_dataset(table)
    # The default table (docs/logo.md section 2) is unchanged by the other kinds.
    pd.testing.assert_frame_equal(table[table["negative_kind"].isin(["", "gc"])].reset_index(drop=True), default)
    counts = table.groupby(["split", "negative_kind"], observed=True).size()
    assert counts.loc[:, ""].tolist() == [548, 51, 157] and counts.loc[:, "gc"].tolist() == [548, 51, 156]
    assert counts.loc[:, "shuffled"].tolist() == [548, 51, 157]
    # Measured: 487 / 45 / 131 positives find a window >= 5 kb from every TSS within GC 0.02 and
    # CpG max(2, 10 %); the others are CpG-island promoters (>= 51 CpGs per 600 bp) with no such window.
    assert counts.loc[:, "gc_cpg"].tolist() == [487, 45, 131]
    positives = table[table["label"] == 1]
    genomic = table[table["negative_kind"].isin(["gc", "gc_cpg"])]
    sites = np.sort(tss["tss"].to_numpy())
    for edge in (genomic["start"].to_numpy(), genomic["end"].to_numpy()):
        nearest = np.searchsorted(sites, edge)
        distance = np.minimum(np.abs(edge - sites[np.clip(nearest - 1, 0, len(sites) - 1)]),
                              np.abs(sites[np.clip(nearest, 0, len(sites) - 1)] - edge))
        assert distance.min() >= 5_000
    for split in ("train", "valid", "test"):
        part = table[table["split"] == split]
        matched = part[matched_positives(part, "gc_cpg")]
        negatives = part[part["negative_kind"] == "gc_cpg"]
        unmatched = part[(part["label"] == 1) & ~matched_positives(part, "gc_cpg")]
        # Mean GC within 0.005 and mean CpG count within 1.2 of the matched positives' (tolerance 0.02 / >= 2);
        # measured differences: GC 0.000 / -0.003 / -0.003, CpG -1.15 / -0.58 / -0.67.
        assert abs(negatives["gc"].mean() - matched["gc"].mean()) < 0.005
        assert abs(negatives["cpg"].mean() - matched["cpg"].mean()) < 1.2
        assert unmatched["cpg"].min() >= 51
        # The original gc negatives differ in CpG by 11-16 per window (measured 11.3 / 11.7 / 16.3): what the
        # first preset learned.
        gc = part[part["negative_kind"] == "gc"]
        assert part.loc[part["label"] == 1, "cpg"].mean() - gc["cpg"].mean() > 10
        assert abs(positives.loc[positives["split"] == split, "gc"].mean() - gc["gc"].mean()) < 0.025
    # Shuffled: the exact dinucleotide counts of their positive, all of them different sequences.
    shuffled = table[table["negative_kind"] == "shuffled"].set_index("name")
    by_name = positives.set_index("name")
    for name, row in shuffled.iterrows():
        source = by_name.loc[name[len("shuffled_"):]]
        assert _dinucleotides(row["sequence"]) == _dinucleotides(source["sequence"])
        assert row["sequence"] != source["sequence"] and row["split"] == source["split"]
    assert (shuffled["cpg"].to_numpy() == by_name.loc[shuffled.index.str[len("shuffled_"):], "cpg"].to_numpy()).all()
