"""Small track models for comparisons: convolution-only, and the same with attention.

`build_dilated_conv_model` is convolution-only; `build_conv_attention_model`
adds content-based self-attention layers (Keras `MultiHeadAttention`, no
positional encoding) on top of the same trunk, so that a comparison isolates
what attention adds.

Architecture (all convolutions "same"-padded and bias-free, since every path meets a
BatchNorm, synchronized across replicas and with momentum 0.9 like Enformer's):

    one-hot (B, L, 4)
    -> stem: Conv1D(channels, 15), MaxPool(stem_pool)              (B, L/stem_pool, C)
    -> log2(bin_size/stem_pool) x [BN, GELU, Conv1D(C, 5), MaxPool(2)] (B, L/bin_size, C)
    -> num_dilated_layers x residual [BN, GELU, Conv1D(C, kernel, dilation 2^i),
                                      BN, GELU, Conv1D(C, 1)]
    -> centre crop to target_length bins                            (B, T, C)
    -> per head: Dense(n, softplus)                                 {head: (B, T, n)}

`receptive_field()` gives the receptive field of one output bin: with
`bin_size=128` and kernel 3 it is 16,778 bp for 6 dilated layers (1..32),
i.e. the centre bin sees +-8.4 kb, and 33,162 bp for 7 layers; Enformer's
attention spans the whole input.

This model lives in `training/` because it exists to be compared against in
training demonstrations; it is not a published architecture.
"""

import math

import keras

__all__ = ["build_dilated_conv_model", "build_conv_attention_model", "receptive_field"]


def _check(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


def receptive_field(bin_size=128, num_dilated_layers=6, kernel_size=3, stem_pool=1):
    """Receptive field in bp of one output bin of `build_dilated_conv_model`.

    Args:
        bin_size: int, a power of 2. Bin width in bp.
        num_dilated_layers: int >= 0.
        kernel_size: int >= 1. Kernel of the dilated convolutions.
        stem_pool: int, a power of 2. Max-pool width right after the stem.

    Returns:
        int. Number of input positions that can influence one output bin.
    """
    field, jump = 15, 1  # stem conv
    if stem_pool > 1:
        field += stem_pool - 1
        jump = stem_pool
    for _ in range(int(math.log2(bin_size // stem_pool))):
        field += 4 * jump  # conv width 5
        field += jump  # max pool 2 (window 2, stride 2)
        jump *= 2
    for i in range(num_dilated_layers):
        field += (kernel_size - 1) * (2**i) * jump
    return field


def build_dilated_conv_model(
    sequence_length,
    heads,
    bin_size=128,
    target_length=None,
    channels=32,
    num_dilated_layers=6,
    kernel_size=3,
    stem_pool=1,
    name="dilated_conv",
):
    """Builds the convolution-only baseline (see module docstring).

    Args:
        sequence_length: int. Input length L in bp, a multiple of `bin_size`.
        heads: dict str -> int. Output head name -> number of tracks.
        bin_size: int, a power of 2. Output resolution in bp. Defaults to 128.
        target_length: int or None. Central bins kept (None: all L/bin_size).
        channels: int. Width C of every layer. Defaults to 32.
        num_dilated_layers: int >= 0. Dilations 1, 2, ..., 2^(n-1).
        kernel_size: int. Kernel of the dilated convolutions. Defaults to 3.
        stem_pool: int, a power of 2 <= bin_size. Max-pool right after the
            stem convolution (8 makes the model about 5x cheaper at long
            inputs). Defaults to 1.
        name: str. Model name.

    Returns:
        A functional `keras.Model`: `(B, L, 4)` -> `{head: (B, T, n)}`.
    """
    return _build(
        sequence_length, heads, bin_size, target_length, channels, num_dilated_layers, kernel_size, stem_pool,
        0, 4, 16, name,
    )


def build_conv_attention_model(
    sequence_length,
    heads,
    bin_size=128,
    target_length=None,
    channels=32,
    num_dilated_layers=2,
    kernel_size=3,
    stem_pool=1,
    num_attention_layers=1,
    num_heads=4,
    key_dim=16,
    name="conv_attention",
):
    """The dilated-conv trunk followed by self-attention over all bins.

    Each attention layer is pre-norm and residual: `x + MHA(LN(x))`, then
    `x + MLP(LN(x))` (ReLU, width 2C). Attention is content-based (no
    positional encoding) and spans the whole input, `L / bin_size` bins.

    Args:
        sequence_length, heads, bin_size, target_length, channels,
            num_dilated_layers, kernel_size, stem_pool: as
            `build_dilated_conv_model`.
        num_attention_layers: int >= 1.
        num_heads: int. Attention heads.
        key_dim: int. Query/key size per head.
        name: str. Model name.

    Returns:
        A functional `keras.Model`: `(B, L, 4)` -> `{head: (B, T, n)}`.
    """
    _check(num_attention_layers, "num_attention_layers")
    _check(num_heads, "num_heads")
    _check(key_dim, "key_dim")
    return _build(
        sequence_length, heads, bin_size, target_length, channels, num_dilated_layers, kernel_size, stem_pool,
        num_attention_layers, num_heads, key_dim, name,
    )


def _build(
    sequence_length, heads, bin_size, target_length, channels, num_dilated_layers, kernel_size, stem_pool,
    num_attention_layers, num_heads, key_dim, name,
):
    _check(sequence_length, "sequence_length")
    _check(bin_size, "bin_size")
    _check(channels, "channels")
    _check(num_dilated_layers, "num_dilated_layers", minimum=0)
    _check(kernel_size, "kernel_size")
    if bin_size & (bin_size - 1):
        raise ValueError(f"`bin_size` must be a power of 2. Received: bin_size={bin_size}")
    _check(stem_pool, "stem_pool")
    if stem_pool & (stem_pool - 1) or stem_pool > bin_size:
        raise ValueError(
            f"`stem_pool` must be a power of 2 <= bin_size. Received: stem_pool={stem_pool}, bin_size={bin_size}"
        )
    if sequence_length % bin_size:
        raise ValueError(
            "`sequence_length` must be a multiple of `bin_size`. "
            f"Received: sequence_length={sequence_length}, bin_size={bin_size}"
        )
    if not isinstance(heads, dict) or not heads:
        raise ValueError(f"`heads` must be a non-empty dict name -> tracks. Received: heads={heads!r}")
    num_bins = sequence_length // bin_size
    target_length = num_bins if target_length is None else target_length
    _check(target_length, "target_length")
    if target_length > num_bins or (num_bins - target_length) % 2:
        raise ValueError(
            f"`target_length` must be <= {num_bins} bins and leave an even crop. "
            f"Received: target_length={target_length}"
        )

    def norm_act(x, label):
        x = keras.layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"{label}_bn")(x)
        return keras.layers.Activation("gelu", name=f"{label}_gelu")(x)

    inputs = keras.Input((sequence_length, 4), name="sequence")
    x = keras.layers.Conv1D(channels, 15, padding="same", use_bias=False, name="stem_conv")(inputs)
    if stem_pool > 1:
        x = keras.layers.MaxPooling1D(stem_pool, name="stem_pool")(x)
    for i in range(int(math.log2(bin_size // stem_pool))):
        x = norm_act(x, f"down_{i}")
        x = keras.layers.Conv1D(
            channels, 5, padding="same", use_bias=False, name=f"down_{i}_conv"
        )(x)
        x = keras.layers.MaxPooling1D(2, name=f"down_{i}_pool")(x)
    for i in range(num_dilated_layers):
        y = norm_act(x, f"dilated_{i}_a")
        y = keras.layers.Conv1D(
            channels,
            kernel_size,
            dilation_rate=2**i,
            padding="same",
            use_bias=False,
            name=f"dilated_{i}_conv",
        )(y)
        y = norm_act(y, f"dilated_{i}_b")
        y = keras.layers.Conv1D(channels, 1, use_bias=False, name=f"dilated_{i}_pointwise")(y)
        x = keras.layers.Add(name=f"dilated_{i}_residual")([x, y])
    for i in range(num_attention_layers):
        y = keras.layers.LayerNormalization(name=f"attention_{i}_norm")(x)
        y = keras.layers.MultiHeadAttention(num_heads, key_dim, name=f"attention_{i}_mha")(y, y)
        x = keras.layers.Add(name=f"attention_{i}_residual")([x, y])
        y = keras.layers.LayerNormalization(name=f"attention_{i}_mlp_norm")(x)
        y = keras.layers.Dense(2 * channels, activation="relu", name=f"attention_{i}_mlp_in")(y)
        y = keras.layers.Dense(channels, name=f"attention_{i}_mlp_out")(y)
        x = keras.layers.Add(name=f"attention_{i}_mlp_residual")([x, y])
    crop = (num_bins - target_length) // 2
    if crop:
        x = keras.layers.Cropping1D(crop, name="crop")(x)
    x = norm_act(x, "final")
    outputs = {
        head: keras.layers.Dense(int(n), activation="softplus", name=f"head_{head}")(x)
        for head, n in heads.items()
    }
    return keras.Model(inputs, outputs, name=name)
