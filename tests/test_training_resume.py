"""(c) A run killed with SIGKILL resumes from its last checkpoint with the same command.

Also: the CLI entry point, config validation, and that a killed-and-resumed
run ends with the same weights as an uninterrupted one (seeded data, restored
optimizer state).
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from tests.training_helpers import python_env, tiny_config

TARGET = 200
EVERY = 10


def _log(path):
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by the kill
                pass
    return records


def _command(config_path):
    return [sys.executable, "-m", "kipoi_genome.cli.main", "train", "--config", str(config_path)]


def test_sigkill_then_same_command_resumes(tmp_path):
    config = tiny_config(tmp_path / "run")
    config["train"].update(steps=TARGET, checkpoint_every=EVERY, log_every=1, keep_checkpoints=2)
    config["evaluation"] = {"num_batches": 0}
    config["optimizer"] = {"name": "adam", "learning_rate": 1e-3, "warmup_steps": 20, "global_clipnorm": 0.2}
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp_path / "run" / "train_log.jsonl"

    process = subprocess.Popen(_command(config_path), env=python_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    try:
        while time.time() < deadline and process.poll() is None:
            saved = [r["step"] for r in _log(log_path) if r.get("event") == "checkpoint"]
            if saved and saved[-1] >= 3 * EVERY:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    before = _log(log_path)
    done_before = max(r["step"] for r in before if "loss" in r)
    assert done_before < TARGET

    resumed = subprocess.run(_command(config_path), env=python_env(), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["step"] == TARGET
    restored = summary["resumed_from"]
    assert restored % EVERY == 0 and restored >= 3 * EVERY
    redone = done_before - restored
    assert 0 <= redone <= EVERY, (done_before, restored)
    after = _log(log_path)[len(before) :]
    steps_after = [r["step"] for r in after if "loss" in r]
    assert steps_after[0] == restored + 1 and steps_after[-1] == TARGET

    # Seeds + restored state: same weights as a run that was never interrupted.
    from kipoi_genome.training.config import TrainConfig
    from kipoi_genome.training.trainer import train

    config["output_dir"] = str(tmp_path / "uninterrupted")
    model = train(TrainConfig.from_dict(config)).model
    uninterrupted = [w.copy() for w in model.get_weights()]
    model.load_weights(str(tmp_path / "run" / "final.weights.h5"))  # the killed+resumed run
    for a, b in zip(uninterrupted, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_cli_rejects_bad_config(tmp_path, capsys):
    from kipoi_genome.cli.main import main

    config = tiny_config(tmp_path / "run")
    config["train"]["per_replica_batch_size"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path)]) == 2
    assert "per_replica_batch_size=0" in capsys.readouterr().err
    config["train"]["per_replica_batch_size"] = 2
    config["optimizer"]["nesterov"] = True
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path)]) == 2
    assert "nesterov" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--config", str(path), "--strategy", "horovod"])
