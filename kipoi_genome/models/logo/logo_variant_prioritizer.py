"""LOGO variant prioritisation with the alternative-allele encoding."""

import keras
from keras import ops

from kipoi_genome.models.logo.logo_layers import LogoPooling
from kipoi_genome.models.logo.logo_task import (
    LogoTask,
    resolve_backbone,
    serialize_backbone,
    tokenizer_for,
)
from kipoi_genome.serialization import register


@register
class LogoVariantPrioritizer(LogoTask):
    """Scores a variant from its reference and alternative token streams.

    LOGO's alternative-allele encoding (LOGO.md §6.6): the model reads the
    reference tokens; the alternative tokens are kept only where they differ
    from the reference (0 elsewhere) and their embeddings are added to the
    reference embeddings; a 0/1 changed flag is the segment input. The
    1-D convolution module on the embeddings is the backbone's
    `conv_embedding` (parallel Conv1D kernels 2/3/5 on the reference token
    embeddings, summed), with `conv_feedforward` as in LOGO's CADD model.
    Output: pooled hidden state -> `Dense(1, sigmoid)` (P(deleterious)).

    Args:
        backbone: `LogoBackbone` or a dict of its arguments. With a dict and
            `use_conv=True`, both convolution options are switched on.
        pooling: `"first"` or `"mean"`. Defaults to `"first"`.
        dropout: float. Defaults to 0.
        use_conv: bool. Require the convolution module. Defaults to True.
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict with `"ref_token_ids"` and `"alt_token_ids"`, int `[B, T]` (the
        same reading frame of the reference and alternative sequences).

    Returns:
        `[B, 1]` probabilities.
    """

    def __init__(self, backbone, pooling="first", dropout=0.0, use_conv=True, **kwargs):
        if use_conv and isinstance(backbone, dict) and "class_name" not in backbone:
            backbone = {**backbone, "conv_embedding": True, "conv_feedforward": True}
        backbone = resolve_backbone(backbone)
        if use_conv and not backbone.conv_embedding:
            raise ValueError(
                "`use_conv=True` needs a backbone with conv_embedding=True. "
                f"Received: conv_embedding={backbone.conv_embedding}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        # === Layers ===
        self.backbone = backbone
        self.pooler = LogoPooling(pooling, name="pooler")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.output_dense = keras.layers.Dense(1, activation="sigmoid", name="output_dense")
        # === Functional Model ===
        ref_ids = keras.Input(shape=(None,), dtype="int32", name="ref_token_ids")
        alt_ids = keras.Input(shape=(None,), dtype="int32", name="alt_token_ids")
        changed = ops.cast(ops.not_equal(ref_ids, alt_ids), "int32")  # [B, T] segment input
        alt_kept = alt_ids * changed  # alternative tokens only where they differ
        hidden = backbone.encode(ref_ids, changed, added_token_ids=alt_kept)
        pooled = self.pooler(hidden, padding_mask=ops.not_equal(ref_ids, 0))
        outputs = self.output_dense(self.output_dropout(pooled))
        super().__init__(
            inputs={"ref_token_ids": ref_ids, "alt_token_ids": alt_ids}, outputs=outputs, **kwargs
        )
        # === Config ===
        self.pooling = pooling
        self.dropout = dropout
        self.use_conv = bool(use_conv)

    def predict_variants(self, ref_sequences, alt_sequences, batch_size=64):
        """P(deleterious) for reference/alternative window pairs.

        Each pair must have equal lengths (cut an indel's windows to the same
        length first, as LOGO does). Frames and strands are paired and the
        2k predictions averaged.

        Returns:
            float array `[N]`.
        """
        if len(ref_sequences) != len(alt_sequences):
            raise ValueError(
                "Need as many alternative as reference sequences. "
                f"Received: {len(ref_sequences)} and {len(alt_sequences)}"
            )
        for ref, alt in zip(ref_sequences, alt_sequences):
            if len(ref) != len(alt):
                raise ValueError(f"Reference and alternative windows must have equal lengths. Received: {len(ref)} and {len(alt)}")
        return self._predict_paired_views(
            tokenizer_for(self.backbone),
            {"ref_token_ids": ref_sequences, "alt_token_ids": alt_sequences},
            batch_size,
        )

    def get_config(self):
        return {
            **self._base_config(),
            "backbone": serialize_backbone(self.backbone),
            "pooling": self.pooling,
            "dropout": self.dropout,
            "use_conv": self.use_conv,
        }
