"""Layers used only by LOGO: embeddings, shared transformer block, heads.

Not exported from `kipoi_genome.layers`: they follow LOGO's layout (post-LN
ALBERT block, LOGO's convolution options) and have one user.
"""

import math

import keras
from keras import ops

from kipoi_genome.layers.activations import gelu_erf
from kipoi_genome.layers.factorized_embedding import FactorizedEmbedding
from kipoi_genome.serialization import register

CONV_EMBEDDING_KERNEL_SIZES = (2, 3, 5)


def _check_positive_int(**values):
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_rate(**values):
    for name, value in values.items():
        if not 0.0 <= float(value) < 1.0:
            raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")


@register
class LogoEmbedding(keras.layers.Layer):
    """LOGO input embedding: token + segment + position, LayerNorm, E -> H.

    The sum of three E-sized embeddings (token, segment, learned absolute
    position) is layer-normalised and projected to the hidden size H, as in
    LOGO's ALBERT build (LOGO.md §2.1). The token table and projection are a
    `FactorizedEmbedding`, so a masked-LM head can tie its output to it.

    With `conv_embedding=True` the token embeddings first go through three
    parallel `Conv1D(E, kernel 2/3/5, "same")` layers without activation
    whose outputs are summed (LOGO's "convolution + self-attention" option,
    LOGO.md §2.3).

    `added_token_ids` supports LOGO's alternative-allele encoding: their
    embeddings (zero where the id is 0) are added to the token embeddings.

    Args:
        vocabulary_size: int. Number of token ids V.
        embedding_dim: int. Embedding size E.
        hidden_dim: int. Output size H.
        max_sequence_length: int. Rows of the position table.
        num_segments: int. Rows of the segment table. Defaults to 2.
        layer_norm_epsilon: float. Defaults to 1e-12.
        dropout: float. Dropout after the LayerNorm. Defaults to 0.
        conv_embedding: bool. Use the convolution option. Defaults to False.
        **kwargs: base layer arguments.

    Call arguments:
        token_ids: int tensor `[B, T]`, `T <= max_sequence_length`.
        segment_ids: int tensor `[B, T]` in `[0, num_segments)`.
        added_token_ids: optional int tensor `[B, T]`.
        training: bool, for dropout.

    Returns:
        Tensor `[B, T, H]`.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        hidden_dim,
        max_sequence_length,
        num_segments=2,
        layer_norm_epsilon=1e-12,
        dropout=0.0,
        conv_embedding=False,
        **kwargs,
    ):
        _check_positive_int(
            vocabulary_size=vocabulary_size,
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
        )
        _check_rate(dropout=dropout)
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout = dropout
        self.conv_embedding = bool(conv_embedding)
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)

        self.token_embedding = FactorizedEmbedding(
            vocabulary_size,
            embedding_dim,
            hidden_dim,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments,
            embedding_dim,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="segment_embedding",
        )
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="embeddings_layer_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="embeddings_dropout"
        )
        self.token_convs = []
        if self.conv_embedding:
            self.token_convs = [
                keras.layers.Conv1D(
                    embedding_dim,
                    kernel_size,
                    padding="same",
                    dtype=self.dtype_policy,
                    name=f"token_conv_{kernel_size}",
                )
                for kernel_size in CONV_EMBEDDING_KERNEL_SIZES
            ]

    def build(self, input_shape=None):
        self.token_embedding.build()
        self.segment_embedding.build()
        self.position_embedding = self.add_weight(
            name="position_embedding",
            shape=(self.max_sequence_length, self.embedding_dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )
        self.embeddings_layer_norm.build((None, None, self.embedding_dim))
        for conv in self.token_convs:
            conv.build((None, None, self.embedding_dim))
        self.built = True

    def call(self, token_ids, segment_ids, added_token_ids=None, training=None):
        tokens = self.token_embedding.embed(token_ids)  # [B, T, E]
        if self.token_convs:
            # Batch padding (trailing id 0) enters the convolutions as zeros,
            # like their "same" padding past a sequence's end, so a sequence's
            # outputs do not depend on how far its batch is padded.
            tokens = tokens * ops.cast(_before_trailing_padding(token_ids), tokens.dtype)[..., None]
            tokens = ops.sum(ops.stack([conv(tokens) for conv in self.token_convs]), axis=0)
        if added_token_ids is not None:
            present = ops.cast(ops.not_equal(added_token_ids, 0), tokens.dtype)[..., None]
            tokens = tokens + self.token_embedding.embed(added_token_ids) * present
        length = ops.shape(token_ids)[1]
        positions = ops.cast(self.position_embedding[:length], tokens.dtype)  # [T, E]
        x = tokens + self.segment_embedding(segment_ids) + positions[None]
        x = self.embeddings_layer_norm(x)
        x = self.embeddings_dropout(x, training=training)
        return self.token_embedding.project(x)  # [B, T, H]

    def compute_output_shape(self, token_ids_shape, *args, **kwargs):
        return (*token_ids_shape, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            embedding_dim=self.embedding_dim,
            hidden_dim=self.hidden_dim,
            max_sequence_length=self.max_sequence_length,
            num_segments=self.num_segments,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dropout=self.dropout,
            conv_embedding=self.conv_embedding,
        )
        return config


def take_positions(x, positions):
    """`x[b, positions[b, p]]`: `[B, T, H]` and int `[B, P]` -> `[B, P, H]`."""
    return ops.take_along_axis(x, ops.cast(positions, "int32")[..., None], axis=1)


def _before_trailing_padding(token_ids):
    """bool `[B, T]`: True up to and including each row's last non-zero id."""
    present = ops.cast(ops.not_equal(token_ids, 0), "int32")
    return ops.flip(ops.cumsum(ops.flip(present, axis=1), axis=1), axis=1) > 0


@register
class LogoTransformerBlock(keras.layers.Layer):
    """Post-LayerNorm transformer block (BERT/ALBERT), as used by LOGO.

    `x = LN(x + MHA(x)); x = LN(x + FFN(x))` with a bidirectional
    self-attention whose keys are masked where `padding_mask` is False.
    FFN is `Dense(intermediate_dim, gelu) -> Dense(hidden)` (exact erf GELU),
    or with `conv_feedforward=True` LOGO's `Conv1D(hidden, 3, "same")`
    without activation (LOGO.md §2.3).

    Args:
        hidden_dim: int. Model width H, divisible by `num_heads`.
        num_heads: int. Attention heads.
        intermediate_dim: int. FFN width.
        dropout: float. Dropout on attention probabilities and residual
            branches. Defaults to 0.
        layer_norm_epsilon: float. Defaults to 1e-12.
        conv_feedforward: bool. Defaults to False.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor `[B, T, H]`.
        padding_mask: optional bool tensor `[B, T]`, True for real tokens.
        training: bool, for dropout.
        query_positions: optional int tensor `[B, P]`. Compute the outputs at
            these positions only (every position still serves as a key and
            value): the same numbers as gathering them from the full output,
            at a fraction of the cost when P << T (a masked LM's last pass).
            Not available with `conv_feedforward`, whose FFN mixes
            neighbouring positions.

    Returns:
        Tensor `[B, T, H]`, or `[B, P, H]` with `query_positions`.
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        layer_norm_epsilon=1e-12,
        conv_feedforward=False,
        **kwargs,
    ):
        _check_positive_int(
            hidden_dim=hidden_dim, num_heads=num_heads, intermediate_dim=intermediate_dim
        )
        if hidden_dim % num_heads:
            raise ValueError(
                "`hidden_dim` must be divisible by `num_heads`. "
                f"Received: hidden_dim={hidden_dim}, num_heads={num_heads}"
            )
        _check_rate(dropout=dropout)
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.conv_feedforward = bool(conv_feedforward)
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        common = dict(dtype=self.dtype_policy)

        self.attention = keras.layers.MultiHeadAttention(
            num_heads,
            hidden_dim // num_heads,
            dropout=dropout,
            kernel_initializer=initializer,
            name="attention",
            **common,
        )
        self.attention_probs_dropout = keras.layers.Dropout(
            dropout, name="attention_probs_dropout", **common
        )
        self.attention_dropout = keras.layers.Dropout(dropout, name="attention_dropout", **common)
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="attention_layer_norm", **common
        )
        if self.conv_feedforward:
            self.feedforward = [
                keras.layers.Conv1D(
                    hidden_dim, 3, padding="same", name="feedforward_conv", **common
                )
            ]
        else:
            self.feedforward = [
                keras.layers.Dense(
                    intermediate_dim,
                    activation=gelu_erf,
                    kernel_initializer=initializer,
                    name="feedforward_intermediate",
                    **common,
                ),
                keras.layers.Dense(
                    hidden_dim,
                    kernel_initializer=initializer,
                    name="feedforward_output",
                    **common,
                ),
            ]
        self.feedforward_dropout = keras.layers.Dropout(
            dropout, name="feedforward_dropout", **common
        )
        self.feedforward_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="feedforward_layer_norm", **common
        )

    def build(self, input_shape):
        shape = (None, None, self.hidden_dim)
        self.attention.build(shape, shape)
        self.attention_layer_norm.build(shape)
        if self.conv_feedforward:
            self.feedforward[0].build(shape)
        else:
            self.feedforward[0].build(shape)
            self.feedforward[1].build((None, None, self.intermediate_dim))
        self.feedforward_layer_norm.build(shape)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None, query_positions=None):
        key_bias = None
        if padding_mask is not None:
            large_negative = -3e4 if self.compute_dtype == "float16" else -1e9
            key_bias = ops.where(ops.cast(padding_mask, "bool"), 0.0, large_negative)
            key_bias = ops.cast(key_bias, self.compute_dtype)[:, None, None, :]  # [B, 1, 1, S]
        queries = inputs
        if query_positions is not None:
            if self.conv_feedforward:
                raise ValueError(
                    "`query_positions` needs a position-wise feed-forward. Received: "
                    "query_positions with conv_feedforward=True"
                )
            queries = take_positions(inputs, query_positions)  # [B, P, H]
        attended = self._self_attention(queries, inputs, key_bias, training=training)
        x = self.attention_layer_norm(
            queries + self.attention_dropout(attended, training=training)
        )
        y = x
        for layer in self.feedforward:
            y = layer(y)
        return self.feedforward_layer_norm(x + self.feedforward_dropout(y, training=training))

    def _self_attention(self, queries, inputs, key_bias=None, training=None):
        """`self.attention` (Keras `MultiHeadAttention`) computed on its own weights.

        The arithmetic is Keras's (query scaled by `1 / sqrt(head size)`, here
        folded into the query weights; additive key mask; softmax; dropout on
        the probabilities), with the projections as 2-D matrix products:
        `EinsumDense` runs them as batch matrix products broadcast over the
        batch, whose kernel gradients then sum B partial products (a quarter
        of the training step's op time). `self.attention` itself still serves
        `return_attention_scores` (`kipoi_genome.interpret.attention_maps`).

        Args:
            queries: `[B, Q, H]`, the positions to compute (`inputs` itself,
                Q = T, or a gathered subset of it).
            inputs: `[B, T, H]`, keys and values.
            key_bias: optional `[B, 1, 1, T]`, 0 for real keys and a large
                negative number for padding.
            training: bool, for dropout.

        Returns:
            `[B, Q, H]`.
        """
        batch = ops.shape(inputs)[0]
        heads, size = self.num_heads, self.hidden_dim // self.num_heads

        def project(x, dense, scale=1.0):  # EinsumDense kernel [H, heads, size] -> [B, heads, L, size]
            length = ops.shape(x)[1]
            kernel = ops.reshape(ops.cast(dense.kernel, x.dtype), (self.hidden_dim, heads * size))
            bias = ops.reshape(ops.cast(dense.bias, x.dtype), (heads * size,))
            if scale != 1.0:  # on the weights, not on the [B, heads, L, size] activations
                kernel, bias = kernel * ops.cast(scale, x.dtype), bias * ops.cast(scale, x.dtype)
            flat = ops.reshape(x, (-1, self.hidden_dim))  # [B*L, H]
            projected = ops.reshape(ops.matmul(flat, kernel) + bias, (batch, length, heads, size))
            return ops.transpose(projected, (0, 2, 1, 3))

        query = project(queries, self.attention.query_dense, scale=1.0 / math.sqrt(size))
        key = project(inputs, self.attention.key_dense)
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))  # [B, heads, Q, T]
        if key_bias is not None:
            scores = scores + key_bias
        probabilities = self.attention_probs_dropout(ops.softmax(scores, axis=-1), training=training)
        context = ops.matmul(probabilities, project(inputs, self.attention.value_dense))  # [B, heads, Q, size]
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (-1, heads * size))
        output = self.attention.output_dense
        kernel = ops.reshape(ops.cast(output.kernel, queries.dtype), (heads * size, self.hidden_dim))
        attended = ops.matmul(context, kernel) + ops.cast(output.bias, queries.dtype)
        return ops.reshape(attended, (batch, ops.shape(queries)[1], self.hidden_dim))

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None, query_positions_shape=None):
        if query_positions_shape is None:
            return tuple(inputs_shape)
        return (*query_positions_shape, inputs_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_dim=self.hidden_dim,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            dropout=self.dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
            conv_feedforward=self.conv_feedforward,
        )
        return config


@register
class LogoMaskedLMHead(keras.layers.Layer):
    """Masked-LM output tied to the token embedding.

    Gathers the hidden states at `mask_positions`, then `Dense(E, gelu) ->
    LayerNorm -> x @ token_table^T + bias` (BERT/ALBERT; LOGO.md §4). Only the
    selected positions are scored, so no work (and no loss) is spent on
    unmasked tokens.

    Args:
        token_embedding: the backbone's `FactorizedEmbedding` (tied weights).
        layer_norm_epsilon: float. Defaults to 1e-12.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor `[B, T, H]`, or `[B, P, H]` already taken at the
            masked positions when `mask_positions` is None.
        mask_positions: optional int tensor `[B, P]` of positions in `[0, T)`.

    Returns:
        Logits `[B, P, V]`.
    """

    def __init__(self, token_embedding, layer_norm_epsilon=1e-12, **kwargs):
        if not isinstance(token_embedding, FactorizedEmbedding):
            raise ValueError(
                "`token_embedding` must be a FactorizedEmbedding. "
                f"Received: token_embedding={token_embedding!r}"
            )
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.layer_norm_epsilon = layer_norm_epsilon
        embedding_dim = token_embedding.embedding_dim
        self.dense = keras.layers.Dense(
            embedding_dim,
            activation=gelu_erf,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )

    def build(self, inputs_shape, mask_positions_shape=None):
        self.dense.build(inputs_shape)
        self.layer_norm.build((None, None, self.token_embedding.embedding_dim))
        self.output_bias = self.add_weight(
            name="output_bias",
            shape=(self.token_embedding.vocabulary_size,),
            initializer="zeros",
        )
        self.built = True

    def call(self, inputs, mask_positions=None):
        x = inputs if mask_positions is None else take_positions(inputs, mask_positions)  # [B, P, H]
        x = self.layer_norm(self.dense(x))  # [B, P, E]
        return self.token_embedding.logits(x) + ops.cast(self.output_bias, x.dtype)

    def compute_output_shape(self, inputs_shape, mask_positions_shape=None):
        leading = inputs_shape[:-1] if mask_positions_shape is None else mask_positions_shape
        return (*leading, self.token_embedding.vocabulary_size)

    def get_config(self):
        # The tied embedding is not serialisable on its own: the masked-LM task
        # rebuilds this head from its backbone.
        config = super().get_config()
        config.update(layer_norm_epsilon=self.layer_norm_epsilon)
        return config


@register
class LogoPooling(keras.layers.Layer):
    """Sequence pooling: LOGO's first token, or a padding-aware mean.

    LOGO prepends no [CLS] token; its classifiers read the output at the
    first k-mer (`mode="first"`). `mode="mean"` averages the non-padding
    positions.

    Args:
        mode: `"first"` or `"mean"`. Defaults to `"first"`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor `[B, T, H]`.
        padding_mask: bool tensor `[B, T]` (used by `"mean"`).

    Returns:
        Tensor `[B, H]`.
    """

    MODES = ("first", "mean")

    def __init__(self, mode="first", **kwargs):
        if mode not in self.MODES:
            raise ValueError(f"`mode` must be one of {self.MODES}. Received: mode={mode!r}")
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, inputs, padding_mask=None):
        if self.mode == "first" or padding_mask is None:
            return inputs[:, 0] if self.mode == "first" else ops.mean(inputs, axis=1)
        weights = ops.cast(padding_mask, inputs.dtype)[..., None]  # [B, T, 1]
        total = ops.sum(inputs * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        return (inputs_shape[0], inputs_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config


@register
class SigmoidProduct(keras.layers.Layer):
    """Product of the sigmoids of C logits: `[B, C]` -> `[B, 1]`.

    A soft AND of C binary experts: the output is high only where every head
    is. `LogoSequenceClassifier(natural_head=True)` uses it to combine "this
    is the class" with "this is natural DNA, not a composition-preserving
    shuffle". Computed in float32 as `exp(sum(log_sigmoid(logits)))`.

    Args:
        **kwargs: base layer arguments.

    Call arguments:
        logits: tensor `[B, C]`.

    Returns:
        Tensor `[B, 1]` in (0, 1].
    """

    def call(self, logits):
        logits = ops.cast(logits, "float32")
        return ops.exp(ops.sum(ops.log_sigmoid(logits), axis=-1, keepdims=True))

    def compute_output_shape(self, logits_shape):
        return (*logits_shape[:-1], 1)
