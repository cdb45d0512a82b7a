"""Converts official Enformer checkpoints (Sonnet / TF-Hub) to Keras.

Reads object-graph keys with `tf.train.load_checkpoint`, so neither Sonnet nor
the official code is needed, and works for a `tf.train.Checkpoint` prefix, a
directory holding one, or a TF-Hub SavedModel directory (whose `variables/`
is a checkpoint). Variable names (`tf.Variable.name`) are not used: they are
not unique in Sonnet models (both MLP linears are `.../linear/w:0`).

The key prefix (`model/`, `module/`, ...) is detected, and the architecture is
inferred from the variable shapes. Every variable under the prefix must be
used exactly once; missing, unused or mis-shaped variables raise one
`ValueError` listing all of them.
"""

import os
import re

import numpy as np
import tensorflow as tf

from kipoi_genome.models.enformer import Enformer

_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_STEM_KEY = "_trunk/_layers/0/_layers/0/w"
# Sonnet ExponentialMovingAverage internals; inference reads `average` only.
_IGNORED = re.compile(r"/(_hidden|_counter)$")


def resolve_checkpoint_prefix(path):
    """Returns the checkpoint prefix for a prefix, checkpoint dir or SavedModel dir."""
    path = os.fspath(path)
    if os.path.isdir(path):
        saved_model_vars = os.path.join(path, "variables", "variables")
        if os.path.exists(saved_model_vars + ".index"):
            return saved_model_vars
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        indexes = sorted(f for f in os.listdir(path) if f.endswith(".index"))
        if len(indexes) == 1:
            return os.path.join(path, indexes[0][: -len(".index")])
        raise FileNotFoundError(
            f"{path}: no TF-Hub SavedModel (variables/variables.index) or tf.train "
            "checkpoint found in this directory"
        )
    if os.path.exists(path + ".index"):
        return path
    raise FileNotFoundError(f"{path}: not a checkpoint prefix (no {path}.index) or directory")


class CheckpointReader:
    """Object-graph view of an Enformer checkpoint under one key prefix.

    Args:
        path: checkpoint prefix, checkpoint directory or SavedModel directory.
    """

    def __init__(self, path):
        self.path = resolve_checkpoint_prefix(path)
        reader = tf.train.load_checkpoint(self.path)
        keys = [k[: -len(_SUFFIX)] for k in reader.get_variable_to_shape_map() if k.endswith(_SUFFIX)]
        stems = [k for k in keys if k.endswith(_STEM_KEY)]
        if len(stems) != 1:
            raise ValueError(
                f"{path}: expected exactly one Enformer stem convolution (a key ending in "
                f"'{_STEM_KEY}'), found {len(stems)}: {stems[:5]}"
            )
        self.prefix = stems[0][: -len(_STEM_KEY)]
        self._reader = reader
        self.keys = {
            k[len(self.prefix) :]
            for k in keys
            if k.startswith(self.prefix) and ".OPTIMIZER_SLOT" not in k
        }
        self.used = set()

    def has(self, key):
        return key in self.keys

    def shape(self, key):
        return tuple(self._reader.get_variable_to_shape_map()[self.prefix + key + _SUFFIX])

    def get(self, key):
        """Returns the tensor at `key` (relative to the prefix) and marks it used."""
        self.used.add(key)
        return self._reader.get_tensor(self.prefix + key + _SUFFIX)

    def count(self, pattern):
        """Number of distinct integers matching `(\\d+)` in `pattern` over all keys."""
        regex = re.compile(pattern)
        return len({m.group(1) for k in self.keys if (m := regex.match(k))})

    def unused(self):
        return sorted(k for k in self.keys - self.used if not _IGNORED.search(k))


def infer_config(reader):
    """Enformer constructor arguments implied by the checkpoint's shapes."""
    trunk = "_trunk/_layers/"
    blocks = reader.count(re.escape(trunk) + r"1/_layers/(\d+)/")
    layers = reader.count(re.escape(trunk) + r"2/_layers/(\d+)/")
    if blocks == 0:
        raise ValueError(f"{reader.path}: no conv tower blocks under '{trunk}1/_layers/'")
    filters = [
        reader.shape(f"{trunk}1/_layers/{i}/_layers/0/_layers/2/w")[-1] for i in range(blocks)
    ]
    channels = filters[-1]
    heads = {}
    for key in sorted(reader.keys):
        match = re.fullmatch(r"_heads/([^/]+)/_layers/0/w", key)
        if match:
            heads[match.group(1)] = reader.shape(key)[-1]
    config = {
        "channels": channels,
        "num_transformer_layers": layers,
        "heads": heads,
        "num_conv_tower_blocks": blocks,
        "conv_tower_filters": filters,
        "pooling_type": "attention" if reader.has(f"{trunk}0/_layers/2/_logit_linear/w") else "max",
    }
    if layers:
        attention = f"{trunk}2/_layers/0/_layers/0/_module/_layers/1/"
        _, num_heads, _, key_size = reader.shape(attention + "_r_w_bias")
        config.update(num_heads=num_heads, key_size=key_size)
        features = reader.shape(attention + "_r_k_layer/w")[0]
        if features != channels // num_heads:
            raise ValueError(
                f"{reader.path}: {features} relative position features; Enformer uses "
                f"channels / num_heads = {channels // num_heads}"
            )
    return config


class _Porter:
    """Copies checkpoint tensors into Keras variables, collecting every problem."""

    def __init__(self, reader):
        self.reader = reader
        self.problems = []

    def port(self, variable, key, reshape=True):
        if not self.reader.has(key):
            self.problems.append(f"missing: {key} (for {variable.path} {tuple(variable.shape)})")
            return
        value = self.reader.get(key)
        target = tuple(variable.shape)
        if value.shape != target:
            if reshape and int(np.prod(value.shape)) == int(np.prod(target)):
                value = value.reshape(target)  # BN stats (1, 1, C) and biases (1, H, 1, K).
            else:
                self.problems.append(
                    f"mis-shaped: {key} has shape {value.shape}, {variable.path} needs {target}"
                )
                return
        variable.assign(value.astype(variable.dtype))

    def dense(self, layer, key):
        self.port(layer.kernel, f"{key}/w", reshape=False)
        if layer.use_bias:
            self.port(layer.bias, f"{key}/b", reshape=False)

    def norm(self, layer, key):
        self.port(layer.gamma, f"{key}/scale")
        self.port(layer.beta, f"{key}/offset")
        if hasattr(layer, "moving_mean"):
            self.port(layer.moving_mean, f"{key}/moving_mean/average")
            self.port(layer.moving_variance, f"{key}/moving_variance/average")

    def conv_block(self, block, key):
        # Sonnet conv_block = Sequential([BatchNorm, GELU, Conv1D]): slots 0 and 2.
        self.norm(block.batch_norm, f"{key}/_layers/0")
        self.dense(block.conv, f"{key}/_layers/2")

    def pool(self, layer, key):
        if hasattr(layer, "logit_dense"):
            self.port(layer.logit_dense.kernel, f"{key}/_logit_linear/w", reshape=False)


def load_official_weights(model, reader):
    """Assigns every weight of `model` from `reader`; raises on any mismatch."""
    porter = _Porter(reader)
    trunk = "_trunk/_layers"
    porter.dense(model.get_layer("stem_conv"), f"{trunk}/0/_layers/0")
    porter.conv_block(model.get_layer("stem_pointwise").layer, f"{trunk}/0/_layers/1/_module")
    porter.pool(model.get_layer("stem_pool"), f"{trunk}/0/_layers/2")
    for i in range(model.num_conv_tower_blocks):
        block = f"{trunk}/1/_layers/{i}/_layers"
        porter.conv_block(model.get_layer(f"conv_tower_{i}_conv"), f"{block}/0")
        porter.conv_block(model.get_layer(f"conv_tower_{i}_pointwise").layer, f"{block}/1/_module")
        porter.pool(model.get_layer(f"conv_tower_{i}_pool"), f"{block}/2")
    for i in range(model.num_transformer_layers):
        mha = model.get_layer(f"transformer_{i}_mha").layer
        key = f"{trunk}/2/_layers/{i}/_layers/0/_module/_layers"
        porter.norm(mha.get_layer("layer_norm"), f"{key}/0")
        attention = mha.get_layer("attention")
        for layer, name in (
            (attention.query_dense, "_q_layer"),
            (attention.key_dense, "_k_layer"),
            (attention.value_dense, "_v_layer"),
            (attention.output_dense, "_embedding_layer"),
            (attention.relative_key_dense, "_r_k_layer"),
        ):
            porter.dense(layer, f"{key}/1/{name}")
        porter.port(attention.r_w_bias, f"{key}/1/_r_w_bias")
        porter.port(attention.r_r_bias, f"{key}/1/_r_r_bias")
        mlp = model.get_layer(f"transformer_{i}_mlp").layer
        key = f"{trunk}/2/_layers/{i}/_layers/1/_module/_layers"
        porter.norm(mlp.get_layer("layer_norm"), f"{key}/0")
        porter.dense(mlp.get_layer("dense_in"), f"{key}/1")
        porter.dense(mlp.get_layer("dense_out"), f"{key}/4")
    porter.conv_block(model.get_layer("final_pointwise"), f"{trunk}/4/_layers/0")
    for organism in model.heads:
        porter.dense(model.get_layer(f"head_{organism}"), f"_heads/{organism}/_layers/0")

    problems = porter.problems + [f"unused: {key}" for key in reader.unused()]
    if problems:
        listing = "\n  ".join(problems)
        raise ValueError(
            f"{reader.path}: checkpoint does not match the Enformer model "
            f"({len(problems)} problems):\n  {listing}"
        )
    return model


def convert_enformer_checkpoint(path, sequence_length=None, target_length=None, **overrides):
    """Builds an `Enformer` holding the weights of an official checkpoint.

    Args:
        path: tf.train checkpoint prefix, a directory with a checkpoint, or a
            TF-Hub SavedModel directory.
        sequence_length: input length of the Keras model; defaults to 196,608.
        target_length: output bins after the crop; defaults to 896.
        **overrides: other `Enformer` arguments (e.g. `positional_basis_length`).

    Returns:
        The converted `Enformer`.
    """
    reader = CheckpointReader(path)
    config = infer_config(reader)
    if sequence_length is not None:
        config["sequence_length"] = sequence_length
    if target_length is not None:
        config["target_length"] = target_length
    config.update(overrides)
    model = Enformer(**config)
    return load_official_weights(model, reader)
