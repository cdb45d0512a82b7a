"""Pure NumPy transforms: one-hot, reverse complement, resize, shifts, augmentation."""

import numpy as np
import pytest

from kipoi_genome.data import (
    augment,
    check_sequence,
    one_hot_decode,
    one_hot_encode,
    pad_or_trim,
    resize_interval,
    reverse_complement,
    shift_one_hot,
)

A, C, G, T = np.eye(4, dtype=np.float32)
Z = np.zeros(4, dtype=np.float32)


def test_one_hot_acgt_order_and_n_zero():
    x = one_hot_encode("ACGTN")
    assert x.dtype == np.float32 and x.shape == (5, 4)
    np.testing.assert_array_equal(x, np.stack([A, C, G, T, Z]))


def test_one_hot_lower_case_equals_upper_case():
    np.testing.assert_array_equal(one_hot_encode("acgtn"), one_hot_encode("ACGTN"))
    np.testing.assert_array_equal(one_hot_encode("aCgT"), np.stack([A, C, G, T]))


def test_one_hot_neutral_value_is_configurable():
    x = one_hot_encode("NAn", neutral_value=0.25)
    np.testing.assert_array_equal(x, [[0.25] * 4, A, [0.25] * 4])


def test_one_hot_iupac_neutral_and_fractional():
    np.testing.assert_array_equal(one_hot_encode("RYSWKMBDHV"), np.zeros((10, 4), np.float32))
    x = one_hot_encode("RyBN", ambiguity="fractional")
    np.testing.assert_allclose(
        x,
        [[0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5], [0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0, 0]],
        rtol=1e-6,
    )


def test_one_hot_dtype_bytes_and_batch():
    assert one_hot_encode(b"AC", dtype="float16").dtype == np.float16
    batch = one_hot_encode(["AC", "GT"])
    assert batch.shape == (2, 2, 4)
    np.testing.assert_array_equal(batch[1], np.stack([G, T]))
    with pytest.raises(ValueError, match="same length"):
        one_hot_encode(["A", "GT"])


def test_one_hot_empty_sequence():
    assert one_hot_encode("").shape == (0, 4)


@pytest.mark.parametrize("bad, position", [("ACG-T", 3), ("AC*", 2), ("UACG", 0), ("AC1", 2), ("ACGé", 3)])
def test_one_hot_rejects_non_acgtn(bad, position):
    with pytest.raises(ValueError, match=f"at position {position}"):
        one_hot_encode(bad)
    with pytest.raises(ValueError, match="position"):
        check_sequence(bad)


def test_one_hot_non_strict_encodes_unknown_as_neutral():
    np.testing.assert_array_equal(one_hot_encode("A-", strict=False), np.stack([A, Z]))


def test_one_hot_bad_arguments():
    with pytest.raises(ValueError, match="ambiguity='maybe'"):
        one_hot_encode("A", ambiguity="maybe")
    with pytest.raises(ValueError, match="neutral_value='x'"):
        one_hot_encode("A", neutral_value="x")
    with pytest.raises(TypeError, match="int"):
        one_hot_encode(5)


def test_one_hot_decode_round_trip():
    assert one_hot_decode(one_hot_encode("ACGTNacgtR")) == "ACGTNACGTN"
    assert one_hot_decode(one_hot_encode("ACN", neutral_value=0.25)) == "ACN"


def test_reverse_complement_string_keeps_case_and_iupac():
    assert reverse_complement("ACGTN") == "NACGT"
    assert reverse_complement("aacG") == "Cgtt"
    assert reverse_complement("RYKMBVDHSW") == "WSDHBVKMRY"
    assert reverse_complement(b"AAC") == b"GTT"


def test_reverse_complement_one_hot_matches_string():
    seq = "ACGGTNNAcT"
    np.testing.assert_array_equal(
        reverse_complement(one_hot_encode(seq)), one_hot_encode(reverse_complement(seq))
    )
    batch = one_hot_encode([seq, seq])
    assert reverse_complement(batch).shape == (2, 10, 4)
    with pytest.raises(ValueError, match="shape"):
        reverse_complement(np.zeros((3, 5)))


def test_resize_interval_around_centre():
    assert resize_interval(10, 20, 4) == (13, 17)
    assert resize_interval(10, 11, 5) == (8, 13)
    assert resize_interval(0, 2, 10) == (-4, 6)  # may start before 0; extraction pads
    with pytest.raises(ValueError, match="length=0"):
        resize_interval(0, 2, 0)


def test_pad_or_trim():
    assert pad_or_trim("ACGT", 7) == "NACGTNN"
    assert pad_or_trim("ACGTAC", 3) == "CGT"
    assert pad_or_trim("AC", 2) == "AC"
    with pytest.raises(ValueError, match="length=-1"):
        pad_or_trim("A", -1)


def test_shift_one_hot_moves_content_with_n_fill():
    x = one_hot_encode("ACGT")
    np.testing.assert_array_equal(shift_one_hot(x, 1), np.stack([Z, A, C, G]))
    np.testing.assert_array_equal(shift_one_hot(x, -2), np.stack([G, T, Z, Z]))
    np.testing.assert_array_equal(shift_one_hot(x, 0), x)
    np.testing.assert_array_equal(shift_one_hot(x, 9), np.zeros((4, 4)))


def test_augment_base_resolution_targets_follow_sequence():
    seq = "ACGTTGCA"
    x = one_hot_encode(seq)
    # A base-resolution target that is a function of the base: A=1, C=2, G=3, T=4.
    y = (x @ np.array([1.0, 2.0, 3.0, 4.0], np.float32))[:, None]
    for shift in range(-3, 4):
        for reverse in (False, True):
            xa, ya = augment(x, y, shift=shift, reverse=reverse, pool_width=1)
            # The target of each position still describes the base at that
            # position (on the strand that is read, for the reverse complement).
            value = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
            if reverse:
                expected = (reverse_complement(xa) @ value)[::-1][:, None]
            else:
                expected = (xa @ value)[:, None]
            np.testing.assert_array_equal(ya, expected)


def test_augment_binned_targets_reverse_and_reject_large_shifts():
    x = one_hot_encode("ACGTACGT")
    y = np.arange(8, dtype=np.float32).reshape(4, 2)  # 4 bins of 2 bp, 2 tracks
    xa, ya = augment(x, y, shift=1, reverse=False, pool_width=2)
    np.testing.assert_array_equal(ya, y)
    np.testing.assert_array_equal(xa, shift_one_hot(x, 1))
    xa, ya = augment(x, y, shift=-1, reverse=True, pool_width=2)
    np.testing.assert_array_equal(ya, y[::-1])
    np.testing.assert_array_equal(xa, reverse_complement(shift_one_hot(x, -1)))
    with pytest.raises(ValueError, match="shift=2, pool_width=2"):
        augment(x, y, shift=2, pool_width=2)


@pytest.mark.parametrize("length", [255, 256, 257, 1001, 4096])
@pytest.mark.parametrize("neutral_value, ambiguity", [(0.0, "neutral"), (0.25, "fractional")])
def test_one_hot_long_sequences_match_per_base_table(length, neutral_value, ambiguity):
    # Long inputs are encoded two bases per lookup; compare with one base per row.
    rng = np.random.default_rng(length)
    seq = "".join(rng.choice(list("ACGTNacgtnRYkm"), length).tolist())
    expected = np.stack([one_hot_encode(base, neutral_value, ambiguity=ambiguity)[0] for base in seq])
    got = one_hot_encode(seq, neutral_value, ambiguity=ambiguity)
    assert got.shape == (length, 4) and got.flags["C_CONTIGUOUS"] and got.flags["WRITEABLE"]
    np.testing.assert_array_equal(got, expected)
