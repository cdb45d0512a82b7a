"""Inference precision: float32 or bfloat16.

`"bfloat16"` builds the model under Keras' `bfloat16` policy: weights are
stored and used in bfloat16 (half the memory, no per-call casts) and
convolutions and matrix products run in bfloat16, which is fast on CPUs with
AVX-512 BF16 or AMX and on recent GPUs. The Enformer output heads keep
float32. The arithmetic equals mixed precision (which casts float32 weights
to bfloat16 at every use) up to where the few float32 islands sit; for
training use `"mixed_bfloat16"` (float32 master weights). Models are
rebuilt from their constructor config under the policy, so the same weight
files load in any precision.
"""

from kipoi_genome.utils.dtype_scope import policy_scope

PRECISIONS = {"float32": "float32", "bfloat16": "bfloat16", "mixed_bfloat16": "mixed_bfloat16"}


def _policy_name(precision):
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {sorted(PRECISIONS)}. Received: precision={precision!r}")
    return PRECISIONS[precision]


def dtype_policy(precision):
    """Scope in which layers are built with the Keras policy of `precision`."""
    return policy_scope(_policy_name(precision))


def model_precision(model):
    """`"bfloat16"` if any layer computes in bfloat16, else `"float32"`."""
    for layer in model._flatten_layers(include_self=False):
        if layer.dtype_policy.compute_dtype == "bfloat16":
            return "bfloat16"
    return "float32"


def with_precision(model, precision):
    """`model` rebuilt to compute in `precision`, sharing no state, same weights.

    Weights are converted to the new variable dtype (rounded to bfloat16 for
    `"bfloat16"`).

    Args:
        model: a zoo model whose `get_config` holds its constructor arguments
            (`Enformer`, the LOGO models).
        precision: `"float32"`, `"bfloat16"` or `"mixed_bfloat16"`.

    Returns:
        `model` itself when it already has the policy of `precision`, else a
        new model with copied weights.
    """
    policy = _policy_name(precision)
    if model.dtype_policy.name == policy:
        return model
    with dtype_policy(precision):
        clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone

