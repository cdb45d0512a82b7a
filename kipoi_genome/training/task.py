"""What to train: the contract between a task (Enformer, LOGO, ...) and the trainer.

A *task builder* is a function `builder(config: TrainConfig) -> Task`,
registered under a name with `@register_task("name")`. The trainer calls
`Task.build_model` inside `strategy.scope()`, and the dataset functions with
the global batch size, so a task never deals with strategies.

Data contract (`DataStream.dataset_fn(global_batch_size, seed, start_batch)`):
returns a `tf.data.Dataset` of GLOBAL batches `(x, y)` or `(x, y, weight)`.
Training streams are infinite (`repeat()`); `start_batch` is how many batches
of this stream earlier steps consumed, so a resumed run continues where the
crashed one stopped (make batch `i` a function of `(seed, i)`, or `skip`).
Evaluation streams are finite, each batch a full global batch (drop the
remainder). `weight` broadcasts against the element-wise loss (e.g. `(B, L)`
for a masked LM, 1 at masked positions); the trainer's loss is
`sum(loss * weight) / sum(weight)` with both sums over the GLOBAL batch.

Lookup (`get_task_builder`): a registered name; a built-in task (`tracks`,
`logo_mlm`, `logo_classifier`; their module is imported on first use); else
the module `kipoi_genome.training.<name>` is imported (it registers itself)
and the name looked up again; else `"package.module:function"` names the
builder directly.
"""

import dataclasses
import importlib
import os
from typing import Callable, Mapping, Optional

__all__ = ["DataStream", "Task", "register_task", "get_task_builder", "registered_tasks", "require_data_file"]

_REGISTRY = {}

# Built-in tasks whose module name differs from the task name (imported on lookup).
_BUILTIN_MODULES = {
    "tracks": "kipoi_genome.training.tracks",
    "logo_mlm": "kipoi_genome.training.logo_tasks",
    "logo_classifier": "kipoi_genome.training.logo_tasks",
}


@dataclasses.dataclass
class DataStream:
    """One source of batches and the model output it trains or evaluates.

    Args:
        dataset_fn: callable `(global_batch_size, seed, start_batch) ->
            tf.data.Dataset` of global batches `(x, y)` or `(x, y, weight)`.
        output: str or None. Key of the model's dict output this stream's
            targets belong to (e.g. `"human"`); None when the model returns
            one tensor.
    """

    dataset_fn: Callable
    output: Optional[str] = None


@dataclasses.dataclass
class Task:
    """Everything model- and data-specific; the trainer supplies the rest.

    Args:
        build_model: callable `() -> keras.Model`, called inside
            `strategy.scope()` (after the global seed is set).
        loss: callable `(y_true, y_pred) -> element-wise loss` with no
            reduction (see `losses.py`), or a name for `losses.get_loss`.
        train_streams: mapping name -> `DataStream`. With several streams,
            steps alternate between them round-robin in mapping order (one
            optimizer step per batch), as Enformer alternates human and mouse.
        eval_streams: mapping name -> `DataStream` (finite datasets).
        eval_metrics: callable `() -> {name: metric}`, a fresh set of metrics
            per evaluation stream. A metric has `statistics(y_true, y_pred,
            weight) -> tensor` (of one replica's share of the batch; `weight`
            is None or right-padded to the rank of `y_true`),
            `update_state(stacked)` (statistics of all replicas stacked on a
            new leading axis), `result()` and `reset_state()`, like
            `metrics.PearsonR` and `metrics.SparseAccuracy`.
        predict_fn: optional callable `(model, x) -> outputs` used at
            evaluation instead of `model(x, training=False)`, e.g. test-time
            augmentation. Must return the same structure as the model.
        metadata: dict of anything worth logging (track names, ...).
    """

    build_model: Callable
    loss: object
    train_streams: Mapping[str, DataStream]
    eval_streams: Mapping[str, DataStream] = dataclasses.field(default_factory=dict)
    eval_metrics: Optional[Callable] = None
    predict_fn: Optional[Callable] = None
    metadata: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not self.train_streams:
            raise ValueError(
                f"A task needs at least one training stream. Received: train_streams={self.train_streams!r}"
            )
        for name, stream in {**dict(self.train_streams), **dict(self.eval_streams)}.items():
            if not isinstance(stream, DataStream):
                raise ValueError(
                    f"Stream {name!r} must be a DataStream. Received: {type(stream).__name__}"
                )


def register_task(name):
    """Decorator registering a task builder `(TrainConfig) -> Task` as `name`."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string. Received: name={name!r}")

    def decorator(builder):
        _REGISTRY[name] = builder
        return builder

    return decorator


def registered_tasks():
    """Names registered so far (modules not yet imported are not listed)."""
    return sorted(_REGISTRY)


def get_task_builder(name):
    """Finds the task builder for `name` (see module docstring).

    Args:
        name: str. Registered name, training-module name, or
            `"package.module:function"`.

    Returns:
        The builder callable.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
        return _REGISTRY[name]
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        module = importlib.import_module(module_name)
        if not hasattr(module, attribute):
            raise ValueError(f"Module {module_name} has no {attribute!r}. Received: task={name!r}")
        return getattr(module, attribute)
    if name.isidentifier():
        try:
            importlib.import_module(f"kipoi_genome.training.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"kipoi_genome.training.{name}":
                raise
        if name in _REGISTRY:
            return _REGISTRY[name]
    raise ValueError(
        f"Unknown task. Registered: {registered_tasks()}; or use 'package.module:function'. "
        f"Received: task={name!r}"
    )


def require_data_file(path, key):
    """Checks that the file a `data.<key>` config entry names exists.

    Args:
        path: str or None. The configured path (relative to the working directory).
        key: str. The key under `data:`, for the message.

    Returns:
        `path`.

    Raises:
        FileNotFoundError: naming the key, the path and the working directory.
    """
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"`data.{key}` file not found: {path!r} (relative paths are from {os.getcwd()})")
    return path
