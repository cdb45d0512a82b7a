"""tf.data pipelines, augmentation, sharding and Enformer/Basenji TFRecords."""

import json
import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tests.conftest import TEST_DATA  # noqa: E402
from kipoi_genome.data import (  # noqa: E402
    BedTargets,
    BigWigTargets,
    FastaExtractor,
    InputFileError,
    Interval,
    augment,
    interval_dataset,
    one_hot_encode,
    read_bed,
    read_tfrecords,
    reverse_complement,
    tfrecord_dataset,
    write_tfrecords,
)
from kipoi_genome.data.tf_datasets import augment_example, shift_sequence  # noqa: E402

TINY_FA = TEST_DATA / "tiny.fa"
TINY_BED = TEST_DATA / "tiny.bed"


def _numpy(dataset):
    return [tf.nest.map_structure(lambda t: t.numpy(), element) for element in dataset]


# Interval datasets ---------------------------------------------------------------


def test_interval_dataset_matches_numpy_extraction():
    fasta = FastaExtractor(TINY_FA)
    intervals = read_bed(TINY_BED)
    got = _numpy(interval_dataset(TINY_FA, TINY_BED, sequence_length=10, deterministic=True))
    assert len(got) == len(intervals)
    for element, interval in zip(got, intervals):
        window = interval.resize(10)
        expected = one_hot_encode(fasta.extract(window.chrom, window.start, window.end))
        np.testing.assert_array_equal(element, expected)
    # The interval at 0 resized to 10 bp starts at -3: three N rows of zeros.
    np.testing.assert_array_equal(got[0][:3], np.zeros((3, 4)))


def test_interval_dataset_strand_batches_and_targets():
    intervals = [Interval("chrA", 12, 16, strand="-"), Interval("chrA", 0, 4, strand="+")]
    targets = np.array([[1.0], [2.0]], np.float32)
    dataset = interval_dataset(
        TINY_FA, intervals, targets=targets, use_strand=True, batch_size=2, deterministic=True
    )
    ((x, y),) = _numpy(dataset)
    np.testing.assert_array_equal(x[0], one_hot_encode("ttgg"))
    np.testing.assert_array_equal(x[1], one_hot_encode("ACGT"))
    np.testing.assert_array_equal(y, targets)


def test_interval_dataset_bad_inputs():
    with pytest.raises(InputFileError, match=r"tiny\.bed:5: interval width differs .* \(value '6'\)"):
        interval_dataset(TINY_FA, TINY_BED)
    with pytest.raises(InputFileError, match=r"bad_offend\.bed:2: interval ends past the end of chrB"):
        interval_dataset(TINY_FA, TEST_DATA / "bad_offend.bed", sequence_length=4)
    with pytest.raises(InputFileError, match=r"bad_contig\.bed:2: contig not in FASTA"):
        interval_dataset(TINY_FA, TEST_DATA / "bad_contig.bed", sequence_length=4)
    with pytest.raises(ValueError, match="3 rows for 5 intervals"):
        interval_dataset(TINY_FA, TINY_BED, sequence_length=4, targets=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="max_shift=3, pool_width=2"):
        interval_dataset(TINY_FA, TINY_BED, 4, targets=np.zeros((5, 2, 1)), augment=True, pool_width=2)


# Augmentation -----------------------------------------------------------------------


@pytest.mark.parametrize("pool_width", [1, 4])
def test_tf_augmentation_equals_numpy_reference(pool_width):
    rng = np.random.default_rng(0)
    x = one_hot_encode("".join(rng.choice(list("ACGTN"), 16)))
    y = rng.normal(size=(16 // pool_width, 3)).astype(np.float32)
    for shift in range(-3, 4):
        for reverse in (False, True):
            xt, yt = augment_example(
                tf.constant(x), tf.constant(y), tf.constant(shift), tf.constant(reverse), pool_width
            )
            xn, yn = augment(x, y, shift, reverse, pool_width)
            np.testing.assert_array_equal(xt.numpy(), xn)
            np.testing.assert_array_equal(yt.numpy(), yn)


def test_shift_sequence_extremes():
    x = tf.constant(one_hot_encode("ACGT"))
    np.testing.assert_array_equal(shift_sequence(x, 9).numpy(), np.zeros((4, 4)))
    np.testing.assert_array_equal(shift_sequence(x, -4).numpy(), np.zeros((4, 4)))
    np.testing.assert_array_equal(shift_sequence(x, 1, fill_value=0.25).numpy()[0], [0.25] * 4)


def _find_augmentation(x0, y0, x, y, pool_width, max_shift=3):
    for shift in range(-max_shift, max_shift + 1):
        for reverse in (False, True):
            xa, ya = augment(x0, y0, shift, reverse, pool_width)
            if np.array_equal(xa, x) and np.array_equal(ya, y):
                return shift, reverse
    return None


def test_augmented_dataset_moves_targets_with_sequence():
    intervals = [Interval("chrA", 0, 16), Interval("chrA", 30, 46), Interval("chrB", 0, 13)]
    length = 16
    fasta = FastaExtractor(TINY_FA)
    windows = [iv.resize(length) for iv in intervals]
    base = [one_hot_encode(fasta.extract(w.chrom, w.start, w.end)) for w in windows]
    # Base-resolution targets: position index + 1 (so shifts and flips are visible).
    targets = np.stack([np.arange(1, length + 1, dtype=np.float32)[:, None] * (k + 1) for k in range(3)])
    dataset = interval_dataset(
        fasta, intervals, sequence_length=length, targets=targets, augment=True, seed=7, deterministic=True
    )
    seen = set()
    for _ in range(4):  # epochs: augmentation is redrawn every epoch
        for k, (x, y) in enumerate(_numpy(dataset)):
            found = _find_augmentation(base[k], targets[k], x, y, pool_width=1)
            assert found is not None, "augmented pair is not a consistent shift / reverse complement"
            seen.add(found)
    assert len(seen) > 3
    assert any(reverse for _, reverse in seen)


def test_augmentation_is_deterministic_with_a_seed():
    def run(seed):
        dataset = interval_dataset(
            TINY_FA, TINY_BED, sequence_length=12, augment=True, seed=seed, shuffle=True,
            deterministic=True, batch_size=2,
        )
        return np.concatenate(_numpy(dataset))

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


# Sharding -----------------------------------------------------------------------------


def test_input_context_shards_are_disjoint_and_complete():
    intervals = [Interval("chrA", i, i + 4) for i in range(0, 40, 2)]  # 20 intervals
    targets = np.arange(20, dtype=np.float32)[:, None]
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2
        )
        dataset = interval_dataset(
            TINY_FA, intervals, targets=targets, batch_size=8, input_context=context, deterministic=True
        )
        batches = _numpy(dataset)
        assert all(len(y) <= 4 for _, y in batches)  # per-replica batch = 8 / 2
        seen.append(sorted(np.concatenate([y[:, 0] for _, y in batches]).astype(int).tolist()))
        options = dataset.options()
        assert options.experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.OFF
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(20))
    plain = interval_dataset(TINY_FA, intervals, batch_size=4)
    assert plain.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA


def test_distribute_datasets_from_function():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    intervals = [Interval("chrA", i, i + 4) for i in range(10)]
    dataset = strategy.distribute_datasets_from_function(
        lambda context: interval_dataset(TINY_FA, intervals, batch_size=4, input_context=context)
    )
    sizes = [int(batch.shape[0]) for batch in dataset]
    assert sum(sizes) == 10


# TFRecords ----------------------------------------------------------------------------


class RampTargets:
    """Targets exactly representable in float16: bin index + track offset."""

    names = ["ramp0", "ramp1"]
    num_targets = 2

    def __init__(self):
        self.calls = 0

    def __call__(self, chrom, start, end, pool_width):
        self.calls += 1
        bins = (end - start) // pool_width
        base = np.arange(bins, dtype=np.float32)[:, None] + start / 4
        return np.concatenate([base, -base * 0.5], axis=1)


def test_tfrecord_write_read_round_trip_is_exact(tmp_path):
    fasta = FastaExtractor(TINY_FA)
    statistics = write_tfrecords(
        tmp_path, fasta, TINY_BED, RampTargets(), split="train", sequence_length=16, pool_width=4,
        crop_bp=2, records_per_file=2,
    )
    intervals = [iv.resize(16) for iv in read_bed(TINY_BED)]
    assert statistics["target_length"] == 3 and statistics["seq_length"] == 16
    assert statistics["train_seqs"] == 5 and statistics["num_targets"] == 2
    on_disk = json.loads((tmp_path / "statistics.json").read_text())
    assert on_disk == statistics
    assert sorted(os.listdir(tmp_path / "tfrecords")) == ["train-0.tfr", "train-1.tfr", "train-2.tfr"]

    examples = list(read_tfrecords(tmp_path, "train"))
    assert len(examples) == 5
    for example, interval in zip(examples, intervals):
        expected_sequence = one_hot_encode(fasta.extract(interval.chrom, interval.start, interval.end))
        np.testing.assert_array_equal(example["sequence"], expected_sequence)
        expected_target = RampTargets()(interval.chrom, interval.start + 2, interval.end - 2, 4)
        np.testing.assert_array_equal(example["target"], expected_target)
    # The tf.data reader yields the same arrays, in file order when deterministic.
    got = _numpy(tfrecord_dataset(tmp_path, "train", deterministic=True))
    for (sequence, target), example in zip(got, examples):
        np.testing.assert_array_equal(sequence, example["sequence"])
        np.testing.assert_array_equal(target, example["target"])


def test_tfrecord_records_are_official_layout(tmp_path):
    write_tfrecords(tmp_path, TINY_FA, [Interval("chrA", 0, 8)], RampTargets(), pool_width=4)
    raw = next(iter(tf.data.TFRecordDataset(str(tmp_path / "tfrecords/train-0.tfr"), compression_type="ZLIB")))
    features = tf.train.Example.FromString(raw.numpy()).features.feature
    sequence = np.frombuffer(features["sequence"].bytes_list.value[0], np.bool_).reshape(8, 4)
    np.testing.assert_array_equal(sequence, np.eye(4, dtype=bool)[[0, 1, 2, 3, 0, 1, 2, 3]])
    target = np.frombuffer(features["target"].bytes_list.value[0], np.float16).reshape(2, 2)
    np.testing.assert_array_equal(target, [[0, -0], [1, -0.5]])


def test_tfrecord_augmentation_flips_binned_targets(tmp_path):
    intervals = [Interval("chrA", 0, 16), Interval("chrA", 20, 36)]
    write_tfrecords(tmp_path, TINY_FA, intervals, RampTargets(), pool_width=4)
    plain = _numpy(tfrecord_dataset(tmp_path, deterministic=True))
    for _ in range(3):
        augmented = _numpy(tfrecord_dataset(tmp_path, augment=True, seed=1, deterministic=True))
        for (x0, y0), (x, y) in zip(plain, augmented):
            assert _find_augmentation(x0, y0, x, y, pool_width=4) is not None


def test_tfrecord_sharding_by_file_and_by_record(tmp_path):
    intervals = [Interval("chrA", i, i + 8) for i in range(12)]
    write_tfrecords(tmp_path, TINY_FA, intervals, RampTargets(), pool_width=4, records_per_file=4)
    for pipelines in (2, 5):  # 3 files: by file for 2 pipelines, by record for 5
        parts = []
        for pipeline in range(pipelines):
            context = tf.distribute.InputContext(pipelines, pipeline, pipelines)
            parts.append([y[0, 0] for _, y in _numpy(tfrecord_dataset(tmp_path, input_context=context, deterministic=True))])
        flat = sorted(float(v) for part in parts for v in part)
        assert flat == sorted(i / 4 for i in range(12))


def test_tfrecord_writer_leaves_nothing_on_failure(tmp_path):
    class Failing(RampTargets):
        def __call__(self, *args):
            if self.calls == 3:
                raise RuntimeError("boom")
            return super().__call__(*args)

    intervals = [Interval("chrA", i, i + 8) for i in range(6)]
    with pytest.raises(RuntimeError, match="boom"):
        write_tfrecords(tmp_path, TINY_FA, intervals, Failing(), pool_width=4, records_per_file=2)
    assert os.listdir(tmp_path / "tfrecords") == []
    assert not (tmp_path / "statistics.json").exists()


def test_tfrecord_writer_bad_inputs(tmp_path):
    with pytest.raises(InputFileError, match=r"bad_offend\.bed:2: interval ends past the end of chrB"):
        write_tfrecords(tmp_path, TINY_FA, TEST_DATA / "bad_offend.bed", RampTargets(), pool_width=1)
    with pytest.raises(ValueError, match="sequence_length=10, crop_bp=0, pool_width=4"):
        write_tfrecords(tmp_path, TINY_FA, [Interval("chrA", 0, 10)], RampTargets(), pool_width=4)

    class Huge(RampTargets):
        def __call__(self, *args):
            return super().__call__(*args) * 1e6

    with pytest.raises(InputFileError, match="overflow float16"):
        write_tfrecords(tmp_path, TINY_FA, [Interval("chrA", 4, 12)], Huge(), pool_width=4)
    write_tfrecords(tmp_path, TINY_FA, [Interval("chrA", 0, 8)], RampTargets(), pool_width=4)
    with pytest.raises(InputFileError, match=r"statistics\.json: existing 'seq_length' disagrees"):
        write_tfrecords(tmp_path, TINY_FA, [Interval("chrA", 0, 12)], RampTargets(), pool_width=4, split="valid")


def test_tfrecord_reader_errors(tmp_path):
    with pytest.raises(InputFileError, match=r"statistics\.json: statistics file not found"):
        tfrecord_dataset(tmp_path)
    (tmp_path / "statistics.json").write_text('{\n "seq_length": 8,\n oops}\n')
    with pytest.raises(InputFileError, match=r"statistics\.json:3: invalid JSON"):
        tfrecord_dataset(tmp_path)
    (tmp_path / "statistics.json").write_text('{"seq_length": 8, "target_length": 2, "num_targets": 0}')
    with pytest.raises(InputFileError, match=r"'num_targets' must be a positive integer \(value '0'\)"):
        tfrecord_dataset(tmp_path)
    (tmp_path / "statistics.json").write_text('{"seq_length": 8, "target_length": 2, "num_targets": 2}')
    with pytest.raises(InputFileError, match=r"statistics\.json: missing required key 'pool_width'"):
        tfrecord_dataset(tmp_path)
    write_tfrecords(tmp_path / "ok", TINY_FA, [Interval("chrA", 0, 8)], RampTargets(), pool_width=4)
    with pytest.raises(InputFileError, match="no TFRecord files match valid-"):
        tfrecord_dataset(tmp_path / "ok", "valid")
    # Statistics that disagree with the records: wrong sequence length.
    statistics = json.loads((tmp_path / "ok/statistics.json").read_text())
    statistics["seq_length"] = 16
    (tmp_path / "ok/statistics.json").write_text(json.dumps(statistics))
    with pytest.raises(InputFileError, match=r"train-0\.tfr:1: 'sequence' has 32 bytes, statistics\.json implies 64"):
        tfrecord_dataset(tmp_path / "ok")
    # A file that is not ZLIB TFRecord, and an empty one.
    (tmp_path / "ok/tfrecords/train-0.tfr").write_bytes(b"not a tfrecord at all")
    with pytest.raises(InputFileError, match=r"train-0\.tfr: not a ZLIB TFRecord file"):
        tfrecord_dataset(tmp_path / "ok")
    (tmp_path / "ok/tfrecords/train-0.tfr").write_bytes(b"")
    with pytest.raises(InputFileError, match=r"train-0\.tfr: TFRecord file has no records"):
        tfrecord_dataset(tmp_path / "ok")


# Target sources -----------------------------------------------------------------------


def test_bed_targets_bin_coverage(tmp_path):
    bed = tmp_path / "peaks.bed"
    bed.write_text("chrA\t2\t6\nchrA\t4\t9\nchrA\t14\t15\nchrB\t0\t1\n")
    targets = BedTargets([bed, TINY_BED], summary="mean")
    values = targets("chrA", 0, 16, 4)
    assert values.shape == (4, 2)
    # Merged features cover 2..9 and 14..15 -> bins [0,4):2/4 [4,8):4/4 [8,12):1/4 [12,16):1/4
    np.testing.assert_array_equal(values[:, 0], [0.5, 1.0, 0.25, 0.25])
    np.testing.assert_array_equal(targets("chrZ", 0, 8, 4), np.zeros((2, 2)))
    np.testing.assert_array_equal(BedTargets([bed], summary="sum")("chrA", -4, 4, 4)[:, 0], [0, 2])


def test_bigwig_targets(tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    path = str(tmp_path / "signal.bw")
    handle = pyBigWig.open(path, "w")
    handle.addHeader([("chrA", 50), ("chrB", 13)])
    handle.addEntries(["chrA", "chrA"], [0, 4], ends=[4, 6], values=[2.0, 8.0])
    handle.close()
    targets = BigWigTargets([path])
    values = targets("chrA", 0, 8, 4)
    np.testing.assert_array_equal(values[:, 0], [2.0, 4.0])  # missing bases count as 0
    np.testing.assert_array_equal(targets("chrA", 48, 56, 4)[:, 0], [0.0, 0.0])
    statistics = write_tfrecords(tmp_path / "ds", TINY_FA, [Interval("chrA", 0, 8)], targets, pool_width=4)
    assert statistics["target_names"] == ["signal.bw"]
    (example,) = read_tfrecords(tmp_path / "ds")
    np.testing.assert_array_equal(example["target"][:, 0], [2.0, 4.0])


def test_real_tss_dataset_matches_extractor(shared_dir):
    pytest.importorskip("Bio", reason="bgzip FASTA needs Biopython")
    fasta = FastaExtractor(shared_dir / "data/reference/GRCh37_chr20.fa.gz")
    intervals = read_bed(shared_dir / "data/annotation/GRCh37_chr20_gencode_tss.bed")[:12]
    dataset = interval_dataset(fasta, intervals, sequence_length=2048, use_strand=True, batch_size=4, deterministic=True)
    batches = _numpy(dataset)
    x = np.concatenate(batches)
    assert x.shape == (12, 2048, 4)
    for row, interval in zip(x, intervals):
        window = interval.resize(2048)
        expected = fasta.extract(window.chrom, window.start, window.end, interval.strand)
        np.testing.assert_array_equal(row, one_hot_encode(expected))
        if interval.strand == "-":
            forward = fasta.extract(window.chrom, window.start, window.end)
            np.testing.assert_array_equal(row, reverse_complement(one_hot_encode(forward)))
