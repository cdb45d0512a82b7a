"""Gene-level readout: `predict-genes`, the GTF/GFF3/BED TSS reader and `score-variants --genes`.

Expected values are computed here from `model.predict` on windows cut with
pyfaidx, locating the TSS bins by scanning each bin's genomic span (not with
the library's formula).
"""

import numpy as np
import pandas as pd
import pyfaidx
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data.genes import read_genes
from kipoi_genome.models import Enformer

LENGTH, BINS, BIN = 2048, 8, 128
# Real chr20 genes: JAG1 (two minus-strand TSSs), RBL1 (TSSs on both
# strands), then plus and minus genes.
GENES = ("JAG1", "RBL1", "DEFB125", "DEFB128", "CST7", "HNF4A")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model = Enformer(
        channels=48, num_transformer_layers=1, num_heads=2, heads={"human": 3},
        sequence_length=LENGTH, target_length=BINS, filter_divisible_by=8,
    )
    path = tmp_path_factory.mktemp("genes") / "tiny.keras"
    model.save(path)
    return model, str(path)


def one_hot(sequence):
    lookup = {"A": 0, "C": 1, "G": 2, "T": 3}
    x = np.zeros((len(sequence), 4), np.float32)
    for i, base in enumerate(sequence.upper()):
        if base in lookup:
            x[i, lookup[base]] = 1.0
    return x


def window(fasta, chrom, start):
    """`LENGTH` bp from `start` (may be negative / past the end: N)."""
    contig = len(fasta[chrom])
    lo, hi = max(0, start), min(contig, start + LENGTH)
    return "N" * (lo - start) + str(fasta[chrom][lo:hi]) + "N" * (start + LENGTH - hi)


def expected_tss_value(model, fasta, chrom, tss, neighbours=1):
    """Sum over the bin that contains `tss` and `neighbours` bins each side."""
    start = tss - LENGTH // 2
    prediction = model.predict_on_batch(one_hot(window(fasta, chrom, start))[None])["human"][0]
    first_output_bp = start + (LENGTH - BINS * BIN) // 2
    spans = [(first_output_bp + i * BIN, first_output_bp + (i + 1) * BIN) for i in range(BINS)]
    (tss_bin,) = [i for i, (lo, hi) in enumerate(spans) if lo <= tss < hi]
    return prediction[tss_bin - neighbours : tss_bin + neighbours + 1].astype(np.float64).sum(axis=0)


def test_predict_genes_shared_tss_bed(tiny, shared_dir, tmp_path):
    model, path = tiny
    lines = [
        line for line in (shared_dir / "data" / "annotation" / "GRCh37_chr20_gencode_tss.bed").read_text().splitlines()
        if line.split("\t")[3] in GENES
    ]
    bed = tmp_path / "tss.bed"
    bed.write_text("\n".join(lines) + "\n")
    fasta_path = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    out = tmp_path / "genes.tsv"
    args = ["predict-genes", "--model", path, "--fasta", str(fasta_path), "--genes", str(bed)]
    assert main([*args, "--output", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["gene_id", "gene_name", "chrom", "strand", "tss_count", *[f"human_{i}" for i in range(3)]]
    assert sorted(table["gene_id"]) == sorted(GENES)

    fasta = pyfaidx.Fasta(str(fasta_path))
    tss = {}
    for line in lines:
        chrom, start, end, name, _, strand = line.split("\t")[:6]
        tss.setdefault(name, []).append(int(end) - 1 if strand == "-" else int(start))
    assert len(tss["JAG1"]) == 2 and table.set_index("gene_id").loc["RBL1", "strand"] == "."
    for row in table.itertuples(index=False):
        expected = sum(expected_tss_value(model, fasta, "chr20", p) for p in tss[row.gene_id])
        assert row.tss_count == len(tss[row.gene_id])
        np.testing.assert_allclose(np.array(row[5:], float), expected, rtol=2e-5, atol=1e-6)

    # --aggregate mean, --tss-bins 1 and a track subset, written to Parquet.
    parquet = tmp_path / "genes.parquet"
    assert main([*args, "--output", str(parquet), "--no-progress", "--aggregate", "mean", "--tss-bins", "1",
                 "--tracks", "2,0"]) == 0
    table = pd.read_parquet(parquet).set_index("gene_id")
    assert list(table.columns[-2:]) == ["human_2", "human_0"]
    jag1 = np.mean([expected_tss_value(model, fasta, "chr20", p, neighbours=0) for p in tss["JAG1"]], axis=0)
    np.testing.assert_allclose(table.loc["JAG1", ["human_2", "human_0"]].to_numpy(float), jag1[[2, 0]], rtol=1e-5)


def test_predict_genes_near_contig_ends_gtf_and_h5(tiny, shared_dir, tmp_path):
    """TSSs 200 bp from a contig's start and 150 bp from its end (windows padded with N), from a GTF."""
    import h5py

    model, path = tiny
    chr20 = pyfaidx.Fasta(str(shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"))
    sequence = str(chr20["chr20"][44_100_000:44_103_000])
    fasta_path = tmp_path / "small.fa"
    fasta_path.write_text(">small\n" + "\n".join(sequence[i : i + 60] for i in range(0, len(sequence), 60)) + "\n")
    gtf = tmp_path / "genes.gtf"
    attributes = 'gene_id "G{0}"; gene_name "Gene{0}";'
    gtf.write_text(
        "\n".join(
            [
                "small\ttest\tgene\t201\t900\t.\t+\t.\t" + attributes.format(1),
                "small\ttest\ttranscript\t201\t900\t.\t+\t.\t" + attributes.format(1) + ' transcript_id "T1";',
                "small\ttest\ttranscript\t401\t900\t.\t+\t.\t" + attributes.format(1) + ' transcript_id "T2";',
                "small\ttest\ttranscript\t201\t800\t.\t+\t.\t" + attributes.format(1) + ' transcript_id "T3";',
                "small\ttest\tgene\t1500\t2850\t.\t-\t.\t" + attributes.format(2),
                "small\ttest\texon\t2700\t2850\t.\t-\t.\t" + attributes.format(2),
            ]
        )
        + "\n"
    )
    genes = read_genes(gtf)
    assert [(g.id, g.name, g.strand, g.tss) for g in genes] == [("G1", "Gene1", "+", (200, 400)), ("G2", "Gene2", "-", (2849,))]

    out = tmp_path / "genes.h5"
    assert main(["predict-genes", "--model", path, "--fasta", str(fasta_path), "--genes", str(gtf),
                 "--output", str(out), "--no-progress"]) == 0
    fasta = pyfaidx.Fasta(str(fasta_path))
    with h5py.File(out) as h5:
        assert [v.decode() for v in h5["gene_id"][:]] == ["G1", "G2"]
        assert list(h5["tss_count"][:]) == [2, 1]
        assert [v.decode() for v in h5["columns"][:]] == ["human_0", "human_1", "human_2"]
        values = h5["values"][:]
    expected = [
        expected_tss_value(model, fasta, "small", 200) + expected_tss_value(model, fasta, "small", 400),
        expected_tss_value(model, fasta, "small", 2849),
    ]
    np.testing.assert_allclose(values, np.array(expected), rtol=1e-5, atol=1e-6)


def test_gff3_reader(tmp_path):
    gff = tmp_path / "genes.gff3"
    gff.write_text(
        "##gff-version 3\n"
        "c1\tsrc\tgene\t1000\t5000\t.\t-\t.\tID=gene:A;Name=ALPHA\n"
        "c1\tsrc\tmRNA\t1000\t5000\t.\t-\t.\tID=tx1;Parent=gene:A\n"
        "c1\tsrc\tmRNA\t1000\t4000\t.\t-\t.\tID=tx2;Parent=gene:A\n"
        "c1\tsrc\texon\t3900\t4000\t.\t-\t.\tParent=tx2\n"
        "c1\tsrc\tgene\t7000\t7100\t.\t+\t.\tID=B\n"
        "c1\tsrc\tregion\t1\t9000\t.\t.\t.\tID=c1\n"
        "c1\tsrc\tncRNA_gene\t8000\t8500\t.\t-\t.\tID=C;Name=%CE%B3RNA\n"
        "c1\tsrc\tlnc_RNA\t8100\t8500\t.\t-\t.\tID=tx3;Parent=C\n"
    )
    genes = read_genes(gff)
    assert [(g.id, g.name, g.chrom, g.strand, g.tss) for g in genes] == [
        ("gene:A", "ALPHA", "c1", "-", (3999, 4999)),
        ("B", "B", "c1", "+", (6999,)),
        ("C", "\u03b3RNA", "c1", "-", (8499,)),
    ]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("bad.gtf", "c1\tsrc\tgene\t10\tx\t.\t+\t.\tgene_id \"A\";\n", "bad.gtf:1: GTF start/end is not an integer"),
        ("bad.gtf", "c1\tsrc\tgene\t10\t20\t.\t+\n", "bad.gtf:1: GTF line has 7 columns"),
        ("bad.gff3", "c1\tsrc\tgene\t10\t20\t.\t*\t.\tID=A\n", "bad.gff3:1: GFF3 strand must be +, - or ."),
        ("bad.bed", "c1\t10\tten\tA\t0\t+\n", "bad.bed:1: BED end is not an integer"),
    ],
)
def test_bad_gene_files_one_line_exit_2(tmp_path, capsys, name, text, message):
    genes = tmp_path / name
    genes.write_text(text)
    fasta = tmp_path / "x.fa"
    fasta.write_text(">c1\n" + "ACGT" * 50 + "\n")
    code = main(["predict-genes", "--model", "enformer_tiny", "--fasta", str(fasta), "--genes", str(genes),
                 "--output", str(tmp_path / "o.tsv"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o.tsv").exists()


def test_tss_past_contig_end_names_line(tmp_path, capsys):
    fasta = tmp_path / "x.fa"
    fasta.write_text(">c1\n" + "ACGT" * 50 + "\n")
    bed = tmp_path / "tss.bed"
    bed.write_text("c1\t10\t11\tA\t0\t+\nc1\t300\t301\tB\t0\t-\n")
    code = main(["predict-genes", "--model", "enformer_tiny", "--fasta", str(fasta), "--genes", str(bed),
                 "--output", str(tmp_path / "o.tsv"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "tss.bed:2: TSS of B lies past the end of c1 (length 200)" in err


def test_predict_genes_published_track_names(shared_dir, tmp_path):
    """A 5,313-track human head with the shared table: real names, `CAGE:*K562*` selection."""
    model = Enformer(
        channels=48, num_transformer_layers=1, num_heads=2, heads={"human": 5313},
        sequence_length=LENGTH, target_length=BINS, filter_divisible_by=8,
    )
    path = tmp_path / "wide.keras"
    model.save(path)
    table_path = shared_dir / "data" / "enformer" / "targets_human.txt.gz"
    targets = pd.read_csv(table_path, sep="\t")
    k562_cage = [i for i, d in enumerate(targets["description"]) if d.startswith("CAGE:") and "k562" in d.lower()]
    assert k562_cage
    bed = tmp_path / "tss.bed"
    bed.write_text("chr20\t42984340\t42984341\tHNF4A\t2\t+\n")
    fasta_path = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    out = tmp_path / "genes.parquet"
    assert main(["predict-genes", "--model", str(path), "--fasta", str(fasta_path), "--genes", str(bed),
                 "--output", str(out), "--track-table", str(table_path), "--tracks", "CAGE:*K562*",
                 "--no-progress"]) == 0
    result = pd.read_parquet(out)
    expected_names = [f"human:{targets['identifier'][i]}:{targets['description'][i]}" for i in k562_cage]
    assert list(result.columns[5:]) == expected_names
    value = expected_tss_value(model, pyfaidx.Fasta(str(fasta_path)), "chr20", 42984340)
    np.testing.assert_allclose(result.iloc[0, 5:].to_numpy(float), value[k562_cage], rtol=1e-5, atol=1e-6)


def test_score_variants_genes_by_hand(tiny, shared_dir, tmp_path, capsys):
    """One row per variant allele x gene in reach; gene columns = sum over TSS bins of alt - ref."""
    model, path = tiny
    chr20 = pyfaidx.Fasta(str(shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"))
    sequence = str(chr20["chr20"][43_000_000:43_006_000]).upper()
    fasta_path = tmp_path / "g.fa"
    fasta_path.write_text(">g\n" + "\n".join(sequence[i : i + 60] for i in range(0, len(sequence), 60)) + "\n")
    # TSSs (0-based): A has two, B one on the minus strand, C is far from all
    # variants, D lies in the last output bin of variant 2 (its neighbour
    # bin is outside: not in reach), E in the middle of variant 2's bins.
    bed = tmp_path / "tss.bed"
    bed.write_text("g\t1800\t1801\tA\t0\t+\ng\t2300\t2301\tA\t0\t+\ng\t2099\t2100\tB\t0\t-\n"
                   "g\t5500\t5501\tC\t0\t+\ng\t3450\t3451\tD\t0\t+\ng\t3100\t3101\tE\t0\t-\n")
    variants = [(2001, "v1"), (3000, "v2"), (4800, "v3")]  # 1-based POS
    records = []
    for pos, vid in variants:
        ref = sequence[pos - 1]
        records.append((pos, vid, ref, "A" if ref != "A" else "C"))
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=g,length=6000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join(f"g\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for p, i, r, a in records))
    out = tmp_path / "genes.tsv"
    assert main(["score-variants", "--model", path, "--fasta", str(fasta_path), "--vcf", str(vcf), "--genes", str(bed),
                 "--output", str(out), "--no-progress"]) == 0
    assert "(1 alleles with no TSS in reach)" in capsys.readouterr().err
    table = pd.read_csv(out, sep="\t")
    tss = {"A": [1800, 2300], "B": [2099], "C": [5500], "D": [3450], "E": [3100]}

    expected_rows = []
    for pos, vid, ref, alt in records:
        p = pos - 1
        start = p - LENGTH // 2
        text = "".join(sequence[q] if 0 <= q < len(sequence) else "N" for q in range(start, start + LENGTH))
        alt_text = text[: LENGTH // 2] + alt + text[LENGTH // 2 + 1 :]
        predictions = model.predict_on_batch(np.stack([one_hot(text), one_hot(alt_text)]))["human"].astype(np.float64)
        delta = predictions[1] - predictions[0]
        first_output_bp = start + (LENGTH - BINS * BIN) // 2
        for gene in ("A", "B", "C", "D", "E"):
            total, count = 0.0, 0
            for t in tss[gene]:
                bins = [i for i in range(BINS) if first_output_bp + i * BIN <= t < first_output_bp + (i + 1) * BIN]
                if not bins or bins[0] - 1 < 0 or bins[0] + 1 >= BINS:
                    continue
                total = total + delta[bins[0] - 1 : bins[0] + 2].sum(axis=0)
                count += 1
            if count:
                expected_rows.append((vid, gene, count, total, delta.sum(axis=0)))
    assert [(r[0], r[1], r[2]) for r in expected_rows] == [("v1", "A", 2), ("v1", "B", 1), ("v2", "E", 1)]
    assert list(zip(table["id"], table["gene_id"])) == [(r[0], r[1]) for r in expected_rows]
    assert list(table["tss_count"]) == [r[2] for r in expected_rows]
    assert list(table["tss_distance"]) == [1800 - 2000, 2099 - 2000, 3100 - 2999]
    gene_columns = [f"gene:human_{i}" for i in range(3)]
    np.testing.assert_allclose(table[gene_columns].to_numpy(), np.array([r[3] for r in expected_rows]),
                               rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(table[[f"human_{i}" for i in range(3)]].to_numpy(),
                               np.array([r[4] for r in expected_rows]), rtol=2e-5, atol=1e-6)


def test_published_layout_numbers():
    """The published model's readout: TSS at input 98,304, bin 0 at 40,960, bins 447-449 = [p - 128, p + 256)."""
    import types

    from kipoi_genome.inference.genes import bin_layout

    published = types.SimpleNamespace(sequence_length=196_608, num_conv_tower_blocks=6, target_length=896)
    layout = bin_layout(published)
    assert (layout.bin_size, layout.offset, layout.centre_bin) == (128, 40_960, 448)
    assert list(layout.readout_bins()) == [447, 448, 449]
    assert list(layout.readout_bins(1)) == [448] and list(layout.readout_bins(4)) == [447, 448, 449, 450]
    p = 1_000_000
    first_bp = layout.output_start(layout.window_start(p))
    assert (first_bp + 447 * 128, first_bp + 450 * 128) == (p - 128, p + 256)
    with pytest.raises(ValueError, match="tss_bins=0"):
        layout.readout_bins(0)
    with pytest.raises(ValueError, match="must fit in the model's 896 output bins"):
        layout.readout_bins(900)
