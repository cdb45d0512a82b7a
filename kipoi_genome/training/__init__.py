"""Training with `tf.distribute`: one custom loop for every strategy.

Modules: `config` (TrainConfig from YAML), `distribute` (strategy selection,
global batch size), `losses`, `metrics`, `schedules`, `trainer` (the loop,
checkpoints, evaluation).
"""
