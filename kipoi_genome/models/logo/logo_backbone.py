"""LOGO backbone: ALBERT encoder over k-mer tokens (Yang et al. 2022)."""

import keras
from keras import ops

from kipoi_genome.models.logo.logo_layers import LogoEmbedding, LogoTransformerBlock, take_positions
from kipoi_genome.models.presets import PresetMixin
from kipoi_genome.serialization import register


def vocabulary_size_for_k(k):
    """LOGO vocabulary size `5**k + 13` (138 / 638 / 3,138 / 15,638)."""
    return 5**k + 13


def k_for_vocabulary_size(vocabulary_size):
    """Inverse of `vocabulary_size_for_k`, or None for a non-LOGO size."""
    for k in range(1, 9):
        if vocabulary_size_for_k(k) == vocabulary_size:
            return k
    return None


@register
class LogoBackbone(PresetMixin, keras.Model):
    """LOGO encoder: factorized embedding and one shared transformer block.

    An ALBERT encoder (LOGO.md §2.1): token, segment and learned position
    embeddings of size E are summed, layer-normalised and projected to H;
    then `num_blocks` post-LN transformer blocks (8 heads, FFN 1,024, exact
    GELU) are applied for `num_passes` passes in total, each block
    `num_passes // num_blocks` times in a row. LOGO's default shares one
    block over 2 passes. Attention is bidirectional with padding (id 0)
    masked out; no [CLS] token is added.

    With the official k = 5 sizes (`vocabulary_size=3138, embedding_dim=128,
    hidden_dim=256`, 512 positions) the backbone has 1,290,496 parameters.

    Args:
        vocabulary_size: int. Token ids, `5**k + 13`. Defaults to 3,138
            (k = 5).
        embedding_dim: int. Factorized embedding size E. Defaults to 128.
        hidden_dim: int. Hidden size H. Defaults to 256.
        num_heads: int. Attention heads. Defaults to 8.
        intermediate_dim: int. FFN width. Defaults to 1,024.
        num_passes: int. Transformer passes. Defaults to 2.
        num_blocks: int. Distinct (unshared) blocks; must divide
            `num_passes`. Defaults to 1 (ALBERT sharing).
        max_sequence_length: int. Position table rows: 512 for 1 kb inputs,
            1,024 for 2 kb inputs. Defaults to 512.
        num_segments: int. Segment table rows. Defaults to 2.
        dropout: float. Defaults to 0 (LOGO).
        layer_norm_epsilon: float. Defaults to 1e-12.
        conv_embedding: bool. LOGO's convolutions on the token embeddings
            (kernels 2, 3, 5). Defaults to False.
        conv_feedforward: bool. LOGO's Conv1D(kernel 3) instead of the FFN.
            Defaults to False.
        dtype: dtype policy of the layers.
        **kwargs: `keras.Model` arguments (e.g. `name`).

    Inputs:
        dict with `"token_ids"` (int `[B, T]`, 0 = padding) and
        `"segment_ids"` (int `[B, T]`).

    Returns:
        Hidden states `[B, T, H]`.

    Example:
    >>> backbone = LogoBackbone(vocabulary_size=138, embedding_dim=8,
    ...     hidden_dim=16, num_heads=2, intermediate_dim=32,
    ...     max_sequence_length=32)
    >>> backbone({"token_ids": ops.ones((2, 10), "int32"),
    ...           "segment_ids": ops.zeros((2, 10), "int32")}).shape
    (2, 10, 16)
    """

    def __init__(
        self,
        vocabulary_size=3138,
        embedding_dim=128,
        hidden_dim=256,
        num_heads=8,
        intermediate_dim=1024,
        num_passes=2,
        num_blocks=1,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.0,
        layer_norm_epsilon=1e-12,
        conv_embedding=False,
        conv_feedforward=False,
        dtype=None,
        **kwargs,
    ):
        for name, value in (("num_passes", num_passes), ("num_blocks", num_blocks)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if num_passes % num_blocks:
            raise ValueError(
                "`num_passes` must be divisible by `num_blocks`. "
                f"Received: num_passes={num_passes}, num_blocks={num_blocks}"
            )

        # === Layers ===
        self.embeddings = LogoEmbedding(
            vocabulary_size=vocabulary_size,
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            layer_norm_epsilon=layer_norm_epsilon,
            dropout=dropout,
            conv_embedding=conv_embedding,
            dtype=dtype,
            name="embeddings",
        )
        self.transformer_blocks = [
            LogoTransformerBlock(
                hidden_dim=hidden_dim,
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                conv_feedforward=conv_feedforward,
                dtype=dtype,
                name=f"transformer_block_{i}",
            )
            for i in range(num_blocks)
        ]
        self.num_passes = num_passes

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        outputs = self.encode(token_ids, segment_ids)
        super().__init__(
            inputs={"token_ids": token_ids, "segment_ids": segment_ids},
            outputs=outputs,
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_blocks = num_blocks
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.conv_embedding = bool(conv_embedding)
        self.conv_feedforward = bool(conv_feedforward)

    @property
    def token_embedding(self):
        """The `FactorizedEmbedding` (token table `V x E` and `E -> H`)."""
        return self.embeddings.token_embedding

    @property
    def k(self):
        """k-mer length implied by `vocabulary_size` (None if not LOGO's)."""
        return k_for_vocabulary_size(self.vocabulary_size)

    def encode(self, token_ids, segment_ids, added_token_ids=None, training=None, output_positions=None):
        """Runs the layers on (symbolic or eager) tensors.

        Tasks that need an extra embedding input (the variant prioritizer's
        alternative-allele tokens) call this instead of the functional model.

        Args:
            token_ids: int `[B, T]`.
            segment_ids: int `[B, T]`.
            added_token_ids: optional int `[B, T]`, embeddings added where
                non-zero.
            training: bool.
            output_positions: optional int `[B, P]`. Return the hidden states
                at these positions only; the last pass then computes just
                those (its keys and values still cover every position), which
                equals gathering them from the full output.

        Returns:
            Hidden states `[B, T, H]`, or `[B, P, H]` with `output_positions`.
        """
        padding_mask = ops.not_equal(token_ids, 0)  # [B, T]
        x = self.embeddings(
            token_ids, segment_ids, added_token_ids=added_token_ids, training=training
        )
        repeats = self.num_passes // len(self.transformer_blocks)
        passes = [block for block in self.transformer_blocks for _ in range(repeats)]
        last = passes.pop()
        for block in passes:
            x = block(x, padding_mask=padding_mask, training=training)
        if output_positions is None or last.conv_feedforward:
            x = last(x, padding_mask=padding_mask, training=training)
            if output_positions is None:
                return x
            return take_positions(x, output_positions)
        return last(x, padding_mask=padding_mask, training=training, query_positions=output_positions)

    def get_config(self):
        # Like keras-hub backbones: the constructor arguments, not the
        # functional graph.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "num_passes": self.num_passes,
            "num_blocks": self.num_blocks,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "conv_embedding": self.conv_embedding,
            "conv_feedforward": self.conv_feedforward,
        }

    @classmethod
    def from_preset(cls, name, load_weights=True, **overrides):
        """Builds preset `name`; presets whose weights file is a task's
        (`metadata["weights_of"]`, e.g. the masked LM) load it through that
        task and return its backbone."""
        from kipoi_genome.models.presets import get_preset

        preset = get_preset(name, cls.__name__)
        task_name = preset.metadata.get("weights_of")
        if not (load_weights and task_name and preset.weights):
            return super().from_preset(name, load_weights=load_weights, **overrides)
        import kipoi_genome.models.logo as logo

        backbone = cls(**{**preset.config, **overrides})
        getattr(logo, task_name)(backbone).load_weights(preset.weights_path())
        return backbone

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)
