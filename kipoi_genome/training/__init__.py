"""Training with `tf.distribute`: one custom loop for every strategy.

Modules: `config` (TrainConfig from YAML), `distribute` (strategy selection,
global batch size), `task` (the Task/DataStream contract and task registry),
`trainer` (the loop, checkpoints, evaluation), `losses`, `metrics`,
`schedules`, `tracks` (the Enformer-style `tracks` task), `logo_tasks` (`logo_mlm`,
`logo_classifier`), `baselines` (dilated-conv and conv+attention comparison
models), `synthetic`, `genome_data`, `longrange_data` (datasets).

Importing this package does not import TensorFlow-heavy task modules; use
`from kipoi_genome.training.trainer import train` and friends.
"""

from kipoi_genome.training.config import TrainConfig, load_config
from kipoi_genome.training.task import DataStream, Task, get_task_builder, register_task

_TRAINER_NAMES = ("Trainer", "TrainResult", "train")


def __getattr__(name):
    # The trainer (and the task modules it registers) load on first use, so
    # `import kipoi_genome` (which needs only `training.schedules`) stays light.
    if name in _TRAINER_NAMES:
        from kipoi_genome.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DataStream",
    "Task",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "get_task_builder",
    "load_config",
    "register_task",
    "train",
]
