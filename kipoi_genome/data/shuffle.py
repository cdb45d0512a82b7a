"""Dinucleotide-preserving sequence shuffles (Altschul & Erickson 1985).

- `dinucleotide_counts`: the overlapping two-letter words of a sequence.
- `dinucleotide_shuffle`: a random sequence with exactly the same
  dinucleotide counts (hence the same letter counts, first and last letter),
  drawn uniformly among all such sequences.

Method (Altschul & Erickson 1985, Mol Biol Evol 2:526; the uniform
Euler-path form of Kandel et al. 1996 and uShuffle, Jiang et al. 2008): the
sequence is an Euler path through the multigraph whose vertices are the
letters and whose edges are its dinucleotides. A random arborescence of
"last exits" pointing to the final letter is drawn with Wilson's
loop-erased random walk (each edge weighted by its multiplicity); every
other exit of a letter is put in random order before its last exit; walking
the exits from the first letter spells the shuffle. Every sequence with the
same dinucleotide counts comes out with equal probability (BEST theorem).

Pure Python on str; any alphabet (N and lower case are letters like the
others), so a shuffle of a 600-bp window costs about a millisecond.
"""

import collections

import numpy as np

__all__ = ["dinucleotide_counts", "dinucleotide_shuffle"]


def dinucleotide_counts(sequence):
    """Counts of the overlapping dinucleotides of `sequence`.

    Args:
        sequence: str.

    Returns:
        `collections.Counter` mapping each two-letter word to its count
        (`len(sequence) - 1` words in all).
    """
    return collections.Counter(sequence[i : i + 2] for i in range(len(sequence) - 1))


def dinucleotide_shuffle(sequence, rng=None):
    """A uniformly random sequence with the dinucleotide counts of `sequence`.

    Args:
        sequence: str. Any letters; case is kept as given.
        rng: `numpy.random.Generator`, an int seed, or None (fresh entropy).

    Returns:
        str of the same length, with `dinucleotide_counts` equal to those of
        `sequence` and the same first and last letter. Sequences that have no
        other arrangement (e.g. length < 3, `"ACGT"`) come back unchanged.

    Raises:
        ValueError: `sequence` is not a str.
    """
    if not isinstance(sequence, str):
        raise ValueError(f"dinucleotide_shuffle takes a str. Received: {type(sequence).__name__}")
    if len(sequence) < 3:
        return sequence
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    exits = collections.defaultdict(list)  # letter -> the letters that follow it, one per edge
    for a, b in zip(sequence[:-1], sequence[1:]):
        exits[a].append(b)
    last = sequence[-1]

    # Wilson's algorithm: a random arborescence of last exits rooted at `last`.
    last_exit, in_tree = {}, {last}
    for start in sorted(exits):
        letter = start
        while letter not in in_tree:
            followers = exits[letter]
            last_exit[letter] = followers[rng.integers(len(followers))]
            letter = last_exit[letter]
        letter = start
        while letter not in in_tree:
            in_tree.add(letter)
            letter = last_exit[letter]

    order = {}
    for letter, followers in exits.items():
        followers = list(followers)
        if letter in last_exit:
            followers.remove(last_exit[letter])
        followers = [followers[i] for i in rng.permutation(len(followers))]
        if letter in last_exit:
            followers.append(last_exit[letter])
        order[letter] = followers

    used = collections.Counter()
    letter, out = sequence[0], [sequence[0]]
    for _ in range(len(sequence) - 1):
        following = order[letter][used[letter]]
        used[letter] += 1
        out.append(following)
        letter = following
    return "".join(out)
