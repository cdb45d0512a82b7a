"""Dinucleotide-preserving shuffles (kipoi_genome/data/shuffle.py).

Counts are checked against `collections.Counter` over the overlapping words,
and uniformity against a brute-force enumeration of every arrangement of a
short sequence with its first letter and dinucleotide counts.
"""

import collections

import numpy as np
import pytest
from scipy.stats import chisquare

from kipoi_genome.data.shuffle import dinucleotide_counts, dinucleotide_shuffle

try:
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:  # the property test skips itself
    given = None


def _words(sequence):
    return sorted(sequence[i] + sequence[i + 1] for i in range(len(sequence) - 1))


def test_a_promoter_keeps_its_exact_dinucleotide_counts_and_changes():
    rng = np.random.default_rng(3)
    sequence = "".join(rng.choice(list("ACGT"), 600, p=[0.2, 0.3, 0.3, 0.2]))
    shuffled = dinucleotide_shuffle(sequence, rng=11)
    assert len(shuffled) == 600 and shuffled != sequence
    assert _words(shuffled) == _words(sequence)
    assert dinucleotide_counts(shuffled) == dinucleotide_counts(sequence)
    assert sum(dinucleotide_counts(sequence).values()) == 599
    assert shuffled.count("CG") == sequence.count("CG") and sorted(shuffled) == sorted(sequence)
    assert (shuffled[0], shuffled[-1]) == (sequence[0], sequence[-1])
    # Same seed, same shuffle; another seed, another one; most positions change.
    assert dinucleotide_shuffle(sequence, rng=11) == shuffled != dinucleotide_shuffle(sequence, rng=12)
    assert sum(a != b for a, b in zip(sequence, shuffled)) > 300
    # Trinucleotide counts are not kept (the shuffle destroys longer words).
    triplets = lambda s: collections.Counter(s[i : i + 3] for i in range(len(s) - 2))  # noqa: E731
    assert triplets(shuffled) != triplets(sequence)


def test_sequences_with_one_arrangement_come_back_unchanged():
    for sequence in ("", "A", "AC", "ACGT", "AAAA", "ACGTN"):
        assert dinucleotide_shuffle(sequence, rng=0) == sequence
    with pytest.raises(ValueError, match="Received: bytes"):
        dinucleotide_shuffle(b"ACGT")


def _all_arrangements(sequence):
    """Every sequence with the same first letter and dinucleotide counts (exhaustive search)."""
    found = set()

    def extend(prefix, left):
        if not sum(left.values()):
            found.add(prefix)
        for word in [w for w, n in left.items() if n and w[0] == prefix[-1]]:
            left[word] -= 1
            extend(prefix + word[1], left)
            left[word] += 1

    extend(sequence[0], collections.Counter(_words(sequence)))
    return found


def test_every_arrangement_is_drawn_with_equal_probability():
    sequence = "ACAGTACGAT"  # A visited 4 times: several loops to order
    arrangements = sorted(_all_arrangements(sequence))
    assert len(arrangements) >= 10
    rng = np.random.default_rng(2024)
    draws = collections.Counter(dinucleotide_shuffle(sequence, rng) for _ in range(400 * len(arrangements)))
    assert set(draws) == set(arrangements)  # nothing else is ever drawn, and everything is
    observed = [draws[a] for a in arrangements]
    # Uniform: 400 expected per arrangement; a biased arborescence or exit order fails this by far.
    assert chisquare(observed).pvalue > 1e-3, observed
    assert max(observed) / min(observed) < 1.6


if given is not None:

    @given(st.text(alphabet="ACGTNacgt", max_size=300), st.integers(0, 2**32 - 1))
    def test_property_counts_first_and_last_letter_are_kept(sequence, seed):
        shuffled = dinucleotide_shuffle(sequence, rng=seed)
        assert len(shuffled) == len(sequence)
        assert dinucleotide_counts(shuffled) == dinucleotide_counts(sequence)
        assert collections.Counter(shuffled) == collections.Counter(sequence)
        if sequence:
            assert (shuffled[0], shuffled[-1]) == (sequence[0], sequence[-1])
        assert dinucleotide_shuffle(sequence, rng=seed) == shuffled

else:

    def test_property_counts_first_and_last_letter_are_kept():
        pytest.skip("hypothesis not installed")
