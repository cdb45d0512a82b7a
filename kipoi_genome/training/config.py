"""Training configuration: a validated dataclass read from YAML.

A config file has these top-level keys (all sections optional except `task`
and `train.steps`); `model`, `data` and `evaluation` are passed to the task
builder unchanged and documented with each task (docs/training.md):

```yaml
task: tracks                  # registered task, or "package.module:function"
seed: 0                       # model init, data sampling, augmentation
output_dir: runs/enformer_tiny   # checkpoints, logs, final weights
distribute:
  strategy: default           # default | mirrored | multiworker | tpu (CLI --strategy wins)
  devices: null               # mirrored only, e.g. ["/gpu:0", "/gpu:1"]
  num_logical_cpus: null      # split the CPU into N devices (tests, demos)
  tpu: null                   # TPU name/address for tpu
train:
  steps: 1000                 # target number of optimizer steps
  per_replica_batch_size: 2   # global batch = this x replicas
  checkpoint_every: 100       # at most this many steps are redone after a crash
  keep_checkpoints: 3
  log_every: 10
  eval_every: 0               # 0: evaluate only at the end
  eval_batches: null          # cap on evaluation batches (null: whole set)
  mixed_precision: false      # true: bfloat16 compute, float32 variables
  max_minutes: null           # stop (checkpoint, evaluate, save) after this wall time; rerun resumes
optimizer:
  name: adam                  # adam | adamw | sgd
  learning_rate: 5.0e-4       # peak value
  warmup_steps: 5000          # linear warm-up from 0
  global_clipnorm: 0.2        # over the gradient summed across replicas; null = off
  beta_1: 0.9
  beta_2: 0.999
  epsilon: 1.0e-8
  weight_decay: null          # adamw only
  no_weight_decay: null       # adamw only: variable-name parts exempt, e.g. [bias, gamma, beta, embedding]
  decay: null                 # null: constant after warm-up; cosine: to alpha x peak at train.steps
  decay_alpha: 0.0            # cosine only
model: {...}                  # task-specific
data: {...}                   # task-specific
evaluation: {...}             # task-specific
```
"""

import dataclasses
import os

import yaml

from kipoi_genome.training.distribute import STRATEGIES

__all__ = ["DistributeConfig", "LoopConfig", "OptimizerConfig", "TrainConfig", "load_config"]

OPTIMIZERS = ("adam", "adamw", "sgd")
DECAYS = (None, "cosine")


def _from_dict(cls, values, section):
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(f"Section `{section}` must be a mapping. Received: {section}={values!r}")
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"Unknown key(s) in section `{section}`: {unknown}. Expected some of {sorted(names)}."
        )
    return cls(**values)


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


@dataclasses.dataclass
class DistributeConfig:
    """Which strategy to run under (see `distribute.make_strategy`)."""

    strategy: str = "default"
    devices: list = None
    num_logical_cpus: int = None
    tpu: str = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"`distribute.strategy` must be one of {STRATEGIES}. "
                f"Received: strategy={self.strategy!r}"
            )
        if self.num_logical_cpus is not None:
            _positive_int(self.num_logical_cpus, "distribute.num_logical_cpus")


@dataclasses.dataclass
class LoopConfig:
    """Length of training, batch size, checkpoint, log and evaluation cadence."""

    steps: int = None
    per_replica_batch_size: int = 2
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    log_every: int = 10
    eval_every: int = 0
    eval_batches: int = None
    mixed_precision: bool = False
    max_minutes: float = None

    def __post_init__(self):
        _positive_int(self.steps, "train.steps")
        if self.max_minutes is not None and (isinstance(self.max_minutes, bool) or not float(self.max_minutes) > 0):
            raise ValueError(f"`train.max_minutes` must be > 0 or null. Received: max_minutes={self.max_minutes!r}")
        _positive_int(self.per_replica_batch_size, "train.per_replica_batch_size")
        _positive_int(self.checkpoint_every, "train.checkpoint_every")
        _positive_int(self.keep_checkpoints, "train.keep_checkpoints")
        _positive_int(self.log_every, "train.log_every")
        _positive_int(self.eval_every, "train.eval_every", minimum=0)
        if self.eval_batches is not None:
            _positive_int(self.eval_batches, "train.eval_batches")
        if not isinstance(self.mixed_precision, bool):
            raise ValueError(
                f"`train.mixed_precision` must be true or false. "
                f"Received: mixed_precision={self.mixed_precision!r}"
            )


@dataclasses.dataclass
class OptimizerConfig:
    """Adam(W)/SGD with linear warm-up, optional cosine decay and global-norm clipping."""

    name: str = "adam"
    learning_rate: float = 5e-4
    warmup_steps: int = 0
    global_clipnorm: float = None
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    weight_decay: float = None
    no_weight_decay: list = None
    decay: str = None
    decay_alpha: float = 0.0

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(
                f"`optimizer.name` must be one of {OPTIMIZERS}. Received: name={self.name!r}"
            )
        if not float(self.learning_rate) > 0:
            raise ValueError(
                f"`optimizer.learning_rate` must be > 0. Received: learning_rate={self.learning_rate}"
            )
        self.learning_rate = float(self.learning_rate)
        _positive_int(self.warmup_steps, "optimizer.warmup_steps", minimum=0)
        if self.global_clipnorm is not None and not float(self.global_clipnorm) > 0:
            raise ValueError(
                "`optimizer.global_clipnorm` must be > 0 or null. "
                f"Received: global_clipnorm={self.global_clipnorm}"
            )
        if self.weight_decay is not None and self.name != "adamw":
            raise ValueError(
                "`optimizer.weight_decay` is only used with name: adamw. "
                f"Received: name={self.name!r}, weight_decay={self.weight_decay}"
            )
        if self.no_weight_decay is not None and (
            self.name != "adamw" or not isinstance(self.no_weight_decay, (list, tuple))
            or not all(isinstance(part, str) and part for part in self.no_weight_decay)
        ):
            raise ValueError(
                "`optimizer.no_weight_decay` must be a list of variable-name parts, with name: adamw. "
                f"Received: name={self.name!r}, no_weight_decay={self.no_weight_decay!r}"
            )
        if self.decay not in DECAYS:
            raise ValueError(f"`optimizer.decay` must be one of {DECAYS}. Received: decay={self.decay!r}")
        if not 0.0 <= float(self.decay_alpha) <= 1.0:
            raise ValueError(f"`optimizer.decay_alpha` must be in [0, 1]. Received: decay_alpha={self.decay_alpha}")
        self.decay_alpha = float(self.decay_alpha)


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; see the module docstring for YAML.

    Args:
        task: str. Registered task name (see `task.get_task_builder`) or
            `"package.module:function"`.
        output_dir: str. Checkpoints (`checkpoints/`), the log
            (`train_log.jsonl`), evaluation results (`eval.json`) and final
            weights (`final.weights.h5`). Relative paths are resolved against
            the current directory.
        seed: int. Seeds model initialisation, data sampling and augmentation.
        distribute, train, optimizer: the sections above, as dataclasses.
        model, data, evaluation: dicts passed to the task builder.
    """

    task: str
    output_dir: str = "runs/default"
    seed: int = 0
    distribute: DistributeConfig = dataclasses.field(default_factory=DistributeConfig)
    train: LoopConfig = None
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    model: dict = dataclasses.field(default_factory=dict)
    data: dict = dataclasses.field(default_factory=dict)
    evaluation: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.task, str) or not self.task:
            raise ValueError(f"`task` must be a non-empty string. Received: task={self.task!r}")
        if self.train is None:
            raise ValueError("Section `train` with `steps` is required. Received: train=None")
        _positive_int(self.seed, "seed", minimum=0)
        for name in ("model", "data", "evaluation"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(
                    f"Section `{name}` must be a mapping. Received: {name}={getattr(self, name)!r}"
                )

    @classmethod
    def from_dict(cls, values):
        """Builds and validates a config from a plain dict (parsed YAML)."""
        if not isinstance(values, dict):
            raise ValueError(f"A config must be a mapping. Received: {values!r}")
        values = dict(values)
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown top-level key(s): {unknown}. Expected some of {sorted(known)}.")
        if "task" not in values:
            raise ValueError("A config needs `task`. Received keys: " + str(sorted(values)))
        values["distribute"] = _from_dict(DistributeConfig, values.get("distribute"), "distribute")
        values["train"] = _from_dict(LoopConfig, values.get("train"), "train")
        values["optimizer"] = _from_dict(OptimizerConfig, values.get("optimizer"), "optimizer")
        for name in ("model", "data", "evaluation"):
            if values.get(name) is None:
                values[name] = {}
        return cls(**values)

    def to_dict(self):
        """The config as plain data (for YAML/JSON)."""
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """A copy with top-level fields replaced (sections are dataclasses)."""
        return dataclasses.replace(self, **changes)


def read_yaml_mapping(path):
    """Reads a YAML file that must hold a mapping (a training config or its data section).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid YAML (first line of the parser's message), or not a
            mapping; both name the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: {path}")
    with open(path) as handle:
        try:
            values = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: must hold a YAML mapping. Received: {type(values).__name__}")
    return values


def load_config(path, overrides=None):
    """Reads and validates a YAML training config.

    Args:
        path: str or path-like. The YAML file.
        overrides: optional dict of dotted keys to values applied before
            validation, e.g. `{"distribute.strategy": "mirrored"}`.

    Returns:
        A `TrainConfig`.
    """
    values = read_yaml_mapping(path)
    for dotted, value in (overrides or {}).items():
        section = values
        *parents, leaf = dotted.split(".")
        for key in parents:
            if section.get(key) is None:
                section[key] = {}
            section = section[key]
        section[leaf] = value
    return TrainConfig.from_dict(values)
