"""Variant effect scores: alternative vs reference predictions, streamed.

For track models (Enformer) a variant's score per track is computed from
predictions on the reference and alternative windows centred on it (see
`kipoi_genome.data.variants` for the length-preserving indel rule), averaged
over shifts and strands when asked:

- `"sum"`: sum over bins of `alt - ref` (the Enformer paper's SAD);
- `"lfc"`: `log2((sum alt + 1) / (sum ref + 1))`;
- `"central"`: sum of `alt - ref` over the `central_bins` bins at the centre.

Scorers that work on the windows themselves (the LOGO adapters in
`kipoi_genome.interpret.logo_scorers`) provide `variant_window_length` and
`score_variant_windows(windows) -> dict name -> [B, n]`; their scores are
used as they are.

For an `Enformer` the reference window's convolutional trunk runs once and
the alternative's is recomputed only around the variant (substitutions;
indels rerun it whole), see `kipoi_genome.interpret.incremental`: about 1.4
instead of 2 forward passes per variant, same scores.

Memory is bounded by one batch, whatever the number of variants.
"""

import dataclasses
import os

import numpy as np
from tqdm.auto import tqdm

from kipoi_genome.utils.batching import batched
from kipoi_genome.data import (
    FastaExtractor,
    RefMismatchError,
    iter_vcf,
    one_hot_encode,
    variant_window,
)
from kipoi_genome.interpret.incremental import IncrementalEnformer, predict_pairs_averaged, supports_incremental

SCORES = ("sum", "lfc", "central")


@dataclasses.dataclass
class ScoringSummary:
    """Counts of a scoring run.

    Attributes:
        scored: (variant, allele) pairs scored (written out), `undefined`
            of them included.
        undefined: pairs written with every score NaN because the model
            does not define one (e.g. LOGO zero-shot: N next to the change,
            an allele longer than the window; see
            `kipoi_genome.models.logo.logo_variant_scoring`).
        ref_mismatches: pairs skipped because REF disagrees with the FASTA.
        not_sequence: ALT alleles skipped because they are not sequence
            (symbolic, ``*`` or ``.``); counted by writers that copy the
            input records (`write_annotated_vcf`), else 0.
        messages: the first mismatch messages (one line each).
    """

    scored: int = 0
    undefined: int = 0
    ref_mismatches: int = 0
    not_sequence: int = 0
    messages: list = dataclasses.field(default_factory=list)

    def __str__(self):
        text = f"scored {self.scored - self.undefined} variant alleles"
        if self.undefined:
            text += f"; {self.undefined} more written as NaN (score undefined for them)"
        text += f"; skipped {self.ref_mismatches} with REF mismatches"
        if self.not_sequence:
            text += f" and {self.not_sequence} not plain sequence (symbolic, '*' or '.')"
        return text


def is_undefined(scores):
    """True when every value of a (variant, allele)'s scores (dict name -> `[n]`) is NaN."""
    return bool(scores) and all(np.isnan(np.asarray(v, dtype=np.float64)).all() for v in scores.values())


def count_scored(summary, scores):
    """Counts one written (variant, allele) in `summary`: scored, and undefined when every score is NaN."""
    summary.scored += 1
    summary.undefined += is_undefined(scores)


def reduce_scores(reference, alternative, score="sum", central_bins=None):
    """Per-track scores from predictions `[B, bins, tracks]` -> `[B, tracks]`."""
    if score == "sum":
        return (alternative - reference).sum(axis=1)
    if score == "lfc":
        return np.log2((alternative.sum(axis=1) + 1.0) / (reference.sum(axis=1) + 1.0))
    if score == "central":
        bins = reference.shape[1]
        if not central_bins or central_bins > bins:
            raise ValueError(
                f"`central_bins` must be in 1..{bins} for score='central'. "
                f"Received: central_bins={central_bins!r}"
            )
        start = (bins - central_bins) // 2
        window = slice(start, start + central_bins)
        return (alternative[:, window] - reference[:, window]).sum(axis=1)
    raise ValueError(f"`score` must be one of {SCORES}. Received: score={score!r}")


def score_variants(
    model,
    fasta,
    vcf,
    score="sum",
    shifts=(0,),
    reverse_complement=False,
    central_bins=None,
    batch_size=4,
    on_ref_mismatch="skip",
    summary=None,
    progress=True,
    on_predictions=None,
):
    """Yields `(VariantWindow, dict name -> float32 [tracks])` per variant allele.

    Args:
        model: a track model (one-hot in, `[B, bins, tracks]` out, or a dict)
            or a scorer with `score_variant_windows` (see module docstring).
        fasta: path or `FastaExtractor`.
        vcf: path of a VCF / VCF.gz, or an iterable of `Variant`.
        score: one of `SCORES` (track models only).
        shifts: bp offsets to average over (track models only).
        reverse_complement: also average over the reverse strand.
        central_bins: bins summed by `score="central"`.
        batch_size: variants per forward pass.
        on_ref_mismatch: `"skip"` (count in `summary`) or `"error"`.
        summary: a `ScoringSummary` to fill, or None.
        progress: show a progress bar.
        on_predictions: None, or for track models a callable
            `(windows, reference, alternative)` called with each batch's
            windows and averaged predictions (dict name -> `[B, bins,
            tracks]`) before its scores are yielded (gene effects:
            `kipoi_genome.interpret.gene_effects`).
    """
    if on_ref_mismatch not in ("skip", "error"):
        raise ValueError(
            f"`on_ref_mismatch` must be 'skip' or 'error'. Received: {on_ref_mismatch!r}"
        )
    if score not in SCORES:
        raise ValueError(f"`score` must be one of {SCORES}. Received: score={score!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    summary = summary if summary is not None else ScoringSummary()
    fasta = fasta if isinstance(fasta, FastaExtractor) else FastaExtractor(fasta)
    variants = iter_vcf(vcf) if isinstance(vcf, (str, os.PathLike)) else iter(vcf)
    by_sequence = hasattr(model, "score_variant_windows")
    shifts = tuple(shifts)
    margin = 0 if by_sequence else max(abs(int(s)) for s in shifts)
    length = model.variant_window_length if by_sequence else model.input_shape[1]
    padded = length + 2 * margin

    bar = tqdm(unit="variant", disable=not progress, desc="score-variants")

    def windows():
        for variant in variants:
            bar.update(1)
            try:
                yield variant_window(fasta, variant, padded)
            except RefMismatchError as error:
                if on_ref_mismatch == "error":
                    raise
                summary.ref_mismatches += 1
                if len(summary.messages) < 20:
                    summary.messages.append(str(error))

    # Enformer: reference trunk once, alternatives recomputed around the change.
    predictor = IncrementalEnformer(model) if supports_incremental(model) else model
    for batch in batched(windows(), batch_size):
        if by_sequence:
            scores = model.score_variant_windows(batch)
        else:
            predictions = predict_pairs_averaged(
                predictor,
                *(one_hot_encode([getattr(w, allele) for w in batch]) for allele in ("reference", "alternative")),
                shifts,
                reverse_complement,
            )
            scores = {
                name: reduce_scores(predictions[0][name], predictions[1][name], score, central_bins)
                for name in predictions[0]
            }
            if on_predictions is not None:
                on_predictions(batch, predictions[0], predictions[1])
        for i, window in enumerate(batch):
            values = {k: np.asarray(v[i], dtype=np.float32) for k, v in scores.items()}
            count_scored(summary, values)
            yield window, values
    bar.close()
