"""Kipoi-style dataloaders (kipoi itself is not needed)."""

import numpy as np
import pytest

from tests.conftest import TEST_DATA
from kipoi_genome.data import (
    FastaExtractor,
    InputFileError,
    IntervalOneHotDataset,
    VariantRefAltDataset,
    one_hot_encode,
)
from kipoi_genome.data.kipoi_datasets import collate

TINY_FA = TEST_DATA / "tiny.fa"
TINY_BED = TEST_DATA / "tiny.bed"


def test_interval_one_hot_samples():
    dataset = IntervalOneHotDataset(TINY_BED, TINY_FA, auto_resize_len=6, use_strand=True, ignore_targets=True)
    assert len(dataset) == 5
    sample = dataset[0]
    # chrA:0-4 resized to 6 bp is chrA:-1-5 -> "NACGTA".
    np.testing.assert_array_equal(sample["inputs"], one_hot_encode("NACGTA"))
    assert sample["metadata"]["ranges"] == {"chr": "chrA", "start": -1, "end": 5, "id": "start", "strand": "+"}
    # Minus strand: chrA:9-15 = "Cggcca", reverse complement "tggccG".
    np.testing.assert_array_equal(dataset[1]["inputs"], one_hot_encode("TGGCCG"))
    assert "targets" not in sample


def test_interval_one_hot_neutral_value_and_targets(tmp_path):
    bed = tmp_path / "labels.bed"
    bed.write_text("chrA\t18\t22\tx\t0\t+\t1\t0.5\n")
    dataset = IntervalOneHotDataset(bed, TINY_FA, neutral_value=0.25)
    sample = dataset[0]
    np.testing.assert_array_equal(sample["inputs"][2:], np.full((2, 4), 0.25, np.float32))
    np.testing.assert_array_equal(sample["targets"], [1.0, 0.5])
    bed.write_text("chrA\t18\t22\tx\t0\t+\tyes\n")
    assert "targets" not in IntervalOneHotDataset(bed, TINY_FA)[0]  # auto: non-numeric ignored
    with pytest.raises(InputFileError, match=r"labels\.bed:1: BED target columns must be numbers \(value 'yes'\)"):
        IntervalOneHotDataset(bed, TINY_FA, ignore_targets=False)


def test_batch_iter_collates_like_kipoi():
    dataset = IntervalOneHotDataset(TINY_BED, TINY_FA, auto_resize_len=8, ignore_targets=True)
    batches = list(dataset.batch_iter(batch_size=2))
    assert [len(b["inputs"]) for b in batches] == [2, 2, 1]
    assert batches[0]["inputs"].shape == (2, 8, 4)
    assert batches[0]["metadata"]["ranges"]["chr"] == ["chrA", "chrA"]
    np.testing.assert_array_equal(batches[2]["metadata"]["ranges"]["start"], [18])
    assert [len(b["inputs"]) for b in dataset.batch_iter(batch_size=2, drop_last=True)] == [2, 2]
    shuffled = np.concatenate([b["inputs"] for b in dataset.batch_iter(batch_size=5, shuffle=True, seed=0)])
    assert sorted(map(bytes, shuffled.reshape(5, -1))) == sorted(map(bytes, dataset.load_all()["inputs"].reshape(5, -1)))
    with pytest.raises(ValueError, match="batch_size=0"):
        list(dataset.batch_iter(batch_size=0))


def test_batch_iter_with_worker_processes():
    dataset = IntervalOneHotDataset(TINY_BED, TINY_FA, auto_resize_len=8, ignore_targets=True)
    serial = [b["inputs"] for b in dataset.batch_iter(batch_size=2)]
    parallel = [b["inputs"] for b in dataset.batch_iter(batch_size=2, num_workers=2)]
    assert len(serial) == len(parallel) == 3
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_interval_dataloader_errors():
    with pytest.raises(InputFileError, match=r"bad_offend\.bed:2: interval ends past the end"):
        IntervalOneHotDataset(TEST_DATA / "bad_offend.bed", TINY_FA)
    with pytest.raises(InputFileError, match=r"empty\.bed: empty BED file"):
        IntervalOneHotDataset(TEST_DATA / "empty.bed", TINY_FA)


def test_variant_ref_alt_samples():
    with pytest.warns(UserWarning, match="skipped 1"):
        dataset = VariantRefAltDataset(TEST_DATA / "tiny.vcf", TINY_FA, sequence_length=8)
    assert len(dataset) == 7
    sample = dataset[2]  # ins1: chrA:9 A>ATTT
    np.testing.assert_array_equal(sample["inputs"]["ref"], one_hot_encode("ACGTACGG"))
    np.testing.assert_array_equal(sample["inputs"]["alt"], one_hot_encode("ACGTATTT"))
    assert sample["metadata"]["variant"] == {"chrom": "chrA", "pos": 9, "id": "ins1", "ref": "A", "alt": "ATTT"}
    assert sample["metadata"]["ranges"]["start"] == 4
    batch = next(dataset.batch_iter(batch_size=4))
    assert batch["inputs"]["ref"].shape == (4, 8, 4)
    np.testing.assert_array_equal(batch["metadata"]["variant"]["pos"], [3, 5, 9, 26])


def test_variant_dataloader_ref_mismatch_names_line():
    dataset = VariantRefAltDataset(TEST_DATA / "bad_ref_mismatch.vcf", TINY_FA, sequence_length=8)
    dataset[0]
    with pytest.raises(InputFileError, match=r"bad_ref_mismatch\.vcf:6: REF disagrees"):
        dataset[1]


def test_collate_nested():
    batch = collate([{"a": np.zeros(2), "b": {"c": "x"}, "d": 1}, {"a": np.ones(2), "b": {"c": "y"}, "d": 2}])
    assert batch["a"].shape == (2, 2) and batch["b"]["c"] == ["x", "y"]
    np.testing.assert_array_equal(batch["d"], [1, 2])


def test_real_tss_bed_dataloader(shared_dir):
    pytest.importorskip("Bio", reason="bgzip FASTA needs Biopython")
    fasta = FastaExtractor(shared_dir / "data/reference/GRCh37_chr20.fa.gz", in_memory=False)
    dataset = IntervalOneHotDataset(
        shared_dir / "data/annotation/GRCh37_chr20_gencode_tss.bed", fasta, auto_resize_len=1000, use_strand=True
    )
    assert len(dataset) == 1317
    batch = next(dataset.batch_iter(batch_size=8))
    assert batch["inputs"].shape == (8, 1000, 4) and "targets" not in batch
    assert batch["metadata"]["ranges"]["id"][0] == "DEFB125"
    minus = next(i for i, iv in enumerate(dataset.intervals) if iv.strand == "-")
    interval = dataset.intervals[minus]
    expected = fasta.extract(interval.chrom, interval.start, interval.end, "-")
    np.testing.assert_array_equal(dataset[minus]["inputs"], one_hot_encode(expected))
