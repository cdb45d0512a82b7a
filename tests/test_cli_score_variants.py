"""`kipoi-genome score-variants` end to end."""

import gzip
import importlib.resources

import cyvcf2
import keras
import numpy as np
import pandas as pd
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.models import LogoBackbone, LogoMaskedLM

EXAMPLE_FASTA = str(importlib.resources.files("kipoi_genome") / "example_data" / "chr20_44080000_44220000.fa")
CONTIG = "chr20_44080000_44220000"


def write_vcf(path, records):
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID={CONTIG},length=140000>"]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    lines += [f"{CONTIG}\t{pos}\t{vid}\t{ref}\t{alt}\t.\t.\t." for pos, vid, ref, alt in records]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def example_vcf(tmp_path):
    from kipoi_genome.data import FastaExtractor

    fasta = FastaExtractor(EXAMPLE_FASTA)
    records = []
    for i, pos in enumerate((10_001, 40_000, 90_123)):
        ref = fasta.extract(CONTIG, pos - 1, pos).upper()
        alts = [b for b in "ACGT" if b != ref][:2]
        records.append((pos, f"rs{i}", ref, ",".join(alts)))  # multi-allelic: 2 rows each
    ref3 = fasta.extract(CONTIG, 60_000, 60_003).upper()
    records.append((60_001, "del1", ref3, ref3[0]))  # a deletion
    records.append((70_001, "bad", "N" if fasta.extract(CONTIG, 70_000, 70_001).upper() != "N" else "A", "C"))
    return write_vcf(tmp_path / "calls.vcf", records)


def test_enformer_tsv_and_vcf(tmp_path, example_vcf, capsys):
    out = tmp_path / "scores.tsv"
    args = ["score-variants", "--model", "enformer_tiny", "--fasta", EXAMPLE_FASTA, "--vcf", example_vcf]
    assert main([*args, "--output", str(out), "--rc", "--max-shift", "1", "--no-progress"]) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns[:5]) == ["chrom", "pos", "id", "ref", "alt"]
    assert list(table["id"]) == ["rs0", "rs0", "rs1", "rs1", "rs2", "rs2", "del1"]
    assert [c for c in table.columns if c.startswith("human_")] == [f"human_{i}" for i in range(8)]
    assert [c for c in table.columns if c.startswith("mouse_")] == [f"mouse_{i}" for i in range(4)]
    assert np.isfinite(table.iloc[:, 5:].to_numpy()).all()
    err = capsys.readouterr().err
    assert "scored 7 variant alleles; skipped 1 with REF mismatches" in err
    assert "calls.vcf:" in err and "REF disagrees" in err

    vcf_out = tmp_path / "scores.vcf.gz"
    assert main([*args, "--output", str(vcf_out), "--no-progress"]) == 0
    with gzip.open(vcf_out, "rt") as handle:
        assert handle.readline().startswith("##fileformat=VCFv4.2")
    records = list(cyvcf2.VCF(str(vcf_out)))  # the input's records, scores per ALT allele
    assert [r.ID for r in records] == ["rs0", "rs1", "rs2", "del1", "bad"]
    assert [len(a.split("|")) for a in records[0].INFO.get("KG_human").split(",")] == [8, 8]
    assert records[-1].INFO.get("KG_human") is None  # REF mismatch: not scored

    xla_out = tmp_path / "scores_xla.tsv"
    assert main([*args, "--output", str(xla_out), "--xla", "--no-progress"]) == 0
    xla_table = pd.read_csv(xla_out, sep="\t")
    assert list(xla_table.columns) == list(table.columns) and list(xla_table["id"]) == list(table["id"])
    assert np.isfinite(xla_table.iloc[:, 5:].to_numpy()).all()


def test_ref_mismatch_error_mode_leaves_no_file(tmp_path, example_vcf, capsys):
    out = tmp_path / "scores.tsv"
    code = main(
        ["score-variants", "--model", "enformer_tiny", "--fasta", EXAMPLE_FASTA, "--vcf", example_vcf,
         "--output", str(out), "--on-ref-mismatch", "error", "--no-progress"]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "calls.vcf:8:" in err and "REF disagrees" in err
    assert not out.exists() and not list(tmp_path.glob("*.tsv"))


def test_logo_zero_shot_llr(tmp_path, example_vcf):
    keras.utils.set_random_seed(0)
    backbone = LogoBackbone(
        vocabulary_size=3138, embedding_dim=16, hidden_dim=32, num_heads=2, intermediate_dim=64,
        max_sequence_length=64,
    )
    model_path = tmp_path / "mlm.keras"
    LogoMaskedLM(backbone).save(model_path)
    out = tmp_path / "llr.tsv"
    assert main(
        ["score-variants", "--model", str(model_path), "--fasta", EXAMPLE_FASTA, "--vcf", example_vcf,
         "--output", str(out), "--no-progress"]
    ) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["chrom", "pos", "id", "ref", "alt", "llr"]
    assert len(table) == 7
    assert np.isfinite(table["llr"]).all()  # SNVs and the deletion


def test_bad_arguments(tmp_path, example_vcf, capsys):
    base = ["score-variants", "--model", "enformer_tiny", "--fasta", EXAMPLE_FASTA, "--vcf", example_vcf]
    assert main([*base, "--output", str(tmp_path / "x.csv")]) == 2
    assert main([*base, "--output", str(tmp_path / "x.tsv"), "--max-shift", "-2"]) == 2
    assert main([*base[:-1], str(tmp_path / "missing.vcf"), "--output", str(tmp_path / "x.tsv")]) == 2
    err = capsys.readouterr().err
    assert "--output must end in .tsv or .vcf.gz" in err
    assert "--max-shift must be >= 0. Received: -2" in err
    assert "missing.vcf" in err


def head_vcf(source, path, records):
    """The header and first `records` records of a (gzipped) VCF, as plain text."""
    with gzip.open(source, "rt") as handle:
        lines = [line for line in handle]
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")][:records]
    path.write_text("".join(header + body))
    return path


@pytest.mark.parametrize(
    "vcf_name, records",
    [
        # Indels cost 4k masked views (2k for SNVs): the first records here, all in the large tests.
        ("GRCh37_chr20_platypus_calls.vcf.gz", 60),
        ("GRCh37_chr20_vt_indels.vcf.gz", 40),
        ("GRCh37_chr20_common_snps.vcf.gz", 300),
        pytest.param("GRCh37_chr20_platypus_calls.vcf.gz", None, marks=pytest.mark.large),
        pytest.param("GRCh37_chr20_vt_indels.vcf.gz", None, marks=pytest.mark.large),
        pytest.param("GRCh37_chr20_common_snps.vcf.gz", None, marks=pytest.mark.large),
    ],
)
def test_shared_chr20_vcfs_with_logo_preset(shared_dir, tmp_path, capsys, vcf_name, records):
    vcf = shared_dir / "data" / "variants" / vcf_name
    if records is not None:
        vcf = head_vcf(vcf, tmp_path / "head.vcf", records)
    fasta = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    out = tmp_path / "llr.tsv"
    args = ["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", str(fasta), "--vcf", str(vcf),
            "--output", str(out), "--batch-size", "128", "--no-progress"]
    assert main(args) == 0
    alleles = [(r.CHROM, r.POS, r.REF, alt) for r in cyvcf2.VCF(str(vcf)) for alt in r.ALT]
    assert len(alleles) >= (records or 190)
    table = pd.read_csv(out, sep="\t", keep_default_na=False, na_values=["nan"])
    assert list(zip(table.chrom, table.pos, table.ref, table.alt)) == alleles
    undefined = int(table.llr.isna().sum())  # N next to the change (none in these records)
    assert undefined == 0
    assert f"scored {len(alleles)} variant alleles; skipped 0 with REF mismatches" in capsys.readouterr().err
    substitution = table.ref.str.len() == table.alt.str.len()  # SNVs and MNVs
    for kind in (substitution, ~substitution):
        if kind.sum() > 1:
            assert table.llr[kind].std() > 0


def test_beam_stream_names_tracks_like_the_local_run(shared_dir):
    """--runner: the workers load the model, so track names come from the first allele's score sizes."""
    import argparse
    import gzip as gz

    from kipoi_genome.cli.score_variants import _named_from_first_allele

    table = shared_dir / "data" / "enformer" / "targets_human.txt.gz"
    args = argparse.Namespace(track_table=str(table), head="human", no_progress=True)
    items = [("v1", {"human": np.arange(5313.0)}), ("v2", {"human": np.ones(5313)})]
    stream, names = _named_from_first_allele(iter(items), args)
    assert list(stream) == items  # nothing lost by the peek
    with gz.open(table, "rt") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    assert len(names["human"]) == 5313
    assert names["human"][4828] == f"human:{rows[4828][2]}:{rows[4828][7]}"
    logo_stream, logo_names = _named_from_first_allele(iter([("v", {"llr": 0.5})]), args)
    assert logo_names is None and len(list(logo_stream)) == 1
    empty, none = _named_from_first_allele(iter(()), args)
    assert list(empty) == [] and none is None
