"""Enformer (Avsec et al. 2021) as a functional Keras 3 model.

The model reads like the paper figure: stem -> conv tower -> transformer ->
crop -> final pointwise -> per-organism softplus heads. Numbers follow the
post-2022-05 official code (google-deepmind/deepmind-research, enformer/).
"""

import math

import keras
import numpy as np

from kipoi_genome.layers import (
    AttentionPool1D,
    ConvBlock,
    RelativeMultiHeadAttention,
    Residual,
    TargetLengthCrop1D,
    gelu_sigmoid,
)
from kipoi_genome.layers.conv_block import sonnet_initializer
from kipoi_genome.models.presets import PresetMixin
from kipoi_genome.serialization import register

SEQUENCE_LENGTH = 196_608
BIN_SIZE = 128
TARGET_LENGTH = 896
HEADS = {"human": 5313, "mouse": 1643}


def exponential_linspace_int(start, end, num, divisible_by=1):
    """Integers spaced exponentially from `start` to `end`, rounded to `divisible_by`.

    Rounds half to even (`np.round`), as the official code does.
    """
    base = math.exp(math.log(end / start) / (num - 1))
    return [int(np.round(start * base**i / divisible_by) * divisible_by) for i in range(num)]


def _positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _pool(pooling_type, name):
    """Halves the length: softmax-weighted (`"attention"`) or max pooling."""
    if pooling_type == "attention":
        return AttentionPool1D(pool_size=2, name=name)
    return keras.layers.MaxPooling1D(pool_size=2, padding="same", name=name)


def _pointwise_residual(filters, name):
    """`x + conv_block(x)` with a width-1 conv block, `[B, L, C]` -> `[B, L, C]`."""
    return Residual(ConvBlock(filters, 1, name="conv_block"), name=name)


def _stem(filters, pooling_type):
    """Stem: Conv1D(width 15) -> pointwise residual -> pool, `[B, L, 4]` -> `[B, L / 2, filters]`."""
    return [
        keras.layers.Conv1D(
            filters,
            15,
            padding="same",
            kernel_initializer=sonnet_initializer(15 * 4),
            name="stem_conv",
        ),
        _pointwise_residual(filters, "stem_pointwise"),
        _pool(pooling_type, "stem_pool"),
    ]


def _conv_tower_block(filters, pooling_type, name):
    """Conv tower block: conv block(width 5) -> pointwise residual -> pool,
    `[B, L, C_in]` -> `[B, L / 2, filters]`."""
    return [
        ConvBlock(filters, 5, name=f"{name}_conv"),
        _pointwise_residual(filters, f"{name}_pointwise"),
        _pool(pooling_type, f"{name}_pool"),
    ]


def _transformer_block(
    channels,
    num_heads,
    key_size,
    dropout_rate,
    attention_dropout_rate,
    positional_dropout_rate,
    positional_basis_length,
    name,
):
    """Transformer block: an attention residual, then an MLP residual, `[B, T, C]` -> `[B, T, C]`.

    mha: `x + Dropout(RelativeMHA(LayerNorm(x)))`; mlp: `x + Dropout(Dense(C)(
    ReLU(Dropout(Dense(2C)(LayerNorm(x))))))`.
    """
    mha = keras.Sequential(
        [
            keras.layers.LayerNormalization(epsilon=1e-5, name="layer_norm"),
            RelativeMultiHeadAttention(
                num_heads=num_heads,
                key_size=key_size,
                value_size=channels // num_heads,
                num_relative_position_features=channels // num_heads,
                positional_basis_length=positional_basis_length,
                attention_dropout=attention_dropout_rate,
                positional_dropout=positional_dropout_rate,
                name="attention",
            ),
            keras.layers.Dropout(dropout_rate, name="dropout"),
        ],
        name="mha",
    )
    mlp = keras.Sequential(
        [
            keras.layers.LayerNormalization(epsilon=1e-5, name="layer_norm"),
            keras.layers.Dense(
                2 * channels, kernel_initializer=sonnet_initializer(channels), name="dense_in"
            ),
            keras.layers.Dropout(dropout_rate, name="dropout_in"),
            keras.layers.ReLU(name="relu"),
            keras.layers.Dense(
                channels, kernel_initializer=sonnet_initializer(2 * channels), name="dense_out"
            ),
            keras.layers.Dropout(dropout_rate, name="dropout_out"),
        ],
        name="mlp",
    )
    return [Residual(mha, name=f"{name}_mha"), Residual(mlp, name=f"{name}_mlp")]


def _final_pointwise(filters, dropout_rate):
    """Final pointwise: conv block(width 1) -> Dropout -> GELU, `[B, T, C]` -> `[B, T, filters]`."""
    return [
        ConvBlock(filters, 1, name="final_pointwise"),
        keras.layers.Dropout(dropout_rate, name="final_dropout"),
        keras.layers.Activation(gelu_sigmoid, name="final_gelu"),
    ]


def _output_heads(heads, fan_in):
    """One softplus Dense per organism, `[B, T, fan_in]` -> `[B, T, tracks]`."""
    # Under 16-bit policies the heads (and so the outputs) stay float32.
    compute_dtype = keras.config.dtype_policy().compute_dtype
    dtype = "float32" if compute_dtype in ("bfloat16", "float16") else None
    return {
        organism: keras.layers.Dense(
            size,
            activation="softplus",
            kernel_initializer=sonnet_initializer(fan_in),
            dtype=dtype,
            name=f"head_{organism}",
        )
        for organism, size in heads.items()
    }


@register
class Enformer(PresetMixin, keras.Model):
    """Enformer: DNA sequence -> 128-bp binned genomic tracks.

    A plain functional model built as the paper's figure: the trunk (stem ->
    conv_tower -> transformer -> target crop -> final_pointwise) and one
    softplus head per organism. `model(x)`, `predict` and training run the
    whole sequence at once; `models.enformer.chunked_inference` runs inference
    with the stem and conv tower window by window (`inference_chunk_length`),
    which the package's inference paths use.

    Args:
        channels: int. Transformer width C (1536 in the published model).
        num_transformer_layers: int. Number of transformer blocks (11).
        num_heads: int. Attention heads H (8); `C / H` must be divisible by
            6 (the relative basis has 6 components).
        pooling_type: `"attention"` (softmax pooling) or `"max"`.
        heads: dict organism -> number of output tracks.
        sequence_length: int. Input length in bp; divisible by
            `2 ** (num_conv_tower_blocks + 1)`.
        target_length: int or None. Output bins kept after the central crop.
        num_conv_tower_blocks: int. Conv tower depth (6); each halves the length.
        conv_tower_filters: list of int or None. Explicit tower widths; by
            default `exponential_linspace_int(C / 2, C, blocks,
            filter_divisible_by)`. The last width must equal C.
        filter_divisible_by: int. Rounding of the default tower widths (128).
        key_size: int. Query/key size per head (64).
        dropout_rate: float. Transformer dropout (0.4); the final pointwise
            block uses `dropout_rate / 8`.
        attention_dropout_rate: float. Dropout on attention weights (0.05).
        positional_dropout_rate: float. Dropout on the positional basis (0.01).
        positional_basis_length: int or None. Token count that parameterises
            the relative basis; None uses the actual token count. Set it to
            1536 to run the published weights at another input length.
        inference_chunk_length: int or None. Window length in bp with which
            `models.enformer.chunked_inference` runs the stem and conv tower at
            inference, one window after another, each widened by a halo that
            covers their receptive field: outputs equal the whole-sequence
            pass while the `[B, L, C/2]` activations are held for one window
            only. A multiple of `2 ** (num_conv_tower_blocks + 1)`; None (or a
            value >= `sequence_length`) runs the whole sequence at once. The
            model's own call and training always run the whole sequence.
        **kwargs: `keras.Model` arguments (`name`, `dtype`).

    Call arguments:
        inputs: float one-hot tensor `[B, sequence_length, 4]`, ACGT order,
            N as all zeros.
        training: bool; batch statistics and dropout when True.

    Returns:
        dict organism -> tensor `[B, target_length, heads[organism]]`.

    Example:
    ```python
    model = Enformer.from_preset("enformer")          # official weights (downloaded once, cached)
    outputs = chunked_inference.predict_on_batch(model, x)  # stem + tower window by window
    arch = Enformer.from_preset("enformer", load_weights=False)  # random weights, offline
    tiny = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                    heads={"human": 3}, sequence_length=2048, target_length=8,
                    filter_divisible_by=8)
    ```

    Reference:
        Avsec et al. 2021, Nat Methods 18:1196, doi:10.1038/s41592-021-01252-x.
    """

    def __init__(
        self,
        channels=1536,
        num_transformer_layers=11,
        num_heads=8,
        pooling_type="attention",
        heads=None,
        sequence_length=SEQUENCE_LENGTH,
        target_length=TARGET_LENGTH,
        num_conv_tower_blocks=6,
        conv_tower_filters=None,
        filter_divisible_by=128,
        key_size=64,
        dropout_rate=0.4,
        attention_dropout_rate=0.05,
        positional_dropout_rate=0.01,
        positional_basis_length=None,
        inference_chunk_length=32_768,
        **kwargs,
    ):
        heads = dict(HEADS if heads is None else heads)
        _validate_config(
            channels,
            num_transformer_layers,
            num_heads,
            pooling_type,
            heads,
            sequence_length,
            target_length,
            num_conv_tower_blocks,
            key_size,
            filter_divisible_by,
        )
        downsampling = 2 ** (num_conv_tower_blocks + 1)
        _positive_int("inference_chunk_length", inference_chunk_length, allow_none=True)
        if inference_chunk_length is not None and inference_chunk_length % downsampling:
            raise ValueError(
                f"`inference_chunk_length` must be a multiple of {downsampling} (the conv "
                f"tower's downsampling). Received: inference_chunk_length={inference_chunk_length}"
            )
        if conv_tower_filters is None:
            filters = exponential_linspace_int(
                channels // 2, channels, num_conv_tower_blocks, filter_divisible_by
            )
        else:
            filters = [int(f) for f in conv_tower_filters]
        if len(filters) != num_conv_tower_blocks or min(filters) < 1 or filters[-1] != channels:
            raise ValueError(
                f"The conv tower needs {num_conv_tower_blocks} positive widths ending at "
                f"channels={channels}; got {filters}. Choose `channels` divisible by "
                "`filter_divisible_by`, a smaller `filter_divisible_by`, or pass "
                "`conv_tower_filters`."
            )

        # === Layers ===
        # The paper's trunk: stem -> conv_tower -> transformer -> target crop
        # -> final_pointwise; the heads read its output.
        stem = _stem(channels // 2, pooling_type)
        conv_tower = [
            layer
            for i, width in enumerate(filters)
            for layer in _conv_tower_block(width, pooling_type, name=f"conv_tower_{i}")
        ]
        transformer = [
            layer
            for i in range(num_transformer_layers)
            for layer in _transformer_block(
                channels,
                num_heads,
                key_size,
                dropout_rate,
                attention_dropout_rate,
                positional_dropout_rate,
                positional_basis_length,
                name=f"transformer_{i}",
            )
        ]
        crop = TargetLengthCrop1D(target_length, name="crop")
        final_pointwise = _final_pointwise(2 * channels, dropout_rate / 8)
        heads_by_organism = _output_heads(heads, 2 * channels)
        conv_layers = stem + conv_tower
        embedding_layers = transformer + [crop] + final_pointwise

        inputs = keras.Input((sequence_length, 4), name="sequence")
        x = inputs
        for layer in conv_layers + embedding_layers:
            x = layer(x)
        outputs = {organism: head(x) for organism, head in heads_by_organism.items()}

        # === Functional Model ===
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.channels = channels
        self.num_transformer_layers = num_transformer_layers
        self.num_heads = num_heads
        self.pooling_type = pooling_type
        self.heads = heads
        self.sequence_length = sequence_length
        self.target_length = target_length
        self.num_conv_tower_blocks = num_conv_tower_blocks
        self.conv_tower_filters = None if conv_tower_filters is None else list(filters)
        self.filter_divisible_by = filter_divisible_by
        self.key_size = key_size
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.positional_dropout_rate = positional_dropout_rate
        self.positional_basis_length = positional_basis_length
        self.inference_chunk_length = inference_chunk_length
        # Names, not layer objects: attributes holding layers would be tracked
        # and change the saved weight layout.
        self._conv_names = [layer.name for layer in conv_layers]
        self._embedding_names = [layer.name for layer in embedding_layers]

    # The trunk in two parts, for passes that run or rerun part of it
    # (chunked_inference, interpret.incremental, interpret.recompute).
    @property
    def bin_size(self):
        """bp per conv tower output position (and per output bin): `2 ** (blocks + 1)`."""
        return 2 ** (self.num_conv_tower_blocks + 1)

    @property
    def conv_layers(self):
        """Stem and conv tower layers in order: `[B, L, 4]` -> `[B, L / bin_size, C]`."""
        return [self.get_layer(name) for name in self._conv_names]

    @property
    def embedding_layers(self):
        """Transformer blocks, target crop and final pointwise (conv block,
        dropout, GELU) in order: `[B, L / bin_size, C]` -> `[B, target_length, 2C]`,
        the embeddings the heads read."""
        return [self.get_layer(name) for name in self._embedding_names]

    @property
    def tower_filters(self):
        """Output channels of each conv tower block."""
        return [
            self.get_layer(f"conv_tower_{i}_conv").filters
            for i in range(self.num_conv_tower_blocks)
        ]

    def count_params(self):
        """Number of trainable parameters, the count published for Enformer.

        BatchNorm moving statistics (29,696 values in the full model) are
        state, not parameters, and are left out, as in the Sonnet count.
        """
        return int(sum(np.prod(w.shape) for w in self.trainable_weights))

    def embedding_model(self):
        """A model sharing weights that returns the `[B, bins, 2C]` embeddings.

        It is the plain functional graph, so it runs the stem and conv tower
        over the whole sequence at once; `chunked_inference.embed`
        gives the same embeddings window by window.
        """
        return keras.Model(self.input, self.get_layer("final_gelu").output)

    def __call__(self, inputs, *args, **kwargs):
        check_input_shape(inputs, self.sequence_length)
        return super().__call__(inputs, *args, **kwargs)

    def get_config(self):
        # Like keras-hub backbones: the constructor arguments, not the graph.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "channels": self.channels,
            "num_transformer_layers": self.num_transformer_layers,
            "num_heads": self.num_heads,
            "pooling_type": self.pooling_type,
            "heads": dict(self.heads),
            "sequence_length": self.sequence_length,
            "target_length": self.target_length,
            "num_conv_tower_blocks": self.num_conv_tower_blocks,
            "conv_tower_filters": self.conv_tower_filters,
            "filter_divisible_by": self.filter_divisible_by,
            "key_size": self.key_size,
            "dropout_rate": self.dropout_rate,
            "attention_dropout_rate": self.attention_dropout_rate,
            "positional_dropout_rate": self.positional_dropout_rate,
            "positional_basis_length": self.positional_basis_length,
            "inference_chunk_length": self.inference_chunk_length,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_input_shape(inputs, sequence_length):
    """Raises a ValueError unless `inputs` has shape `[B, sequence_length, 4]`."""
    shape = getattr(inputs, "shape", None)
    if shape is None:
        shape = np.shape(inputs)
    shape = tuple(shape)
    expected = f"[batch, {sequence_length}, 4] (one-hot ACGT)"
    if len(shape) != 3:
        raise ValueError(
            f"Enformer expects inputs of rank 3, {expected}. Received: shape {shape} "
            f"(rank {len(shape)})"
        )
    if shape[1] is not None and shape[1] != sequence_length:
        raise ValueError(
            f"Enformer expects sequence length {sequence_length}, {expected}. "
            f"Received: length {shape[1]} in shape {shape}"
        )
    if shape[2] is not None and shape[2] != 4:
        raise ValueError(
            f"Enformer expects 4 channels, {expected}. Received: {shape[2]} channels in "
            f"shape {shape}"
        )


def _validate_config(
    channels,
    num_transformer_layers,
    num_heads,
    pooling_type,
    heads,
    sequence_length,
    target_length,
    num_conv_tower_blocks,
    key_size,
    filter_divisible_by,
):
    _positive_int("channels", channels)
    _positive_int("num_heads", num_heads)
    _positive_int("sequence_length", sequence_length)
    _positive_int("target_length", target_length, allow_none=True)
    _positive_int("num_conv_tower_blocks", num_conv_tower_blocks)
    _positive_int("key_size", key_size)
    _positive_int("filter_divisible_by", filter_divisible_by)
    if not isinstance(num_transformer_layers, int) or num_transformer_layers < 0:
        raise ValueError(
            "`num_transformer_layers` must be a non-negative integer. "
            f"Received: num_transformer_layers={num_transformer_layers!r}"
        )
    if pooling_type not in ("attention", "max"):
        raise ValueError(
            f"`pooling_type` must be 'attention' or 'max'. Received: pooling_type={pooling_type!r}"
        )
    if channels % num_heads or (channels // num_heads) % 6:
        raise ValueError(
            "`channels / num_heads` must be an integer divisible by 6 (the relative "
            f"positional basis has 6 components). Received: channels={channels}, "
            f"num_heads={num_heads}"
        )
    if channels % 2:
        raise ValueError(f"`channels` must be even. Received: channels={channels}")
    if not heads or not all(
        isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in heads.items()
    ):
        raise ValueError(
            "`heads` must map organism names to positive track counts. "
            f"Received: heads={heads!r}"
        )
    downsampling = 2 ** (num_conv_tower_blocks + 1)
    if sequence_length % downsampling:
        raise ValueError(
            f"`sequence_length` must be divisible by {downsampling} (one stem pool and "
            f"{num_conv_tower_blocks} tower pools of 2). Received: sequence_length={sequence_length}"
        )
    bins = sequence_length // downsampling
    if target_length is not None and target_length > bins:
        raise ValueError(
            f"`target_length` must be at most the {bins} bins of a {sequence_length}-bp "
            f"input. Received: target_length={target_length}"
        )
