"""LOGO sequence classifiers: promoter identification and chromatin features."""

import logging

import keras
import numpy as np
from keras import ops

from kipoi_genome.models.logo.logo_layers import LogoPooling, SigmoidProduct
from kipoi_genome.models.logo.logo_task import (
    LogoTask,
    resolve_backbone,
    serialize_backbone,
    tokenize_views,
    tokenizer_for,
)
from kipoi_genome.serialization import register

LENGTH_POLICIES = ("warn", "error", "center_crop_pad")


def center_crop_pad(sequence, length):
    """`sequence` cut or N-padded to `length` bp around its centre.

    A longer sequence keeps `length` bases from `(len - length) // 2`; a
    shorter one gets `(length - len) // 2` N on the left and the rest on the
    right (k-mers starting with N are padding tokens for LOGO).
    """
    if len(sequence) >= length:
        start = (len(sequence) - length) // 2
        return sequence[start : start + length]
    left = (length - len(sequence)) // 2
    return "N" * left + sequence + "N" * (length - len(sequence) - left)


@register
class LogoSequenceClassifier(LogoTask):
    """A LOGO backbone with a pooled dense head: `[B, T]` tokens -> `[B, C]`.

    The backbone output is pooled (LOGO's first token, or a padding-aware
    mean), passed through dropout and a `Dense(num_outputs, activation)`.
    Segment ids are all 0. `predict_sequences` tokenizes DNA strings and
    averages the predictions over the k reading frames and both strands, as
    LOGO does at inference (LOGO.md §3.1).

    With `natural_head=True` (one output only) the dense layer has a second
    unit, trained to tell the positives from composition-preserving shuffles
    of them (`kipoi_genome.training.finetune.natural_head_targets`), and the
    output is the product of the two sigmoids (`SigmoidProduct`): "this is
    the class" AND "this is natural sequence, not a shuffle", so composition
    alone cannot score high.

    A model trained on one input length records it in `sequence_length`
    (the shipped promoter preset: 600 bp); `predict_sequences` then treats
    DNA of any other length by `length_policy`.

    Args:
        backbone: a `LogoBackbone`, or a dict of its arguments.
        num_outputs: int. Output units C. Defaults to 1.
        pooling: `"first"` (LOGO) or `"mean"`. Defaults to `"first"`.
        dropout: float. Dropout before the output layer. Defaults to 0.
        activation: output activation. Defaults to `"sigmoid"`.
        sequence_length: int or None. Length (bp) of the training sequences;
            None (default) = not recorded, any length is scored as it is.
        length_policy: what `predict_sequences` does with a sequence of
            another length than `sequence_length`: `"warn"` (default; score
            it as it is, one `warning:` line the first time), `"error"`
            (ValueError) or `"center_crop_pad"` (score its central
            `sequence_length` bp, or the sequence centred between N; see
            `center_crop_pad`).
        natural_head: bool. Add the natural-vs-shuffled head and output the
            product of the two sigmoids (needs `num_outputs=1` and
            `activation="sigmoid"`). Defaults to False.
        **kwargs: `keras.Model` arguments.

    Inputs:
        int tensor `[B, T]` of token ids (one reading frame; 0 = padding).

    Returns:
        `[B, num_outputs]`.
    """

    def __init__(
        self,
        backbone,
        num_outputs=1,
        pooling="first",
        dropout=0.0,
        activation="sigmoid",
        sequence_length=None,
        length_policy="warn",
        natural_head=False,
        **kwargs,
    ):
        if not isinstance(num_outputs, int) or isinstance(num_outputs, bool) or num_outputs < 1:
            raise ValueError(f"`num_outputs` must be a positive integer. Received: num_outputs={num_outputs!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        if sequence_length is not None and (
            not isinstance(sequence_length, int) or isinstance(sequence_length, bool) or sequence_length < 1
        ):
            raise ValueError(
                f"`sequence_length` must be a positive integer or None. Received: sequence_length={sequence_length!r}"
            )
        if length_policy not in LENGTH_POLICIES:
            raise ValueError(f"`length_policy` must be one of {LENGTH_POLICIES}. Received: length_policy={length_policy!r}")
        natural_head = bool(natural_head)
        if natural_head and (num_outputs != 1 or keras.activations.get(activation) is not keras.activations.sigmoid):
            raise ValueError(
                "`natural_head=True` needs one sigmoid output. "
                f"Received: num_outputs={num_outputs!r}, activation={activation!r}"
            )
        backbone = resolve_backbone(backbone)
        # === Layers ===
        self.backbone = backbone
        self.pooler = LogoPooling(pooling, dtype=backbone.dtype_policy, name="pooler")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")
        # With the natural head: two logits [class, natural], combined by SigmoidProduct.
        self.output_dense = keras.layers.Dense(
            2 if natural_head else num_outputs,
            activation=None if natural_head else activation,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=backbone.dtype_policy,
            name="output_dense",
        )
        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        hidden = backbone({"token_ids": token_ids, "segment_ids": ops.zeros_like(token_ids)})
        pooled = self.pooler(hidden, padding_mask=ops.not_equal(token_ids, 0))
        outputs = self.output_dense(self.output_dropout(pooled))
        self.head_product = SigmoidProduct(name="head_product") if natural_head else None
        if natural_head:
            outputs = self.head_product(outputs)
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)
        # === Config ===
        self.num_outputs = num_outputs
        self.pooling = pooling
        self.dropout = dropout
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.sequence_length = sequence_length
        self.length_policy = length_policy
        self.natural_head = natural_head
        self._warned_length = False

    @property
    def tokenizer(self):
        """The `KmerTokenizer` matching the backbone's vocabulary."""
        return tokenizer_for(self.backbone)

    def predict_sequences(self, sequences, batch_size=64):
        """Predictions for DNA strings, averaged over reading frames and strands.

        Args:
            sequences: list of DNA strings (any case; non-ACGT = N). Lengths
                may differ; each must give at most `max_sequence_length`
                tokens per frame. Lengths other than `sequence_length` are
                treated by `length_policy`.
            batch_size: int.

        Returns:
            float array `[N]` when `num_outputs == 1` (one probability per
            sequence), else `[N, num_outputs]`.

        Raises:
            ValueError: for a sequence that is not DNA, too long for the
                position table, or (`length_policy="error"`) not
                `sequence_length` bp long.
        """
        sequences = self._apply_length_policy(list(sequences))
        views = tokenize_views(self.tokenizer, sequences)  # [N, 2k, m]
        if views.shape[-1] > self.backbone.max_sequence_length:
            raise ValueError(
                f"Sequences give {views.shape[-1]} tokens per frame, more than the backbone's "
                f"max_sequence_length={self.backbone.max_sequence_length}."
            )
        n, num_views, m = views.shape
        if n == 0:
            return np.zeros((0,) if self.num_outputs == 1 else (0, self.num_outputs))
        mean = self._predict_views(views.reshape(n * num_views, m), batch_size, n, num_views)
        return mean[:, 0] if self.num_outputs == 1 else mean

    def _apply_length_policy(self, sequences):
        target = self.sequence_length
        other = [(i, len(s)) for i, s in enumerate(sequences) if isinstance(s, str) and len(s) != target]
        if target is None or not other:
            return sequences
        index, length = other[0]
        if self.length_policy == "center_crop_pad":
            return [center_crop_pad(s, target) if isinstance(s, str) else s for s in sequences]
        if self.length_policy == "error":
            raise ValueError(
                f"sequence {index} is {length} bp; {type(self).__name__} {self.name!r} was trained on "
                f"{target}-bp sequences (length_policy='error'; 'center_crop_pad' crops or pads). "
                f"Received length: {length}"
            )
        if not self._warned_length:
            self._warned_length = True
            logging.getLogger("kipoi_genome").warning(
                f"warning: {type(self).__name__} {self.name!r} was trained on {target}-bp sequences and "
                f"received one of {length} bp; sequences of other lengths are scored as they are "
                "(length_policy='center_crop_pad' crops or pads them, 'error' rejects them)"
            )
        return sequences

    def get_config(self):
        return {
            **self._base_config(),
            "backbone": serialize_backbone(self.backbone),
            "num_outputs": self.num_outputs,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "activation": self.activation,
            "sequence_length": self.sequence_length,
            "length_policy": self.length_policy,
            "natural_head": self.natural_head,
        }


@register
class LogoPromoterClassifier(LogoSequenceClassifier):
    """LOGO promoter identification: 600 bp (TSS -200 ... +400) -> P(promoter).

    LOGO's promoter task (LOGO.md §6.1): a window from 200 bp upstream to
    400 bp downstream of a TSS, on the gene's strand; at k = 5 each reading
    frame has 119 tokens. One sigmoid output; `predict_sequences` returns
    one probability per sequence, averaged over the k frames and both
    strands.

    Args:
        backbone: a `LogoBackbone`, or a dict of its arguments.
        pooling: `"first"` (LOGO) or `"mean"`. Defaults to `"first"`.
        dropout: float. Defaults to 0.25 (LOGO).
        **kwargs: `keras.Model` arguments and `LogoSequenceClassifier`'s
            `sequence_length` / `length_policy` (the preset
            `logo_promoter_chr20` records `sequence_length=600`).

    Example:
    >>> model = LogoPromoterClassifier.from_preset("logo_promoter_chr20")  # doctest: +SKIP
    >>> model.predict_sequences(["ACGT" * 150])  # doctest: +SKIP
    array([0.07...])
    """

    SEQUENCE_LENGTH = 600
    UPSTREAM = 200
    DOWNSTREAM = 400

    def __init__(self, backbone, pooling="first", dropout=0.25, **kwargs):
        kwargs.pop("num_outputs", None)
        kwargs.pop("activation", None)
        super().__init__(backbone, num_outputs=1, pooling=pooling, dropout=dropout, activation="sigmoid", **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["num_outputs"], config["activation"]
        return config


@register
class LogoChromatin(LogoSequenceClassifier):
    """LOGO chromatin-feature model: 919 sigmoid outputs by default (DeepSEA).

    LOGO-919 reads 1 kb (990 bp, 198 tokens at k = 5) and LOGO-2002 / 3357
    read 2 kb with a 1,024-row position table (LOGO.md §6.3). The optional
    convolution layers are the backbone's `conv_embedding` (Conv1D kernels
    2/3/5 on the token embeddings) and `conv_feedforward` (Conv1D kernel 3
    instead of the FFN); `use_conv=True` switches both on when the backbone
    is given as a dict of arguments.

    Args:
        backbone: a `LogoBackbone`, or a dict of its arguments.
        num_outputs: int. Defaults to 919.
        pooling: `"first"` (LOGO) or `"mean"`. Defaults to `"first"`.
        dropout: float. Defaults to 0.
        use_conv: bool. Defaults to False.
        **kwargs: `keras.Model` arguments.
    """

    def __init__(self, backbone, num_outputs=919, pooling="first", dropout=0.0, use_conv=False, **kwargs):
        kwargs.pop("activation", None)
        if use_conv:
            if isinstance(backbone, dict) and "class_name" not in backbone:
                backbone = {**backbone, "conv_embedding": True, "conv_feedforward": True}
            else:
                backbone = resolve_backbone(backbone)
                if not (backbone.conv_embedding and backbone.conv_feedforward):
                    raise ValueError(
                        "`use_conv=True` needs a backbone built with conv_embedding=True and "
                        f"conv_feedforward=True. Received: conv_embedding={backbone.conv_embedding}, "
                        f"conv_feedforward={backbone.conv_feedforward}"
                    )
        super().__init__(backbone, num_outputs=num_outputs, pooling=pooling, dropout=dropout, activation="sigmoid", **kwargs)
        self.use_conv = bool(use_conv)

    def get_config(self):
        config = super().get_config()
        del config["activation"]
        config["use_conv"] = self.use_conv
        return config
