"""Random genome windows for masked-LM pre-training: one contig, regions, N filter.

- `read_contig`: one whole contig of a FASTA (through `FastaExtractor`).
- `pretraining_regions`: the training and held-out regions of a contig
  (`chrom:start-end` strings, 1-based inclusive as everywhere in the
  package, or the last `holdout` bp held out), checked not to overlap.
- `RandomWindows`: windows of a region with at most a fraction of N, both
  strands, one reading frame each; `valid_offsets` for a `tf.data` sampler,
  `draw` for a fixed held-out set.
- `window_draws`: `tf.data` of batch `i`'s window starts, strands, reading
  frames and a masking seed, all drawn from stateless seeds `(seed, i)`, so
  a run resumed at batch `s` continues the exact stream.

Tokenization and masking (the LOGO model's side) are applied on top by
`kipoi_genome.training.logo_tasks`.
"""

import functools

import numpy as np

from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import parse_region
from kipoi_genome.data.transforms import reverse_complement

__all__ = ["RandomWindows", "pretraining_regions", "read_contig", "window_draws"]


def read_contig(fasta_path, contig=None):
    """Reads one whole contig of a FASTA as an upper-case str.

    Args:
        fasta_path: str or path-like. Plain or bgzip FASTA (indexed on first
            use, see `FastaExtractor`).
        contig: str or None. The contig; None takes the first one.

    Returns:
        `(sequence, contig)`.

    Raises:
        InputFileError: a missing, damaged or unindexable FASTA.
        ValueError: `contig` is not in the FASTA.
    """
    fasta = FastaExtractor(fasta_path, uppercase=True, in_memory=True)
    try:
        lengths = fasta.chromosome_lengths
        if contig is None:
            contig = next(iter(lengths))
        if contig not in lengths:
            raise ValueError(f"Contig not found in {fasta.path}. Received: contig={contig!r}")
        return fasta.extract(contig, 0, lengths[contig]), contig
    finally:
        fasta.close()


def pretraining_regions(contig, length, train_region=None, eval_region=None, holdout=10_000_000):
    """The training and held-out regions of a contig, 0-based half-open.

    Args:
        contig: str. The contig's name.
        length: int. Its length.
        train_region, eval_region: `chrom:start-end` (1-based inclusive, as
            samtools and `data.intervals.parse_region`) or None. Defaults:
            everything but the last `holdout` bp, and those bp.
        holdout: int. Held-out length at the contig's end when a region is
            not given.

    Returns:
        `((contig, start, end), (contig, start, end))` for training and
        held-out evaluation.

    Raises:
        ValueError: a region off the contig, or overlapping regions.
    """
    if train_region:
        interval = parse_region(train_region)
        train = (interval.chrom, interval.start, interval.end)
    else:
        train = (contig, 0, length - holdout)
    if eval_region:
        interval = parse_region(eval_region)
        evaluation = (interval.chrom, interval.start, interval.end)
    else:
        evaluation = (contig, length - holdout, length)
    for region in (train, evaluation):
        if region[0] != contig or region[1] < 0 or region[1] >= region[2] or region[2] > length:
            raise ValueError(
                f"Region is not inside contig {contig} of length {length}. "
                f"Received: {region[0]}:{region[1] + 1}-{region[2]} (holdout={holdout})"
            )
    if train[1] < evaluation[2] and evaluation[1] < train[2]:
        raise ValueError(
            f"The training region overlaps the held-out region. Received: "
            f"{contig}:{train[1] + 1}-{train[2]} and {contig}:{evaluation[1] + 1}-{evaluation[2]}"
        )
    return train, evaluation


class RandomWindows:
    """Random windows of a sequence region: both strands, N-filtered.

    Each draw takes a uniform start in `[start, end - window_length]`, skips
    windows whose N fraction exceeds `max_n_fraction`, reverse-complements
    with probability 1/2 and picks one of the tokenizer's `k` reading frames.

    Args:
        sequence: str, the contig.
        start, end: int. Region (0-based, half-open) windows must lie in.
        tokenizer: the k-mer tokenizer of the model (`KmerTokenizer`):
            `k` reading frames; `tokenize` for iteration.
        window_length: int. Defaults to 1,004 (200 tokens per frame at k=5).
        max_n_fraction: float. Defaults to 0.05.
        seed: int.
    """

    def __init__(self, sequence, start, end, tokenizer, window_length=1004, max_n_fraction=0.05, seed=0):
        if end - start < window_length:
            raise ValueError(
                f"Region is shorter than a window. Received: {end - start} bp < {window_length} bp"
            )
        self.sequence = sequence
        self.start, self.end = start, end
        self.tokenizer = tokenizer
        self.window_length = window_length
        self.max_n_fraction = max_n_fraction
        self.rng = np.random.default_rng(seed)
        region = np.frombuffer(sequence[start:end].encode("ascii"), np.uint8)
        self._n_cumsum = np.concatenate([[0], np.cumsum(region == ord("N"))])

    @property
    def region(self):
        """str: the region's sequence `[end - start]`."""
        return self.sequence[self.start : self.end]

    @functools.cached_property
    def valid_offsets(self):
        """int32 offsets (from `start`) of every window with few enough N."""
        counts = self._n_cumsum[self.window_length :] - self._n_cumsum[: -self.window_length]
        valid = np.flatnonzero(counts / self.window_length <= self.max_n_fraction).astype(np.int32)
        if not len(valid):
            raise ValueError(
                f"No window of {self.window_length} bp in {self.start}-{self.end} has at most "
                f"{self.max_n_fraction:.0%} N."
            )
        return valid

    def n_fraction(self, offset):
        """Fraction of N in the window at `offset` (from `start`)."""
        n = self._n_cumsum[offset + self.window_length] - self._n_cumsum[offset]
        return n / self.window_length

    def draw(self):
        """Returns `(window_string, strand, frame)` of one accepted window."""
        limit = self.end - self.start - self.window_length
        for _ in range(10_000):
            offset = int(self.rng.integers(0, limit + 1))
            if self.n_fraction(offset) <= self.max_n_fraction:
                break
        else:
            raise ValueError("No window with few enough N found in 10,000 draws.")
        window = self.sequence[self.start + offset : self.start + offset + self.window_length]
        strand = int(self.rng.integers(0, 2))
        frame = int(self.rng.integers(0, self.tokenizer.k))
        return (reverse_complement(window) if strand else window), strand, frame

    def __iter__(self):
        while True:
            window, _, frame = self.draw()
            yield self.tokenizer.tokenize(window)[frame]


def window_draws(windows, batch_size, seed=0, first_batch=0):
    """`tf.data` of the random choices of each batch of windows.

    Batch `i` draws `batch_size` window starts among `windows.valid_offsets`,
    strands and reading frames, and a seed for masking, from stateless seeds
    derived from `(seed, i)`: the stream is a pure function of `(seed, i)`,
    so a run resumed at batch `s` (`first_batch=s`) continues exactly where
    an uninterrupted run would be.

    Args:
        windows: `RandomWindows`.
        batch_size: int. Windows per batch.
        seed: int.
        first_batch: int. Index of the first batch produced.

    Returns:
        Infinite `tf.data.Dataset` of dicts: `offsets` int32 `[B]` (from the
        region's start), `strands` int32 `[B]` (1: reverse complement),
        `frames` int32 `[B]`, `mask_seed` int64 `[2]`.
    """
    import tensorflow as tf

    offsets = tf.constant(windows.valid_offsets)  # int32 [V]
    num_offsets = tf.constant(len(windows.valid_offsets), tf.int32)
    k = windows.tokenizer.k

    def draw(index):
        seeds = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), index]), 4)
        pick = tf.random.stateless_uniform([batch_size], seeds[0], 0, num_offsets, dtype=tf.int32)
        return {
            "offsets": tf.gather(offsets, pick),
            "strands": tf.random.stateless_uniform([batch_size], seeds[1], 0, 2, dtype=tf.int32),
            "frames": tf.random.stateless_uniform([batch_size], seeds[2], 0, k, dtype=tf.int32),
            "mask_seed": seeds[3],
        }

    return tf.data.Dataset.counter(start=first_batch).map(draw, num_parallel_calls=tf.data.AUTOTUNE)
