"""(a) MirroredStrategy over 2 logical CPUs == one device on the same global batch.

Logical devices must be configured before TensorFlow initialises its devices,
so the comparison runs in a child process.
"""

import json

from tests.training_helpers import run_python, tiny_config

CHILD = r"""
import json, sys, tempfile
import numpy as np
from kipoi_genome.training import distribute
devices = distribute.configure_logical_cpus(2)
import tensorflow as tf
from kipoi_genome.training.config import TrainConfig
from kipoi_genome.training.tracks import build_tracks_task
from kipoi_genome.training.trainer import Trainer

import keras
from kipoi_genome.training.task import DataStream, Task


def masked_lm_task():
    # Per-position weights spread unevenly over the batch: replica 0 gets the
    # rows with many masked positions, replica 1 the rows with few, so only a
    # GLOBAL normalisation sum(l * w) / sum_global(w) matches one device.
    def build():
        tokens = keras.Input((16,), dtype="int32")
        x = keras.layers.Embedding(7, 8)(tokens)
        x = keras.layers.Conv1D(8, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(synchronized=True)(x)
        return keras.Model(tokens, keras.layers.Dense(7)(keras.layers.Activation("gelu")(x)))

    def dataset(global_batch_size, seed, start_batch):
        def make(index):
            key = tf.stack([tf.constant(seed, tf.int64), index])
            labels = tf.random.stateless_uniform([global_batch_size, 16], key, 0, 7, tf.int32)
            rows = tf.range(global_batch_size)[:, None]
            weight = tf.cast(tf.range(16)[None, :] < tf.where(rows < global_batch_size // 2, 12, 2), tf.float32)
            inputs = tf.where(weight > 0, 6, labels)  # token 6 = mask
            return inputs, labels, weight
        return tf.data.Dataset.range(start_batch, 1000).map(make)

    return Task(build_model=build, loss="sparse_categorical_crossentropy",
                train_streams={"mlm": DataStream(dataset)})


base = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.loads(BASE)
mirrored = tf.distribute.MirroredStrategy(devices)  # one instance: collective keys are per instance
out = {}
for name, strategy, per_replica in [
    ("mlm_single", tf.distribute.get_strategy(), 4),
    ("mlm_mirrored", mirrored, 2),
]:
    base["train"]["per_replica_batch_size"] = per_replica
    base["output_dir"] = tempfile.mkdtemp()
    config = TrainConfig.from_dict(base)
    trainer = Trainer(masked_lm_task(), config, strategy)
    if name == "mlm_single":  # NumPy reference of the weighted loss at the initial weights
        x, y, w = next(iter(trainer.task.train_streams["mlm"].dataset_fn(4, config.seed, 0)))
        moving = [v.numpy() for v in trainer.model.non_trainable_variables]
        logits = trainer.model(x, training=True).numpy().astype("float64")
        for variable, value in zip(trainer.model.non_trainable_variables, moving):
            variable.assign(value)  # undo this extra call's BatchNorm update
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        nll = -np.take_along_axis(log_p, y.numpy()[..., None], -1)[..., 0]
        out["mlm_reference"] = float((nll * w.numpy()).sum() / w.numpy().sum())
    steps = [trainer.train_step() for _ in range(3)]
    out[name] = dict(losses=[s[1] for s in steps], final=[w.tolist() for w in trainer.model.get_weights()])

for name, strategy, per_replica in [
    ("single", tf.distribute.get_strategy(), 4),
    ("mirrored", mirrored, 2),
]:
    base["train"]["per_replica_batch_size"] = per_replica
    base["output_dir"] = tempfile.mkdtemp()
    config = TrainConfig.from_dict(base)
    trainer = Trainer(build_tracks_task(config), config, strategy)
    initial = [w.copy() for w in trainer.model.get_weights()]
    steps = [trainer.train_step() for _ in range(4)]
    final = trainer.model.get_weights()
    evaluation = trainer.evaluate()
    out[name] = dict(
        replicas=trainer.num_replicas,
        global_batch=trainer.global_batch_size,
        streams=[s[0] for s in steps],
        losses=[s[1] for s in steps],
        norms=[s[2] for s in steps],
        initial=[w.tolist() for w in initial],
        final=[w.tolist() for w in final],
        names=[v.path for v in trainer.model.weights],
        pearson=evaluation["human"]["pearson_r"] + evaluation["mouse"]["pearson_r"],
        eval_loss=evaluation["human"]["loss"],
    )
print(json.dumps(out))
"""


def test_mirrored_two_cpus_matches_single_device(tmp_path):
    import numpy as np

    config = tiny_config(tmp_path)
    result = run_python(CHILD.replace("BASE", repr(json.dumps(config))), timeout=240)

    # Masked-LM-style per-position weights, normalised over the global batch.
    np.testing.assert_allclose(result["mlm_single"]["losses"][0], result["mlm_reference"], rtol=1e-4)
    np.testing.assert_allclose(result["mlm_single"]["losses"], result["mlm_mirrored"]["losses"], rtol=1e-5)
    for a, b in zip(result["mlm_single"]["final"], result["mlm_mirrored"]["final"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # The tracks task: two organisms, synchronized BatchNorm, clipping, augmentation, TTA evaluation.
    single, mirrored = result["single"], result["mirrored"]
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert single["global_batch"] == mirrored["global_batch"] == 4
    assert single["streams"] == mirrored["streams"] == ["human", "mouse", "human", "mouse"]
    for a, b in zip(single["initial"], mirrored["initial"]):
        np.testing.assert_array_equal(a, b)  # same seed -> same initial weights
    # Gradient clipping was active (norms above 0.5), over the gradient summed across replicas.
    assert min(single["norms"]) > 0.5
    np.testing.assert_allclose(single["norms"], mirrored["norms"], rtol=1e-4)
    np.testing.assert_allclose(single["losses"], mirrored["losses"], rtol=1e-5)
    changed = 0
    for name, before, a, b in zip(single["names"], single["initial"], single["final"], mirrored["final"]):
        # Trainable weights and synchronized-BatchNorm moving statistics alike.
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
        changed += not np.allclose(before, a)
    assert changed > len(single["names"]) // 2  # the steps really moved the weights
    np.testing.assert_allclose(single["pearson"], mirrored["pearson"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(single["eval_loss"], mirrored["eval_loss"], rtol=1e-5)
