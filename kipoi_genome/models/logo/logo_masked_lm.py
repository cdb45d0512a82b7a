"""LOGO masked language model and dynamic masking."""

import math

import keras
import tensorflow as tf
from keras import ops

from kipoi_genome.models.logo.logo_layers import LogoMaskedLMHead
from kipoi_genome.models.logo.logo_task import LogoTask, resolve_backbone, serialize_backbone
from kipoi_genome.serialization import register
from kipoi_genome.tokenizers.kmer_tokenizer import FIRST_KMER_ID, MASK_ID


def masked_lm_loss(labels, logits, weights, normalizer=None):
    """Mean cross-entropy over the selected (masked) positions only.

    Args:
        labels: int `[B, P]`, the original ids at `mask_positions`.
        logits: float `[B, P, V]`.
        weights: float `[B, P]`, 1 for real masked positions and 0 for
            padding slots of `mask_positions`.
        normalizer: optional scalar to divide by instead of `sum(weights)`
            (e.g. the global count under a distribution strategy).

    Returns:
        Scalar loss. Unselected positions of the sequence never enter it.
    """
    logits = ops.cast(logits, "float32")
    weights = ops.cast(weights, "float32")
    per_position = keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=True
    )  # [B, P]
    if normalizer is None:
        normalizer = ops.maximum(ops.sum(weights), 1.0)
    return ops.sum(per_position * weights) / normalizer


def mask_tokens(
    token_ids,
    seed,
    mask_rate=0.15,
    max_selections=None,
    mask_token_rate=0.8,
    random_token_rate=0.1,
    random_token_range=None,
    min_maskable_id=FIRST_KMER_ID,
    mask_id=MASK_ID,
):
    """BERT dynamic masking of a batch of token ids (TensorFlow, `tf.data`-safe).

    For each row, `round(mask_rate * n)` of its `n` maskable tokens (ids >=
    `min_maskable_id`; padding and specials are never chosen) are selected
    uniformly without replacement. Of those, `mask_token_rate` become
    `mask_id`, `random_token_rate` a random id from `random_token_range`, and
    the rest stay unchanged. Stateless: the same `seed` gives the same masks,
    so pass a fresh seed per batch (e.g. from `Dataset.enumerate`).

    Args:
        token_ids: int tensor `[B, T]`.
        seed: int tensor `[2]`.
        mask_rate: float. Fraction of maskable tokens selected. Defaults to 0.15.
        max_selections: int. Slots P in `mask_positions`; defaults to
            `ceil(mask_rate * T)` (T must then be static).
        mask_token_rate: float. Defaults to 0.8.
        random_token_rate: float. Defaults to 0.1.
        random_token_range: `(low, high)` inclusive ids for random
            replacement, e.g. the full k-mers `(tokenizer.first_kmer_id,
            tokenizer.last_kmer_id)`. Required when `random_token_rate > 0`.
        min_maskable_id: int. Defaults to 10.
        mask_id: int. Defaults to 2.

    Returns:
        `(features, labels, weights)`: features is a dict with the corrupted
        `"token_ids"` `[B, T]` and `"mask_positions"` `[B, P]`; labels `[B, P]`
        are the original ids at those positions; weights `[B, P]` are 1.0
        for selected slots and 0.0 for unused ones.
    """
    if not 0 < mask_rate <= 1:
        raise ValueError(f"`mask_rate` must be in (0, 1]. Received: mask_rate={mask_rate}")
    if mask_token_rate < 0 or random_token_rate < 0 or mask_token_rate + random_token_rate > 1:
        raise ValueError(
            "`mask_token_rate` and `random_token_rate` must be >= 0 and sum to <= 1. "
            f"Received: mask_token_rate={mask_token_rate}, random_token_rate={random_token_rate}"
        )
    if random_token_rate > 0 and random_token_range is None:
        raise ValueError(
            "`random_token_range` is required when `random_token_rate` > 0. "
            "Received: random_token_range=None"
        )
    token_ids = tf.convert_to_tensor(token_ids, tf.int32)
    if max_selections is None:
        length = token_ids.shape[-1]
        if length is None:
            raise ValueError("`max_selections` is required when the sequence length is not static.")
        max_selections = max(1, math.ceil(mask_rate * length))
    max_selections = min(max_selections, token_ids.shape[-1] or max_selections)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    shape = tf.shape(token_ids)

    maskable = token_ids >= min_maskable_id  # [B, T]
    scores = tf.random.stateless_uniform(shape, seeds[0], minval=1.0, maxval=2.0)
    scores = tf.where(maskable, scores, 0.0)
    # top_k returns positions by decreasing score: the first num_selected
    # slots of each row are a uniform sample without replacement.
    _, positions = tf.math.top_k(scores, k=max_selections)  # [B, P]
    num_maskable = tf.reduce_sum(tf.cast(maskable, tf.float32), axis=-1)  # [B]
    num_selected = tf.minimum(tf.round(mask_rate * num_maskable), float(max_selections))
    num_selected = tf.where(num_maskable > 0, tf.maximum(num_selected, 1.0), 0.0)
    slots = tf.range(max_selections, dtype=tf.float32)[None, :]  # [1, P]
    selected = slots < num_selected[:, None]  # [B, P]
    weights = tf.cast(selected, tf.float32)

    labels = tf.gather(token_ids, positions, batch_dims=1)  # [B, P]
    decision = tf.random.stateless_uniform(tf.shape(positions), seeds[1])
    replacement = tf.fill(tf.shape(positions), tf.constant(mask_id, tf.int32))
    if random_token_rate > 0:
        low, high = random_token_range
        random_ids = tf.random.stateless_uniform(
            tf.shape(positions), seeds[2], minval=low, maxval=high + 1, dtype=tf.int32
        )
        replacement = tf.where(decision < mask_token_rate, replacement, random_ids)
    replacement = tf.where(decision < mask_token_rate + random_token_rate, replacement, labels)
    replacement = tf.where(selected, replacement, labels)

    rows = tf.broadcast_to(tf.range(shape[0])[:, None], tf.shape(positions))
    indices = tf.stack([rows, positions], axis=-1)  # [B, P, 2]
    corrupted = tf.tensor_scatter_nd_update(token_ids, indices, replacement)
    features = {"token_ids": corrupted, "mask_positions": positions}
    return features, labels, weights


@register
class LogoMaskedLM(LogoTask):
    """LOGO masked language model: backbone + tied output on masked positions.

    Bidirectional attention (no causal mask) and a loss computed only at the
    masked positions (LOGO.md §5 lists the official code's causal mask and
    all-token loss as quirks not reproduced). The output layer is tied to the
    backbone's token embedding. Use `mask_tokens` for dynamic 15% (80/10/10)
    masking in `tf.data`. Only the masked positions are scored: the head and
    the backbone's last pass run at `mask_positions` alone (keys and values
    still span the sequence), which gives the full model's logits there.

    Args:
        backbone: a `LogoBackbone`, or a dict of its arguments.
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict with `"token_ids"` int `[B, T]` (already corrupted) and
        `"mask_positions"` int `[B, P]`.

    Returns:
        Logits `[B, P, V]` at the masked positions.

    Example:
    >>> model = LogoMaskedLM.from_preset("logo_5mer_chr20_mlm")  # doctest: +SKIP
    """

    def __init__(self, backbone, **kwargs):
        backbone = resolve_backbone(backbone)
        # === Layers ===
        self.backbone = backbone
        self.masked_lm_head = LogoMaskedLMHead(
            backbone.token_embedding,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="masked_lm_head",
        )
        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        mask_positions = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        hidden = backbone({"token_ids": token_ids, "segment_ids": ops.zeros_like(token_ids)})
        logits = self.masked_lm_head(hidden, mask_positions)
        super().__init__(
            inputs={"token_ids": token_ids, "mask_positions": mask_positions},
            outputs=logits,
            **kwargs,
        )

    def call(self, inputs, training=None):
        # The functional graph above (backbone -> head) fixes the layer and
        # weight layout; this runs the same arithmetic, but the backbone's last
        # pass computes only the masked positions the head reads, which skips
        # most of that pass (its feed-forward and attention outputs at the
        # unmasked ~85 % of positions) in training and prediction alike.
        token_ids = inputs["token_ids"]
        hidden = self.backbone.encode(
            token_ids,
            ops.zeros_like(token_ids),
            training=training,
            output_positions=inputs["mask_positions"],
        )  # [B, P, H]
        return self.masked_lm_head(hidden)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Masked-position cross-entropy (for `fit`): y = labels `[B, P]`,
        sample_weight = slot weights `[B, P]`."""
        if sample_weight is None:
            sample_weight = ops.ones_like(y, dtype="float32")
        loss = masked_lm_loss(y, y_pred, sample_weight)
        return loss + (ops.sum(self.losses) if self.losses else 0.0)

    def get_config(self):
        return {**self._base_config(), "backbone": serialize_backbone(self.backbone)}
