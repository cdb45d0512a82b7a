"""In-silico saturation mutagenesis."""

import numpy as np

from kipoi_genome.batching import batched
from kipoi_genome.interpret.targets import output_scalar


def in_silico_mutagenesis(model, one_hot, head=None, tracks=None, bins=None, positions=None, batch_size=32):
    """Effect of every single-base substitution on a scalar model output.

    The scalar is the sum of the selected output (see `output_scalar`). Each
    position is mutated to each base it does not already carry (all four for
    an N), and the effect is `f(mutant) - f(reference)`.

    Args:
        model: Keras model taking one-hot `[B, L, 4]`.
        one_hot: float array `[L, 4]`, ACGT order.
        head, tracks, bins: selection of the output summed into the scalar.
        positions: iterable of positions to mutate (default: all L).
        batch_size: mutants per forward pass.

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

    def predict(batch):
        return output_scalar(model.predict_on_batch(batch), head, tracks, bins)

    reference = float(predict(one_hot[None])[0])
    effects = np.zeros((length, 4), dtype=np.float32)
    for chunk in batched(mutations, batch_size):
        batch = np.repeat(one_hot[None], len(chunk), axis=0)
        for k, (p, b) in enumerate(chunk):
            batch[k, p] = 0.0
            batch[k, p, b] = 1.0
        for (p, b), value in zip(chunk, predict(batch)):
            effects[p, b] = value - reference
    return effects
