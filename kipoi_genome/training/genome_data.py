"""Real-DNA track datasets: one chromosome, annotation-derived tracks at 128 bp.

Tracks are computed once for the whole chromosome, per bin of `bin_size` bp:

- `cpg_island`: fraction of the bin covered by CpG islands (BED);
- `tss_density`: number of TSS (BED, both strands) within +-`tss_window` bp
  of the bin centre;
- `gc`: G+C fraction of the bin's sequence.

All three are strand-symmetric, so reverse-complement augmentation (which
reverses the bins) keeps them valid. A held-out region provides evaluation:
no training window's INPUT overlaps it, and evaluation windows tile it so
that their target bins cover it once. Windows with more than
`max_n_fraction` N are skipped.

Data config keys (`data:` of a `tracks` task with `source: genome`):

```yaml
data:
  source: genome
  fasta: ../shared/data/reference/GRCh37_chr20.fa.gz   # relative to the working directory
  chrom: chr20
  cpg_islands: ../shared/data/annotation/GRCh37_chr20_cpg_islands.bed
  tss: ../shared/data/annotation/GRCh37_chr20_gencode_tss.bed
  tracks: [cpg_island, tss_density, gc]
  heldout: chr20:42000001-47000000     # 1-based inclusive, like samtools
  organism: human
  sequence_length: 16384
  target_length: 64
  bin_size: 128
  tss_window: 1000
  max_n_fraction: 0.01
  augment: {max_shift: 3, reverse_complement_prob: 0.5}
```

Batch `i` of the training stream is drawn with `numpy.random.default_rng((seed,
stream, i))`, so resumed runs see the same batches as uninterrupted ones.
"""

import functools
import os

import numpy as np
import tensorflow as tf

from kipoi_genome.data import FastaExtractor, iter_bed, parse_region
from kipoi_genome.data.intervals import binned_coverage
from kipoi_genome.data.tf_datasets import augment_batch
from kipoi_genome.training.task import DataStream

__all__ = ["GENOME_TRACKS", "GenomeTracks", "build_streams"]

GENOME_TRACKS = ("cpg_island", "tss_density", "gc")


def _existing(path, key):
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"`data.{key}` file not found: {path!r} (relative paths are from {os.getcwd()})")
    return path


class GenomeTracks:
    """Sequence and binned annotation tracks of one chromosome, in memory.

    Args:
        fasta: str. FASTA file (bgzip allowed) holding `chrom`.
        chrom: str. Contig name.
        tracks: sequence of str from `GENOME_TRACKS`.
        cpg_islands: str or None. CpG-island BED (needed for `cpg_island`).
        tss: str or None. TSS BED (needed for `tss_density`).
        bin_size: int. Bin width in bp. Defaults to 128.
        tss_window: int. Half-width in bp of the TSS count window.
    """

    def __init__(self, fasta, chrom, tracks, cpg_islands=None, tss=None, bin_size=128, tss_window=1000):
        unknown = [t for t in tracks if t not in GENOME_TRACKS]
        if unknown or not tracks:
            raise ValueError(
                f"`tracks` must be a non-empty list from {GENOME_TRACKS}. Received: tracks={list(tracks)}"
            )
        self.fasta = FastaExtractor(_existing(fasta, "fasta"), uppercase=True, in_memory=True)
        self.chrom = chrom
        self.tracks = list(tracks)
        self.bin_size = int(bin_size)
        self.length = self.fasta.chromosome_length(chrom)
        num_bins = self.length // self.bin_size
        codes = np.frombuffer(self.fasta.extract_bytes(chrom, 0, num_bins * self.bin_size), np.uint8)
        codes = codes.reshape(num_bins, self.bin_size)
        self.n_per_bin = (codes == ord("N")).sum(1).astype(np.int32)
        columns = []
        for track in self.tracks:
            if track == "gc":
                gc = ((codes == ord("G")) | (codes == ord("C"))).sum(1)
                columns.append(gc / float(self.bin_size))
            elif track == "cpg_island":
                columns.append(self._coverage(_existing(cpg_islands, "cpg_islands"), num_bins))
            else:
                columns.append(self._tss_density(_existing(tss, "tss"), num_bins, tss_window))
        self.values = np.stack(columns, axis=-1).astype(np.float32)  # (num_bins, C)

    def _coverage(self, path, num_bins):
        pairs = np.array([(i.start, i.end) for i in iter_bed(path) if i.chrom == self.chrom], np.int64).reshape(-1, 2)
        covered = binned_coverage(pairs[:, 0], pairs[:, 1], 0, num_bins * self.bin_size, self.bin_size)
        return covered / float(self.bin_size)

    def _tss_density(self, path, num_bins, window):
        positions = np.array(
            sorted(i.start for i in iter_bed(path) if i.chrom == self.chrom), dtype=np.int64
        )
        centres = np.arange(num_bins) * self.bin_size + self.bin_size // 2
        hi = np.searchsorted(positions, centres + window, side="right")
        lo = np.searchsorted(positions, centres - window, side="left")
        return (hi - lo).astype(np.float64)

    def valid_starts(self, sequence_length, max_n_fraction, exclude=None):
        """Bin-aligned window starts with few N, optionally avoiding a region.

        Args:
            sequence_length: int. Window length (a multiple of `bin_size`).
            max_n_fraction: float. Largest allowed fraction of N.
            exclude: optional `(start, end)`; windows overlapping it are dropped.

        Returns:
            int64 array of starts in bp.
        """
        bins = sequence_length // self.bin_size
        n_cumsum = np.concatenate([[0], np.cumsum(self.n_per_bin)])
        first_bins = np.arange(0, len(self.n_per_bin) - bins + 1)
        n_count = n_cumsum[first_bins + bins] - n_cumsum[first_bins]
        keep = n_count <= max_n_fraction * sequence_length
        starts = first_bins * self.bin_size
        if exclude is not None:
            keep &= (starts + sequence_length <= exclude[0]) | (starts >= exclude[1])
        return starts[keep].astype(np.int64)

    def batch(self, starts, sequence_length, target_length):
        """One-hot windows and their central target bins.

        Args:
            starts: int array `(B,)`, bin-aligned window starts.
            sequence_length: int. L.
            target_length: int. T central bins.

        Returns:
            `(one_hot (B, L, 4) float32, targets (B, T, C) float32)`.
        """
        one_hot = self.fasta.extract_one_hot_batch(self.chrom, starts.tolist(), sequence_length)
        crop = (sequence_length // self.bin_size - target_length) // 2
        first = starts // self.bin_size + crop
        index = first[:, None] + np.arange(target_length)[None, :]
        return one_hot.astype(np.float32), self.values[index]


def _numpy_batches(make_batch, start_batch, stop, batch_size, sequence_length, target_length, num_tracks):
    def wrapped(index):
        x, y = tf.numpy_function(make_batch, [index], (tf.float32, tf.float32), stateful=False)
        x.set_shape([batch_size, sequence_length, 4])
        y.set_shape([batch_size, target_length, num_tracks])
        return x, y

    return tf.data.Dataset.range(start_batch, stop).map(wrapped)


def training_dataset(global_batch_size, seed, start_batch, genome, starts, sequence_length, target_length, stream_id=0, augment=None):
    """Infinite random training windows; batch i depends only on (seed, stream_id, i)."""

    def make(index):
        rng = np.random.default_rng([int(seed), int(stream_id), int(index)])
        chosen = starts[rng.integers(0, len(starts), size=global_batch_size)]
        return genome.batch(chosen, sequence_length, target_length)

    dataset = _numpy_batches(
        make, start_batch, np.iinfo(np.int64).max, global_batch_size, sequence_length, target_length,
        len(genome.tracks),
    )
    if augment:
        dataset = _augment(dataset, seed, stream_id, start_batch, augment, genome.bin_size)
    return dataset.prefetch(2)


def _augment(dataset, seed, stream_id, start_batch, augment, bin_size):
    indices = tf.data.Dataset.range(start_batch, np.iinfo(np.int64).max)
    keyed = tf.data.Dataset.zip((indices, dataset))
    return keyed.map(
        lambda i, batch: augment_batch(
            batch[0], batch[1], tf.stack([tf.constant(int(seed) * 7919 + int(stream_id), tf.int64), i]), bin_size,
            **augment,
        )
    )


def evaluation_windows(genome, region, sequence_length, target_length, max_n_fraction):
    """Window starts whose target bins tile `region` once (N-rich windows dropped)."""
    span = target_length * genome.bin_size
    flank = (sequence_length - span) // 2
    first = -(-region[0] // genome.bin_size) * genome.bin_size
    target_starts = np.arange(first, region[1] - span + 1, span, dtype=np.int64)
    starts = target_starts - flank
    allowed = set(genome.valid_starts(sequence_length, max_n_fraction).tolist())
    return np.array([s for s in starts if s in allowed], dtype=np.int64)


def evaluation_dataset(global_batch_size, seed, start_batch, genome, starts, sequence_length, target_length, num_batches=None):
    """Finite dataset of consecutive held-out windows, full global batches only."""
    del seed
    total = len(starts) // global_batch_size
    if num_batches:
        total = min(total, num_batches)

    def make(index):
        chosen = starts[int(index) * global_batch_size : (int(index) + 1) * global_batch_size]
        return genome.batch(chosen, sequence_length, target_length)

    return _numpy_batches(
        make, start_batch, total, global_batch_size, sequence_length, target_length, len(genome.tracks)
    ).prefetch(2)


@functools.lru_cache(maxsize=2)
def _load_genome(fasta, chrom, tracks, cpg_islands, tss, bin_size, tss_window):
    return GenomeTracks(fasta, chrom, list(tracks), cpg_islands, tss, bin_size, tss_window)


def build_streams(data):
    """Training/evaluation streams for `source: genome` (see module docstring).

    Args:
        data: dict. The `data` section (with `target_length` filled in).

    Returns:
        `(train_streams, eval_streams, heads, track_names)`.
    """
    known = {
        "fasta", "chrom", "cpg_islands", "tss", "tracks", "heldout", "organism", "sequence_length",
        "target_length", "bin_size", "tss_window", "max_n_fraction", "augment", "eval_batches",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"Unknown key(s) in `data` for source genome: {unknown}. Expected some of {sorted(known)}.")
    sequence_length = int(data["sequence_length"])
    target_length = int(data["target_length"])
    bin_size = int(data.get("bin_size", 128))
    tracks = tuple(data.get("tracks", GENOME_TRACKS))
    chrom = data.get("chrom", "chr20")
    genome = _load_genome(
        data.get("fasta"), chrom, tracks, data.get("cpg_islands"), data.get("tss"), bin_size,
        int(data.get("tss_window", 1000)),
    )
    if "heldout" not in data:
        raise ValueError(f"`data.heldout` (e.g. '{chrom}:42000001-47000000') is required. Received keys: {sorted(data)}")
    held_chrom, held_start, held_end = _region(data["heldout"])
    if held_chrom != chrom:
        raise ValueError(f"`data.heldout` must be on {chrom}. Received: heldout={data['heldout']!r}")
    max_n = float(data.get("max_n_fraction", 0.01))
    train_starts = genome.valid_starts(sequence_length, max_n, exclude=(held_start, held_end))
    eval_starts = evaluation_windows(genome, (held_start, held_end), sequence_length, target_length, max_n)
    if not len(train_starts) or not len(eval_starts):
        raise ValueError(
            f"No usable windows (train {len(train_starts)}, held-out {len(eval_starts)}) for "
            f"sequence_length={sequence_length}, heldout={data['heldout']!r}"
        )
    organism = data.get("organism", "human")
    common = dict(genome=genome, sequence_length=sequence_length, target_length=target_length)
    train = {
        organism: DataStream(
            functools.partial(training_dataset, starts=train_starts, augment=data.get("augment"), **common),
            output=organism,
        )
    }
    evals = {
        organism: DataStream(
            functools.partial(evaluation_dataset, starts=eval_starts, num_batches=data.get("eval_batches"), **common),
            output=organism,
        )
    }
    return train, evals, {organism: len(tracks)}, {organism: list(tracks)}


def _region(text):
    interval = parse_region(text)  # 1-based inclusive text -> 0-based half-open
    return interval.chrom, int(interval.start), int(interval.end)
