"""Interpretation and variant scoring on tiny models."""

import keras
import numpy as np
import pytest

from kipoi_genome.data import Variant
from kipoi_genome.interpret import (
    ScoringSummary,
    attention_maps,
    gradient_times_input,
    in_silico_mutagenesis,
    predict_averaged,
    reduce_scores,
    score_variants,
)
from kipoi_genome.models import Enformer

TINY = dict(
    channels=48,
    num_transformer_layers=2,
    num_heads=2,
    heads={"human": 3, "mouse": 2},
    sequence_length=2048,
    target_length=8,
    filter_divisible_by=8,
)


def random_one_hot(length, seed=0):
    return np.eye(4, dtype="float32")[np.random.default_rng(seed).integers(0, 4, length)]


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(3)
    return Enformer(**TINY)


def test_ism_equals_explicit_reprediction(tiny):
    x = random_one_hot(2048)
    effects = in_silico_mutagenesis(tiny, x, head="human", tracks=[1], bins=[3, 4], positions=[700, 1024, 1500])
    reference = tiny.predict_on_batch(x[None])["human"][0, [3, 4], 1].sum()
    for position in (700, 1024, 1500):
        for base in range(4):
            mutant = x.copy()
            mutant[position] = np.eye(4)[base]
            expected = tiny.predict_on_batch(mutant[None])["human"][0, [3, 4], 1].sum() - reference
            assert effects[position, base] == pytest.approx(expected, abs=1e-6)
        assert effects[position, int(x[position].argmax())] == 0
    assert not effects[:700].any()


def test_gradient_times_input_matches_finite_differences():
    keras.config.set_dtype_policy("float64")
    try:
        keras.utils.set_random_seed(4)
        model = Enformer(**{**TINY, "num_transformer_layers": 1})
        x = random_one_hot(2048, seed=5).astype("float64")
        scores = gradient_times_input(model, x[None], head="mouse", tracks=[0], bins=[4])[0]

        def f(v):
            return model.predict_on_batch(v[None])["mouse"][0, 4, 0]

        eps = 1e-3  # float64: truncation error ~eps^2, round-off ~1e-12 / eps
        for position in (900, 1024, 1100):
            base = int(x[position].argmax())
            plus, minus = x.copy(), x.copy()
            plus[position, base] += eps
            minus[position, base] -= eps
            derivative = (f(plus) - f(minus)) / (2 * eps)
            assert scores[position, base] == pytest.approx(derivative, rel=1e-4, abs=1e-9)
            assert scores[position].sum() == pytest.approx(derivative, rel=1e-4, abs=1e-9)
    finally:
        keras.config.set_dtype_policy("float32")


def test_attention_maps_are_row_stochastic(tiny):
    maps = attention_maps(tiny, random_one_hot(2048)[None])
    assert maps.shape == (1, 16, 16)
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)
    assert (maps >= 0).all()


def strand_symmetric_model(length=2048, bins=16):
    """Conv with a reverse-complement-symmetric kernel, average-pooled to bins."""
    inputs = keras.Input((length, 4))
    conv = keras.layers.Conv1D(2, 5, padding="same", use_bias=False)
    pooled = keras.layers.AveragePooling1D(length // bins)(keras.layers.Activation("softplus")(conv(inputs)))
    model = keras.Model(inputs, {"signal": pooled})
    kernel = np.random.default_rng(0).normal(size=(5, 4, 2)).astype("float32")
    conv.kernel.assign(0.5 * (kernel + kernel[::-1, ::-1]))  # W[k, c] = W[K-1-k, 3-c]
    return model


def test_reduce_scores_formulas():
    ref = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    alt = ref + np.array([[[0.5, -1.0], [1.0, 0.0], [0.0, 2.0]]])
    np.testing.assert_allclose(reduce_scores(ref, alt, "sum"), [[1.5, 1.0]])
    np.testing.assert_allclose(reduce_scores(ref, alt, "central", central_bins=1), [[1.0, 0.0]])
    np.testing.assert_allclose(reduce_scores(ref, alt, "lfc"), np.log2([[11.5 / 10, 14 / 13]]))
    with pytest.raises(ValueError, match="central_bins"):
        reduce_scores(ref, alt, "central")


def test_predict_averaged_shifts_and_strands():
    model = strand_symmetric_model()
    windows = np.stack([random_one_hot(2048 + 2, seed=s) for s in range(2)])
    plain = model.predict_on_batch(windows[:, 1:-1])["signal"]
    averaged = predict_averaged(model, windows[:, 1:-1], shifts=(0,), reverse_complement=False)["signal"]
    np.testing.assert_array_equal(averaged, plain)
    both = predict_averaged(model, windows, shifts=(-1, 0, 1), reverse_complement=True)["signal"]
    by_hand = np.mean(
        [model.predict_on_batch(windows[:, 1 + s : 2049 + s])["signal"] for s in (-1, 0, 1)], axis=0
    )
    np.testing.assert_allclose(both, by_hand, rtol=1e-5, atol=1e-6)  # strand-symmetric: RC adds nothing
    assert plain.shape == (2, 16, 2)


def _variants(fasta, positions):
    from kipoi_genome.data import FastaExtractor

    extractor = FastaExtractor(fasta)
    chrom = next(iter(extractor.chromosome_lengths))
    out = []
    for i, pos in enumerate(positions):
        ref = extractor.extract(chrom, pos - 1, pos).upper()
        alt = {"A": "G", "C": "T", "G": "A", "T": "C"}.get(ref, "A")
        out.append(Variant(chrom=chrom, pos=pos, id=f"v{i}", ref=ref, alt=alt))
    return out


@pytest.fixture(scope="module")
def example_fasta():
    import importlib.resources

    return str(importlib.resources.files("kipoi_genome") / "example_data" / "chr20_44080000_44220000.fa")


def test_strand_symmetric_model_scores_equal_with_and_without_rc(example_fasta):
    model = strand_symmetric_model()
    variants = _variants(example_fasta, [5_000, 30_001, 77_777])
    plain = list(score_variants(model, example_fasta, variants, progress=False))
    averaged = list(score_variants(model, example_fasta, variants, reverse_complement=True, progress=False))
    assert len(plain) == len(averaged) == 3
    for (_, a), (_, b) in zip(plain, averaged):
        np.testing.assert_allclose(a["signal"], b["signal"], rtol=0, atol=1e-6)  # float32 round-off
        assert np.abs(a["signal"]).max() > 0


def test_scores_equal_explicit_alt_minus_ref(tiny, example_fasta):
    from kipoi_genome.data import FastaExtractor, one_hot_encode, variant_window

    variants = _variants(example_fasta, [20_000, 20_500])
    results = list(score_variants(tiny, example_fasta, variants, batch_size=1, progress=False))
    fasta = FastaExtractor(example_fasta)
    for variant, (window, scores) in zip(variants, results):
        w = variant_window(fasta, variant, 2048)
        ref = tiny.predict_on_batch(one_hot_encode(w.reference)[None])["human"]
        alt = tiny.predict_on_batch(one_hot_encode(w.alternative)[None])["human"]
        np.testing.assert_allclose(scores["human"], (alt - ref).sum(axis=1)[0], rtol=1e-4, atol=1e-7)
        assert window.id == variant.id


def test_ref_mismatches_are_skipped_and_counted(tiny, example_fasta):
    good = _variants(example_fasta, [1_000, 2_000])
    bad = Variant(chrom=good[0].chrom, pos=1_500, id="bad", ref="ACGTACGT", alt="A", source="x.vcf", line=7)
    summary = ScoringSummary()
    rows = list(score_variants(tiny, example_fasta, [good[0], bad, good[1]], summary=summary, progress=False))
    assert [w.id for w, _ in rows] == ["v0", "v1"]
    assert summary.scored == 2 and summary.ref_mismatches == 1
    assert summary.messages[0].startswith("x.vcf:7:")
    with pytest.raises(ValueError, match="REF disagrees"):
        list(score_variants(tiny, example_fasta, [bad], on_ref_mismatch="error", progress=False))
