"""Inference precision: float32 or bfloat16 mixed precision.

Under `"bfloat16"` convolutions and matrix products run in bfloat16 (fast on
CPUs with AVX-512 BF16 or AMX and on recent GPUs) while variables stay
float32, so the same weights load in either precision. Models are rebuilt
from their constructor config under Keras' `mixed_bfloat16` policy; the
output heads keep float32.
"""

import contextlib

import keras
import tensorflow as tf

PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def _policy_name(precision):
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {sorted(PRECISIONS)}. Received: precision={precision!r}")
    return PRECISIONS[precision]


@contextlib.contextmanager
def dtype_policy(precision):
    """Builds layers inside the block with the Keras policy of `precision`."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_policy_name(precision))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def model_precision(model):
    """`"bfloat16"` if any layer computes in bfloat16, else `"float32"`."""
    for layer in model._flatten_layers(include_self=False):
        if layer.dtype_policy.compute_dtype == "bfloat16":
            return "bfloat16"
    return "float32"


def with_precision(model, precision):
    """`model` rebuilt to compute in `precision`, sharing no state, same weights.

    Args:
        model: a zoo model whose `get_config` holds its constructor arguments
            (`Enformer`, the LOGO models).
        precision: `"float32"` or `"bfloat16"`.

    Returns:
        `model` itself when it already computes in `precision`, else a new
        model with copied weights (float32 variables in both cases).
    """
    _policy_name(precision)
    if model_precision(model) == precision:
        return model
    with dtype_policy(precision):
        clone = type(model).from_config(model.get_config())
    if hasattr(model, "input_shape") and getattr(clone, "built", False) is False:
        clone.build(model.input_shape)
    clone.set_weights(model.get_weights())
    return clone


def bfloat16_supported():
    """Whether this machine has fast bfloat16 math (AVX-512 BF16 / AMX, or a GPU)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags
