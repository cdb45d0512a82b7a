"""Genes and their transcription start sites (TSSs) from GTF, GFF3 or a TSS BED.

TSS rule (strand-aware, 0-based positions of the first transcribed base):

* plus strand: the feature's start (GTF/GFF3 column 4 minus 1, BED start);
* minus strand: the feature's last base (GTF/GFF3 column 5 minus 1, BED
  end minus 1);
* unstranded (``.``): the start, as for the plus strand.

Where a gene's TSSs come from:

* **GTF** (``.gtf``, ``.gtf.gz``): one TSS per ``transcript`` line, grouped
  by ``gene_id`` (name: ``gene_name``, else the id). Genes without
  transcript lines use their ``gene`` line.
* **GFF3** (``.gff3``, ``.gff``, and ``.gz``): one TSS per feature whose
  ``Parent`` is a gene (a type ending in ``gene``: ``gene``, ``ncRNA_gene``,
  ``pseudogene``; children: ``mRNA``, ``transcript``, ``lnc_RNA``, ...),
  grouped under that gene's ``ID`` (name: ``Name``, else
  ``gene_name``, else the id). Genes without such children use their own line.
* **BED** (anything else, e.g. ``GRCh37_chr20_gencode_tss.bed``): each line
  is one TSS; lines sharing name (column 4) and chromosome are one gene,
  whose id and name are that name (lines without a name are genes of their
  own, named ``chrom:pos``).

Identical TSS positions of one gene are kept once. Genes keep the order of
their gene lines (GTF/GFF3; genes with transcripts but no gene line follow)
or of their first line (BED).
"""

import dataclasses
import os

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.gff import gff_format, iter_gff
from kipoi_genome.data.intervals import iter_bed


@dataclasses.dataclass(frozen=True)
class Gene:
    """A gene and its TSSs.

    Attributes:
        id: str. Gene identifier (GTF ``gene_id``, GFF3 ``ID``, BED name).
        name: str. Gene name (GTF ``gene_name``, GFF3 ``Name``, BED name).
        chrom: str. Contig.
        strand: str. ``"+"``, ``"-"``, or ``"."`` when unstranded or when its
            TSSs lie on both strands.
        tss: tuple of int. Sorted, distinct 0-based TSS positions.
        source: str or None. File the gene was read from.
        line: int or None. 1-based line of the gene's first record.
    """

    id: str
    name: str
    chrom: str
    strand: str
    tss: tuple
    source: str = dataclasses.field(default=None, compare=False)
    line: int = dataclasses.field(default=None, compare=False)


def tss_position(start, end, strand):
    """0-based TSS of a feature `[start, end)` (0-based half-open) on `strand`."""
    return end - 1 if strand == "-" else start


class _Builder:
    def __init__(self, path):
        self.path = path
        self.genes = {}

    def add(self, key, gene_id, name, chrom, strand, position, line):
        entry = self.genes.get(key)
        if entry is None:
            entry = self.genes[key] = {
                "id": gene_id, "name": name, "chrom": chrom, "strands": set(), "tss": set(), "line": line
            }
        elif entry["chrom"] != chrom:
            raise InputFileError(
                self.path, line, f"gene {gene_id} has records on {entry['chrom']} and {chrom}", chrom
            )
        entry["strands"].add(strand)
        entry["tss"].add(position)

    def build(self):
        genes = []
        for entry in self.genes.values():
            strands = entry["strands"]
            strand = strands.pop() if len(strands) == 1 else "."
            genes.append(
                Gene(entry["id"], entry["name"], entry["chrom"], strand, tuple(sorted(entry["tss"])),
                     self.path, entry["line"])
            )
        return genes


def read_genes(path):
    """Reads genes and their TSSs; the format follows the file name (see module docstring).

    Args:
        path: str or os.PathLike. GTF, GFF3 or BED, plain or gzip.

    Returns:
        list of Gene, in order of first appearance.

    Raises:
        InputFileError: for a missing or empty file, a malformed line (naming
            file, line and value), or a file without genes.
    """
    path = os.fspath(path)
    kind = gff_format(path)
    genes = _read_tss_bed(path) if kind is None else _read_gff(path, gtf=kind == "GTF")
    if not genes:
        raise InputFileError(path, None, "no genes or TSSs in the file")
    return genes


def _read_tss_bed(path):
    builder = _Builder(path)
    for interval in iter_bed(path):
        position = tss_position(interval.start, interval.end, interval.strand)
        if interval.end == interval.start:
            raise InputFileError(path, interval.line, "empty TSS interval (end == start)", interval.start)
        name = interval.name or f"{interval.chrom}:{position + 1}"
        builder.add((name, interval.chrom), name, name, interval.chrom, interval.strand, position, interval.line)
    return builder.build()


def _is_gff3_gene(feature):
    # gene, ncRNA_gene, pseudogene (Ensembl), protein_coding_gene, ...
    return feature.endswith("gene")


def _read_gff(path, gtf):
    transcripts, gene_lines, gene_ids = _Builder(path), _Builder(path), {}
    rows = []
    for record in iter_gff(path, gtf):
        position = tss_position(record.start, record.end, record.strand)
        rows.append((record.line, record.chrom, record.feature, record.strand, position, record.attributes))
        if _is_gff3_gene(record.feature) and not gtf and "ID" in record.attributes:
            gene_ids[record.attributes["ID"]] = record.attributes

    for number, chrom, feature, strand, position, attributes in rows:
        if gtf:
            gene_id = attributes.get("gene_id")
            if gene_id is None:
                if feature in ("gene", "transcript"):
                    raise InputFileError(path, number, f"GTF {feature} line has no gene_id", feature)
                continue
            name = attributes.get("gene_name", gene_id)
            target = {"transcript": transcripts, "gene": gene_lines}.get(feature)
        else:
            if _is_gff3_gene(feature):
                gene_id = attributes.get("ID")
                if gene_id is None:
                    raise InputFileError(path, number, "GFF3 gene line has no ID", feature)
                target = gene_lines
            else:
                parents = [p for p in attributes.get("Parent", "").split(",") if p in gene_ids]
                if not parents:
                    continue
                gene_id, target = parents[0], transcripts
            gene = gene_ids.get(gene_id, {})
            name = gene.get("Name", gene.get("gene_name", gene_id))
        if target is not None:
            target.add(gene_id, gene_id, name, chrom, strand, position, number)

    # A gene's transcripts give its TSSs; its own line only when it has none.
    by_id = {gene.id: gene for gene in transcripts.build()}
    ordered = [by_id.pop(gene.id, gene) for gene in gene_lines.build()]
    return ordered + list(by_id.values())
