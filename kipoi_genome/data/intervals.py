"""Genomic intervals and the BED reader."""

import dataclasses
import os

import numpy as np

from kipoi_genome.data.errors import DamagedFileError, InputFileError
from kipoi_genome.data.textfiles import check_compressed, iter_lines
from kipoi_genome.data.transforms import resize_interval

_STRANDS = ("+", "-", ".")


@dataclasses.dataclass(frozen=True)
class Interval:
    """A genomic interval, 0-based half-open (as in BED).

    Attributes:
        chrom: str. Contig name.
        start: int. 0-based start (inclusive).
        end: int. End (exclusive).
        name: str or None. BED column 4.
        strand: str. ``"+"``, ``"-"`` or ``"."`` (BED column 6; ``"."`` when absent).
        extra: tuple of str. BED columns after the sixth (e.g. labels).
        source: str or None. File the interval was read from.
        line: int or None. 1-based line in `source`.
    """

    chrom: str
    start: int
    end: int
    name: str = None
    strand: str = "."
    extra: tuple = ()
    source: str = dataclasses.field(default=None, compare=False)
    line: int = dataclasses.field(default=None, compare=False)

    @property
    def width(self):
        """int: ``end - start``."""
        return self.end - self.start

    def resize(self, length):
        """Returns a copy with `length` bp around the centre (see `resize_interval`)."""
        start, end = resize_interval(self.start, self.end, length)
        return dataclasses.replace(self, start=start, end=end)

    def shift(self, offset):
        """Returns a copy moved by `offset` bp (positive: towards higher coordinates)."""
        return dataclasses.replace(self, start=self.start + offset, end=self.end + offset)

    def __str__(self):
        return f"{self.chrom}:{self.start}-{self.end}({self.strand})"


def _parse_int(text, path, line, what):
    try:
        return int(text)
    except ValueError:
        raise InputFileError(path, line, f"BED {what} is not an integer", text) from None


def iter_bed(path):
    """Yields the intervals of a BED file (plain or gzip).

    Lines that are empty or start with ``#``, or whose first word is
    ``track`` or ``browser``, are skipped. Columns are tab-separated
    (whitespace if the line has no tab). At least 3 columns: chrom, start,
    end (0-based half-open); optional name (4), score (5, ignored), strand
    (6) and further columns (kept in `Interval.extra`).

    Args:
        path: str or os.PathLike.

    Yields:
        Interval, with `source` and `line` set.

    Raises:
        InputFileError: for a missing or empty file, binary data, truncated
            or corrupt gzip/bgzip data, or a malformed line (fewer than 3
            columns, non-integer or negative start, end before start, bad
            strand), naming the file, line and value.
    """
    path = os.fspath(path)
    try:
        for number, text in iter_lines(path, "BED"):
            if not text.strip() or text.startswith("#") or text.split(None, 1)[0] in ("track", "browser"):
                continue  # a contig may be named "track1": only the word itself starts a header
            fields = text.split("\t") if "\t" in text else text.split()
            if len(fields) < 3:
                raise InputFileError(
                    path, number, f"BED line has {len(fields)} column(s), needs at least 3", text
                )
            chrom = fields[0]
            if not chrom:
                raise InputFileError(path, number, "empty chromosome name", text)
            start = _parse_int(fields[1], path, number, "start")
            end = _parse_int(fields[2], path, number, "end")
            if start < 0:
                raise InputFileError(path, number, "negative BED start", fields[1])
            if end < start:
                raise InputFileError(
                    path, number, "BED end is before start", f"{start}\t{end}"
                )
            name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else None
            strand = fields[5] if len(fields) > 5 else "."
            if strand not in _STRANDS:
                raise InputFileError(path, number, "BED strand must be +, - or .", strand)
            yield Interval(
                chrom, start, end, name, strand, tuple(fields[6:]), path, number
            )
    except InputFileError as error:
        if not isinstance(error, DamagedFileError):
            check_compressed(path, "BED")  # damage first: it can inflate to garbage lines
        raise


def read_bed(path):
    """Reads all intervals of a BED file; see `iter_bed`.

    Returns:
        list of Interval.

    Raises:
        InputFileError: as `iter_bed`, and if the file holds no interval.
    """
    intervals = list(iter_bed(path))
    if not intervals:
        raise InputFileError(path, None, "BED file has no intervals")
    return intervals


def as_intervals(intervals):
    """A list of `Interval` from a BED path or from in-memory intervals.

    Args:
        intervals: str or os.PathLike (a BED file, read with `read_bed`), or
            an iterable of `Interval` or ``(chrom, start, end[, strand])``
            tuples (0-based half-open).

    Returns:
        list of Interval.

    Raises:
        InputFileError: for a bad BED file (see `iter_bed`).
        ValueError: for an empty iterable or an item of another kind,
            naming the item.
    """
    if isinstance(intervals, (str, os.PathLike)):
        return read_bed(intervals)
    intervals = list(intervals)
    if not intervals:
        raise ValueError("`intervals` is empty. Received: 0 intervals")
    out = []
    for item in intervals:
        if isinstance(item, Interval):
            out.append(item)
        elif isinstance(item, (tuple, list)) and len(item) in (3, 4):
            out.append(Interval(item[0], int(item[1]), int(item[2]), strand=item[3] if len(item) == 4 else "."))
        else:
            raise ValueError(
                "`intervals` must be a BED path or Interval / (chrom, start, end[, strand]) items. "
                f"Received item: {item!r}"
            )
    return out


def equal_width_intervals(intervals, sequence_length=None):
    """Intervals of one width, as fixed-length model inputs need.

    Args:
        intervals: list of Interval.
        sequence_length: int or None. Resize every interval to this many bp
            around its centre (`Interval.resize`); None keeps them as they
            are, which requires all to be as wide as the first.

    Returns:
        tuple (list of Interval, sequence_length as int).

    Raises:
        InputFileError: naming the file, line and width of the first
            interval whose width differs (without `sequence_length`).
        ValueError: for a `sequence_length` that is not positive.
    """
    if sequence_length is None:
        sequence_length = intervals[0].width
        for interval in intervals:
            if interval.width != sequence_length:
                raise InputFileError(
                    interval.source,
                    interval.line,
                    f"interval width differs from the first one ({sequence_length} bp); "
                    "pass sequence_length to resize",
                    interval.width,
                )
    elif isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, np.integer)):
        raise ValueError(f"`sequence_length` must be an integer. Received: sequence_length={sequence_length!r}")
    else:
        intervals = [interval.resize(int(sequence_length)) for interval in intervals]
    if sequence_length <= 0:
        raise ValueError(f"`sequence_length` must be positive. Received: sequence_length={sequence_length}")
    return intervals, int(sequence_length)


def check_intervals(intervals, fasta):
    """Checks that every interval lies on a contig of `fasta` and within it.

    Args:
        intervals: iterable of Interval.
        fasta: FastaExtractor.

    Raises:
        InputFileError: naming the interval's file and line, for a contig
            absent from the FASTA or an end beyond the contig's length.
    """
    lengths = fasta.chromosome_lengths
    for interval in intervals:
        length = lengths.get(interval.chrom)
        if length is None:
            raise InputFileError(
                interval.source, interval.line, f"contig not in FASTA {fasta.path}", interval.chrom
            )
        if interval.end > length:
            raise InputFileError(
                interval.source,
                interval.line,
                f"interval ends past the end of {interval.chrom} (length {length})",
                f"{interval.chrom}:{interval.start}-{interval.end}",
            )


def binned_coverage(starts, ends, region_start, region_end, bin_size):
    """Bases covered by a set of intervals in each bin of a region.

    Overlapping intervals are merged first, so a base counts once however
    many intervals cover it. Works in O(intervals + bins) memory, never per
    base, so a whole chromosome is cheap.

    Args:
        starts, ends: int arrays (N,). 0-based half-open intervals, in any
            order; they may overlap and extend past the region.
        region_start, region_end: int. The region, 0-based half-open;
            ``region_end - region_start`` must be a multiple of `bin_size`.
        bin_size: int. Positive bin width in bp.

    Returns:
        int64 array ``((region_end - region_start) // bin_size,)``: covered
        bases per bin, from 0 to `bin_size`.

    Example:
        >>> binned_coverage([2, 5, 14], [6, 9, 20], 0, 16, 4).tolist()
        [2, 4, 1, 2]
    """
    if isinstance(bin_size, bool) or not isinstance(bin_size, (int, np.integer)) or bin_size <= 0:
        raise ValueError(f"`bin_size` must be a positive integer. Received: bin_size={bin_size!r}")
    width = int(region_end) - int(region_start)
    if width < 0 or width % bin_size:
        raise ValueError(
            "The region must span a whole number of bins. "
            f"Received: region {region_start}-{region_end}, bin_size={bin_size}"
        )
    starts = np.clip(np.asarray(starts, np.int64).reshape(-1), region_start, region_end)
    ends = np.clip(np.asarray(ends, np.int64).reshape(-1), region_start, region_end)
    if starts.shape != ends.shape:
        raise ValueError(f"`starts` and `ends` must have one entry per interval. Received: {starts.shape}, {ends.shape}")
    edges = np.arange(region_start, region_end + 1, bin_size, dtype=np.int64)
    keep = ends > starts
    if not keep.any():
        return np.zeros(len(edges) - 1, np.int64)
    order = np.argsort(starts[keep], kind="stable")
    starts, ends = starts[keep][order], np.maximum.accumulate(ends[keep][order])
    # Merged segments: a new one begins where an interval starts after every earlier end.
    first = np.flatnonzero(np.concatenate([[True], starts[1:] > ends[:-1]]))
    seg_starts = starts[first]
    seg_ends = ends[np.concatenate([first[1:] - 1, [len(starts) - 1]])]
    # Covered bases left of each edge: whole segments that start before it,
    # less the part of the last of them that reaches past it.
    cumulative = np.concatenate([[0], np.cumsum(seg_ends - seg_starts)])
    count = np.searchsorted(seg_starts, edges, side="left")
    overhang = np.maximum(seg_ends[np.maximum(count - 1, 0)] - edges, 0) * (count > 0)
    return np.diff(cumulative[count] - overhang)


def parse_region(text):
    """Parses a region string into an `Interval`: the package's one region parser.

    Region strings are written as samtools, IGV and the UCSC browser write
    them: ``chrom:start-end``, 1-based with both ends included, so
    ``chr20:1-100`` is the first 100 bp of chr20. The returned `Interval` is
    0-based half-open, like BED and every other coordinate inside the
    package: ``Interval("chr20", 0, 100)``. Commas in numbers are allowed
    (``chr20:44,100,001-44,110,000``); the contig name may itself hold colons
    (the last one separates the span).

    Args:
        text: str. ``chrom:start-end`` with ``1 <= start <= end``.

    Returns:
        Interval with ``start = start - 1`` and ``end = end``.

    Raises:
        ValueError: naming the received text, when it is not of that form.

    Example:
        >>> parse_region("chr20:44,100,001-44,160,000")
        Interval(chrom='chr20', start=44100000, end=44160000, name=None, strand='.', extra=(), source=None, line=None)
    """
    chrom, sep, span = str(text).rpartition(":")
    first, dash, last = span.replace(",", "").partition("-")
    if not sep or not chrom or not dash or not first.isdigit() or not last.isdigit():
        raise ValueError(
            f"Region must look like chrom:start-end, 1-based inclusive (e.g. chr20:1-1000). Received: {text!r}"
        )
    start, end = int(first) - 1, int(last)
    if start < 0 or end <= start:
        raise ValueError(f"Region needs 1 <= start <= end (1-based inclusive). Received: {text!r}")
    return Interval(chrom, start, end)
