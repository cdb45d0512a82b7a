"""A synthetic long-range task on real DNA: a distal motif sets the centre's signal.

Each example is a background window — real chromosome sequence
(`background: genome`, with genomic composition and repeats) or uniform
random DNA (`background: random`) — into which `k` motif elements are written,
`k` uniform in `0..max_copies`; an element is the motif repeated
`motif_repeats` times in tandem (a motif array, 256 bp by default), and each
element's centre lies `min_distance..max_distance` bp (default 30-60 kb)
upstream or downstream of the window centre, side and distance drawn
independently (elements never overlap). The target is one track over the
central `target_length` bins, constant over them: `baseline + k * per_copy`.
Nothing near the centre carries information, so a model whose receptive
field around the centre is smaller than `min_distance` cannot beat predicting
the mean (Pearson R ~ 0), while a model that attends over the whole window
can.

Data config keys (`data:` of a `tracks` task with `source: longrange`):

```yaml
data:
  source: longrange
  fasta: ../shared/data/reference/GRCh37_chr20.fa.gz
  chrom: chr20
  heldout: chr20:42000001-47000000   # evaluation backgrounds come from here only
  background: genome                 # genome | random (uniform ACGT; fasta still read for N-free windows)
  sequence_length: 131072
  target_length: 8
  motif: TTGACGTCATGCGTAC
  motif_repeats: 16
  max_copies: 3
  min_distance: 30000
  max_distance: 60000
  baseline: 0.5
  per_copy: 2.0
  eval_examples: 64
  augment: {max_shift: 3, reverse_complement_prob: 0.5}
```
"""

import functools
import os

import numpy as np
import tensorflow as tf

from kipoi_genome.data import FastaExtractor, one_hot_encode, parse_region
from kipoi_genome.data.tf_datasets import augment_batch
from kipoi_genome.training.task import DataStream

__all__ = ["LongRangeTask", "build_streams"]


class LongRangeTask:
    """Generates long-range examples from a chromosome (see module docstring).

    Args:
        fasta: str. FASTA holding `chrom`.
        chrom: str. Contig.
        heldout: (start, end). 0-based region reserved for evaluation backgrounds.
        sequence_length, target_length, bin_size: ints. Window and target geometry.
        motif: str. ACGT motif written into the background.
        motif_repeats: int. Tandem copies of the motif in one element.
        max_copies: int. The number of elements k is uniform in 0..max_copies.
        min_distance, max_distance: ints. Distance of each element's centre
            from the window centre, in bp.
        baseline, per_copy: floats. Target = baseline + k * per_copy.
        max_n_fraction: float. Backgrounds with more N are skipped.
        background: str. `"genome"` (windows of `chrom`) or `"random"`
            (uniform i.i.d. bases drawn from the example's generator).
    """

    def __init__(
        self,
        fasta,
        chrom,
        heldout,
        sequence_length=131072,
        target_length=8,
        bin_size=128,
        motif="TTGACGTCATGCGTAC",
        motif_repeats=16,
        max_copies=3,
        min_distance=30000,
        max_distance=60000,
        baseline=0.5,
        per_copy=2.0,
        max_n_fraction=0.01,
        background="genome",
    ):
        if background not in ("genome", "random"):
            raise ValueError(f"`background` must be 'genome' or 'random'. Received: background={background!r}")
        self.background = background
        if not fasta or not os.path.isfile(fasta):
            raise FileNotFoundError(f"`data.fasta` file not found: {fasta!r} (relative paths are from {os.getcwd()})")
        if not set(motif) <= set("ACGT") or not motif:
            raise ValueError(f"`motif` must be a non-empty ACGT string. Received: motif={motif!r}")
        half = sequence_length // 2
        element = len(motif) * int(motif_repeats)
        if int(motif_repeats) < 1:
            raise ValueError(f"`motif_repeats` must be >= 1. Received: motif_repeats={motif_repeats}")
        if not element // 2 < min_distance <= max_distance or max_distance + element > half:
            raise ValueError(
                "Need element/2 < min_distance <= max_distance and elements inside the window "
                f"(half-length {half}). Received: min_distance={min_distance}, "
                f"max_distance={max_distance}, element length={element}"
            )
        if (max_distance - min_distance) < 2 * max_copies * element:
            raise ValueError(
                "The 30-60 kb style band is too narrow for non-overlapping elements. "
                f"Received: min_distance={min_distance}, max_distance={max_distance}, max_copies={max_copies}"
            )
        self.fasta = FastaExtractor(fasta, uppercase=True, in_memory=True)
        self.chrom = chrom
        self.sequence_length = int(sequence_length)
        self.target_length = int(target_length)
        self.bin_size = int(bin_size)
        self.motif = one_hot_encode(motif).astype(np.float32)  # (m, 4)
        self.element = np.tile(self.motif, (int(motif_repeats), 1))  # (m * repeats, 4)
        self.max_copies = int(max_copies)
        self.min_distance, self.max_distance = int(min_distance), int(max_distance)
        self.baseline, self.per_copy = float(baseline), float(per_copy)
        length = self.fasta.chromosome_length(chrom)
        codes = np.frombuffer(self.fasta.extract_bytes(chrom, 0, length), np.uint8)
        step = 1024
        n_blocks = (codes[: length // step * step].reshape(-1, step) == ord("N")).sum(1)
        blocks = self.sequence_length // step
        n_cumsum = np.concatenate([[0], np.cumsum(n_blocks)])
        first = np.arange(len(n_blocks) - blocks + 1)
        ok = (n_cumsum[first + blocks] - n_cumsum[first]) <= max_n_fraction * self.sequence_length
        starts = first[ok] * step
        inside = (starts >= heldout[0]) & (starts + self.sequence_length <= heldout[1])
        outside = (starts + self.sequence_length <= heldout[0]) | (starts >= heldout[1])
        self.train_starts = starts[outside].astype(np.int64)
        self.eval_starts = starts[inside].astype(np.int64)
        if not len(self.train_starts) or not len(self.eval_starts):
            raise ValueError(f"No usable backgrounds outside/inside heldout={heldout} for {chrom}.")

    def examples(self, rng, starts, count):
        """`count` examples with backgrounds drawn from `starts` by `rng`.

        Returns:
            `(one_hot (count, L, 4), targets (count, T, 1), copies (count,))`.
        """
        if self.background == "random":
            bases = rng.integers(0, 4, size=(count, self.sequence_length))
            one_hot = np.eye(4, dtype=np.float32)[bases]
        else:
            chosen = starts[rng.integers(0, len(starts), size=count)] + rng.integers(0, 1024, size=count)
            one_hot = self.fasta.extract_one_hot_batch(self.chrom, chosen.tolist(), self.sequence_length)
        copies = rng.integers(0, self.max_copies + 1, size=count)
        centre = self.sequence_length // 2
        width = len(self.element)
        for row, k in enumerate(copies):
            placed = []
            while len(placed) < k:
                side = rng.choice([-1, 1])
                middle = centre + side * int(rng.integers(self.min_distance, self.max_distance + 1))
                start = middle - width // 2
                if all(abs(start - other) >= width for other in placed):
                    placed.append(start)
            for start in placed:
                one_hot[row, start : start + width] = self.element
        targets = self.baseline + self.per_copy * copies.astype(np.float32)
        targets = np.broadcast_to(targets[:, None, None], (count, self.target_length, 1))
        return one_hot.astype(np.float32), np.ascontiguousarray(targets, np.float32), copies


def _dataset(make, start_batch, stop, batch_size, task):
    def wrapped(index):
        x, y = tf.numpy_function(make, [index], (tf.float32, tf.float32), stateful=False)
        x.set_shape([batch_size, task.sequence_length, 4])
        y.set_shape([batch_size, task.target_length, 1])
        return x, y

    return tf.data.Dataset.range(start_batch, stop).map(wrapped)


def training_dataset(global_batch_size, seed, start_batch, task, stream_id=0, augment=None):
    """Infinite training batches; batch i depends only on (seed, stream_id, i)."""

    def make(index):
        rng = np.random.default_rng([int(seed), int(stream_id), int(index)])
        x, y, _ = task.examples(rng, task.train_starts, global_batch_size)
        return x, y

    dataset = _dataset(make, start_batch, np.iinfo(np.int64).max, global_batch_size, task)
    if augment:
        indices = tf.data.Dataset.range(start_batch, np.iinfo(np.int64).max)
        key = int(seed) * 7919 + int(stream_id)
        dataset = tf.data.Dataset.zip((indices, dataset)).map(
            lambda i, batch: augment_batch(
                batch[0], batch[1], tf.stack([tf.constant(key, tf.int64), i]), task.bin_size, **augment
            )
        )
    return dataset.prefetch(2)


def evaluation_dataset(global_batch_size, seed, start_batch, task, num_examples=64, num_batches=None):
    """A fixed held-out set (independent of the run seed), full global batches."""
    del seed
    total = num_examples // global_batch_size
    if num_batches:
        total = min(total, num_batches)

    def make(index):
        rng = np.random.default_rng([20211001, int(index)])
        x, y, _ = task.examples(rng, task.eval_starts, global_batch_size)
        return x, y

    return _dataset(make, start_batch, total, global_batch_size, task).prefetch(2)


@functools.lru_cache(maxsize=2)
def _load(fasta, chrom, heldout, **kwargs):
    return LongRangeTask(fasta, chrom, heldout, **kwargs)


def build_streams(data):
    """Training/evaluation streams for `source: longrange` (see module docstring).

    Returns:
        `(train_streams, eval_streams, heads, track_names)`.
    """
    data = dict(data)
    options = {
        key: data.pop(key)
        for key in (
            "sequence_length", "target_length", "bin_size", "motif", "motif_repeats", "max_copies",
            "min_distance", "max_distance", "baseline", "per_copy", "max_n_fraction", "background",
        )
        if key in data
    }
    fasta, chrom = data.pop("fasta", None), data.pop("chrom", "chr20")
    heldout_text = data.pop("heldout", None)
    augment = data.pop("augment", None)
    eval_examples = int(data.pop("eval_examples", 64))
    eval_batches = data.pop("eval_batches", None)
    organism = data.pop("organism", "human")
    if data:
        raise ValueError(f"Unknown key(s) in `data` for source longrange: {sorted(data)}")
    if heldout_text is None:
        raise ValueError("`data.heldout` (e.g. 'chr20:42000001-47000000') is required. Received: None")
    interval = parse_region(heldout_text)
    task = _load(fasta, chrom, (int(interval.start), int(interval.end)), **options)
    train = {organism: DataStream(functools.partial(training_dataset, task=task, augment=augment), output=organism)}
    evals = {
        organism: DataStream(
            functools.partial(evaluation_dataset, task=task, num_examples=eval_examples, num_batches=eval_batches),
            output=organism,
        )
    }
    return train, evals, {organism: 1}, {organism: ["distal_motif_signal"]}
