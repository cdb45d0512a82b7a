"""Gene models (exons, introns, coding span, strand) for drawing genes.

Sources, chosen by file name as in `kipoi_genome.data.genes`:

* **GTF** (``.gtf[.gz]``): ``exon`` lines grouped by ``gene_id`` (name:
  ``gene_name``); the exons of all of a gene's transcripts are merged (as
  pyGenomeTracks' ``merge_transcripts``), the coding span runs from the first
  to the last ``CDS``/``start_codon``/``stop_codon`` base (no coding lines:
  the whole gene, drawn full height). A gene without
  exon lines is drawn as one block from its ``gene`` or ``transcript`` line.
* **GFF3** (``.gff3``, ``.gff``, ``[.gz]``): ``exon`` and ``CDS`` lines whose
  ``Parent`` is a transcript whose ``Parent`` is a gene (or the gene itself).
* **BED12**: blocks are exons, thickStart..thickEnd the coding span.
* **BED3-BED9** (and BED6+N, e.g. ``GRCh37_chr20_gencode_genes.bed``): each
  line is one block (a box), coding over its whole length.

Coordinates are 0-based half-open throughout.
"""

import dataclasses
import os

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.gff import gff_format, iter_gff
from kipoi_genome.data.intervals import iter_bed

_CODING = ("CDS", "start_codon", "stop_codon")


@dataclasses.dataclass(frozen=True)
class GeneModel:
    """One gene as drawn: exon blocks joined by introns, on a strand.

    Attributes:
        name: str. Gene name (GTF ``gene_name``, GFF3 ``Name``, BED name).
        chrom: str. Contig.
        start: int. 0-based start of the first exon.
        end: int. Exclusive end of the last exon.
        strand: str. ``"+"``, ``"-"`` or ``"."``.
        exons: tuple of (start, end), sorted, non-overlapping.
        thick_start: int. Start of the coding span (== `thick_end` if none).
        thick_end: int. Exclusive end of the coding span.
        source: str or None. File the gene was read from.
        line: int or None. 1-based line of its first record.
    """

    name: str
    chrom: str
    start: int
    end: int
    strand: str
    exons: tuple
    thick_start: int
    thick_end: int
    source: str = dataclasses.field(default=None, compare=False)
    line: int = dataclasses.field(default=None, compare=False)


def merge_blocks(blocks):
    """Union of `(start, end)` intervals, sorted, touching ones joined."""
    merged = []
    for start, end in sorted(blocks):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def read_gene_models(path, chrom=None, start=None, end=None):
    """Reads the gene models of a GTF, GFF3 or BED file (see module docstring).

    Args:
        path: str or os.PathLike (plain or gzip).
        chrom, start, end: keep only genes on `chrom` overlapping
            `[start, end)` (None: all).

    Returns:
        list of GeneModel, sorted by start.

    Raises:
        InputFileError: for a missing or empty file or a malformed line,
            naming the file, line and value.
    """
    path = os.fspath(path)
    kind = gff_format(path)
    if kind is None:
        genes = [_bed_gene(interval, path) for interval in iter_bed(path)]
    else:
        genes = _read_gff(path, kind == "GTF", chrom)
    keep = [
        gene for gene in genes
        if (chrom is None or gene.chrom == chrom)
        and (start is None or gene.end > start)
        and (end is None or gene.start < end)
    ]
    return sorted(keep, key=lambda gene: (gene.chrom, gene.start, gene.end))


def _bed_int(text, path, line, what):
    try:
        return int(text)
    except ValueError:
        raise InputFileError(path, line, f"BED12 {what} is not an integer", text) from None


def _bed_gene(interval, path):
    name = interval.name or f"{interval.chrom}:{interval.start + 1}-{interval.end}"
    if len(interval.extra) < 6:  # BED3-BED9 and BED6+N: one box
        return GeneModel(name, interval.chrom, interval.start, interval.end, interval.strand,
                         ((interval.start, interval.end),), interval.start, interval.end, path, interval.line)
    thick_start, thick_end, _, count, sizes, starts = interval.extra[:6]
    line = interval.line
    thick_start = _bed_int(thick_start, path, line, "thickStart")
    thick_end = _bed_int(thick_end, path, line, "thickEnd")
    count = _bed_int(count, path, line, "blockCount")
    sizes = [_bed_int(s, path, line, "blockSizes") for s in sizes.strip(",").split(",")]
    starts = [_bed_int(s, path, line, "blockStarts") for s in starts.strip(",").split(",")]
    if count < 1 or len(sizes) != count or len(starts) != count:
        raise InputFileError(path, line, f"BED12 blockCount {count} does not match blockSizes/blockStarts",
                             f"{interval.extra[4]}\t{interval.extra[5]}")
    exons = [(interval.start + s, interval.start + s + size) for s, size in zip(starts, sizes)]
    if any(size < 0 for size in sizes) or any(a < interval.start or b > interval.end for a, b in exons):
        raise InputFileError(path, line, "BED12 block outside chromStart..chromEnd",
                             f"{interval.extra[4]}\t{interval.extra[5]}")
    if not interval.start <= thick_start <= thick_end <= interval.end:
        raise InputFileError(path, line, "BED12 needs chromStart <= thickStart <= thickEnd <= chromEnd",
                             f"{thick_start}\t{thick_end}")
    return GeneModel(name, interval.chrom, interval.start, interval.end, interval.strand,
                     merge_blocks(exons), thick_start, thick_end, path, line)


def _read_gff(path, gtf, chrom=None):
    genes, parents = {}, {}  # gene key -> dict; GFF3 ID -> gene key
    records = []
    for record in iter_gff(path, gtf, chrom):  # chrom: a whole-genome GTF keeps one contig in memory
        records.append(record)
        if not gtf and "ID" in record.attributes:
            parents[record.attributes["ID"]] = record.attributes

    for record in records:
        number, feature, start, end, attributes = (
            record.line, record.feature, record.start, record.end, record.attributes)
        if gtf:
            key = attributes.get("gene_id")
            if key is None:
                continue
            name = attributes.get("gene_name", key)
        else:
            key = _gff3_gene(attributes, parents)
            if key is None:
                continue
            gene = parents.get(key, {})
            name = gene.get("Name", gene.get("gene_name", key))
        entry = genes.setdefault(key, {
            "name": name, "chrom": record.chrom, "strand": record.strand, "exons": [], "coding": [],
            "span": [], "line": number,
        })
        if entry["chrom"] != record.chrom:
            raise InputFileError(path, number, f"gene {key} has records on {entry['chrom']} and {record.chrom}",
                                 record.chrom)
        if feature == "exon":
            entry["exons"].append((start, end))
        elif feature in _CODING:
            entry["coding"].append((start, end))
        elif feature in ("gene", "transcript", "mRNA"):
            entry["span"].append((start, end))

    models = []
    for entry in genes.values():
        exons = merge_blocks(entry["exons"] or entry["span"] or entry["coding"])
        if not exons:
            continue
        coding = entry["coding"]
        # Without coding features (non-coding genes, exon-only files) every exon is drawn full height.
        thick = (min(a for a, _ in coding), max(b for _, b in coding)) if coding else (exons[0][0], exons[-1][1])
        models.append(GeneModel(entry["name"], entry["chrom"], exons[0][0], exons[-1][1], entry["strand"],
                                exons, *thick, path, entry["line"]))
    return models


def _gff3_gene(attributes, parents):
    """The gene ID a GFF3 feature belongs to (itself, its parent or grandparent), or None."""
    if "Parent" not in attributes:
        return attributes.get("ID")  # a gene line, or a transcript without a gene
    for parent in attributes["Parent"].split(","):
        record = parents.get(parent)
        if record is None:
            continue
        if "Parent" in record:
            return record["Parent"].split(",")[0]
        return parent
    return None
