"""Long-range streams (`source: longrange`): a distal motif sets the centre's signal.

The examples (real-DNA or random backgrounds with motif elements 30-60 kb
from the centre; see `kipoi_genome.data.longrange_examples`) are generated
by `LongRangeExamples`; this module turns them into the trainer's seeded
streams and a fixed held-out evaluation set.

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

import numpy as np

from kipoi_genome.data import parse_region
from kipoi_genome.data.longrange_examples import LongRangeExamples
from kipoi_genome.data.tf_datasets import numpy_batches
from kipoi_genome.training.task import DataStream, require_data_file

__all__ = ["build_streams"]


def _shapes(task, batch_size):
    return (batch_size, task.sequence_length, 4), (batch_size, task.target_length, 1)


def training_dataset(global_batch_size, seed, start_batch, task, stream_id=0, augment=None):
    """Infinite training batches; batch i depends only on (seed, stream_id, i)."""

    def make(index):
        rng = np.random.default_rng([int(seed), int(stream_id), int(index)])
        x, y, _ = task.examples(rng, task.train_starts, global_batch_size)
        return x, y

    dataset = numpy_batches(
        make, start_batch, np.iinfo(np.int64).max, _shapes(task, global_batch_size),
        augment=augment, augment_key=int(seed) * 7919 + int(stream_id), pool_width=task.bin_size,
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

    return numpy_batches(make, start_batch, total, _shapes(task, global_batch_size)).prefetch(2)


@functools.lru_cache(maxsize=2)
def _load(fasta, chrom, heldout, **kwargs):
    return LongRangeExamples(fasta, chrom, heldout, **kwargs)


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
    require_data_file(fasta, "fasta")
    task = _load(fasta, chrom, (int(interval.start), int(interval.end)), **options)
    train = {organism: DataStream(functools.partial(training_dataset, task=task, augment=augment), output=organism)}
    evals = {
        organism: DataStream(
            functools.partial(evaluation_dataset, task=task, num_examples=eval_examples, num_batches=eval_batches),
            output=organism,
        )
    }
    return train, evals, {organism: 1}, {organism: ["distal_motif_signal"]}
