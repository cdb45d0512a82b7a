"""Zero-shot variant effect: masked-LM log-likelihood ratio (LOGO).

For a VCF, use `kipoi-genome score-variants --model logo_5mer_chr20_mlm` or
`kipoi_genome.interpret.score_variants` with
`kipoi_genome.interpret.logo_scorers.ZeroShotScorer`.
"""

import numpy as np

from kipoi_genome.models.logo.logo_task import tokenizer_for
from kipoi_genome.tokenizers import MASK_ID


def _log_softmax(logits):
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def _changed_span(ref, alt, max_span):
    if len(ref) != len(alt):
        raise ValueError(
            "Zero-shot scoring needs equal-length reference and alternative windows (substitutions). "
            f"Received lengths {len(ref)} and {len(alt)}"
        )
    diff = np.flatnonzero(np.frombuffer(ref.upper().encode(), np.uint8) != np.frombuffer(alt.upper().encode(), np.uint8))
    if len(diff) == 0:
        return None
    if diff[-1] - diff[0] + 1 > max_span:
        raise ValueError(
            f"Reference and alternative differ over {diff[-1] - diff[0] + 1} bp, more than "
            f"max_span={max_span} (indels are not supported)."
        )
    return diff[0], diff[-1] + 1


def zero_shot_variant_scores(masked_lm, ref_sequences, alt_sequences, batch_size=64, max_span=10):
    """Log-likelihood ratio log P(alt) - log P(ref) under a LOGO masked LM.

    For every reading frame of both strands, the tokens that cover the
    variant (those whose k-mer differs between the two windows) are replaced
    by [MASK]; the context is then identical for both alleles, and the
    score is `sum_j log p(alt k-mer_j) - log p(ref k-mer_j)` over the masked
    tokens j. Scores are averaged over the (up to 2k) frame/strand views
    that contain the variant. Positive = the alternative allele is more
    likely than the reference given its sequence context.

    Args:
        masked_lm: a `LogoMaskedLM`.
        ref_sequences: list of reference windows (the variant inside; ~1 kb,
            at most `max_sequence_length` tokens per frame).
        alt_sequences: list of alternative windows of equal lengths
            (substitutions: SNVs and MNVs).
        batch_size: int.
        max_span: int. Largest span (bp) over which the windows may differ.

    Returns:
        float array `[N]`; NaN where the windows are identical or no view
        covers the variant.
    """
    if len(ref_sequences) != len(alt_sequences):
        raise ValueError(
            "Need as many alternative as reference windows. "
            f"Received: {len(ref_sequences)} and {len(alt_sequences)}"
        )
    tokenizer = tokenizer_for(masked_lm.backbone)
    k = tokenizer.k
    rows, positions, ref_ids, alt_ids, owners = [], [], [], [], []
    for index, (ref, alt) in enumerate(zip(ref_sequences, alt_sequences)):
        if _changed_span(ref, alt, max_span) is None:
            continue
        for strand in (False, True):
            ref_frames = tokenizer.tokenize(ref, reverse_complement=strand)
            alt_frames = tokenizer.tokenize(alt, reverse_complement=strand)
            for frame in range(k):
                covering = np.flatnonzero(ref_frames[frame] != alt_frames[frame])
                if len(covering) == 0:
                    continue
                masked = ref_frames[frame].copy()
                masked[covering] = MASK_ID
                rows.append(masked)
                positions.append(covering)
                ref_ids.append(ref_frames[frame][covering])
                alt_ids.append(alt_frames[frame][covering])
                owners.append(index)
    scores = np.full(len(ref_sequences), np.nan)
    if not rows:
        return scores
    width = max(len(p) for p in positions)
    length = max(len(r) for r in rows)
    token_ids = np.zeros((len(rows), length), np.int32)
    mask_positions = np.zeros((len(rows), width), np.int32)
    for i, (row, p) in enumerate(zip(rows, positions)):
        token_ids[i, : len(row)] = row
        mask_positions[i, : len(p)] = p
        mask_positions[i, len(p) :] = p[0]
    logits = masked_lm.predict(
        {"token_ids": token_ids, "mask_positions": mask_positions}, batch_size=batch_size, verbose=0
    )
    log_probs = _log_softmax(np.asarray(logits, np.float64))  # [R, P, V]
    per_view = np.zeros(len(rows))
    for i, (p, r, a) in enumerate(zip(positions, ref_ids, alt_ids)):
        slots = np.arange(len(p))
        per_view[i] = np.sum(log_probs[i, slots, a] - log_probs[i, slots, r])
    owners = np.asarray(owners)
    for index in np.unique(owners):
        scores[index] = per_view[owners == index].mean()
    return scores
