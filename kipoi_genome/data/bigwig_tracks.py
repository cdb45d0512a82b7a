"""`data.source: bigwig`: FASTA windows with per-bin targets from bigWig files, as training streams.

A `tracks` task's data section (docs/training.md):

```yaml
data:
  source: bigwig
  fasta: ../shared/data/reference/GRCh37_chr20.fa.gz
  bigwigs: {h3k4me3: h3k4me3.bw, dnase: dnase.bw}   # track name -> bigWig (a list: names are the file names)
  summary: mean                  # per bin over all its bases: mean | sum | max
  missing: zero                  # bases without data count as 0; error: refuse the window
  sequence_length: 2048
  bin_size: 128
  target_length: 8               # central bins with targets (default: all)
  train: [chr20:30000001-40000000]     # regions (1-based inclusive) tiled into windows, or a BED of windows
  valid: [chr20:42000001-43000000]
  test: test_windows.bed         # optional
  stride: null                   # step between tiled windows (default: sequence_length)
  organism: tracks               # head name
  augment: {max_shift: 3, reverse_complement_prob: 0.5}   # training only; null = off
  tfrecords_dir: null            # a folder: write the splits as Basenji TFRecords first and read them
```

Each split is a BED file of windows (each resized to `sequence_length`
around its centre) or a list of regions tiled left to right into windows of
`sequence_length` stepping by `stride`. Every window must lie inside its
contig in the FASTA and in every bigWig, and windows of different splits
must not overlap; anything else stops the run with one line naming the BED
line or config entry and the value. Targets cover the central
`target_length * bin_size` bp: bin `j` is the mean (sum, max) of its
`bin_size` bases as `BigWigTargets` computes them.

Without `tfrecords_dir` the targets of the train and valid windows are
computed once, in memory (`N x target_length x tracks` float32), and
`interval_dataset` cuts the sequences: training reads the train windows
shuffled with the run's seed and repeated (augmented by the shared tf.data
helpers; batch `i` is the `i`-th of that seeded order, so a resumed run
continues where it stopped), evaluation reads the valid windows in order.
With `tfrecords_dir` the splits (test too) are written with
`write_tfrecords` and read back as `source: tfrecords`
(`tfrecord_streams`), the way to train on more windows than fit in memory.
The test split is held out of training and evaluation either way.
"""

import functools
import os

import numpy as np

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import Interval, check_intervals, equal_width_intervals, parse_region, read_bed
from kipoi_genome.data.transforms import _positive_int

__all__ = ["SPLITS", "split_windows", "window_targets", "stream_functions"]

SPLITS = ("train", "valid", "test")
KEYS = {
    "fasta", "bigwigs", "summary", "missing", "sequence_length", "target_length", "bin_size", "stride",
    "organism", "augment", "tfrecords_dir", "eval_batches", *SPLITS,
}


def _tiles(region, sequence_length, stride):
    starts = range(region.start, region.end - sequence_length + 1, stride)
    return [Interval(region.chrom, s, s + sequence_length, source=region.source, line=region.line) for s in starts]


def split_windows(value, split, fasta, sequence_length, stride=None):
    """The windows of one split: a BED of windows, or regions tiled into windows.

    Args:
        value: str (a BED file; each interval resized to `sequence_length`
            around its centre) or list of region strings (`chrom:start-end`,
            1-based inclusive; each tiled into windows of `sequence_length`
            starting at its first base, stepping by `stride`).
        split: str. The split's name, for messages (`data.<split>`).
        fasta: FastaExtractor. The windows must lie inside its contigs.
        sequence_length: int.
        stride: int or None. Tiling step (default `sequence_length`).

    Returns:
        list of `Interval` of width `sequence_length`, with `source` and
        `line` of their BED line or config entry (`data.<split>`, item number).

    Raises:
        InputFileError: a bad BED, a region or window off its contig, or a
            region shorter than one window.
        ValueError: a value of another kind, or a malformed region.
    """
    stride = stride or sequence_length
    if isinstance(value, (str, os.PathLike)):
        windows, _ = equal_width_intervals(read_bed(value), sequence_length)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(item, str) for item in value):
        windows = []
        for number, text in enumerate(value, start=1):
            try:
                region = parse_region(text)
            except ValueError as error:
                raise InputFileError(f"data.{split}", number, str(error).split(". Received")[0], text) from None
            region = Interval(region.chrom, region.start, region.end, source=f"data.{split}", line=number)
            check_intervals([region], fasta)
            tiles = _tiles(region, sequence_length, stride)
            if not tiles:
                raise InputFileError(
                    f"data.{split}", number, f"region is shorter than one window ({sequence_length} bp)", text
                )
            windows.extend(tiles)
    else:
        raise ValueError(
            f"`data.{split}` must be a BED file or a list of regions (chrom:start-end, 1-based). "
            f"Received: {split}={value!r}"
        )
    check_intervals(windows, fasta)
    for window in windows:
        if window.start < 0:
            raise InputFileError(
                window.source, window.line, "window starts before the contig", f"{window.chrom}:{window.start}-{window.end}"
            )
    return windows


def _check_disjoint(splits):
    """Raises InputFileError when a window of one split overlaps one of another."""
    names = list(splits)
    for i, first in enumerate(names):
        by_chrom = {}
        for window in splits[first]:
            by_chrom.setdefault(window.chrom, []).append((window.start, window.end))
        table = {}  # chrom -> sorted starts, running maximum of ends: built once per split
        for chrom, pairs in by_chrom.items():
            array = np.array(sorted(pairs), np.int64)
            table[chrom] = (array[:, 0], np.maximum.accumulate(array[:, 1]))
        for second in names[i + 1 :]:
            for window in splits[second]:
                if window.chrom not in table:
                    continue
                starts, running_ends = table[window.chrom]
                last = np.searchsorted(starts, window.end, side="left")  # starts before the window's end
                if last and running_ends[last - 1] > window.start:
                    raise InputFileError(
                        window.source, window.line, f"{second} window overlaps a {first} window",
                        f"{window.chrom}:{window.start}-{window.end}",
                    )


def window_targets(targets, windows, crop_bp, bin_size):
    """Targets of every window: `targets` over its central bins.

    Args:
        targets: `BigWigTargets` (or any target source of `write_tfrecords`).
        windows: list of `Interval` of one width.
        crop_bp: int. Bases on each side without targets.
        bin_size: int.

    Returns:
        float32 array `(N, (width - 2 * crop_bp) // bin_size, num_targets)`.

    Raises:
        InputFileError: non-finite values, naming the window's BED line or
            config entry.
    """
    rows = []
    for window in windows:
        values = np.asarray(targets(window.chrom, window.start + crop_bp, window.end - crop_bp, bin_size), np.float32)
        if not np.all(np.isfinite(values)):
            raise InputFileError(
                window.source, window.line, "bigWig values are not finite", f"{window.chrom}:{window.start}-{window.end}"
            )
        rows.append(values)
    return np.stack(rows)


def _train_dataset(global_batch_size, seed, start_batch, fasta, windows, targets, bin_size, augment):
    from kipoi_genome.data.tf_datasets import interval_dataset
    from kipoi_genome.data.tfrecord_streams import augment_options

    dataset = interval_dataset(
        fasta, windows, targets=targets, shuffle=True, seed=seed, pool_width=bin_size, check_bounds=False,
        deterministic=True, prefetch=False, **augment_options(augment),
    )
    return dataset.repeat().batch(global_batch_size, drop_remainder=True).skip(start_batch).prefetch(2)


def _eval_dataset(global_batch_size, seed, start_batch, fasta, windows, targets, num_batches=None):
    from kipoi_genome.data.tf_datasets import interval_dataset

    del seed, start_batch
    dataset = interval_dataset(
        fasta, windows, targets=targets, batch_size=global_batch_size, drop_remainder=True,
        check_bounds=False, deterministic=True,
    )
    return dataset.take(num_batches) if num_batches else dataset


def _bigwig_paths(value):
    if isinstance(value, dict) and value:
        names, paths = list(value), list(value.values())
    elif isinstance(value, (list, tuple)) and value:
        paths = list(value)
        names = [os.path.basename(os.fspath(path)) for path in paths]
    else:
        raise ValueError(
            f"`data.bigwigs` must map track names to bigWig files (or list bigWig files). Received: bigwigs={value!r}"
        )
    for name, path in zip(names, paths):
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"`data.bigwigs` entry {name!r} must be a file path. Received: {path!r}")
    return [str(name) for name in names], paths


def stream_functions(data):
    """Dataset functions of a `source: bigwig` data section (see module docstring).

    Args:
        data: dict. The `data` section, with `sequence_length`,
            `target_length` and `bin_size` filled in.

    Returns:
        `(organism, train_fn, eval_fn or None, track_names)`; the functions
        take `(global_batch_size, seed, start_batch)` as the trainer's
        `DataStream.dataset_fn`. `eval_fn` is None without a `valid` split.

    Raises:
        InputFileError: a missing or unreadable FASTA, BED or bigWig, a window
            off its contig in the FASTA or a bigWig, overlapping splits,
            bases without data under `missing: error`.
        ValueError: unknown keys or bad values, named with the value.
    """
    from kipoi_genome.data.tfrecords import MISSING_POLICIES, SUMMARIES, BigWigTargets

    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ValueError(f"Unknown key(s) in `data` for source bigwig: {unknown}. Expected some of {sorted(KEYS)}.")
    for key, allowed, default in (("summary", SUMMARIES, "mean"), ("missing", MISSING_POLICIES, "zero")):
        if data.get(key, default) not in allowed:
            raise ValueError(f"`data.{key}` must be one of {allowed}. Received: {key}={data[key]!r}")
    if not data.get("fasta"):
        raise ValueError(f"`data.fasta` is required for source bigwig. Received data keys: {sorted(data)}")
    if not data.get("train"):
        raise ValueError(f"`data.train` (a BED file or a list of regions) is required. Received data keys: {sorted(data)}")
    sequence_length = _positive_int(data.get("sequence_length"), "data.sequence_length")
    bin_size = _positive_int(data.get("bin_size", 128), "data.bin_size")
    target_length = _positive_int(data.get("target_length") or sequence_length // bin_size, "data.target_length")
    stride = _positive_int(sequence_length if data.get("stride") is None else data["stride"], "data.stride")
    spare = sequence_length - target_length * bin_size
    if sequence_length % bin_size or spare < 0 or spare % (2 * bin_size):
        raise ValueError(
            "`data.sequence_length` must be a multiple of `bin_size` leaving an even number of bins around the "
            f"{target_length} target bins. Received: sequence_length={sequence_length}, bin_size={bin_size}, "
            f"target_length={target_length}"
        )
    crop_bp = spare // 2
    augment = data.get("augment")
    if augment and isinstance(augment, dict) and int(augment.get("max_shift", 3)) >= bin_size:
        raise ValueError(
            f"`data.augment.max_shift` must be smaller than one bin ({bin_size} bp). Received: augment={augment!r}"
        )
    names, paths = _bigwig_paths(data.get("bigwigs"))
    targets = BigWigTargets(paths, names=names, summary=data.get("summary", "mean"), missing=data.get("missing", "zero"))
    fasta = FastaExtractor(data["fasta"], in_memory=True)
    splits = {
        split: split_windows(data[split], split, fasta, sequence_length, stride) for split in SPLITS if data.get(split)
    }
    for windows in splits.values():
        targets.check_intervals(windows)
    _check_disjoint(splits)
    organism = str(data.get("organism") or "tracks")

    if data.get("tfrecords_dir"):
        from kipoi_genome.data import tfrecord_streams
        from kipoi_genome.data.tfrecords import write_tfrecords

        for split, windows in splits.items():
            write_tfrecords(
                data["tfrecords_dir"], fasta, windows, targets, split=split, pool_width=bin_size, crop_bp=crop_bp
            )
        section = {"data_dir": data["tfrecords_dir"], "organism": organism, "augment": data.get("augment"),
                   "eval_batches": data.get("eval_batches")}
        return tfrecord_streams.stream_functions(section)

    train = functools.partial(
        _train_dataset, fasta=fasta, windows=splits["train"],
        targets=window_targets(targets, splits["train"], crop_bp, bin_size), bin_size=bin_size,
        augment=data.get("augment"),
    )
    evaluation = None
    if "valid" in splits:
        evaluation = functools.partial(
            _eval_dataset, fasta=fasta, windows=splits["valid"],
            targets=window_targets(targets, splits["valid"], crop_bp, bin_size), num_batches=data.get("eval_batches"),
        )
    return organism, train, evaluation, names
