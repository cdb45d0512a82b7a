"""Variant → (reference, alternative) windows."""

import pytest

from tests.conftest import TEST_DATA
from kipoi_genome.data import FastaExtractor, InputFileError, Variant, variant_window, variant_windows

TINY_FA = TEST_DATA / "tiny.fa"


def _windows(length):
    with pytest.warns(UserWarning, match="skipped 1"):
        return list(variant_windows(TINY_FA, TEST_DATA / "tiny.vcf", length))


def test_variant_windows_exact_strings():
    windows = _windows(8)
    got = [(w.id, w.pos, w.start, w.reference, w.alternative) for w in windows]
    assert got == [
        ("snv1", 3, -2, "NNACGTAC", "NNACCTAC"),  # SNV at index 4, N-padded left
        ("mnv1", 5, 0, "ACGTACGT", "ACGTTTGT"),
        ("ins1", 9, 4, "ACGTACgg", "ACGTATTT"),  # insertion pushes the right flank out
        ("del1", 26, 21, "NNNNTTTT", "NNNNTTTR"),  # deletion pulls in more right flank
        ("multi", 5, 0, "TTTTGGGG", "TTTTAGGG"),
        ("multi", 5, 0, "TTTTGGGG", "TTTTTGGG"),
        ("lowref", 11, 6, "GTACggcc", "GTACAgcc"),  # REF checked case-insensitively
    ]
    for window in windows:
        assert len(window.reference) == len(window.alternative) == 8
        assert window.reference[: 8 // 2] == window.alternative[: 8 // 2]
        assert window.end == window.start + 8
    assert windows[0].chrom == "chrA" and windows[0].ref == "G" and windows[0].alt == "C"
    assert windows[0].position == 3 and windows[0].variant_id == "snv1"
    assert windows[0].sequences == ("NNACGTAC", "NNACCTAC")
    assert windows[0].as_dict()["alternative"] == "NNACCTAC"


def test_variant_windows_odd_length_and_long_insertion():
    fasta = FastaExtractor(TINY_FA)
    snv = Variant("chrA", 3, None, "G", "C")
    window = variant_window(fasta, snv, 5)
    assert (window.reference, window.alternative) == ("ACGTA", "ACCTA")
    insertion = Variant("chrA", 9, None, "A", "ATTT")
    window = variant_window(fasta, insertion, 4)
    assert (window.reference, window.alternative) == ("GTAC", "GTAT")
    window = variant_window(fasta, insertion, 1)
    assert (window.reference, window.alternative) == ("A", "A")


def test_variant_windows_accepts_variant_list_and_skips_ref_check():
    fasta = FastaExtractor(TINY_FA)
    wrong = Variant("chrA", 3, "x", "T", "C")
    with pytest.raises(InputFileError, match=r"REF disagrees with FASTA at chrA:3 \(FASTA has 'G'\) \(value 'T'\)"):
        list(variant_windows(fasta, [wrong], 4))
    (window,) = variant_windows(fasta, [wrong], 4, check_ref=False)
    assert window.alternative == "ACCT"


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("bad_ref_mismatch.vcf", r"bad_ref_mismatch\.vcf:6: REF disagrees with FASTA at chrA:4 \(FASTA has 'T'\) \(value 'A'\)"),
        ("bad_contig.vcf", r"bad_contig\.vcf:5: contig not in FASTA .*tiny\.fa \(value 'chrZ'\)"),
        ("bad_outside.vcf", r"bad_outside\.vcf:5: variant lies outside chrB \(length 13\) \(value 'chrB:13'\)"),
        ("bad_pos.vcf", r"bad_pos\.vcf:6: malformed VCF record"),
    ],
)
def test_variant_window_errors(name, pattern):
    with pytest.raises(InputFileError, match=pattern):
        list(variant_windows(TINY_FA, TEST_DATA / name, 10))


def test_variant_window_bad_length():
    with pytest.raises(ValueError, match="length=0"):
        list(variant_windows(TINY_FA, [Variant("chrA", 3, None, "G", "C")], 0))


@pytest.mark.parametrize(
    "name",
    ["GRCh37_chr20_platypus_calls.vcf.gz", "GRCh37_chr20_vt_indels.vcf.gz", "GRCh37_chr20_common_snps.vcf.gz"],
)
def test_real_vcfs_all_refs_match(shared_dir, name):
    pytest.importorskip("Bio", reason="bgzip FASTA needs Biopython")
    fasta = FastaExtractor(shared_dir / "data/reference/GRCh37_chr20.fa.gz")
    count = 0
    for window in variant_windows(fasta, shared_dir / "data/variants" / name, 101):
        count += 1
        assert len(window.reference) == len(window.alternative) == 101
        assert window.reference[50 : 50 + len(window.ref)].upper() == window.ref
        assert window.alternative[50 : 50 + len(window.alt)] == window.alt[: 51]
        if len(window.ref) == len(window.alt) == 1:
            diff = [i for i, (r, a) in enumerate(zip(window.reference, window.alternative)) if r != a]
            assert diff == [50]
    assert count > 100
