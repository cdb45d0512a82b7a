"""FASTA / BED / VCF readers on tiny fixtures and on the real shared files."""

import gzip
import os
import pickle
import shutil

import numpy as np
import pytest

from tests.conftest import TEST_DATA
from kipoi_genome.data import (
    FastaExtractor,
    InputFileError,
    Interval,
    check_intervals,
    one_hot_encode,
    read_bed,
    read_vcf,
    reverse_complement,
)

A, C, G, T = np.eye(4, dtype=np.float32)
Z = np.zeros(4, dtype=np.float32)
TINY_FA = TEST_DATA / "tiny.fa"
CHR_A = "ACGTACGTAC" + "ggccaattgg" + "NNNNNTTTTT" + "RYACGTACGT" + "GATTACAGAT"


@pytest.fixture(scope="module")
def tiny_fasta():
    return FastaExtractor(TINY_FA)


# FASTA ------------------------------------------------------------------------


def test_fasta_lengths(tiny_fasta):
    assert tiny_fasta.chromosome_lengths == {"chrA": 50, "chrB": 13}
    assert tiny_fasta.extract("chrA", 0, 50) == CHR_A


def test_fasta_interval_at_position_zero(tiny_fasta):
    assert tiny_fasta.extract("chrA", 0, 4) == "ACGT"
    np.testing.assert_array_equal(one_hot_encode(tiny_fasta.extract("chrA", 0, 4)), np.stack([A, C, G, T]))


def test_fasta_negative_start_pads_with_n_never_wraps(tiny_fasta):
    assert tiny_fasta.extract("chrA", -2, 3) == "NNACG"
    np.testing.assert_array_equal(
        tiny_fasta.extract_one_hot("chrA", -2, 3), np.stack([Z, Z, A, C, G])
    )


def test_fasta_interval_crossing_chromosome_end(tiny_fasta):
    assert tiny_fasta.extract("chrA", 47, 53) == "GATNNN"
    np.testing.assert_array_equal(
        tiny_fasta.extract_one_hot("chrA", 47, 53), np.stack([G, A, T, Z, Z, Z])
    )
    assert tiny_fasta.extract("chrB", 10, 16, "-") == "NNNTGG"


def test_fasta_interval_fully_outside(tiny_fasta):
    assert tiny_fasta.extract("chrA", 60, 64) == "NNNN"
    assert tiny_fasta.extract("chrA", -10, -6) == "NNNN"
    np.testing.assert_array_equal(tiny_fasta.extract_one_hot("chrB", 100, 103), np.zeros((3, 4)))
    assert tiny_fasta.extract("chrA", -3, 55) == "NNN" + CHR_A + "NNNNN"
    assert tiny_fasta.extract("chrA", 5, 5) == ""


def test_fasta_minus_strand_is_reverse_complement(tiny_fasta):
    assert tiny_fasta.extract("chrA", 12, 16, "-") == "ttgg"
    np.testing.assert_array_equal(tiny_fasta.extract_one_hot("chrA", 12, 16, "-"), np.stack([T, T, G, G]))
    assert tiny_fasta.extract("chrA", -2, 2, "-") == "GTNN"


def test_fasta_ns_lower_case_and_iupac(tiny_fasta):
    assert tiny_fasta.extract("chrA", 18, 26) == "ggNNNNNT"
    np.testing.assert_array_equal(
        tiny_fasta.extract_one_hot("chrA", 18, 26), np.stack([G, G, Z, Z, Z, Z, Z, T])
    )
    assert tiny_fasta.extract("chrA", 10, 14) == "ggcc"
    np.testing.assert_array_equal(tiny_fasta.extract_one_hot("chrA", 10, 14), np.stack([G, G, C, C]))
    assert tiny_fasta.extract("chrA", 30, 33) == "RYA"
    np.testing.assert_array_equal(tiny_fasta.extract_one_hot("chrA", 30, 33), np.stack([Z, Z, A]))
    assert FastaExtractor(TINY_FA, uppercase=True).extract("chrA", 10, 14) == "GGCC"


def test_fasta_neutral_value(tiny_fasta):
    np.testing.assert_array_equal(
        tiny_fasta.extract_one_hot("chrA", 49, 51, neutral_value=0.25), [T, [0.25] * 4]
    )


def test_fasta_builds_missing_index_and_is_picklable(tmp_path, tiny_fasta):
    path = tmp_path / "copy.fa"
    shutil.copy(TINY_FA, path)
    fasta = FastaExtractor(path)
    assert fasta.extract("chrB", 0, 4) == "TTTT"
    assert (tmp_path / "copy.fa.fai").exists()
    clone = pickle.loads(pickle.dumps(tiny_fasta))
    assert clone.extract("chrA", 0, 3) == "ACG"


def test_fasta_errors(tiny_fasta):
    with pytest.raises(InputFileError, match=r"tiny\.fa: contig not in FASTA .*\(value 'chr9'\)"):
        tiny_fasta.extract("chr9", 0, 4)
    with pytest.raises(ValueError, match="start=5, end=4"):
        tiny_fasta.extract("chrA", 5, 4)
    with pytest.raises(ValueError, match="strand='x'"):
        tiny_fasta.extract("chrA", 0, 4, "x")
    with pytest.raises(ValueError, match="start=1.5"):
        tiny_fasta.extract("chrA", 1.5, 4)
    with pytest.raises(InputFileError, match=r"missing\.fa: FASTA file not found"):
        FastaExtractor(TEST_DATA / "missing.fa")
    with pytest.raises(InputFileError, match=r"empty\.fa: empty FASTA file"):
        FastaExtractor(TEST_DATA / "empty.fa")


def test_fasta_malformed_and_bad_characters(tmp_path):
    bad_lines = tmp_path / "bad_lines.fa"
    shutil.copy(TEST_DATA / "bad_lines.fa", bad_lines)
    with pytest.raises(InputFileError, match=r"bad_lines\.fa: malformed FASTA"):
        FastaExtractor(bad_lines).extract("chrX", 0, 2)
    bad_chars = tmp_path / "bad_chars.fa"
    shutil.copy(TEST_DATA / "bad_chars.fa", bad_chars)
    fasta = FastaExtractor(bad_chars)
    assert fasta.extract("chrX", 0, 5) == "ACGT-"
    with pytest.raises(InputFileError, match=r"bad_chars\.fa: bad sequence in chrX:0-6: .*'-' at position 4"):
        fasta.extract_one_hot("chrX", 0, 6)


def test_error_messages_are_one_line():
    error = InputFileError("a.bed", 3, "bad thing", "x\ty\nz")
    assert str(error) == "a.bed:3: bad thing (value 'x\\ty\\nz')"
    assert "\n" not in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


# BED --------------------------------------------------------------------------


def test_read_bed_columns_and_skips_headers():
    intervals = read_bed(TEST_DATA / "tiny.bed")
    assert [(iv.chrom, iv.start, iv.end, iv.name, iv.strand) for iv in intervals] == [
        ("chrA", 0, 4, "start", "+"),
        ("chrA", 10, 14, "lower", "-"),
        ("chrA", 44, 50, "end", "+"),
        ("chrB", 2, 9, None, "."),
        ("chrA", 18, 26, "ns", "."),
    ]
    assert intervals[4].extra == ("1.5", "0")
    assert intervals[0].line == 3 and intervals[0].source.endswith("tiny.bed")
    assert intervals[0].resize(8) == Interval("chrA", -2, 6, "start", "+")


def test_read_bed_gzip(tmp_path):
    path = tmp_path / "tiny.bed.gz"
    with gzip.open(path, "wb") as handle:
        handle.write((TEST_DATA / "tiny.bed").read_bytes())
    assert len(read_bed(path)) == 5


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("bad_columns.bed", r"bad_columns\.bed:2: BED line has 2 column\(s\), needs at least 3 \(value 'chrA\\t5'\)"),
        ("bad_start.bed", r"bad_start\.bed:2: BED start is not an integer \(value 'five'\)"),
        ("bad_order.bed", r"bad_order\.bed:1: BED end is before start \(value '9\\t4'\)"),
        ("bad_negative.bed", r"bad_negative\.bed:1: negative BED start \(value '-5'\)"),
        ("bad_strand.bed", r"bad_strand\.bed:1: BED strand must be \+, - or \. \(value '\*'\)"),
        ("empty.bed", r"empty\.bed: empty BED file$"),
        ("comments_only.bed", r"comments_only\.bed: BED file has no intervals$"),
        ("missing.bed", r"missing\.bed: BED file not found$"),
    ],
)
def test_bed_errors_name_file_line_and_value(name, pattern):
    with pytest.raises(InputFileError, match=pattern):
        read_bed(TEST_DATA / name)


def test_check_intervals_against_fasta(tiny_fasta):
    check_intervals(read_bed(TEST_DATA / "tiny.bed"), tiny_fasta)
    with pytest.raises(InputFileError, match=r"bad_contig\.bed:2: contig not in FASTA .*\(value 'chrZ'\)"):
        check_intervals(read_bed(TEST_DATA / "bad_contig.bed"), tiny_fasta)
    with pytest.raises(
        InputFileError,
        match=r"bad_offend\.bed:2: interval ends past the end of chrB \(length 13\) \(value 'chrB:10-20'\)",
    ):
        check_intervals(read_bed(TEST_DATA / "bad_offend.bed"), tiny_fasta)


# VCF --------------------------------------------------------------------------


def test_read_vcf_splits_multiallelic_and_skips_symbolic():
    with pytest.warns(UserWarning, match="skipped 1 ALT"):
        variants = read_vcf(TEST_DATA / "tiny.vcf")
    assert [(v.chrom, v.pos, v.id, v.ref, v.alt, v.line) for v in variants] == [
        ("chrA", 3, "snv1", "G", "C", 5),
        ("chrA", 5, "mnv1", "AC", "TT", 6),
        ("chrA", 9, "ins1", "A", "ATTT", 7),
        ("chrA", 26, "del1", "TTT", "T", 8),
        ("chrB", 5, "multi", "G", "A", 9),
        ("chrB", 5, "multi", "G", "T", 9),
        ("chrA", 11, "lowref", "G", "A", 11),
    ]
    assert [v.kind for v in variants[:4]] == ["snv", "mnv", "insertion", "deletion"]
    assert variants[0].start == 2 and variants[3].end == 28


def test_read_vcf_strict_symbolic():
    with pytest.raises(InputFileError, match=r"tiny\.vcf:10: non-sequence ALT allele \(value '<DEL>'\)"):
        read_vcf(TEST_DATA / "tiny.vcf", skip_unsupported=False)


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("bad_pos.vcf", r"bad_pos\.vcf:6: malformed VCF record: POS must be a positive integer \(value 'abc'\)"),
        ("bad_ref_chars.vcf", r"bad_ref_chars\.vcf:5: REF allele must be ACGTN \(value 'GX'\)"),
        ("bad_alt_chars.vcf", r"bad_alt_chars\.vcf:5: ALT allele must be ACGTN \(value 'C-'\)"),
        ("empty.vcf", r"empty\.vcf: empty VCF file$"),
        ("header_only.vcf", r"header_only\.vcf: VCF file has no variants$"),
        ("missing.vcf", r"missing\.vcf: VCF file not found$"),
        ("tiny.bed", r"tiny\.bed: not a valid VCF file"),
    ],
)
def test_vcf_errors_name_file_line_and_value(name, pattern):
    with pytest.raises(InputFileError, match=pattern):
        read_vcf(TEST_DATA / name)


# Real data (../shared/data) ---------------------------------------------------


@pytest.fixture(scope="module")
def chr20(shared_dir):
    pytest.importorskip("Bio", reason="bgzip FASTA needs Biopython")
    return FastaExtractor(shared_dir / "data/reference/GRCh37_chr20.fa.gz")


def test_real_chr20_bgzip_ends(chr20):
    length = chr20.chromosome_length("chr20")
    assert length == 63_025_520
    # chr20 of GRCh37 starts and ends with N runs.
    assert chr20.extract("chr20", 0, 8) == "NNNNNNNN"
    np.testing.assert_array_equal(chr20.extract_one_hot("chr20", -4, 4), np.zeros((8, 4)))
    assert chr20.extract("chr20", length - 2, length + 3) == "NNNNN"
    assert chr20.extract("chr20", length + 10, length + 14) == "NNNN"


def test_real_chr20_sequence_and_minus_strand(chr20):
    plus = chr20.extract("chr20", 1_000_000, 1_000_010)
    assert plus == "TGGGAGAGAA"
    assert chr20.extract("chr20", 1_000_000, 1_000_010, "-") == "TTCTCTCCCA"
    np.testing.assert_array_equal(
        chr20.extract_one_hot("chr20", 1_000_000, 1_000_004), np.stack([T, G, G, G])
    )


def test_real_tss_bed_minus_strand_windows(chr20, shared_dir):
    intervals = read_bed(shared_dir / "data/annotation/GRCh37_chr20_gencode_tss.bed")
    check_intervals(intervals, chr20)
    minus = [iv for iv in intervals if iv.strand == "-"][:20]
    assert minus
    for interval in minus:
        window = interval.resize(64)
        forward = chr20.extract(window.chrom, window.start, window.end)
        assert chr20.extract(window.chrom, window.start, window.end, "-") == reverse_complement(forward)
        assert len(forward) == 64


def test_real_vcf_refs_match_fasta(chr20, shared_dir):
    for name in ("GRCh37_chr20_platypus_calls.vcf.gz", "GRCh37_chr20_vt_indels.vcf.gz"):
        variants = read_vcf(shared_dir / "data/variants" / name)
        assert variants
        for variant in variants:
            assert chr20.extract(variant.chrom, variant.start, variant.end).upper() == variant.ref


def test_in_memory_extraction_matches_streaming(tiny_fasta):
    cached = FastaExtractor(TINY_FA, in_memory=True)
    rng = np.random.default_rng(0)
    for _ in range(200):
        chrom = ["chrA", "chrB"][rng.integers(2)]
        start = int(rng.integers(-20, 60))
        end = start + int(rng.integers(0, 30))
        strand = "+-"[rng.integers(2)]
        assert cached.extract(chrom, start, end, strand) == tiny_fasta.extract(chrom, start, end, strand)
    clone = pickle.loads(pickle.dumps(cached))
    assert clone.in_memory and clone.extract("chrA", 48, 52) == "ATNN"


def test_real_chr20_in_memory_matches_streaming(chr20, shared_dir):
    cached = FastaExtractor(shared_dir / "data/reference/GRCh37_chr20.fa.gz", in_memory=True)
    for start in (-5, 0, 1_000_000, 31_234_567, 63_025_500):
        assert cached.extract("chr20", start, start + 1000) == chr20.extract("chr20", start, start + 1000)


@pytest.mark.parametrize("in_memory", [False, True])
def test_extract_one_hot_batch_equals_stacked_windows(tiny_fasta, in_memory):
    starts = [-3, 0, 10, 45, 60, 20]
    strands = ["+", "-", "+", "-", "+", "-"]
    fasta = FastaExtractor(TINY_FA, in_memory=in_memory)
    batch = fasta.extract_one_hot_batch("chrA", starts, 8, strands, neutral_value=0.25)
    assert batch.shape == (6, 8, 4) and batch.dtype == np.float32
    for row, start, strand in zip(batch, starts, strands):
        np.testing.assert_array_equal(row, tiny_fasta.extract_one_hot("chrA", start, start + 8, strand, 0.25))
    mixed = fasta.extract_one_hot_batch(["chrA", "chrB"], [0, 0], 4)
    np.testing.assert_array_equal(mixed[1], one_hot_encode("TTTT"))
    with pytest.raises(ValueError, match="one entry per window"):
        fasta.extract_one_hot_batch(["chrA"], [0, 1], 4)


def test_extract_one_hot_batch_names_bad_window(tmp_path):
    bad_chars = tmp_path / "bad_chars.fa"
    shutil.copy(TEST_DATA / "bad_chars.fa", bad_chars)
    fasta = FastaExtractor(bad_chars, in_memory=True)
    with pytest.raises(InputFileError, match=r"bad sequence in chrX:2-6"):
        fasta.extract_one_hot_batch("chrX", [0, 2], 4)


# Plain FASTA through the memory map ---------------------------------------------

# (name, length, bases per line, line terminator); the last contig ends the
# file on a short line without a terminator.
LAYOUTS = [
    ("long", 40_003, 61, b"\n"),
    ("single", 50, 50, b"\n"),
    ("crlf", 95, 10, b"\r\n"),
    ("short", 3, 60, b"\n"),
    ("eof", 61, 8, b""),
]


def _write_fasta(path, layouts, seed=0):
    """Writes a FASTA with the given line layouts; returns name -> sequence."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"ACGTACGTACGTacgtNNRYkm", dtype=np.uint8)
    sequences, text = {}, b""
    for name, length, bases, terminator in layouts:
        sequence = alphabet[rng.integers(len(alphabet), size=length)].tobytes()
        sequences[name] = sequence.decode()
        lines = [sequence[i : i + bases] for i in range(0, length, bases)]
        last_terminator = terminator or b""
        terminator = terminator or b"\n"
        text += b">" + name.encode() + b" description\n" + terminator.join(lines) + last_terminator
        if last_terminator == b"" and name != layouts[-1][0]:
            text += b"\n"
    path.write_bytes(text)
    return sequences


def _padded(sequence, start, end):
    return "".join(sequence[i] if 0 <= i < len(sequence) else "N" for i in range(start, end))


@pytest.fixture(scope="module")
def layout_fasta(tmp_path_factory):
    path = tmp_path_factory.mktemp("layouts") / "layouts.fa"
    return path, _write_fasta(path, LAYOUTS)


def test_plain_fasta_reads_match_the_sequences_for_every_line_layout(layout_fasta):
    path, sequences = layout_fasta
    fasta, upper = FastaExtractor(path), FastaExtractor(path, uppercase=True)
    assert fasta._file_map() is not None  # the memory-mapped path, not pyfaidx's reads
    assert fasta.chromosome_lengths == {name: len(seq) for name, seq in sequences.items()}
    rng = np.random.default_rng(1)
    for name, sequence in sequences.items():
        for _ in range(150):
            start = int(rng.integers(-20, len(sequence) + 20))
            end = start + int(rng.integers(0, min(len(sequence), 9_000) + 30))
            expected = _padded(sequence, start, end)
            assert fasta.extract(name, start, end) == expected, (name, start, end)
            assert upper.extract(name, start, end) == expected.upper()
            assert fasta.extract(name, start, end, "-") == reverse_complement(expected)
        whole = fasta.extract(name, 0, len(sequence))
        assert whole == sequence
    # Reads spanning many lines take the strided-copy path; check one against pyfaidx itself.
    import pyfaidx

    reference = pyfaidx.Fasta(str(path), as_raw=True)
    assert fasta.extract("long", 123, 30_456) == reference["long"][123:30_456]
    assert fasta.extract("crlf", 1, 94) == reference["crlf"][1:94]


def test_plain_fasta_batches_match_single_windows(layout_fasta):
    path, sequences = layout_fasta
    rng = np.random.default_rng(2)
    for uppercase in (False, True):
        fasta = FastaExtractor(path, uppercase=uppercase)
        for name, sequence in sequences.items():
            for length in (1, 7, 30, 200, 20_000):
                if length > 2 * len(sequence) + 100:
                    continue
                starts = rng.integers(-10, max(len(sequence) - length + 10, -9), size=12).tolist()
                starts += [0, len(sequence) - length]  # both ends, incl. the short line at EOF
                strands = rng.choice(["+", "-"], size=len(starts)).tolist()
                batch = fasta.extract_one_hot_batch(name, starts, length, strands, neutral_value=0.25)
                expected = np.stack([
                    one_hot_encode(
                        reverse_complement(_padded(sequence, s, s + length)) if strand == "-"
                        else _padded(sequence, s, s + length),
                        neutral_value=0.25,
                    )
                    for s, strand in zip(starts, strands)
                ])
                np.testing.assert_array_equal(batch, expected, err_msg=f"{name} {length}")
    mixed = FastaExtractor(path).extract_one_hot_batch(["eof", "long", "crlf"], [56, 40_000, 90], 6)
    np.testing.assert_array_equal(
        mixed,
        np.stack([one_hot_encode(_padded(sequences[n], s, s + 6)) for n, s in [("eof", 56), ("long", 40_000), ("crlf", 90)]]),
    )


def test_plain_fasta_changed_after_indexing_is_reported(tmp_path):
    path = tmp_path / "changed.fa"
    _write_fasta(path, [("chrC", 5_000, 60, b"\n")])
    assert FastaExtractor(path).extract("chrC", 0, 10)  # builds the .fai
    _write_fasta(path, [("chrC", 5_000, 30, b"\n")])  # same bases, new line width
    later = path.stat().st_mtime + 10
    os.utime(f"{path}.fai", (later, later))  # a .fai newer than the FASTA, which pyfaidx trusts
    fasta = FastaExtractor(path)
    with pytest.raises(InputFileError, match=r"changed\.fa: FASTA does not match its index at chrC:100-200"):
        fasta.extract("chrC", 100, 200)
    with pytest.raises(InputFileError, match=r"does not match its index at chrC:0-4990"):
        fasta.extract("chrC", 0, 4_990)  # the many-lines path checks the terminators
    path.write_bytes(path.read_bytes()[:2_000])  # truncated: the index runs past the end of the file
    os.utime(f"{path}.fai", (later + 10, later + 10))
    for fasta in (FastaExtractor(path), FastaExtractor(path, in_memory=True)):
        with pytest.raises(InputFileError, match=r"changed\.fa: FASTA does not match its index at chrC:"):
            fasta.extract_one_hot_batch("chrC", [4_000, 10], 600)
        with pytest.raises(InputFileError, match=r"does not match its index at chrC:(4500-4990|0-5000) "):
            fasta.extract("chrC", 4_500, 4_990)  # in memory: the whole contig's read fails


def test_plain_fasta_non_ascii_and_reopen_after_close(tmp_path):
    path = tmp_path / "latin.fa"
    path.write_bytes(">chrU\nACGTéACGT\n".encode())
    fasta = FastaExtractor(path)
    assert fasta.extract("chrU", 0, 4) == "ACGT"
    with pytest.raises(InputFileError, match=r"latin\.fa: non-ASCII character in contig chrU"):
        fasta.extract("chrU", 2, 7)
    fasta.close()
    assert fasta.extract("chrU", 1, 3) == "CG"


def test_in_memory_contig_checked_once_still_reports_bad_windows(tmp_path):
    bad_chars = tmp_path / "bad_chars.fa"
    shutil.copy(TEST_DATA / "bad_chars.fa", bad_chars)
    fasta = FastaExtractor(bad_chars, in_memory=True)
    np.testing.assert_array_equal(fasta.extract_one_hot("chrX", 0, 4), np.eye(4, dtype=np.float32))
    with pytest.raises(InputFileError, match=r"bad sequence in chrX:3-6: .*'-' at position 1"):
        fasta.extract_one_hot("chrX", 3, 6)
    good = FastaExtractor(TINY_FA, in_memory=True)
    good.extract("chrA", 0, 1)
    assert not good._strict(["chrA"]) and good._strict(["chrB"])  # chrB not loaded yet
