"""Genomic intervals and the BED reader."""

import dataclasses
import os

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


def parse_region(text):
    """Parses `chrom:start-end` (1-based inclusive, as samtools) to an `Interval`.

    Commas in numbers are allowed (`chr20:44,100,001-44,110,000`).

    Returns:
        Interval with 0-based half-open coordinates (`start - 1`, `end`).
    """
    chrom, sep, span = str(text).rpartition(":")
    first, dash, last = span.replace(",", "").partition("-")
    if not sep or not chrom or not dash or not first.isdigit() or not last.isdigit():
        raise ValueError(f"Region must look like chrom:start-end (1-based). Received: {text!r}")
    start, end = int(first) - 1, int(last)
    if start < 0 or end <= start:
        raise ValueError(f"Region needs 1 <= start <= end. Received: {text!r}")
    return Interval(chrom, start, end)
