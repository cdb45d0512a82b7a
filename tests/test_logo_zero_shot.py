"""Zero-shot LOGO variant scores: SNVs and indels against an explicit re-computation.

The re-computation shares no code with the package beyond the model's
forward pass: the windows are cut from the gzipped FASTA read here, the k-mer
ids come from the vocabulary file's token list, the masked rows and spans are
built with NumPy and plain Python, and the log-softmax is summed in float64.
"""

import gzip

import keras
import numpy as np
import pytest

from kipoi_genome.data import FastaExtractor, Variant
from kipoi_genome.interpret import ScoringSummary, score_variants
from kipoi_genome.interpret.logo_scorers import ZeroShotScorer
from kipoi_genome.models import LogoBackbone, LogoMaskedLM
from kipoi_genome.models.logo.logo_variant_scoring import allele_spans, zero_shot_variant_scores
from kipoi_genome.tokenizers.kmer_tokenizer import load_vocabulary

WINDOW = 1004  # ZeroShotScorer's default: 200 tokens per frame at k = 5
K = 5


def read_records(path, keep, count):
    """The first `count` (chrom, pos, ref, alt) of a gzipped VCF for which `keep(ref, alt)` holds."""
    records = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            chrom, pos, _, ref, alt = line.split("\t")[:5]
            if keep(ref, alt):
                records.append((chrom, int(pos), ref, alt))
            if len(records) == count:
                return records
    raise AssertionError(f"{path} has fewer than {count} such records")


def read_chr20(path):
    with gzip.open(path, "rt") as handle:
        assert next(handle).startswith(">chr20")
        return "".join(line.strip() for line in handle).upper()


def revcomp(sequence):
    return sequence[::-1].translate(str.maketrans("ACGT", "TGCA"))


def explicit_rows(vocabulary, chromosome, pos, ref, alt):
    """The documented score's masked rows, spelled out: `(allele, row ids [m], masked slots, target ids)`."""
    ids = {token: i for i, token in enumerate(vocabulary)}
    mask_id = vocabulary.index("[MASK]")
    anchor = WINDOW // 2
    start = pos - 1 - anchor
    ref_window = chromosome[start : start + WINDOW]
    alt_window = (chromosome[start : pos - 1] + alt + chromosome[pos - 1 + len(ref) :])[:WINDOW]
    assert ref_window[anchor : anchor + len(ref)] == ref and len(alt_window) == WINDOW
    prefix = 0
    while prefix < min(len(ref), len(alt)) and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(ref), len(alt)) - prefix and ref[::-1][suffix] == alt[::-1][suffix]:
        suffix += 1
    spans = {
        "ref": (anchor + prefix, anchor + len(ref) - suffix),
        "alt": (anchor + prefix, anchor + len(alt) - suffix),
    }
    tokens_per_frame = (WINDOW - K + 1) // K
    rows = []
    for allele, window in (("ref", ref_window), ("alt", alt_window)):
        first, end = spans[allele]
        if first == end:  # a junction: the bases on both sides of it
            first, end = first - 1, end + 1
        for strand in ("+", "-"):
            sequence = window if strand == "+" else revcomp(window)
            lo, hi = (first, end) if strand == "+" else (WINDOW - end, WINDOW - first)
            for frame in range(K):
                kmers = [sequence[frame + j * K : frame + j * K + K] for j in range(tokens_per_frame)]
                token_ids = np.array([ids[kmer] for kmer in kmers], np.int32)
                masked = [j for j in range(tokens_per_frame) if frame + j * K < hi and frame + j * K + K > lo]
                row = token_ids.copy()
                row[masked] = mask_id
                rows.append((allele, row, masked, token_ids[masked]))
    return rows


def explicit_scores(model, vocabulary, chromosome, records):
    """Mean over the 2k views of (alt - ref) mean masked log-probability, log-softmax in float64."""
    rows = [(i, *row) for i, record in enumerate(records) for row in explicit_rows(vocabulary, chromosome, *record[1:])]
    width = max(len(masked) for *_, masked, _ in rows)
    slots = np.array([masked + [masked[0]] * (width - len(masked)) for *_, masked, _ in rows], np.int32)
    logits = keras.ops.convert_to_numpy(
        model({"token_ids": np.stack([row for _, _, row, _, _ in rows]), "mask_positions": slots})
    ).astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    log_probs = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
    values = {}
    for r, (i, allele, _, masked, targets) in enumerate(rows):
        value = np.mean([log_probs[r, n, targets[n]] for n in range(len(masked))])
        values.setdefault((i, allele), []).append(value)
    return [float(np.mean(np.array(values[i, "alt"]) - np.array(values[i, "ref"]))) for i in range(len(records))]


@pytest.fixture(scope="module")
def chr20_data(shared_dir):
    data = shared_dir / "data"
    snvs = read_records(
        data / "variants" / "GRCh37_chr20_common_snps.vcf.gz", lambda r, a: len(r) == len(a) == 1, 3
    )
    indels = read_records(data / "variants" / "GRCh37_chr20_vt_indels.vcf.gz", lambda r, a: len(r) != len(a), 12)
    # An insertion, a 2-bp deletion and a 27-bp deletion (several masked tokens per view).
    picked = [indels[0], next(v for v in indels if len(v[2]) == 3), next(v for v in indels if len(v[2]) > 20)]
    fasta = data / "reference" / "GRCh37_chr20.fa.gz"
    return str(fasta), read_chr20(fasta), snvs + picked


def test_zero_shot_scores_equal_an_explicit_recomputation(chr20_data):
    fasta, chromosome, records = chr20_data
    model = LogoMaskedLM.from_preset("logo_5mer_chr20_mlm")
    variants = [Variant(chrom, pos, None, ref, alt) for chrom, pos, ref, alt in records]
    summary = ScoringSummary()
    package = [s["llr"] for _, s in score_variants(ZeroShotScorer(model), fasta, variants, summary=summary, progress=False)]
    vocabulary = load_vocabulary(K)
    explicit = explicit_scores(model, vocabulary, chromosome, records)
    assert np.isfinite(explicit).all() and np.std(explicit) > 0.05
    np.testing.assert_allclose(np.ravel(package), explicit, rtol=0, atol=1e-4)
    assert (summary.scored, summary.undefined) == (6, 0)


TINY = dict(vocabulary_size=638, embedding_dim=8, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=64)


def test_allele_spans_trim_shared_bases():
    assert allele_spans(10, "A", "G") == ((10, 11), (10, 11))
    assert allele_spans(10, "CCT", "TCA") == ((10, 13), (10, 13))
    assert allele_spans(10, "A", "ACCA") == ((11, 11), (11, 14))  # insertion after the anchor base
    assert allele_spans(10, "GAA", "G") == ((11, 13), (11, 11))  # deletion
    assert allele_spans(10, "ATG", "ACGTG") == ((11, 11), (11, 13))  # shared suffix trimmed too
    (s, e), (s_alt, e_alt) = allele_spans(10, "AT", "at")  # no change: both spans empty
    assert s == e == s_alt == e_alt


def test_indel_scores_flip_sign_and_are_nan_only_where_undefined():
    keras.utils.set_random_seed(5)
    model = LogoMaskedLM(LogoBackbone(**TINY))  # k = 4
    rng = np.random.default_rng(1)
    genome = "".join(rng.choice(list("ACGT"), 400))
    anchor, length = 60, 120

    def windows(ref, alt, sequence=genome, offset=anchor):
        start = 100
        reference = sequence[start : start + length]
        alternative = (sequence[start : start + offset] + alt + sequence[start + offset + len(ref) :])[:length]
        return reference, alternative, (offset, ref, alt)

    base = genome[100 + anchor]
    cases = [
        windows(base, base + "GATTACA"),  # insertion
        windows(genome[160:166], base),  # deletion of 5 bp
        windows(base, "T" if base != "T" else "C"),  # SNV
    ]
    refs, alts, variants = zip(*cases)
    scores = zero_shot_variant_scores(model, list(refs), list(alts), variants=list(variants))
    assert np.isfinite(scores).all()
    # Swapping the alleles (and their windows) negates the score: the same masked rows.
    swapped = zero_shot_variant_scores(model, list(alts), list(refs), variants=[(o, a, r) for o, r, a in variants])
    np.testing.assert_allclose(swapped, -scores, rtol=1e-6, atol=1e-9)
    # Without the alleles an indel's windows cannot be compared position by position.
    with pytest.raises(ValueError, match="indels are not supported"):
        zero_shot_variant_scores(model, [refs[0]], [alts[0]])

    # An N 3 bp (< k) from the change enters a masked 4-mer in some view: undefined.
    near = genome[: 100 + anchor + 3] + "N" + genome[100 + anchor + 4 :]
    # An N 8 bp away is context only: scored.
    far = genome[: 100 + anchor + 8] + "N" + genome[100 + anchor + 9 :]
    # An insertion longer than the window's right half; a variant in the window's first k - 1 bp.
    edge = windows(genome[102], "A" if genome[102] != "A" else "C", offset=2)
    refs, alts, variants = zip(
        windows(base, base + "GATTACA", near), windows(base, base + "GATTACA", far), windows(base, base + "A" * 70), edge
    )
    scores = zero_shot_variant_scores(model, list(refs), list(alts), variants=list(variants))
    assert np.isnan(scores[0]) and np.isfinite(scores[1]) and np.isnan(scores[2]) and np.isnan(scores[3])


def test_score_variants_summary_counts_undefined_scores(tmp_path):
    keras.utils.set_random_seed(5)
    scorer = ZeroShotScorer(LogoMaskedLM(LogoBackbone(**TINY)))  # 64 positions: 259-bp windows
    rng = np.random.default_rng(2)
    genome = "".join(rng.choice(list("ACGT"), 1000))
    genome = genome[:700] + "N" + genome[701:]  # 2 bp from the third variant
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\n" + genome + "\n")
    variants = [
        Variant("chr1", 300, None, genome[299], "GA" if genome[299] != "G" else "CA"),
        Variant("chr1", 400, None, genome[399:404], genome[399]),
        Variant("chr1", 699, None, genome[698], "ACGT"),
        Variant("chr1", 500, None, genome[499], "T" if genome[499] != "T" else "G"),
    ]
    summary = ScoringSummary()
    scores = [s["llr"] for _, s in score_variants(scorer, FastaExtractor(str(fasta)), variants, summary=summary, progress=False)]
    assert np.isfinite(scores[0]) and np.isfinite(scores[1]) and np.isnan(scores[2]) and np.isfinite(scores[3])
    assert (summary.scored, summary.undefined) == (4, 1)
    assert str(summary).startswith("scored 3 variant alleles; 1 more written as NaN")
