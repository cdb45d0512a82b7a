"""Real-DNA track streams (`source: genome`): one chromosome, annotation-derived tracks at 128 bp.

The chromosome and its tracks (`cpg_island`, `tss_density`, `gc`) are read
and binned once by `kipoi_genome.data.genome_tracks.GenomeTracks`; this
module only turns them into the trainer's seeded streams. All three tracks
are strand-symmetric, so reverse-complement augmentation (which reverses the
bins) keeps them valid. A held-out region provides evaluation:
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

import numpy as np

from kipoi_genome.data import parse_region
from kipoi_genome.data.genome_tracks import GENOME_TRACKS, GenomeTracks
from kipoi_genome.data.tf_datasets import numpy_batches
from kipoi_genome.training.task import DataStream, require_data_file

__all__ = ["build_streams"]


def training_dataset(global_batch_size, seed, start_batch, genome, starts, sequence_length, target_length, stream_id=0, augment=None):
    """Infinite random training windows; batch i depends only on (seed, stream_id, i)."""

    def make(index):
        rng = np.random.default_rng([int(seed), int(stream_id), int(index)])
        chosen = starts[rng.integers(0, len(starts), size=global_batch_size)]
        return genome.batch(chosen, sequence_length, target_length)

    dataset = numpy_batches(
        make, start_batch, np.iinfo(np.int64).max, _shapes(genome, global_batch_size, sequence_length, target_length),
        augment=augment, augment_key=int(seed) * 7919 + int(stream_id), pool_width=genome.bin_size,
    )
    return dataset.prefetch(2)


def _shapes(genome, batch_size, sequence_length, target_length):
    return (batch_size, sequence_length, 4), (batch_size, target_length, len(genome.tracks))


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

    shapes = _shapes(genome, global_batch_size, sequence_length, target_length)
    return numpy_batches(make, start_batch, total, shapes).prefetch(2)


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
    require_data_file(data.get("fasta"), "fasta")
    for track, key in (("cpg_island", "cpg_islands"), ("tss_density", "tss")):
        if track in tracks:
            require_data_file(data.get(key), key)
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
