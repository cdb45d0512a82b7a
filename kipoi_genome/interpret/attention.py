"""Enformer attention maps."""

import keras
import numpy as np

from kipoi_genome.models.enformer.chunked_inference import conv_features


def attention_maps(model, one_hot):
    """Attention weights of an Enformer, averaged over heads and layers.

    Runs the transformer blocks one by one (inference mode) to read each
    layer's softmax weights.

    Args:
        model: `kipoi_genome.models.Enformer` with at least one transformer layer.
        one_hot: float array `[B, L, 4]`.

    Returns:
        float32 array `[B, T, T]` (T = L / 128): row i is how query bin i
        attends to every key bin. Use `maps[:, i]` for one query bin.
    """
    if not getattr(model, "num_transformer_layers", 0):
        raise ValueError("attention_maps needs an Enformer with transformer layers.")
    x = conv_features(model, np.asarray(one_hot, dtype=np.float32))  # window by window, as at inference
    total = 0.0
    for i in range(model.num_transformer_layers):
        block = model.get_layer(f"transformer_{i}_mha").layer
        normed = block.get_layer("layer_norm")(x)
        update, weights = block.get_layer("attention")(normed, return_attention_scores=True)
        total = total + keras.ops.convert_to_numpy(weights).mean(axis=1)
        x = model.get_layer(f"transformer_{i}_mlp")(x + update)
    return (total / model.num_transformer_layers).astype(np.float32)
