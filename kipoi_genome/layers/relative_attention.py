"""Transformer-XL style multi-head attention with relative positional bases."""

import functools

import keras
import numpy as np
from keras import ops

from kipoi_genome.layers import positional_basis
from kipoi_genome.serialization import register


@functools.lru_cache(maxsize=16)
def _cached_table(seq_length, feature_size, basis_length, functions, symmetric):
    table = positional_basis.relative_positional_table(
        seq_length,
        feature_size,
        basis_length=basis_length,
        functions=functions,
        symmetric=symmetric,
    )
    table.setflags(write=False)
    return table


def relative_shift(x):
    """Aligns relative logits so that entry (i, j) uses distance j - i.

    Args:
        x: tensor `[..., T, 2T - 1]` whose last axis indexes the distances
            `-(T-1) .. T-1` in increasing order.

    Returns:
        Tensor `[..., T, T]` with `out[..., i, j] = x[..., i, j - i + T - 1]`.
    """
    batch = list(ops.shape(x)[:-2])
    t, d = ops.shape(x)[-2], ops.shape(x)[-1]
    # Prepend a zero column, then a reshape shifts row i left by i positions.
    x = ops.pad(x, [(0, 0)] * len(batch) + [(0, 0), (1, 0)])
    x = ops.reshape(x, (*batch, d + 1, t))[..., 1:, :]
    x = ops.reshape(x, (*batch, t, d))
    return x[..., :t]


@register
class RelativeMultiHeadAttention(keras.layers.Layer):
    """Multi-head self-attention with relative positions (Enformer, Transformer-XL).

    Logits are `(q_i + u) . k_j + (q_i + v) . r_{j - i}`, where `u` (`r_w_bias`)
    and `v` (`r_r_bias`) are learned per head and `r_d` is a linear projection
    of a fixed basis of the distance `d = j - i` (see `positional_basis`).
    The basis is computed in float64 NumPy for the actual sequence length and
    cast once to the compute dtype, so it is exact at any length. There is no
    attention mask.

    Args:
        num_heads: int. Number of heads H.
        key_size: int. Query/key size per head K.
        value_size: int or None. Value size per head V; defaults to
            `C // num_heads`.
        output_dim: int or None. Output channels; defaults to the input
            channels C.
        num_relative_position_features: int or None. Basis size F; defaults to
            V rounded down to a multiple of the number of basis components.
        relative_position_functions: tuple of names from
            `positional_basis.BASIS_FUNCTIONS`.
        relative_position_symmetric: bool. Leave out the `sign(d)` half.
        positional_basis_length: int or None. Length that parameterises the
            basis (half-lives, gamma means); None uses the input length. Set
            it to the training length (1536 for Enformer) to run a trained
            model on other lengths.
        scaling: bool. Multiply queries by `K ** -0.5`.
        attention_dropout: float. Dropout on attention weights.
        positional_dropout: float. Dropout on the positional basis.
        zero_initialize: bool. Start the output projection at zero, so a
            residual attention block starts as the identity.
        kernel_initializer: initializer of the projections and biases;
            defaults to `VarianceScaling(2.0)` (truncated normal, fan-in).
        seed: int or None. Seed of the dropout layers.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor `[B, T, C]` with static T.
        training: bool; enables dropout.
        return_attention_scores: bool; also return the weights `[B, H, T, T]`.

    Returns:
        Tensor `[B, T, output_dim]` (and the attention weights if asked).

    Reference:
        Avsec et al. 2021, Nat Methods 18:1196; Dai et al. 2019, arXiv:1901.02860.
    """

    def __init__(
        self,
        num_heads,
        key_size,
        value_size=None,
        output_dim=None,
        num_relative_position_features=None,
        relative_position_functions=("exponential", "central_mask", "gamma"),
        relative_position_symmetric=False,
        positional_basis_length=None,
        scaling=True,
        attention_dropout=0.0,
        positional_dropout=0.0,
        zero_initialize=True,
        kernel_initializer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value, optional in (
            ("num_heads", num_heads, False),
            ("key_size", key_size, False),
            ("value_size", value_size, True),
            ("output_dim", output_dim, True),
            ("num_relative_position_features", num_relative_position_features, True),
            ("positional_basis_length", positional_basis_length, True),
        ):
            if value is None and optional:
                continue
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
        for arg, value in (
            ("attention_dropout", attention_dropout),
            ("positional_dropout", positional_dropout),
        ):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"`{arg}` must be in [0, 1). Received: {arg}={value!r}")
        functions = tuple(relative_position_functions)
        unknown = [f for f in functions if f not in positional_basis.BASIS_FUNCTIONS]
        if unknown or not functions:
            raise ValueError(
                "`relative_position_functions` must name functions from "
                f"{sorted(positional_basis.BASIS_FUNCTIONS)}. "
                f"Received: relative_position_functions={relative_position_functions!r}"
            )
        self.num_components = len(functions) * (1 if relative_position_symmetric else 2)
        if num_relative_position_features is not None and (
            num_relative_position_features % self.num_components
        ):
            raise ValueError(
                "`num_relative_position_features` must be divisible by the number of "
                f"basis components ({self.num_components}). "
                f"Received: num_relative_position_features={num_relative_position_features}"
            )
        self.num_heads = int(num_heads)
        self.key_size = int(key_size)
        self.value_size = value_size
        self.output_dim = output_dim
        self.num_relative_position_features = num_relative_position_features
        self.relative_position_functions = functions
        self.relative_position_symmetric = bool(relative_position_symmetric)
        self.positional_basis_length = positional_basis_length
        self.scaling = bool(scaling)
        self.attention_dropout = float(attention_dropout)
        self.positional_dropout = float(positional_dropout)
        self.zero_initialize = bool(zero_initialize)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer
            or keras.initializers.VarianceScaling(
                scale=2.0, mode="fan_in", distribution="truncated_normal"
            )
        )
        self.seed = seed

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "RelativeMultiHeadAttention expects inputs [batch, length, channels] with "
                f"known channels. Received: input_shape={input_shape}"
            )
        channels = input_shape[-1]
        heads = self.num_heads
        self._value_size = self.value_size or channels // heads
        self._output_dim = self.output_dim or channels
        self._num_features = self.num_relative_position_features or (
            self._value_size // self.num_components * self.num_components
        )
        if self._num_features < self.num_components:
            raise ValueError(
                f"Too few relative position features ({self._num_features}) for "
                f"{self.num_components} basis components; set num_relative_position_features."
            )

        def dense(units, name, use_bias=False, zero=False):
            layer = keras.layers.Dense(
                units,
                use_bias=use_bias,
                kernel_initializer="zeros" if zero else self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )
            return layer

        self.query_dense = dense(heads * self.key_size, "query")
        self.key_dense = dense(heads * self.key_size, "key")
        self.value_dense = dense(heads * self._value_size, "value")
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.build(input_shape)
        self.output_dense = dense(self._output_dim, "output", use_bias=True, zero=self.zero_initialize)
        self.output_dense.build((None, None, heads * self._value_size))
        self.relative_key_dense = dense(heads * self.key_size, "relative_key")
        self.relative_key_dense.build((None, self._num_features))
        self.r_w_bias = self.add_weight(
            shape=(heads, self.key_size), initializer=self.kernel_initializer, name="r_w_bias"
        )
        self.r_r_bias = self.add_weight(
            shape=(heads, self.key_size), initializer=self.kernel_initializer, name="r_r_bias"
        )
        self.attention_dropout_layer = keras.layers.Dropout(
            self.attention_dropout, seed=self.seed, dtype=self.dtype_policy, name="attention_dropout"
        )
        self.positional_dropout_layer = keras.layers.Dropout(
            self.positional_dropout, seed=self.seed, dtype=self.dtype_policy, name="positional_dropout"
        )

    def positional_table(self, seq_length):
        """Float64 NumPy basis `[2T - 1, F]` for distances `-(T-1) .. T-1`."""
        return _cached_table(
            int(seq_length),
            self._num_features,
            self.positional_basis_length,
            self.relative_position_functions,
            self.relative_position_symmetric,
        )

    def _split_heads(self, x, size):
        # [B, T, H * size] -> [B, H, T, size]
        x = ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.num_heads, size))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, inputs, training=None, return_attention_scores=False):
        seq_length = inputs.shape[1]
        if seq_length is None:
            raise ValueError(
                "RelativeMultiHeadAttention needs a static sequence length to build its "
                f"positional basis. Received: input shape {inputs.shape}"
            )
        query = self._split_heads(self.query_dense(inputs), self.key_size)
        if self.scaling:
            query = query * ops.cast(self.key_size**-0.5, query.dtype)
        key = self._split_heads(self.key_dense(inputs), self.key_size)
        value = self._split_heads(self.value_dense(inputs), self._value_size)

        table = ops.convert_to_tensor(self.positional_table(seq_length), dtype=self.compute_dtype)
        table = self.positional_dropout_layer(table, training=training)
        # [2T - 1, H * K] -> [H, 2T - 1, K]
        relative_key = ops.reshape(
            self.relative_key_dense(table), (2 * seq_length - 1, self.num_heads, self.key_size)
        )
        relative_key = ops.transpose(relative_key, (1, 0, 2))

        r_w_bias = ops.cast(self.r_w_bias, query.dtype)[None, :, None, :]
        r_r_bias = ops.cast(self.r_r_bias, query.dtype)[None, :, None, :]
        content_logits = ops.einsum("bhik,bhjk->bhij", query + r_w_bias, key)
        relative_logits = ops.einsum("bhik,hdk->bhid", query + r_r_bias, relative_key)
        logits = content_logits + relative_shift(relative_logits)  # [B, H, T, T]

        weights = ops.softmax(logits, axis=-1)
        dropped = self.attention_dropout_layer(weights, training=training)
        output = ops.einsum("bhij,bhjv->bihv", dropped, value)  # [B, T, H, V]
        output = ops.reshape(
            output, (ops.shape(output)[0], seq_length, self.num_heads * self._value_size)
        )
        output = self.output_dense(output)
        if return_attention_scores:
            return output, weights
        return output

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim or input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_size=self.key_size,
            value_size=self.value_size,
            output_dim=self.output_dim,
            num_relative_position_features=self.num_relative_position_features,
            relative_position_functions=list(self.relative_position_functions),
            relative_position_symmetric=self.relative_position_symmetric,
            positional_basis_length=self.positional_basis_length,
            scaling=self.scaling,
            attention_dropout=self.attention_dropout,
            positional_dropout=self.positional_dropout,
            zero_initialize=self.zero_initialize,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            seed=self.seed,
        )
        return config
