"""The GTF/GFF3 record reader shared by `read_genes` and `read_gene_models`."""

import gzip

import pytest

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.genes import read_genes
from kipoi_genome.data.gff import GffRecord, gff_format, iter_gff

GFF3 = (
    "##gff-version 3\n"
    "# a comment\n"
    "\n"
    "chr1\tsrc\tgene\t101\t200\t.\t-\t.\tID=g1;Name=TP%2053\n"
    "chr1\tsrc\tmRNA\t120\t180\t.\t-\t.\tID=t1;Parent=g1\n"
    "chr2\tsrc\tgene\t5\t5\t.\t+\t.\tID=g2\n"
    "##FASTA\n"
    ">chr1\n"
    "ACGT\n"
)


def test_gff3_records_are_zero_based_decoded_and_stop_at_fasta(tmp_path):
    path = tmp_path / "a.gff3.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(GFF3)
    assert gff_format(path) == "GFF3"
    records = list(iter_gff(str(path), gtf=False))
    assert records == [
        GffRecord(4, "chr1", "gene", 100, 200, "-", {"ID": "g1", "Name": "TP 53"}),
        GffRecord(5, "chr1", "mRNA", 119, 180, "-", {"ID": "t1", "Parent": "g1"}),
        GffRecord(6, "chr2", "gene", 4, 5, "+", {"ID": "g2"}),
    ]
    # The minus-strand gene's TSS is its transcript's last base: 180 (1-based) -> 179.
    assert [(gene.id, gene.name, gene.tss) for gene in read_genes(path)] == [("g1", "TP 53", (179,)), ("g2", "g2", (4,))]


def test_gtf_attributes_and_contig_filter(tmp_path):
    path = tmp_path / "a.gtf"
    path.write_text(
        'chr1\tsrc\texon\t1\t10\t.\t+\t.\tgene_id "A"; gene_id "B"; gene_name "x y";\n'
        "chr9\tsrc\texon\tnot\ta\tnumber\t?\t.\tbroken\n"
    )
    assert gff_format(path) == "GTF" and gff_format("a.bed") is None
    # Lines on other contigs are skipped before their coordinates are read.
    assert list(iter_gff(str(path), gtf=True, chrom="chr1")) == [
        GffRecord(1, "chr1", "exon", 0, 10, "+", {"gene_id": "A", "gene_name": "x y"})
    ]
    with pytest.raises(InputFileError, match=r"a\.gtf:2: GTF start/end is not an integer \(value 'not\\ta'\)"):
        list(iter_gff(str(path), gtf=True))


@pytest.mark.parametrize(
    "line, message",
    [
        ("chr1\tsrc\tgene\t1\t5\n", r":1: GFF3 line has 5 columns, needs 9"),
        ("chr1\tsrc\tgene\t0\t5\t.\t+\t.\tID=g\n", r":1: GFF3 needs 1 <= start <= end \(value '0\\t5'\)"),
        ("chr1\tsrc\tgene\t1\t5\t.\t*\t.\tID=g\n", r":1: GFF3 strand must be \+, - or \. \(value '\*'\)"),
        ("chr1\tsrc\tgene\t1\t5\t.\t+\t.\tID\n", r":1: GFF3 attribute is not `key=value` \(value 'ID'\)"),
    ],
)
def test_malformed_lines_name_file_line_and_value(tmp_path, line, message):
    path = tmp_path / "bad.gff3"
    path.write_text(line)
    with pytest.raises(InputFileError, match="bad.gff3" + message):
        list(iter_gff(str(path), gtf=False))
