"""Tables of DNA sequences (CSV/TSV, plain or gzip): reading, checking, splitting.

A sequence table has one row per sequence and a header line. The column
`sequence` holds DNA (ACGTN and IUPAC codes, any case); a labelled table
(fine-tuning) also has `label` (0 or 1) and optionally `split`
(train / valid / test). Other columns (ids, coordinates) are kept as they
are. The separator is a tab for `.tsv`/`.txt` files (optionally `.gz`) and
a comma otherwise.

Line numbers in errors count the header as line 1, so row `i` (0-based) of
the returned DataFrame is line `i + 2` of the file.
"""

import csv
import os

import numpy as np
import pandas as pd

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.textfiles import DECOMPRESSION_ERRORS, decompression_error, open_text
from kipoi_genome.data.transforms import check_sequence

__all__ = ["SPLITS", "read_sequence_table", "stratified_split"]

SPLITS = ("train", "valid", "test")


def _separator(path):
    name = os.fspath(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return "\t" if name.endswith((".tsv", ".txt", ".tab")) else ","


def read_sequence_table(path, labels=False, min_length=1):
    """Reads and checks a table of sequences.

    Args:
        path: str or path-like. CSV or TSV, plain or gzip.
        labels: bool. Require a `label` column of 0/1 values and check the
            optional `split` column.
        min_length: int. Shortest sequence accepted, in bp (a k-mer model
            needs `2k - 1`).

    Returns:
        `pandas.DataFrame` with every column of the file, in file order;
        `sequence` as upper-case str, `label` as int (when `labels`), `split`
        as str (when present).

    Raises:
        InputFileError: missing/empty/damaged file, a missing column, a bad
            sequence, label or split value, naming the file, line and value.
    """
    path = os.fspath(path)
    kind = "sequence table"
    try:
        with open_text(path, kind) as handle:
            table = pd.read_csv(
                handle, sep=_separator(path), dtype=str, keep_default_na=False,
                quoting=csv.QUOTE_MINIMAL, comment=None,
            )
    except DECOMPRESSION_ERRORS as error:
        raise decompression_error(path, error, kind) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputFileError(path, None, f"not a readable {kind} ({detail})") from None
    except pd.errors.EmptyDataError:
        raise InputFileError(path, None, f"empty {kind}") from None
    required = ["sequence", "label"] if labels else ["sequence"]
    for column in required:
        if column not in table.columns:
            raise InputFileError(
                path, 1, f"{kind} has no '{column}' column (separator {_separator(path)!r})",
                ",".join(map(str, table.columns)),
            )
    if len(table) == 0:
        raise InputFileError(path, None, f"{kind} has a header but no rows")
    sequences = table["sequence"].str.strip().str.upper()
    for row, sequence in enumerate(sequences):
        if len(sequence) < min_length:
            raise InputFileError(path, row + 2, f"sequence shorter than {min_length} bp", sequence)
        try:
            check_sequence(sequence)
        except ValueError as error:
            raise InputFileError(path, row + 2, str(error), sequence) from None
    table["sequence"] = sequences
    if labels:
        table["label"] = _labels(path, table["label"])
        if "split" in table.columns:
            splits = table["split"].str.strip().str.lower()
            bad = ~splits.isin(SPLITS)
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputFileError(
                    path, row + 2, f"split must be one of {', '.join(SPLITS)}", table["split"].iloc[row]
                )
            table["split"] = splits
    return table


def _labels(path, column):
    values = []
    for row, text in enumerate(column):
        text = text.strip()
        try:
            value = float(text)
        except ValueError:
            value = None
        if value not in (0.0, 1.0):
            raise InputFileError(path, row + 2, "label must be 0 or 1", text)
        values.append(int(value))
    return np.asarray(values, np.int64)


def stratified_split(labels, valid_fraction=0.1, seed=0):
    """Assigns rows to train / valid, keeping each label's share in both.

    Args:
        labels: array-like of int labels `[N]`.
        valid_fraction: float in (0, 1). Share of each label's rows put in
            the validation split (rounded, at least one row per label that
            has two or more).
        seed: int. The shuffle's seed.

    Returns:
        np.ndarray of str `[N]`: `"train"` or `"valid"`.
    """
    if not 0.0 < float(valid_fraction) < 1.0:
        raise ValueError(f"`valid_fraction` must be in (0, 1). Received: valid_fraction={valid_fraction!r}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    splits = np.full(len(labels), "train", dtype=object)
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        rng.shuffle(rows)
        count = int(round(valid_fraction * len(rows)))
        if len(rows) >= 2:
            count = min(max(count, 1), len(rows) - 1)
        splits[rows[:count]] = "valid"
    return splits.astype(str)
