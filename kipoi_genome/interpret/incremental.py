"""Enformer predictions for sequence changes that rerun only what a change touches.

A substitution changes the conv features (the stem and conv tower output,
`[B, L / 128, C]`) only within their receptive field around it: at most 7
positions for one base of the published model. For each alternative
sequence the stem and conv tower run over a short input window around the
change (the changed positions plus a receptive-field halo each side, aligned
to the pooling grid), its outputs are spliced into the reference's conv
features, and only the transformer and heads run on the whole sequence. The
reference's conv features are computed once per reference. Outputs equal the full pass on the
alternative sequence up to float32 round-off (the window's kept positions see
the same inputs and, at the sequence ends, the same zero padding).

Changes spanning more than half the sequence (the length-preserving windows
of indels, whose whole flank moves) and alternatives of another length run
the stem and conv tower over the whole alternative sequence.

Cost per alternative of the published model: the transformer and heads
(about a third of a forward pass) plus a 1,664-bp stem and conv tower window (under 1 %).
"""

import functools

import numpy as np
import tensorflow as tf

from kipoi_genome.interpret.augmentation import ViewAverage, augmented_views, predict_averaged
from kipoi_genome.models import Enformer
from kipoi_genome.models.enformer.chunked_inference import conv_features, conv_halo

# Transformer work per body call is bounded by this many bytes of attention
# logits ([B, heads, T, 2T] per layer): 3 full-size sequences, many tiny ones.
_BODY_LOGIT_BYTES = 2**29


def supports_incremental(model):
    """Whether `model` can use the incremental passes (an `Enformer`)."""
    return isinstance(model, Enformer)


def changed_span(reference, alternative):
    """`(first, stop)` bp range where two one-hot sequences differ, or None.

    Args:
        reference, alternative: arrays `[L, 4]`.

    Returns:
        None when they are equal; else the half-open range from the first to
        past the last differing position.
    """
    differs = np.flatnonzero(np.any(reference != alternative, axis=-1))
    if differs.size == 0:
        return None
    return int(differs[0]), int(differs[-1]) + 1


class IncrementalEnformer:
    """Reference and alternative predictions of an Enformer at inference.

    Args:
        model: an `Enformer` (any size, dtype policy and chunking).
        max_window_fraction: float. Changes whose stem and conv tower window
            would exceed this fraction of the sequence run them over the whole
            alternative instead. Defaults to 0.5.

    Example:
    ```python
    incremental = IncrementalEnformer(model)
    features = incremental.conv_features(reference[None])  # [1, T, C], once
    mutant = reference.copy(); mutant[1000] = [0, 0, 1, 0]
    spliced = incremental.alternative_conv_features(features, mutant[None], [(1000, 1001)])
    outputs = incremental.heads(spliced)                  # == model(mutant[None])
    ```
    """

    def __init__(self, model, max_window_fraction=0.5):
        if not supports_incremental(model):
            raise ValueError(
                f"Incremental passes need an Enformer. Received: {type(model).__name__}"
            )
        self.model = model
        self.length = model.sequence_length
        self.bin_size = model.bin_size
        self.bins = self.length // self.bin_size
        # Trunk position j depends only on the input within `halo` bp of its
        # `bin_size` bp (the rounding keeps windows on the pooling grid).
        self.halo = -(-conv_halo(model.tower_filters) // self.bin_size) * self.bin_size
        self.max_window = int(max_window_fraction * self.length)
        dtype = model.compute_dtype
        per_sequence = 4 * model.num_heads * self.bins * 2 * self.bins
        self.body_batch = max(1, min(32, _BODY_LOGIT_BYTES // per_sequence))
        # XLA when the model was compiled for it (`load_model(..., jit_compile=True)`, `--xla`).
        jit = bool(model.compiled and model.jit_compile is True)
        self._conv_features = tf.function(
            functools.partial(conv_features, model), input_signature=[tf.TensorSpec([None, self.length, 4], dtype)], jit_compile=jit
        )
        self._window_conv_features = tf.function(
            self._run_conv_layers, input_signature=[tf.TensorSpec([None, None, 4], dtype)], jit_compile=jit
        )
        self._heads = tf.function(
            self._run_body_and_heads,
            input_signature=[tf.TensorSpec([None, self.bins, model.channels], dtype)],
            jit_compile=jit,
        )

    def _run_conv_layers(self, x):
        for layer in self.model.conv_layers:
            x = layer(x, training=False)
        return x

    def _run_body_and_heads(self, x):
        for layer in self.model.embedding_layers:
            x = layer(x, training=False)
        return {
            organism: self.model.get_layer(f"head_{organism}")(x) for organism in self.model.heads
        }

    def _as_input(self, one_hot):
        return tf.convert_to_tensor(np.asarray(one_hot), dtype=self.model.compute_dtype)

    def conv_features(self, one_hot):
        """Stem and conv tower output of full-length sequences: `[B, L, 4]` -> `[B, T, C]` tensor."""
        return self._conv_features(self._as_input(one_hot))

    def heads(self, features):
        """Transformer, crop, final pointwise and heads: `[B, T, C]` -> dict organism -> float32 `[B, bins, tracks]`."""
        parts = [
            self._heads(features[i : i + self.body_batch])
            for i in range(0, int(features.shape[0]), self.body_batch)
        ]
        return {
            organism: np.concatenate([p[organism].numpy() for p in parts]).astype(np.float32)
            for organism in self.model.heads
        }

    def window(self, first, stop):
        """Stem and conv tower window for a change at bp `[first, stop)`, or None for the full pass.

        Returns:
            `(start, end, keep_first, keep_stop)`: the input slice `[start,
            end)` (bp, on the pooling grid) and the conv feature positions
            `[keep_first, keep_stop)` it recomputes: every position whose
            receptive field reaches the change. The slice's length depends only
            on the change's length, so same-length changes share one shape.
        """
        if not 0 <= first < stop <= self.length:
            raise ValueError(
                f"A change must lie within the {self.length}-bp sequence. "
                f"Received: [{first}, {stop})"
            )
        keep_first = (first - self.halo) // self.bin_size
        keep_last = (stop - 1 + self.halo) // self.bin_size
        width = (keep_last - keep_first + 1) * self.bin_size + 2 * self.halo
        if width > self.max_window:
            return None
        start = min(max(0, keep_first * self.bin_size - self.halo), self.length - width)
        return start, start + width, max(0, keep_first), min(self.bins, keep_last + 1)

    def alternative_conv_features(self, reference_features, alternatives, spans):
        """Conv features of alternatives, recomputed only around their changes.

        Args:
            reference_features: tensor `[n, T, C]`, row i the conv features of the
                reference that alternative i changes.
            alternatives: array `[n, L, 4]`, the alternative sequences.
            spans: list of n `(first, stop)` changed ranges (from
                `changed_span`), None where nothing changed, or `"full"` to run
                the stem and conv tower over the whole alternative.

        Returns:
            tensor `[n, T, C]`.
        """
        alternatives = np.asarray(alternatives)
        n = len(spans)
        if alternatives.shape[:1] != (n,) or int(reference_features.shape[0]) != n:
            raise ValueError(
                f"Expected {n} alternatives and reference conv feature rows (one per span). Received: "
                f"alternatives {alternatives.shape}, reference features {tuple(reference_features.shape)}"
            )
        rows = [None] * n
        windows = {}  # width -> [(row, start, keep_first, keep_stop)]
        full = []
        for i, span in enumerate(spans):
            if span is None:
                rows[i] = reference_features[i]
                continue
            found = None if isinstance(span, str) else self.window(*span)
            if found is None:
                full.append(i)
            else:
                start, end, keep_first, keep_stop = found
                windows.setdefault(end - start, []).append((i, start, keep_first, keep_stop))
        if full:
            for i, features in zip(full, self.conv_features(alternatives[full])):
                rows[i] = features
        for width, group in windows.items():
            x = np.stack([alternatives[i, start : start + width] for i, start, _, _ in group])
            recomputed = self._window_conv_features(self._as_input(x))
            for (i, start, keep_first, keep_stop), values in zip(group, recomputed):
                offset = start // self.bin_size
                rows[i] = tf.concat(
                    [
                        reference_features[i, :keep_first],
                        values[keep_first - offset : keep_stop - offset],
                        reference_features[i, keep_stop:],
                    ],
                    axis=0,
                )
        return tf.stack(rows)


def predict_pairs_averaged(model, references, alternatives, shifts=(0,), reverse_complement=False):
    """Reference and alternative predictions, averaged like `predict_averaged`.

    For an `Enformer`, each view (shift, strand) runs the reference's stem
    and conv tower once and each alternative incrementally (see `IncrementalEnformer`);
    other models run both sequences in full.

    Args:
        model: a track model, or an `IncrementalEnformer` to reuse.
        references, alternatives: float arrays `[B, L + 2 * max|shift|, 4]`,
            row i the two windows of one variant.
        shifts: iterable of int bp offsets.
        reverse_complement: also average over the reverse strand.

    Returns:
        `(reference, alternative)`: dicts name -> float32 `[B, bins, tracks]`.
    """
    incremental = model if isinstance(model, IncrementalEnformer) else None
    if incremental is None and supports_incremental(model):
        incremental = IncrementalEnformer(model)
    if incremental is None:
        return tuple(
            predict_averaged(model, windows, shifts, reverse_complement)
            for windows in (references, alternatives)
        )
    averages = (ViewAverage(), ViewAverage())
    for (x_ref, flipped), (x_alt, _) in zip(
        augmented_views(references, shifts, reverse_complement),
        augmented_views(alternatives, shifts, reverse_complement),
    ):
        spans = [changed_span(r, a) for r, a in zip(x_ref, x_alt)]
        reference_features = incremental.conv_features(x_ref)
        outputs = (
            incremental.heads(reference_features),
            incremental.heads(incremental.alternative_conv_features(reference_features, x_alt, spans)),
        )
        for average, output in zip(averages, outputs):
            average.add(output, flipped)
    return tuple(average.result() for average in averages)
