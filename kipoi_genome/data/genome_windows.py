"""Random genome windows for masked-LM pre-training: contigs, regions, N filter.

- `read_contig`: one whole contig of a FASTA (through `FastaExtractor`);
  `read_contigs`: several, from one or more FASTAs.
- `pretraining_regions` (one contig) and `genome_regions` (several): the
  training and held-out regions (`chrom:start-end` strings, 1-based
  inclusive as everywhere in the package, or the last `holdout` bp of each
  contig held out), checked not to overlap.
- `RandomWindows`: windows of a region with at most a fraction of N, both
  strands, one reading frame each; `valid_offsets` for a `tf.data` sampler,
  `draw` for a fixed held-out set.
- `RegionWindows`: windows of several regions (e.g. chr20 and chrX) as one
  sampler, each region drawn in proportion to its number of usable windows.
- `window_draws`: `tf.data` of batch `i`'s window starts, strands, reading
  frames and a masking seed, all drawn from stateless seeds `(seed, i)`, so
  a run resumed at batch `s` continues the exact stream.

Tokenization and masking (the LOGO model's side) are applied on top by
`kipoi_genome.training.logo_tasks`.
"""

import functools
import os

import numpy as np

from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import parse_region
from kipoi_genome.data.transforms import reverse_complement

__all__ = [
    "RandomWindows",
    "RegionWindows",
    "genome_regions",
    "parse_holdout",
    "pretraining_regions",
    "read_contig",
    "read_contigs",
    "window_draws",
]


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


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    return list(value)


def read_contigs(fasta_paths, contigs=None):
    """Reads whole contigs from one or more FASTAs as upper-case strs.

    Args:
        fasta_paths: str or path-like, or a list of them. Plain or bgzip
            FASTAs (indexed on first use, see `FastaExtractor`).
        contigs: None or a list of contig names. None takes the first
            contig of each FASTA; a name is read from the FASTA that holds it.

    Returns:
        dict contig -> sequence, in the order of `contigs` (or of the FASTAs).

    Raises:
        InputFileError: a missing, damaged or unindexable FASTA.
        ValueError: a contig in none of the FASTAs, in several of them, or
            asked for twice.
    """
    paths = _as_list(fasta_paths)
    if not paths:
        raise ValueError(f"At least one FASTA is needed. Received: fasta_paths={fasta_paths!r}")
    fastas = []
    try:
        for path in paths:
            fastas.append(FastaExtractor(path, uppercase=True, in_memory=True))
        lengths = [fasta.chromosome_lengths for fasta in fastas]
        if not contigs:
            wanted = [(fasta, next(iter(length))) for fasta, length in zip(fastas, lengths)]
        else:
            wanted = []
            for name in _as_list(contigs):
                holders = [fasta for fasta, length in zip(fastas, lengths) if name in length]
                if len(holders) != 1:
                    where = "none" if not holders else "each"
                    raise ValueError(
                        f"Contig must be in exactly one FASTA; it is in {where} of "
                        f"{', '.join(str(fasta.path) for fasta in fastas)}. Received: contig={name!r}"
                    )
                wanted.append((holders[0], name))
        names = [name for _, name in wanted]
        if len(set(names)) != len(names):
            raise ValueError(f"Each contig may be read once. Received contigs: {names}")
        return {name: fasta.extract(name, 0, fasta.chromosome_lengths[name]) for fasta, name in wanted}
    finally:
        for fasta in fastas:
            fasta.close()


def parse_holdout(values):
    """`--holdout` values (`N` for every contig, `CONTIG=N` for one) -> int or dict.

    Args:
        values: int, str, or a list of them (`["10000000", "chrX=7000000"]`).

    Returns:
        int when one plain length is given; else a dict contig -> bp with the
        plain length (default 10,000,000) under `"*"`.

    Raises:
        ValueError: a value that is not a positive integer.
    """
    holdout = {}
    for value in _as_list(values) if not isinstance(values, int) else [values]:
        contig, _, length = str(value).rpartition("=") if "=" in str(value) else ("*", "", str(value))
        try:
            bp = int(length.replace(",", "").replace("_", ""))
        except ValueError:
            bp = 0
        if bp <= 0 or not contig:
            raise ValueError(f"--holdout takes N or CONTIG=N with N a positive number of bp. Received: {value!r}")
        holdout[contig] = bp
    if list(holdout) == ["*"]:
        return holdout["*"]
    return {"*": 10_000_000, **holdout} if holdout else 10_000_000


def _holdout_for(holdout, contig):
    if isinstance(holdout, dict):
        return int(holdout.get(contig, holdout.get("*", 10_000_000)))
    return int(holdout)


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
    (train,), (evaluation,) = genome_regions({contig: length}, train_region, eval_region, holdout)
    return train, evaluation


def genome_regions(lengths, train_regions=None, eval_regions=None, holdout=10_000_000):
    """Training and held-out regions of several contigs, 0-based half-open.

    Args:
        lengths: dict contig -> length (the contigs in use, in order).
        train_regions, eval_regions: `chrom:start-end` strings (1-based
            inclusive, as samtools and `data.intervals.parse_region`), a list
            of them, or None. Defaults: every contig but its last held-out
            bp, and those bp.
        holdout: int (bp held out at the end of EACH contig) or a dict
            contig -> bp with an optional `"*"` default (`parse_holdout`).

    Returns:
        `(train, evaluation)`: lists of `(contig, start, end)`.

    Raises:
        ValueError: a region off its contig or on a contig not in use, a
            holdout not inside its contig, or a training region overlapping
            a held-out one.
    """
    if isinstance(holdout, dict):
        unknown = sorted(set(holdout) - set(lengths) - {"*"})
        if unknown:
            raise ValueError(f"--holdout names contig(s) not in use {unknown}; in use: {list(lengths)}")

    def parsed(region):
        interval = parse_region(region)
        return (interval.chrom, interval.start, interval.end)

    train = [parsed(region) for region in _as_list(train_regions)]
    evaluation = [parsed(region) for region in _as_list(eval_regions)]
    if not train or not evaluation:
        for contig, length in lengths.items():
            held = _holdout_for(holdout, contig)
            if not train_regions:
                train.append((contig, 0, length - held))
            if not eval_regions:
                evaluation.append((contig, length - held, length))
    for region in train + evaluation:
        length = lengths.get(region[0])
        if length is None or region[1] < 0 or region[1] >= region[2] or region[2] > length:
            where = f"contig {region[0]} of length {length}" if length is not None else f"the contigs {list(lengths)}"
            raise ValueError(
                f"Region is not inside {where}. "
                f"Received: {region[0]}:{region[1] + 1}-{region[2]} (holdout={holdout})"
            )
    for a in train:
        for b in evaluation:
            if a[0] == b[0] and a[1] < b[2] and b[1] < a[2]:
                raise ValueError(
                    f"The training region overlaps the held-out region. Received: "
                    f"{a[0]}:{a[1] + 1}-{a[2]} and {b[0]}:{b[1] + 1}-{b[2]}"
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
        self._n_cumsum = np.concatenate([np.zeros(1, np.int32), np.cumsum(region == ord("N"), dtype=np.int32)])

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


class RegionWindows:
    """Random windows of several regions (e.g. chr20 and chrX) as one sampler.

    The regions' sequences are laid end to end in `region` and their valid
    window starts shifted accordingly into `valid_offsets`, so a sampler
    that draws uniformly among `valid_offsets` (`window_draws`) takes each
    region in proportion to its number of usable windows (its length less
    its N-rich stretches), and no window crosses from one region into the
    next. With one region it is that region's `RandomWindows` unchanged.

    Args:
        parts: list of `RandomWindows` with the same tokenizer k and window
            length.
    """

    def __init__(self, parts):
        parts = list(parts)
        if not parts:
            raise ValueError("RegionWindows needs at least one region. Received: parts=[]")
        shapes = {(part.tokenizer.k, part.window_length) for part in parts}
        if len(shapes) != 1:
            raise ValueError(f"All regions must share k and window length. Received (k, window_length): {sorted(shapes)}")
        sizes = [part.end - part.start for part in parts]
        if sum(sizes) > np.iinfo(np.int32).max:
            raise ValueError(f"The regions exceed 2**31 - 1 bp together. Received: {sum(sizes)} bp")
        self.parts = parts
        self.tokenizer = parts[0].tokenizer
        self.window_length = parts[0].window_length
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)  # each part's first index

    @functools.cached_property
    def region(self):
        """str: the regions' sequences, end to end."""
        if len(self.parts) == 1:
            return self.parts[0].region
        return "".join(part.region for part in self.parts)

    @functools.cached_property
    def valid_offsets(self):
        """int32 offsets (into `region`) of every window with few enough N."""
        return np.concatenate(
            [part.valid_offsets.astype(np.int64) + start for part, start in zip(self.parts, self.starts)]
        ).astype(np.int32)

    def locate(self, offsets):
        """`(part index, offset within that part's region)` of offsets into `region` (arrays)."""
        offsets = np.asarray(offsets, np.int64)
        index = np.searchsorted(self.starts, offsets, side="right") - 1
        return index, offsets - self.starts[index]


def window_draws(windows, batch_size, seed=0, first_batch=0):
    """`tf.data` of the random choices of each batch of windows.

    Batch `i` draws `batch_size` window starts among `windows.valid_offsets`,
    strands and reading frames, and a seed for masking, from stateless seeds
    derived from `(seed, i)`: the stream is a pure function of `(seed, i)`,
    so a run resumed at batch `s` (`first_batch=s`) continues exactly where
    an uninterrupted run would be.

    Args:
        windows: `RandomWindows` or `RegionWindows`.
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
