"""Enformer/Basenji training TFRecords: reader and writer.

Format (as in the basenji_barnyard data used to train Enformer):

* ``<data_dir>/statistics.json`` with at least ``seq_length``,
  ``target_length``, ``num_targets`` and ``pool_width`` (plus ``crop_bp``,
  ``seq_1hot`` and ``<split>_seqs`` counts);
* ``<data_dir>/tfrecords/<split>-<i>.tfr``, ZLIB-compressed, one
  ``tf.train.Example`` per sequence with two bytes features:
  ``sequence`` = one-hot ACGT as bool bytes, shape (seq_length, 4)
  (N = all False), and ``target`` = float16 bytes, shape
  (target_length, num_targets).

Targets cover the central ``seq_length - 2 * crop_bp`` bp in bins of
``pool_width`` bp. The writer builds such datasets from a FASTA, intervals
and a target source: `BigWigTargets` (signal tracks via pyBigWig, an optional
dependency) or `BedTargets` (fraction of each bin covered by BED features).
"""

import glob
import json
import os
import re

import numpy as np
import tensorflow as tf

from kipoi_genome.data.errors import InputFileError
from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import as_intervals, binned_coverage, check_intervals, equal_width_intervals, iter_bed
from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.data.transforms import one_hot_encode

REQUIRED_STATISTICS = ("seq_length", "target_length", "num_targets", "pool_width")
SUMMARIES = ("mean", "sum", "max")
MISSING_POLICIES = ("zero", "error")
_BIGWIG_MAGIC = bytes.fromhex("26fc8f88")  # 0x888FFC26 little-endian, the first 4 bytes of a bigWig
_FLOAT16_MAX = float(np.finfo(np.float16).max)


# Reading -------------------------------------------------------------------


def read_statistics(data_dir):
    """Loads and checks ``<data_dir>/statistics.json``.

    Returns:
        dict with at least the integer keys of `REQUIRED_STATISTICS`.

    Raises:
        InputFileError: missing or empty file, invalid JSON (with its line),
            or a missing / non-positive required key.
    """
    path = os.path.join(os.fspath(data_dir), "statistics.json")
    if not os.path.isfile(path):
        raise InputFileError(path, None, "statistics file not found")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if not text.strip():
        raise InputFileError(path, None, "empty statistics file")
    try:
        statistics = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputFileError(path, error.lineno, f"invalid JSON: {error.msg}") from None
    if not isinstance(statistics, dict):
        raise InputFileError(path, None, "statistics must be a JSON object")
    for key in REQUIRED_STATISTICS:
        if key not in statistics:
            raise InputFileError(path, None, f"missing required key '{key}'")
        value = statistics[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InputFileError(path, None, f"'{key}' must be a positive integer", value)
    return statistics


def _shard_number(path):
    match = re.search(r"-(\d+)\.tfr$", path)
    return int(match.group(1)) if match else -1


def tfrecord_files(data_dir, split):
    """Sorted ``<data_dir>/tfrecords/<split>-*.tfr`` paths (numeric order).

    Raises:
        InputFileError: if there are none.
    """
    pattern = os.path.join(os.fspath(data_dir), "tfrecords", f"{split}-*.tfr")
    files = sorted(glob.glob(pattern), key=lambda p: (_shard_number(p), p))
    if not files:
        raise InputFileError(os.fspath(data_dir), None, f"no TFRecord files match {split}-*.tfr", pattern)
    return files


def _feature_map():
    return {
        "sequence": tf.io.FixedLenFeature([], tf.string),
        "target": tf.io.FixedLenFeature([], tf.string),
    }


def parse_example(serialized, statistics):
    """Decodes one serialized example.

    Args:
        serialized: scalar string tensor.
        statistics: dict from `read_statistics`.

    Returns:
        dict with ``sequence`` float32 (seq_length, 4) and ``target`` float32
        (target_length, num_targets).
    """
    example = tf.io.parse_single_example(serialized, _feature_map())
    sequence = tf.io.decode_raw(example["sequence"], tf.bool)
    sequence = tf.reshape(sequence, (statistics["seq_length"], 4))
    target = tf.io.decode_raw(example["target"], tf.float16)
    target = tf.reshape(target, (statistics["target_length"], statistics["num_targets"]))
    return {"sequence": tf.cast(sequence, tf.float32), "target": tf.cast(target, tf.float32)}


def check_first_record(path, statistics):
    """Checks that the first record of `path` matches `statistics`.

    Raises:
        InputFileError: naming the file and record 1 for an unreadable or
            empty file, a missing feature, or a sequence / target byte size
            that disagrees with the statistics.
    """
    try:
        records = list(tf.data.TFRecordDataset(path, compression_type="ZLIB").take(1))
    except (tf.errors.DataLossError, tf.errors.OpError) as error:
        message = str(error.message).splitlines()[0] if error.message else type(error).__name__
        raise InputFileError(path, None, f"not a ZLIB TFRecord file: {message}") from None
    if not records:
        raise InputFileError(path, None, "TFRecord file has no records")
    example = tf.train.Example.FromString(records[0].numpy())
    features = example.features.feature
    expected = {
        "sequence": statistics["seq_length"] * 4,
        "target": statistics["target_length"] * statistics["num_targets"] * 2,
    }
    for name, size in expected.items():
        if name not in features or not features[name].bytes_list.value:
            raise InputFileError(path, 1, f"record has no bytes feature '{name}'", sorted(features))
        actual = len(features[name].bytes_list.value[0])
        if actual != size:
            raise InputFileError(
                path, 1, f"'{name}' has {actual} bytes, statistics.json implies {size}", actual
            )


def read_tfrecords(data_dir, split="train"):
    """Yields every example of a split as NumPy arrays (for inspection and tests).

    Yields:
        dict with ``sequence`` float32 (seq_length, 4) and ``target`` float32
        (target_length, num_targets).
    """
    statistics = read_statistics(data_dir)
    for path in tfrecord_files(data_dir, split):
        check_first_record(path, statistics)
        for serialized in tf.data.TFRecordDataset(path, compression_type="ZLIB"):
            example = parse_example(serialized, statistics)
            yield {key: value.numpy() for key, value in example.items()}


# Target sources --------------------------------------------------------------


def _bin_reduce(values, pool_width, summary):
    bins = values.reshape(-1, pool_width, values.shape[-1])
    if summary == "mean":
        return bins.mean(axis=1)
    if summary == "sum":
        return bins.sum(axis=1)
    return bins.max(axis=1)


def _check_summary(summary):
    if summary not in SUMMARIES:
        raise ValueError(f"`summary` must be one of {SUMMARIES}. Received: summary={summary!r}")


class BigWigTargets:
    """Per-bin targets from bigWig signal files (needs pyBigWig).

    Each bin's value summarises all of its `pool_width` bases. With
    ``missing="zero"`` (default), bases without data (NaN in the bigWig,
    positions outside the chromosome, contigs absent from a file) count as 0,
    so a bin half covered by the value 2 has the mean 1. With
    ``missing="error"`` such a bin is refused with an `InputFileError`
    naming the bigWig and the region.

    Args:
        paths: list of str. One bigWig per target track.
        names: list of str or None. Track names (default: file names).
        summary: str. Per-bin statistic, ``"mean"`` (default), ``"sum"``
            or ``"max"``.
        missing: str. ``"zero"`` (default) or ``"error"`` (see above).

    Call arguments:
        chrom: str. start, end: int (0-based half-open). pool_width: int.

    Returns:
        float32 array (num_bins, num_targets).
    """

    def __init__(self, paths, names=None, summary="mean", missing="zero"):
        try:
            import pyBigWig  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "BigWigTargets needs pyBigWig (an optional dependency): pip install pyBigWig"
            ) from error
        _check_summary(summary)
        if missing not in MISSING_POLICIES:
            raise ValueError(f"`missing` must be one of {MISSING_POLICIES}. Received: missing={missing!r}")
        self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ValueError("`paths` is empty")
        for path in self.paths:
            if not os.path.isfile(path):
                raise InputFileError(path, None, "bigWig file not found")
            if os.path.getsize(path) == 0:
                raise InputFileError(path, None, "empty bigWig file")
            with open(path, "rb") as handle:
                magic = handle.read(4)
            # libBigWig prints to stderr on a file that is not a bigWig: refuse it before opening.
            if magic not in (_BIGWIG_MAGIC, _BIGWIG_MAGIC[::-1]):
                raise InputFileError(path, None, "not a bigWig file (no bigWig signature)", magic.hex())
        self.names = list(names) if names is not None else [os.path.basename(p) for p in self.paths]
        if len(self.names) != len(self.paths):
            raise ValueError(
                f"`names` must hold one name per bigWig. Received: {len(self.names)} names for {len(self.paths)} files"
            )
        self.summary = summary
        self.missing = missing
        self._handles = None
        self._pid = None

    @property
    def num_targets(self):
        return len(self.paths)

    def _open(self):
        import pyBigWig

        if self._pid != os.getpid():
            handles = []
            for path in self.paths:
                try:
                    handle = pyBigWig.open(path)
                except RuntimeError:
                    handle = None
                if handle is None or not handle.isBigWig():
                    raise InputFileError(path, None, "not a bigWig file")
                handles.append(handle)
            self._handles, self._pid = handles, os.getpid()
        return self._handles

    def check_intervals(self, intervals):
        """Checks that every interval lies on a contig of every bigWig, within it.

        Args:
            intervals: iterable of `Interval`.

        Raises:
            InputFileError: naming the interval's file and line (or its
                config entry), the bigWig and the contig or interval, for a
                contig absent from a bigWig's header, a start before 0 or an
                end past the contig's length there.
        """
        lengths = [dict(handle.chroms()) for handle in self._open()]
        for interval in intervals:
            for path, contigs in zip(self.paths, lengths):
                length = contigs.get(interval.chrom)
                if length is None:
                    raise InputFileError(
                        interval.source, interval.line, f"contig not in bigWig {path}", interval.chrom
                    )
                if interval.start < 0 or interval.end > length:
                    raise InputFileError(
                        interval.source, interval.line,
                        f"interval is outside {interval.chrom} of bigWig {path} (length {length})",
                        f"{interval.chrom}:{interval.start}-{interval.end}",
                    )

    def __call__(self, chrom, start, end, pool_width):
        values = np.zeros((end - start, self.num_targets), dtype=np.float64)
        for column, handle in enumerate(self._open()):
            length = handle.chroms(chrom)
            lo, hi = max(start, 0), min(end, length or 0)
            if hi > lo:
                track = np.asarray(handle.values(chrom, lo, hi, numpy=True), dtype=np.float64)
                values[lo - start : hi - start, column] = track
            if self.missing == "error" and (hi - lo < end - start or np.isnan(values[:, column]).any()):
                raise InputFileError(
                    self.paths[column], None, "bases without data in the bigWig (missing: error)",
                    f"{chrom}:{start}-{end}",
                )
        np.nan_to_num(values, copy=False, nan=0.0)
        return _bin_reduce(values, pool_width, self.summary).astype(np.float32)

    def __getstate__(self):
        return {"paths": self.paths, "names": self.names, "summary": self.summary, "missing": self.missing}

    def __setstate__(self, state):
        self.__dict__.update({"missing": "zero", **state})
        self._handles, self._pid = None, None


class BedTargets:
    """Per-bin targets from BED annotations: the fraction of each bin covered.

    Each BED file is one target track (e.g. peaks of one assay); overlapping
    features are merged, so values lie in [0, 1] (``summary="mean"``) or count
    covered bases (``"sum"``).

    Args:
        paths: list of str. One BED file per target track.
        names: list of str or None. Track names (default: file names).
        summary: str. ``"mean"`` (default), ``"sum"`` or ``"max"``.
    """

    def __init__(self, paths, names=None, summary="mean"):
        _check_summary(summary)
        self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ValueError("`paths` is empty")
        self.names = list(names) if names is not None else [os.path.basename(p) for p in self.paths]
        self.summary = summary
        self._tracks = []
        for path in self.paths:
            by_chrom = {}
            for interval in iter_bed(path):
                by_chrom.setdefault(interval.chrom, []).append((interval.start, interval.end))
            track = {}
            for chrom, pairs in by_chrom.items():
                array = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
                # Sorted starts and the running maximum of the ends find the
                # intervals that can touch a window by binary search.
                track[chrom] = (array[:, 0], array[:, 1], np.maximum.accumulate(array[:, 1]))
            self._tracks.append(track)

    @property
    def num_targets(self):
        return len(self.paths)

    def __call__(self, chrom, start, end, pool_width):
        covered = np.zeros(((end - start) // pool_width, self.num_targets), dtype=np.float64)
        for column, track in enumerate(self._tracks):
            starts, ends, running_ends = track.get(chrom, (np.zeros(0, np.int64),) * 3)
            first = np.searchsorted(running_ends, start, side="right")
            last = np.searchsorted(starts, end, side="left")
            covered[:, column] = binned_coverage(starts[first:last], ends[first:last], start, end, pool_width)
        if self.summary == "mean":
            return (covered / pool_width).astype(np.float32)
        if self.summary == "sum":
            return covered.astype(np.float32)
        return (covered > 0).astype(np.float32)


# Writing -------------------------------------------------------------------


def serialize_example(one_hot, target):
    """Serializes one (sequence, target) pair in the Basenji/Enformer format.

    Args:
        one_hot: array (seq_length, 4); non-zero entries become True.
        target: array (target_length, num_targets); stored as float16.

    Returns:
        bytes, a serialized tf.train.Example.
    """
    sequence_bytes = np.ascontiguousarray(np.asarray(one_hot) > 0).astype(np.bool_).tobytes()
    target_bytes = np.ascontiguousarray(np.asarray(target, dtype=np.float16)).tobytes()
    feature = {
        "sequence": tf.train.Feature(bytes_list=tf.train.BytesList(value=[sequence_bytes])),
        "target": tf.train.Feature(bytes_list=tf.train.BytesList(value=[target_bytes])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_tfrecords(
    data_dir,
    fasta,
    intervals,
    targets,
    split="train",
    sequence_length=None,
    pool_width=128,
    crop_bp=0,
    records_per_file=256,
):
    """Writes a Basenji/Enformer-style TFRecord dataset (one split).

    For each interval (resized to `sequence_length` around its centre if
    given), the one-hot sequence comes from `fasta` (N = all False, N-padded
    past chromosome ends) and the targets from `targets` over the central
    ``sequence_length - 2 * crop_bp`` bp in bins of `pool_width`.

    All shards are written to temporary files and renamed only when every
    record has been written; ``statistics.json`` is updated last (also by
    rename), so a failure leaves no partial output. Existing shards of the
    same split are replaced.

    Args:
        data_dir: str. Output folder (``statistics.json``, ``tfrecords/``).
        fasta: str or FastaExtractor.
        intervals: BED path, or Interval or ``(chrom, start, end[, strand])`` items.
        targets: a target source, e.g. `BigWigTargets` or `BedTargets`
            (any callable ``(chrom, start, end, pool_width) -> (bins, C)``
            with a ``num_targets`` attribute).
        split: str. Split name; shards are ``<split>-<i>.tfr``.
        sequence_length: int or None. Resize intervals to this length; None
            requires all intervals to have one width.
        pool_width: int. Target bin width in bp. Defaults to 128.
        crop_bp: int. Bases on each side without targets. Defaults to 0.
        records_per_file: int. Records per shard. Defaults to 256.

    Returns:
        dict, the statistics written.

    Raises:
        InputFileError: bad intervals (contig absent, past the contig end,
            unequal widths), non-finite or float16-overflowing targets, or a
            ``statistics.json`` that disagrees with these settings.
        ValueError: for inconsistent lengths.
    """
    if not isinstance(fasta, FastaExtractor):
        fasta = FastaExtractor(fasta)
    intervals = as_intervals(intervals)
    check_intervals(intervals, fasta)
    intervals, sequence_length = equal_width_intervals(intervals, sequence_length)
    for name, value in (("pool_width", pool_width), ("records_per_file", records_per_file)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    core = sequence_length - 2 * crop_bp
    if crop_bp < 0 or core <= 0 or core % pool_width:
        raise ValueError(
            "`sequence_length - 2 * crop_bp` must be a positive multiple of `pool_width`. "
            f"Received: sequence_length={sequence_length}, crop_bp={crop_bp}, pool_width={pool_width}"
        )
    target_length = core // pool_width
    num_targets = int(targets.num_targets)
    statistics = {
        "seq_length": sequence_length,
        "seq_1hot": True,
        "pool_width": pool_width,
        "crop_bp": crop_bp,
        "target_length": target_length,
        "num_targets": num_targets,
    }
    data_dir = os.fspath(data_dir)
    stats_path = os.path.join(data_dir, "statistics.json")
    if os.path.isfile(stats_path):
        previous = read_statistics(data_dir)
        for key in ("seq_length", "pool_width", "crop_bp", "target_length", "num_targets"):
            if key in previous and previous[key] != statistics[key]:
                raise InputFileError(
                    stats_path, None,
                    f"existing '{key}' disagrees with the new split ({statistics[key]})",
                    previous[key],
                )
        statistics = {**previous, **statistics}
    names = getattr(targets, "names", None)
    if names is not None:
        statistics["target_names"] = list(names)

    record_dir = os.path.join(data_dir, "tfrecords")
    os.makedirs(record_dir, exist_ok=True)
    options = tf.io.TFRecordOptions(compression_type="ZLIB")
    temporary = []  # (tmp path, final path)
    try:
        for shard, first in enumerate(range(0, len(intervals), records_per_file)):
            final = os.path.join(record_dir, f"{split}-{shard}.tfr")
            tmp = os.path.join(record_dir, f".{split}-{shard}.tfr.{os.getpid()}.tmp")
            temporary.append((tmp, final))
            with tf.io.TFRecordWriter(tmp, options) as writer:
                for interval in intervals[first : first + records_per_file]:
                    one_hot = one_hot_encode(
                        fasta.extract(interval.chrom, interval.start, interval.end)
                    )
                    values = np.asarray(
                        targets(interval.chrom, interval.start + crop_bp,
                                interval.end - crop_bp, pool_width),
                        dtype=np.float64,
                    )
                    if values.shape != (target_length, num_targets):
                        raise ValueError(
                            f"Target source returned shape {values.shape}, "
                            f"expected {(target_length, num_targets)}"
                        )
                    if not np.all(np.isfinite(values)) or np.abs(values).max(initial=0) > _FLOAT16_MAX:
                        raise InputFileError(
                            interval.source, interval.line,
                            "targets are not finite or overflow float16",
                            f"{interval.chrom}:{interval.start}-{interval.end}",
                        )
                    writer.write(serialize_example(one_hot, values))
        for stale in glob.glob(os.path.join(record_dir, f"{split}-*.tfr")):
            os.remove(stale)
        for tmp, final in temporary:
            os.replace(tmp, final)
        temporary = []
    finally:
        for tmp, _ in temporary:
            if os.path.exists(tmp):
                os.remove(tmp)
    statistics[f"{split}_seqs"] = len(intervals)
    with atomic_output(stats_path, "w") as handle:
        json.dump(statistics, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return statistics
