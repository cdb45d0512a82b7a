"""Which output tracks a command reads, and their column names.

One place for the commands of this package that write per-track values by
name (`predict-genes`, `predict --format bigwig`, `score-variants --genes`).
"""

import numpy as np


def head_size(model, head):
    """Number of tracks of `head` (the model's only output when `head` is None)."""
    heads = getattr(model, "heads", None)
    if heads and head is not None:
        return int(heads[head])
    shape = model.output_shape
    if isinstance(shape, dict):
        shape = shape[head] if head is not None else next(iter(shape.values()))
    return int(shape[-1])


def parse_track_indices(text, count):
    """`"0,5,10-12"` -> [0, 5, 10, 11, 12], each checked against `count` tracks."""
    indices = []
    for part in str(text).split(","):
        part = part.strip()
        first, dash, last = part.partition("-")
        try:
            span = range(int(first), int(last) + 1) if dash else [int(part)]
        except ValueError:
            raise ValueError(
                f"--tracks must be track indices like 0,5,10-12 (or an assay:pattern selection when the "
                f"model has a track table). Received: {text!r}"
            ) from None
        for index in span:
            if not 0 <= index < count:
                raise ValueError(f"Track {index} is out of range 0..{count - 1}. Received: --tracks {text!r}")
            indices.append(index)
    if not indices:
        raise ValueError(f"--tracks selected no track. Received: {text!r}")
    return indices


def select_tracks(model, head, tracks=None, track_table=None):
    """Indices and column names of the selected tracks of `head`.

    Args:
        model: a track model.
        head: output head name, or None for a single-output model.
        tracks: None (all), a list of ints, or a selection string (indices
            like ``"0,5,10-12"``; with a track table also ``assay:pattern``).
        track_table: path of a local track table, or None.

    Returns:
        (np.ndarray int64 indices, list of str names), names like
        ``human_4828`` for models without a track table.
    """
    count = head_size(model, head)
    named = _table_selection(model, head, tracks, track_table, count)
    if named is not None:
        return named
    if tracks is None:
        indices = list(range(count))
    elif isinstance(tracks, str):
        indices = parse_track_indices(tracks, count)
    else:
        indices = parse_track_indices(",".join(str(int(t)) for t in tracks), count)
    prefix = head or "output"
    return np.asarray(indices, dtype=np.int64), [f"{prefix}_{i}" for i in indices]


def _table_selection(model, head, tracks, track_table, count):
    """Track names and selection from the official track table, when there is one.

    Returns None for models without a table (user-trained models keep
    numeric names).
    """
    if track_table is not None:
        raise ValueError(
            "--track-table needs the track-table support of kipoi_genome.models.enformer_tracks, "
            f"which this installation lacks. Received: --track-table {track_table!r}"
        )
    return None
