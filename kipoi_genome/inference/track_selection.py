"""Which output tracks a command reads, and their column names.

Used by the commands that write per-track values by name (`predict-genes`,
`predict --format bigwig`, `score-variants --genes`); the selection syntax
and the names come from `kipoi_genome.models.enformer.track_tables`.
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


def select_tracks(model, head, tracks=None, track_table=None):
    """Indices and column names of the selected tracks of `head`.

    Selection and names follow `kipoi_genome.models.enformer.track_tables`:
    heads of the published size (or any head with `track_table`) are named
    `head:identifier:description` and take `ASSAY:GLOB` patterns; other
    heads keep `head_i` names and take indices and ranges.

    Args:
        model: a track model.
        head: output head name, or None for a single-output model.
        tracks: None (all), a list of ints, or a selection string
            (``"4828,5110"``, ``"0-9"``, ``"CAGE:*K562*"``).
        track_table: path of a local track table, or None.

    Returns:
        (np.ndarray int64 indices, list of str names).
    """
    from kipoi_genome.models.enformer.track_tables import head_track_table, track_labels
    from kipoi_genome.models.enformer.track_tables import select_tracks as select_by_text

    count = head_size(model, head)
    name = head or "output"
    table = head_track_table(name, count, path=track_table)
    if tracks is not None and not isinstance(tracks, str):
        tracks = ",".join(str(int(t)) for t in tracks)
    indices = select_by_text(tracks, table, count)
    if indices is None:
        indices = list(range(count))
    labels = track_labels(name, count, table)
    return np.asarray(indices, dtype=np.int64), [labels[i] for i in indices]
