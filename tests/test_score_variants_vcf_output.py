"""`score-variants --output x.vcf.gz` copies the input VCF and adds INFO keys."""

import gzip

import cyvcf2
import numpy as np
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data import Variant
from kipoi_genome.models import load_model
from kipoi_genome.interpret import score_variants
from kipoi_genome.interpret.logo_scorers import as_variant_scorer
from tests.test_cli_score_variants import head_vcf


def read_text_vcf(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        lines = handle.read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    return header, [line.split("\t") for line in lines if not line.startswith("#")]


def info_items(info, keep_ours):
    items = [] if info == "." else info.split(";")
    return [item for item in items if item.startswith("KG_") == keep_ours]


def check_copied(source, output, keys):
    """Output = input with `keys` added to INFO; returns {(line index, key): entries per ALT}."""
    header_in, records_in = read_text_vcf(source)
    header_out, records_out = read_text_vcf(output)
    ours = [line for line in header_out if line.startswith("##INFO=<ID=KG_")]
    assert [line.split(",")[0][11:] for line in ours] == keys
    assert [line for line in header_out if line not in ours and "kipoi-genome_scoreVersion" not in line] == header_in
    assert len(records_out) == len(records_in)
    entries = {}
    for i, (before, after) in enumerate(zip(records_in, records_out)):
        assert after[:7] == before[:7] and after[8:] == before[8:]  # CHROM..FILTER, FORMAT, samples
        assert info_items(after[7], False) == info_items(before[7], False)  # INFO: only keys added
        for item in info_items(after[7], True):
            key, value = item.split("=")
            entries[i, key] = value.split(",")
            assert len(entries[i, key]) == len(before[4].split(","))  # Number=A
    return records_in, entries


@pytest.mark.parametrize(
    "vcf_name, records",  # indels cost 4k masked views each: the first records of each file
    [("GRCh37_chr20_platypus_calls.vcf.gz", 60), ("GRCh37_chr20_vt_indels.vcf.gz", 30)],
)
def test_logo_vcf_output_keeps_shared_vcf_records(shared_dir, tmp_path, capsys, vcf_name, records):
    vcf = head_vcf(shared_dir / "data" / "variants" / vcf_name, tmp_path / "head.vcf", records)
    fasta = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    out = tmp_path / "scored.vcf.gz"
    args = ["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", str(fasta), "--vcf", str(vcf),
            "--output", str(out), "--batch-size", "128", "--no-progress"]
    assert main(args) == 0
    alleles = sum(len(r.ALT) for r in cyvcf2.VCF(str(vcf)))
    assert f"scored {alleles} variant alleles; skipped 0 with REF mismatches;" in capsys.readouterr().err
    records, entries = check_copied(vcf, out, ["KG_llr"])
    assert len(entries) == len(records)  # every record has a scored allele

    read_back = list(cyvcf2.VCF(str(out)))  # htslib parses our header and records
    assert len(read_back) == len(records)
    snvs = [i for i, r in enumerate(records) if len(r[3]) == 1 and len(r[4]) == 1][:4]
    indels = [i for i, r in enumerate(records) if "," not in r[4] and len(r[3]) != len(r[4])][:3]
    picked = snvs + indels
    variants = [Variant(records[i][0], int(records[i][1]), None, records[i][3], records[i][4]) for i in picked]
    model = as_variant_scorer(load_model("logo_5mer_chr20_mlm"))
    expected = [s["llr"] for _, s in score_variants(model, str(fasta), variants, progress=False)]
    got = [read_back[i].INFO.get("KG_llr") for i in picked]
    assert len(indels) == 3 and np.isfinite(np.ravel(expected)).all()  # indels are scored too
    np.testing.assert_allclose(np.ravel(got), np.ravel(expected), rtol=1e-5)


def test_enformer_vcf_output_multiallelic_and_skipped_alleles(shared_dir, tmp_path, capsys):
    from kipoi_genome.models import Enformer

    fasta = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    header, records = read_text_vcf(shared_dir / "data" / "variants" / "GRCh37_chr20_platypus_calls.vcf.gz")
    records = records[:30]
    multi = [i for i, r in enumerate(records) if "," in r[4]]
    assert len(multi) >= 2
    records[multi[1]][4] = records[multi[1]][4].split(",")[0] + ",<DEL>"  # one symbolic allele
    deletions = [i for i, r in enumerate(records) if len(r[3]) > 1 and "," not in r[4]][:2]
    for i in deletions:  # REF mismatches (the platypus calls are all indels)
        records[i][3] = records[i][3][:-1] + {"A": "C", "C": "G", "G": "T", "T": "A"}[records[i][3][-1]]
    vcf = tmp_path / "edited.vcf"
    vcf.write_text("\n".join(header + ["\t".join(r) for r in records]) + "\n")
    model_path = str(tmp_path / "tiny.keras")
    Enformer.from_preset("enformer_tiny").save(model_path)
    out = tmp_path / "scored.vcf.gz"
    assert main(["score-variants", "--model", model_path, "--fasta", str(fasta), "--vcf", str(vcf),
                 "--output", str(out), "--batch-size", "16", "--no-progress"]) == 0
    alleles = sum(len(r[4].split(",")) for r in records)
    err = capsys.readouterr().err
    assert (f"scored {alleles - 3} variant alleles; skipped 2 with REF mismatches and 1 not plain sequence"
            in err)

    _, entries = check_copied(vcf, out, ["KG_human", "KG_mouse"])
    assert len(deletions) == 2 and all((i, "KG_human") not in entries for i in deletions)
    assert entries[multi[1], "KG_human"][1] == "."
    picks = [(multi[0], 0), (multi[0], 1), (multi[1], 0)]
    variants = [Variant(records[i][0], int(records[i][1]), None, records[i][3], records[i][4].split(",")[allele])
                for i, allele in picks]
    scored = score_variants(load_model(model_path), str(fasta), variants, progress=False)
    for (i, allele), (_, expected) in zip(picks, scored, strict=True):
        for head, tracks in (("human", 8), ("mouse", 4)):
            got = np.array(entries[i, f"KG_{head}"][allele].split("|"), float)
            assert got.shape == (tracks,)
            np.testing.assert_allclose(got, expected[head], rtol=1e-4, atol=1e-6)
    read_back = list(cyvcf2.VCF(str(out)))
    assert read_back[multi[1]].INFO.get("KG_human").split(",")[1] == "."


def test_bcf_input_records_as_htslib_prints_them(shared_dir, tmp_path, capsys):
    source = shared_dir / "data" / "variants" / "GRCh37_chr20_vt_indels.vcf.gz"
    bcf = tmp_path / "indels.bcf"
    reader = cyvcf2.VCF(str(source))
    writer = cyvcf2.Writer(str(bcf), reader, mode="wb")
    for record in reader:
        writer.write_record(record)
    writer.close()
    reader.close()
    expected = [str(r).rstrip("\n").split("\t") for r in cyvcf2.VCF(str(bcf))]
    out = tmp_path / "scored.vcf.gz"
    fasta = shared_dir / "data" / "reference" / "GRCh37_chr20.fa.gz"
    assert main(["score-variants", "--model", "logo_5mer_chr20_mlm", "--fasta", str(fasta), "--vcf", str(bcf),
                 "--output", str(out), "--batch-size", "128", "--no-progress"]) == 0
    assert f"scored {len(expected)} variant alleles; skipped 0 with REF mismatches;" in capsys.readouterr().err
    _, records = read_text_vcf(out)
    assert len(records) == len(expected)
    for before, after in zip(expected, records):
        assert after[:7] == before[:7] and after[8:] == before[8:]
        assert info_items(after[7], False) == info_items(before[7], False)
        assert len([item for item in info_items(after[7], True) if item.startswith("KG_llr=")]) == 1


def test_annotated_vcf_header_names_tracks_and_replaces_old_keys(tmp_path):
    from kipoi_genome.data.variants import VariantWindow
    from kipoi_genome.interpret.vcf_annotation import write_annotated_vcf

    vcf = tmp_path / "in.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n"
        '##INFO=<ID=KG_human,Number=1,Type=Float,Description="an older run">\n'
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t10\trs1\tA\tC,G\t50\tPASS\tDP=3;KG_human=1.5\n"
        "chr1\t20\trs2\tT\tC\t.\tq10\t.\n"
    )
    scores = {"human": np.array([0.5, -2.0], np.float32)}
    stream = [(VariantWindow(Variant("chr1", 10, "rs1", "A", "G", str(vcf), 5), 0, "", ""), scores)]
    names = {"human": ['CAGE:"K562"', "DNASE:a|b"]}
    counts = write_annotated_vcf(stream, vcf, tmp_path / "out.vcf.gz", track_names=names)
    assert counts == {"records": 2, "alleles": 3, "scored": 1}
    header, records = read_text_vcf(tmp_path / "out.vcf.gz")
    ours = [line for line in header if line.startswith("##INFO=<ID=KG_human")]
    assert ours == ['##INFO=<ID=KG_human,Number=A,Type=String,Description="kipoi-genome variant score human per '
                    "ALT allele, one value per track separated by |. Format: CAGE:'K562'|DNASE:a/b\">"]
    assert records[0][7] == "DP=3;KG_human=.,0.5|-2" and records[1][7] == "."
    (first, second) = cyvcf2.VCF(str(tmp_path / "out.vcf.gz"))
    assert first.INFO.get("KG_human") == ".,0.5|-2" and first.INFO.get("DP") == 3
