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
from kipoi_genome.training.trainer import Trainer, TrainResult, train

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
