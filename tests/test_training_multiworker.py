"""(b) MultiWorkerMirroredStrategy: 2 worker processes on 127.0.0.1, equal weights.

Both workers must end with identical weights, and those must match one device
trained on the same global batches (the dataset is split, not duplicated).
"""

import json
import os
import subprocess
import sys

import numpy as np

from tests.training_helpers import free_ports, python_env, tiny_config

WORKER = r"""
import json, os, sys
import numpy as np
from kipoi_genome.training.config import TrainConfig
from kipoi_genome.training.trainer import train

config = TrainConfig.from_dict(json.loads(sys.argv[1]))
result = train(config)
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
np.savez(os.path.join(sys.argv[2], f"worker{index}.npz"), *result.model.get_weights())
print(json.dumps({"step": result.step, "loss": result.last_loss,
                  "pearson": result.evaluation["human"]["pearson_r"]}))
"""


def test_two_workers_on_loopback_end_with_equal_weights(tmp_path):
    config = tiny_config(tmp_path / "run", **{"distribute.strategy": "multiworker"})
    config["train"]["per_replica_batch_size"] = 2  # global batch 4 over 2 workers
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = python_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(config), str(tmp_path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=150)
            assert process.returncode == 0, stderr[-4000:]
            outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [o["step"] for o in outputs] == [4, 4]
    assert outputs[0]["loss"] == outputs[1]["loss"]
    assert outputs[0]["pearson"] == outputs[1]["pearson"]
    weights = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    assert len(weights[0].files) == len(weights[1].files) > 10
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], err_msg=key)
    # Only the chief (worker 0) writes checkpoints and logs; scratch folders are gone.
    checkpoints = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    assert "checkpoint" in checkpoints and not any(name.startswith("_worker") for name in checkpoints)
    log = [json.loads(line) for line in open(tmp_path / "run" / "train_log.jsonl")]
    assert any("2 replicas" in record.get("strategy", "") for record in log)

    # Same global batches on one device (default strategy, in this process).
    from kipoi_genome.training.config import TrainConfig
    from kipoi_genome.training.trainer import train

    single = train(TrainConfig.from_dict(tiny_config(tmp_path / "single")))
    np.testing.assert_allclose(single.last_loss, outputs[0]["loss"], rtol=1e-5)
    for index, value in enumerate(single.model.get_weights()):
        np.testing.assert_allclose(weights[0][f"arr_{index}"], value, rtol=1e-5, atol=1e-6)
