"""Choosing a `tf.distribute` strategy by name, and what depends on it.

One training loop runs under every strategy (see `trainer.py`); only the
strategy object changes:

| name          | strategy                                   | replicas                     |
|---------------|--------------------------------------------|------------------------------|
| `default`     | `tf.distribute.get_strategy()`             | 1 (the default device)       |
| `mirrored`    | `tf.distribute.MirroredStrategy(devices)`  | local GPUs, or given devices |
| `multiworker` | `tf.distribute.MultiWorkerMirroredStrategy`| all replicas of all workers  |
| `tpu`         | `tf.distribute.TPUStrategy`                | TPU cores                    |

`multiworker` reads the cluster from the `TF_CONFIG` environment variable,
which must be set before TensorFlow is imported, e.g. for worker 0 of two:
`{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type":
"worker", "index": 0}}`.
"""

import os

import tensorflow as tf

__all__ = [
    "STRATEGIES",
    "configure_logical_cpus",
    "make_strategy",
    "global_batch_size",
    "is_chief",
    "worker_index",
    "describe",
]

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def configure_logical_cpus(count):
    """Splits the physical CPU into `count` logical devices (for tests/demos).

    Must run before TensorFlow initialises its devices (before the first op).

    Args:
        count: int >= 1. Number of logical CPU devices.

    Returns:
        List of the logical CPU device names, e.g. `["/device:CPU:0", ...]`.
    """
    if int(count) != count or count < 1:
        raise ValueError(f"`count` must be an integer >= 1. Received: count={count}")
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(int(count))]
        )
    except RuntimeError as error:
        existing = tf.config.list_logical_devices("CPU")
        if len(existing) != count:
            raise RuntimeError(
                f"Cannot split the CPU into {count} logical devices: TensorFlow has already "
                f"initialised {len(existing)}. Configure them before any TensorFlow op runs."
            ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def make_strategy(name="default", devices=None, num_logical_cpus=None, tpu=None):
    """Builds the `tf.distribute.Strategy` named `name`.

    Args:
        name: str. One of `"default"`, `"mirrored"`, `"multiworker"`, `"tpu"`.
        devices: optional list of str. Devices for `mirrored`, e.g.
            `["/gpu:0", "/gpu:1"]`. Defaults to all local GPUs (or the CPU).
        num_logical_cpus: optional int. Split the CPU into this many logical
            devices first (must happen before TensorFlow runs any op); with
            `mirrored` and no `devices`, the replicas are these CPUs.
        tpu: optional str. TPU name or address for `tpu` (`""` = local TPU).

    Returns:
        A `tf.distribute.Strategy`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"`name` must be one of {STRATEGIES}. Received: name={name!r}")
    cpu_names = None
    if num_logical_cpus:
        cpu_names = configure_logical_cpus(num_logical_cpus)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None and cpu_names is not None and not tf.config.list_physical_devices("GPU"):
            devices = cpu_names
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "`multiworker` needs the TF_CONFIG environment variable describing the cluster. "
                "Received: TF_CONFIG unset"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def global_batch_size(per_replica_batch_size, strategy):
    """Global batch = per-replica batch x replicas in sync.

    Args:
        per_replica_batch_size: int >= 1.
        strategy: a `tf.distribute.Strategy`.

    Returns:
        int.
    """
    if int(per_replica_batch_size) != per_replica_batch_size or per_replica_batch_size < 1:
        raise ValueError(
            "`per_replica_batch_size` must be an integer >= 1. "
            f"Received: per_replica_batch_size={per_replica_batch_size}"
        )
    return int(per_replica_batch_size) * strategy.num_replicas_in_sync


def _task(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and resolver is not None:
        return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()
    return None, None, {}


def is_chief(strategy):
    """Whether this process writes logs, checkpoints and final weights.

    True except on multi-worker non-chief processes: the chief is the task of
    type `chief`, or worker 0 when the cluster has no chief.
    """
    task_type, task_id, cluster = _task(strategy)
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def worker_index(strategy):
    """Index of this worker in a multi-worker cluster (0 otherwise)."""
    task_type, task_id, _ = _task(strategy)
    return 0 if task_type is None else int(task_id)


def describe(strategy):
    """A one-line description of a strategy, for logs."""
    task_type, task_id, _ = _task(strategy)
    where = "" if task_type is None else f", task {task_type}:{task_id}"
    return f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replicas{where})"

