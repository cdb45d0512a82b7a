"""Bad input files: no crash, no traceback, no silent wrong answer (issue 16).

Each test here failed before its fix: cyvcf2 segfaults on blank or tab-less
VCF lines, decompression errors escaping as EOFError / struct.error /
zlib.error, a truncated VCF.gz found only after the variants before the cut,
pyfaidx's Python-API advice for a FASTA without `.fai` in a read-only folder,
LOGO probabilities for X / `-` / digits and for 0- and 3-bp regions, and the
tokenizer's TensorFlow path failing below 2k - 1 bases.
"""

import gzip
import importlib.resources
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kipoi_genome.cli.main import main
from kipoi_genome.data import FastaExtractor, InputFileError, iter_bed, iter_vcf, read_bed, read_vcf

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=100000>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
RECORDS = "chr1\t10\trs1\tA\tG\t.\t.\t.\nchr1\t20\trs2\tC\tT,CA\t.\t.\t.\n"
EXAMPLE_FASTA = str(importlib.resources.files("kipoi_genome") / "example_data" / "chr20_44080000_44220000.fa")


def random_dna(length, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


def bgzip(path, text):
    from Bio import bgzf

    with bgzf.BgzfWriter(str(path), "wb") as handle:
        handle.write(text.encode())
    return path


def read_vcf_in_subprocess(path):
    """`read_vcf(path)` in a child process: (returncode, result dict)."""
    code = textwrap.dedent(
        f"""
        import json, warnings
        from kipoi_genome.data import InputFileError, read_vcf
        warnings.simplefilter("ignore")
        try:
            out = {{"variants": [[str(v), v.line] for v in read_vcf({os.fspath(path)!r})]}}
        except InputFileError as error:
            out = {{"error": str(error)}}
        print(json.dumps(out))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return done.returncode, (json.loads(done.stdout) if done.returncode == 0 else done.stderr)


# VCF ---------------------------------------------------------------------------


def test_vcf_blank_lines_are_skipped_without_a_crash(tmp_path):
    trailing = tmp_path / "trailing.vcf"
    trailing.write_text(HEADER + RECORDS + "\n\n")
    middle = tmp_path / "middle.vcf"
    middle.write_text(HEADER + RECORDS.replace("\n", "\n\n", 1))
    windows = tmp_path / "crlf.vcf"
    windows.write_text((HEADER + RECORDS).replace("\n", "\r\n") + "\r\n")
    expected = [["chr1:10:A>G", 4], ["chr1:20:C>T", 5], ["chr1:20:C>CA", 5]]
    assert read_vcf_in_subprocess(trailing) == (0, {"variants": expected})
    assert read_vcf_in_subprocess(windows) == (0, {"variants": expected})
    # A blank line keeps its number: the second record is on line 6.
    assert read_vcf_in_subprocess(middle) == (0, {"variants": [expected[0]] + [[v, 6] for v, _ in expected[1:]]})


def test_vcf_line_without_tab_is_a_one_line_error_not_a_crash(tmp_path):
    path = tmp_path / "spaces.vcf"
    path.write_text(HEADER + RECORDS + "chr1 30 rs3 A G . . .\n")
    returncode, result = read_vcf_in_subprocess(path)
    assert returncode == 0, result
    assert result == {
        "error": f"{path}:6: malformed VCF record: 1 tab-separated column(s), needs 8 "
        "(CHROM POS ID REF ALT QUAL FILTER INFO) (value 'chr1 30 rs3 A G . . .')"
    }


@pytest.mark.large  # a fresh process importing TensorFlow; the readers' subprocess tests above cover the crash
def test_score_variants_cli_on_tabless_vcf_exits_2(tmp_path):
    path = tmp_path / "spaces.vcf"
    path.write_text(HEADER.replace("chr1", "chr20_44080000_44220000") + "chr20_44080000_44220000 30 x A G\n")
    code = (
        "import sys; from kipoi_genome.cli.main import main; sys.exit(main(['score-variants', '--model', "
        f"'enformer_tiny', '--fasta', {EXAMPLE_FASTA!r}, '--vcf', {str(path)!r}, '--output', "
        f"{str(tmp_path / 'out.tsv')!r}, '--no-progress']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{path}:4: malformed VCF record" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out.tsv").exists()
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []


@pytest.mark.parametrize("compress", [False, True])
def test_binary_vcf_names_the_file(tmp_path, compress):
    data = bytes(range(128, 256)) + bytes(range(128))
    path = tmp_path / ("binary.vcf.gz" if compress else "binary.vcf")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(InputFileError, match=rf"^{path}:1: VCF file is not UTF-8 text \(binary data\?\)"):
        read_vcf(path)
    path.write_bytes(gzip.compress(HEADER.encode() + data) if compress else HEADER.encode() + data)
    with pytest.raises(InputFileError, match=rf"^{path}:4: VCF file is not UTF-8 text \(binary data\?\)"):
        read_vcf(path)


def test_bcf_named_vcf_is_read_by_content(tmp_path):
    import cyvcf2

    text = tmp_path / "calls.vcf"
    text.write_text(HEADER + RECORDS)
    template = cyvcf2.VCF(str(text))
    bcf = tmp_path / "calls_bcf.vcf.gz"  # a BCF under a VCF name
    writer = cyvcf2.Writer(str(bcf), template, mode="wb")
    for record in template:
        writer.write_record(record)
    writer.close()
    template.close()
    assert [str(v) for v in read_vcf(bcf)] == [str(v) for v in read_vcf(text)] == [
        "chr1:10:A>G", "chr1:20:C>T", "chr1:20:C>CA",
    ]


def test_truncated_bcf_is_reported_before_the_first_variant_without_htslib_lines(tmp_path, capfd):
    import cyvcf2

    text = tmp_path / "calls.vcf"
    text.write_text(HEADER + "".join(f"chr1\t{i + 1}\tv{i}\tA\tG\t50\tPASS\t.\n" for i in range(20_000)))
    template = cyvcf2.VCF(str(text))
    bcf = tmp_path / "calls.bcf"
    writer = cyvcf2.Writer(str(bcf), template, mode="wb")
    for record in template:
        writer.write_record(record)
    writer.close()
    template.close()
    assert len(read_vcf(bcf)) == 20_000
    data = bcf.read_bytes()
    cut = tmp_path / "cut.bcf"
    cut.write_bytes(data[: len(data) * 2 // 3])
    capfd.readouterr()
    with pytest.raises(InputFileError, match=rf"^{cut}: malformed BCF record \(record \d+\)$"):
        next(iter_vcf(cut))
    assert capfd.readouterr().err == ""


def many_records_vcf(path, count=3000):
    dna = random_dna(count, seed=1)
    lines = [f"chr1\t{i + 1}\tv{i}\t{dna[i]}\t{'A' if dna[i] != 'A' else 'C'}\t50\tPASS\tDP={i}" for i in range(count)]
    return bgzip(path, HEADER + "\n".join(lines) + "\n")


def test_truncated_vcf_gz_is_reported_before_the_first_variant(tmp_path):
    full = many_records_vcf(tmp_path / "full.vcf.gz")
    assert len(read_vcf(full)) == 3000
    data = full.read_bytes()
    assert len(data) > 20_000  # several BGZF blocks: the cut is mid-file
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    variants = iter_vcf(cut)
    with pytest.raises(InputFileError, match=rf"^{cut}:\d+: VCF file is truncated or corrupt \(gzip/bgzip: "):
        next(variants)
    corrupt = tmp_path / "corrupt.vcf.gz"
    middle = len(data) // 2
    corrupt.write_bytes(data[:middle] + bytes(64) + data[middle + 64:])
    with pytest.raises(InputFileError, match=rf"^{corrupt}(:\d+)?: VCF file is truncated or corrupt"):
        next(iter_vcf(corrupt))


def test_malformed_record_late_in_vcf_is_reported_before_the_first_variant(tmp_path):
    path = tmp_path / "late.vcf"
    path.write_text(HEADER + RECORDS * 50 + "chr1\tten\tx\tA\tG\t.\t.\t.\n")
    with pytest.raises(InputFileError, match=rf"^{path}:104: malformed VCF record: POS must be a positive integer"):
        next(iter_vcf(path))


# BED ---------------------------------------------------------------------------


def test_truncated_corrupt_and_binary_bed(tmp_path):
    rows = "".join(f"chr1\t{i * 10}\t{i * 10 + 5}\tr{i}\t0\t+\n" for i in range(20_000))
    full = tmp_path / "full.bed.gz"
    full.write_bytes(gzip.compress(rows.encode()))
    assert len(read_bed(full)) == 20_000
    data = full.read_bytes()
    cut = tmp_path / "cut.bed.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=rf"^{cut}:\d+: BED file is truncated or corrupt \(gzip/bgzip: "):
        read_bed(cut)
    corrupt = tmp_path / "corrupt.bed.gz"
    corrupt.write_bytes(data[:100] + bytes(200) + data[300:])
    with pytest.raises(InputFileError, match=rf"^{corrupt}(:\d+)?: BED file is truncated or corrupt"):
        read_bed(corrupt)
    header_only = tmp_path / "header.bed.gz"
    header_only.write_bytes(data[:5])  # a gzip header cut short
    with pytest.raises(InputFileError, match=rf"^{header_only}:1: BED file is truncated or corrupt"):
        list(iter_bed(header_only))
    binary = tmp_path / "binary.bed"
    binary.write_bytes(b"chr1\t1\t2\n" + bytes(range(128, 256)))
    with pytest.raises(InputFileError, match=rf"^{binary}:2: BED file is not UTF-8 text"):
        read_bed(binary)


def test_bed_contig_named_like_a_header_word_is_data(tmp_path):
    path = tmp_path / "regions.bed"
    path.write_text("track name=x\nbrowser position chr1:1-9\ntrack1\t5\t10\nbrowser2\t1\t2\n")
    assert [(i.chrom, i.start, i.end, i.line) for i in read_bed(path)] == [("track1", 5, 10, 3), ("browser2", 1, 2, 4)]


# FASTA -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bgzip_fasta(tmp_path_factory):
    """A 300-kb two-contig bgzip FASTA (several BGZF blocks) with its .fai and .gzi."""
    pytest.importorskip("Bio")
    folder = tmp_path_factory.mktemp("bgzip_fasta")
    dna = random_dna(300_000, seed=2)
    text = ">chrA\n" + "\n".join(dna[i : i + 60] for i in range(0, 250_000, 60))
    text += "\n>chrB\n" + "\n".join(dna[i : i + 60] for i in range(250_000, 300_000, 60)) + "\n"
    path = bgzip(folder / "genome.fa.gz", text)
    fasta = FastaExtractor(path)  # builds .fai and .gzi
    assert fasta.extract("chrB", 49_990, 50_000) == dna[-10:]
    return path, dna


def damaged_copy(source, folder, name, transform, with_index=True):
    path = folder / name
    path.write_bytes(transform(source.read_bytes()))
    if with_index:
        for ext in (".fai", ".gzi"):
            shutil.copy(str(source) + ext, str(path) + ext)
    return path


@pytest.mark.parametrize("in_memory", [False, True])
@pytest.mark.parametrize("with_index", [True, False])
@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:3000],
        lambda data: data[: len(data) // 2] + bytes(100) + data[len(data) // 2 + 100 :],
    ],
    ids=["cut_mid_file", "cut_in_first_block", "zeroed_block"],
)
def test_damaged_bgzip_fasta_is_a_one_line_error(bgzip_fasta, tmp_path, damage, with_index, in_memory):
    source, dna = bgzip_fasta
    path = damaged_copy(source, tmp_path, "damaged.fa.gz", damage, with_index)
    with pytest.raises(InputFileError) as caught:
        fasta = FastaExtractor(path, in_memory=in_memory)
        fasta.extract("chrA", 0, 10)
        fasta.extract("chrA", 100_000, 200_000)  # the middle of the file
        fasta.extract("chrB", 49_000, 50_000)
        fasta.extract_one_hot_batch(["chrA", "chrB"], [200_000, 1_000], 500)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert "truncated or corrupt" in message, message


def test_bgzip_fasta_with_a_long_last_line_is_an_error_not_a_wrong_window(tmp_path):
    # Found by the 10x fuzz run: pyfaidx indexes a last line longer than the
    # others, then returns 3 bases for a 2-base window of the bgzip file.
    pytest.importorskip("Bio")
    path = bgzip(tmp_path / "long_last.fa.gz", ">chrA\nACG\nTTTTT\n")
    fasta = FastaExtractor(path)
    assert fasta.extract("chrA", 0, 3) == "ACG"
    with pytest.raises(InputFileError, match=r"long_last\.fa\.gz: FASTA does not match its index at chrA:4-6 "):
        fasta.extract("chrA", 4, 6)


def test_fasta_without_index_in_read_only_folder(tmp_path, monkeypatch):
    folder = tmp_path / "read_only"
    folder.mkdir()
    path = folder / os.path.basename(EXAMPLE_FASTA)
    shutil.copy(EXAMPLE_FASTA, path)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        lock = lambda: None  # noqa: E731
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        lock = lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)  # noqa: E731
    else:  # root without the immutable flag: only pretend the folder is read-only
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(folder) else access(p, mode))
        lock = lambda: None  # noqa: E731
    try:
        with pytest.raises(InputFileError) as caught:
            FastaExtractor(path).chromosome_lengths
    finally:
        lock()
        folder.chmod(0o755)
    assert str(caught.value) == (
        f"{path}: the FASTA has no index (chr20_44080000_44220000.fa.fai) and its folder is not "
        f"writable: index it where it can be written (samtools faidx {path}) or copy the FASTA to "
        "a writable folder"
    )
    assert not os.path.exists(str(path) + ".fai")


# LOGO --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logo_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("logo_inputs")
    dna = random_dna(2000, seed=3)
    dna = dna[:700] + "X-7" + dna[703:]
    (folder / "genome.fa").write_text(">chr1\n" + "\n".join(dna[i : i + 60] for i in range(0, 2000, 60)) + "\n")
    return folder


@pytest.mark.parametrize(
    "bed, message",
    [
        ("chr1\t0\t600\nchr1\t500\t1100\n", r"genome\.fa: bad sequence in chr1:500-1100: Sequence contains a non-ACGTN character 'X' at position 200"),
        ("chr1\t0\t600\nchr1\t100\t103\n", r"regions\.bed:2: region of 3 bp is too short for .*: its 5-mer tokens need at least 9 bp \(value 'chr1:100-103'\)"),
        ("chr1\t100\t100\n", r"regions\.bed:1: region of 0 bp is too short"),
    ],
    ids=["x_dash_digit", "3bp", "0bp"],
)
def test_logo_predict_rejects_bad_dna_and_short_regions(logo_inputs, tmp_path, bed, message, capsys):
    (tmp_path / "regions.bed").write_text(bed)
    out = tmp_path / "out.tsv"
    args = ["predict", "--fasta", str(logo_inputs / "genome.fa"), "--bed", str(tmp_path / "regions.bed")]
    assert main([*args, "--output", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert __import__("re").search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize(
    "sequence, message",
    [
        ("ACGTX" * 20, r"sequence 1: Sequence contains a non-ACGTN character 'X' at position 4"),
        ("ACGT-" * 20, r"sequence 1: Sequence contains a non-ACGTN character '-'"),
        ("ACGT7" * 20, r"sequence 1: Sequence contains a non-ACGTN character '7'"),
        ("", r"sequence 1 is too short for LOGO: 0 bp gives no 5-mer token; at least 9 bp"),
        ("ACG", r"sequence 1 is too short for LOGO: 3 bp"),
        ("ACGTACGT", r"sequence 1 is too short for LOGO: 8 bp"),
    ],
)
def test_logo_tokenize_views_rejects_what_enformer_rejects(sequence, message):
    from kipoi_genome.models.logo.logo_task import tokenize_views
    from kipoi_genome.tokenizers import KmerTokenizer

    tokenizer = KmerTokenizer(k=5)
    assert tokenize_views(tokenizer, ["ACGTRYN" * 10, "ACGTACGTA"]).shape == (2, 10, 13)  # IUPAC is N
    with pytest.raises(ValueError, match=message):
        tokenize_views(tokenizer, ["ACGT" * 30, sequence])


@pytest.mark.parametrize("scorer_name", ["ZeroShotScorer", "PrioritizerScorer"])
def test_logo_variant_scorers_reject_windows_enformer_rejects(logo_inputs, scorer_name):
    from kipoi_genome.data import Variant, variant_window
    from kipoi_genome.interpret import logo_scorers

    fasta = FastaExtractor(logo_inputs / "genome.fa")
    base = fasta.extract("chr1", 689, 690)
    window = variant_window(fasta, Variant("chr1", 690, "v1", base, "A" if base != "A" else "C", "calls.vcf", 7), 30)
    assert "X-7" in window.reference
    scorer = getattr(logo_scorers, scorer_name)(model_stub := object(), window_length=30)
    assert scorer.model is model_stub
    with pytest.raises(InputFileError, match=r"^calls\.vcf:7: window chr1:674-704 of variant chr1:690:.*non-ACGTN character 'X'"):
        scorer.score_variant_windows([window])


# Tokenizer ---------------------------------------------------------------------


@pytest.mark.parametrize("k", [3, 5, 6])
def test_tokenizer_tensorflow_path_on_sequences_shorter_than_2k_minus_1(k):
    import tensorflow as tf

    from kipoi_genome.tokenizers import KmerTokenizer

    tokenizer = KmerTokenizer(k=k)
    for length in range(0, 2 * k + 2):
        sequence = random_dna(length, seed=length)
        expected = tokenizer.tokenize(sequence)
        assert expected.shape == (k, 1 if length >= 2 * k - 1 else 0)
        got = tokenizer(tf.constant(sequence)).numpy()
        np.testing.assert_array_equal(got, expected)
        batch = tokenizer(tf.constant([sequence, sequence[::-1]])).numpy()
        assert batch.shape == (2, *expected.shape)
        np.testing.assert_array_equal(batch[1], tokenizer.tokenize(sequence[::-1]))
        reverse = tokenizer(tf.constant(sequence), reverse_complement=True).numpy()
        np.testing.assert_array_equal(reverse, tokenizer.tokenize(sequence, reverse_complement=True))
