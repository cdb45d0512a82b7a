"""Trainer options LOGO pre-training needs: cosine decay, weight-decay exemptions, a time limit."""

import json
import math

import numpy as np
import pytest

from kipoi_genome.training.config import OptimizerConfig, TrainConfig
from kipoi_genome.training.trainer import build_optimizer, learning_rate_schedule, train
from tests.training_helpers import tiny_config


def test_cosine_decay_after_linear_warmup():
    config = OptimizerConfig(name="adamw", learning_rate=1e-3, warmup_steps=10, decay="cosine", decay_alpha=0.05)
    schedule = learning_rate_schedule(config, total_steps=110)
    # keras CosineDecay(peak, 100, alpha): peak * ((1 - alpha) * (1 + cos(pi t / 100)) / 2 + alpha).
    for step, expected in [(0, 0.0), (5, 5e-4), (10, 1e-3), (60, 1e-3 * (0.95 * 0.5 + 0.05)), (110, 5e-5)]:
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-12), step
    t = 37
    assert float(schedule(10 + t)) == pytest.approx(1e-3 * (0.95 * (1 + math.cos(math.pi * t / 100)) / 2 + 0.05), rel=1e-5)
    constant = learning_rate_schedule(OptimizerConfig(learning_rate=1e-3, warmup_steps=10), total_steps=110)
    assert float(constant(110)) == pytest.approx(1e-3)


def test_no_weight_decay_exempts_matching_variables():
    import keras

    optimizer = build_optimizer(
        OptimizerConfig(name="adamw", learning_rate=0.1, weight_decay=0.5, no_weight_decay=["bias"])
    )
    layer = keras.layers.Dense(2, kernel_initializer="ones", bias_initializer="ones")
    layer.build((None, 2))
    optimizer.build(layer.trainable_variables)
    zeros = [np.zeros_like(v.numpy()) for v in layer.trainable_variables]
    optimizer.apply(zeros, layer.trainable_variables)  # zero gradients: only weight decay moves weights
    # Decoupled decay: w -= lr * weight_decay * w.
    np.testing.assert_allclose(layer.kernel.numpy(), np.full((2, 2), 1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_array_equal(layer.bias.numpy(), np.ones(2))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"decay": "linear"}, "decay"),
        ({"decay_alpha": 2.0}, "decay_alpha"),
        ({"no_weight_decay": ["bias"]}, "no_weight_decay"),  # name: adam
        ({"name": "adamw", "no_weight_decay": "bias"}, "no_weight_decay"),
    ],
)
def test_bad_optimizer_options_name_the_value(changes, match):
    with pytest.raises(ValueError, match=match):
        OptimizerConfig(**changes)


def test_max_minutes_stops_after_a_checkpoint_and_a_rerun_resumes(tmp_path):
    values = tiny_config(tmp_path / "run", **{"train.steps": 6, "train.checkpoint_every": 100})
    values["train"]["max_minutes"] = 1e-9  # out of time after the first step
    result = train(TrainConfig.from_dict(values))
    assert result.step == 1
    records = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r.get("event") == "checkpoint"] == [1]
    assert [r["step"] for r in records if r.get("event") == "time_limit"] == [1]
    assert (tmp_path / "run" / "final.weights.h5").exists() and result.evaluation
    values["train"].update(max_minutes=None, steps=2)
    assert train(TrainConfig.from_dict(values)).resumed_from == 1
    with pytest.raises(ValueError, match="max_minutes"):
        TrainConfig.from_dict({**values, "train": {**values["train"], "max_minutes": 0}})
