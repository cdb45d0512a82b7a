"""Comparison models of training/baselines.py: shapes, receptive field, validation."""

import numpy as np
import pytest

from kipoi_genome.training import baselines


def test_receptive_field_matches_a_perturbation():
    model = baselines.build_dilated_conv_model(512, {"t": 1}, bin_size=8, channels=4, num_dilated_layers=2, stem_pool=2)
    field = baselines.receptive_field(bin_size=8, num_dilated_layers=2, kernel_size=3, stem_pool=2)
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype="float32")[rng.integers(0, 4, size=(1, 512))]
    base = model(x, training=False)["t"].numpy()[0, 32, 0]  # bin 32 covers [256, 264)
    changed = []
    for position in range(0, 512, 4):
        y = x.copy()
        y[0, position] = y[0, position, ::-1]
        changed.append(model(y, training=False)["t"].numpy()[0, 32, 0] != base)
    positions = np.arange(0, 512, 4)[np.array(changed)]
    assert positions.max() - positions.min() < field  # nothing outside the computed field matters
    assert positions.max() - positions.min() > field // 2


def test_conv_attention_model_shapes_and_reach():
    model = baselines.build_conv_attention_model(
        1024, {"human": 2, "mouse": 1}, bin_size=32, target_length=4, channels=8, num_dilated_layers=1, stem_pool=4
    )
    x = np.eye(4, dtype="float32")[np.random.default_rng(1).integers(0, 4, size=(2, 1024))]
    out = model(x, training=False)
    assert out["human"].shape == (2, 4, 2) and out["mouse"].shape == (2, 4, 1)
    far = x.copy()
    far[:, :16] = 0.0  # change the first bases, ~500 bp from the central bins
    assert not np.allclose(model(far, training=False)["human"], out["human"])  # attention reaches them
    assert any(layer.name == "attention_0_mha" for layer in model.layers)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bin_size": 12}, "bin_size=12"),
        ({"stem_pool": 256}, "stem_pool=256"),
        ({"target_length": 7}, "target_length=7"),
        ({"heads": {}}, "heads="),
    ],
)
def test_validation(kwargs, message):
    args = {"sequence_length": 1024, "heads": {"t": 1}, **kwargs}
    with pytest.raises(ValueError, match=message):
        baselines.build_dilated_conv_model(**args)
