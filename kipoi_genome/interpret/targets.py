"""Selecting the model output that an explanation explains."""

import numpy as np
from keras import ops


def select_output(outputs, head=None, tracks=None, bins=None):
    """The selected part of a model output, `[B, bins', tracks']`.

    Args:
        outputs: tensor `[B, bins, tracks]` (or `[B, tracks]`), or a dict of them.
        head: key of a dict output; required when there are several heads.
        tracks: track indices (default: all).
        bins: bin indices (default: all).
    """
    if isinstance(outputs, dict):
        if head is None:
            if len(outputs) != 1:
                raise ValueError(f"Choose an output head from {sorted(outputs)}. Received: head=None")
            head = next(iter(outputs))
        if head not in outputs:
            raise ValueError(f"Unknown head {head!r}; the model has {sorted(outputs)}")
        outputs = outputs[head]
    if tracks is not None:
        outputs = ops.take(outputs, np.asarray(tracks, dtype="int32"), axis=-1)
    if bins is not None:
        if len(outputs.shape) < 3:
            raise ValueError("`bins` needs an output with a bin axis [B, bins, tracks].")
        outputs = ops.take(outputs, np.asarray(bins, dtype="int32"), axis=1)
    return outputs


def output_scalar(outputs, head=None, tracks=None, bins=None):
    """Per-example sum of the selected output, `[B]`."""
    selected = select_output(outputs, head, tracks, bins)
    return ops.sum(ops.reshape(selected, (ops.shape(selected)[0], -1)), axis=1)
