"""(a) MirroredStrategy over 2 logical CPUs == one device on the same global batch.

Logical devices must be configured before TensorFlow initialises its devices,
so the comparison runs in a child process.
"""

import json

from training_helpers import run_python, tiny_config

CHILD = r"""
import json, sys, tempfile
import numpy as np
from kipoi_genome.training import distribute
devices = distribute.configure_logical_cpus(2)
import tensorflow as tf
from kipoi_genome.training.config import TrainConfig
from kipoi_genome.training.tracks import build_tracks_task
from kipoi_genome.training.trainer import Trainer

base = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.loads(BASE)
out = {}
for name, strategy, per_replica in [
    ("single", tf.distribute.get_strategy(), 4),
    ("mirrored", tf.distribute.MirroredStrategy(devices), 2),
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
    result = run_python(CHILD.replace("BASE", repr(json.dumps(config))), timeout=180)
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
