"""Enformer output-track tables: names, selection by index or pattern, labels.

The official Enformer heads predict the Basenji2 targets (Kelley 2020):
row i of calico/basenji `manuscripts/cross2020/targets_{human,mouse}.txt`
(Apache-2.0) is output track i of the head (deepmind-research
enformer/README.md). The tables are fetched from GitHub once, checked against
the sha256 pinned below and cached under the Keras cache directory
(`kipoi_genome.download`); `path=` or the `KIPOI_GENOME_TRACK_TABLES`
folder (holding `targets_human.txt[.gz]`, `targets_mouse.txt[.gz]`) use a
local copy instead.

Track labels (TSV column names, HDF5 attributes) are
`{head}:{identifier}:{description}`, e.g.
`human:CNhs11250:CAGE:chronic myelogenous leukemia cell line:K562`; heads
without a table keep `{head}_{i}`.
"""

import fnmatch
import gzip
import os
import re

from kipoi_genome.download import DownloadError, cached_download

_BASE_URL = "https://raw.githubusercontent.com/calico/basenji/master/manuscripts/cross2020"
# sha256 of the uncompressed upstream files (../shared/data/README.md gives the
# prefixes; full values computed from the shared copies, which are these files gzipped).
TRACK_TABLES = {
    "human": (f"{_BASE_URL}/targets_human.txt", "d90233175a9fec389e5ac04cc4aac8cfc08c4aa86217e2e5c10221de78023580", 5313),
    "mouse": (f"{_BASE_URL}/targets_mouse.txt", "f76c869a38bfc79690d7a43e86f155db9b8ac8085ff5a717f99358b3253cd230", 1643),
}
TRACK_TABLES_ENV = "KIPOI_GENOME_TRACK_TABLES"
_COLUMNS = ("index", "genome", "identifier", "file", "clip", "scale", "sum_stat", "description")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def read_track_table(path):
    """Reads a Basenji targets table (plain or gzipped TSV) into a DataFrame.

    Args:
        path: str. A `targets_*.txt` file with a header line holding at
            least `identifier` and `description`.

    Returns:
        DataFrame with one row per output track, in file order: `index`
        (0-based output track index = row number), `identifier`, `assay`
        (description prefix before the first `:`, e.g. `CAGE`), `description`,
        and when present `clip`, `scale`, `sum_stat`, `genome`, `file` and
        `basenji_index` (the file's own `index` column, which numbers mouse
        tracks from 5,313).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a track table (missing columns, empty identifiers).
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: track table not found")
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8") as handle:
            table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ValueError(f"{path}: not a readable track table ({type(error).__name__}: {error})") from None
    missing = [c for c in ("identifier", "description") if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path}:1: track table needs tab-separated columns {list(_COLUMNS)}; missing {missing} "
            f"(header '{' '.join(map(str, table.columns))[:80]}')"
        )
    if len(table) == 0:
        raise ValueError(f"{path}: track table has no rows")
    empty = table.index[(table["identifier"] == "") | (table["description"] == "")]
    if len(empty):
        raise ValueError(f"{path}:{int(empty[0]) + 2}: empty identifier or description")
    table = table.rename(columns={"index": "basenji_index"})
    for column in ("basenji_index", "genome", "clip", "scale"):
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce")
    table["index"] = range(len(table))
    table["assay"] = table["description"].str.partition(":")[0].where(table["description"].str.contains(":"), "")
    first = ["index", "identifier", "assay", "description", "clip", "scale", "sum_stat", "genome", "basenji_index"]
    order = [c for c in first if c in table] + [c for c in table.columns if c not in first]
    return table[order]


def _local_table(organism):
    folder = os.environ.get(TRACK_TABLES_ENV)
    if not folder:
        return None
    for name in (f"targets_{organism}.txt", f"targets_{organism}.txt.gz"):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(f"{folder}: no targets_{organism}.txt or targets_{organism}.txt.gz (from ${TRACK_TABLES_ENV})")


def enformer_tracks(organism="human", path=None, progress=True):
    """The official Enformer track table of one head.

    Args:
        organism: `"human"` (5,313 tracks) or `"mouse"` (1,643 tracks).
        path: str or None. A local copy of the table (plain or gzipped).
            None reads `$KIPOI_GENOME_TRACK_TABLES/targets_{organism}.txt[.gz]`
            when that variable is set, else the cached download (fetched
            from calico/basenji on first use and checked against its sha256).
        progress: bool. Progress bar for a download.

    Returns:
        pandas DataFrame, one row per output track: `index`, `identifier`,
        `assay` (`CAGE`, `DNASE`, `CHIP`, `ATAC`), `description`, `clip`,
        `scale`, `sum_stat`, ... (see `read_track_table`).

    Raises:
        ValueError: unknown organism, a table of the wrong size, or a failed
            download (`kipoi_genome.download.DownloadError`).

    Example:
    ```python
    tracks = enformer_tracks("human")
    k562_cage = tracks[tracks.description.str.startswith("CAGE:") & tracks.description.str.contains("K562")]
    ```
    """
    if organism not in TRACK_TABLES:
        raise ValueError(f"`organism` must be one of {sorted(TRACK_TABLES)}. Received: organism={organism!r}")
    url, sha256, rows = TRACK_TABLES[organism]
    if path is None:
        path = _local_table(organism)
    if path is None:
        path = cached_download(url, f"targets_{organism}-{sha256[:12]}.txt", sha256, progress=progress)
    table = read_track_table(path)
    if len(table) != rows:
        raise ValueError(f"{path}: the official {organism} table has {rows:,} tracks. Received: {len(table):,} rows")
    return table


def head_track_table(head, num_tracks, path=None, progress=True):
    """The track table for an output head, or None when it has none.

    Args:
        head: str. Output head name (`"human"`, `"mouse"`, or another).
        num_tracks: int. Number of tracks the head predicts.
        path: str or None. A local table given by the user (`--track-table`);
            it must have `num_tracks` rows.
        progress: bool. Progress bar for a download.

    Returns:
        The table of `path` if given; else the official table when `head`
        is an official head of the published size (5,313 human, 1,643
        mouse), fetched like `enformer_tracks`; else None (user-trained
        heads keep numeric names).
    """
    if path is not None:
        table = read_track_table(path)
        if len(table) != num_tracks:
            raise ValueError(
                f"{path}: head {head!r} has {num_tracks:,} tracks but the track table has {len(table):,} rows"
            )
        return table
    if head in TRACK_TABLES and TRACK_TABLES[head][2] == num_tracks:
        try:
            return enformer_tracks(head, progress=progress)
        except DownloadError as error:
            raise DownloadError(
                f"{error} (track names of head {head!r}: pass --track-table FILE or set ${TRACK_TABLES_ENV})"
            ) from None
    return None


def output_track_labels(heads, path=None, head=None, progress=True):
    """Track labels of every output head, for writers of per-track columns.

    Args:
        heads: dict head name -> number of tracks (e.g. `model.heads`, or
            the last axis of each output).
        path: str or None. A local track table (`--track-table`); it names
            `head` if given, else every head with as many tracks as it has rows.
        head: str or None. The head `path` describes.
        progress: bool. Progress bar for a table download.

    Returns:
        dict head -> list of labels (see `track_labels`).

    Raises:
        ValueError: `path` fits no head (row count differs from every head's).
    """
    table = read_track_table(path) if path is not None else None
    owners = set()
    if table is not None:
        owners = {name for name, count in heads.items() if (name == head if head is not None else len(table) == count)}
        if not owners:
            sizes = ", ".join(f"{k} {v:,}" for k, v in heads.items())
            raise ValueError(f"{path}: {len(table):,} tracks; no output head has that many ({sizes})")
    return {
        name: track_labels(name, count, table if name in owners else head_track_table(name, count, progress=progress))
        for name, count in heads.items()
    }


def track_labels(head, num_tracks, table=None):
    """Output names of a head's tracks, the ones every output file uses.

    Args:
        head: str. Output head name, e.g. `"human"`.
        num_tracks: int. Tracks of the head.
        table: DataFrame (from `enformer_tracks` / `read_track_table`) or None.

    Returns:
        list of `num_tracks` str: `"{head}:{identifier}:{description}"` with a
        table (tabs and newlines replaced by spaces), else `"{head}_{i}"`.
    """
    if table is None:
        return [f"{head}_{i}" for i in range(num_tracks)]
    if len(table) != num_tracks:
        raise ValueError(f"Head {head!r} has {num_tracks:,} tracks; the track table has {len(table):,} rows")
    return [
        re.sub(r"[\t\r\n]+", " ", f"{head}:{identifier}:{description}")
        for identifier, description in zip(table["identifier"], table["description"])
    ]


def select_tracks(selection, table=None, num_tracks=None):
    """Track indices chosen by a comma-separated selection.

    Items, in any mix: an index (`4828`), an inclusive range (`10-20`), a
    pattern `ASSAY:GLOB` matched against the whole description
    (`CAGE:*K562*`, `*:*liver*`; shell wildcards, case-insensitive), or an
    identifier glob without `:` (`CNhs11250`, `ENCFF8*`). Patterns need a
    table. Indices come out in selection order, each once. Descriptions
    with commas are matched with `*` in place of the comma.

    Args:
        selection: str (e.g. `"4828,5110"` or `"CAGE:*K562*"`) or None.
        table: DataFrame or None.
        num_tracks: int or None. Track count, to check index bounds.

    Returns:
        list of int, or None when `selection` is None or empty (all tracks).

    Raises:
        ValueError: an index out of range, a pattern without a table, or an
            item that matches nothing (the message names the item).
    """
    if selection is None or not str(selection).strip():
        return None
    if num_tracks is None and table is not None:
        num_tracks = len(table)
    chosen = []
    for item in (part.strip() for part in str(selection).split(",")):
        if not item:
            raise ValueError(f"--tracks has an empty item. Received: {selection!r}")
        match = _RANGE.match(item)
        if match:
            first, last = int(match.group(1)), int(match.group(2) or match.group(1))
            if last < first:
                raise ValueError(f"--tracks range {item!r} ends before it starts")
            if num_tracks is not None and last >= num_tracks:
                raise ValueError(f"--tracks {item!r}: the head has tracks 0-{num_tracks - 1}")
            chosen.extend(range(first, last + 1))
            continue
        if table is None:
            raise ValueError(
                f"--tracks pattern {item!r} needs a track table (--track-table FILE, or a model "
                "whose head has the published size: human 5313, mouse 1643)"
            )
        column = table["description"] if ":" in item else table["identifier"]
        regex = re.compile(fnmatch.translate(item), re.IGNORECASE)
        hits = [i for i, text in enumerate(column) if regex.match(text)]
        if not hits:
            where = "description" if ":" in item else "identifier"
            raise ValueError(f"--tracks {item!r} matches no track {where} in the table ({len(table):,} tracks)")
        chosen.extend(hits)
    return list(dict.fromkeys(chosen))
