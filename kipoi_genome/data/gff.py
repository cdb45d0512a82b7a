"""Validated GTF and GFF3 records (the one reader behind genes and gene models).

Comment lines (``#``) and blank lines are skipped; a ``##FASTA`` line ends
the annotation (GFF3 may append sequences). Every other line must have 9
tab-separated columns, integer 1-based inclusive coordinates with
``1 <= start <= end``, a strand of ``+``, ``-`` or ``.`` and well-formed
attributes (GTF: ``key "value";``, GFF3: ``key=value;`` percent-decoded).
"""

import dataclasses
import urllib.parse

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.textfiles import open_text

GFF_SUFFIXES = (".gff3", ".gff", ".gff3.gz", ".gff.gz")
GTF_SUFFIXES = (".gtf", ".gtf.gz")


@dataclasses.dataclass(frozen=True)
class GffRecord:
    """One GTF/GFF3 feature line.

    Attributes:
        line: int. 1-based line number.
        chrom: str. Column 1 (seqid).
        feature: str. Column 3 (type), e.g. ``"gene"``, ``"exon"``.
        start: int. 0-based start (column 4 minus 1).
        end: int. Exclusive end (column 5).
        strand: str. ``"+"``, ``"-"`` or ``"."``.
        attributes: dict. Column 9 as `{key: value}` (GTF: first value of a
            repeated key).
    """

    line: int
    chrom: str
    feature: str
    start: int
    end: int
    strand: str
    attributes: dict


def gff_format(path):
    """``"GTF"``, ``"GFF3"`` or None (neither), from the file name."""
    lower = str(path).lower()
    if lower.endswith(GTF_SUFFIXES):
        return "GTF"
    if lower.endswith(GFF_SUFFIXES):
        return "GFF3"
    return None


def iter_gff(path, gtf, chrom=None):
    """Yields the validated feature lines of a GTF or GFF3 file.

    Args:
        path: str. Plain or gzip file.
        gtf: bool. True for GTF attributes, False for GFF3.
        chrom: str or None. Yield (and validate beyond the column count)
            only lines on this contig, so that a whole-genome file keeps one
            contig in memory.

    Yields:
        GffRecord, in file order.

    Raises:
        InputFileError: for a missing or empty file, a file that is not UTF-8,
            or a malformed line (naming file, line and value).
    """
    kind = "GTF" if gtf else "GFF3"
    parse = _gtf_attributes if gtf else _gff3_attributes
    with open_text(path, kind) as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                text = raw.rstrip("\r\n")
                if not text.strip() or text.startswith("#"):
                    if text.startswith("##FASTA"):
                        break
                    continue
                fields = text.split("\t")
                if len(fields) != 9:
                    raise InputFileError(path, number, f"{kind} line has {len(fields)} columns, needs 9", text)
                if chrom is not None and fields[0] != chrom:
                    continue
                try:
                    first, last = int(fields[3]), int(fields[4])
                except ValueError:
                    raise InputFileError(path, number, f"{kind} start/end is not an integer",
                                         f"{fields[3]}\t{fields[4]}") from None
                if first < 1 or last < first:
                    raise InputFileError(path, number, f"{kind} needs 1 <= start <= end",
                                         f"{fields[3]}\t{fields[4]}")
                if fields[6] not in ("+", "-", "."):
                    raise InputFileError(path, number, f"{kind} strand must be +, - or .", fields[6])
                attributes = parse(fields[8], path, number)
                yield GffRecord(number, fields[0], fields[2], first - 1, last, fields[6], attributes)
        except UnicodeDecodeError:
            raise InputFileError(path, None, f"{kind} file is not UTF-8 text") from None


def _gtf_attributes(text, path, line):
    attributes = {}
    for item in text.strip().split(";"):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition(" ")
        value = value.strip()
        if not key or not value:
            raise InputFileError(path, line, "GTF attribute is not `key \"value\"`", item)
        attributes.setdefault(key, value.strip('"'))
    return attributes


def _gff3_attributes(text, path, line):
    attributes = {}
    for item in text.strip().split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputFileError(path, line, "GFF3 attribute is not `key=value`", item)
        attributes[key.strip()] = urllib.parse.unquote(value.strip())
    return attributes
