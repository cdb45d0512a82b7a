"""LOGO enhancer-promoter interaction model (two towers)."""

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
class LogoEnhancerPromoter(LogoTask):
    """Enhancer-promoter interaction: two LOGO towers and a joint head.

    LOGO's EPI model (LOGO.md §6.2): an enhancer tower (2 kb, so its
    backbone needs a 1,024-row position table at k <= 5) and a separate
    promoter tower (1 kb). Each tower's pooled output (first token by
    default) is concatenated, batch-normalised, dropped out and mapped to
    one sigmoid probability. The towers must share k.

    Args:
        enhancer_backbone: `LogoBackbone` or a dict of its arguments.
        promoter_backbone: `LogoBackbone` or a dict of its arguments.
        pooling: `"first"` or `"mean"`. Defaults to `"first"`.
        dropout: float. Defaults to 0.25 (LOGO).
        **kwargs: `keras.Model` arguments.

    Inputs:
        dict with `"enhancer_token_ids"` int `[B, Te]` and
        `"promoter_token_ids"` int `[B, Tp]`.

    Returns:
        `[B, 1]` interaction probabilities.
    """

    ENHANCER_LENGTH = 2000
    PROMOTER_LENGTH = 1000

    def __init__(self, enhancer_backbone, promoter_backbone, pooling="first", dropout=0.25, **kwargs):
        enhancer_backbone = resolve_backbone(enhancer_backbone, "enhancer_backbone")
        promoter_backbone = resolve_backbone(promoter_backbone, "promoter_backbone")
        if enhancer_backbone is promoter_backbone:
            raise ValueError("The two towers must be separate backbones. Received the same object twice.")
        if enhancer_backbone.vocabulary_size != promoter_backbone.vocabulary_size:
            raise ValueError(
                "Both towers must use the same k-mer vocabulary. Received: vocabulary sizes "
                f"{enhancer_backbone.vocabulary_size} and {promoter_backbone.vocabulary_size}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        # === Layers ===
        self.enhancer_backbone = enhancer_backbone
        self.promoter_backbone = promoter_backbone
        self.enhancer_pooler = LogoPooling(pooling, name="enhancer_pooler")
        self.promoter_pooler = LogoPooling(pooling, name="promoter_pooler")
        self.concatenate = keras.layers.Concatenate(name="concatenate")
        self.batch_norm = keras.layers.BatchNormalization(name="batch_norm")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        self.output_dense = keras.layers.Dense(1, activation="sigmoid", name="output_dense")
        # === Functional Model ===
        enhancer_ids = keras.Input(shape=(None,), dtype="int32", name="enhancer_token_ids")
        promoter_ids = keras.Input(shape=(None,), dtype="int32", name="promoter_token_ids")
        pooled = []
        for ids, backbone, pooler in (
            (enhancer_ids, enhancer_backbone, self.enhancer_pooler),
            (promoter_ids, promoter_backbone, self.promoter_pooler),
        ):
            hidden = backbone({"token_ids": ids, "segment_ids": ops.zeros_like(ids)})
            pooled.append(pooler(hidden, padding_mask=ops.not_equal(ids, 0)))
        x = self.batch_norm(self.concatenate(pooled))
        outputs = self.output_dense(self.output_dropout(x))
        super().__init__(
            inputs={"enhancer_token_ids": enhancer_ids, "promoter_token_ids": promoter_ids},
            outputs=outputs,
            **kwargs,
        )
        # === Config ===
        self.pooling = pooling
        self.dropout = dropout

    def predict_pairs(self, enhancers, promoters, batch_size=32):
        """P(interaction) for enhancer/promoter string pairs.

        Frame f and strand s of the enhancer are paired with frame f and
        strand s of the promoter, and the 2k predictions are averaged.

        Returns:
            float array `[N]`.
        """
        if len(enhancers) != len(promoters):
            raise ValueError(
                f"Need as many enhancers as promoters. Received: {len(enhancers)} and {len(promoters)}"
            )
        return self._predict_paired_views(
            tokenizer_for(self.enhancer_backbone),
            {"enhancer_token_ids": enhancers, "promoter_token_ids": promoters},
            batch_size,
        )

    def get_config(self):
        return {
            **self._base_config(),
            "enhancer_backbone": serialize_backbone(self.enhancer_backbone),
            "promoter_backbone": serialize_backbone(self.promoter_backbone),
            "pooling": self.pooling,
            "dropout": self.dropout,
        }
