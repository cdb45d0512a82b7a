"""The trainer with the Enformer model, augmentation and test-time augmentation."""

import numpy as np
import pytest

from kipoi_genome.data import tf_datasets
from kipoi_genome.interpret.augmentation import predict_averaged_tensor
from tests.training_helpers import run_python, tiny_config

ENFORMER = {
    "architecture": "enformer",
    "channels": 12,
    "num_transformer_layers": 1,
    "num_heads": 2,
    "key_size": 4,
    "num_conv_tower_blocks": 2,
    "filter_divisible_by": 2,
}


def _enformer_config(output_dir, **model):
    config = tiny_config(output_dir)
    config["model"] = {**ENFORMER, **model}
    config["data"].update(sequence_length=1024, bin_size=8, target_length=4)  # 2 tower blocks: 8-bp bins
    return config


def _one_hot(rng, shape):
    return np.eye(4, dtype="float32")[rng.integers(0, 4, size=shape)]


def test_reverse_complement_and_shift_match_numpy():
    rng = np.random.default_rng(0)
    x = _one_hot(rng, (2, 10))
    comp = {0: 3, 1: 2, 2: 1, 3: 0}
    expected = np.eye(4)[[[comp[i] for i in row[::-1]] for row in x.argmax(-1)]]
    np.testing.assert_array_equal(tf_datasets.reverse_complement_one_hot(x).numpy(), expected)
    shifted = np.stack([tf_datasets.shift_sequence(x[0], 2).numpy(), tf_datasets.shift_sequence(x[1], -1).numpy()])
    np.testing.assert_array_equal(shifted[0, 2:], x[0, :-2])
    np.testing.assert_array_equal(shifted[0, :2], 0)  # N padding
    np.testing.assert_array_equal(shifted[1, :-1], x[1, 1:])
    np.testing.assert_array_equal(shifted[1, -1], 0)


def test_augment_batch_reverses_targets_with_sequence():
    rng = np.random.default_rng(1)
    x = _one_hot(rng, (16, 32))
    y = np.arange(16 * 4 * 1, dtype="float32").reshape(16, 4, 1)
    ax, ay = tf_datasets.augment_batch(x, y, seed=[1, 2], pool_width=8, max_shift=0, reverse_complement_prob=0.5)
    flipped = np.array([not np.array_equal(a, b) for a, b in zip(ay.numpy(), y)])
    assert 0 < flipped.sum() < 16
    np.testing.assert_array_equal(ax.numpy()[flipped], tf_datasets.reverse_complement_one_hot(x[flipped]).numpy())
    np.testing.assert_array_equal(ay.numpy()[flipped], y[flipped][:, ::-1])
    again = tf_datasets.augment_batch(x, y, seed=[1, 2], pool_width=8, max_shift=3)
    np.testing.assert_array_equal(again[0], tf_datasets.augment_batch(x, y, seed=[1, 2], pool_width=8, max_shift=3)[0])
    with pytest.raises(ValueError, match="max_shift=-1"):
        tf_datasets.augment_batch(x, y, seed=[1, 2], pool_width=8, max_shift=-1)


def test_tta_predict_averages_forward_and_reverse_complement():
    rng = np.random.default_rng(2)
    x = _one_hot(rng, (2, 8))

    def model(inputs, training=False):  # position-dependent toy "model": (B, 8, 4) -> (B, 8, 1)
        weights = np.arange(32, dtype="float32").reshape(1, 8, 4)
        return {"human": np.sum(np.asarray(inputs) * weights, axis=-1, keepdims=True)}

    got = predict_averaged_tensor(model, x, shifts=(0,), reverse_complement=True)["human"].numpy()
    forward = model(x)["human"]
    backward = model(tf_datasets.reverse_complement_one_hot(x).numpy())["human"][:, ::-1]
    np.testing.assert_allclose(got, (forward + backward) / 2, rtol=1e-6)


def test_enformer_trains_in_bfloat16_with_tta_evaluation(tmp_path):
    import keras

    from kipoi_genome.training.config import TrainConfig
    from kipoi_genome.training.trainer import train

    config = _enformer_config(tmp_path / "run")
    config["train"].update(mixed_precision=True, steps=4)
    result = train(TrainConfig.from_dict(config))
    assert result.step == 4 and np.isfinite(result.last_loss)
    assert keras.config.dtype_policy().name == "float32"  # global policy restored
    policies = {layer.dtype_policy.name for layer in result.model.layers if layer.weights}
    assert "mixed_bfloat16" in policies
    assert all(v.dtype == "float32" for v in result.model.trainable_variables)
    assert len(result.evaluation["human"]["pearson_r"]) == 2
    assert len(result.evaluation["mouse"]["pearson_r"]) == 1
    assert (tmp_path / "run" / "final.weights.h5").exists()


CHILD = r"""
import json, tempfile
import numpy as np
from kipoi_genome.training import distribute
devices = distribute.configure_logical_cpus(2)
import tensorflow as tf
from kipoi_genome.training.config import TrainConfig
from kipoi_genome.training.tracks import build_tracks_task
from kipoi_genome.training.trainer import Trainer

base = json.loads(BASE)
out = {}
for name, strategy, per_replica in [("single", tf.distribute.get_strategy(), 4),
                                     ("mirrored", tf.distribute.MirroredStrategy(devices), 2)]:
    base["train"]["per_replica_batch_size"] = per_replica
    base["output_dir"] = tempfile.mkdtemp()
    config = TrainConfig.from_dict(base)
    trainer = Trainer(build_tracks_task(config), config, strategy)
    losses = [trainer.train_step()[1] for _ in range(3)]
    out[name] = dict(losses=losses, weights=[w.tolist() for w in trainer.model.get_weights()])
print(json.dumps(out))
"""


@pytest.mark.large
def test_enformer_mirrored_matches_single_device(tmp_path):
    import json

    config = _enformer_config(tmp_path, dropout_rate=0.0, attention_dropout_rate=0.0, positional_dropout_rate=0.0)
    result = run_python(CHILD.replace("BASE", repr(json.dumps(config))), timeout=400)
    np.testing.assert_allclose(result["single"]["losses"], result["mirrored"]["losses"], rtol=1e-5)
    for a, b in zip(result["single"]["weights"], result["mirrored"]["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
