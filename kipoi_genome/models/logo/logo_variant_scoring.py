"""Zero-shot variant effect: masked-LM log-likelihood ratio (LOGO).

The score of a variant (docs/logo.md, "Zero-shot variant scores"), for a
reference and an alternative window of equal length `L` that share their
left flank (the rule of `kipoi_genome.data.variants`):

1. **Changed spans.** REF and ALT lose their shared prefix and suffix; what
   is left is the changed span, `[s, e_ref)` in the reference window and
   `[s, e_alt)` in the alternative one (same start `s`). An empty span (the
   reference side of a pure insertion, the alternative side of a pure
   deletion) is a junction between bases `s - 1` and `s`: the two bases
   next to it, `[s - 1, s + 1)`, stand for it.
2. **Views.** Each window is read in all `k` reading frames of both strands
   (`2k` views; frame `f` = the non-overlapping k-mers starting at
   `f, f + k, ...` of the window or of its reverse complement).
3. **Masked pseudo-log-likelihood.** In each view, the tokens overlapping the
   allele's span are replaced by `[MASK]` and the masked LM predicts them
   from the rest of that window; the allele's value is the **mean** over
   those tokens of `log P(token)` (log-softmax over the whole vocabulary).
4. **Score** = mean over the `2k` views of (alternative value - reference
   value). Positive = the alternative allele is more likely in its context.

For substitutions (SNVs, MNVs) both alleles mask the same tokens in the same
context, so a view's value is the mean over its masked tokens of
`log P(alt k-mer) - log P(ref k-mer)`, an exact log-likelihood ratio under
the model's conditional; an SNV masks one token per view. For indels the
two windows differ in length of allele and so in their number of masked
tokens; the mean per token (equivalently per base of the masked k-mers,
which are all `k` bp) keeps a longer allele from scoring lower only because
it has more tokens to explain (about `-log 1000` nats per extra 5-mer).

NaN (undefined) where:
- the alleles are identical, or no window pair is given;
- a masked k-mer of either allele, in any view, contains a base other than
  A, C, G, T (an N or IUPAC code in or within `k - 1` bp of the change);
- a span is not inside the tokens of every view (it reaches the first or
  last `k - 1` bp of the window, or an allele longer than the window).

For a VCF, use `kipoi-genome score-variants --model logo_5mer_chr20_mlm` or
`kipoi_genome.interpret.score_variants` with
`kipoi_genome.interpret.logo_scorers.ZeroShotScorer`.
"""

import numpy as np

from kipoi_genome.models.logo.logo_task import tokenizer_for
from kipoi_genome.tokenizers import MASK_ID, base_codes


def _log_softmax(logits):
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def allele_spans(offset, ref, alt):
    """Changed spans of REF and ALT in window coordinates.

    Args:
        offset: int. Index of the first REF (and ALT) base in the windows.
        ref: str. REF allele.
        alt: str. ALT allele.

    Returns:
        `((s, e_ref), (s, e_alt))`: half-open spans after removing the
        alleles' shared prefix and suffix (case-insensitive); empty spans
        (`e == s`) mark the junction of a pure insertion or deletion, and
        both are empty when the alleles are equal.
    """
    ref, alt = ref.upper(), alt.upper()
    shortest = min(len(ref), len(alt))
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and ref[len(ref) - 1 - suffix] == alt[len(alt) - 1 - suffix]:
        suffix += 1
    start = offset + prefix
    return (start, offset + len(ref) - suffix), (start, offset + len(alt) - suffix)


def _substitution_span(ref, alt, max_span):
    if len(ref) != len(alt):
        raise ValueError(
            "Without `variants`, zero-shot scoring needs equal-length reference and alternative "
            f"windows (substitutions). Received lengths {len(ref)} and {len(alt)}"
        )
    diff = np.flatnonzero(np.frombuffer(ref.upper().encode(), np.uint8) != np.frombuffer(alt.upper().encode(), np.uint8))
    if len(diff) == 0:
        return None
    if diff[-1] - diff[0] + 1 > max_span:
        raise ValueError(
            f"Reference and alternative differ over {diff[-1] - diff[0] + 1} bp, more than "
            f"max_span={max_span}: from the windows alone an MNV cannot be told from an indel "
            "(indels are not supported without `variants`; pass `variants=[(offset, REF, ALT), ...]`)."
        )
    return diff[0], diff[-1] + 1


def _view_tokens(span, length, reverse, frame, k, m):
    """Token indices of one view overlapping `span` (forward window coordinates), or None."""
    start, end = span
    if end == start:  # a junction: the bases on either side of it
        start, end = start - 1, end + 1
    if reverse:
        start, end = length - end, length - start
    if start < frame or end > frame + m * k:
        return None
    return np.arange((start - frame) // k, (end - 1 - frame) // k + 1)


def _masked_view(tokens, codes, span, reverse, frame, k):
    """`(masked token ids [m], positions [n], target ids [n])` of one view, or None when undefined.

    `tokens` are the window's `[k, m]` ids on the view's strand, `codes` its
    forward base codes `[L]`.
    """
    ids = tokens[frame]
    positions = _view_tokens(span, len(codes), reverse, frame, k, len(ids))
    if positions is None:
        return None
    first, last = frame + positions[0] * k, frame + (positions[-1] + 1) * k
    if reverse:
        first, last = len(codes) - last, len(codes) - first
    if not (codes[first:last] > 0).all():
        return None
    masked = ids.copy()
    masked[positions] = MASK_ID
    return masked, positions, ids[positions]


def zero_shot_variant_scores(masked_lm, ref_sequences, alt_sequences, batch_size=64, max_span=10, variants=None):
    """Zero-shot variant scores under a LOGO masked LM (definition: module docstring).

    Args:
        masked_lm: a `LogoMaskedLM`.
        ref_sequences: list of N reference windows (DNA strings; the variant
            inside, ~1 kb: at most `max_sequence_length` tokens per frame).
        alt_sequences: list of N alternative windows, each as long as its
            reference window (the length-preserving rule of
            `kipoi_genome.data.variants`: same left flank, the right flank
            absorbs an indel's length change).
        batch_size: int. Rows (one view each) per forward pass.
        max_span: int. Without `variants`: the largest span (bp) over which
            the windows may differ (substitutions only).
        variants: None, or a list of N `(offset, ref, alt)`: the index of the
            first REF base in the windows and the REF / ALT alleles. Needed
            for indels (the changed spans come from the alleles); without
            it the windows must be substitutions of each other.

    Returns:
        float64 array `[N]`; NaN where undefined (module docstring).

    Raises:
        ValueError: for unequal list or window lengths, or (without
            `variants`) windows that differ over more than `max_span` bp.
    """
    if len(ref_sequences) != len(alt_sequences):
        raise ValueError(
            "Need as many alternative as reference windows. "
            f"Received: {len(ref_sequences)} and {len(alt_sequences)}"
        )
    if variants is not None and len(variants) != len(ref_sequences):
        raise ValueError(f"Need one (offset, ref, alt) per window pair. Received: {len(variants)} for {len(ref_sequences)}")
    tokenizer = tokenizer_for(masked_lm.backbone)
    k = tokenizer.k
    # A row is one masked view; a term reads target ids from a row with a sign.
    rows, positions, terms = [], [], []  # terms: (variant, view, row, target ids, sign)
    defined = np.zeros(len(ref_sequences), bool)
    for index, (ref, alt) in enumerate(zip(ref_sequences, alt_sequences)):
        if len(ref) != len(alt):
            raise ValueError(
                f"Window pair {index}: reference and alternative windows must have equal lengths. "
                f"Received lengths {len(ref)} and {len(alt)}"
            )
        if variants is None:
            span = _substitution_span(ref, alt, max_span)
            if span is None:
                continue
            ref_span = alt_span = span
        else:
            offset, ref_allele, alt_allele = variants[index]
            ref_span, alt_span = allele_spans(offset, ref_allele, alt_allele)
            if ref_span == alt_span and ref_span[0] == ref_span[1]:
                continue
        substitution = ref_span == alt_span
        alleles = [
            (span, base_codes(window), [tokenizer.tokenize(window, reverse_complement=r) for r in (False, True)])
            for window, span in ((ref, ref_span), (alt, alt_span))
        ]
        pending = []
        for view, (reverse, frame) in enumerate((r, f) for r in (False, True) for f in range(k)):
            ref_view, alt_view = (
                _masked_view(tokens[reverse], codes, span, reverse, frame, k) for span, codes, tokens in alleles
            )
            if ref_view is None or alt_view is None:
                break
            if substitution:  # identical masked contexts: one row for both alleles
                pending.append((ref_view[0], ref_view[1], [(view, alt_view[2], 1.0), (view, ref_view[2], -1.0)]))
            else:
                pending.append((alt_view[0], alt_view[1], [(view, alt_view[2], 1.0)]))
                pending.append((ref_view[0], ref_view[1], [(view, ref_view[2], -1.0)]))
        else:
            defined[index] = True
            for masked, where, row_terms in pending:
                terms.extend((index, view, len(rows), ids, sign) for view, ids, sign in row_terms)
                rows.append(masked)
                positions.append(where)
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
        mask_positions[i, len(p) :] = p[0]  # padding slots, never read
    logits = masked_lm.predict(
        {"token_ids": token_ids, "mask_positions": mask_positions}, batch_size=batch_size, verbose=0
    )
    log_probs = _log_softmax(np.asarray(logits, np.float64))  # [R, P, V]
    per_view = np.zeros((len(ref_sequences), 2 * k))
    for index, view, row, ids, sign in terms:
        per_view[index, view] += sign * log_probs[row, np.arange(len(ids)), ids].mean()
    scores[defined] = per_view[defined].mean(axis=1)
    return scores
