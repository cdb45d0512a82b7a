"""Enformer inference window by window: the whole-sequence outputs at one window's memory.

At inference the stem and conv tower hold the largest activations of an
Enformer pass (`[B, 196,608, 768]` stem tensors, 0.6 GB each per sequence).
The runner here runs them over windows of `inference_chunk_length` bp (the
model's config argument; 32,768 by default), one after another, each widened
by a halo that covers their receptive field, keeps each window's own
positions, and runs the rest of the trunk (transformer -> target crop ->
final_pointwise) and the heads on the joined `[B, L / 128, C]` features.
Kept positions see the same inputs and, at the sequence ends, the same zero
padding as in the whole-sequence pass, so outputs equal the model's own
functional graph up to float32 round-off; peak memory of a full-size float32
pass drops from 4.1 to 2.65 GB (docs/benchmarks.md).

The model stays a plain functional Keras model: `model(x)`, `model.predict`
and training run the whole sequence at once; this module, next to it rather
than inside it, holds the windowed pass. The package's inference paths
(regions, sequence tables, embeddings, plots, the TF-Hub serving function,
the Kipoi adapter, incremental variant passes, recomputed gradients, FLOP
counts, benchmarks) run models through `predict_on_batch(model, x)` or,
inside a `tf.function`, `forward(model, x)`; both pass any other model
straight through. It sits in `models/` because `export` and `interpret`,
which need it, may not import `inference` (docs/architecture.md).

Example:
```python
from kipoi_genome.models.enformer import chunked_inference

outputs = chunked_inference.predict_on_batch(model, x)  # dict organism -> np.ndarray [B, 896, tracks]
embeddings = chunked_inference.embed(model, x)          # [B, 896, 2C], what the heads read
```
"""

import weakref

import numpy as np
import tensorflow as tf

from kipoi_genome.models.enformer.enformer import Enformer, check_input_shape

# model -> {jit_compile: tf.function}; weak keys, so a deleted model frees its traces.
_COMPILED = weakref.WeakKeyDictionary()


def conv_halo(tower_filters, stem_width=15, tower_width=5):
    """Receptive-field radius in bp of the stem and conv tower.

    The stem convolution reaches `stem_width // 2` bp each side; tower block
    `i` runs a width-`tower_width` convolution at `2 ** (i + 1)` bp per
    position. Pooling (windows of 2, aligned) adds nothing beyond alignment.

    Args:
        tower_filters: list of int, the conv tower widths (one per block).
        stem_width: int, stem convolution width.
        tower_width: int, conv tower convolution width.

    Returns:
        int, bp (259 for the published model).
    """
    return stem_width // 2 + sum(
        (tower_width // 2) * 2 ** (i + 1) for i in range(len(tower_filters))
    )


def conv_windows(sequence_length, chunk_length, halo, downsampling):
    """Windows for running the stem and conv tower chunk by chunk with exact results.

    Args:
        sequence_length: int, input bp (a multiple of `downsampling`).
        chunk_length: int or None, bp kept per window (a multiple of
            `downsampling`).
        halo: int, receptive-field radius in bp; rounded up to
            `downsampling` so windows stay aligned with the pooling grid.
        downsampling: int, bp per conv tower output position.

    Returns:
        None when one window covers the sequence; else a list of
        `(start, stop, keep_start, keep_stop)` bp tuples: the input slice
        `[start, stop)` (the kept part plus up to one halo each side, clipped
        at the sequence ends, where the layers' own zero padding then matches
        the whole-sequence pass) and the part `[keep_start, keep_stop)` whose
        outputs are kept. Kept parts tile the sequence in order.
    """
    if chunk_length is None or chunk_length >= sequence_length:
        return None
    halo = -(-halo // downsampling) * downsampling
    windows = []
    for keep_start in range(0, sequence_length, chunk_length):
        keep_stop = min(keep_start + chunk_length, sequence_length)
        windows.append(
            (max(0, keep_start - halo), min(sequence_length, keep_stop + halo), keep_start, keep_stop)
        )
    return windows


def model_windows(model, chunk_length=None):
    """The window schedule of an `Enformer` at its full input length.

    Args:
        model: an `Enformer`.
        chunk_length: int or None. bp kept per window; None reads the model's
            `inference_chunk_length`.

    Returns:
        None (whole sequence at once) or a list of windows (see `conv_windows`).
    """
    length = model.inference_chunk_length if chunk_length is None else chunk_length
    return conv_windows(model.sequence_length, length, conv_halo(model.tower_filters), model.bin_size)


def conv_window(model, window, start, stop, keep_start, keep_stop):
    """Stem and conv tower over one window of the input, cropped to the positions it keeps.

    Args:
        model: an `Enformer`.
        window: float tensor `[B, stop - start, 4]`, the input slice of one
            window of `conv_windows`.
        start, stop, keep_start, keep_stop: int bp, that window.

    Returns:
        tensor `[B, (keep_stop - keep_start) / bin_size, C]`.
    """
    for layer in model.conv_layers:
        window = layer(window, training=False)
    bin_size = model.bin_size
    return window[:, (keep_start - start) // bin_size : (keep_stop - start) // bin_size]


def _as_input(model, inputs):
    return tf.cast(tf.convert_to_tensor(inputs), model.inputs[0].dtype)


def conv_features(model, inputs, windows=None):
    """Stem and conv tower at inference, `[B, L, 4]` -> `[B, L / bin_size, C]`.

    Window by window for full-length inputs when the model's schedule (or
    `windows`) has several windows: each window's input slice waits for the
    previous window's output, so graph mode cannot run the windows side by
    side and hold all of their activations at once. Any other length that is
    a multiple of `bin_size` runs at once, zero-padded at its ends as at the
    sequence ends.

    Args:
        model: an `Enformer`.
        inputs: float one-hot `[B, L, 4]`, ACGT order.
        windows: list of `(start, stop, keep_start, keep_stop)` or None for
            `model_windows(model)`.

    Returns:
        tensor `[B, L / bin_size, C]`.
    """
    x = _as_input(model, inputs)
    if x.shape[1] == model.sequence_length:
        windows = model_windows(model) if windows is None else windows
    else:
        windows = None
    if not windows:
        for layer in model.conv_layers:
            x = layer(x, training=False)
        return x
    pieces = []
    for start, stop, keep_start, keep_stop in windows:
        with tf.control_dependencies(pieces[-1:]):
            window = x[:, start:stop]
        pieces.append(conv_window(model, window, start, stop, keep_start, keep_stop))
    return tf.concat(pieces, axis=1)


def embed(model, inputs, windows=None):
    """The trunk's output, the embeddings the heads read, `[B, target_length, 2C]`.

    These are the embeddings people fine-tune on (3,072 channels for the
    published model): stem and conv tower (window by window, see
    `conv_features`), then transformer, target crop and final pointwise block,
    so each head applied to them gives the model's own predictions.

    Args:
        model: an `Enformer`.
        inputs: float one-hot `[B, sequence_length, 4]`, ACGT order.
        windows: see `conv_features`.

    Returns:
        tensor `[B, target_length, 2 * channels]`.

    Raises:
        ValueError: for a model that is not an `Enformer`, or inputs of
            another shape.
    """
    if not isinstance(model, Enformer):
        raise ValueError(f"Embeddings need an Enformer. Received: {type(model).__name__}")
    check_input_shape(inputs, model.sequence_length)
    x = conv_features(model, inputs, windows)
    for layer in model.embedding_layers:
        x = layer(x, training=False)
    return x


def forward(model, inputs, windows=None):
    """One inference pass, traceable in a `tf.function`: the model's outputs.

    An `Enformer` runs its stem and conv tower window by window (see
    `conv_features`); any other model (or callable) is called with
    `training=False`.

    Args:
        model: a Keras model.
        inputs: its input batch.
        windows: see `conv_features` (Enformer only).

    Returns:
        the model's outputs (for an Enformer, dict organism -> tensor
        `[B, target_length, tracks]`).
    """
    if not isinstance(model, Enformer):
        return model(inputs, training=False)
    x = embed(model, inputs, windows)
    return {organism: model.get_layer(f"head_{organism}")(x) for organism in model.heads}


def predict_on_batch(model, x):
    """`model.predict_on_batch(x)`, with an Enformer's stem and conv tower window by window.

    Models without windows (not an Enformer, or `inference_chunk_length`
    None or at least `sequence_length`) run `model.predict_on_batch`
    unchanged. An Enformer's pass is one `tf.function` per model, traced once
    for any batch size, XLA-compiled when the model was compiled with
    `jit_compile=True`.

    Args:
        model: a Keras model.
        x: its input batch (an Enformer: float one-hot `[B, sequence_length, 4]`).

    Returns:
        NumPy outputs, as `model.predict_on_batch` returns them.
    """
    if not isinstance(model, Enformer) or model_windows(model) is None:
        return model.predict_on_batch(x)
    check_input_shape(x, model.sequence_length)
    jit = bool(model.compiled and model.jit_compile is True)
    compiled = _COMPILED.setdefault(model, {})
    if jit not in compiled:
        # A weak reference: the traced function must not keep the model alive.
        ref = weakref.ref(model)
        compiled[jit] = tf.function(
            lambda inputs: forward(ref(), inputs),
            input_signature=[tf.TensorSpec([None, model.sequence_length, 4], model.inputs[0].dtype)],
            jit_compile=jit,
        )
    outputs = compiled[jit](_as_input(model, np.asarray(x) if not tf.is_tensor(x) else x))
    return tf.nest.map_structure(lambda t: t.numpy(), outputs)
