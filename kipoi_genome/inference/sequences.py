"""Predictions for a table of sequences (CSV/TSV column `sequence`), one row per input row."""

import sys

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.utils.batching import batched
from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.transforms import one_hot_encode
from kipoi_genome.models.enformer.chunked_inference import predict_on_batch

__all__ = ["predict_sequence_table", "write_prediction_table"]


def _logo_columns(model, sequences):
    values = np.asarray(model.predict_sequences(sequences))
    if values.ndim == 1:
        return {"probability": values}
    return {f"output_{i}": values[:, i] for i in range(values.shape[1])}


def _one_hot_columns(model, sequences):
    x = np.stack([one_hot_encode(s) for s in sequences]).astype("float32")
    out = predict_on_batch(model, x)
    out = out if isinstance(out, dict) else {"output": out}
    columns = {}
    for head, value in out.items():
        value = np.asarray(value, np.float64)
        means = value.reshape(value.shape[0], -1, value.shape[-1]).mean(axis=1)  # mean over bins
        for i in range(means.shape[1]):
            columns[f"{head}_{i}"] = means[:, i]
    return columns


def predict_sequence_table(model, table, batch_size=64, source="<table>", progress=True):
    """Scores every row of a sequence table, in order.

    LOGO models (`predict_sequences`) read each sequence as it is, averaged
    over reading frames and strands; a one-output classifier gives a
    `probability` column. One-hot models (Enformer) need sequences of their
    input length and give one column per track, `head_i`, the mean over the
    output bins.

    Args:
        model: a zoo model.
        table: DataFrame with a `sequence` column (`read_sequence_table`).
        batch_size: int. Rows per forward pass of a one-hot model (LOGO
            models take at least 256 rows per call).
        source: str. The table's file, for error messages.
        progress: bool. Show a progress bar.

    Returns:
        DataFrame: the input's other columns, then the prediction columns
        (a prediction column replaces an input column of the same name).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    sequences = list(table["sequence"])
    by_sequence = hasattr(model, "predict_sequences")
    if by_sequence:
        k = model.tokenizer.k
        limit = model.backbone.max_sequence_length
        for row, sequence in enumerate(sequences):
            if len(sequence) < 2 * k - 1 or len(sequence) // k > limit:
                raise InputFileError(
                    source, row + 2, f"sequence of {len(sequence)} bp does not fit {model.name}: "
                    f"{2 * k - 1} to {limit * k + k - 1} bp", sequence[:40],
                )
    else:
        length = model.input_shape[1]
        for row, sequence in enumerate(sequences):
            if len(sequence) != length:
                raise InputFileError(
                    source, row + 2, f"sequence of {len(sequence)} bp; {model.name} reads exactly {length} bp",
                    sequence[:40],
                )
    parts = []
    bar = tqdm(total=len(sequences), unit="sequence", disable=not progress, desc="predict")
    # LOGO rows are cheap and `predict_sequences` batches their 2k views itself:
    # chunks of 256 rows keep the per-call overhead small.
    for batch in batched(sequences, max(batch_size, 256) if by_sequence else batch_size):
        parts.append(_logo_columns(model, batch) if by_sequence else _one_hot_columns(model, batch))
        bar.update(len(batch))
    bar.close()
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    kept = table.drop(columns=["sequence", *[c for c in columns if c in table.columns]])
    return pd.concat([kept.reset_index(drop=True), pd.DataFrame(columns)], axis=1)


def write_prediction_table(predictions, path):
    """Writes predictions as TSV (`-`: stdout), floats to 6 significant digits."""
    options = dict(sep="\t", index=False, float_format="%.6g")
    if path == "-":
        predictions.to_csv(sys.stdout, **options)
        return
    with atomic_output(path, "w", suffix=".tsv") as handle:
        predictions.to_csv(handle, **options)
