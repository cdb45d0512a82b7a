"""`data.source: tfrecords`: Basenji/Enformer TFRecord folders as training streams.

The records are read by `kipoi_genome.data.tf_datasets.tfrecord_dataset`
(`statistics.json` + `tfrecords/<split>-*.tfr`, the layout our writer
`kipoi_genome.data.write_tfrecords` produces); this module arranges them into
the dataset functions of the trainer's streams (`training.tracks` wraps them
in `DataStream`s):

```yaml
data:
  source: tfrecords
  data_dir: path/to/human        # statistics.json, tfrecords/train-*.tfr, valid-*.tfr
  organism: human                # head name (default: the folder's name)
  augment: {max_shift: 3, reverse_complement_prob: 0.5}   # null = off
```

`sequence_length`, `target_length` and `bin_size` come from
`statistics.json` (`seq_length`, `target_length`, `pool_width`); given in
the section as well, they must agree. Training reads the `train` split,
shuffled with the run's seed and repeated; batch `i` is the `i`-th of that
seeded order, so a resumed run continues where the crashed one stopped.
Evaluation reads the whole `valid` split (full global batches), when it
has files.
"""

import functools
import glob
import os

__all__ = ["augment_options", "stream_functions", "tfrecord_layout"]


def tfrecord_layout(data):
    """`(sequence_length, target_length, bin_size, num_targets)` of `data["data_dir"]`.

    Raises:
        ValueError: no `data_dir`, or section values that disagree with
            `statistics.json`.
    """
    from kipoi_genome.data import read_statistics

    if not data.get("data_dir"):
        raise ValueError(f"`data.data_dir` is required for source tfrecords. Received data keys: {sorted(data)}")
    statistics = read_statistics(data["data_dir"])
    layout = {
        "sequence_length": statistics["seq_length"],
        "target_length": statistics["target_length"],
        "bin_size": statistics["pool_width"],
    }
    for key, value in layout.items():
        if data.get(key) is not None and data[key] != value:
            raise ValueError(
                f"`data.{key}` disagrees with {os.path.join(data['data_dir'], 'statistics.json')} "
                f"({value}). Received: {key}={data[key]}"
            )
    return layout["sequence_length"], layout["target_length"], layout["bin_size"], statistics["num_targets"]


def augment_options(augment):
    """Keyword arguments of `tfrecord_dataset` / `interval_dataset` for a `data.augment` mapping.

    Args:
        augment: mapping with `max_shift` (default 3) and
            `reverse_complement_prob` (0 turns reverse complements off; any
            other value draws them with probability 0.5), or None.

    Returns:
        dict; empty (no augmentation) for None or an empty mapping.
    """
    if not augment:
        return {}
    if not isinstance(augment, dict):
        raise ValueError(f"`data.augment` must be a mapping or null. Received: augment={augment!r}")
    return dict(augment=True, max_shift=int(augment.get("max_shift", 3)),
                reverse_complement=bool(augment.get("reverse_complement_prob", 0.5)))


def _train_dataset(global_batch_size, seed, start_batch, data_dir, augment):
    from kipoi_genome.data import tfrecord_dataset

    dataset = tfrecord_dataset(data_dir, "train", shuffle=True, seed=seed, deterministic=True,
                               prefetch=False, **augment_options(augment))
    return dataset.repeat().batch(global_batch_size, drop_remainder=True).skip(start_batch).prefetch(2)


def _eval_dataset(global_batch_size, seed, start_batch, data_dir, num_batches=None):
    from kipoi_genome.data import tfrecord_dataset

    dataset = tfrecord_dataset(data_dir, "valid", batch_size=global_batch_size, drop_remainder=True,
                               deterministic=True)
    return dataset.take(num_batches) if num_batches else dataset


def stream_functions(data):
    """Dataset functions of a `source: tfrecords` data section (see module docstring).

    Returns:
        `(organism, train_fn, eval_fn or None, track_names)`; the functions
        take `(global_batch_size, seed, start_batch)` as the trainer's
        `DataStream.dataset_fn`. `eval_fn` is None when the folder has no
        `valid` records. Track names are `target_names` of
        `statistics.json` (our writer records them), else `target_<i>`.
    """
    from kipoi_genome.data import read_statistics

    _, _, _, num_targets = tfrecord_layout(data)
    data_dir = os.fspath(data["data_dir"])
    organism = data.get("organism") or os.path.basename(os.path.normpath(data_dir))
    train = functools.partial(_train_dataset, data_dir=data_dir, augment=data.get("augment"))
    evaluation = None
    if glob.glob(os.path.join(data_dir, "tfrecords", "valid-*.tfr")):
        evaluation = functools.partial(_eval_dataset, data_dir=data_dir, num_batches=data.get("eval_batches"))
    names = read_statistics(data_dir).get("target_names")
    if not isinstance(names, list) or len(names) != num_targets:
        names = [f"target_{i}" for i in range(num_targets)]
    return organism, train, evaluation, [str(name) for name in names]
