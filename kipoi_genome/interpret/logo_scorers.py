"""LOGO models as variant scorers for `score_variants`."""

import numpy as np

from kipoi_genome.data import InputFileError, check_sequence
from kipoi_genome.models import LogoMaskedLM, LogoVariantPrioritizer
from kipoi_genome.models.logo import zero_shot_variant_scores


def _check_windows(windows):
    """Like Enformer's one-hot step, rejects windows with characters other than ACGTN / IUPAC."""
    for window in windows:
        try:
            check_sequence(window.reference)
            check_sequence(window.alternative)  # a deletion's right flank reaches past the reference window
        except ValueError as error:
            variant = window.variant
            raise InputFileError(
                variant.source, variant.line,
                f"window {variant.chrom}:{window.start}-{window.end} of variant {variant}: {error}",
            ) from None


def _window_length(backbone):
    # The longest window whose k reading frames fit the position table.
    return backbone.max_sequence_length * backbone.k + backbone.k - 1


class ZeroShotScorer:
    """Masked-LM zero-shot score, log P(alt) - log P(ref) (`"llr"`).

    SNVs, MNVs, insertions and deletions: per view, the mean masked
    log-likelihood of each allele's changed tokens, alternative minus
    reference, averaged over the k frames of both strands
    (`kipoi_genome.models.logo.logo_variant_scoring` has the exact rule and
    where it is NaN).

    Args:
        masked_lm: a `LogoMaskedLM`.
        window_length: bp per window; defaults to 1,004 (200 tokens per
            frame at k = 5) or less when the position table is smaller.
    """

    def __init__(self, masked_lm, window_length=None):
        self.model = masked_lm
        self.variant_window_length = window_length or min(1004, _window_length(masked_lm.backbone))

    def score_variant_windows(self, windows):
        _check_windows(windows)
        scores = zero_shot_variant_scores(
            self.model,
            [w.reference for w in windows],
            [w.alternative for w in windows],
            variants=[(w.variant.start - w.start, w.ref, w.alt) for w in windows],
        )
        return {"llr": scores.astype(np.float32)}


class PrioritizerScorer:
    """Probability that a variant is functional from a `LogoVariantPrioritizer`."""

    def __init__(self, prioritizer, window_length=None):
        self.model = prioritizer
        self.variant_window_length = window_length or min(1004, _window_length(prioritizer.backbone))

    def score_variant_windows(self, windows):
        _check_windows(windows)
        probabilities = self.model.predict_variants(
            [w.reference for w in windows], [w.alternative for w in windows]
        )
        return {"probability": np.asarray(probabilities, dtype=np.float32)}


def as_variant_scorer(model):
    """Wraps LOGO models in their scorer; track models are returned unchanged.

    Args:
        model: a zoo model.

    Returns:
        A `ZeroShotScorer`, a `PrioritizerScorer`, or `model` itself when it
        is a track model (one-hot `[B, L, 4]` in, fixed `L`) or already has
        `score_variant_windows`.

    Raises:
        ValueError: the model cannot score variants (e.g. a LOGO promoter or
            chromatin classifier, a bare backbone), so callers can stop
            before reading any input.
    """
    if isinstance(model, LogoMaskedLM):
        return ZeroShotScorer(model)
    if isinstance(model, LogoVariantPrioritizer):
        return PrioritizerScorer(model)
    if hasattr(model, "score_variant_windows"):
        return model
    try:
        shape = tuple(model.input_shape)
    except (AttributeError, TypeError, ValueError):
        shape = None
    if shape is None or len(shape) != 3 or not isinstance(shape[1], int) or shape[2] != 4:
        raise ValueError(
            f"{type(model).__name__} cannot score variants: use a track model "
            "(one-hot input of fixed length, e.g. an Enformer), a LOGO masked LM "
            f"(zero-shot) or a LOGO variant prioritizer. Received input shape: {shape}"
        )
    return model
