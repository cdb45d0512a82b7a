"""Each shared helper has one owner, and its callers agree with it.

Reverse complement (strings, NumPy one-hot, TensorFlow one-hot, integer base
codes), region parsing, training augmentation, test-time augmentation and
BED binning are each computed through the owner and checked against an
independent computation here.
"""

import ast
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from kipoi_genome.data import FastaExtractor, Interval, binned_coverage, parse_region, tf_datasets
from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.intervals import as_intervals, equal_width_intervals
from kipoi_genome.data.transforms import (
    augment,
    one_hot_encode,
    reverse_complement,
    reverse_complement_codes,
)
from kipoi_genome.interpret.augmentation import predict_averaged, predict_averaged_tensor
from kipoi_genome.tokenizers import KmerTokenizer, base_codes

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "kipoi_genome"
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N", "a": "t", "c": "g", "g": "c", "t": "a"}


def _random_sequences(count, length, seed, letters="ACGTNacgt"):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(letters), length)) for _ in range(count)]


def _by_hand(sequence):
    return "".join(COMPLEMENT[c] for c in reversed(sequence))


# Reverse complement --------------------------------------------------------------


def test_reverse_complement_of_strings_one_hot_and_codes_agree():
    sequences = _random_sequences(8, 37, seed=0)
    for sequence in sequences:
        assert reverse_complement(sequence) == _by_hand(sequence)
        assert reverse_complement(sequence.encode()) == _by_hand(sequence).encode()
    upper = [s.upper() for s in sequences]
    one_hot = one_hot_encode(upper)  # (8, 37, 4)
    expected = one_hot_encode([_by_hand(s) for s in upper])
    np.testing.assert_array_equal(reverse_complement(one_hot), expected)
    np.testing.assert_array_equal(tf_datasets.reverse_complement_one_hot(tf.constant(one_hot)).numpy(), expected)
    np.testing.assert_array_equal(tf_datasets.reverse_complement_one_hot(tf.constant(one_hot[0])).numpy(), expected[0])

    codes = np.stack([base_codes(s) for s in sequences])  # N 0, A 1, G 2, C 3, T 4
    expected_codes = np.stack([base_codes(_by_hand(s)) for s in sequences])
    np.testing.assert_array_equal(reverse_complement_codes(codes), expected_codes)
    assert reverse_complement_codes(codes).dtype == codes.dtype
    np.testing.assert_array_equal(reverse_complement_codes(tf.constant(codes, tf.int32)).numpy(), expected_codes)
    graph = tf.function(reverse_complement_codes, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    np.testing.assert_array_equal(graph(tf.constant(codes, tf.int32)).numpy(), expected_codes)


def test_tokenizer_reverse_complement_is_the_owners():
    tokenizer = KmerTokenizer(k=3)
    sequences = _random_sequences(4, 40, seed=1, letters="ACGTN")
    for sequence in sequences:
        np.testing.assert_array_equal(
            tokenizer.tokenize(sequence, reverse_complement=True), tokenizer.tokenize(_by_hand(sequence))
        )
    codes = tf.constant(np.stack([base_codes(s) for s in sequences]), tf.int32)
    np.testing.assert_array_equal(
        tokenizer.tokenize_codes(codes, reverse_complement=True).numpy(),
        np.stack([tokenizer.tokenize(_by_hand(s)) for s in sequences]),
    )


def test_fasta_minus_strand_windows_are_the_owners_reverse_complement(tmp_path):
    (sequence,) = _random_sequences(1, 200, seed=2, letters="ACGTN")
    path = tmp_path / "toy.fa"
    path.write_text(">chrT\n" + "\n".join(sequence[i : i + 60] for i in range(0, 200, 60)) + "\n")
    fasta = FastaExtractor(str(path))
    starts = [0, 17, 150, 190]  # the last runs past the end: N padding
    minus = fasta.extract_one_hot_batch("chrT", starts, 20, "-")
    for row, start in zip(minus, starts):
        forward = (sequence + "N" * 20)[start : start + 20]
        np.testing.assert_array_equal(row, one_hot_encode(_by_hand(forward)))
        assert fasta.extract("chrT", start, start + 20, "-") == _by_hand(forward)


# Region parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("chr20:1-100", Interval("chr20", 0, 100)),
        ("chr20:44,100,001-44,160,000", Interval("chr20", 44_100_000, 44_160_000)),
        ("chrX:5-5", Interval("chrX", 4, 5)),  # one base
        ("HLA-A*01:01:01:01:11-20", Interval("HLA-A*01:01:01:01", 10, 20)),  # colons in the contig
    ],
)
def test_parse_region_documented_examples(text, expected):
    assert parse_region(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("chr20", "must look like chrom:start-end, 1-based inclusive"),
        ("chr20:100", "must look like chrom:start-end"),
        ("chr20:a-100", "must look like chrom:start-end"),
        (":1-100", "must look like chrom:start-end"),
        ("chr20:-5-10", "must look like chrom:start-end"),
        ("chr20:0-100", "1 <= start <= end"),  # a 0-based start is rejected, not shifted
        ("chr20:101-100", "1 <= start <= end"),
    ],
)
def test_parse_region_rejects_bad_text_naming_it(text, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_region(text)
    assert repr(text) in str(error.value)


def test_as_intervals_reads_paths_and_in_memory_items(tmp_path):
    bed = tmp_path / "a.bed"
    bed.write_text("chr1\t5\t10\tx\t0\t-\n")
    assert as_intervals(bed) == [Interval("chr1", 5, 10, "x", "-")]
    assert as_intervals([("chr1", 5, 10), ["chr2", 0, 3, "-"], Interval("chr3", 1, 2)]) == [
        Interval("chr1", 5, 10),
        Interval("chr2", 0, 3, strand="-"),
        Interval("chr3", 1, 2),
    ]
    with pytest.raises(ValueError, match="Received item: 'chr1:5-10'"):
        as_intervals(["chr1:5-10"])
    with pytest.raises(ValueError, match="is empty"):
        as_intervals([])


def test_equal_width_intervals_resizes_or_names_the_odd_one(tmp_path):
    bed = tmp_path / "b.bed"
    bed.write_text("chr1\t0\t10\nchr1\t20\t30\nchr1\t40\t45\n")
    intervals = as_intervals(bed)
    resized, length = equal_width_intervals(intervals, 4)
    assert length == 4 and [(i.start, i.end) for i in resized] == [(3, 7), (23, 27), (40, 44)]
    kept, length = equal_width_intervals(intervals[:2])
    assert length == 10 and kept == intervals[:2]
    with pytest.raises(InputFileError, match=r"b\.bed:3: interval width differs from the first one \(10 bp\)") as error:
        equal_width_intervals(intervals)
    assert str(error.value).endswith("(value '5')")
    with pytest.raises(ValueError, match="length=0"):
        equal_width_intervals(intervals, 0)


# Training augmentation ----------------------------------------------------------------


@pytest.mark.parametrize("pool_width", [1, 4])
def test_augment_batch_is_augment_example_per_example(pool_width):
    rng = np.random.default_rng(3)
    x = one_hot_encode(_random_sequences(12, 32, seed=4, letters="ACGT"))
    y = rng.normal(size=(12, 32 // pool_width, 2)).astype(np.float32)
    seed = tf.constant([5, 6], tf.int64)
    got_x, got_y = tf_datasets.augment_batch(x, y, seed, pool_width, max_shift=3, reverse_complement_prob=0.5)
    seeds = tf.random.experimental.stateless_split(seed, 12)
    draws = set()
    for b in range(12):
        shift, reverse = tf_datasets.random_augmentation(seeds[b], 3, True, 0.5)
        draws.add((int(shift), bool(reverse)))
        expected_x, expected_y = augment(x[b], y[b], int(shift), bool(reverse), pool_width)  # NumPy reference
        np.testing.assert_array_equal(got_x[b].numpy(), expected_x)
        np.testing.assert_array_equal(got_y[b].numpy(), expected_y)
    assert len(draws) > 3 and {r for _, r in draws} == {False, True}
    never = tf_datasets.augment_batch(x, y, seed, pool_width, max_shift=0, reverse_complement_prob=0.0)
    np.testing.assert_array_equal(never[0].numpy(), x)
    with pytest.raises(ValueError, match="reverse_complement_prob=1.5"):
        tf_datasets.augment_batch(x, y, seed, pool_width, reverse_complement_prob=1.5)
    if pool_width > 1:
        with pytest.raises(ValueError, match="max_shift=4, pool_width=4"):
            tf_datasets.augment_batch(x, y, seed, pool_width, max_shift=4)


# Test-time augmentation ------------------------------------------------------------


def _toy_model():
    import keras

    inputs = keras.Input((24, 4))
    hidden = keras.layers.Conv1D(3, 5, padding="same", activation="softplus")(inputs)
    bins = keras.layers.AveragePooling1D(4)(hidden)  # (B, 6, 3): position-dependent
    model = keras.Model(inputs, {"human": bins, "mouse": keras.layers.Dense(2)(bins)})
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_test_time_augmentation_numpy_and_tensor_paths_agree_with_views_by_hand():
    model = _toy_model()
    x = one_hot_encode(_random_sequences(3, 24, seed=8, letters="ACGT"))
    shifts = (-2, 0, 1)
    by_hand = {"human": 0.0, "mouse": 0.0}
    padded = np.pad(x, [(0, 0), (2, 2), (0, 0)])
    for shift in shifts:
        view = padded[:, 2 + shift : 2 + shift + 24]  # the input moved `shift` bp, N beyond it
        forward = model.predict_on_batch(view)
        backward = model.predict_on_batch(np.ascontiguousarray(view[:, ::-1, ::-1]))
        for name in by_hand:
            by_hand[name] = by_hand[name] + forward[name] + backward[name][:, ::-1]
    by_hand = {name: value / (2 * len(shifts)) for name, value in by_hand.items()}

    numpy_path = predict_averaged(model, padded, shifts, reverse_complement=True)
    tensor_path = predict_averaged_tensor(model, tf.constant(x), shifts, reverse_complement=True)
    graph_path = tf.function(lambda t: predict_averaged_tensor(model, t, shifts, True))(tf.constant(x))
    for name in by_hand:
        np.testing.assert_allclose(numpy_path[name], by_hand[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(tensor_path[name].numpy(), by_hand[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(graph_path[name].numpy(), by_hand[name], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shifts=()"):
        predict_averaged_tensor(model, tf.constant(x), ())


# One definition each -----------------------------------------------------------------------


OWNERS = {
    "reverse_complement": "data/transforms.py",
    "reverse_complement_codes": "data/transforms.py",
    "reverse_complement_one_hot": "data/tf_datasets.py",
    "parse_region": "data/intervals.py",
    "augment_batch": "data/tf_datasets.py",
    "shift_sequence": "data/tf_datasets.py",
    "predict_averaged": "interpret/augmentation.py",
    "predict_averaged_tensor": "interpret/augmentation.py",
    "augmented_views": "interpret/augmentation.py",
    "make_strategy": "training/distribute.py",
    "binned_coverage": "data/intervals.py",
    "as_intervals": "data/intervals.py",
    "equal_width_intervals": "data/intervals.py",
    "numpy_batches": "data/tf_datasets.py",
}


def test_each_helper_is_defined_once_in_its_owner():
    found = {name: [] for name in OWNERS}
    aliases = ("_reverse_complement", "_complement", "_strategy", "tta_predict", "_parse_region")
    strays = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                relative = path.relative_to(PACKAGE).as_posix()
                if node.name in found:
                    found[node.name].append(relative)
                elif node.name in aliases:
                    strays.append(f"{relative}:{node.lineno} {node.name}")
    assert found == {name: [owner] for name, owner in OWNERS.items()}
    assert strays == []


# BED binning -------------------------------------------------------------------------


def _covered_by_hand(pairs, start, end, bin_size):
    covered = np.zeros(end - start, bool)
    for lo, hi in pairs:
        covered[max(lo, start) - start : max(min(hi, end) - start, 0)] = True
    return covered.reshape(-1, bin_size).sum(axis=1)


def test_binned_coverage_against_bases_by_hand():
    rng = np.random.default_rng(9)
    for _ in range(200):
        count = int(rng.integers(0, 9))
        starts = rng.integers(-20, 80, count)
        pairs = list(zip(starts, starts + rng.integers(0, 25, count)))
        bin_size, bins = int(rng.integers(1, 7)), int(rng.integers(0, 14))
        start = int(rng.integers(-8, 12))
        got = binned_coverage([p[0] for p in pairs], [p[1] for p in pairs], start, start + bins * bin_size, bin_size)
        np.testing.assert_array_equal(got, _covered_by_hand(pairs, start, start + bins * bin_size, bin_size))
    with pytest.raises(ValueError, match="bin_size=4"):
        binned_coverage([0], [3], 0, 10, 4)
    with pytest.raises(ValueError, match="bin_size=0"):
        binned_coverage([0], [3], 0, 10, 0)


def test_bed_targets_and_genome_tracks_bin_a_bed_alike(tmp_path):
    from kipoi_genome.data import BedTargets
    from kipoi_genome.data.genome_tracks import GenomeTracks

    (sequence,) = _random_sequences(1, 400, seed=10, letters="ACGT")
    fasta = tmp_path / "toy.fa"
    fasta.write_text(">chrT\n" + sequence + "\n")
    pairs = [(3, 40), (30, 70), (65, 66), (200, 260), (250, 255), (390, 420)]  # overlapping, past the end
    bed = tmp_path / "islands.bed"
    bed.write_text("".join(f"chrT\t{lo}\t{hi}\n" for lo, hi in pairs) + "chrU\t0\t100\n")
    expected = _covered_by_hand(pairs, 0, 400, 16) / 16
    genome = GenomeTracks(str(fasta), "chrT", ["cpg_island", "gc"], cpg_islands=str(bed), bin_size=16)
    np.testing.assert_allclose(genome.values[:, 0], expected, rtol=0, atol=1e-7)
    targets = BedTargets([bed], summary="mean")("chrT", 0, 400, 16)[:, 0]
    np.testing.assert_allclose(targets, expected, rtol=0, atol=1e-7)
    gc = [sum(c in "GC" for c in sequence[i : i + 16]) / 16 for i in range(0, 400, 16)]
    np.testing.assert_allclose(genome.values[:, 1], gc, rtol=0, atol=1e-7)
