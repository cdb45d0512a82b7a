"""In-silico saturation mutagenesis."""

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from kipoi_genome.utils.batching import batched
from kipoi_genome.interpret.incremental import IncrementalEnformer, supports_incremental
from kipoi_genome.interpret.targets import output_scalar


def in_silico_mutagenesis(
    model, one_hot, head=None, tracks=None, bins=None, positions=None, batch_size=32, progress=True
):
    """Effect of every single-base substitution on a scalar model output.

    The scalar is the sum of the selected output (see `output_scalar`). Each
    position is mutated to each base it does not already carry (all four for
    an N), and the effect is `f(mutant) - f(reference)`. For an `Enformer`
    the reference's convolutional trunk runs once and each mutant reruns it
    only around the substitution (`interpret.incremental`; same numbers as
    full passes): the transformer and heads, about a third of a full pass.

    Args:
        model: Keras model taking one-hot `[B, L, 4]`.
        one_hot: float array `[L, 4]`, ACGT order.
        head, tracks, bins: selection of the output summed into the scalar.
        positions: iterable of positions to mutate (default: all L).
        batch_size: mutants per forward pass (Enformer: per trunk pass; the
            transformer runs on as many as its memory bound allows).
        progress: show a progress bar over the substitutions.

    Returns:
        float32 array `[L, 4]`: effect of substituting base b at position i;
        0 at the reference base and at positions not mutated.
    """
    one_hot = np.asarray(one_hot, dtype=np.float32)
    if one_hot.ndim != 2 or one_hot.shape[1] != 4:
        raise ValueError(f"`one_hot` must have shape [L, 4]. Received: shape {one_hot.shape}")
    length = one_hot.shape[0]
    positions = range(length) if positions is None else [int(p) for p in positions]
    mutations = [(p, b) for p in positions for b in range(4) if one_hot[p, b] != 1.0]

    if supports_incremental(model):
        incremental = IncrementalEnformer(model)
        reference_trunk = incremental.conv_features(one_hot[None])
        reference_outputs = incremental.heads(reference_trunk)

        def predict_mutants(batch, substitutions):
            trunks = tf.repeat(reference_trunk, len(substitutions), axis=0)
            spans = [(p, p + 1) for p, _ in substitutions]
            return incremental.heads(incremental.alternative_conv_features(trunks, batch, spans))
    else:
        reference_outputs = model.predict_on_batch(one_hot[None])

        def predict_mutants(batch, substitutions):
            return model.predict_on_batch(batch)

    def scalar(outputs):
        return np.asarray(output_scalar(outputs, head, tracks, bins))

    reference = float(scalar(reference_outputs)[0])
    effects = np.zeros((length, 4), dtype=np.float32)
    with tqdm(total=len(mutations), unit="substitution", disable=not progress, desc="ism") as bar:
        for chunk in batched(mutations, batch_size):
            batch = np.repeat(one_hot[None], len(chunk), axis=0)
            for k, (p, b) in enumerate(chunk):
                batch[k, p] = 0.0
                batch[k, p, b] = 1.0
            for (p, b), value in zip(chunk, scalar(predict_mutants(batch, chunk))):
                effects[p, b] = value - reference
            bar.update(len(chunk))
    return effects
