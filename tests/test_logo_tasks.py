"""LOGO tasks: classifiers, two-tower EPI, variant encoding, zero-shot scoring."""

import keras
import numpy as np
import pytest

from kipoi_genome.models.logo import (
    LogoBackbone,
    LogoChromatin,
    LogoEnhancerPromoter,
    LogoMaskedLM,
    LogoPromoterClassifier,
    LogoVariantPrioritizer,
    zero_shot_variant_scores,
)
from kipoi_genome.tokenizers import KmerTokenizer, reverse_complement

TINY = dict(
    vocabulary_size=638,  # k = 4
    embedding_dim=8,
    hidden_dim=16,
    num_heads=2,
    intermediate_dim=32,
    max_sequence_length=64,
)
RNG = np.random.default_rng(0)
SEQUENCES = ["".join(RNG.choice(list("ACGT"), 120)) for _ in range(3)]


def snv(sequence, index):
    base = "C" if sequence[index] != "C" else "G"
    return sequence[:index] + base + sequence[index + 1 :]


def test_promoter_classifier_averages_frames_and_strands(tmp_path):
    keras.utils.set_random_seed(1)
    model = LogoPromoterClassifier(TINY, pooling="mean")
    probabilities = model.predict_sequences(SEQUENCES)
    assert probabilities.shape == (3,) and ((probabilities > 0) & (probabilities < 1)).all()
    # Equal to the mean over the 2k views computed by hand.
    tokenizer = KmerTokenizer(k=4)
    views = np.concatenate(
        [tokenizer.tokenize(SEQUENCES[0]), tokenizer.tokenize(SEQUENCES[0], reverse_complement=True)]
    )
    manual = keras.ops.convert_to_numpy(model(views)).mean()
    np.testing.assert_allclose(probabilities[0], manual, rtol=1e-5)
    # Averaging over both strands makes the prediction strand-symmetric.
    np.testing.assert_allclose(
        model.predict_sequences([reverse_complement(s) for s in SEQUENCES]), probabilities, rtol=1e-5
    )
    # Serialisation round trip.
    path = tmp_path / "promoter.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored.predict_sequences(SEQUENCES), probabilities, rtol=1e-5)
    assert restored.get_config() == model.get_config()


def test_promoter_classifier_rejects_too_long_sequences():
    model = LogoPromoterClassifier(TINY)
    with pytest.raises(ValueError, match="max_sequence_length=64"):
        model.predict_sequences(["A" * 400])


def test_chromatin_outputs_and_conv_option():
    model = LogoChromatin(TINY, use_conv=True)
    assert model.output_shape == (None, 919)
    assert model.backbone.conv_embedding and model.backbone.conv_feedforward
    assert model.predict_sequences(SEQUENCES[:2]).shape == (2, 919)
    restored = LogoChromatin.from_config(model.get_config())
    assert restored.count_params() == model.count_params()
    with pytest.raises(ValueError, match="conv_embedding=False"):
        LogoChromatin(LogoBackbone(**TINY), use_conv=True)


def test_enhancer_promoter_two_towers():
    enhancer = LogoBackbone(**{**TINY, "max_sequence_length": 128})
    promoter = LogoBackbone(**TINY)
    model = LogoEnhancerPromoter(enhancer, promoter)
    assert model.count_params() > enhancer.count_params() + promoter.count_params()
    scores = model.predict_pairs([s * 2 for s in SEQUENCES], SEQUENCES)
    assert scores.shape == (3,)
    restored = LogoEnhancerPromoter.from_config(model.get_config())
    assert restored.count_params() == model.count_params()
    with pytest.raises(ValueError, match="separate backbones"):
        LogoEnhancerPromoter(promoter, promoter)


def test_variant_prioritizer_alternative_allele_encoding():
    keras.utils.set_random_seed(2)
    model = LogoVariantPrioritizer(TINY)
    assert model.backbone.conv_embedding
    tokenizer = KmerTokenizer(k=4)
    ref = tokenizer.tokenize(SEQUENCES[0])[:1]
    alt = tokenizer.tokenize(snv(SEQUENCES[0], 60))[:1]
    assert (ref != alt).sum() == 1  # one token covers the SNV in a frame
    pooled = model.get_layer("pooler")
    # The model equals: reference tokens, changed flag as segments, and the
    # alternative token embedding added only at the changed position.
    changed = (ref != alt).astype("int32")
    hidden = model.backbone.encode(ref, changed, added_token_ids=alt * changed)
    expected = model.get_layer("output_dense")(pooled(hidden, padding_mask=ref != 0))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model({"ref_token_ids": ref, "alt_token_ids": alt})),
        keras.ops.convert_to_numpy(expected),
        rtol=1e-5,
    )
    # With alt == ref nothing is added: plain reference encoding.
    same = keras.ops.convert_to_numpy(model({"ref_token_ids": ref, "alt_token_ids": ref}))
    plain = model.get_layer("output_dense")(pooled(model.backbone.encode(ref, 0 * ref), padding_mask=ref != 0))
    np.testing.assert_allclose(same, keras.ops.convert_to_numpy(plain), rtol=1e-5)
    scores = model.predict_variants(SEQUENCES, [snv(s, 50) for s in SEQUENCES])
    assert scores.shape == (3,)
    with pytest.raises(ValueError, match="equal lengths"):
        model.predict_variants(["ACGTACGT"], ["ACGTACG"])


def test_zero_shot_scores_are_a_log_likelihood_ratio():
    keras.utils.set_random_seed(3)
    model = LogoMaskedLM(TINY)
    alts = [snv(s, 61) for s in SEQUENCES]
    scores = zero_shot_variant_scores(model, SEQUENCES, alts)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    # Swapping alleles flips the sign (same masked context, same logits).
    np.testing.assert_allclose(zero_shot_variant_scores(model, alts, SEQUENCES), -scores, rtol=1e-4, atol=1e-6)
    # Identical windows have no score.
    assert np.isnan(zero_shot_variant_scores(model, SEQUENCES[:1], SEQUENCES[:1])[0])
    # By hand for the first sequence: 8 views (4 frames x 2 strands), mask the covering token.
    tokenizer = KmerTokenizer(k=4)
    total = []
    for strand in (False, True):
        ref = tokenizer.tokenize(SEQUENCES[0], reverse_complement=strand)
        alt = tokenizer.tokenize(alts[0], reverse_complement=strand)
        for frame in range(4):
            (j,) = np.flatnonzero(ref[frame] != alt[frame])
            masked = ref[frame].copy()
            masked[j] = 2
            logits = keras.ops.convert_to_numpy(
                model({"token_ids": masked[None], "mask_positions": np.array([[j]])})
            )[0, 0].astype(np.float64)
            log_probs = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
            total.append(log_probs[alt[frame, j]] - log_probs[ref[frame, j]])
    np.testing.assert_allclose(scores[0], np.mean(total), rtol=1e-4)
    with pytest.raises(ValueError, match="indels are not supported"):
        zero_shot_variant_scores(model, ["A" * 40 + "CCCCCCCCCCCC"], ["A" * 40 + "GGGGGGGGGGGG"])
