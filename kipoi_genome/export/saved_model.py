"""TF-Hub SavedModel export of a zoo model.

Layout (works with `hub.load`, `hub.KerasLayer` under tf_keras,
`keras.layers.TFSMLayer`, TF-Serving signatures and Kipoi):

- root `tf.Module`, callable: `root(x)` returns the model outputs;
- `root.model.predict_on_batch(x)`: the same function, the interface of
  DeepMind's `hub.load("https://tfhub.dev/deepmind/enformer/1").model`;
- `root.serve(x)`: alias for `keras.layers.TFSMLayer`'s default endpoint;
- signature `serving_default`.

Every function has one fixed input signature. For Enformer the published
contract takes `[B, 2 * sequence_length, 4]` (393,216 bp) and crops the central
`sequence_length` (196,608 bp) before the model runs.
"""

import os
import shutil
import tempfile

import tensorflow as tf

from kipoi_genome.utils.atomic import current_umask
from kipoi_genome.models.enformer.chunked_inference import forward
from kipoi_genome.models.enformer.enformer import Enformer

SIGNATURE = "serving_default"
CARD_FILE = "MODEL_CARD.md"


class _ModelModule(tf.Module):
    """Holds the Keras model; `predict_on_batch` crops and calls it.

    Args:
        model: a Keras model with one input of shape `[B, L, ...]`.
        crop_start: int. Offset of the model window in the exported input.
        model_length: int or None. Model input length `L` (None: no crop).
    """

    def __init__(self, model, crop_start, model_length):
        super().__init__(name="model")
        self.keras_model = model
        self._crop_start = int(crop_start)
        self._model_length = model_length

    @tf.function
    def predict_on_batch(self, inputs):
        if self._model_length is not None and self._crop_start:
            inputs = inputs[:, self._crop_start : self._crop_start + self._model_length]
        return forward(self.keras_model, inputs)


class _HubRoot(tf.Module):
    """Callable root: `root(x) == root.model.predict_on_batch(x)`."""

    def __init__(self, inner):
        super().__init__(name="root")
        self.model = inner

    @tf.function
    def __call__(self, inputs):
        return self.model.predict_on_batch(inputs)

    @tf.function
    def serve(self, inputs):
        return self.model.predict_on_batch(inputs)


def _single_input(model):
    inputs = model.inputs
    if len(inputs) != 1:
        raise ValueError(
            f"SavedModel export supports models with one input. Received: {len(inputs)} "
            f"inputs {[i.name for i in inputs]}"
        )
    return inputs[0]


def named_outputs(model, single="output_0"):
    """`{name: KerasTensor}` of the model's outputs.

    Args:
        model: a Keras model.
        single: str. The name of a lone (non-dict) output; a list of
            outputs is named `{single}_0`, `{single}_1`, ... unless `single`
            already ends in `_0`.

    Returns:
        dict. A dict-output model's own names (Enformer heads).
    """
    try:
        output = model.output
    except AttributeError:  # a Sequential loaded from .keras has `outputs` only
        output = model.outputs[0] if len(model.outputs) == 1 else list(model.outputs)
    if isinstance(output, dict):
        return output
    if isinstance(output, (list, tuple)):
        stem = single[: -len("_0")] if single.endswith("_0") else single
        return {f"{stem}_{i}": tensor for i, tensor in enumerate(output)}
    return {single: output}


def default_input_length(model):
    """Exported input length: `2 * sequence_length` for Enformer (the TF-Hub contract).

    Other models keep their own input length (None for a variable length).
    """
    if isinstance(model, Enformer):
        return 2 * model.sequence_length
    return _single_input(model).shape[1]


def input_spec(model, input_length=None):
    """The `tf.TensorSpec` of the exported input.

    Args:
        model: Keras model with one input `[B, L, ...]`.
        input_length: int or None. Exported length; defaults to
            `default_input_length(model)`.

    Returns:
        `tf.TensorSpec([None, input_length, ...], dtype, name="inputs")`.
    """
    keras_input = _single_input(model)
    shape = list(keras_input.shape)
    if input_length is None:
        input_length = default_input_length(model)
    if len(shape) >= 2:
        shape[1] = input_length
    return tf.TensorSpec([None, *shape[1:]], tf.as_dtype(keras_input.dtype), name="inputs")


def crop_start(model, input_length):
    """`(offset, model_length)` of the model window in an exported input.

    Raises:
        ValueError: if `input_length` is shorter than the model's input or
            exceeds it by an odd number.
    """
    if len(_single_input(model).shape) < 2:
        return 0, None
    model_length = _single_input(model).shape[1]
    if input_length is None or model_length is None:
        return 0, None
    if (
        isinstance(input_length, bool)
        or not isinstance(input_length, int)
        or input_length < model_length
        or (input_length - model_length) % 2
    ):
        raise ValueError(
            f"`input_length` must be an integer >= the model's input length {model_length} "
            f"that exceeds it by an even number (the centre is cropped). "
            f"Received: input_length={input_length!r}"
        )
    return (input_length - model_length) // 2, model_length


def build_hub_module(model, input_length=None):
    """Wraps `model` in the exported `tf.Module` structure (see module docstring).

    Args:
        model: Keras model with one input `[B, L, ...]`.
        input_length: int or None. Exported input length (default
            `default_input_length(model)`); the centre `L` positions are
            passed to the model.

    Returns:
        `(root, spec)`: the root module (traced for `spec`) and the input spec.
    """
    spec = input_spec(model, input_length)
    start, model_length = crop_start(model, spec.shape[1])
    root = _HubRoot(_ModelModule(model, start, model_length))
    root.model.predict_on_batch.get_concrete_function(spec)
    root.serve.get_concrete_function(spec)
    return root, spec


def export_saved_model(model, directory, input_length=None, model_card=None, overwrite=False):
    """Writes `model` as a TF-Hub SavedModel directory, atomically.

    Args:
        model: Keras model with one input `[B, L, ...]` (e.g. `Enformer`).
        directory: str. Output directory; must not exist (or be empty)
            unless `overwrite`.
        input_length: int or None. Exported input length; default
            `default_input_length(model)` (393,216 for the full Enformer).
        model_card: str or None. Markdown written as `MODEL_CARD.md` in the
            directory.
        overwrite: bool. Replace an existing directory.

    Returns:
        The directory path.
    """
    directory = os.path.abspath(os.fspath(directory))
    if os.path.isfile(directory):
        raise ValueError(f"Output must be a directory. Received: a file at {directory}")
    if os.path.isdir(directory) and os.listdir(directory) and not overwrite:
        raise ValueError(
            f"Output directory is not empty (use overwrite). Received: {directory}"
        )
    root, spec = build_hub_module(model, input_length)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.", dir=parent)
    try:
        signature = root.__call__.get_concrete_function(spec)
        tf.saved_model.save(root, tmp, signatures={SIGNATURE: signature})
        if model_card is not None:
            with open(os.path.join(tmp, CARD_FILE), "w", encoding="utf-8") as handle:
                handle.write(model_card)
        replace_directory(tmp, directory)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


def replace_directory(source, target):
    """Moves directory `source` to `target`, replacing `target` if it exists.

    `target` gets the permissions `mkdir` would give it (``0o777 & ~umask``)
    or those of the folder it replaces, not `mkdtemp`'s 0700.
    """
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o777 & ~current_umask()
    os.chmod(source, mode)
    old = None
    if os.path.lexists(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old.", dir=os.path.dirname(target))
        os.rmdir(old)
        os.rename(target, old)
    os.rename(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
