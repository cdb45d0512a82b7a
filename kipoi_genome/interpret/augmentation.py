"""Test-time augmentation: average predictions over shifts and both strands."""

import numpy as np


def _as_dict(outputs):
    return outputs if isinstance(outputs, dict) else {"output": outputs}


def predict_averaged(model, windows, shifts=(0,), reverse_complement=False):
    """Predictions averaged over sequence shifts and, optionally, both strands.

    Args:
        model: a Keras model mapping one-hot `[B, L, 4]` to `[B, bins, tracks]`
            (or a dict of such tensors).
        windows: float array `[B, L + 2 * max|shift|, 4]`; shift `s` reads the
            slice starting at `max|shift| + s`, so every shift sees real
            sequence rather than padding.
        shifts: iterable of int bp offsets (Enformer: -3..3 in training).
        reverse_complement: also predict the reverse complement (ACGT axis
            reversed, length reversed) and flip its bins back before averaging.

    Returns:
        dict name -> float32 array `[B, bins, tracks]`.
    """
    total, count = None, 0
    for x, flipped in augmented_views(windows, shifts, reverse_complement):
        outputs = _as_dict(model.predict_on_batch(x))
        outputs = {k: np.asarray(v[:, ::-1] if flipped else v, dtype=np.float64) for k, v in outputs.items()}
        total = outputs if total is None else {k: total[k] + outputs[k] for k in total}
        count += 1
    return {k: (v / count).astype(np.float32) for k, v in total.items()}


def augmented_views(windows, shifts=(0,), reverse_complement=False):
    """Yields the model inputs that `predict_averaged` averages over.

    Args:
        windows: float array `[B, L + 2 * max|shift|, 4]`.
        shifts: iterable of int bp offsets.
        reverse_complement: also yield each shift's reverse complement.

    Yields:
        `(x, flipped)`: `x` of shape `[B, L, 4]`; `flipped` is True for a
        reverse complement, whose output bins must be reversed back.
    """
    shifts = tuple(int(s) for s in shifts)
    if not shifts:
        raise ValueError("`shifts` must contain at least one offset. Received: shifts=()")
    margin = max(abs(s) for s in shifts)
    length = windows.shape[1] - 2 * margin
    if length < 1:
        raise ValueError(
            f"Windows of {windows.shape[1]} bp are too short for shifts {shifts}."
        )
    for shift in shifts:
        x = windows[:, margin + shift : margin + shift + length]
        yield x, False
        if reverse_complement:
            yield np.ascontiguousarray(x[:, ::-1, ::-1]), True
