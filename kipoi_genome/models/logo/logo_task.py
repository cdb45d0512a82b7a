"""Shared machinery of the LOGO task models (unexported)."""

import keras
import numpy as np

from kipoi_genome.data.transforms import check_sequence
from kipoi_genome.models.logo.logo_backbone import LogoBackbone
from kipoi_genome.models.presets import PresetMixin
from kipoi_genome.tokenizers import KmerTokenizer


def resolve_backbone(backbone, argument="backbone"):
    """A `LogoBackbone` from an instance, constructor kwargs or a serialized config."""
    if isinstance(backbone, LogoBackbone):
        return backbone
    if isinstance(backbone, dict):
        if "class_name" in backbone:
            return keras.saving.deserialize_keras_object(backbone)
        return LogoBackbone(**backbone)
    raise ValueError(
        f"`{argument}` must be a LogoBackbone or a dict of its arguments. "
        f"Received: {argument}={backbone!r}"
    )


def serialize_backbone(backbone):
    return keras.saving.serialize_keras_object(backbone)


def tokenizer_for(backbone):
    k = backbone.k
    if k is None:
        raise ValueError(
            "The backbone's vocabulary is not a LOGO k-mer vocabulary (5**k + 13 ids). "
            f"Received: vocabulary_size={backbone.vocabulary_size}"
        )
    return KmerTokenizer(k=k)


def check_logo_sequence(sequence, k, name="sequence"):
    """Raises a ValueError unless `sequence` is DNA long enough for one k-mer token per frame.

    Like the one-hot path of Enformer, characters other than ACGTN and IUPAC
    codes (X, ``-``, digits, ...) are errors, not silently read as N; and a
    sequence shorter than ``2k - 1`` bases gives no token in some reading
    frame, so a model would score padding alone.

    Args:
        sequence: str. DNA.
        k: int. The tokenizer's k-mer length.
        name: str. How to name the sequence in the message.
    """
    if not isinstance(sequence, str):
        raise ValueError(f"{name} must be a str of DNA. Received: {type(sequence).__name__}")
    try:
        check_sequence(sequence)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if len(sequence) < 2 * k - 1:
        raise ValueError(
            f"{name} is too short for LOGO: {len(sequence)} bp gives no {k}-mer token; "
            f"at least {2 * k - 1} bp are needed. Received: {sequence!r}"
        )


def tokenize_views(tokenizer, sequences, strands=True):
    """All reading frames of both strands of every sequence.

    Sequences may have different lengths; shorter ones are padded with id 0
    (masked out by the backbone). Each is checked by `check_logo_sequence`.

    Args:
        tokenizer: a `KmerTokenizer`.
        sequences: list of DNA strings.
        strands: bool. Include the reverse complement.

    Returns:
        int32 array `[N, V, m]` with `V = k` (forward frames), then `k`
        reverse-complement frames when `strands`.
    """
    if isinstance(sequences, str):
        raise ValueError("`sequences` must be a list of strings, not a single string.")
    views = []
    for index, sequence in enumerate(sequences):
        check_logo_sequence(sequence, tokenizer.k, f"sequence {index}")
        ids = [tokenizer.tokenize(sequence)]
        if strands:
            ids.append(tokenizer.tokenize(sequence, reverse_complement=True))
        views.append(np.concatenate(ids, axis=0))
    length = max((v.shape[-1] for v in views), default=0)
    out = np.zeros((len(views), (2 if strands else 1) * tokenizer.k, length), np.int32)
    for i, v in enumerate(views):
        out[i, :, : v.shape[-1]] = v
    return out


class LogoTask(PresetMixin, keras.Model):
    """Base of the LOGO task models: backbone (de)serialisation helpers.

    Subclasses are functional models whose `get_config` lists their
    constructor arguments, the backbone serialised as a nested object.
    """

    def _predict_views(self, inputs, batch_size, num_sequences, num_views):
        """`self.predict` on `[N * V, ...]` inputs, averaged back to `[N, C]`."""
        outputs = self.predict(inputs, batch_size=batch_size, verbose=0)
        outputs = np.asarray(outputs, dtype=np.float64)
        return outputs.reshape(num_sequences, num_views, -1).mean(axis=1)

    def _predict_paired_views(self, tokenizer, inputs, batch_size):
        """Predictions for paired sequence lists, frame f / strand s with frame f / strand s.

        Args:
            tokenizer: the `KmerTokenizer` of the backbone(s).
            inputs: dict input name -> list of N DNA strings (equal N).
            batch_size: int.

        Returns:
            float array `[N]`: the mean over the 2k paired views.
        """
        views = {name: tokenize_views(tokenizer, list(seqs)) for name, seqs in inputs.items()}
        n, num_views = next(iter(views.values())).shape[:2]
        if n == 0:
            return np.zeros((0,))
        flat = {name: v.reshape(n * num_views, -1) for name, v in views.items()}
        return self._predict_views(flat, batch_size, n, num_views)[:, 0]

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key, value in list(config.items()):
            if key.endswith("backbone") and isinstance(value, dict):
                config[key] = resolve_backbone(value, key)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)

    def _base_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
        }
