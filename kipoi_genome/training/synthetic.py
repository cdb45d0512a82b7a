"""Synthetic sequence -> track datasets, generated from a seed (no files).

Batch `i` of a stream is a pure function of `(seed, stream_id, i)`, so a run
resumed at batch `i` sees exactly the batches an uninterrupted run would.
Tracks are counts per bin of simple sequence features, which both
convolutional and attention models can learn; they exercise the trainer
(multi-head, alternating organisms, augmentation) in tests.
"""

import tensorflow as tf

from kipoi_genome.data.tf_datasets import augment_batch

__all__ = ["SYNTHETIC_TRACKS", "binned_features", "synthetic_tracks_dataset"]

# Feature name -> per-position indicator, from one-hot (B, L, 4) in ACGT order.
SYNTHETIC_TRACKS = {
    "a": lambda x: x[..., 0],
    "c": lambda x: x[..., 1],
    "g": lambda x: x[..., 2],
    "t": lambda x: x[..., 3],
    "gc": lambda x: x[..., 1] + x[..., 2],
    "cpg": lambda x: tf.pad(x[:, :-1, 1] * x[:, 1:, 2], [[0, 0], [0, 1]]),
}


def binned_features(one_hot, tracks, bin_size, target_length):
    """Counts of sequence features per bin, centre-cropped.

    Args:
        one_hot: float tensor `(B, L, 4)`.
        tracks: sequence of names from `SYNTHETIC_TRACKS`.
        bin_size: int. L must be a multiple.
        target_length: int. Central bins kept.

    Returns:
        Float32 tensor `(B, target_length, len(tracks))`.
    """
    unknown = [t for t in tracks if t not in SYNTHETIC_TRACKS]
    if unknown:
        raise ValueError(
            f"Unknown synthetic track(s) {unknown}; expected some of {sorted(SYNTHETIC_TRACKS)}. "
            f"Received: tracks={list(tracks)}"
        )
    per_position = tf.stack([SYNTHETIC_TRACKS[t](one_hot) for t in tracks], axis=-1)  # (B, L, C)
    batch = tf.shape(per_position)[0]
    binned = tf.reduce_sum(tf.reshape(per_position, [batch, -1, bin_size, len(tracks)]), axis=2)
    num_bins = one_hot.shape[1] // bin_size
    crop = (num_bins - target_length) // 2
    return binned[:, crop : crop + target_length]


def synthetic_tracks_dataset(
    global_batch_size,
    seed,
    start_batch,
    sequence_length,
    tracks,
    bin_size=128,
    target_length=None,
    stream_id=0,
    num_batches=None,
    augment=None,
):
    """Random DNA with feature-count tracks, batch `i` a function of the seed.

    Args:
        global_batch_size: int. Examples per batch.
        seed: int. Run seed.
        start_batch: int. Index of the first batch produced.
        sequence_length: int. L, a multiple of `bin_size`.
        tracks: list of str. Names from `SYNTHETIC_TRACKS`.
        bin_size: int. Defaults to 128.
        target_length: int or None. Central bins kept (None: all).
        stream_id: int. Separates streams (organisms, train vs eval).
        num_batches: int or None. None: infinite; else batches
            `start_batch .. num_batches - 1`.
        augment: optional dict `{max_shift, reverse_complement_prob}` for
            `kipoi_genome.data.tf_datasets.augment_batch`.

    Returns:
        `tf.data.Dataset` of `(one_hot (B, L, 4) float32, targets (B, T, C))`.
    """
    if sequence_length % bin_size:
        raise ValueError(
            "`sequence_length` must be a multiple of `bin_size`. "
            f"Received: sequence_length={sequence_length}, bin_size={bin_size}"
        )
    target_length = target_length or sequence_length // bin_size
    stop = tf.int64.max if num_batches is None else num_batches

    def make(index):
        key = tf.stack([tf.cast(seed, tf.int64) * 1_000_003 + stream_id, index])
        tokens = tf.random.stateless_uniform(
            [global_batch_size, sequence_length], key, minval=0, maxval=4, dtype=tf.int32
        )
        one_hot = tf.one_hot(tokens, 4, dtype=tf.float32)
        targets = binned_features(one_hot, tracks, bin_size, target_length)
        if augment:
            one_hot, targets = augment_batch(one_hot, targets, key + 7, bin_size, **augment)
        return one_hot, targets

    return tf.data.Dataset.range(start_batch, stop).map(make).prefetch(2)
