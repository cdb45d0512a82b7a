"""tf.data pipelines: FASTA + intervals, and Enformer/Basenji TFRecords.

Both builders follow one recipe: an index (or file) dataset is sharded first
(by a `tf.distribute.InputContext`, or left to tf.data's auto-sharding by
data), optionally shuffled with a seed, then decoded in a parallel map,
optionally augmented, batched and prefetched. With ``deterministic=True`` and
a ``seed`` the element order and the augmentation are reproducible:
random shifts / reverse complements come from stateless random ops seeded
per element, so they do not depend on thread timing.

Augmentation (`augment_example`) is the TensorFlow twin of
`kipoi_genome.data.transforms.augment`: a random shift of up to
``max_shift`` bp (N fill) and a random reverse complement, with the targets
moved to match (reversed along their length axis on reverse complement;
shifted too when they have base resolution, ``pool_width == 1``).
"""

import numpy as np
import tensorflow as tf

from kipoi_genome.data.fasta import FastaExtractor
from kipoi_genome.data.intervals import as_intervals, check_intervals, equal_width_intervals

AUTOTUNE = tf.data.AUTOTUNE


# Augmentation ---------------------------------------------------------------


def reverse_complement_one_hot(one_hot):
    """Reverse complement of one-hot tensors in ACGT order (the complement of ACGT is TGCA).

    The TensorFlow twin of `kipoi_genome.data.transforms.reverse_complement`
    for one-hot arrays: the length and channel axes are both reversed.

    Args:
        one_hot: tensor of shape (..., L, 4).

    Returns:
        tensor of the same shape and dtype.
    """
    return tf.reverse(one_hot, axis=[-2, -1])


def shift_sequence(x, shift, fill_value=0.0):
    """``out[i] = x[i - shift]`` along axis 0, filling with `fill_value`.

    Args:
        x: tensor of shape (L, C).
        shift: int32 scalar tensor. Positive moves content right.
        fill_value: float. Value for positions shifted in. Defaults to 0 (N).

    Returns:
        tensor of shape (L, C).
    """
    x = tf.convert_to_tensor(x)
    shift = tf.cast(shift, tf.int32)
    length = tf.shape(x)[0]
    pad = tf.minimum(tf.abs(shift), length)
    padded = tf.pad(x, [[pad, pad], [0, 0]], constant_values=tf.cast(fill_value, x.dtype))
    begin = pad - tf.clip_by_value(shift, -length, length)
    return tf.slice(padded, [begin, 0], [length, -1])


def augment_example(sequence, targets, shift, reverse, pool_width=1, fill_value=0.0):
    """Shifts and optionally reverse-complements a (sequence, targets) pair.

    Args:
        sequence: tensor (L, 4), one-hot ACGT.
        targets: tensor (T, C) or None.
        shift: int32 scalar tensor, in bp.
        reverse: bool scalar tensor.
        pool_width: int. Bin width of the targets in bp. With
            ``pool_width > 1`` shifts must stay under one bin, and the targets
            do not move on shifts.
        fill_value: float. Sequence value shifted in (the neutral value).

    Returns:
        (sequence, targets) with unchanged shapes (targets None if None).
    """
    sequence = shift_sequence(sequence, shift, fill_value)
    if targets is not None and pool_width == 1:
        targets = shift_sequence(targets, shift, 0.0)
    sequence = tf.cond(reverse, lambda: reverse_complement_one_hot(sequence), lambda: sequence)
    if targets is not None:
        targets = tf.cond(reverse, lambda: tf.reverse(targets, [0]), lambda: targets)
    return sequence, targets


def random_augmentation(seed, max_shift=3, reverse_complement=True, reverse_complement_prob=0.5):
    """Draws a shift in ``[-max_shift, max_shift]`` and a reverse-complement flag.

    Args:
        seed: int32/int64 tensor of shape (2,), a stateless seed.
        max_shift: int. Largest |shift|.
        reverse_complement: bool. If False the flag is always False.
        reverse_complement_prob: float in [0, 1]. Probability of the flag.
            Defaults to 0.5.

    Returns:
        (shift int32 scalar, reverse bool scalar).
    """
    seeds = tf.random.experimental.stateless_split(seed, 2)
    shift = tf.random.stateless_uniform(
        [], seeds[0], minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32
    )
    if reverse_complement:
        reverse = tf.random.stateless_uniform([], seeds[1]) < reverse_complement_prob
    else:
        reverse = tf.constant(False)
    return shift, reverse


def augment_batch(sequences, targets, seed, pool_width, max_shift=3, reverse_complement_prob=0.5):
    """Random shift and reverse complement of every example of a batch.

    Example ``b`` draws its shift and flag with `random_augmentation` from
    the ``b``-th stateless split of `seed` and is transformed by
    `augment_example`, so a batch is augmented exactly as its examples
    would be one by one, and equal seeds give equal batches.

    Args:
        sequences: float tensor (B, L, 4), one-hot ACGT.
        targets: float tensor (B, T, C).
        seed: int tensor of shape (2,), a stateless seed.
        pool_width: int. Bin width of the targets in bp (1: base resolution,
            targets shift with the sequence; otherwise `max_shift` must stay
            under one bin and targets only follow reverse complements).
        max_shift: int >= 0. Shifts are uniform in ``[-max_shift, max_shift]``.
        reverse_complement_prob: float in [0, 1]. Defaults to 0.5.

    Returns:
        (sequences, targets) with unchanged shapes.
    """
    _check_augmentation(max_shift, pool_width)
    if not 0.0 <= reverse_complement_prob <= 1.0:
        raise ValueError(
            "`reverse_complement_prob` must be in [0, 1]. "
            f"Received: reverse_complement_prob={reverse_complement_prob!r}"
        )
    sequences, targets = tf.convert_to_tensor(sequences), tf.convert_to_tensor(targets)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), tf.shape(sequences)[0])

    def one(example):
        sequence, target, example_seed = example
        shift, reverse = random_augmentation(example_seed, max_shift, True, reverse_complement_prob)
        return augment_example(sequence, target, shift, reverse, pool_width)

    return tf.map_fn(
        one,
        (sequences, targets, seeds),
        fn_output_signature=(
            tf.TensorSpec(sequences.shape[1:], sequences.dtype),
            tf.TensorSpec(targets.shape[1:], targets.dtype),
        ),
    )


def _check_augmentation(max_shift, pool_width):
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
        raise ValueError(f"`max_shift` must be a non-negative integer. Received: max_shift={max_shift!r}")
    if isinstance(pool_width, bool) or not isinstance(pool_width, (int, np.integer)) or pool_width < 1:
        raise ValueError(f"`pool_width` must be a positive integer. Received: pool_width={pool_width!r}")
    if pool_width > 1 and max_shift >= pool_width:
        raise ValueError(
            "With binned targets `max_shift` must be smaller than one bin. "
            f"Received: max_shift={max_shift}, pool_width={pool_width}"
        )


# Shared pipeline steps -------------------------------------------------------


READ_CHUNK = 16  # windows read from the FASTA per Python call


def _dataset_options(deterministic, sharded_manually):
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF
        if sharded_manually
        else tf.data.experimental.AutoShardPolicy.DATA
    )
    return options


def _finish(dataset, batch_size, drop_remainder, input_context, deterministic, prefetch):
    if batch_size is not None:
        if input_context is not None:
            batch_size = input_context.get_per_replica_batch_size(batch_size)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if prefetch:
        dataset = dataset.prefetch(AUTOTUNE)
    return dataset.with_options(_dataset_options(deterministic, input_context is not None))


def numpy_batches(make_batch, start_batch, stop, shapes, augment=None, augment_key=0, pool_width=1):
    """A tf.data pipeline of whole batches made by a NumPy function of the batch index.

    Batch ``i`` is ``make_batch(i)``, for ``i`` in ``[start_batch, stop)``;
    when `make_batch` is a pure function of ``i`` (e.g. it seeds its random
    generator with ``i``), a pipeline started at ``start_batch = k`` yields
    exactly the batches ``k, k + 1, ...`` of one started at 0, which is how
    resumed training runs continue where they stopped.

    Args:
        make_batch: callable ``int -> (x, y)`` of float32 arrays.
        start_batch: int. Index of the first batch.
        stop: int. One past the last index.
        shapes: pair of static shapes ``((B, L, 4), (B, T, C))`` of x and y.
        augment: dict of `augment_batch` options (``max_shift``,
            ``reverse_complement_prob``), or None for no augmentation.
        augment_key: int. Batch ``i`` is augmented with the stateless seed
            ``(augment_key, i)``, so it too depends only on the key and ``i``.
        pool_width: int. Bin width of y in bp (see `augment_batch`).

    Returns:
        tf.data.Dataset of ``(x, y)`` float32 batches.
    """

    def read(index):
        x, y = tf.numpy_function(make_batch, [index], (tf.float32, tf.float32), stateful=False)
        x.set_shape(shapes[0])
        y.set_shape(shapes[1])
        if augment:
            seed = tf.stack([tf.constant(int(augment_key), tf.int64), index])
            x, y = augment_batch(x, y, seed, pool_width, **augment)
        return x, y

    return tf.data.Dataset.range(start_batch, stop).map(read)


def _with_seeds(dataset, seed):
    """Zips each element with a (2,) int64 stateless seed that changes every epoch."""
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    randoms = randoms.batch(2, drop_remainder=True)
    return tf.data.Dataset.zip((dataset, randoms))


# Intervals → one-hot --------------------------------------------------------


def interval_dataset(
    fasta,
    intervals,
    sequence_length=None,
    targets=None,
    batch_size=None,
    shuffle=False,
    seed=None,
    augment=False,
    max_shift=3,
    reverse_complement=True,
    pool_width=1,
    use_strand=False,
    neutral_value=0.0,
    check_bounds=True,
    deterministic=False,
    num_parallel_calls=AUTOTUNE,
    drop_remainder=False,
    input_context=None,
    prefetch=True,
):
    """A tf.data pipeline of one-hot sequences cut from a FASTA.

    Args:
        fasta: str, os.PathLike or FastaExtractor.
        intervals: BED path, or a sequence of Interval or
            ``(chrom, start, end[, strand])`` tuples.
        sequence_length: int or None. Resize every interval to this length
            around its centre (N-padded at chromosome ends). If None all
            intervals must have the same width.
        targets: array-like of shape (N, ...) aligned with the intervals, or
            None (then elements are sequences only).
        batch_size: int or None. Global batch size (divided by the number of
            replicas when `input_context` is given); None for no batching.
        shuffle: bool. Shuffle the intervals (reshuffled each epoch).
        seed: int or None. Seed for shuffling and augmentation.
        augment: bool. Random shift (±`max_shift` bp) and reverse complement.
        max_shift: int. Largest shift in bp. Defaults to 3.
        reverse_complement: bool. Include random reverse complement in the
            augmentation. Defaults to True.
        pool_width: int. Bin width of `targets` along their first axis in bp
            (1 = base resolution: targets shift with the sequence).
        use_strand: bool. Reverse-complement minus-strand intervals.
        neutral_value: float. One-hot value for N. Defaults to 0 (Enformer).
        check_bounds: bool. Reject intervals whose contig is absent from the
            FASTA or that end past the contig (before resizing), with a
            one-line error naming the BED file and line. Defaults to True.
        deterministic: bool. Keep element order (and so results) reproducible
            across runs. Defaults to False (faster).
        num_parallel_calls: int. Parallelism of the decoding map.
        drop_remainder: bool. Drop the last incomplete batch.
        input_context: tf.distribute.InputContext or None. When given, the
            dataset is sharded by input pipeline before decoding and the
            batch size is divided per replica (use with
            ``strategy.distribute_datasets_from_function``). Otherwise the
            dataset auto-shards by data under ``tf.distribute``.
        prefetch: bool. Prefetch batches. Defaults to True.

    Returns:
        tf.data.Dataset of float32 ``(L, 4)`` sequences, or of
        ``(sequence, target)`` pairs when `targets` is given (with a leading
        batch axis when batched).
    """
    if not isinstance(fasta, FastaExtractor):
        fasta = FastaExtractor(fasta)
    intervals = as_intervals(intervals)
    if check_bounds:
        check_intervals(intervals, fasta)
    intervals, sequence_length = equal_width_intervals(intervals, sequence_length)
    if augment:
        _check_augmentation(max_shift, pool_width)
    chroms = [iv.chrom for iv in intervals]
    starts = np.array([iv.start for iv in intervals], dtype=np.int64)
    strands = [iv.strand if use_strand else "+" for iv in intervals]

    target_table = None
    if targets is not None:
        target_array = np.asarray(targets, dtype=np.float32)
        if target_array.shape[0] != len(intervals):
            raise ValueError(
                "`targets` must have one row per interval. "
                f"Received: {target_array.shape[0]} rows for {len(intervals)} intervals"
            )
        target_table = tf.constant(target_array)

    def load(indices):
        rows = [int(i) for i in indices]
        return fasta.extract_one_hot_batch(
            [chroms[i] for i in rows], starts[rows], sequence_length, [strands[i] for i in rows], neutral_value
        )

    def read(element):
        # One Python call per chunk of windows, not per window.
        indices = element["index"]
        sequences = tf.numpy_function(load, [indices], tf.float32, stateful=False)
        element["sequence"] = tf.ensure_shape(sequences, (None, sequence_length, 4))
        return element

    def decode(element):
        sequence, index = element["sequence"], element["index"]
        target = tf.gather(target_table, index) if target_table is not None else None
        if "seed" in element:
            shift, reverse = random_augmentation(
                tf.cast(element["seed"], tf.int64), max_shift, reverse_complement
            )
            sequence, target = augment_example(
                sequence, target, shift, reverse, pool_width, neutral_value
            )
        return sequence if target is None else (sequence, target)

    dataset = tf.data.Dataset.range(len(intervals))
    if input_context is not None:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(len(intervals), seed=seed, reshuffle_each_iteration=True)
    if augment:
        dataset = _with_seeds(dataset, seed).map(lambda index, seed_pair: {"index": index, "seed": seed_pair})
    else:
        dataset = dataset.map(lambda index: {"index": index})
    dataset = dataset.batch(READ_CHUNK).map(read, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    dataset = dataset.unbatch().map(decode, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    return _finish(dataset, batch_size, drop_remainder, input_context, deterministic, prefetch)


# TFRecords → (sequence, target) ----------------------------------------------


def tfrecord_dataset(
    data_dir,
    split="train",
    batch_size=None,
    shuffle=False,
    shuffle_buffer=1024,
    seed=None,
    augment=False,
    max_shift=3,
    reverse_complement=True,
    deterministic=False,
    num_parallel_calls=AUTOTUNE,
    drop_remainder=False,
    input_context=None,
    prefetch=True,
    as_dict=False,
):
    """A tf.data pipeline over Enformer/Basenji TFRecords.

    Reads ``<data_dir>/statistics.json`` and ``<data_dir>/tfrecords/<split>-*.tfr``
    (ZLIB-compressed; see `kipoi_genome.data.tfrecords`).

    Args:
        data_dir: str. Dataset folder (e.g. one organism of basenji_barnyard).
        split: str. ``"train"``, ``"valid"`` or ``"test"``.
        batch_size: int or None. Global batch size.
        shuffle: bool. Shuffle files and records (files are interleaved).
            Without shuffling, records come in file order.
        shuffle_buffer: int. Record shuffle buffer size.
        seed: int or None. Seed for shuffling and augmentation.
        augment: bool. Random shift (< one bin) and reverse complement;
            targets are reversed with the sequence.
        max_shift: int. Largest shift in bp. Defaults to 3.
        reverse_complement: bool. Include reverse complement in augmentation.
        deterministic: bool. Reproducible order.
        num_parallel_calls: int. Parallelism of reading and parsing.
        drop_remainder: bool. Drop the last incomplete batch.
        input_context: tf.distribute.InputContext or None. Shard by file when
            there are at least as many files as input pipelines, else by record.
        prefetch: bool. Prefetch batches.
        as_dict: bool. Yield ``{"sequence", "target"}`` dicts instead of pairs.

    Returns:
        tf.data.Dataset of ``(sequence float32 (seq_length, 4), target float32
        (target_length, num_targets))``.
    """
    from kipoi_genome.data import tfrecords

    statistics = tfrecords.read_statistics(data_dir)
    files = tfrecords.tfrecord_files(data_dir, split)
    tfrecords.check_first_record(files[0], statistics)
    pool_width = int(statistics.get("pool_width", 1))
    if augment:
        _check_augmentation(max_shift, pool_width)

    dataset = tf.data.Dataset.from_tensor_slices(files)
    shard_records = False
    if input_context is not None:
        if len(files) >= input_context.num_input_pipelines:
            dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        else:
            shard_records = True
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    # Without shuffling, records keep file order (so predictions line up with
    # the sequences that made the records); with shuffling, files interleave.
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type="ZLIB", buffer_size=1 << 20),
        cycle_length=min(len(files), 8) if shuffle else 1,
        num_parallel_calls=num_parallel_calls if shuffle else None,
        deterministic=deterministic if shuffle else None,
    )
    if shard_records:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if augment:
        dataset = _with_seeds(dataset, seed)

    def decode(serialized, seed_pair=None):
        example = tfrecords.parse_example(serialized, statistics)
        sequence, target = example["sequence"], example["target"]
        if seed_pair is not None:
            shift, reverse = random_augmentation(
                tf.cast(seed_pair, tf.int64), max_shift, reverse_complement
            )
            sequence, target = augment_example(sequence, target, shift, reverse, pool_width)
        if as_dict:
            return {"sequence": sequence, "target": target}
        return sequence, target

    dataset = dataset.map(decode, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    return _finish(dataset, batch_size, drop_remainder, input_context, deterministic, prefetch)
