"""Test-time augmentation: average predictions over shifts and both strands.

One definition of the augmented views (`augmented_views`) serves both
paths: `predict_averaged` runs them through `predict_on_batch` on NumPy
arrays; `predict_averaged_tensor` calls the model on tensors, so it also runs
inside `tf.function` and `strategy.run` (the trainer's evaluation step).

A shift ``s`` views the window moved ``s`` bp towards higher coordinates; a
reverse-complement view's output bins are flipped back before averaging.
"""

import numpy as np
import tensorflow as tf

from kipoi_genome.data.tf_datasets import reverse_complement_one_hot
from kipoi_genome.data import transforms
from kipoi_genome.models.enformer.chunked_inference import predict_on_batch


def _as_dict(outputs):
    return outputs if isinstance(outputs, dict) else {"output": outputs}


class ViewAverage:
    """Running float64 mean of model outputs over augmented views.

    Example:
        >>> average = ViewAverage()
        >>> average.add({"t": np.array([[[1.0], [2.0]]])}, flipped=False)
        >>> average.add({"t": np.array([[[4.0], [3.0]]])}, flipped=True)
        >>> average.result()["t"][0, :, 0].tolist()
        [2.0, 2.5]
    """

    def __init__(self):
        self.total, self.count = None, 0

    def add(self, outputs, flipped):
        """Adds one view's outputs `[B, bins, tracks]` (a dict or one array).

        Args:
            outputs: array or dict name -> array of shape `[B, bins, tracks]`.
            flipped: bool. The view was reverse-complemented: its bins are
                reversed back first.
        """
        outputs = {
            name: np.asarray(value[:, ::-1] if flipped else value, dtype=np.float64)
            for name, value in _as_dict(outputs).items()
        }
        if self.total is None:
            self.total = outputs
        else:
            self.total = {name: self.total[name] + outputs[name] for name in self.total}
        self.count += 1

    def result(self):
        """dict name -> float32 mean `[B, bins, tracks]` over the views added."""
        if not self.count:
            raise ValueError("No views were added. Received: 0 views")
        return {name: (value / self.count).astype(np.float32) for name, value in self.total.items()}


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
    average = ViewAverage()
    for x, flipped in augmented_views(windows, shifts, reverse_complement):
        average.add(predict_on_batch(model, x), flipped)
    return average.result()


def predict_averaged_tensor(model, one_hot, shifts=(0,), reverse_complement=False):
    """`predict_averaged` for tensors of exactly the model's input length.

    The input is padded with ``max|shift|`` N (zero rows) on both sides and
    cut into the views of `augmented_views`, so view ``s`` is the input moved
    ``s`` bp with N where it runs past the input. The model is called with
    ``training=False``; TensorFlow ops only, so it runs in graphs.

    Args:
        model: callable mapping one-hot `[B, L, 4]` to `[B, bins, tracks]`
            (or a nested structure of such tensors).
        one_hot: float tensor `[B, L, 4]` with a static length L.
        shifts: iterable of int bp offsets, e.g. `(-1, 0, 1)`.
        reverse_complement: also average over each view's reverse complement
            (its output bins reversed back).

    Returns:
        The model's output structure, float32, averaged over
        `len(shifts) * (2 if reverse_complement else 1)` views.
    """
    shifts = tuple(int(s) for s in shifts)
    margin = max((abs(s) for s in shifts), default=0)
    windows = tf.pad(tf.convert_to_tensor(one_hot), [[0, 0], [margin, margin], [0, 0]])
    views = []
    for x, flipped in augmented_views(windows, shifts, reverse_complement):
        outputs = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), model(x, training=False))
        if flipped:
            outputs = tf.nest.map_structure(lambda t: tf.reverse(t, axis=[1]), outputs)
        views.append(outputs)
    return tf.nest.map_structure(lambda *ts: tf.add_n(list(ts)) / float(len(ts)), *views)


def augmented_views(windows, shifts=(0,), reverse_complement=False):
    """Yields the model inputs that `predict_averaged` averages over.

    Args:
        windows: float array or tensor `[B, L + 2 * max|shift|, 4]` (a
            tensor needs a static length).
        shifts: iterable of int bp offsets.
        reverse_complement: also yield each shift's reverse complement.

    Yields:
        `(x, flipped)`: `x` of shape `[B, L, 4]` (an array for an array, a
        tensor for a tensor); `flipped` is True for a reverse complement,
        whose output bins must be reversed back.
    """
    shifts = tuple(int(s) for s in shifts)
    if not shifts:
        raise ValueError("`shifts` must contain at least one offset. Received: shifts=()")
    if windows.shape[1] is None:
        raise ValueError(f"`windows` needs a static length. Received: shape {windows.shape}")
    margin = max(abs(s) for s in shifts)
    length = windows.shape[1] - 2 * margin
    if length < 1:
        raise ValueError(
            f"Windows of {windows.shape[1]} bp are too short for shifts {shifts}."
        )
    flip = reverse_complement_one_hot if tf.is_tensor(windows) else transforms.reverse_complement
    for shift in shifts:
        x = windows[:, margin + shift : margin + shift + length]
        yield x, False
        if reverse_complement:
            yield flip(x), True
