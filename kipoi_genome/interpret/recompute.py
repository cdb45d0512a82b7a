"""Memory-bounded input gradients of an Enformer: activations recomputed in the backward pass.

A gradient tape over the whole published model holds every activation of the
forward pass (the `[B, 196,608, 768]` stem tensors alone are 0.6 GB each per
sequence; the process was killed at 23.6 GB). Here the forward pass keeps
only the trunk output and each transformer block's input (`[B, 1536, 1536]`,
9 MB each), and the backward pass recomputes one piece at a time under its
own tape: the output end (crop, final pointwise block, heads) on the selected
bins only, then each transformer block from its saved input, then the
convolutional trunk window by window (the inference windows with their
receptive-field halos, whose input gradients are summed where the halos
overlap). The result is the gradient of the same function, so it equals the
plain gradient up to round-off; memory is one window's or one block's
activations.
"""

import numpy as np
import tensorflow as tf

from kipoi_genome.interpret.targets import output_scalar, select_output
from kipoi_genome.layers import TargetLengthCrop1D
from kipoi_genome.models.enformer.chunked_inference import conv_window, model_windows

# Window for the backward pass through the stem and conv tower when the
# model runs them at once at inference (`inference_chunk_length=None`).
GRADIENT_CHUNK_LENGTH = 32_768


def enformer_input_gradient(model, one_hot, head=None, tracks=None, bins=None):
    """Gradient of the selected outputs' sum with respect to the one-hot input.

    Args:
        model: an `Enformer`.
        one_hot: float array `[B, L, 4]`.
        head, tracks, bins: output selection (see `output_scalar`); only the
            selected bins go through the final pointwise block and heads.

    Returns:
        array `[B, L, 4]` in the model's compute dtype.
    """
    # The head's name as `select_output` resolves it (and its errors).
    chosen = select_output({name: name for name in model.heads}, head)
    dtype = model.compute_dtype
    x = tf.convert_to_tensor(np.asarray(one_hot), dtype=dtype)
    length, bin_size = model.sequence_length, model.bin_size
    chunks = model_windows(model, model.inference_chunk_length or GRADIENT_CHUNK_LENGTH) or [(0, length, 0, length)]
    layers = model.embedding_layers
    tail_start = next(i for i, layer in enumerate(layers) if isinstance(layer, TargetLengthCrop1D))
    blocks, tail = layers[:tail_start], layers[tail_start:]

    def output_end(hidden):
        hidden = tail[0](hidden)  # crop
        if bins is not None:
            hidden = tf.gather(hidden, np.asarray(bins, dtype="int32"), axis=1)
        for layer in tail[1:]:
            hidden = layer(hidden, training=False)
        outputs = {chosen: model.get_layer(f"head_{chosen}")(hidden)}
        return tf.reduce_sum(output_scalar(outputs, chosen, tracks, None))

    # Forward: keep the trunk output and each block's input only.
    inputs = [tf.concat([conv_window(model, x[:, chunk[0] : chunk[1]], *chunk) for chunk in chunks], axis=1)]
    for block in blocks:
        inputs.append(block(inputs[-1], training=False))

    # Backward, one recomputed piece at a time.
    hidden = inputs.pop()
    with tf.GradientTape() as tape:
        tape.watch(hidden)
        target = output_end(hidden)
    upstream = tape.gradient(target, hidden)
    for block in reversed(blocks):
        hidden = inputs.pop()
        with tf.GradientTape() as tape:
            tape.watch(hidden)
            output = block(hidden, training=False)
        upstream = tape.gradient(output, hidden, output_gradients=upstream)
    accumulate = np.float64 if dtype == "float64" else np.float32
    gradient = np.zeros(x.shape, dtype=accumulate)
    for chunk in chunks:
        start, stop, keep_start, keep_stop = chunk
        window = x[:, start:stop]
        with tf.GradientTape() as tape:
            tape.watch(window)
            output = conv_window(model, window, *chunk)
        kept = upstream[:, keep_start // bin_size : keep_stop // bin_size]
        gradient[:, start:stop] += tape.gradient(output, window, output_gradients=kept).numpy()
    return gradient.astype(x.dtype.as_numpy_dtype)
